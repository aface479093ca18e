//! How much an operator would care about a finding: what its template
//! says (an error, a kernel out of memory, a disk that cannot be read)
//! and whether what it found is news or the log's habit (the boot
//! messages at a log's start, a rare line seen on and off all week, a
//! value that always dominates). Rarity alone makes a finding worth
//! reading; trouble in its words makes it worth acting on; a habit is
//! shown but pages no one.

use secops_common::Severity;

/// What a template's words and level say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Concern {
    /// Nothing alarming: rarity is the only news.
    Plain,
    /// An error, a failure, a refusal, or a level of error or worse.
    Trouble,
    /// Lost data or service, failing hardware, a dying kernel or process.
    Severe,
}

/// Why a finding is the log's habit rather than news.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Routine {
    /// First seen in the source's first minutes (a boot, a start-up),
    /// before the source had a rhythm to be rare against.
    StartOfLog,
    /// A rare template seen in several hours over more than a day.
    Recurring,
    /// A value that dominated its template for most of the source's span.
    Steady,
    /// Plain lines that say something went well (a weekly job that
    /// started and finished successfully, a certificate renewed).
    Completed,
}

impl Routine {
    pub fn name(self) -> &'static str {
        match self {
            Routine::StartOfLog => "start of log",
            Routine::Recurring => "recurring",
            Routine::Steady => "steady",
            Routine::Completed => "completed",
        }
    }
}

impl Concern {
    pub fn name(self) -> &'static str {
        match self {
            Concern::Plain => "plain",
            Concern::Trouble => "trouble",
            Concern::Severe => "severe",
        }
    }

    /// The severity of a finding about a template of this concern: rare
    /// and plain is medium (worth reading), trouble is high, severe is
    /// critical (even at a log's start or recurring); a habit is
    /// information, or medium when it is trouble that keeps coming back.
    pub fn severity(self, routine: Option<Routine>) -> Severity {
        match (self, routine) {
            (Concern::Severe, _) => Severity::Critical,
            (Concern::Trouble, None) => Severity::High,
            (Concern::Trouble, Some(Routine::Recurring | Routine::Steady | Routine::Completed)) => {
                Severity::Medium
            }
            (Concern::Plain, None) => Severity::Medium,
            (_, Some(_)) => Severity::Info,
        }
    }
}

/// Phrases of lost data or service, failing hardware, a dying kernel or
/// process, in lower case.
const SEVERE: &[&str] = &[
    "out of memory",
    "oom-kill",
    "oom_kill",
    "killed process",
    "segfault",
    "general protection",
    "kernel panic",
    "call trace",
    "i/o error",
    "medium error",
    "unrecovered read error",
    "hardware error",
    "machine check",
    "corrupt",
    "read-only file system",
    "remounting filesystem read-only",
    "remounted read-only",
    "blocked for more than",
    "soft lockup",
    "hard lockup",
    "no space left",
    "taints kernel",
    "tainting kernel",
    "core dumped",
    "status=11/segv",
    "status=6/abrt",
    "data loss",
];

/// Word beginnings of trouble, in lower case: each must start a word.
const TROUBLE: &[&str] = &[
    "error",
    "fail",
    "fatal",
    "denied",
    "refused",
    "illegal",
    "unauthori",
    "forbidden",
    "abort",
    "crash",
    "exception",
    "timeout",
    "timed out",
    "unreachable",
    "killed",
    "critical",
    "cannot",
    "can't",
    "unable",
    "violation",
    "attack",
    "reject",
    "mismatch",
    "not in sudoers",
    "promiscuous",
    "break-in",
    "brute",
    "panic",
    "overflow",
    "deadlock",
    "emerg",
    "dropping",
    "throttl",
    "degraded",
    "overheat",
    "unavailable",
    "not responding",
    "stuck",
];

/// Word beginnings of good news, in lower case.
const GOOD_NEWS: &[&str] = &[
    "successful",
    "succeeded",
    "finished",
    "completed",
    "gracefully",
    "renewed",
];

/// Levels of error or worse, as logs write them.
const TROUBLE_LEVELS: &[&str] = &[
    "error", "err", "crit", "critical", "fatal", "alert", "emerg", "severe", "panic",
];

/// The concern of a template's text, with its level when the line named
/// one. Every phrase starts a word, so the text is read once, word start
/// by word start.
pub fn concern(text: &str, level: Option<&str>) -> Concern {
    let lower = text.to_ascii_lowercase();
    let mut found = Concern::Plain;
    for start in word_starts(&lower) {
        let rest = &lower[start..];
        if SEVERE.iter().any(|p| rest.starts_with(p)) {
            return Concern::Severe;
        }
        if TROUBLE.iter().any(|w| rest.starts_with(w)) && !is_setting(rest) {
            found = Concern::Trouble;
        }
    }
    let level_says = level.is_some_and(|l| {
        let l = l.trim_matches(|c: char| !c.is_ascii_alphabetic());
        TROUBLE_LEVELS.iter().any(|t| l.eq_ignore_ascii_case(t))
    });
    if level_says {
        Concern::Trouble.max(found)
    } else {
        found
    }
}

/// Whether a plain text says something went well.
pub fn good_news(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    word_starts(&lower).any(|i| GOOD_NEWS.iter().any(|w| lower[i..].starts_with(w)))
}

/// Whether the word `rest` starts with is a setting's name (`panic=1`,
/// `errors=remount-ro`, `fail_timeout=30s`), not a word of trouble.
fn is_setting(rest: &str) -> bool {
    let b = rest.as_bytes();
    let end = b
        .iter()
        .position(|c| !(c.is_ascii_alphanumeric() || *c == b'_'))
        .unwrap_or(b.len());
    b.get(end) == Some(&b'=')
}

/// Where the words of `text` start: each letter or digit that follows
/// anything else (`terror` holds no word `error`). A word's start, not
/// its end, is checked, so `failed` is trouble ([`is_setting`] keeps
/// `panic=1` out).
fn word_starts(text: &str) -> impl Iterator<Item = usize> + '_ {
    let b = text.as_bytes();
    (0..b.len()).filter(move |&i| {
        b[i].is_ascii_alphanumeric() && (i == 0 || !b[i - 1].is_ascii_alphanumeric())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_and_levels_make_the_concern() {
        let c = |text| concern(text, None);
        assert_eq!(
            c("Out of memory: Killed process <*> (java)"),
            Concern::Severe
        );
        assert_eq!(
            c("Buffer I/O error on dev <*> logical block <*>"),
            Concern::Severe
        );
        assert_eq!(
            c("Failed password for root from <*> port <*> ssh2"),
            Concern::Trouble
        );
        assert_eq!(
            c("db: connection to <*> failed: Connection refused"),
            Concern::Trouble
        );
        assert_eq!(c("Accepted publickey for ops from <*>"), Concern::Plain);
        assert_eq!(c("a terror of mirrors"), Concern::Plain, "inside a word");
        assert_eq!(
            c("Command line: console=ttyS0 reboot=k panic=<*> nomodule"),
            Concern::Plain,
            "a setting named like trouble"
        );
        assert_eq!(
            c("EXT4-fs (sda1): mounted filesystem. Opts: errors=remount-ro"),
            Concern::Plain,
            "a setting whose name starts like trouble"
        );
        assert_eq!(concern("job done", Some("ERROR")), Concern::Trouble);
        assert_eq!(concern("job done", Some("[err]")), Concern::Trouble);
        assert_eq!(concern("job done", Some("INFO")), Concern::Plain);
    }

    #[test]
    fn habits_page_no_one_unless_severe() {
        assert_eq!(Concern::Plain.severity(None), Severity::Medium);
        assert_eq!(Concern::Trouble.severity(None), Severity::High);
        assert_eq!(Concern::Severe.severity(None), Severity::Critical);
        for routine in [Routine::StartOfLog, Routine::Recurring, Routine::Steady] {
            assert_eq!(Concern::Plain.severity(Some(routine)), Severity::Info);
            assert_eq!(Concern::Severe.severity(Some(routine)), Severity::Critical);
        }
        assert_eq!(
            Concern::Trouble.severity(Some(Routine::StartOfLog)),
            Severity::Info
        );
        assert_eq!(
            Concern::Trouble.severity(Some(Routine::Recurring)),
            Severity::Medium
        );
    }
}
