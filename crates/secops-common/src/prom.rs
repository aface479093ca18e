//! Prometheus text exposition for node_exporter's textfile collector
//! (`--prom-file`): families with HELP and TYPE, samples grouped under
//! them, label values escaped, and the file replaced atomically so the
//! collector never scrapes half of it. `promtool check metrics` is the
//! judge; each tool that writes metrics tests its output with it.

use std::fmt::Write as _;
use std::io::{self, Write as _};
use std::path::Path;

use crate::atomic::AtomicFile;

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
    fn special_values_use_prometheus_spelling() {
        assert_eq!(number(f64::NAN), "NaN");
        assert_eq!(number(f64::INFINITY), "+Inf");
        assert_eq!(number(f64::NEG_INFINITY), "-Inf");
        assert_eq!(number(1e21), "1000000000000000000000");
        assert_eq!(number(-0.25), "-0.25");
    }
}
