//! Prometheus text exposition for node_exporter's textfile collector
//! (`--prom-file`): families with HELP and TYPE, samples grouped under
//! them, label values escaped, and the file replaced atomically so the
//! collector never scrapes half of it. `promtool check metrics` is the
//! judge; each tool that writes metrics tests its output with it.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{self, Write as _};
use std::path::Path;
use std::time::SystemTime;

use crate::alert::{Alerting, Stage};
use crate::atomic::AtomicFile;
use crate::exit::Error;
use crate::record::Record;
use crate::severity::Severity;

/// The metric types a textfile needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricType {
    Gauge,
    Counter,
}

/// One metric family and its samples.
#[derive(Debug, Clone)]
pub struct Family {
    name: String,
    help: String,
    kind: MetricType,
    samples: Vec<(String, f64)>,
}

impl Family {
    /// Adds a sample with these labels.
    pub fn sample(&mut self, labels: &[(&str, &str)], value: f64) -> &mut Family {
        let mut rendered = String::new();
        for (i, (name, value)) in labels.iter().enumerate() {
            rendered.push(if i == 0 { '{' } else { ',' });
            let _ = write!(rendered, "{name}=\"{}\"", escape_label(value));
        }
        if !labels.is_empty() {
            rendered.push('}');
        }
        self.samples.push((rendered, value));
        self
    }
}

/// A set of families, rendered in the order they were first asked for.
#[derive(Debug, Clone, Default)]
pub struct Exposition {
    families: Vec<Family>,
}

impl Exposition {
    /// The gauge family `name`, created on first use.
    pub fn gauge(&mut self, name: &str, help: &str) -> &mut Family {
        self.family(name, help, MetricType::Gauge)
    }

    /// The counter family `name` (by convention ending in `_total`).
    pub fn counter(&mut self, name: &str, help: &str) -> &mut Family {
        self.family(name, help, MetricType::Counter)
    }

    fn family(&mut self, name: &str, help: &str, kind: MetricType) -> &mut Family {
        let at = match self.families.iter().position(|f| f.name == name) {
            Some(at) => at,
            None => {
                self.families.push(Family {
                    name: name.to_string(),
                    help: help.to_string(),
                    kind,
                    samples: Vec::new(),
                });
                self.families.len() - 1
            }
        };
        &mut self.families[at]
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut text = String::new();
        for family in self.families.iter().filter(|f| !f.samples.is_empty()) {
            let kind = match family.kind {
                MetricType::Gauge => "gauge",
                MetricType::Counter => "counter",
            };
            let help = family.help.replace('\\', "\\\\").replace('\n', "\\n");
            let _ = writeln!(text, "# HELP {} {help}", family.name);
            let _ = writeln!(text, "# TYPE {} {kind}", family.name);
            for (labels, value) in &family.samples {
                let _ = writeln!(text, "{}{labels} {}", family.name, number(*value));
            }
        }
        text
    }

    /// Replaces `path` with the rendered metrics, atomically (renamed into
    /// place, not synced: see [`AtomicFile::commit_unsynced`]). The file is
    /// world-readable (0644, whatever the umask) as node_exporter usually
    /// runs as its own user.
    pub fn write(&self, path: &Path) -> io::Result<()> {
        let mut file = AtomicFile::create(path, crate::perms::PUBLIC)?;
        file.write_all(self.render().as_bytes())?;
        file.commit_unsynced()
    }
}

/// The firing alerts of a run by kind and severity: what a fleet
/// dashboard counts and an alert rule fires on (`TOOL_findings`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Findings(BTreeMap<(String, Severity), u64>);

impl Findings {
    /// Counts `rec` if it is a firing alert; observations and resolved
    /// records are not findings.
    pub fn observe(&mut self, rec: &Record) {
        if matches!(rec.alerting(), Alerting::Alert(Stage::Firing, _)) {
            *self.0.entry((rec.kind.clone(), rec.severity)).or_default() += 1;
        }
    }
}

/// A tool's metric name prefix: `disk-alert` -> `disk_alert`.
pub fn prefix(tool: &str) -> String {
    tool.replace('-', "_")
}

impl Exposition {
    /// What every tool's textfile carries after a run that completed: its
    /// findings and the time of this success. A failed run writes no file,
    /// so `TOOL_last_success_timestamp_seconds` ages whether the tool
    /// stopped running or keeps failing, and one staleness rule catches both.
    pub fn run_succeeded(&mut self, tool: &str, findings: &Findings) -> &mut Exposition {
        let p = prefix(tool);
        for ((kind, severity), count) in &findings.0 {
            self.gauge(
                &format!("{p}_findings"),
                "Firing alerts of the last run by kind and severity.",
            )
            .sample(
                &[("kind", kind), ("severity", severity.as_str())],
                *count as f64,
            );
        }
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64().floor());
        self.gauge(
            &format!("{p}_last_success_timestamp_seconds"),
            "When the last successful run finished, in seconds since the epoch.",
        )
        .sample(&[], now);
        self
    }

    /// [`Exposition::write`] with the error every tool reports for a file
    /// the operator named ([`Error::cannot_write`]).
    pub fn write_textfile(&self, path: &Path) -> Result<(), Error> {
        self.write(path)
            .map_err(|err| Error::cannot_write(path, &err))
    }
}

/// `--prom-file` rewritten on every pass of a loop (`--interval`, a
/// watch): a long-running tool must not stop because the metrics directory
/// was briefly full, so a failed write is one warning per streak of
/// failures, and the run ends with the last failure's exit status, saying
/// how many passes were not written.
#[derive(Debug, Default)]
pub struct Passes {
    missed: u64,
    failing: bool,
    last: Option<Error>,
}

impl Passes {
    /// Notes how one pass's write went.
    pub fn note(&mut self, result: Result<(), Error>) {
        match result {
            Ok(()) => self.failing = false,
            Err(err) => {
                if !self.failing {
                    crate::warn!("{err}; the loop goes on");
                }
                self.failing = true;
                self.missed += 1;
                self.last = Some(err);
            }
        }
    }

    /// The run's verdict on its metrics: the last failure, if any.
    pub fn conclude(self) -> Result<(), Error> {
        match self.last {
            Some(err) => Err(Error {
                message: format!(
                    "{} ({} pass{} not written)",
                    err.message,
                    self.missed,
                    if self.missed == 1 { "" } else { "es" }
                ),
                ..err
            }),
            None => Ok(()),
        }
    }
}

fn escape_label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Prometheus spells the special values `NaN`, `+Inf` and `-Inf`.
fn number(value: f64) -> String {
    if value.is_nan() {
        "NaN".to_string()
    } else if value.is_infinite() {
        if value > 0.0 { "+Inf" } else { "-Inf" }.to_string()
    } else {
        value.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_families_grouped_with_escaped_labels() {
        let mut metrics = Exposition::default();
        metrics
            .gauge("node_filesystem_avail_bytes", "Filesystem space available.")
            .sample(&[("mountpoint", "/"), ("fstype", "ext4")], 1024.0);
        metrics
            .counter("secops_runs_total", "Runs.")
            .sample(&[], 3.0);
        metrics
            .gauge("node_filesystem_avail_bytes", "ignored: the family exists")
            .sample(
                &[("mountpoint", "/mnt/a \"b\"\\c\nd"), ("fstype", "xfs")],
                0.5,
            );
        metrics.gauge("unused", "a family without samples is left out");
        assert_eq!(
            metrics.render(),
            "# HELP node_filesystem_avail_bytes Filesystem space available.\n\
             # TYPE node_filesystem_avail_bytes gauge\n\
             node_filesystem_avail_bytes{mountpoint=\"/\",fstype=\"ext4\"} 1024\n\
             node_filesystem_avail_bytes{mountpoint=\"/mnt/a \\\"b\\\"\\\\c\\nd\",fstype=\"xfs\"} 0.5\n\
             # HELP secops_runs_total Runs.\n\
             # TYPE secops_runs_total counter\n\
             secops_runs_total 3\n"
        );
    }

    #[test]
    fn findings_count_firing_alerts_by_kind_and_severity() {
        let mut findings = Findings::default();
        let rec = |kind: &str, severity| Record::new("fim-check", kind, severity, "m");
        findings.observe(&rec("fim.changed", Severity::High).firing(&["a"]));
        findings.observe(&rec("fim.changed", Severity::High).firing(&["b"]));
        findings.observe(&rec("fim.changed", Severity::Medium).firing(&["c"]));
        findings.observe(&rec("fim.changed", Severity::High).resolved(&["d"]));
        findings.observe(&rec("fim.summary", Severity::Info));
        let mut metrics = Exposition::default();
        let text = metrics.run_succeeded("fim-check", &findings).render();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[..4],
            [
                "# HELP fim_check_findings Firing alerts of the last run by kind and severity.",
                "# TYPE fim_check_findings gauge",
                r#"fim_check_findings{kind="fim.changed",severity="medium"} 1"#,
                r#"fim_check_findings{kind="fim.changed",severity="high"} 2"#,
            ]
        );
        let stamp: f64 = lines[6]
            .strip_prefix("fim_check_last_success_timestamp_seconds ")
            .unwrap()
            .parse()
            .unwrap();
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        assert!((now - stamp).abs() < 60.0, "{stamp} is not now ({now})");
        assert_eq!(lines.len(), 7, "{text}");
    }

    #[test]
    fn passes_end_with_the_last_failure_and_how_many_were_missed() {
        let mut passes = Passes::default();
        passes.note(Ok(()));
        passes.note(Err(Error::failed("cannot write m.prom: full")));
        passes.note(Ok(()));
        passes.note(Err(Error::bad_input("cannot write m.prom: gone")));
        let err = passes.conclude().unwrap_err();
        assert_eq!(
            err.message,
            "cannot write m.prom: gone (2 passes not written)"
        );
        assert_eq!(err.exit, crate::Exit::BadInput);
        assert!(Passes::default().conclude().is_ok());
    }

    #[test]
    fn special_values_use_prometheus_spelling() {
        assert_eq!(number(f64::NAN), "NaN");
        assert_eq!(number(f64::INFINITY), "+Inf");
        assert_eq!(number(f64::NEG_INFINITY), "-Inf");
        assert_eq!(number(1e21), "1000000000000000000000");
        assert_eq!(number(-0.25), "-0.25");
    }
}
