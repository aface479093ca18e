//! Prometheus textfile metrics (`--prom-file`): node_exporter's own names
//! where a figure means the same (so dashboards and alert rules written for
//! node_exporter work unchanged), `healthmon_*` for what only healthmon
//! knows (its thresholds' figures and alert levels, the top processes).
//!
//! node_exporter refuses a scrape in which two collectors export the same
//! series, so on a host where its cpu, loadavg, meminfo, filesystem and
//! processes collectors run, `--prom-no-node` leaves the node_* families
//! out.

use secops_common::prom::Exposition;

use crate::cpu::MODES;
use crate::hysteresis::{Monitor, Subject, SubjectKey};
use crate::sampler::Sample;
use crate::thresholds::Metric;

/// The exposition of one sample and the alert levels after it.
pub fn exposition(
    sample: &Sample,
    monitor: &Monitor,
    node: bool,
    ticks_per_sec: f64,
) -> Exposition {
    let mut m = Exposition::default();
    if node {
        node_families(&mut m, sample, ticks_per_sec);
    }
    healthmon_families(&mut m, sample, monitor);
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
    let mem = &s.memory;
    for (name, help, value) in [
        (
            "node_memory_MemTotal_bytes",
            "Memory information field MemTotal_bytes.",
            mem.total,
        ),
        (
            "node_memory_MemFree_bytes",
            "Memory information field MemFree_bytes.",
            mem.free,
        ),
        (
            "node_memory_MemAvailable_bytes",
            "Memory information field MemAvailable_bytes.",
            mem.available,
        ),
        (
            "node_memory_Buffers_bytes",
            "Memory information field Buffers_bytes.",
            mem.buffers,
        ),
        (
            "node_memory_Cached_bytes",
            "Memory information field Cached_bytes.",
            mem.cached,
        ),
        (
            "node_memory_SwapTotal_bytes",
            "Memory information field SwapTotal_bytes.",
            mem.swap_total,
        ),
        (
            "node_memory_SwapFree_bytes",
            "Memory information field SwapFree_bytes.",
            mem.swap_free,
        ),
    ] {
        m.gauge(name, help).sample(&[], value as f64);
    }
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
        let labels = [("mountpoint", mountpoint.as_ref())];
        if let Some(p) = u.percent {
            m.gauge(
                "healthmon_filesystem_used_ratio",
                "Space used as df's Use% computes it (root reserve left out), 0-1.",
            )
            .sample(&labels, f64::from(p) / 100.0);
        }
        if let Some(p) = u.inodes_percent {
            m.gauge(
                "healthmon_filesystem_inodes_used_ratio",
                "Inodes used as df -i's IUse% computes it, 0-1.",
            )
            .sample(&labels, f64::from(p) / 100.0);
        }
    }
    let mut listed = Vec::new();
    for p in s.top_cpu.iter().chain(&s.top_memory) {
        if listed.contains(&p.pid) {
            continue;
        }
        listed.push(p.pid);
        let pid = p.pid.to_string();
        let labels = [
            ("pid", pid.as_str()),
            ("process", p.name.as_str()),
            ("user", p.user.as_deref().unwrap_or("")),
        ];
        if let Some(cpu) = p.cpu_percent {
            m.gauge(
                "healthmon_top_process_cpu_ratio",
                "CPU of the top processes over the last sample window, 0-1 of one core.",
            )
            .sample(&labels, cpu / 100.0);
        }
        m.gauge(
            "healthmon_top_process_resident_memory_bytes",
            "Resident memory of the top processes.",
        )
        .sample(&labels, p.rss_bytes as f64);
    }
    alert_levels(m, s, monitor);
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
                        &[("metric", metric.as_str()), ("mountpoint", &mount)],
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
    for (metric, subject, level) in monitor.alerts() {
        if let Subject::Process { pid, name, .. } = subject {
            m.gauge(NAME, HELP).sample(
                &[
                    ("metric", metric.as_str()),
                    ("pid", &pid.to_string()),
                    ("process", name),
                ],
                f64::from(level.number()),
            );
        }
    }
}
