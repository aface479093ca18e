//! anomalizer's command line.

use std::path::PathBuf;

use clap::{Args as ClapArgs, Parser, Subcommand, ValueEnum};
use secops_common::cli::{CommonArgs, PromArgs, StateArgs};

use crate::detection::windows::{Method, WindowConfig};
use crate::mining::drain::DrainConfig;

const EXAMPLES: &str = r"Examples:
  anomalizer /var/log                                                 every text log, one source each
  anomalizer --log-dir /var/log/app --threshold 0.01
  anomalizer --log /var/log/auth.log --log-format '<Month> <Date> <Time> <Host> <Component>: <Content>'
  journalctl -o json --since -1h | anomalizer --format jsonl | secops-notify   hourly: pages once, silences resolve
  anomalizer --log-dir /var/log --glob '*.log*' --format jsonl | secops-report --format table
  anomalizer --log app.log --format-regex '^(?P<ts>\S+) (?P<source>\w+): (?P<msg>.*)$'
  anomalizer parse HDFS_2k.log --log-format '<Date> <Time> <Pid> <Level> <Component>: <Content>' --format csv
  anomalizer learn --log-dir /var/log/app --model app-model.json      a known-good week
  anomalizer --log /var/log/app/app.log --model app-model.json        new templates since then
  anomalizer --log-dir /var/log/app --summary insights.md             findings and a timeline
  anomalizer --log /var/log/auth.log --detector rules,pca             also windows whose template mix is off
  anomalizer --log-dir /var/log/app --format jsonl --prom-file /var/lib/prometheus/node-exporter/anomalizer.prom
  anomalizer eval --data ../shared/data

Each source (a file or rotated set, a journald unit, a JSON line's logger
or a --format-regex source group) is judged against its own volume and
rhythm. Rotated sets (app.log.2.gz, app.log.1, app.log) are read oldest
first, as one source; gzip is recognised by content. JSON-per-line input
(journalctl -o json, application logs with msg/message, level, time
fields) is recognised line by line. Findings are firing alerts, named by
rule, source and template text; a silence resolves when its template logs
again, within the input or, through the state directory, in a later run.
Exit status: 0 nothing at or above --fail-on, 1 something was, 2 bad usage
or input, 3 a file could not be read or the state not saved.";

/// Find unusual patterns in logs, even when nothing says ERROR: mines line
/// templates (Drain-style parse tree, hand-written variable masking) and
/// reports rare templates and parameter values that dominate their template.
#[derive(Debug, Clone, Parser)]
#[command(name = "anomalizer", version, after_help = EXAMPLES, args_conflicts_with_subcommands = true)]
pub struct Args {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Log files or directories to read (as --log and --log-dir)
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    #[command(flatten)]
    pub input: InputArgs,

    /// Report templates whose share of its source's lines is below this
    #[arg(long, value_name = "SHARE", default_value_t = 0.01, value_parser = parse_share)]
    pub threshold: f64,

    /// Also report templates this model (from `anomalizer learn`) lacks
    #[arg(long, value_name = "FILE")]
    pub model: Option<PathBuf>,

    /// Records per source and detector, highest scores first; the rest
    /// are counted in the summary (0: no limit)
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub max_per_source: usize,

    /// Also write the run's insights here: sources, top templates,
    /// findings and an hourly timeline per template (Markdown for .md,
    /// else JSON)
    #[arg(long, value_name = "FILE")]
    pub summary: Option<PathBuf>,

    /// Detectors to run, comma-separated: rules (rare templates,
    /// dominating values, bursts, silences, new templates), pca (windows
    /// whose mix of templates breaks the log's usual correlations) and
    /// iforest (windows an isolation forest cuts off from the rest), e.g.
    /// --detector rules,pca
    #[arg(
        long,
        value_name = "NAME",
        value_enum,
        value_delimiter = ',',
        default_value = "rules"
    )]
    pub detector: Vec<DetectorName>,

    /// Window length of pca and iforest for logs whose lines carry times
    /// (whole seconds)
    #[arg(long, value_name = "DURATION", default_value = "1m", value_parser = parse_window)]
    pub window: i64,

    /// Window length of pca and iforest, in lines, for logs whose lines
    /// carry no times
    #[arg(long, value_name = "N", default_value_t = 100,
          value_parser = clap::value_parser!(u64).range(2..))]
    pub window_lines: u64,

    #[command(flatten)]
    pub state: StateArgs,

    /// Remember nothing between runs: a silence that ends after the run
    /// that reported it is not resolved (one that ends within the input
    /// still is)
    #[arg(long, conflicts_with = "state_dir", help_heading = "State")]
    pub no_state: bool,

    #[command(flatten)]
    pub prom: PromArgs,

    #[command(flatten)]
    pub common: CommonArgs,
}

/// What `--detector` can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DetectorName {
    /// rare_template, token_frequency, burst, silence, new_template
    Rules,
    /// PCA residual of per-window template counts (log.window_anomaly)
    Pca,
    /// Isolation forest over per-window template counts
    /// (log.window_anomaly)
    Iforest,
}

/// The detectors a run uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Detectors {
    pub rules: bool,
    pub pca: bool,
    pub iforest: bool,
    /// How to cut windows for pca and iforest.
    pub windows: WindowConfig,
}

impl Detectors {
    /// The window detectors chosen, PCA first.
    pub fn methods(&self) -> Vec<Method> {
        [
            (self.pca, Method::Pca),
            (self.iforest, Method::IsolationForest),
        ]
        .into_iter()
        .filter_map(|(on, m)| on.then_some(m))
        .collect()
    }
}

impl Args {
    pub fn detectors(&self) -> Detectors {
        Detectors {
            rules: self.detector.contains(&DetectorName::Rules),
            pca: self.detector.contains(&DetectorName::Pca),
            iforest: self.detector.contains(&DetectorName::Iforest),
            windows: WindowConfig {
                secs: self.window,
                lines: self.window_lines,
            },
        }
    }
}

#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Write one row per input line: source, line number, template id and
    /// template text (each line's place waits in a temporary file past
    /// 65,536 lines, so memory stays flat)
    Parse {
        /// Log files ("-" for stdin)
        #[arg(value_name = "FILE")]
        files: Vec<PathBuf>,

        #[command(flatten)]
        input: InputArgs,
    },
    /// Save the templates of a known-good period as a model for --model
    Learn {
        #[command(flatten)]
        input: InputArgs,

        /// Where to write the model (JSON)
        #[arg(long, value_name = "FILE")]
        model: PathBuf,
    },
    /// Score grouping accuracy on the Loghub-2k samples and detection on
    /// the labelled BGL lines and HDFS block sessions
    Eval {
        /// The shared data directory (holds loghub/ and hdfs_anomaly/)
        #[arg(long, value_name = "DIR", default_value = "../shared/data")]
        data: PathBuf,

        /// Rare-template share used for the detection scores
        #[arg(long, value_name = "SHARE", default_value_t = 0.01, value_parser = parse_share)]
        threshold: f64,

        #[command(flatten)]
        mining: MiningArgs,
    },
}

/// Where the logs are and how their lines look.
#[derive(Debug, Clone, ClapArgs)]
pub struct InputArgs {
    /// A log file, plain or gzip ("-" for stdin); repeatable
    #[arg(long = "log", value_name = "FILE", help_heading = "Input")]
    pub logs: Vec<PathBuf>,

    /// A directory to read recursively; repeatable
    #[arg(long, value_name = "DIR", help_heading = "Input")]
    pub log_dir: Vec<PathBuf>,

    /// Only files whose name matches this glob in --log-dir (e.g. '*.log*')
    #[arg(long, value_name = "GLOB", help_heading = "Input")]
    pub glob: Option<String>,

    /// Header layout in Loghub's <Field> syntax; <Content> is the message
    /// (default: a JSON line by its fields, other lines after their leading
    /// dates, times and levels)
    #[arg(long, value_name = "FORMAT", help_heading = "Input")]
    pub log_format: Option<String>,

    /// A regular expression for a custom line layout, with named groups
    /// msg (required), ts, level and source, e.g.
    /// '^(?P<ts>\S+) (?P<source>\w+): (?P<msg>.*)$'
    #[arg(
        long,
        value_name = "REGEX",
        help_heading = "Input",
        conflicts_with = "log_format"
    )]
    pub format_regex: Option<String>,

    /// A variable of your own, as Drain3's masking: every match of REGEX
    /// in a message becomes <NAME> before mining, e.g.
    /// --mask 'ORD-\d+-[A-Z]=ORDER'; repeatable, applied in order
    #[arg(long = "mask", value_name = "REGEX=NAME", help_heading = "Mining")]
    pub masks: Vec<String>,

    /// Zone of the times lines write without one (syslog, most
    /// applications), from the system's tz database, e.g. Europe/Berlin
    /// (default: the system's zone, TZ or /etc/localtime)
    #[arg(long, value_name = "ZONE", help_heading = "Input")]
    pub timezone: Option<String>,

    #[command(flatten)]
    pub mining: MiningArgs,
}

impl InputArgs {
    /// The input with positional paths added: directories as `--log-dir`,
    /// anything else as `--log`.
    pub fn with_paths(&self, paths: &[PathBuf]) -> InputArgs {
        let mut input = self.clone();
        for path in paths {
            if path.is_dir() {
                input.log_dir.push(path.clone());
            } else {
                input.logs.push(path.clone());
            }
        }
        input
    }
}

/// The template miner's knobs; the defaults are what the evaluation used.
#[derive(Debug, Clone, Copy, ClapArgs)]
pub struct MiningArgs {
    /// Share of a template's tokens a line must match to join it
    #[arg(long, value_name = "SHARE", default_value_t = DrainConfig::default().similarity,
          value_parser = parse_share, help_heading = "Mining")]
    pub similarity: f64,

    /// Parse-tree depth (prefix tokens used for routing + 2)
    #[arg(long, value_name = "N", default_value_t = 4,
          value_parser = clap::value_parser!(u16).range(3..=16), help_heading = "Mining")]
    pub depth: u16,
}

impl MiningArgs {
    pub fn config(&self) -> DrainConfig {
        DrainConfig {
            depth: usize::from(self.depth),
            similarity: self.similarity,
            ..DrainConfig::default()
        }
    }
}

/// A window length in whole seconds, at least one.
fn parse_window(text: &str) -> Result<i64, String> {
    let whole = |d: std::time::Duration| d.subsec_nanos() == 0 && d.as_secs() > 0;
    let duration = secops_common::cli::parse_duration(text)
        .ok()
        .filter(|d| whole(*d));
    let Some(duration) = duration else {
        return Err(format!(
            "{text:?}: a window is whole seconds, at least 1s (e.g. 30s, 1m, 1h)"
        ));
    };
    i64::try_from(duration.as_secs()).map_err(|_| format!("{text:?} is too long"))
}

fn parse_share(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(v) if (0.0..=1.0).contains(&v) => Ok(v),
        _ => Err(format!(
            "{text:?} is not a share between 0 and 1 (e.g. 0.01)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Args::command().debug_assert();
    }
}
