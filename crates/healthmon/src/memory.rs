//! Memory and swap from `/proc/meminfo`, judged the way `free` (procps 4)
//! and psutil judge it: memory in use is what the kernel could not hand to
//! a new program without swapping, `MemTotal - MemAvailable`. Page cache
//! is not "used": counting it made healthy servers look full for years.

/// The `/proc/meminfo` figures healthmon uses, in bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Memory {
    pub total: u64,
    pub free: u64,
    pub available: u64,
    pub buffers: u64,
    pub cached: u64,
    pub swap_total: u64,
    pub swap_free: u64,
}

impl Memory {
    pub fn parse(text: &str) -> Result<Memory, String> {
        let mut mem = Memory::default();
        let mut available = None;
        for line in text.lines() {
            let Some((key, rest)) = line.split_once(':') else {
                continue;
            };
            let slot = match key {
                "MemTotal" => &mut mem.total,
                "MemFree" => &mut mem.free,
                "MemAvailable" => available.insert(0),
                "Buffers" => &mut mem.buffers,
                "Cached" => &mut mem.cached,
                "SwapTotal" => &mut mem.swap_total,
                "SwapFree" => &mut mem.swap_free,
                _ => continue,
            };
            let kib: u64 = rest
                .trim()
                .trim_end_matches("kB")
                .trim_end()
                .parse()
                .map_err(|_| format!("unreadable {key} line"))?;
            *slot = kib * 1024;
        }
        if mem.total == 0 {
            return Err("no MemTotal line".to_string());
        }
        mem.available = match available {
            // As psutil: a value above the total is what containers with
            // a distorted view report; free memory is the honest floor.
            Some(avail) if avail > mem.total => mem.free,
            // Kernels before 3.14 have no MemAvailable (and some report 0):
            // the older `free` estimate.
            Some(0) | None => (mem.free + mem.buffers + mem.cached).min(mem.total),
            Some(avail) => avail,
        };
        Ok(mem)
    }

    /// `MemTotal - MemAvailable`.
    pub fn used(&self) -> u64 {
        self.total - self.available
    }

    /// Used memory in percent of the total.
    pub fn percent(&self) -> f64 {
        self.used() as f64 * 100.0 / self.total as f64
    }

    pub fn swap_used(&self) -> u64 {
        self.swap_total.saturating_sub(self.swap_free)
    }

    /// Used swap in percent; `None` on a machine without swap, where no
    /// threshold can be crossed.
    pub fn swap_percent(&self) -> Option<f64> {
        (self.swap_total > 0).then(|| self.swap_used() as f64 * 100.0 / self.swap_total as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MEMINFO: &str = "MemTotal:        1000 kB\nMemFree:          100 kB\n\
        MemAvailable:     600 kB\nBuffers:           50 kB\nCached:           300 kB\n\
        SwapCached:         0 kB\nSwapTotal:        400 kB\nSwapFree:         300 kB\n\
        HugePages_Total:    0\n";

    #[test]
    fn used_is_total_less_available() {
        let mem = Memory::parse(MEMINFO).unwrap();
        assert_eq!((mem.total, mem.available), (1_024_000, 614_400));
        assert_eq!(mem.used(), 409_600);
        assert_eq!(mem.percent(), 40.0);
        assert_eq!(mem.swap_used(), 102_400);
        assert_eq!(mem.swap_percent(), Some(25.0));
    }

    #[test]
    fn missing_or_odd_available_falls_back() {
        let old = MEMINFO.replace("MemAvailable:     600 kB\n", "");
        assert_eq!(Memory::parse(&old).unwrap().available, 450 * 1024);
        let container = MEMINFO.replace("600 kB", "9000 kB");
        assert_eq!(Memory::parse(&container).unwrap().available, 100 * 1024);
        let no_swap = MEMINFO
            .replace("400 kB", "0 kB")
            .replace("300 kB\nHuge", "0 kB\nHuge");
        assert_eq!(Memory::parse(&no_swap).unwrap().swap_percent(), None);
        assert!(Memory::parse("MemFree: 1 kB\n").is_err());
        assert!(Memory::parse("MemTotal: lots\n").is_err());
    }
}
