//! Where tools keep state (baselines, dedup, history): `--state-dir`, else
//! `/var/lib/secops` for root and `$XDG_STATE_HOME/secops` (or
//! `~/.local/state/secops`) for everyone else. Created 0700; an existing
//! directory that others could write is refused, as ssh refuses a loose
//! `~/.ssh`, because a planted baseline would hide tampering.

use std::fs::DirBuilder;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::exit::Error;

/// The state directory to use when none is given.
pub fn default_state_dir() -> PathBuf {
    if nix::unistd::geteuid().is_root() {
        return PathBuf::from("/var/lib/secops");
    }
    let base = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".local/state")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("secops")
}

/// The state directory, created if needed and checked for safe permissions.
pub fn state_dir(explicit: Option<&Path>) -> Result<PathBuf, Error> {
    let dir = explicit
        .map(Path::to_path_buf)
        .unwrap_or_else(default_state_dir);
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .map_err(|err| {
            Error::failed(format!(
                "cannot create state directory {}: {err}",
                dir.display()
            ))
        })?;
    let meta = std::fs::metadata(&dir).map_err(|err| {
        Error::failed(format!(
            "cannot read state directory {}: {err}",
            dir.display()
        ))
    })?;
    if meta.uid() != nix::unistd::geteuid().as_raw() {
        return Err(Error::bad_input(format!(
            "state directory {} is owned by uid {}, not by this user",
            dir.display(),
            meta.uid()
        )));
    }
    if meta.permissions().mode() & 0o022 != 0 {
        return Err(Error::bad_input(format!(
            "state directory {} is writable by group or others (mode {:o}); run chmod 700 on it",
            dir.display(),
            meta.permissions().mode() & 0o777
        )));
    }
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::Permissions;

    #[test]
    fn creates_private_and_refuses_loose() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("a/secops");
        assert_eq!(state_dir(Some(&dir)).unwrap(), dir);
        assert_eq!(
            std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
            0o700
        );

        std::fs::set_permissions(&dir, Permissions::from_mode(0o777)).unwrap();
        let err = state_dir(Some(&dir)).unwrap_err();
        assert!(err.message.contains("chmod 700"), "{err}");
    }
}
