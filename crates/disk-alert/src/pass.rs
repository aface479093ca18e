//! What one pass does: check the selected filesystems, judge them against
//! their levels, and tell every audience: records, the drop-in log, the
//! Prometheus file and the alert memory.

use std::path::{Path, PathBuf};

use secops_common::prom::Findings;
use secops_common::{Error, Output, Record, Severity};

use crate::alert_log::{self, AlertLine, DEFAULT_LOG};
use crate::alerting::{Memory, Unmounted};
use crate::check::{self, Assessment, Selection};
use crate::cli::Args;
use crate::config::Config;
use crate::limits::{Limits, Measure};
use crate::metrics::Metrics;
use crate::mounts::Filter;
use crate::pattern::Pattern;
use crate::records;
use crate::usage::Prober;

/// Everything the command line and the config file decided, resolved once.
#[derive(Debug)]
pub struct Plan {
    selection: Selection,
    limits: Limits,
    inodes: bool,
    /// The drop-in log, if lines are to be written.
    log: Option<PathBuf>,
    /// Whether log lines name their mount: only when more than one mount
    /// is checked, so the single-mount line stays the script's.
    name_mounts: bool,
    prom_file: Option<PathBuf>,
    node_metrics: bool,
}

impl Plan {
    pub fn new(args: &Args, config: Option<&Config>) -> Result<Plan, Error> {
        let selection = if !args.mounts.is_empty() {
            Selection::Paths(args.mounts.clone())
        } else if args.all || config.is_some_and(|c| c.all) {
            let from_file = config.cloned().unwrap_or_default();
            Selection::All(Filter {
                exclude_types: args
                    .exclude_types
                    .iter()
                    .chain(&from_file.exclude_types)
                    .cloned()
                    .collect(),
                exclude_mounts: args
                    .exclude_mounts
                    .iter()
                    .chain(&from_file.exclude_mounts)
                    .map(|p| Pattern::new(p))
                    .collect(),
                local_only: args.local,
            })
        } else {
            let listed: Vec<PathBuf> = config
                .map(|c| c.listed_mounts().map(PathBuf::from).collect())
                .unwrap_or_default();
            Selection::Paths(if listed.is_empty() {
                vec![PathBuf::from("/")]
            } else {
                listed
            })
        };
        if !matches!(selection, Selection::All(_))
            && (!args.exclude_types.is_empty() || !args.exclude_mounts.is_empty() || args.local)
        {
            secops_common::warn!(
                "--exclude-type, --exclude-mount and --local only apply with --all"
            );
        }
        let log = if args.no_log {
            None
        } else if let Some(log) = &args.log {
            Some(log.clone())
        } else if args.wants_records() {
            None
        } else {
            Some(PathBuf::from(DEFAULT_LOG))
        };
        let name_mounts = match &selection {
            Selection::All(_) => true,
            Selection::Paths(paths) => paths.len() > 1,
        };
        Ok(Plan {
            selection,
            limits: Limits::new(args.warn, args.crit, config)?,
            inodes: args.inodes || config.is_some_and(|c| c.inodes),
            log,
            name_mounts,
            prom_file: args.prom.prom_file.clone(),
            node_metrics: args.prom_node,
        })
    }

    /// Runs one pass. Returns whether anything failed (a mount that could
    /// not be checked, the log or metrics that could not be written): the
    /// run then exits 3, after every other mount was still checked.
    pub fn pass(
        &self,
        prober: &mut Prober,
        memory: &mut Memory,
        sink: &mut Sink,
    ) -> Result<bool, Error> {
        let survey = check::check(&self.selection, prober)?;
        let now = secops_common::record::now_rfc3339();
        let mut failed = false;
        let mut lines = Vec::new();
        // Gathered only when they will be written: rendering the samples
        // is a sixth of a pass's work.
        let mut metrics = self
            .prom_file
            .is_some()
            .then(|| Metrics::new(self.node_metrics));
        for checked in &survey.checked {
            let mount = checked.mountpoint().display().to_string();
            let usage = match &checked.usage {
                Ok(usage) => usage,
                Err(err) => {
                    let since = memory.previous_error(&mount).unwrap_or_else(|| now.clone());
                    let rec = records::error_record(checked, err, &since);
                    secops_common::diag::error(format_args!("{}", rec.message));
                    memory.fire(&rec);
                    sink.emit(rec)?;
                    if let Some(metrics) = metrics.as_mut() {
                        metrics.failed(checked);
                    }
                    failed = true;
                    continue;
                }
            };
            if let Some(since) = memory.previous_error(&mount) {
                let rec = records::error_cleared_record(&mount, Some(checked), &since);
                memory.resolved(&rec);
                sink.emit(rec)?;
            }
            let mountpoint = checked.mountpoint();
            let assessment = Assessment::of(usage, mountpoint, &self.limits, self.inodes);
            sink.emit(records::usage_record(checked, usage, &assessment))?;
            for (measure, levels, level) in assessment.measures() {
                let was = memory.previous(&mount, measure);
                if level.is_alert() {
                    let since = was.map_or_else(|| now.clone(), |was| was.since);
                    let rec = records::alert_record(checked, usage, measure, levels, level, &since);
                    memory.fire(&rec);
                    sink.emit(rec)?;
                    lines.push(AlertLine {
                        percent: match measure {
                            Measure::Space => usage.percent,
                            Measure::Inodes => usage.inodes_percent,
                        }
                        .unwrap_or(100),
                        measure,
                        mount: self.name_mounts.then(|| mountpoint.to_path_buf()),
                    });
                } else if let Some(was) = was {
                    let rec = records::recovered_record(checked, usage, measure, levels, &was);
                    memory.resolved(&rec);
                    sink.emit(rec)?;
                }
            }
            if let Some(metrics) = metrics.as_mut() {
                metrics.mount(checked, usage, &assessment);
            }
        }
        // Written before the pass ends, so a write failure is remembered
        // with the pass's other alerts.
        if let Some(log) = &self.log {
            // An empty pass writes nothing, so it proves nothing either way.
            if !lines.is_empty() {
                let result = alert_log::append(log, &lines, &alert_log::date_now());
                failed |= note_write("alert log", log, result, &now, memory, sink)?;
            }
        }
        if let (Some(path), Some(metrics)) = (&self.prom_file, metrics) {
            let result = metrics.write(path, &sink.take_findings());
            failed |= note_write("metrics file", path, result, &now, memory, sink)?;
        }
        let all = matches!(self.selection, Selection::All(_));
        for gone in memory.end_pass(all.then_some(&survey.mounted)) {
            sink.emit(match gone {
                Unmounted::Alert(was) => records::unmounted_record(&was),
                Unmounted::Error { mount, since } => {
                    records::error_cleared_record(&mount, None, &since)
                }
            })?;
        }
        // Saved once the records are out: a pass whose output failed
        // reports the same recoveries again next time.
        sink.flush()?;
        if let Err(err) = memory.save() {
            secops_common::warn!("{err}; recoveries may go unreported");
        }
        Ok(failed)
    }
}

/// Turns the outcome of writing an output file into records: a failure is
/// a firing `disk.write_failed` (and stderr, and exit 3), the first success
/// after one resolves it. Returns whether it failed.
fn note_write(
    what: &str,
    path: &Path,
    result: Result<(), Error>,
    now: &str,
    memory: &mut Memory,
    sink: &mut Sink,
) -> Result<bool, Error> {
    let text = path.display().to_string();
    let since = memory.previous_write_failure(&text);
    match result {
        Err(err) => {
            secops_common::diag::error(format_args!("{err}"));
            let since = since.unwrap_or_else(|| now.to_string());
            let rec = records::write_failed_record(what, path, &err.message, &since);
            memory.fire(&rec);
            sink.emit(rec)?;
            Ok(true)
        }
        Ok(()) => {
            if let Some(since) = since {
                let rec = records::write_recovered_record(what, path, &since);
                memory.resolved(&rec);
                sink.emit(rec)?;
            }
            Ok(false)
        }
    }
}

/// Where records go: the output the operator asked for, or nowhere in
/// drop-in mode. Either way the worst severity is kept for the exit status.
pub struct Sink {
    out: Option<Output>,
    worst: Option<Severity>,
    /// The pass's firing alerts, for the metrics (counted here, as the
    /// drop-in mode has no output).
    findings: Findings,
}

impl Sink {
    pub fn new(out: Option<Output>) -> Sink {
        Sink {
            out,
            worst: None,
            findings: Findings::default(),
        }
    }

    fn emit(&mut self, rec: Record) -> Result<(), Error> {
        self.worst = self.worst.max(Some(rec.severity));
        self.findings.observe(&rec);
        match &mut self.out {
            Some(out) => out.write(&rec),
            None => Ok(()),
        }
    }

    fn take_findings(&mut self) -> Findings {
        std::mem::take(&mut self.findings)
    }

    fn flush(&mut self) -> Result<(), Error> {
        match &mut self.out {
            Some(out) => out.flush(),
            None => Ok(()),
        }
    }

    /// Commits the output; returns the worst severity seen.
    pub fn finish(self) -> Result<Option<Severity>, Error> {
        if let Some(out) = self.out {
            out.finish()?;
        }
        Ok(self.worst)
    }
}
