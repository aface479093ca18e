//! Connection sharing: ssh's ControlMaster, so a second run (or the many
//! steps of a fleet job) on the same hosts skips the TCP, key exchange and
//! authentication round trips.
//!
//! `--persist DURATION` starts a master per host (`ControlMaster=auto`)
//! that outlives the run until it has been idle for DURATION; later runs
//! find it by the same `ControlPath` and multiplex over it, with or without
//! `--persist`. A run without `--persist` never starts a master
//! (`ControlMaster=no` only joins one that is there), so it leaves no ssh
//! process behind, even when interrupted. `remote-run close` ends masters
//! early.
//!
//! The sockets live in a private 0700 directory: `$XDG_RUNTIME_DIR/secops/ssh`
//! (a per-user tmpfs) when set, else `ssh` in the state directory. Socket
//! names are a short hash of everything that decides where ssh connects,
//! one master per inventory host: sharing one master among aliases of the
//! same address would run into the server's `MaxSessions` (10 by default).

use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};

use secops_common::Error;
use secops_inventory::Server;

/// Unix socket paths are limited to about 104 bytes (108 on Linux, 104 on
/// the BSDs), and ssh binds the master under a 17-byte random suffix
/// before renaming it into place.
const SOCKET_PATH_MAX: usize = 104;
const SSH_TEMP_SUFFIX: usize = 17;
/// Hex digits of the hash in a socket name: 64 bits, ample for a fleet.
const NAME_LEN: usize = 16;

/// Where masters are found, and whether this run starts them.
#[derive(Debug, Clone)]
pub struct Control {
    dir: PathBuf,
    /// `Some` starts masters that linger this long when idle.
    persist: Option<Duration>,
}

/// The control directory for `--state-dir` (or the defaults).
fn control_dir(state_dir: Option<&Path>) -> PathBuf {
    let base = match (state_dir, std::env::var_os("XDG_RUNTIME_DIR")) {
        (Some(dir), _) => dir.to_path_buf(),
        (None, Some(run)) if Path::new(&run).is_absolute() => Path::new(&run).join("secops"),
        _ => secops_common::state::default_state_dir(),
    };
    base.join("ssh")
}

impl Control {
    /// For `--persist` and `close`: the directory is created (0700) and
    /// checked, and must leave room for socket names.
    pub fn create(state_dir: Option<&Path>, persist: Option<Duration>) -> Result<Control, Error> {
        let dir = secops_common::state::state_dir(Some(&control_dir(state_dir)))?;
        let longest = dir.as_os_str().len() + 1 + NAME_LEN + SSH_TEMP_SUFFIX;
        if longest > SOCKET_PATH_MAX {
            return Err(Error::bad_input(format!(
                "control directory {} is too long for ssh's sockets ({longest} of {SOCKET_PATH_MAX} bytes); \
                 give a shorter --state-dir or set XDG_RUNTIME_DIR",
                dir.display()
            )));
        }
        Ok(Control { dir, persist })
    }

    /// For a plain run: join masters a `--persist` run left, if the
    /// directory is there and safe; never creates anything.
    pub fn existing(state_dir: Option<&Path>) -> Option<Control> {
        let dir = control_dir(state_dir);
        if !dir.is_dir() {
            return None;
        }
        match secops_common::state::state_dir(Some(&dir)) {
            Ok(dir) => Some(Control { dir, persist: None }),
            Err(err) => {
                secops_common::warn!("not sharing ssh connections: {err}");
                None
            }
        }
    }

    /// The `-o` options for one host.
    pub fn ssh_options(&self, server: &Server, ssh_config: Option<&Path>) -> Vec<String> {
        let path = self.socket(server, ssh_config);
        // ssh expands %-tokens in ControlPath.
        let path = path.display().to_string().replace('%', "%%");
        let mut options = vec![format!("ControlPath={path}")];
        match self.persist {
            Some(idle) => options.extend([
                "ControlMaster=auto".to_string(),
                format!("ControlPersist={}", idle.as_secs().max(1)),
            ]),
            None => options.push("ControlMaster=no".to_string()),
        }
        options
    }

    /// The socket of `server`'s master: a hash of everything that decides
    /// where and as whom ssh connects, so a changed inventory entry never
    /// reuses a master opened for the old one.
    pub fn socket(&self, server: &Server, ssh_config: Option<&Path>) -> PathBuf {
        let mut hash = Sha256::new();
        let config = ssh_config.map(|p| p.display().to_string());
        let port = server.port.map(|p| p.to_string());
        let identity = server
            .identity_file
            .as_ref()
            .map(|p| p.display().to_string());
        for part in [
            Some(&server.name),
            server.address.as_ref(),
            port.as_ref(),
            server.user.as_ref(),
            identity.as_ref(),
            server.jump.as_ref(),
            config.as_ref(),
        ] {
            hash.update(part.map_or(&b"\x01"[..], |p| p.as_bytes()));
            hash.update(b"\0");
        }
        let hex: String = hash
            .finalize()
            .iter()
            .take(NAME_LEN / 2)
            .map(|b| format!("{b:02x}"))
            .collect();
        self.dir.join(hex)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn control(persist: Option<Duration>) -> Control {
        Control {
            dir: "/run/user/1000/secops/ssh".into(),
            persist,
        }
    }

    #[test]
    fn one_short_socket_per_host_and_config() {
        let web = Server {
            name: "web01".into(),
            ..Server::default()
        };
        let c = control(None);
        let path = c.socket(&web, None);
        assert_eq!(path.file_name().unwrap().len(), NAME_LEN);
        assert_eq!(path, c.socket(&web.clone(), None));
        let other = Server {
            port: std::num::NonZeroU16::new(2222),
            ..web.clone()
        };
        assert_ne!(path, c.socket(&other, None));
        assert_ne!(path, c.socket(&web, Some(Path::new("cfg"))));
    }

    #[test]
    fn persist_starts_masters_and_plain_runs_only_join() {
        let web = Server {
            name: "web01".into(),
            ..Server::default()
        };
        let plain = control(None).ssh_options(&web, None);
        assert!(plain[0].starts_with("ControlPath=/run/user/1000/secops/ssh/"));
        assert_eq!(plain[1], "ControlMaster=no");
        let persist = control(Some(Duration::from_secs(600))).ssh_options(&web, None);
        assert_eq!(persist[1..], ["ControlMaster=auto", "ControlPersist=600"]);
    }

    #[test]
    fn a_control_dir_too_long_for_sockets_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let deep = tmp.path().join("d".repeat(90));
        let err = Control::create(Some(&deep), None).unwrap_err();
        assert!(err.message.contains("too long for ssh's sockets"), "{err}");
        assert!(Control::create(Some(tmp.path()), None).is_ok());
    }
}
