//! The HMAC key that seals baselines. It lives in a file only its owner can
//! read (refused otherwise, as ssh refuses a loose private key), created
//! with 32 random bytes on the first `init`. Keeping a copy off the host (or
//! the baseline on read-only media) is what stops an intruder with root from
//! re-sealing a baseline they edited.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use secops_common::{Context, Error};

/// Longest key file read; keys are 32 bytes, operators may bring longer.
const MAX_KEY: u64 = 4096;

pub struct Key {
    pub path: PathBuf,
    pub bytes: Vec<u8>,
}

impl Key {
    /// Reads the key, refusing a file others could read or write.
    pub fn load(path: &Path) -> Result<Key, Error> {
        let mut file = OpenOptions::new()
            .read(true)
            .custom_flags(nix::libc::O_NOFOLLOW)
            .open(path)
            .map_err(|err| {
                Error::bad_input(format!(
                    "cannot read the baseline key {}: {err} (fim-check init creates it)",
                    path.display()
                ))
            })?;
        let meta = file
            .metadata()
            .context(|| format!("cannot stat {}", path.display()))?;
        if meta.mode() & 0o077 != 0 {
            return Err(Error::bad_input(format!(
                "key file {} is accessible by group or others (mode {:04o}); run chmod 600 on it",
                path.display(),
                meta.mode() & 0o7777
            )));
        }
        if meta.uid() != nix::unistd::geteuid().as_raw() {
            return Err(Error::bad_input(format!(
                "key file {} is owned by uid {}, not by this user",
                path.display(),
                meta.uid()
            )));
        }
        let mut bytes = Vec::new();
        (&mut file)
            .take(MAX_KEY)
            .read_to_end(&mut bytes)
            .context(|| format!("cannot read {}", path.display()))?;
        if bytes.len() < 16 {
            return Err(Error::bad_input(format!(
                "key file {} holds {} bytes; a key needs at least 16",
                path.display(),
                bytes.len()
            )));
        }
        Ok(Key {
            path: path.to_path_buf(),
            bytes,
        })
    }

    /// Loads the key, or creates it (mode 0600, 32 random bytes) when
    /// there is none yet.
    pub fn load_or_create(path: &Path) -> Result<Key, Error> {
        let mut bytes = vec![0u8; 32];
        File::open("/dev/urandom")
            .and_then(|mut f| f.read_exact(&mut bytes))
            .context(|| "cannot read /dev/urandom".into())?;
        let created = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path);
        match created {
            Ok(mut file) => {
                file.write_all(&bytes)
                    .and_then(|()| file.sync_all())
                    .map_err(|err| {
                        Error::failed(format!("cannot write {}: {err}", path.display()))
                    })?;
                secops_common::info!("created the baseline key {}", path.display());
                Ok(Key {
                    path: path.to_path_buf(),
                    bytes,
                })
            }
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => Key::load(path),
            Err(err) => Err(Error::failed(format!(
                "cannot create the baseline key {}: {err}",
                path.display()
            ))),
        }
    }
}
