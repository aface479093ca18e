//! The command-line contract every tool shares: output and verbosity flags,
//! `--fail-on`, the `--interval`/`--count` loop flags, `--generate` for man
//! pages and completions, and the `main` wrapper that maps errors to exit
//! statuses.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{ArgAction, Args, CommandFactory, ValueEnum};

use crate::exit::{Context, Error, Exit};
use crate::output::{Format, OutputSpec};
use crate::severity::Severity;

/// Flags every tool takes. Global, so tools with subcommands accept them
/// before or after the subcommand (`backup-rotate list --format table`).
#[derive(Debug, Clone, Args)]
pub struct CommonArgs {
    /// Output format [default: from the --output extension, else table on a
    /// terminal and jsonl in a pipe]
    #[arg(
        global = true,
        long,
        value_enum,
        value_name = "FORMAT",
        help_heading = "Output"
    )]
    pub format: Option<Format>,

    /// Write to FILE instead of stdout; it appears whole or not at all
    #[arg(
        global = true,
        short,
        long,
        value_name = "FILE",
        help_heading = "Output"
    )]
    pub output: Option<PathBuf>,

    /// Exit 1 when a record at or above SEVERITY is written
    #[arg(
        global = true,
        long,
        value_name = "SEVERITY",
        default_value = "high",
        help_heading = "Output"
    )]
    pub fail_on: Severity,

    /// Write CSV cells verbatim instead of neutralising spreadsheet formulas
    /// (cells starting with = + - @)
    #[arg(global = true, long, help_heading = "Output")]
    pub raw_csv: bool,

    /// Print only errors on stderr
    #[arg(
        global = true,
        short,
        long,
        conflicts_with = "verbose",
        help_heading = "Diagnostics"
    )]
    pub quiet: bool,

    /// Say more on stderr (repeat for more)
    #[arg(global = true, short, long, action = ArgAction::Count, help_heading = "Diagnostics")]
    pub verbose: u8,

    /// Print a man page or shell completion script and exit
    #[arg(
        global = true,
        long,
        value_enum,
        value_name = "WHAT",
        help_heading = "Diagnostics"
    )]
    pub generate: Option<Generate>,
}

impl CommonArgs {
    /// Where and how records go; `table_columns` are the fields a table
    /// shows for this tool.
    /// HTML is a report over many records, so only secops-report makes it.
    pub fn output_spec(&self, table_columns: &[&str]) -> Result<OutputSpec, Error> {
        let format = Format::resolve(self.format, self.output.as_deref())?;
        if format == Format::Html {
            return Err(Error::bad_input(
                "HTML is made by secops-report: pipe the records into `secops-report -o report.html`",
            ));
        }
        Ok(self.output_spec_as(format, table_columns))
    }

    /// The same, in a format the tool has already settled (secops-report's
    /// `--csv` shorthand).
    pub fn output_spec_as(&self, format: Format, table_columns: &[&str]) -> OutputSpec {
        OutputSpec {
            format,
            path: self.output.clone(),
            csv_guard: !self.raw_csv,
            table_columns: table_columns.iter().map(|c| c.to_string()).collect(),
        }
    }
}

/// `--state-dir`, the same in every tool that keeps state: baselines,
/// what the last run saw, what was sent.
#[derive(Debug, Clone, Default, Args)]
pub struct StateArgs {
    /// Keep state in DIR [default: /var/lib/secops as root, else
    /// $XDG_STATE_HOME/secops]; created 0700, refused if others can write it
    #[arg(long, value_name = "DIR", help_heading = "State")]
    pub state_dir: Option<PathBuf>,
}

impl StateArgs {
    /// The directory, created and checked (see [`crate::state::state_dir`]).
    pub fn dir(&self) -> Result<PathBuf, Error> {
        crate::state::state_dir(self.state_dir.as_deref())
    }
}

/// Flags of tools that can run as a loop.
#[derive(Debug, Clone, Copy, Args)]
pub struct RepeatArgs {
    /// Repeat every DURATION (e.g. 10s, 5m) until SIGINT/SIGTERM or --count
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, help_heading = "Repeat")]
    pub interval: Option<Duration>,

    /// Stop after N passes (needs --interval)
    #[arg(long, value_name = "N", requires = "interval",
          value_parser = clap::value_parser!(u64).range(1..), help_heading = "Repeat")]
    pub count: Option<u64>,
}

/// `10s`, `5m`, `1h30m`, `250ms`; zero is refused because a zero interval
/// would spin a core.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let duration =
        humantime::parse_duration(text).map_err(|err| format!("{err} (try 10s, 5m, 1h)"))?;
    if duration.is_zero() {
        return Err("the interval must be longer than zero".to_string());
    }
    Ok(duration)
}

/// What `--generate` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Generate {
    /// A roff man page
    Man,
    CompleteBash,
    CompleteZsh,
    CompleteFish,
}

/// The body of every tool's `main`: sets up diagnostics, answers
/// `--generate`, runs the tool and turns its result into the exit status,
/// printing a failure as one `tool: error: ...` line.
pub fn start<A: CommandFactory>(
    tool: &'static str,
    common: &CommonArgs,
    run: impl FnOnce() -> Result<Exit, Error>,
) -> ExitCode {
    crate::diag::init(tool, common.quiet, common.verbose);
    let outcome = match common.generate {
        Some(what) => generate(A::command(), what),
        None => run(),
    };
    match outcome {
        Ok(exit) => exit.into(),
        Err(err) => {
            crate::diag::error(format_args!("{err}"));
            if !err.recorded
                && common.output.is_none()
                && matches!(Format::resolve(common.format, None), Ok(Format::Jsonl))
            {
                write_failure(tool, &err);
            }
            err.exit.into()
        }
    }
}

/// A run that could not do its job says so as a record too, when its
/// records go down a pipe: `fim-check verify | secops-notify` must page
/// when fim-check cannot read its key, and a pipe carries records, not
/// stderr. A firing alert (parts `run`) of severity high; it ends when it
/// stops being reported, or with secops's `job.recovered` under secops.
fn write_failure(tool: &str, err: &Error) {
    let rec = crate::Record::new(
        tool,
        "run.failed",
        Severity::High,
        format!("{tool} could not run: {err}"),
    )
    .with("error", err.message.as_str())
    .with("exit", err.exit as u8)
    .firing(&["run"]);
    let mut line = rec.to_json();
    line.push('\n');
    // stdout may be gone (a closed pipe): stderr already said it.
    let _ = std::io::stdout().write_all(line.as_bytes());
}

fn generate(mut cmd: clap::Command, what: Generate) -> Result<Exit, Error> {
    let name = cmd.get_name().to_string();
    let mut out = Vec::new();
    match what {
        Generate::Man => clap_mangen::Man::new(cmd)
            .render(&mut out)
            .context(|| "cannot render the man page".into())?,
        Generate::CompleteBash => {
            clap_complete::generate(clap_complete::Shell::Bash, &mut cmd, name, &mut out)
        }
        Generate::CompleteZsh => {
            clap_complete::generate(clap_complete::Shell::Zsh, &mut cmd, name, &mut out)
        }
        Generate::CompleteFish => {
            clap_complete::generate(clap_complete::Shell::Fish, &mut cmd, name, &mut out)
        }
    }
    std::io::stdout()
        .write_all(&out)
        .context(|| "cannot write to stdout".into())?;
    Ok(Exit::Clean)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(clap::Parser)]
    struct Tool {
        #[command(flatten)]
        common: CommonArgs,
    }

    #[test]
    fn only_secops_report_makes_html() {
        use clap::Parser;
        for args in [&["t", "--format", "html"][..], &["t", "-o", "r.html"]] {
            let err = Tool::parse_from(args).common.output_spec(&[]).unwrap_err();
            assert_eq!(err.exit, Exit::BadInput);
            assert!(err.message.contains("secops-report"), "{err}");
        }
        let csv = Tool::parse_from(["t", "-o", "r.csv"])
            .common
            .output_spec(&[]);
        assert_eq!(csv.unwrap().format, Format::Csv);
    }

    #[test]
    fn durations_read_like_an_operator_writes_them() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("ten").unwrap_err().contains("try 10s"));
    }
}
