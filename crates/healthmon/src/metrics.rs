//! Prometheus textfile metrics (`--prom-file`): `healthmon_*` families,
//! ratios 0-1 as Prometheus conventions ask, with node_exporter's label
//! names (`cpu`, `device`, `fstype`, `mountpoint`) so they join its series.
//!
//! node_exporter's own cpu, loadavg, filesystem and processes collectors
//! (on by default) export the `node_*` figures, and node_exporter drops a
//! textfile series another collector has (silently: only its log says so),
//! so those are written only with `--prom-node`, for a node_exporter run
//! without them. `node_memory_*` is left out even then: its camelCase names
//! are node_exporter's own, which `promtool check metrics` rejects.
//!
//! No label is unbounded: the top processes are named by process and user,
//! never pid, so a restarting daemon does not leave a new series behind
//! each time.

use std::collections::BTreeMap;

use secops_common::prom::{Exposition, Findings};

use crate::TOOL;
use crate::cpu::MODES;
use crate::hysteresis::{Monitor, Subject, SubjectKey};
use crate::sampler::Sample;
use crate::thresholds::Metric;

/// The exposition of one sample, the alert levels after it and the
/// sample's firing alerts.
pub fn exposition(
    sample: &Sample,
    monitor: &Monitor,
    findings: &Findings,
    node: bool,
    ticks_per_sec: f64,
) -> Exposition {
    let mut m = Exposition::default();
    if node {
        node_families(&mut m, sample, ticks_per_sec);
    }
    healthmon_families(&mut m, sample, monitor);
    m.run_succeeded(TOOL, findings);
    m
}

fn node_families(m: &mut Exposition, s: &Sample, ticks_per_sec: f64) {
    for (n, times) in &s.stat.cores {
        let cpu = n.to_string();
        for (mode, ticks) in MODES.iter().zip(times.modes) {
            m.counter(
                "node_cpu_seconds_total",
                "Seconds the CPUs spent in each mode.",
            )
            .sample(
                &[("cpu", &cpu), ("mode", mode)],
                ticks as f64 / ticks_per_sec,
            );
        }
    }
    m.gauge("node_load1", "1m load average.")
        .sample(&[], s.load.one);
    m.gauge("node_load5", "5m load average.")
        .sample(&[], s.load.five);
    m.gauge("node_load15", "15m load average.")
        .sample(&[], s.load.fifteen);
    m.gauge(
        "node_procs_running",
        "Number of processes in runnable state.",
    )
    .sample(&[], s.stat.procs_running as f64);
    m.gauge(
        "node_procs_blocked",
        "Number of processes blocked waiting for I/O to complete.",
    )
    .sample(&[], s.stat.procs_blocked as f64);
    m.gauge("node_processes_pids", "Number of PIDs")
        .sample(&[], s.counts.processes as f64);
    m.gauge("node_processes_threads", "Allocated threads in system")
        .sample(&[], s.counts.threads as f64);
    for (state, count) in s.counts.by_state() {
        m.gauge("node_processes_state", "Number of processes in each state.")
            .sample(&[("state", &state.to_string())], count as f64);
    }
    for d in &s.disks {
        let mountpoint = d.mount.mountpoint.to_string_lossy();
        let labels = [
            ("device", d.mount.device.as_str()),
            ("fstype", d.mount.fstype.as_str()),
            ("mountpoint", mountpoint.as_ref()),
        ];
        m.gauge(
            "node_filesystem_device_error",
            "Whether an error occurred while getting statistics for the given device.",
        )
        .sample(&labels, f64::from(u8::from(d.usage.is_err())));
        let Ok(u) = &d.usage else {
            continue;
        };
        for (name, help, value) in [
            (
                "node_filesystem_size_bytes",
                "Filesystem size in bytes.",
                u.size_bytes,
            ),
            (
                "node_filesystem_free_bytes",
                "Filesystem free space in bytes.",
                u.free_bytes,
            ),
            (
                "node_filesystem_avail_bytes",
                "Filesystem space available to non-root users in bytes.",
                u.avail_bytes,
            ),
            (
                "node_filesystem_files",
                "Filesystem total file nodes.",
                u.inodes_total,
            ),
            (
                "node_filesystem_files_free",
                "Filesystem total free file nodes.",
                u.inodes_free,
            ),
        ] {
            m.gauge(name, help).sample(&labels, value as f64);
        }
    }
}

fn healthmon_families(m: &mut Exposition, s: &Sample, monitor: &Monitor) {
    if let Some(cpu) = s.cpu.total {
        m.gauge(
            "healthmon_cpu_busy_ratio",
            "Busy CPU (all but idle and iowait) over the last sample window, 0-1 of all cores.",
        )
        .sample(&[], cpu.busy / 100.0);
    }
    for (n, busy) in &s.cpu.cores {
        m.gauge(
            "healthmon_cpu_core_busy_ratio",
            "Busy time of one core over the last sample window, 0-1.",
        )
        .sample(&[("cpu", &n.to_string())], busy / 100.0);
    }
    m.gauge(
        "healthmon_memory_used_ratio",
        "Memory in use (MemTotal - MemAvailable) over MemTotal, 0-1.",
    )
    .sample(&[], s.memory.percent() / 100.0);
    if let Some(swap) = s.memory.swap_percent() {
        m.gauge(
            "healthmon_swap_used_ratio",
            "Swap in use over swap total, 0-1.",
        )
        .sample(&[], swap / 100.0);
    }
    m.gauge(
        "healthmon_load1_per_core",
        "1m load average divided by the cores online.",
    )
    .sample(&[], s.load_per_core());
    for d in &s.disks {
        let Ok(u) = &d.usage else {
            continue;
        };
        let mountpoint = d.mount.mountpoint.to_string_lossy();
        let labels = [
            ("device", d.mount.device.as_str()),
            ("fstype", d.mount.fstype.as_str()),
            ("mountpoint", mountpoint.as_ref()),
        ];
        if let Some(ratio) = u.used_ratio() {
            m.gauge(
                "healthmon_filesystem_used_ratio",
                "Space used over used + available (df's Use% before rounding up, root reserve left out), 0-1.",
            )
            .sample(&labels, ratio);
        }
        if let Some(ratio) = u.inodes_used_ratio() {
            m.gauge(
                "healthmon_filesystem_inodes_used_ratio",
                "Inodes used over all inodes (df -i's IUse% before rounding up), 0-1.",
            )
            .sample(&labels, ratio);
        }
    }
    top_processes(m, s);
    alert_levels(m, s, monitor);
}

/// The top processes by CPU and by memory, each counted once, summed by
/// name and user (a pool of workers is one series).
fn top_processes(m: &mut Exposition, s: &Sample) {
    let mut listed = Vec::new();
    let mut by_name: BTreeMap<(&str, &str), (Option<f64>, u64)> = BTreeMap::new();
    for p in s.top_cpu.iter().chain(&s.top_memory) {
        if listed.contains(&p.pid) {
            continue;
        }
        listed.push(p.pid);
        let (cpu, rss) = by_name
            .entry((p.name.as_str(), p.user.as_deref().unwrap_or("")))
            .or_default();
        if let Some(percent) = p.cpu_percent {
            *cpu = Some(cpu.unwrap_or(0.0) + percent / 100.0);
        }
        *rss += p.rss_bytes;
    }
    for ((process, user), (cpu, rss)) in by_name {
        let labels = [("process", process), ("user", user)];
        if let Some(cpu) = cpu {
            m.gauge(
                "healthmon_top_process_cpu_ratio",
                "CPU of the top processes over the last sample window, 0-1 of one core, summed by name and user.",
            )
            .sample(&labels, cpu);
        }
        m.gauge(
            "healthmon_top_process_resident_memory_bytes",
            "Resident memory of the top processes, summed by name and user.",
        )
        .sample(&labels, rss as f64);
    }
}

/// One series per condition with a threshold, ok ones included, so an
/// alert rule sees 0 rather than no data when all is well.
fn alert_levels(m: &mut Exposition, s: &Sample, monitor: &Monitor) {
    const NAME: &str = "healthmon_alert_level";
    const HELP: &str = "Alert level of a threshold after hysteresis: 0 ok, 1 warning, 2 critical.";
    for (metric, _) in monitor.rules().iter() {
        match metric {
            Metric::Disk | Metric::Inodes => {
                for d in &s.disks {
                    let mount = d.mount.mountpoint.to_string_lossy().into_owned();
                    let level = monitor.level(*metric, &SubjectKey::Mount(mount.clone()));
                    m.gauge(NAME, HELP).sample(
                        &[
                            ("metric", metric.as_str()),
                            ("device", &d.mount.device),
                            ("fstype", &d.mount.fstype),
                            ("mountpoint", &mount),
                        ],
                        f64::from(level.number()),
                    );
                }
            }
            Metric::ProcCpu => {}
            _ => {
                let level = monitor.level(*metric, &SubjectKey::Host);
                m.gauge(NAME, HELP)
                    .sample(&[("metric", metric.as_str())], f64::from(level.number()));
            }
        }
    }
    // A process alert is named by process and user, the worst of its
    // processes: a pid label would leave a series behind per restart.
    let mut processes = BTreeMap::new();
    for (metric, subject, level) in monitor.alerts() {
        if let Subject::Process { name, user, .. } = subject {
            let key = (
                metric.as_str(),
                name.as_str(),
                user.as_deref().unwrap_or(""),
            );
            let worst = processes.entry(key).or_insert(level);
            *worst = (*worst).max(level);
        }
    }
    for ((metric, process, user), level) in processes {
        m.gauge(NAME, HELP).sample(
            &[("metric", metric), ("process", process), ("user", user)],
            f64::from(level.number()),
        );
    }
}
