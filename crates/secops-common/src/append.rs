//! Logs that are appended to (disk-alert's alert log, secops's central
//! log) write each line in one `write(2)` on a file opened `O_APPEND`, so a
//! kill never cuts a line. A full disk can: the write is cut short and the
//! line's start stays. The next writer must then begin on a new line, or
//! the cut line swallows its first line whole.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::Path;

/// Opens `path` to append to (`O_APPEND`). A file it creates gets exactly
/// `mode` whatever the umask ([`crate::perms::LOG`] for logs); an existing
/// file keeps its own (logrotate's `create`, an operator's `chmod`).
pub fn open(path: &Path, mode: u32) -> io::Result<File> {
    loop {
        let created = OpenOptions::new()
            .append(true)
            .create_new(true)
            .mode(mode & 0o600)
            .open(path);
        match created {
            Ok(file) => {
                crate::perms::set_exact(&file, mode)?;
                return Ok(file);
            }
            Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {}
            Err(err) => return Err(err),
        }
        match OpenOptions::new().append(true).open(path) {
            // Removed in between (logrotate): create it after all.
            Err(err) if err.kind() == io::ErrorKind::NotFound => continue,
            opened => return opened,
        }
    }
}

/// Whether the file at `path` ends with a line cut short: its last byte is
/// there and is not a newline. A file that cannot be read counts as whole.
pub fn ends_mid_line(path: &Path) -> bool {
    let Ok(file) = File::open(path) else {
        return false;
    };
    let Ok(len) = file.metadata().map(|m| m.len()) else {
        return false;
    };
    let mut last = [0u8];
    len > 0 && file.read_at(&mut last, len - 1).is_ok_and(|n| n == 1) && last[0] != b'\n'
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_new_log_gets_exactly_its_mode_and_an_old_one_keeps_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log");
        let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o7777;
        // 0o666 would lose bits to any umask if given at open alone.
        open(&log, 0o666).unwrap().write_all(b"a\n").unwrap();
        assert_eq!(mode(&log), 0o666);
        std::fs::set_permissions(&log, std::fs::Permissions::from_mode(0o600)).unwrap();
        open(&log, crate::perms::LOG)
            .unwrap()
            .write_all(b"b\n")
            .unwrap();
        assert_eq!(mode(&log), 0o600, "an existing log is not widened");
        assert_eq!(std::fs::read_to_string(&log).unwrap(), "a\nb\n");
    }

    #[test]
    fn only_a_last_line_without_its_newline_is_cut() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("log");
        assert!(!ends_mid_line(&file), "missing");
        std::fs::write(&file, "").unwrap();
        assert!(!ends_mid_line(&file), "empty");
        std::fs::write(&file, "a\nb\n").unwrap();
        assert!(!ends_mid_line(&file));
        std::fs::write(&file, "a\nb").unwrap();
        assert!(ends_mid_line(&file));
    }
}
