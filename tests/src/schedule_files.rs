//! The scheduling files of cron/ read as cron and systemd read them:
//! crontab job lines, units' Exec lines, and the shell command lines in
//! both taken apart. Shared by tests/schedule.rs and tests/units.rs.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::repo;

/// A shell command line taken apart: its simple commands (words, with
/// quotes removed and redirections dropped) and the files it appends to.
#[derive(Debug, Default)]
pub struct Script {
    pub commands: Vec<Vec<String>>,
    pub appends: Vec<String>,
}

/// Splits a POSIX shell command line the way sh would for the constructs
/// these files use: quotes, backslashes, pipes and lists, redirections.
pub fn parse_shell(line: &str) -> Script {
    let mut p = ShellParser::default();
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                p.in_word = true;
                for q in chars.by_ref() {
                    if q == '\'' {
                        break;
                    }
                    p.word.push(q);
                }
            }
            '"' => {
                p.in_word = true;
                while let Some(q) = chars.next() {
                    match q {
                        '"' => break,
                        '\\' if matches!(chars.peek(), Some('"' | '\\' | '$' | '`')) => {
                            p.word.push(chars.next().unwrap());
                        }
                        _ => p.word.push(q),
                    }
                }
            }
            '\\' => {
                p.in_word = true;
                p.word.extend(chars.next());
            }
            '>' | '<' => {
                // `2>>file`: the digits before the operator name a descriptor.
                if p.in_word && p.word.chars().all(|d| d.is_ascii_digit()) {
                    p.word.clear();
                    p.in_word = false;
                }
                p.end_word();
                let append = c == '>' && chars.next_if_eq(&'>').is_some();
                if chars.next_if_eq(&'&').is_some() {
                    // `2>&1`: a descriptor, not a file.
                    chars.next();
                    continue;
                }
                p.redirect = Some(append);
            }
            '|' | ';' | '&' => {
                p.end_word();
                chars.next_if(|n| matches!(n, '|' | '&'));
                p.end_command();
            }
            c if c.is_whitespace() => p.end_word(),
            c => {
                p.in_word = true;
                p.word.push(c);
            }
        }
    }
    p.end_word();
    p.end_command();
    let mut script = p.script;
    let tee_files: Vec<String> = script
        .commands
        .iter()
        .filter(|words| words[0] == "tee")
        .flat_map(|words| words[1..].iter().filter(|w| !w.starts_with('-')).cloned())
        .collect();
    script.appends.extend(tee_files);
    script
}

#[derive(Default)]
struct ShellParser {
    script: Script,
    words: Vec<String>,
    word: String,
    in_word: bool,
    /// Some(true) while the next word is the target of `>>`, Some(false) of `>` or `<`.
    redirect: Option<bool>,
}

impl ShellParser {
    fn end_word(&mut self) {
        if !self.in_word {
            return;
        }
        let word = std::mem::take(&mut self.word);
        match self.redirect.take() {
            Some(true) => self.script.appends.push(word),
            Some(false) => {}
            None => self.words.push(word),
        }
        self.in_word = false;
    }

    fn end_command(&mut self) {
        // `exec prog` runs prog in the shell's place: the command is prog.
        if self.words.first().is_some_and(|w| w == "exec") {
            self.words.remove(0);
        }
        if !self.words.is_empty() {
            self.script.commands.push(std::mem::take(&mut self.words));
        }
    }
}

pub fn cron_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo("cron"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
}

pub fn with_extension(ext: &str) -> Vec<PathBuf> {
    cron_files()
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect()
}

/// Checks a crontab schedule field against its range, as cron(8) reads it.
fn check_field(origin: &str, field: &str, lo: u32, hi: u32, names: &[&str]) {
    let number = |s: &str| -> u32 {
        if let Some(i) = names.iter().position(|n| n.eq_ignore_ascii_case(s)) {
            return lo + i as u32;
        }
        let n: u32 = s
            .parse()
            .unwrap_or_else(|_| panic!("{origin}: `{s}` in `{field}` is not a number"));
        assert!(
            (lo..=hi).contains(&n),
            "{origin}: {n} is outside {lo}-{hi} in `{field}`"
        );
        n
    };
    for item in field.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => (r, Some(s)),
            None => (item, None),
        };
        if let Some(step) = step {
            let step: u32 = step.parse().unwrap_or(0);
            assert!(step >= 1, "{origin}: bad step in `{field}`");
        }
        if range == "*" {
            continue;
        }
        match range.split_once('-') {
            Some((a, b)) => assert!(number(a) <= number(b), "{origin}: empty range `{range}`"),
            None => {
                number(range);
            }
        }
    }
}

/// The job lines of a crontab in /etc/cron.d form (schedule, user,
/// command), commented-out alternatives (`#*/10 * ...`) included: an
/// operator uncomments them, so they must work too.
pub fn cron_jobs(path: &Path) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(path).unwrap();
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    let mut jobs = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let origin = format!("{name}:{}", i + 1);
        let line = match raw.strip_prefix('#') {
            Some(rest)
                if rest.starts_with(|c: char| c == '*' || c == '@' || c.is_ascii_digit()) =>
            {
                rest
            }
            _ => raw,
        };
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some((var, _)) = line.split_once('=')
            && !var.contains(char::is_whitespace)
        {
            continue; // SHELL=/bin/sh, PATH=...
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (schedule_len, rest) = if fields[0].starts_with('@') {
            let known = [
                "@reboot",
                "@yearly",
                "@annually",
                "@monthly",
                "@weekly",
                "@daily",
                "@hourly",
            ];
            assert!(
                known.contains(&fields[0]),
                "{origin}: unknown `{}`",
                fields[0]
            );
            (1, &fields[1..])
        } else {
            const MONTHS: &[&str] = &[
                "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
            ];
            const DAYS: &[&str] = &["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
            assert!(
                fields.len() > 6,
                "{origin}: want 5 time fields, a user and a command"
            );
            check_field(&origin, fields[0], 0, 59, &[]);
            check_field(&origin, fields[1], 0, 23, &[]);
            check_field(&origin, fields[2], 1, 31, &[]);
            check_field(&origin, fields[3], 1, 12, MONTHS);
            check_field(&origin, fields[4], 0, 7, DAYS);
            (5, &fields[5..])
        };
        let user = rest[0];
        assert!(
            nix_user_exists(user) || user == "secops",
            "{origin}: user `{user}` does not exist"
        );
        // The command is the rest of the line, spacing and quotes intact.
        let mut command = line;
        for _ in 0..=schedule_len {
            command = command
                .trim_start()
                .split_once(char::is_whitespace)
                .unwrap()
                .1;
        }
        let command = command.trim();
        // cron turns an unescaped % into a newline: date +%F would break.
        assert!(
            !command.replace("\\%", "").contains('%'),
            "{origin}: unescaped % in a crontab command (cron makes it a newline)"
        );
        jobs.push((origin, command.to_string()));
    }
    jobs
}

fn nix_user_exists(user: &str) -> bool {
    Command::new("id")
        .arg(user)
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The script of `/bin/sh -c SCRIPT` or `/bin/bash -o pipefail -c SCRIPT`.
pub fn shell_script(words: &[String]) -> Option<&str> {
    if !(words[0].ends_with("/sh") || words[0].ends_with("/bash")) {
        return None;
    }
    let c = words.iter().position(|w| w == "-c")?;
    words.get(c + 1).map(String::as_str)
}

/// The ExecStart/ExecStartPre commands of a unit, `/bin/bash -o pipefail
/// -c '...'` unwrapped into the script it runs.
pub fn exec_lines(unit: &Path) -> Vec<(String, Script)> {
    let text = std::fs::read_to_string(unit).unwrap();
    let name = unit.file_name().unwrap().to_string_lossy().into_owned();
    let mut found = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let Some(value) = line
            .strip_prefix("ExecStart=")
            .or_else(|| line.strip_prefix("ExecStartPre="))
        else {
            continue;
        };
        let origin = format!("{name}:{}", i + 1);
        let outer = parse_shell(value.trim_start_matches(['-', '@', '+', '!']));
        let words = &outer.commands[0];
        let script = match shell_script(words) {
            Some(inner) => parse_shell(inner),
            None => outer,
        };
        found.push((origin, script));
    }
    found
}
