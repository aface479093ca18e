//! One pass of looking: which filesystems to check (`--all`, `--mount`, the
//! config file's mounts) and what each one holds.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use secops_common::{Context, Error};

use crate::limits::{Level, Levels, Limits, Measure};
use crate::mounts::{self, Filter, Mount};
use crate::usage::{Prober, Usage, UsageError};

/// What to check.
#[derive(Debug, Clone)]
pub enum Selection {
    /// Every real filesystem, as df lists them, less the filter's.
    All(Filter),
    /// The filesystems holding these paths, in order, each once.
    Paths(Vec<PathBuf>),
}

/// One filesystem looked at.
#[derive(Debug)]
pub struct Checked {
    /// The path given with `--mount`, else the mount point.
    pub path: PathBuf,
    /// The mount holding `path`; `None` when the path itself could not be
    /// resolved (it does not exist, or resolving it hung).
    pub mount: Option<Mount>,
    pub usage: Result<Usage, UsageError>,
}

impl Checked {
    /// The mount point, or the path when the mount is unknown.
    pub fn mountpoint(&self) -> &Path {
        self.mount.as_ref().map_or(&self.path, |m| &m.mountpoint)
    }
}

/// A pass: every filesystem checked, and every mount point present (to
/// tell a mount that was unmounted from one that was merely excluded).
#[derive(Debug)]
pub struct Survey {
    pub checked: Vec<Checked>,
    pub mounted: HashSet<PathBuf>,
}

/// Looks at every selected filesystem, through `prober` so none can hang
/// the pass.
pub fn check(selection: &Selection, prober: &mut Prober) -> Result<Survey, Error> {
    let table = mounts::mount_table().context(|| "cannot read the mount table".into())?;
    let mounted = table.iter().map(|m| m.mountpoint.clone()).collect();
    let checked = match selection {
        Selection::All(filter) => mounts::select(table, filter, prober)
            .into_iter()
            .map(|m| Checked {
                path: m.mount.mountpoint.clone(),
                mount: Some(m.mount),
                usage: m.usage,
            })
            .collect(),
        Selection::Paths(paths) => check_paths(&table, paths, prober),
    };
    Ok(Survey { checked, mounted })
}

fn check_paths(table: &[Mount], paths: &[PathBuf], prober: &mut Prober) -> Vec<Checked> {
    let mut seen = HashSet::new();
    let mut checked = Vec::new();
    for path in paths {
        let real = match prober.canonicalize(path) {
            Ok(real) => real,
            Err(err) => {
                checked.push(Checked {
                    path: path.clone(),
                    mount: None,
                    usage: Err(err),
                });
                continue;
            }
        };
        let mount = mounts::containing(table, &real).cloned();
        // `--mount /var/log --mount /var` on one filesystem is one check.
        if let Some(mount) = &mount {
            if !seen.insert(mount.mountpoint.clone()) {
                continue;
            }
        }
        checked.push(Checked {
            path: path.clone(),
            mount,
            usage: prober.usage(&real),
        });
    }
    checked
}

/// Where one filesystem stands against its levels.
#[derive(Debug, Clone, Copy)]
pub struct Assessment {
    pub space: (Levels, Level),
    /// With `--inodes` only.
    pub inodes: Option<(Levels, Level)>,
}

impl Assessment {
    pub fn of(usage: &Usage, mountpoint: &Path, limits: &Limits, inodes: bool) -> Assessment {
        let space = limits.levels(mountpoint, Measure::Space);
        Assessment {
            space: (space, space.level(usage.percent, usage.avail_bytes)),
            inodes: inodes.then(|| {
                let levels = limits.levels(mountpoint, Measure::Inodes);
                (
                    levels,
                    levels.level(usage.inodes_percent, usage.inodes_free),
                )
            }),
        }
    }

    /// Each measure checked, with its levels and where it stands.
    pub fn measures(&self) -> impl Iterator<Item = (Measure, Levels, Level)> + '_ {
        std::iter::once((Measure::Space, self.space.0, self.space.1)).chain(
            self.inodes
                .map(|(levels, level)| (Measure::Inodes, levels, level)),
        )
    }

    /// The worse of the measures.
    pub fn worst(&self) -> Level {
        self.measures()
            .map(|(_, _, level)| level)
            .max()
            .unwrap_or(Level::Ok)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn paths_resolve_to_their_mount_once_and_missing_paths_are_errors() {
        let mut prober = Prober::new(Duration::from_secs(5));
        let survey = check(
            &Selection::Paths(vec!["/".into(), "/etc".into(), "/no/such/path".into()]),
            &mut prober,
        )
        .unwrap();
        let root = &survey.checked[0];
        assert_eq!(root.mountpoint(), Path::new("/"));
        assert!(root.usage.is_ok());
        // /etc is on / here unless it is a mount of its own.
        let etc_is_a_mount = survey.mounted.contains(Path::new("/etc"));
        assert_eq!(survey.checked.len(), if etc_is_a_mount { 3 } else { 2 });
        let missing = survey.checked.last().unwrap();
        assert!(missing.mount.is_none() && missing.usage.is_err());
        assert_eq!(missing.mountpoint(), Path::new("/no/such/path"));
    }

    #[test]
    fn assessment_checks_inodes_only_when_asked() {
        let usage = Usage {
            size_bytes: 100,
            used_bytes: 85,
            avail_bytes: 15,
            free_bytes: 15,
            percent: Some(85),
            inodes_total: 10,
            inodes_used: 10,
            inodes_free: 0,
            inodes_percent: Some(100),
        };
        let limits = Limits::new(None, None, None).unwrap();
        let plain = Assessment::of(&usage, Path::new("/"), &limits, false);
        assert_eq!(plain.measures().count(), 1);
        assert_eq!(plain.worst(), Level::Warn);
        let both = Assessment::of(&usage, Path::new("/"), &limits, true);
        assert_eq!(both.worst(), Level::Full);
    }
}
