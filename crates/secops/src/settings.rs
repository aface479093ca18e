//! settings.yaml: the central log, the notify settings and the jobs. Read
//! with secops_common::config, so every error names file:line:column and
//! the field, and unknown keys are refused. Durations, cron expressions and
//! each job's command line are checked while the file is read (in serde
//! visitors), so their errors carry the place too: a command must be a
//! program found beside secops or on PATH, and must accept its flags
//! (`TOOL ARGS --help` exits 0: clap parses every flag before it acts on
//! `--help`).

use std::cell::Cell;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command as Process, Stdio};
use std::str::FromStr;
use std::time::Duration;

use secops_common::config::{Syntax, parse};
use secops_common::{Error, Severity};
use serde::Deserialize;
use serde::de::{self, Deserializer, SeqAccess, Visitor};

/// The settings file, as written and checked.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "SettingsFile")]
pub struct Settings {
    pub log: LogSettings,
    /// How long SIGTERM lets running jobs finish before they are killed.
    pub grace: Duration,
    /// The `notify:` mapping, kept as written: it is handed to secops-notify.
    pub notify: Option<serde_json::Value>,
    /// `metrics:`, the Prometheus textfile secops keeps, if any.
    pub metrics: Option<MetricsSettings>,
    pub jobs: Vec<Job>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SettingsFile {
    #[serde(default)]
    log: LogSettings,
    #[serde(default = "default_grace", deserialize_with = "duration")]
    grace: Duration,
    #[serde(default)]
    notify: Option<serde_json::Value>,
    #[serde(default)]
    metrics: Option<MetricsSettings>,
    #[serde(default)]
    jobs: Vec<Job>,
}

impl TryFrom<SettingsFile> for Settings {
    type Error = String;
    fn try_from(file: SettingsFile) -> Result<Settings, String> {
        let mut names = BTreeSet::new();
        for (i, job) in file.jobs.iter().enumerate() {
            if !names.insert(job.name.as_str()) {
                return Err(format!("jobs[{i}].name: `{}` names two jobs", job.name));
            }
        }
        Ok(Settings {
            log: file.log,
            grace: file.grace,
            notify: file.notify,
            metrics: file.metrics,
            jobs: file.jobs,
        })
    }
}

/// `log:`, the central log.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    #[serde(default = "default_log_path")]
    pub path: PathBuf,
    /// Rotate when the log would pass this many bytes.
    #[serde(default = "default_max_size", deserialize_with = "size")]
    pub max_size: u64,
    /// Rotated files kept (`records.jsonl.1` ... `.N`); 0 keeps none.
    #[serde(default = "default_keep")]
    pub keep: u32,
    /// Rotated files are gzipped (`records.jsonl.1.gz` ...).
    #[serde(default)]
    pub compress: bool,
}

impl Default for LogSettings {
    fn default() -> LogSettings {
        LogSettings {
            path: default_log_path(),
            max_size: default_max_size(),
            keep: default_keep(),
            compress: false,
        }
    }
}

/// `metrics:`, the Prometheus textfile (node_exporter's textfile
/// collector) secops rewrites at start and after every job run.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsSettings {
    pub path: PathBuf,
}

fn default_grace() -> Duration {
    Duration::from_secs(30)
}
fn default_log_path() -> PathBuf {
    PathBuf::from("/var/log/secops/records.jsonl")
}
fn default_max_size() -> u64 {
    50 << 20
}
fn default_keep() -> u32 {
    10
}

/// One job: what to run and when.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "JobFile")]
pub struct Job {
    pub name: String,
    pub what: What,
    pub schedule: Schedule,
    pub timeout: Option<Duration>,
}

/// What a job runs.
#[derive(Debug, Clone)]
pub enum What {
    /// A tool's argument vector, here or (`on:`) through remote-run.
    Run {
        argv: Vec<String>,
        on: Option<Fleet>,
    },
    /// The HTML report of the central log's last `since`.
    Report(Report),
}

#[derive(Debug, Clone)]
pub enum Schedule {
    Every(Duration),
    Cron(Box<croner::Cron>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JobFile {
    name: String,
    run: Option<Argv>,
    #[serde(default, deserialize_with = "opt_duration")]
    every: Option<Duration>,
    cron: Option<CronText>,
    #[serde(default, deserialize_with = "opt_duration")]
    timeout: Option<Duration>,
    on: Option<Fleet>,
    report: Option<Report>,
}

/// `on:`: run the job on an inventory's hosts through remote-run.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fleet {
    pub inventory: PathBuf,
    pub group: Option<String>,
    /// An ssh client configuration for these hosts (remote-run's
    /// `--ssh-config`), e.g. one with secops's own known_hosts and key.
    pub ssh_config: Option<PathBuf>,
}

/// `report:`: secops-report over the central log.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Report {
    #[serde(deserialize_with = "duration")]
    pub since: Duration,
    pub output: PathBuf,
}

impl TryFrom<JobFile> for Job {
    type Error = String;
    fn try_from(file: JobFile) -> Result<Job, String> {
        let name = file.name;
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            return Err(format!(
                "name: `{name}` is not a job name (letters, digits, - _ . only)"
            ));
        }
        let schedule = match (file.every, file.cron) {
            (Some(every), None) => Schedule::Every(every),
            (None, Some(cron)) => Schedule::Cron(Box::new(cron.0)),
            (Some(_), Some(_)) => {
                return Err(format!("job `{name}`: give `every` or `cron`, not both"));
            }
            (None, None) => {
                return Err(format!(
                    "job `{name}`: give `every: DURATION` or `cron: \"EXPR\"`"
                ));
            }
        };
        let what = match (file.run, file.report, file.on) {
            (Some(argv), None, on) => What::Run { argv: argv.0, on },
            (None, Some(report), None) => What::Report(report),
            (None, Some(_), Some(_)) => {
                return Err(format!("job `{name}`: a report is built here; drop `on`"));
            }
            (Some(_), Some(_), _) => {
                return Err(format!("job `{name}`: give `run` or `report`, not both"));
            }
            (None, None, _) => {
                return Err(format!(
                    "job `{name}`: give `run: [TOOL, ARGS...]` or `report`"
                ));
            }
        };
        Ok(Job {
            name,
            what,
            schedule,
            timeout: file.timeout,
        })
    }
}

impl Job {
    /// `run`, `fleet` or `report`.
    pub fn kind(&self) -> &'static str {
        match &self.what {
            What::Run { on: Some(_), .. } => "fleet",
            What::Run { .. } => "run",
            What::Report(_) => "report",
        }
    }
}

thread_local! {
    /// Whether command lines are checked while settings are read: off for
    /// the unit tests of the format itself.
    static CHECK_COMMANDS: Cell<bool> = const { Cell::new(true) };
}

impl Settings {
    /// Reads and checks `path`: exit 2 naming file:line:field on any error.
    pub fn load(path: &Path) -> Result<Settings, Error> {
        let (text, syntax) = secops_common::config::read_settings(path)?;
        Settings::parse(&text, syntax, true)
            .map_err(|err| Error::bad_input(format!("{}:{err}", path.display())))
    }

    /// Parses settings text; `check_commands` runs each job's `--help` check.
    pub fn parse(text: &str, syntax: Syntax, check_commands: bool) -> Result<Settings, String> {
        CHECK_COMMANDS.set(check_commands);
        let settings: Result<Settings, String> = parse(text, syntax);
        CHECK_COMMANDS.set(true);
        let settings = settings?;
        // notify: the same settings secops-notify reads, checked by its own
        // types; read again from the text so errors keep their place.
        if let Some(notify) = &settings.notify {
            if notify.get("settings").is_some() {
                parse::<NotifyByFile>(text, syntax)?;
            } else {
                parse::<NotifyInline>(text, syntax)?;
            }
        }
        Ok(settings)
    }

    /// Where secops-notify's own settings are, and what they say.
    pub fn notify_plan(&self) -> Result<Option<NotifyPlan>, Error> {
        let Some(value) = &self.notify else {
            return Ok(None);
        };
        if let Some(file) = value.get("settings").and_then(|s| s.as_str()) {
            let path = PathBuf::from(file);
            let parsed: secops_notify::settings::File = secops_common::config::load(&path)?;
            return Ok(Some(NotifyPlan {
                inline: None,
                file: Some(path),
                min_severity: parsed.min_severity.unwrap_or(Severity::High),
                has_state_dir: parsed.state_dir.is_some(),
            }));
        }
        let parsed: secops_notify::settings::File = serde_json::from_value(value.clone())
            .map_err(|err| Error::bad_input(format!("notify: {err}")))?;
        Ok(Some(NotifyPlan {
            inline: Some(value.clone()),
            file: None,
            min_severity: parsed.min_severity.unwrap_or(Severity::High),
            has_state_dir: parsed.state_dir.is_some(),
        }))
    }
}

/// How alerts reach secops-notify.
#[derive(Debug, Clone)]
pub struct NotifyPlan {
    /// Inline settings, written to the state directory for `--config`.
    pub inline: Option<serde_json::Value>,
    /// `settings: FILE`, handed over as it is.
    pub file: Option<PathBuf>,
    pub min_severity: Severity,
    /// Whether the settings name secops-notify's own state directory.
    pub has_state_dir: bool,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct NotifyInline {
    notify: secops_notify::settings::File,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct NotifyByFile {
    notify: NotifyFileRef,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct NotifyFileRef {
    settings: PathBuf,
}

/// A job's argument vector, checked as it is read.
struct Argv(Vec<String>);

impl<'de> Deserialize<'de> for Argv {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Argv, D::Error> {
        struct Words;
        impl<'de> Visitor<'de> for Words {
            type Value = Vec<String>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an argument vector: [TOOL, ARG, ...] (never a shell string)")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<String>, A::Error> {
                let mut words = Vec::new();
                while let Some(word) = seq.next_element::<String>()? {
                    words.push(word);
                }
                Ok(words)
            }
        }
        let words = de.deserialize_seq(Words)?;
        if words.is_empty() {
            return Err(de::Error::custom("an empty command"));
        }
        if CHECK_COMMANDS.get() {
            check_command(&words).map_err(de::Error::custom)?;
        }
        Ok(Argv(words))
    }
}

/// The program a job names: beside the secops binary first (the tools are
/// installed together), then on PATH; a path is taken as it is.
pub fn find_program(name: &str) -> Option<PathBuf> {
    if name.contains('/') {
        let path = PathBuf::from(name);
        return path.is_file().then_some(path);
    }
    let beside = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join(name)));
    beside
        .into_iter()
        .chain(
            std::env::var_os("PATH")
                .map(|paths| {
                    std::env::split_paths(&paths)
                        .map(|dir| dir.join(name))
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default(),
        )
        .find(|path| path.is_file())
}

/// `TOOL ARGS --help` must exit 0: the tool parses every flag and value
/// before it acts on `--help`. What follows a `--` (remote-run's remote
/// command) stays after it.
fn check_command(words: &[String]) -> Result<(), String> {
    let program = find_program(&words[0]).ok_or_else(|| {
        format!(
            "`{}` is not a program beside secops or on PATH (install the tool, or fix the name)",
            words[0]
        )
    })?;
    let split = words.iter().position(|w| w == "--").unwrap_or(words.len());
    let out = Process::new(&program)
        .args(&words[1..split])
        .arg("--help")
        .args(&words[split..])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|err| format!("cannot run {}: {err}", program.display()))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let first = stderr
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("no message");
        return Err(format!(
            "`{}` is refused by {}: {}",
            words.join(" "),
            words[0],
            first.trim()
        ));
    }
    Ok(())
}

/// A cron expression, parsed by croner.
struct CronText(croner::Cron);

impl<'de> Deserialize<'de> for CronText {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<CronText, D::Error> {
        struct Text;
        impl Visitor<'_> for Text {
            type Value = croner::Cron;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a cron expression such as \"*/10 * * * *\"")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<croner::Cron, E> {
                croner::Cron::from_str(text)
                    .map_err(|err| E::custom(format!("`{text}` is not a cron expression: {err}")))
            }
        }
        de.deserialize_str(Text).map(CronText)
    }
}

/// `30s`, `5m`, `1h`: a visitor, so the YAML reader still knows the place
/// when the text is refused.
fn duration<'de, D: Deserializer<'de>>(de: D) -> Result<Duration, D::Error> {
    struct Text;
    impl Visitor<'_> for Text {
        type Value = Duration;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a duration such as 30s, 5m or 1h")
        }
        fn visit_str<E: de::Error>(self, text: &str) -> Result<Duration, E> {
            secops_common::cli::parse_duration(text).map_err(E::custom)
        }
    }
    de.deserialize_str(Text)
}

fn opt_duration<'de, D: Deserializer<'de>>(de: D) -> Result<Option<Duration>, D::Error> {
    duration(de).map(Some)
}

/// `50MiB`, `10M`, `500k`, `1048576`: binary units, as logrotate's `size`.
fn size<'de, D: Deserializer<'de>>(de: D) -> Result<u64, D::Error> {
    struct Text;
    impl Visitor<'_> for Text {
        type Value = u64;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a size such as 50MiB, 10M or 1048576")
        }
        fn visit_u64<E: de::Error>(self, n: u64) -> Result<u64, E> {
            check_size(n).map_err(E::custom)
        }
        fn visit_i64<E: de::Error>(self, n: i64) -> Result<u64, E> {
            u64::try_from(n)
                .map_err(|_| E::custom("a size cannot be negative"))
                .and_then(|n| check_size(n).map_err(E::custom))
        }
        fn visit_str<E: de::Error>(self, text: &str) -> Result<u64, E> {
            parse_size(text).map_err(E::custom)
        }
    }
    de.deserialize_any(Text)
}

fn check_size(n: u64) -> Result<u64, String> {
    if n < 1024 {
        return Err(format!("{n} bytes is too small for a log (at least 1KiB)"));
    }
    Ok(n)
}

pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let digits = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(digits);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a size (try 50MiB, 10M, 1048576)"))?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        _ => return Err(format!("`{text}` is not a size (try 50MiB, 10M, 1048576)")),
    };
    check_size(
        number
            .checked_shl(shift)
            .filter(|n| n >> shift == number)
            .ok_or("too large")?,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(text: &str) -> Result<Settings, String> {
        Settings::parse(text, Syntax::Yaml, false)
    }

    const EXAMPLE: &str = "\
log:
  path: /var/log/secops/records.jsonl
  max_size: 50MiB
  keep: 10
notify:
  min_severity: high
  webhook:
    url_file: /etc/secops/webhook.url
jobs:
  - name: ports
    run: [traffic-cop, --whitelist, /etc/secops/ports.json]
    every: 5m
  - name: disk
    run: [disk-alert, --all, --inodes]
    cron: \"*/10 * * * *\"
  - name: integrity
    run: [fim-check, verify]
    every: 1h
    timeout: 20m
  - name: fleet-integrity
    run: [fim-check, verify]
    on: { inventory: /etc/secops/servers.json, group: web }
    every: 6h
  - name: daily-report
    report: { since: 24h, output: /var/lib/secops/reports/daily.html }
    cron: \"0 7 * * *\"
metrics:
  path: /var/lib/prometheus/node-exporter/secops.prom
";

    #[test]
    fn the_issue_example_reads() {
        let settings = yaml(EXAMPLE).unwrap();
        assert_eq!(settings.log.max_size, 50 << 20);
        assert_eq!(settings.jobs.len(), 5);
        assert!(matches!(settings.jobs[2].timeout, Some(t) if t.as_secs() == 1200));
        assert_eq!(settings.jobs[3].kind(), "fleet");
        assert_eq!(settings.jobs[4].kind(), "report");
        let plan = settings.notify_plan().unwrap().unwrap();
        assert_eq!(plan.min_severity, Severity::High);
        assert_eq!(
            settings.metrics.unwrap().path,
            Path::new("/var/lib/prometheus/node-exporter/secops.prom")
        );
        let without = EXAMPLE.split("metrics:").next().unwrap();
        assert!(yaml(without).unwrap().metrics.is_none(), "optional");
    }

    #[test]
    fn errors_name_line_and_field() {
        let cases = [
            ("max_size: 50MiB", "max_sise: 50MiB", "3:", "log.max_sise"),
            ("every: 5m", "every: soon", "12:", "jobs[0].every"),
            ("\"*/10 * * * *\"", "\"*/10 * * *\"", "15:", "jobs[1].cron"),
            ("url_file:", "url_fiel:", "8:", "notify.webhook.url_fiel"),
            ("timeout: 20m", "timeout: 20", "19:", "jobs[2].timeout"),
            ("keep: 10", "keep: -1", "4:", "log.keep"),
            (
                "  path: /var/lib/prom",
                "  pth: /var/lib/prom",
                "28:",
                "metrics.pth",
            ),
        ];
        for (from, to, line, field) in cases {
            let Err(err) = yaml(&EXAMPLE.replacen(from, to, 1)) else {
                panic!("{to}: accepted");
            };
            assert!(err.starts_with(line) && err.contains(field), "{to}: {err}");
        }
        let both = EXAMPLE.replacen("every: 5m", "every: 5m\n    cron: \"* * * * *\"", 1);
        assert!(yaml(&both).err().unwrap().contains("not both"));
        let twice = EXAMPLE.replacen("name: disk", "name: ports", 1);
        assert!(yaml(&twice).err().unwrap().contains("names two jobs"));
        let no_path = EXAMPLE.replacen("  path: /var/lib/prometheus", "  # /var/lib/prometheus", 1);
        let err = yaml(&format!("{no_path}  {{}}\n")).err().unwrap();
        assert!(err.contains("metrics") && err.contains("path"), "{err}");
    }

    #[test]
    fn sizes_read_like_logrotate() {
        assert_eq!(parse_size("50MiB"), Ok(50 << 20));
        assert_eq!(parse_size("10M"), Ok(10 << 20));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert!(parse_size("10 parsecs").is_err());
        assert!(parse_size("12").is_err());
    }
}
