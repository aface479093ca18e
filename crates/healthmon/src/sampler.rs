//! One sample of the machine: CPU, memory, swap, load, processes and disk,
//! read with the descriptors and buffers of the previous sample.

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use secops_common::{Context, Error};

use crate::cpu::{CpuUsage, KernelStat};
use crate::disks::{DiskUsage, Disks};
use crate::load::Load;
use crate::memory::Memory;
use crate::proc_file::ProcFile;
use crate::processes::{ProcessCounts, ProcessInfo, ProcessScanner, Rank};
use crate::thresholds::Metric;

/// Everything one sample saw.
#[derive(Debug)]
pub struct Sample {
    pub at: SystemTime,
    /// The time the CPU figures cover: since the previous sample.
    pub window: Duration,
    pub cpu: CpuUsage,
    /// The raw counters behind `cpu`, for `node_cpu_seconds_total`.
    pub stat: KernelStat,
    pub memory: Memory,
    pub load: Load,
    pub counts: ProcessCounts,
    pub top_cpu: Vec<ProcessInfo>,
    pub top_memory: Vec<ProcessInfo>,
    pub disks: Vec<DiskUsage>,
}

impl Sample {
    /// Cores online (the `cpuN` lines of `/proc/stat`).
    pub fn cpus(&self) -> usize {
        self.stat.cores.len().max(1)
    }

    /// The machine-wide figures thresholds judge, as records show them:
    /// a threshold is compared with the number an operator reads.
    pub fn host_figures(&self) -> [(Metric, Option<f64>); 6] {
        [
            (Metric::Cpu, self.cpu.total.map(|c| round1(c.busy))),
            (Metric::Mem, Some(round1(self.memory.percent()))),
            (Metric::Swap, self.memory.swap_percent().map(round1)),
            (Metric::Load, Some(self.load.one)),
            (Metric::LoadPerCore, Some(self.load_per_core())),
            (Metric::Procs, Some(self.counts.processes as f64)),
        ]
    }

    pub fn load_per_core(&self) -> f64 {
        round2(self.load.one / self.cpus() as f64)
    }

    /// The fullest mount and its df percentage.
    pub fn fullest_disk(&self) -> Option<(&DiskUsage, u8)> {
        self.disks
            .iter()
            .filter_map(|d| Some((d, d.usage.as_ref().ok()?.percent?)))
            .max_by_key(|(_, percent)| *percent)
    }
}

pub fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

pub fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

pub struct Sampler {
    stat: ProcFile,
    meminfo: ProcFile,
    loadavg: ProcFile,
    prev: KernelStat,
    prev_at: Instant,
    processes: ProcessScanner,
    disks: Disks,
    /// The usage read while selecting mounts, used by the first sample.
    first_disks: Option<Vec<DiskUsage>>,
    top: usize,
}

impl Sampler {
    /// Opens what every sample reads and takes the CPU baseline the first
    /// sample is measured against.
    pub fn new(top: usize, mounts: &[PathBuf]) -> Result<Sampler, Error> {
        let (disks, first_disks) = Disks::new(mounts)?;
        let mut sampler = Sampler {
            stat: ProcFile::open("/proc/stat")?,
            meminfo: ProcFile::open("/proc/meminfo")?,
            loadavg: ProcFile::open("/proc/loadavg")?,
            prev: KernelStat::default(),
            prev_at: Instant::now(),
            processes: ProcessScanner::new()?,
            disks,
            first_disks: Some(first_disks),
            top,
        };
        sampler.prev = sampler.read_stat()?;
        sampler.processes.scan()?;
        Ok(sampler)
    }

    pub fn sample(&mut self) -> Result<Sample, Error> {
        let at = SystemTime::now();
        let now = Instant::now();
        let stat = self.read_stat()?;
        let cpu = CpuUsage::between(&self.prev, &stat);
        let memory = Memory::parse(self.meminfo.read()?).context(|| "/proc/meminfo".into())?;
        let load = Load::parse(self.loadavg.read()?).context(|| "/proc/loadavg".into())?;
        self.processes.scan()?;
        let (top_cpu, top_memory) = match self.top {
            0 => (Vec::new(), Vec::new()),
            n => (
                self.processes.top(n, Rank::Cpu),
                self.processes.top(n, Rank::Memory),
            ),
        };
        let disks = match self.first_disks.take() {
            Some(first) => first,
            None => self.disks.sample()?,
        };
        let window = now - self.prev_at;
        self.prev_at = now;
        self.prev.clone_from(&stat);
        Ok(Sample {
            at,
            window,
            cpu,
            stat,
            memory,
            load,
            counts: *self.processes.counts(),
            top_cpu,
            top_memory,
            disks,
        })
    }

    /// The process table of the latest sample.
    pub fn processes(&mut self) -> &mut ProcessScanner {
        &mut self.processes
    }

    fn read_stat(&mut self) -> Result<KernelStat, Error> {
        let mut stat = KernelStat::default();
        stat.parse(self.stat.read()?)
            .context(|| "/proc/stat".into())?;
        Ok(stat)
    }
}
