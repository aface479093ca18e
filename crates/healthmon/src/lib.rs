//! healthmon: samples CPU (total and per core), memory, swap, load, disk
//! and processes from `/proc` and disk-alert's filesystem code, judges
//! them against thresholds with monit-style hysteresis, and writes secops
//! records and Prometheus textfile metrics.
//!
//! Built to run every second for months: files it reads every sample stay
//! open, buffers are reused, and the per-process work is one small read
//! per process (see `processes`), so its own CPU and memory stay well
//! below what it measures (docs/benchmarks.md).

mod alerts;
pub mod cli;
mod cpu;
mod disks;
mod hysteresis;
mod load;
mod memory;
mod metrics;
mod proc_file;
mod processes;
mod records;
mod sampler;
mod settings;
mod thresholds;

use std::path::Path;
use std::time::Duration;

use secops_common::prom::Passes;
use secops_common::repeat::Repeat;
use secops_common::{Error, Exit, Output};

use crate::alerts::Alerts;
pub use crate::cli::Args;
use crate::hysteresis::{Monitor, Subject, Transition};
use crate::processes::Rank;
use crate::records::TABLE_COLUMNS;
pub use crate::records::TOOL;
use crate::sampler::{Sample, Sampler, round1};
use crate::settings::Settings;
use crate::thresholds::Metric;

/// How long the first sample's CPU figures are measured over, unless the
/// interval is shorter: one reading of `/proc/stat` only gives the
/// average since boot, so even `--once` takes a baseline and waits. One
/// second gives 1% resolution from the kernel's 100 Hz tick counters.
const BASELINE: Duration = Duration::from_secs(1);

/// Reads and resolves the settings file of `healthmon --config FILE`
/// with no other flag, as a run does: the entry point of the fuzz targets
/// and tests.
pub fn check_settings(config: &Path) -> Result<(), Error> {
    use clap::Parser;
    let argv = [
        std::ffi::OsStr::new("healthmon"),
        std::ffi::OsStr::new("--config"),
        config.as_os_str(),
    ];
    let args = Args::try_parse_from(argv).map_err(|err| Error::bad_input(err.to_string()))?;
    Settings::from_args(&args).map(drop)
}

/// Runs healthmon as the command line asks.
pub fn run(args: &Args) -> Result<Exit, Error> {
    let settings = Settings::from_args(args)?;
    if args.repeat.interval.is_none() {
        if let Some((metric, rule)) = settings.rules.iter().find(|(_, r)| r.for_samples > 1) {
            secops_common::warn!(
                "{metric} needs {} samples in a row to alert, and one run without --interval takes one: add --for 1 or run with --interval",
                rule.for_samples
            );
        }
    }
    let mut out = Output::open(&args.common.output_spec(&TABLE_COLUMNS)?)?;
    let repeat = Repeat::new(&args.repeat)?;
    let mut alerts = Alerts::open(args)?;
    let mut sampler = Sampler::new(settings.top, &settings.mounts)?;
    let all_mounts = settings.mounts.is_empty();
    let mut monitor = Monitor::new(settings.rules);
    let ticks_per_sec = procfs::ticks_per_second() as f64;
    let mut prom_passes = Passes::default();
    let mut changes = Vec::new();
    std::thread::sleep(args.repeat.interval.map_or(BASELINE, |i| i.min(BASELINE)));
    repeat.run(|pass| {
        let sample = sampler.sample()?;
        changes.clear();
        if pass == 0 {
            alerts.restore(&mut monitor, &sample, all_mounts);
        }
        judge(&mut monitor, &sample, &mut sampler, &mut changes);
        if !args.alerts_only {
            write_sample(&mut out, &sample, monitor.alerts().count())?;
        }
        for change in &changes {
            out.write(&records::transition_record(change, sample.at))?;
        }
        // Each sample says what holds, changed in it or not (an alert
        // restored from an earlier run and still above, or one held since
        // an earlier pass): a firing alert is written while it fires, so a
        // notifier can repeat it and never takes it for one that stopped.
        for held in monitor.held() {
            let changed = changes
                .iter()
                .any(|c| c.metric == held.metric && c.subject.key() == held.subject.key());
            if !changed {
                out.write(&records::transition_record(&held, sample.at))?;
            }
        }
        for rec in alerts.after_sample(&monitor, &changes, sample.at) {
            out.write(&rec)?;
        }
        // Every pass, so the last success times the sampler's heartbeat.
        let findings = out.take_findings();
        if let Some(path) = &args.prom.prom_file {
            let metrics =
                metrics::exposition(&sample, &monitor, &findings, args.prom_node, ticks_per_sec);
            prom_passes.note(metrics.write_textfile(path));
        }
        out.flush()?;
        // Once the records are out, so a run whose output failed reports
        // the same changes again next time.
        alerts.save(false);
        Ok(())
    })?;
    let written = out.finish()?;
    alerts.save(true);
    prom_passes.conclude()?;
    alerts.conclude()?;
    Ok(Exit::for_findings(written.worst, args.common.fail_on))
}

fn write_sample(out: &mut Output, sample: &Sample, alerts: usize) -> Result<(), Error> {
    out.write(&records::sample_record(sample, alerts))?;
    for disk in &sample.disks {
        out.write(&records::disk_record(disk, sample.at))?;
    }
    for (list, rank) in [
        (&sample.top_cpu, Rank::Cpu),
        (&sample.top_memory, Rank::Memory),
    ] {
        for (i, p) in list.iter().enumerate() {
            out.write(&records::process_record(
                p,
                i + 1,
                rank,
                sample.memory.total,
                sample.at,
            ))?;
        }
    }
    Ok(())
}

/// Feeds one sample's figures to the thresholds.
fn judge(
    monitor: &mut Monitor,
    sample: &Sample,
    sampler: &mut Sampler,
    changes: &mut Vec<Transition>,
) {
    let now = sample.at;
    monitor.begin_sample();
    for (metric, value) in sample.host_figures() {
        monitor.observe(metric, Subject::Host, value, now, changes);
    }
    let rules = monitor.rules();
    if rules.get(Metric::Disk).is_some() || rules.get(Metric::Inodes).is_some() {
        for disk in &sample.disks {
            let usage = disk.usage.as_ref().ok();
            let subject = Subject::Mount {
                mount: disk.mount.mountpoint.to_string_lossy().into_owned(),
                device: disk.mount.device.clone(),
                fstype: disk.mount.fstype.clone(),
            };
            for (metric, value) in [
                (Metric::Disk, usage.and_then(|u| u.percent)),
                (Metric::Inodes, usage.and_then(|u| u.inodes_percent)),
            ] {
                monitor.observe(metric, subject.clone(), value.map(f64::from), now, changes);
            }
        }
    }
    if let Some(floor) = monitor
        .rules()
        .get(Metric::ProcCpu)
        .and_then(|r| r.levels.lowest())
    {
        // Only processes over the lowest level, or already being watched,
        // need a condition; the rest are ok and stay untracked.
        let watched = sampler.processes().select(|p| {
            p.cpu_percent.is_some_and(|c| round1(c) > floor)
                || monitor.tracks_process(p.pid, p.start)
        });
        for p in watched {
            let subject = Subject::Process {
                pid: p.pid,
                start: p.start,
                name: p.name,
                user: p.user,
            };
            monitor.observe(
                Metric::ProcCpu,
                subject,
                p.cpu_percent.map(round1),
                now,
                changes,
            );
        }
    }
    monitor.end_sample(changes);
}
