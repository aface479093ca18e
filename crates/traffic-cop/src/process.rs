//! What an operator needs to judge the process behind a port: its name,
//! executable, command line, unit or container and, with `--profile`, how
//! heavy it is.

use std::time::{Duration, SystemTime};

use procfs::process::Process;
use secops_common::record::rfc3339;
use secops_common::text::clip;

use crate::cgroup::{self, Placement};

/// Command lines longer than this are cut: they are for reading, and an
/// attacker could otherwise bloat every report.
const MAX_CMDLINE: usize = 4096;

#[derive(Debug, Clone, PartialEq)]
pub struct ProcessInfo {
    pub pid: u32,
    /// The kernel's short name (`comm`, at most 15 bytes), as `ss` and `ps` show.
    pub name: String,
    /// The executable; `None` if it cannot be read. A path ending in
    /// ` (deleted)` means the binary was replaced or removed after start.
    pub exe: Option<String>,
    pub cmdline: String,
    /// Open file descriptors.
    pub fds: u32,
    pub placement: Placement,
    pub profile: Option<Profile>,
}

/// A per-listener resource profile, as `ps` would report it.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    /// CPU time over the process's lifetime, as a percentage of one core
    /// (the `ps` %CPU definition: no sampling delay).
    pub cpu_percent: f64,
    pub rss_bytes: u64,
    pub threads: i64,
    pub started: String,
}

/// Reads a process, or `None` if it exited meanwhile.
pub fn read_process(pid: u32, fds: u32, profile: bool) -> Option<ProcessInfo> {
    let process = Process::new(pid as i32).ok()?;
    let stat = process.stat().ok()?;
    let exe = process.exe().ok().map(|p| p.to_string_lossy().into_owned());
    let mut cmdline = process
        .cmdline()
        .map(|args| args.join(" "))
        .unwrap_or_default();
    clip(&mut cmdline, MAX_CMDLINE);
    let placement = std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
        .map(|text| cgroup::placement(&text))
        .unwrap_or_default();
    let profile = profile.then(|| {
        let ticks = procfs::ticks_per_second() as f64;
        let boot = procfs::boot_time_secs().unwrap_or(0);
        let started_secs = stat.starttime as f64 / ticks;
        let age = uptime_secs().map_or(0.0, |up| up - started_secs);
        let cpu_secs = (stat.utime + stat.stime) as f64 / ticks;
        Profile {
            cpu_percent: if age > 0.0 {
                (cpu_secs / age * 1000.0).round() / 10.0
            } else {
                0.0
            },
            rss_bytes: stat.rss * procfs::page_size(),
            threads: stat.num_threads,
            started: rfc3339(
                SystemTime::UNIX_EPOCH + Duration::from_secs_f64(boot as f64 + started_secs),
            ),
        }
    });
    Some(ProcessInfo {
        pid,
        name: stat.comm,
        exe,
        cmdline,
        fds,
        placement,
        profile,
    })
}

fn uptime_secs() -> Option<f64> {
    std::fs::read_to_string("/proc/uptime")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        let me = read_process(std::process::id(), 3, true).unwrap();
        let exe = std::env::current_exe().unwrap();
        assert_eq!(me.exe.as_deref(), exe.to_str());
        assert!(
            exe.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with(&me.name),
            "{}",
            me.name
        );
        assert!(
            me.cmdline.starts_with(exe.to_str().unwrap()) || me.cmdline.contains("traffic_cop"),
            "{}",
            me.cmdline
        );
        let profile = me.profile.unwrap();
        assert!(
            profile.rss_bytes > 1 << 20 && profile.threads >= 1,
            "{profile:?}"
        );
        let started = humantime::parse_rfc3339(&profile.started).unwrap();
        let age = SystemTime::now().duration_since(started).unwrap();
        assert!(age < Duration::from_secs(600), "started {age:?} ago");
    }

    #[test]
    fn a_gone_process_reads_as_none() {
        assert_eq!(read_process(u32::MAX / 2, 0, false), None);
    }
}
