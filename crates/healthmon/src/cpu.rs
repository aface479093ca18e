//! CPU use from `/proc/stat`: cumulative ticks per mode for the whole
//! machine and each core, turned into percentages over the time between two
//! samples. A single read only gives the average since boot, which is why
//! the first sample needs a baseline taken a moment earlier.

/// The CPU modes of a `/proc/stat` line, in its column order; also the
/// `mode` label values of node_exporter's `node_cpu_seconds_total`.
pub const MODES: [&str; 8] = [
    "user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal",
];

/// Cumulative time of one `cpu` line, in clock ticks (USER_HZ).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CpuTimes {
    /// user, nice, system, idle, iowait, irq, softirq, steal (as [`MODES`]).
    pub modes: [u64; 8],
}

impl CpuTimes {
    /// Parses the numbers after `cpu` or `cpuN`. Guest time (columns 9
    /// and 10) is left out: the kernel already counts it in user and nice,
    /// and psutil, top and node_exporter's mode totals leave it out too.
    fn parse(columns: &str) -> Option<CpuTimes> {
        let mut modes = [0u64; 8];
        let mut fields = columns.split_ascii_whitespace();
        for (i, mode) in modes.iter_mut().enumerate() {
            match fields.next() {
                Some(field) => *mode = field.parse().ok()?,
                // Old kernels have fewer columns; user, nice, system and
                // idle are always there.
                None if i >= 4 => break,
                None => return None,
            }
        }
        Some(CpuTimes { modes })
    }

    fn since(&self, before: &CpuTimes) -> CpuTimes {
        let mut modes = [0u64; 8];
        for (i, mode) in modes.iter_mut().enumerate() {
            // iowait is known to step backwards on some kernels, and a core
            // taken offline and back restarts its counters.
            *mode = self.modes[i].saturating_sub(before.modes[i]);
        }
        CpuTimes { modes }
    }
}

/// Where CPU time went between two samples, in percent of the time
/// available (all cores: 100 means every core busy).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CpuPercent {
    /// Everything but idle and iowait, as psutil's `cpu_percent` and top.
    pub busy: f64,
    /// user + nice.
    pub user: f64,
    /// system + irq + softirq.
    pub system: f64,
    pub iowait: f64,
    /// Time the hypervisor gave to other guests.
    pub steal: f64,
}

impl CpuPercent {
    fn between(before: &CpuTimes, after: &CpuTimes) -> Option<CpuPercent> {
        let d = after.since(before).modes;
        let total: u64 = d.iter().sum();
        if total == 0 {
            return None;
        }
        let pct = |ticks: u64| ticks as f64 * 100.0 / total as f64;
        let [user, nice, system, idle, iowait, irq, softirq, steal] = d;
        Some(CpuPercent {
            busy: pct(total - idle - iowait),
            user: pct(user + nice),
            system: pct(system + irq + softirq),
            iowait: pct(iowait),
            steal: pct(steal),
        })
    }
}

/// What one read of `/proc/stat` says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KernelStat {
    pub total: CpuTimes,
    /// `(N, times)` for each `cpuN` line; N can have gaps when cores are
    /// offline.
    pub cores: Vec<(u32, CpuTimes)>,
    /// Threads runnable now (`procs_running`).
    pub procs_running: u64,
    /// Threads waiting for I/O now (`procs_blocked`).
    pub procs_blocked: u64,
}

impl KernelStat {
    /// Parses `/proc/stat` into `self`, reusing its core list.
    pub fn parse(&mut self, text: &str) -> Result<(), String> {
        self.cores.clear();
        let mut saw_total = false;
        for line in text.lines() {
            let (key, rest) = line.split_once(' ').unwrap_or((line, ""));
            match key {
                "cpu" => {
                    self.total = CpuTimes::parse(rest).ok_or("unreadable `cpu` line")?;
                    saw_total = true;
                }
                "procs_running" => self.procs_running = rest.trim().parse().unwrap_or(0),
                "procs_blocked" => self.procs_blocked = rest.trim().parse().unwrap_or(0),
                _ => {
                    if let Some(n) = key.strip_prefix("cpu").and_then(|n| n.parse().ok()) {
                        let times = CpuTimes::parse(rest)
                            .ok_or_else(|| format!("unreadable `{key}` line"))?;
                        self.cores.push((n, times));
                    }
                }
            }
        }
        if !saw_total {
            return Err("no `cpu` line".to_string());
        }
        Ok(())
    }
}

/// CPU use between two reads of `/proc/stat`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CpuUsage {
    /// The whole machine; `None` if no tick passed.
    pub total: Option<CpuPercent>,
    /// Busy percent of each core present in both reads, in `cpuN` order.
    pub cores: Vec<(u32, f64)>,
}

impl CpuUsage {
    pub fn between(before: &KernelStat, after: &KernelStat) -> CpuUsage {
        let cores = after
            .cores
            .iter()
            .filter_map(|(n, times)| {
                let (_, prev) = before.cores.iter().find(|(m, _)| m == n)?;
                Some((*n, CpuPercent::between(prev, times).map_or(0.0, |p| p.busy)))
            })
            .collect();
        CpuUsage {
            total: CpuPercent::between(&before.total, &after.total),
            cores,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BEFORE: &str = "cpu  100 10 50 800 40 0 0 0 0 0\n\
        cpu0 50 5 25 400 20 0 0 0 0 0\n\
        cpu1 50 5 25 400 20 0 0 0 0 0\n\
        intr 1 2 3\nctxt 9\nprocs_running 3\nprocs_blocked 1\n";
    const AFTER: &str = "cpu  190 10 60 890 40 0 0 10 5 0\n\
        cpu0 140 5 30 405 20 0 0 0 5 0\n\
        cpu1 50 5 30 425 20 0 0 10 0 0\n\
        procs_running 5\nprocs_blocked 0\n";

    fn stat(text: &str) -> KernelStat {
        let mut stat = KernelStat::default();
        stat.parse(text).unwrap();
        stat
    }

    #[test]
    fn reads_modes_cores_and_procs() {
        let s = stat(BEFORE);
        assert_eq!(s.total.modes, [100, 10, 50, 800, 40, 0, 0, 0]);
        assert_eq!(s.cores.len(), 2);
        assert_eq!((s.procs_running, s.procs_blocked), (3, 1));
        let old_kernel = stat("cpu 1 2 3 4\ncpu0 1 2 3 4\n");
        assert_eq!(old_kernel.total.modes, [1, 2, 3, 4, 0, 0, 0, 0]);
        assert!(KernelStat::default().parse("intr 1\n").is_err());
        assert!(KernelStat::default().parse("cpu 1 x\n").is_err());
    }

    #[test]
    fn percentages_come_from_deltas() {
        // 200 ticks passed: 90 user, 10 system, 90 idle, 10 steal (the 5
        // guest ticks are inside user already and not counted twice).
        let usage = CpuUsage::between(&stat(BEFORE), &stat(AFTER));
        let total = usage.total.unwrap();
        assert_eq!(
            (
                total.busy,
                total.user,
                total.system,
                total.iowait,
                total.steal
            ),
            (55.0, 45.0, 5.0, 0.0, 5.0)
        );
        assert_eq!(usage.cores, [(0, 95.0), (1, 37.5)]);
        assert_eq!(CpuUsage::between(&stat(AFTER), &stat(AFTER)).total, None);
    }

    #[test]
    fn counters_that_step_back_count_as_zero() {
        let before = stat("cpu 10 0 0 10 50\n");
        let after = stat("cpu 20 0 0 20 40\n");
        let total = CpuUsage::between(&before, &after).total.unwrap();
        assert_eq!((total.busy, total.iowait), (50.0, 0.0));
    }
}
