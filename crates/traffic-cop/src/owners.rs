//! Which processes hold which sockets: the only way Linux offers is to read
//! every `/proc/PID/fd/N` link and look for `socket:[INODE]`, the same walk
//! `ss -p` and `lsof` make. It dominates the run time, so it is done lean:
//! each process's `fd` directory is opened once and its links read relative
//! to it (`readlinkat`, no path walk through /proc per descriptor), only
//! inodes we were asked about are kept, and the processes are split across
//! the cores. Holders' details are read by the thread that finds them.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use nix::dir::Dir;
use nix::errno::Errno;
use nix::fcntl::{OFlag, readlinkat};
use nix::sys::stat::Mode;

use crate::process::{ProcessInfo, read_process};

/// The holders of the sockets asked about.
#[derive(Debug, Default)]
pub struct Owners {
    /// Socket inode to the pids holding it, lowest first.
    pub holders: HashMap<u64, Vec<u32>>,
    /// Every holder, read by the thread that found it while its /proc
    /// entry was fresh in the kernel's caches.
    pub processes: HashMap<u32, Arc<ProcessInfo>>,
    /// Processes whose descriptors we may not read (another user's, without
    /// root): their sockets show up without an owner.
    pub hidden: u32,
}

/// Processes per thread below which a second thread is not worth starting.
const PER_THREAD: usize = 64;

/// Finds the holders of `inodes` among all processes, with their details
/// (and resource profiles if `profile`).
pub fn find_owners(inodes: &HashSet<u64>, profile: bool) -> std::io::Result<Owners> {
    let pids: Vec<u32> = std::fs::read_dir("/proc")?
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(pids.len().div_ceil(PER_THREAD))
        .max(1);
    // Threads take the next pid as they go: processes differ wildly in
    // descriptor count, so fixed chunks leave one core idle.
    let next = AtomicUsize::new(0);
    let take = || pids.get(next.fetch_add(1, Ordering::Relaxed)).copied();
    let parts: Vec<Owners> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| scope.spawn(|| scan(take, inodes, profile)))
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("fd scan thread panicked"))
            .collect()
    });
    let mut owners = Owners::default();
    for part in parts {
        for (inode, pids) in part.holders {
            owners.holders.entry(inode).or_default().extend(pids);
        }
        owners.processes.extend(part.processes);
        owners.hidden += part.hidden;
    }
    for pids in owners.holders.values_mut() {
        pids.sort_unstable();
    }
    Ok(owners)
}

fn scan(mut take: impl FnMut() -> Option<u32>, inodes: &HashSet<u64>, profile: bool) -> Owners {
    let mut owners = Owners::default();
    let mut fds = Vec::new();
    let mut path = String::new();
    while let Some(pid) = take() {
        path.clear();
        let _ = write!(path, "/proc/{pid}/fd");
        let mut dir = match Dir::open(
            path.as_str(),
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        ) {
            Ok(dir) => dir,
            Err(Errno::EACCES | Errno::EPERM) => {
                owners.hidden += 1;
                continue;
            }
            // Gone since we listed /proc: nothing held.
            Err(_) => continue,
        };
        fds.clear();
        fds.extend(
            dir.iter()
                .filter_map(|entry| entry.ok()?.file_name().to_str().ok()?.parse::<u32>().ok()),
        );
        let mut holds = false;
        for &fd in &fds {
            path.clear();
            let _ = write!(path, "{fd}");
            let Ok(target) = readlinkat(&dir, path.as_str()) else {
                continue;
            };
            if let Some(inode) = socket_inode(target.as_encoded_bytes()) {
                if inodes.contains(&inode) {
                    owners.holders.entry(inode).or_default().push(pid);
                    holds = true;
                }
            }
        }
        if holds {
            if let Some(info) = read_process(pid, fds.len() as u32, profile) {
                owners.processes.insert(pid, Arc::new(info));
            }
        }
    }
    owners
}

/// The inode in a `socket:[12345]` link target.
fn socket_inode(target: &[u8]) -> Option<u64> {
    let digits = target.strip_prefix(b"socket:[")?.strip_suffix(b"]")?;
    std::str::from_utf8(digits).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sockets::read_sockets;
    use std::net::TcpListener;

    #[test]
    fn parses_socket_links_only() {
        assert_eq!(socket_inode(b"socket:[48213]"), Some(48213));
        assert_eq!(socket_inode(b"pipe:[48213]"), None);
        assert_eq!(socket_inode(b"/dev/null"), None);
        assert_eq!(socket_inode(b"socket:[]"), None);
    }

    #[test]
    fn finds_this_process_as_holder_of_its_listener() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let socket = read_sockets(false)
            .unwrap()
            .into_iter()
            .find(|s| s.local == addr)
            .unwrap();
        let owners = find_owners(&HashSet::from([socket.inode]), false).unwrap();
        let me = std::process::id();
        assert_eq!(owners.holders[&socket.inode], [me]);
        assert!(owners.processes[&me].fds >= 1);
        assert_eq!(
            owners.holders.len(),
            1,
            "only the inodes asked about are kept"
        );
    }
}
