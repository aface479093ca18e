//! secops-report: records from any secops tool in, a report out.
//!
//! Records are read with secops-common's reader (bad lines are named on
//! stderr, skipped and counted), filtered, and then either streamed through
//! secops-common's `Output` (jsonl, json, csv: memory stays flat however many
//! records pass) or collected and laid out as a table or Markdown report
//! with a summary on top, or as one self-contained HTML page (`html`).
//! `--group-by` collects in every format, since a group is only complete
//! once the input ends.

mod brief;
mod cli;
mod columns;
mod filter;
mod group;
mod html;
mod open;
mod report;
mod summary;

use secops_common::input::{ReadStats, read_records};
use secops_common::{Error, Exit, Format, Output, Record, Severity, info, warn};

pub use crate::cli::Args;
pub use crate::filter::Filter;
pub use crate::group::GroupBy;
use crate::open::OpenAlerts;
use crate::report::{Layout, Style};

/// Runs a report as `args` ask, returning the exit status: 2 if any input
/// line was rejected, else 1 if a reported record reaches `--fail-on`.
pub fn run(args: &Args) -> Result<Exit, Error> {
    let format = Format::resolve(
        args.csv
            .then_some(Format::Csv)
            .or(args.common.format)
            .or(args.brief.then_some(Format::Table)),
        args.common.output.as_deref(),
    )?;
    let (stats, reported) = match format {
        Format::Table if args.brief => write_brief(args)?,
        _ if args.brief => {
            return Err(Error::bad_input(
                "--brief is a table for a terminal; it takes no --format other than table",
            ));
        }
        Format::Table | Format::Markdown => write_report(args, format)?,
        Format::Jsonl | Format::Json | Format::Csv => write_records(args, format)?,
        Format::Html => write_html(args)?,
    };
    info!(
        "{} records read, {} reported",
        stats.records, reported.records
    );
    if stats.records == 0 && stats.rejected == 0 && stats.unreadable == 0 {
        // Not an error, but a report of nothing deserves a word.
        warn!("the input held no records");
    }
    let findings = Exit::for_findings(reported.worst, args.common.fail_on);
    Ok(stats.conclude().max(findings))
}

/// What was reported, for the exit status.
struct Reported {
    records: u64,
    worst: Option<Severity>,
}

/// jsonl, json and csv: each kept record goes straight to `Output`, unless
/// groups must be gathered first.
fn write_records(args: &Args, format: Format) -> Result<(ReadStats, Reported), Error> {
    if args.columns.is_some() {
        return Err(Error::bad_input(
            "--columns chooses table and Markdown columns; csv, json and jsonl carry every field",
        ));
    }
    let mut out = Output::open(&args.common.output_spec_as(format, &[]))?;
    let stats = match args.group_by {
        None => read_kept_each(args, |rec| out.write(&rec))?,
        Some(by) => {
            let (kept, stats) = read_kept(args, |_| {})?;
            for group in group::group(kept, by) {
                for rec in &group.records {
                    out.write(rec)?;
                }
            }
            stats
        }
    };
    let written = out.finish()?;
    Ok((
        stats,
        Reported {
            records: written.records,
            worst: written.worst,
        },
    ))
}

/// table and Markdown: gather the kept records (only the fields shown),
/// then lay out the whole report.
fn write_report(args: &Args, format: Format) -> Result<(ReadStats, Reported), Error> {
    let style = match format {
        Format::Markdown => Style::Markdown,
        _ => Style::Text,
    };
    let mut out = Output::open(&args.common.output_spec_as(format, &[]))?;
    let explicit = args.columns.as_deref();
    let (kept, stats) = read_kept(args, |rec| columns::keep_only_shown(rec, explicit))?;
    if let Some(explicit) = explicit
        && !kept.is_empty()
    {
        for name in columns::missing(explicit, &kept) {
            warn!("no reported record has a value for --columns field `{name}`");
        }
    }
    let reported = Reported {
        records: kept.len() as u64,
        worst: kept.iter().map(|rec| rec.severity).max(),
    };
    let layout = Layout {
        style,
        columns: explicit,
        group_by: args.group_by,
    };
    let filtered_out = stats.records - reported.records;
    out.write_text(|w| report::render(w, layout, kept, filtered_out))?;
    out.finish()?;
    Ok((stats, reported))
}

/// `--brief`: gather the kept records and the runs' summaries (what ran,
/// whatever `--min-severity` says), then one screen of them.
fn write_brief(args: &Args) -> Result<(ReadStats, Reported), Error> {
    let mut out = Output::open(&args.common.output_spec_as(Format::Table, &[]))?;
    let mut ran = Vec::new();
    let (kept, stats) = match args.open {
        true => read_kept(args, |rec| rec.fields.clear())?,
        false => {
            let mut kept = Vec::new();
            // Judged with their fields (alert, alert_id), kept without.
            let stats = read_records(&args.files, |mut rec| {
                let to = if brief::is_summary(&rec) && args.filter.matches_but_severity(&rec) {
                    &mut ran
                } else if args.filter.matches(&rec) {
                    &mut kept
                } else {
                    return Ok(());
                };
                rec.fields.clear();
                to.push(rec);
                Ok(())
            })?;
            (kept, stats)
        }
    };
    let reported = Reported {
        records: kept.len() as u64,
        worst: kept.iter().map(|rec| rec.severity).max(),
    };
    let width = args.width.unwrap_or_else(|| {
        std::env::var("COLUMNS")
            .ok()
            .and_then(|c| c.parse().ok())
            .unwrap_or(100)
    });
    let filtered_out = stats.records - reported.records;
    let filtered_out = filtered_out - ran.len() as u64;
    out.write_text(|w| brief::render(w, &ran, kept, filtered_out, width, &args.files))?;
    out.finish()?;
    Ok((stats, reported))
}

/// HTML: count and chart every kept record and keep the rows the page
/// shows (see `html::collect` for what is buffered), then lay out the page.
fn write_html(args: &Args) -> Result<(ReadStats, Reported), Error> {
    if args.columns.is_some() || args.group_by.is_some() {
        return Err(Error::bad_input(
            "--columns and --group-by lay out tables and Markdown; an HTML report has one table per tool and kind, with every field",
        ));
    }
    let mut out = Output::open(&args.common.output_spec_as(Format::Html, &[]))?;
    let mut page = html::Page::default();
    let mut worst = None;
    let stats = read_kept_each(args, |rec| {
        worst = worst.max(Some(rec.severity));
        page.add(rec);
        Ok(())
    })?;
    page.filtered_out = stats.records - page.summary.records();
    out.write_text(|w| html::render(w, &page))?;
    out.finish()?;
    let reported = Reported {
        records: page.summary.records(),
        worst,
    };
    Ok((stats, reported))
}

/// Reads every input, keeping the records the filters pass after `trim`.
fn read_kept(
    args: &Args,
    mut trim: impl FnMut(&mut Record),
) -> Result<(Vec<Record>, ReadStats), Error> {
    let mut kept = Vec::new();
    let stats = read_kept_each(args, |mut rec| {
        trim(&mut rec);
        kept.push(rec);
        Ok(())
    })?;
    Ok((kept, stats))
}

/// Reads every input and hands `keep` each record the filters pass, as it
/// is read; with `--open`, once the input ends, the latest record of each
/// alert still firing.
fn read_kept_each(
    args: &Args,
    mut keep: impl FnMut(Record) -> Result<(), Error>,
) -> Result<ReadStats, Error> {
    if !args.open {
        return read_records(&args.files, |rec| {
            if args.filter.matches(&rec) {
                keep(rec)?;
            }
            Ok(())
        });
    }
    // Filters apply to each alert's latest record, not to its history: an
    // alert that escalated to critical and then resolved is not open.
    let mut open = OpenAlerts::default();
    let stats = read_records(&args.files, |rec| {
        open.add(rec);
        Ok(())
    })?;
    for rec in open.into_records() {
        if args.filter.matches(&rec) {
            keep(rec)?;
        }
    }
    Ok(stats)
}
