//! The command line: which records to read, which of them to report, and
//! how to lay the report out. Output, `--fail-on` and diagnostics flags come
//! from secops-common's `CommonArgs`, so every tool spells them the same way.

use std::path::PathBuf;

use clap::Parser;
use clap::builder::NonEmptyStringValueParser;
use secops_common::cli::CommonArgs;

use crate::filter::Filter;
use crate::group::GroupBy;

const AFTER_HELP: &str = "\
Examples:
  # Open ports into a spreadsheet
  traffic-cop --whitelist config/ports.json | secops-report --csv > ports.csv

  # What matters across the fleet, host by host
  secops-report --min-severity high --group-by host fleet.jsonl

  # A Markdown table for a ticket: web1's port findings
  secops-report --format markdown --host web1 --kind port fleet.jsonl > ticket.md

  # Choose the table columns
  secops-report --format table --columns severity,host,port,process,user ports.jsonl

  # One screen of what matters, worst first
  secops-report --brief --min-severity medium records.jsonl

  # What is still firing across the fleet, from the central log
  secops-report --open --format table fleet.jsonl

  # Alerts that fired or resolved, without the observations
  secops-report --alert firing,resolved fleet.jsonl

  # Mix files and stdin; write atomically, format from the extension
  fim-check verify | secops-report -o reports/today.csv ports.jsonl -

  # One self-contained HTML page with charts, to open anywhere or mail
  # (or --format html to stdout)
  secops-report -o report.html ports.jsonl health.jsonl anomalies.jsonl

Filters of different flags must all match; repeated (or comma-separated)
values of one flag are alternatives. --kind port also matches port.opened.

Exit status: 0 nothing reported at or above --fail-on (default high);
1 something reported was (records removed by filters do not count);
2 bad usage, or some input lines were not records (the rest are reported);
3 the report could not be written.";

/// Turn records from any secops tool into a table, CSV, JSON, JSON Lines,
/// Markdown or HTML report.
#[derive(Debug, Parser)]
#[command(name = "secops-report", version, after_help = AFTER_HELP)]
pub struct Args {
    /// JSON Lines files to read, in order; `-` is stdin [default: stdin]
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,

    #[command(flatten)]
    pub filter: Filter,

    /// Report only the alerts still firing at the end of the input: the
    /// latest record of each (host, alert_id) whose latest word is firing
    #[arg(long, help_heading = "Filters")]
    pub open: bool,

    /// Put records that share a host, tool, kind or severity together; in
    /// table and Markdown output each group gets a heading with its counts
    #[arg(long, value_enum, value_name = "FIELD", help_heading = "Layout")]
    pub group_by: Option<GroupBy>,

    /// Fields a table or Markdown report shows, in order: any common or
    /// kind field, e.g. severity,host,port,process [default: severity, host,
    /// tool, kind, message, less those the summary or a heading names]
    #[arg(
        long,
        value_name = "FIELD,...",
        value_delimiter = ',',
        value_parser = NonEmptyStringValueParser::new(),
        help_heading = "Layout"
    )]
    pub columns: Option<Vec<String>>,

    /// One screen of what matters: the counts, then findings worst first,
    /// grouped by severity, tool and kind with a count and a few examples
    /// each, clipped to --width (a table format)
    #[arg(long, conflicts_with_all = ["columns", "group_by", "csv"], help_heading = "Layout")]
    pub brief: bool,

    /// Columns a --brief report fits in [default: $COLUMNS, else 100]
    #[arg(long, value_name = "N", requires = "brief", help_heading = "Layout")]
    pub width: Option<usize>,

    /// Shorthand for --format csv
    #[arg(long, conflicts_with = "format", help_heading = "Output")]
    pub csv: bool,

    #[command(flatten)]
    pub common: CommonArgs,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        Args::command().debug_assert();
    }

    #[test]
    fn list_flags_take_repeats_and_commas() {
        let args = Args::parse_from([
            "secops-report",
            "--columns",
            "severity,port",
            "--columns",
            "user",
            "--tool",
            "traffic-cop,fim-check",
            "--tool",
            "healthmon",
        ]);
        assert_eq!(args.columns.unwrap(), ["severity", "port", "user"]);
        assert_eq!(args.filter.tools, ["traffic-cop", "fim-check", "healthmon"]);
    }

    #[test]
    fn csv_shorthand_conflicts_with_format_and_columns_cannot_be_empty() {
        assert!(Args::try_parse_from(["secops-report", "--csv", "--format", "json"]).is_err());
        assert!(Args::try_parse_from(["secops-report", "--columns", "severity,,host"]).is_err());
    }
}
