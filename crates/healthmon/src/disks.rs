//! Disk usage of every real filesystem, through disk-alert's library: the
//! same mount selection as `df` and the same percentages, with each
//! filesystem call under a timeout so a hung NFS mount cannot stall the
//! sampling loop.
//!
//! Selecting the mounts (reading the mount table, `stat` of every mount
//! point to drop duplicates) is done again only when the mount table
//! changes: the kernel flags `/proc/self/mountinfo` as readable-with-
//! priority (`POLLPRI`) on every mount and unmount, so a zero-timeout
//! `poll` per sample is the whole cost of noticing. In between, a sample
//! is one `statvfs` per selected mount.

use std::fs::File;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use disk_alert::mounts::{Filter, Mount, containing, survey};
use disk_alert::usage::{DEFAULT_TIMEOUT, Prober, Usage};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use secops_common::{Context, Error};

/// One mount's figures, or why they could not be read.
#[derive(Debug)]
pub struct DiskUsage {
    pub mount: Mount,
    pub usage: Result<Usage, String>,
}

pub struct Disks {
    prober: Prober,
    /// `--mount` paths; empty for every real filesystem.
    wanted: Vec<PathBuf>,
    mounts: Vec<Mount>,
    mountinfo: File,
}

impl Disks {
    /// Selects the mounts to watch; a `--mount` path that no real
    /// filesystem holds is a usage error.
    pub fn new(wanted: &[PathBuf]) -> Result<(Disks, Vec<DiskUsage>), Error> {
        let mountinfo = File::open("/proc/self/mountinfo")
            .context(|| "cannot open /proc/self/mountinfo".into())?;
        let mut disks = Disks {
            prober: Prober::new(DEFAULT_TIMEOUT),
            wanted: wanted.to_vec(),
            mounts: Vec::new(),
            mountinfo,
        };
        let first = disks.survey()?;
        for path in wanted {
            if !disks.mounts.iter().any(|m| holds(m, path, &disks.mounts)) {
                return Err(Error::bad_input(format!(
                    "--mount {}: no real filesystem (as df lists them) holds this path",
                    path.display()
                )));
            }
        }
        Ok((disks, first))
    }

    /// The current usage of every watched mount.
    pub fn sample(&mut self) -> Result<Vec<DiskUsage>, Error> {
        if self.table_changed() {
            return self.survey();
        }
        Ok(self
            .mounts
            .iter()
            .map(|mount| DiskUsage {
                mount: mount.clone(),
                usage: self
                    .prober
                    .usage(&mount.mountpoint)
                    .map_err(|err| err.to_string()),
            })
            .collect())
    }

    fn table_changed(&self) -> bool {
        let mut fds = [PollFd::new(self.mountinfo.as_fd(), PollFlags::POLLPRI)];
        // If poll itself fails, re-selecting is the safe answer.
        poll(&mut fds, PollTimeout::ZERO).map_or(true, |ready| {
            ready > 0
                && fds[0]
                    .revents()
                    .is_some_and(|r| r.intersects(PollFlags::POLLPRI | PollFlags::POLLERR))
        })
    }

    fn survey(&mut self) -> Result<Vec<DiskUsage>, Error> {
        let all = survey(&Filter::default(), &mut self.prober)
            .context(|| "cannot read the mount table".into())?;
        let table: Vec<Mount> = all.iter().map(|m| m.mount.clone()).collect();
        let selected: Vec<DiskUsage> = all
            .into_iter()
            .filter(|m| {
                self.wanted.is_empty() || self.wanted.iter().any(|p| holds(&m.mount, p, &table))
            })
            .map(|m| DiskUsage {
                mount: m.mount,
                usage: m.usage.map_err(|err| err.to_string()),
            })
            .collect();
        self.mounts = selected.iter().map(|d| d.mount.clone()).collect();
        Ok(selected)
    }
}

/// True when `mount` is the real filesystem holding `path`.
fn holds(mount: &Mount, path: &Path, table: &[Mount]) -> bool {
    containing(table, path).is_some_and(|m| m.mountpoint == mount.mountpoint)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watches_the_filesystem_holding_a_path() {
        let (mut disks, first) = Disks::new(&[PathBuf::from("/")]).unwrap();
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].mount.mountpoint, Path::new("/"));
        let again = disks.sample().unwrap();
        assert_eq!(again.len(), 1);
        let usage = again[0].usage.as_ref().unwrap();
        assert!(usage.size_bytes > 0 && usage.percent.is_some(), "{usage:?}");
        let err = Disks::new(&[PathBuf::from("relative/path")]).err().unwrap();
        assert_eq!(err.exit, secops_common::Exit::BadInput);
    }
}
