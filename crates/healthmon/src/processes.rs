//! Every process's CPU and memory from `/proc/PID/stat`, and the top N by
//! each, with user and command line for those shown.
//!
//! This is healthmon's most expensive step: its cost grows with the number
//! of processes, so it reads as little as it can.
//!
//! - Each process's `stat` file is opened once and kept open: later
//!   samples re-read it with one `pread`. Opening it again each time cost
//!   a path walk and two more syscalls per process, about a third of a
//!   sample's CPU when measured. A descriptor keeps pointing at its
//!   process, so once the process exits the read fails (`ESRCH`) and the
//!   descriptor is dropped, even if the pid was reused meanwhile. The
//!   kernel keeps a page of buffer per open `stat` file, so the number
//!   kept is capped ([`MAX_KEPT`]); processes beyond it are read with
//!   open/read/close.
//! - `/proc` lists pids in ascending order, so this sample's processes and
//!   the previous sample's (with their CPU ticks and descriptors) are
//!   matched by a merge of two sorted lists: no hashing, no rebuilt map.
//! - Names go into one reused string; the costlier `status` (for the user)
//!   and `cmdline` are read only for the processes a record names, and
//!   cached while they keep being named: the top of the list rarely
//!   changes between samples.

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::time::Instant;

use nix::dir::Dir;
use nix::fcntl::{OFlag, openat};
use nix::sys::stat::Mode;
use nix::unistd::{Uid, User};
use secops_common::text::clip;
use secops_common::{Context, Error};

/// Command lines are for reading; a few hundred bytes say which service it is.
const MAX_CMDLINE: usize = 512;

/// The most `stat` descriptors kept open between samples; never more
/// than half the descriptor limit, so the rest of the process (and a
/// mount table re-read) always has room.
const MAX_KEPT: usize = 4096;

/// One process as seen in the latest scan.
#[derive(Debug, Clone, PartialEq)]
pub struct Proc {
    pub pid: u32,
    /// Start time in clock ticks since boot: with the pid, it tells a
    /// process from a later one that reused its pid.
    pub start: u64,
    name: Range<usize>,
    /// `R`, `S`, `D`, `Z`, `T`, `I`, ... as `ps` shows.
    pub state: char,
    /// Percent of one core since the previous scan (above 100 for a
    /// process busy on several cores), as top and psutil report it; `None`
    /// on the first scan.
    pub cpu_percent: Option<f64>,
    pub rss_bytes: u64,
    pub threads: u64,
}

/// Counts over all processes of the latest scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessCounts {
    pub processes: u64,
    pub threads: u64,
    /// Processes in each state, indexed by the state letter.
    pub states: [u64; 128],
}

impl Default for ProcessCounts {
    fn default() -> ProcessCounts {
        ProcessCounts {
            processes: 0,
            threads: 0,
            states: [0; 128],
        }
    }
}

impl ProcessCounts {
    /// Processes in `state` (`Z` for zombies).
    pub fn in_state(&self, state: u8) -> u64 {
        self.states[usize::from(state & 0x7f)]
    }

    /// `(state, count)` for the states seen, in letter order.
    pub fn by_state(&self) -> impl Iterator<Item = (char, u64)> + '_ {
        self.states
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .map(|(c, n)| (c as u8 as char, *n))
    }
}

/// A process as a record shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessInfo {
    pub pid: u32,
    pub start: u64,
    pub name: String,
    /// Effective user, as `ps` shows it; `None` if the process is gone.
    pub user: Option<String>,
    /// Arguments joined by spaces; `None` for kernel threads.
    pub cmdline: Option<String>,
    pub state: char,
    pub cpu_percent: Option<f64>,
    pub rss_bytes: u64,
    pub threads: u64,
}

/// What the top-N lists are ordered by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rank {
    Cpu,
    Memory,
}

impl Rank {
    pub fn as_str(self) -> &'static str {
        match self {
            Rank::Cpu => "cpu",
            Rank::Memory => "memory",
        }
    }
}

/// A process of the previous scan.
#[derive(Debug)]
struct Tracked {
    pid: u32,
    start: u64,
    /// utime + stime at that scan.
    ticks: u64,
    stat: Option<File>,
}

#[derive(Debug, Clone)]
struct Details {
    uid: Option<u32>,
    cmdline: Option<String>,
    /// The scan that last named this process, for pruning.
    named_in: u64,
}

pub struct ProcessScanner {
    proc_dir: Dir,
    ticks_per_sec: f64,
    page_size: u64,
    pids: Vec<u32>,
    path: Vec<u8>,
    buf: Vec<u8>,
    names: String,
    procs: Vec<Proc>,
    counts: ProcessCounts,
    /// The previous scan's processes by ascending pid, and this scan's.
    tracked: Vec<Tracked>,
    next: Vec<Tracked>,
    max_kept: usize,
    last_scan: Option<Instant>,
    scans: u64,
    details: HashMap<(u32, u64), Details>,
    users: HashMap<u32, String>,
    order: Vec<usize>,
}

impl ProcessScanner {
    pub fn new() -> Result<ProcessScanner, Error> {
        let proc_dir = Dir::open("/proc", OFlag::O_RDONLY | OFlag::O_DIRECTORY, Mode::empty())
            .context(|| "cannot open /proc".into())?;
        Ok(ProcessScanner {
            proc_dir,
            ticks_per_sec: procfs::ticks_per_second() as f64,
            page_size: procfs::page_size(),
            pids: Vec::new(),
            path: Vec::with_capacity(32),
            buf: vec![0; 1024],
            names: String::new(),
            procs: Vec::new(),
            counts: ProcessCounts::default(),
            tracked: Vec::new(),
            next: Vec::new(),
            max_kept: descriptor_budget(),
            last_scan: None,
            scans: 0,
            details: HashMap::new(),
            users: HashMap::new(),
            order: Vec::new(),
        })
    }

    /// Reads every process. CPU percentages cover the time since the
    /// previous scan.
    pub fn scan(&mut self) -> Result<(), Error> {
        let now = Instant::now();
        let elapsed = self.last_scan.map(|t| (now - t).as_secs_f64());
        self.last_scan = Some(now);
        self.scans += 1;

        self.pids.clear();
        // Dropping the iterator rewinds the directory for the next scan.
        for entry in self.proc_dir.iter() {
            let entry = entry.context(|| "cannot list /proc".into())?;
            if let Some(pid) = parse_u64(entry.file_name().to_bytes()) {
                self.pids.push(pid as u32);
            }
        }

        // Normally a no-op: /proc already lists pids in ascending order.
        self.pids.sort_unstable();

        self.procs.clear();
        self.names.clear();
        self.counts = ProcessCounts::default();
        let mut previous = std::mem::take(&mut self.tracked);
        let mut next = std::mem::take(&mut self.next);
        next.clear();
        let mut kept = 0;
        let mut prev = previous.drain(..).peekable();
        for i in 0..self.pids.len() {
            let pid = self.pids[i];
            // Processes that exited since the last scan drop out here,
            // closing their descriptors.
            while prev.next_if(|t| t.pid < pid).is_some() {}
            let mut before = prev.next_if(|t| t.pid == pid);
            let kept_stat = before.as_mut().and_then(|t| t.stat.take());
            // A process that exited since the listing is simply not there.
            let Some((len, file)) = self.read_stat(pid, kept_stat) else {
                continue;
            };
            let Some(stat) = parse_stat(&self.buf[..len]) else {
                continue;
            };
            let start = self.names.len();
            self.names.push_str(&String::from_utf8_lossy(stat.name));
            let ticks = stat.utime + stat.stime;
            let cpu_percent = elapsed.filter(|e| *e > 0.0).map(|elapsed| {
                let before = match &before {
                    Some(t) if t.start == stat.start => t.ticks,
                    // New since the last scan (or a reused pid): all its
                    // CPU time was spent since then.
                    _ => 0,
                };
                ticks.saturating_sub(before) as f64 * 100.0 / (elapsed * self.ticks_per_sec)
            });
            let file = file.filter(|_| kept < self.max_kept);
            kept += usize::from(file.is_some());
            next.push(Tracked {
                pid,
                start: stat.start,
                ticks,
                stat: file,
            });
            self.counts.processes += 1;
            self.counts.threads += stat.threads;
            self.counts.states[usize::from(stat.state & 0x7f)] += 1;
            self.procs.push(Proc {
                pid,
                start: stat.start,
                name: start..self.names.len(),
                state: char::from(stat.state),
                cpu_percent,
                rss_bytes: stat.rss_pages * self.page_size,
                threads: stat.threads,
            });
        }
        drop(prev);
        self.tracked = next;
        self.next = previous;
        self.details.retain(|_, d| d.named_in + 1 >= self.scans);
        Ok(())
    }

    pub fn counts(&self) -> &ProcessCounts {
        &self.counts
    }

    /// The `n` processes using the most CPU or memory, highest first.
    pub fn top(&mut self, n: usize, rank: Rank) -> Vec<ProcessInfo> {
        let key = |p: &Proc| match rank {
            Rank::Cpu => (p.cpu_percent.unwrap_or(-1.0), p.rss_bytes as f64),
            Rank::Memory => (p.rss_bytes as f64, p.cpu_percent.unwrap_or(-1.0)),
        };
        let mut order = std::mem::take(&mut self.order);
        order.clear();
        order.extend(0..self.procs.len());
        let higher = |a: &usize, b: &usize| {
            let (pa, pb) = (&self.procs[*a], &self.procs[*b]);
            key(pb)
                .partial_cmp(&key(pa))
                .unwrap()
                .then(pa.pid.cmp(&pb.pid))
        };
        let n = n.min(order.len());
        if n > 0 && n < order.len() {
            order.select_nth_unstable_by(n - 1, higher);
        }
        order.truncate(n);
        order.sort_unstable_by(higher);
        let top = order.iter().map(|&i| self.describe(i)).collect();
        self.order = order;
        top
    }

    /// Processes matching `pick`, described for records.
    pub fn select(&mut self, pick: impl Fn(&Proc) -> bool) -> Vec<ProcessInfo> {
        (0..self.procs.len())
            .filter(|&i| pick(&self.procs[i]))
            .collect::<Vec<_>>()
            .into_iter()
            .map(|i| self.describe(i))
            .collect()
    }

    fn describe(&mut self, i: usize) -> ProcessInfo {
        let p = self.procs[i].clone();
        let key = (p.pid, p.start);
        let details = match self.details.get_mut(&key) {
            Some(details) => details.clone(),
            None => {
                let details = Details {
                    uid: self.read_uid(p.pid),
                    cmdline: self.read_cmdline(p.pid),
                    named_in: 0,
                };
                self.details.insert(key, details.clone());
                details
            }
        };
        if let Some(cached) = self.details.get_mut(&key) {
            cached.named_in = self.scans;
        }
        ProcessInfo {
            pid: p.pid,
            start: p.start,
            name: self.names[p.name].to_string(),
            user: details.uid.map(|uid| self.user_name(uid)),
            cmdline: details.cmdline,
            state: p.state,
            cpu_percent: p.cpu_percent,
            rss_bytes: p.rss_bytes,
            threads: p.threads,
        }
    }

    fn user_name(&mut self, uid: u32) -> String {
        self.users
            .entry(uid)
            .or_insert_with(|| match User::from_uid(Uid::from_raw(uid)) {
                Ok(Some(user)) => user.name,
                _ => uid.to_string(),
            })
            .clone()
    }

    /// Reads a process's `stat` into the buffer through its kept
    /// descriptor, or a new one if it has none or the kept one no longer
    /// reads (its process exited); returns the descriptor to keep.
    fn read_stat(&mut self, pid: u32, kept: Option<File>) -> Option<(usize, Option<File>)> {
        if let Some(file) = kept {
            match read_whole(&file, &mut self.buf) {
                Ok(len) if len > 0 => return Some((len, Some(file))),
                _ => {}
            }
        }
        let file = self.open_proc_file(pid, b"stat").ok()?;
        let len = read_whole(&file, &mut self.buf).ok()?;
        Some((len, Some(file)))
    }

    /// The effective uid from `status`, as `ps` shows it.
    fn read_uid(&mut self, pid: u32) -> Option<u32> {
        let len = self.read_proc_file(pid, b"status").ok()?;
        let text = std::str::from_utf8(&self.buf[..len]).ok()?;
        let line = text.lines().find_map(|l| l.strip_prefix("Uid:"))?;
        line.split_ascii_whitespace().nth(1)?.parse().ok()
    }

    fn read_cmdline(&mut self, pid: u32) -> Option<String> {
        let len = self.read_proc_file(pid, b"cmdline").ok()?;
        let raw = self.buf[..len]
            .strip_suffix(b"\0")
            .unwrap_or(&self.buf[..len]);
        if raw.is_empty() {
            return None;
        }
        let mut cmdline: String = String::from_utf8_lossy(raw).replace('\0', " ");
        clip(&mut cmdline, MAX_CMDLINE);
        Some(cmdline)
    }

    /// Reads `/proc/PID/FILE` into the reused buffer.
    fn read_proc_file(&mut self, pid: u32, file: &[u8]) -> io::Result<usize> {
        let file = self.open_proc_file(pid, file)?;
        read_whole(&file, &mut self.buf)
    }

    fn open_proc_file(&mut self, pid: u32, file: &[u8]) -> io::Result<File> {
        use std::io::Write as _;
        self.path.clear();
        write!(self.path, "{pid}/")?;
        self.path.extend_from_slice(file);
        let fd = openat(
            &self.proc_dir,
            &self.path[..],
            OFlag::O_RDONLY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )?;
        Ok(File::from(fd))
    }
}

/// Reads a whole `/proc` file from offset 0 into `buf`, growing it if
/// needed.
fn read_whole(file: &File, buf: &mut Vec<u8>) -> io::Result<usize> {
    let mut len = 0;
    loop {
        if len == buf.len() {
            buf.resize(buf.len() * 2, 0);
        }
        let n = file.read_at(&mut buf[len..], len as u64)?;
        len += n;
        // The kernel hands `stat` over in one read; stopping at its
        // newline saves the read that would return nothing.
        if n == 0 || (len < buf.len() && buf[len - 1] == b'\n') {
            return Ok(len);
        }
    }
}

/// How many `stat` descriptors to keep: up to [`MAX_KEPT`], raising the
/// soft descriptor limit toward the hard one if needed (as Go programs
/// such as node_exporter do at start), and never more than half of it.
fn descriptor_budget() -> usize {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else {
        return 0;
    };
    let wanted = (2 * MAX_KEPT as u64).min(hard);
    let soft = if soft < wanted && setrlimit(Resource::RLIMIT_NOFILE, wanted, hard).is_ok() {
        wanted
    } else {
        soft
    };
    (soft / 2).min(MAX_KEPT as u64) as usize
}

/// The fields of `/proc/PID/stat` healthmon uses.
#[derive(Debug, PartialEq)]
struct Stat<'a> {
    name: &'a [u8],
    state: u8,
    utime: u64,
    stime: u64,
    threads: u64,
    start: u64,
    rss_pages: u64,
}

/// The name sits in parentheses and may itself contain spaces and
/// parentheses, so the fields are counted from the last `)`.
fn parse_stat(line: &[u8]) -> Option<Stat<'_>> {
    let open = line.iter().position(|&b| b == b'(')?;
    let close = line.iter().rposition(|&b| b == b')')?;
    let mut fields = line.get(close + 2..)?.split(|&b| b == b' ');
    let state = *fields.next()?.first()?;
    // Counted from field 4 (ppid): utime is field 14, rss field 24.
    let mut rest = fields.skip(10);
    let utime = parse_u64(rest.next()?)?;
    let stime = parse_u64(rest.next()?)?;
    let mut rest = rest.skip(4);
    let threads = parse_u64(rest.next()?)?;
    let mut rest = rest.skip(1);
    let start = parse_u64(rest.next()?)?;
    let mut rest = rest.skip(1);
    let rss_pages = parse_u64(rest.next()?).unwrap_or(0);
    Some(Stat {
        name: &line[open + 1..close],
        state,
        utime,
        stime,
        threads,
        start,
        rss_pages,
    })
}

fn parse_u64(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || digits.len() > 19 {
        return None;
    }
    digits.iter().try_fold(0u64, |n, &b| {
        b.is_ascii_digit().then(|| n * 10 + u64::from(b - b'0'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_awkward_names() {
        let line = b"4242 (my (odd) name) S 1 4242 4242 0 -1 4194560 500 0 0 0 \
                     120 30 0 0 20 0 3 0 98765 1234567 890 18446744073709551615\n";
        assert_eq!(
            parse_stat(line),
            Some(Stat {
                name: b"my (odd) name",
                state: b'S',
                utime: 120,
                stime: 30,
                threads: 3,
                start: 98765,
                rss_pages: 890,
            })
        );
        assert_eq!(parse_stat(b"1 (x) S 1 2\n"), None);
        assert_eq!(parse_u64(b"12a"), None);
    }

    #[test]
    fn sees_this_process_and_ranks_its_busy_thread() {
        let mut scanner = ProcessScanner::new().unwrap();
        scanner.scan().unwrap();
        let me = std::process::id();
        let mine = |s: &mut ProcessScanner| s.select(|p| p.pid == me).pop();
        assert_eq!(
            mine(&mut scanner).unwrap().cpu_percent,
            None,
            "no baseline yet"
        );
        let started = Instant::now();
        let spin = std::thread::spawn(move || {
            let mut x = 0u64;
            while started.elapsed().as_millis() < 300 {
                x = std::hint::black_box(x.wrapping_add(1));
            }
        });
        spin.join().unwrap();
        scanner.scan().unwrap();
        let p = mine(&mut scanner).unwrap();
        assert!(p.cpu_percent.unwrap() > 10.0, "{p:?}");
        assert!(p.rss_bytes > 1 << 20 && p.threads >= 1, "{p:?}");
        let counts = *scanner.counts();
        assert!(counts.processes >= 1 && counts.threads >= counts.processes);
        assert_eq!(
            counts.by_state().map(|(_, n)| n).sum::<u64>(),
            counts.processes
        );

        let by_rss = scanner.top(3, Rank::Memory);
        assert!(by_rss.len() <= 3 && !by_rss.is_empty());
        assert!(by_rss.windows(2).all(|w| w[0].rss_bytes >= w[1].rss_bytes));
        let info = scanner.select(|p| p.pid == me).pop().unwrap();
        let uid = nix::unistd::geteuid().as_raw();
        let expected = User::from_uid(Uid::from_raw(uid))
            .unwrap()
            .map_or(uid.to_string(), |u| u.name);
        assert_eq!(info.user.as_deref(), Some(expected.as_str()));
        let exe = std::env::current_exe().unwrap();
        assert!(
            info.cmdline
                .as_deref()
                .unwrap()
                .starts_with(exe.to_str().unwrap()),
            "{info:?}"
        );
    }
}
