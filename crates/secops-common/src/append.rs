//! Logs that are appended to (disk-alert's alert log, secops's central
//! log) write each line in one `write(2)` on a file opened `O_APPEND`, so a
//! kill never cuts a line. A full disk can: the write is cut short and the
//! line's start stays. The next writer must then begin on a new line, or
//! the cut line swallows its first line whole.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

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
