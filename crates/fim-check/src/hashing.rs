//! Hashing one regular file without trusting the name to stay put: it is
//! opened relative to its directory with `O_NOFOLLOW | O_NONBLOCK` (a FIFO
//! swapped in after the walk's `lstat` neither blocks the open nor gets
//! read), checked to be the file the walk saw, and stat'ed again after the
//! last byte so a file written meanwhile is reported, not given a torn hash.

use std::ffi::CStr;
use std::fs::File;
use std::io::{ErrorKind, Read};
use std::os::fd::OwnedFd;

use nix::errno::Errno;
use nix::fcntl::{OFlag, openat};
use nix::sys::stat::{FileStat, Mode, fstat};
use sha2::{Digest, Sha256};

use crate::entry::Kind;

/// Large reads amortise syscalls; measured faster than 64 KiB and on par
/// with memory mapping, which would need `unsafe`.
pub const READ_SIZE: usize = 1 << 20;

#[derive(Debug, PartialEq, Eq)]
pub enum HashError {
    /// The file was replaced or written while it was being read.
    Changed,
    Io(Errno),
}

impl From<Errno> for HashError {
    fn from(err: Errno) -> HashError {
        HashError::Io(err)
    }
}

/// The SHA-256 of `name` in `dir`, and its metadata after reading, when it
/// is still the regular file `seen` described throughout. `counted` gets
/// each chunk's length, for progress.
pub fn hash_file(
    dir: &OwnedFd,
    name: &CStr,
    seen: &FileStat,
    buf: &mut [u8],
    mut counted: impl FnMut(u64),
) -> Result<([u8; 32], FileStat), HashError> {
    let flags = OFlag::O_RDONLY
        | OFlag::O_NOFOLLOW
        | OFlag::O_NONBLOCK
        | OFlag::O_CLOEXEC
        | OFlag::O_NOCTTY;
    // O_NOATIME keeps a scan from touching atimes, but only the owner (or
    // root) may ask for it.
    let fd = match openat(dir, name, flags | OFlag::O_NOATIME, Mode::empty()) {
        Err(Errno::EPERM) => openat(dir, name, flags, Mode::empty())?,
        other => other?,
    };
    let before = fstat(&fd)?;
    if Kind::of(&before) != Kind::File
        || before.st_ino != seen.st_ino
        || before.st_dev != seen.st_dev
        || !unchanged(&before, seen)
    {
        return Err(HashError::Changed);
    }
    let mut file = File::from(fd);
    let mut hasher = Sha256::new();
    let mut total = 0u64;
    // A file growing faster than it is read must not keep a hasher busy
    // forever: one byte past the size seen at open proves it changed.
    let limit = before.st_size as u64 + 1;
    while total < limit {
        let want = buf
            .len()
            .min((limit - total).try_into().unwrap_or(usize::MAX));
        match file.read(&mut buf[..want]) {
            Ok(0) => break,
            Ok(n) => {
                hasher.update(&buf[..n]);
                total += n as u64;
                counted(n as u64);
            }
            Err(err) if err.kind() == ErrorKind::Interrupted => continue,
            Err(err) => {
                return Err(HashError::Io(Errno::from_raw(
                    err.raw_os_error().unwrap_or(Errno::EIO as i32),
                )));
            }
        }
    }
    let after = fstat(&file)?;
    if total != after.st_size as u64 || !unchanged(&before, &after) {
        return Err(HashError::Changed);
    }
    Ok((hasher.finalize().into(), after))
}

fn unchanged(a: &FileStat, b: &FileStat) -> bool {
    a.st_size == b.st_size
        && a.st_mtime == b.st_mtime
        && a.st_mtime_nsec == b.st_mtime_nsec
        && a.st_ctime == b.st_ctime
        && a.st_ctime_nsec == b.st_ctime_nsec
}
