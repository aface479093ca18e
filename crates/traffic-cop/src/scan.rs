//! One pass over the machine: sockets, their holders, and the verdict on
//! each.

use std::collections::HashSet;
use std::sync::Arc;

use secops_common::{Context, Error, Severity};

use crate::owners::find_owners;
use crate::process::ProcessInfo;
use crate::sockets::{Socket, read_sockets};
use crate::users::UserNames;
use crate::whitelist::{Status, Subject, Verdict, Whitelist};

/// A socket with everything we learned about it.
#[derive(Debug, Clone, PartialEq)]
pub struct Port {
    pub socket: Socket,
    pub user: String,
    /// Every process holding the socket, lowest pid first (forked servers
    /// share one listener).
    pub pids: Vec<u32>,
    /// The lowest pid's process: usually the one that bound the socket, and
    /// the one checked against the whitelist.
    pub owner: Option<Arc<ProcessInfo>>,
    pub verdict: Verdict,
    /// Why there is no owner, when there is none.
    pub note: Option<&'static str>,
}

/// What to look at.
#[derive(Debug, Clone, Copy, Default)]
pub struct ScanOptions {
    /// Connected sockets too, not only listeners.
    pub all: bool,
    /// Resource profile of each owner.
    pub profile: bool,
}

/// Scans repeatedly with one user-name cache.
pub struct Scanner {
    options: ScanOptions,
    whitelist: Option<Whitelist>,
    users: UserNames,
    root: bool,
}

/// What one scan found.
pub struct Scan {
    pub ports: Vec<Port>,
    /// Processes whose descriptors could not be read.
    pub hidden_processes: u32,
}

const NOT_VISIBLE: &str = "the owning process is not visible without root";
const NO_HOLDER: &str =
    "no process in this PID namespace holds it (a kernel socket, or another container's)";

impl Scanner {
    pub fn new(options: ScanOptions, whitelist: Option<Whitelist>) -> Scanner {
        Scanner {
            options,
            whitelist,
            users: UserNames::default(),
            root: nix::unistd::geteuid().is_root(),
        }
    }

    pub fn scan(&mut self) -> Result<Scan, Error> {
        let started = std::time::Instant::now();
        let sockets = read_sockets(self.options.all)?;
        // Inode 0 is a socket no longer attached to a file (TIME-WAIT): it
        // has no holder to find.
        let inodes: HashSet<u64> = sockets
            .iter()
            .map(|s| s.inode)
            .filter(|&i| i != 0)
            .collect();
        let mut owners =
            find_owners(&inodes, self.options.profile).context(|| "cannot list /proc".into())?;
        let mut ports = Vec::with_capacity(sockets.len());
        for socket in sockets {
            let pids = owners.holders.remove(&socket.inode).unwrap_or_default();
            let owner = pids
                .first()
                .and_then(|pid| owners.processes.get(pid).cloned());
            let note = match owner {
                Some(_) => None,
                None if !self.root && owners.hidden > 0 => Some(NOT_VISIBLE),
                None => Some(NO_HOLDER),
            };
            let user = self.users.name(socket.uid).to_string();
            let verdict = match (&self.whitelist, socket.is_server()) {
                (Some(whitelist), true) => whitelist.check(&Subject {
                    proto: socket.proto,
                    port: socket.local.port(),
                    scope: socket.scope(),
                    user: &user,
                    process: owner.as_ref().map(|o| o.name.as_str()),
                    exe: owner.as_ref().and_then(|o| o.exe.as_deref()),
                }),
                _ => Verdict {
                    status: Status::Unchecked,
                    severity: Severity::Info,
                    reason: None,
                },
            };
            ports.push(Port {
                socket,
                user,
                pids,
                owner,
                verdict,
                note,
            });
        }
        secops_common::info!(
            "{} sockets held by {} processes, scanned in {:.1?}",
            ports.len(),
            owners.processes.len(),
            started.elapsed()
        );
        Ok(Scan {
            ports,
            hidden_processes: owners.hidden,
        })
    }
}
