//! Finding log files and reading their lines: plain or gzip, rotated sets
//! oldest first, stdin, and every kind of bad input counted, never fatal.
//!
//! Lines are streamed through a fixed buffer: a 10 MB line costs at most
//! [`MAX_LINE`] bytes of memory, the rest of it is skipped and counted.

use std::cmp::Reverse;
use std::collections::HashSet;
use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;
use globset::{Glob, GlobMatcher};
use secops_common::{Context, Error};

/// Longest line kept; templates come from the first this many bytes.
pub const MAX_LINE: usize = 64 * 1024;

/// Where lines come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Stdin,
    File(PathBuf),
}

impl Source {
    pub fn name(&self) -> String {
        match self {
            Source::Stdin => "-".to_string(),
            Source::File(path) => path.display().to_string(),
        }
    }

    /// The name of the source a detector judges this input as: a rotated
    /// set (`app.log.2.gz`, `app.log.1`, `app.log`) is one source,
    /// `app.log`.
    pub fn stream(&self) -> String {
        match self {
            Source::Stdin => "-".to_string(),
            Source::File(path) => {
                let (dir, base, _) = rotation_key(path);
                dir.join(base).display().to_string()
            }
        }
    }
}

/// What was read, and what was wrong with it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IngestStats {
    pub files: u64,
    pub lines: u64,
    pub bytes: u64,
    /// Lines not valid UTF-8 (mined after lossy conversion).
    pub non_utf8: u64,
    /// Lines longer than [`MAX_LINE`] (mined from their start).
    pub huge: u64,
    /// Lines that look like binary data (NUL or mostly control bytes),
    /// skipped.
    pub binary: u64,
    pub blank: u64,
    pub empty_files: u64,
    /// Files that start like binary data (wtmp, lastlog, journal files,
    /// xz archives), skipped whole.
    pub binary_files: u64,
    pub unreadable: u64,
}

impl IngestStats {
    /// Adds counts from another reader (a reading thread).
    pub fn add(&mut self, other: &IngestStats) {
        let IngestStats {
            files,
            lines,
            bytes,
            non_utf8,
            huge,
            binary,
            blank,
            empty_files,
            binary_files,
            unreadable,
        } = other;
        self.files += files;
        self.lines += lines;
        self.bytes += bytes;
        self.non_utf8 += non_utf8;
        self.huge += huge;
        self.binary += binary;
        self.blank += blank;
        self.empty_files += empty_files;
        self.binary_files += binary_files;
        self.unreadable += unreadable;
    }
}

/// The files to read: `--log` files as given, then each `--log-dir`
/// walked recursively (names matching `glob`, if any), rotated sets in time
/// order: `app.log.2.gz`, `app.log.1`, `app.log`.
pub fn sources(
    logs: &[PathBuf],
    dirs: &[PathBuf],
    glob: Option<&str>,
) -> Result<Vec<Source>, Error> {
    let matcher = glob
        .map(|g| {
            Glob::new(g)
                .map(|g| g.compile_matcher())
                .map_err(|err| Error::bad_input(format!("--glob {g:?}: {err}")))
        })
        .transpose()?;
    let mut out: Vec<Source> = logs
        .iter()
        .map(|p| {
            if p.as_os_str() == "-" {
                Source::Stdin
            } else {
                Source::File(p.clone())
            }
        })
        .collect();
    // `anomalizer /var/log/syslog*` lists `syslog`, `syslog.1`,
    // `syslog.2.gz`: read a rotated set oldest first whatever the order
    // given (stdin first, then the files by directory and name).
    out.sort_by_cached_key(|s| match s {
        Source::Stdin => None,
        Source::File(p) => Some(rotation_key(p)),
    });
    for dir in dirs {
        // A directory that is not there is a mistake in the command (exit
        // 2); one that is there but cannot be read is a failed run (3).
        if let Err(err) = std::fs::metadata(dir)
            && err.kind() == io::ErrorKind::NotFound
        {
            return Err(Error::bad_input(format!(
                "--log-dir {}: no such directory",
                dir.display()
            )));
        }
        let mut found = Vec::new();
        walk(dir, matcher.as_ref(), &mut found)
            .context(|| format!("cannot read {}", dir.display()))?;
        found.sort_by_cached_key(|p| rotation_key(p));
        out.extend(found.into_iter().map(Source::File));
    }
    if logs.is_empty() && dirs.is_empty() {
        out.push(Source::Stdin);
    }
    Ok(out)
}

/// The files under `dir` that `glob` matches. A symlink to a file is read
/// (a log directory often links `current` to the newest file), once: a
/// file reached twice (a link beside its target) is read once. A symlink
/// to a directory is not followed (it may loop), and said so; a dangling
/// one is warned about.
fn walk(dir: &Path, glob: Option<&GlobMatcher>, found: &mut Vec<PathBuf>) -> io::Result<()> {
    let mut seen = HashSet::new();
    walk_into(dir, glob, found, &mut seen)
}

fn walk_into(
    dir: &Path,
    glob: Option<&GlobMatcher>,
    found: &mut Vec<PathBuf>,
    seen: &mut HashSet<(u64, u64)>,
) -> io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let mut kind = entry.file_type()?;
        if kind.is_symlink() {
            match std::fs::metadata(&path) {
                Ok(target) if target.is_dir() => {
                    secops_common::info!(
                        "not following {}: a link to a directory (give it with --log-dir to read it)",
                        path.display()
                    );
                    continue;
                }
                Ok(target) => kind = target.file_type(),
                Err(err) => {
                    secops_common::warn!("skipping {}: a link to nothing: {err}", path.display());
                    continue;
                }
            }
        }
        if kind.is_dir() {
            if let Err(err) = walk_into(&path, glob, found, seen) {
                secops_common::warn!("skipping {}: {err}", path.display());
            }
        } else if kind.is_file() && glob.is_none_or(|g| g.is_match(entry.file_name())) {
            let Ok(meta) = std::fs::metadata(&path) else {
                // Gone since it was listed: reading it will say so.
                found.push(path);
                continue;
            };
            if seen.insert((meta.dev(), meta.ino())) {
                found.push(path);
            } else {
                secops_common::info!("{} is a file already read: read once", path.display());
            }
        }
    }
    Ok(())
}

/// Sorts a rotated set together and oldest first: the directory and base
/// name (`app.log`), then the rotation number, highest (oldest) first.
fn rotation_key(path: &Path) -> (PathBuf, String, Reverse<u32>) {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let name = name.strip_suffix(".gz").unwrap_or(&name);
    let (base, n) = match name.rsplit_once('.') {
        Some((base, n)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => {
            (base.to_string(), n.parse().unwrap_or(u32::MAX))
        }
        _ => (name.to_string(), 0),
    };
    (
        path.parent().map(Path::to_path_buf).unwrap_or_default(),
        base,
        Reverse(n),
    )
}

/// Calls `line(number, text)` for each line of `source` (1-based numbers,
/// CR/LF stripped, invalid UTF-8 replaced); binary and blank lines are
/// counted and skipped. An unreadable file is warned about and counted.
pub fn read(source: &Source, stats: &mut IngestStats, mut line: impl FnMut(u64, &str)) {
    let reader: io::Result<Box<dyn BufRead>> = match source {
        Source::Stdin => Ok(Box::new(io::stdin().lock())),
        Source::File(path) => open(path),
    };
    let result = reader.and_then(|mut reader| {
        stats.files += 1;
        let head = reader.fill_buf()?;
        if looks_binary_file(&head[..head.len().min(4096)]) {
            stats.binary_files += 1;
            secops_common::info!("skipping {}: binary data", source.name());
            return Ok(());
        }
        let mut buf = Vec::with_capacity(4096);
        let mut number = 0;
        loop {
            let (read, truncated) = next_line(&mut reader, &mut buf)?;
            if read == 0 {
                break;
            }
            number += 1;
            stats.lines += 1;
            stats.bytes += read;
            stats.huge += u64::from(truncated);
            while matches!(buf.last(), Some(b'\n' | b'\r')) {
                buf.pop();
            }
            if buf.iter().all(u8::is_ascii_whitespace) {
                stats.blank += 1;
            } else if looks_binary(&buf) {
                stats.binary += 1;
            } else {
                match std::str::from_utf8(&buf) {
                    Ok(text) => line(number, text),
                    Err(_) => {
                        stats.non_utf8 += 1;
                        line(number, &String::from_utf8_lossy(&buf));
                    }
                }
            }
        }
        if number == 0 {
            stats.empty_files += 1;
        }
        Ok(())
    });
    if let Err(err) = result {
        stats.unreadable += 1;
        secops_common::warn!("cannot read {}: {err}", source.name());
    }
}

/// A file, decompressed when it starts with the gzip magic (whatever its
/// name says).
fn open(path: &Path) -> io::Result<Box<dyn BufRead>> {
    let mut reader = BufReader::with_capacity(1 << 16, File::open(path)?);
    if reader.fill_buf()?.starts_with(&[0x1f, 0x8b]) {
        Ok(Box::new(BufReader::with_capacity(
            1 << 16,
            MultiGzDecoder::new(reader),
        )))
    } else {
        Ok(Box::new(reader))
    }
}

/// Reads one line into `buf` keeping at most [`MAX_LINE`] bytes; returns
/// the bytes consumed and whether the line was cut.
fn next_line(reader: &mut dyn BufRead, buf: &mut Vec<u8>) -> io::Result<(u64, bool)> {
    buf.clear();
    let mut consumed = 0u64;
    let mut truncated = false;
    loop {
        let chunk = match reader.fill_buf() {
            Ok(chunk) => chunk,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        };
        if chunk.is_empty() {
            return Ok((consumed, truncated));
        }
        let (take, done) = match memchr::memchr(b'\n', chunk) {
            Some(i) => (i + 1, true),
            None => (chunk.len(), false),
        };
        let room = MAX_LINE.saturating_sub(buf.len());
        if take > room {
            truncated = true;
        }
        buf.extend_from_slice(&chunk[..take.min(room)]);
        reader.consume(take);
        consumed += take as u64;
        if done {
            return Ok((consumed, truncated));
        }
    }
}

/// NUL bytes, or more than a tenth control characters other than tab.
fn looks_binary(line: &[u8]) -> bool {
    // Nearly every line has no control byte at all: settle that in one
    // branch-free pass, which the compiler vectorises.
    let any_control = line.iter().fold(0u8, |any, &b| {
        any | u8::from(b < 0x20 && b != b'\t') | u8::from(b == 0x7f)
    });
    if any_control == 0 {
        return false;
    }
    let control = line
        .iter()
        .filter(|&&b| b < 0x20 && b != b'\t' || b == 0x7f)
        .count();
    line.contains(&0) || control * 10 > line.len()
}

/// A file whose first block is more than a tenth control bytes (NUL
/// included; tab, CR and LF are text): a sparse lastlog or a journal file
/// would otherwise be read to the end, line by useless line.
fn looks_binary_file(head: &[u8]) -> bool {
    let control = head
        .iter()
        .filter(|&&b| b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r') || b == 0x7f)
        .count();
    control * 10 > head.len()
}

/// Reads everything from a reader into lines; for tests of the line rules.
#[cfg(test)]
fn lines_of(data: impl io::Read) -> (Vec<String>, IngestStats) {
    let mut reader = BufReader::new(data);
    let mut stats = IngestStats::default();
    let mut out = Vec::new();
    let mut buf = Vec::new();
    while let Ok((n, cut)) = next_line(&mut reader, &mut buf) {
        if n == 0 {
            break;
        }
        stats.huge += u64::from(cut);
        out.push(String::from_utf8_lossy(&buf).trim_end().to_string());
    }
    (out, stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotated_logs_come_oldest_first() {
        let mut paths: Vec<PathBuf> = ["d/app.log", "d/app.log.1", "d/app.log.2.gz", "d/b.log"]
            .iter()
            .map(PathBuf::from)
            .collect();
        paths.sort_by_cached_key(|p| rotation_key(p));
        let names: Vec<_> = paths.iter().map(|p| p.to_string_lossy()).collect();
        assert_eq!(
            names,
            ["d/app.log.2.gz", "d/app.log.1", "d/app.log", "d/b.log"]
        );
    }

    #[test]
    fn files_given_by_name_are_read_oldest_first_too() {
        let given: Vec<PathBuf> = ["d/syslog", "d/syslog.1", "-", "d/syslog.2.gz"]
            .iter()
            .map(PathBuf::from)
            .collect();
        let names: Vec<String> = sources(&given, &[], None)
            .unwrap()
            .iter()
            .map(Source::name)
            .collect();
        assert_eq!(names, ["-", "d/syslog.2.gz", "d/syslog.1", "d/syslog"]);
    }

    #[test]
    fn huge_lines_are_cut_not_buffered() {
        let mut data = vec![b'x'; 3 * MAX_LINE];
        data.extend_from_slice(b"\nnext\r\n");
        let (lines, stats) = lines_of(&data[..]);
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].len(), MAX_LINE);
        assert_eq!(lines[1], "next");
        assert_eq!(stats.huge, 1);
    }

    #[test]
    fn binary_is_recognised() {
        assert!(looks_binary(b"\x00\x01ELF"));
        assert!(looks_binary(b"\x01\x02\x03\x04abc"));
        assert!(!looks_binary(b"plain\ttext"));
        assert!(looks_binary_file(&[0u8; 4096]));
        assert!(!looks_binary_file(
            b"line 1\r\nline 2\n\x00\x01 one bad line\n"
        ));
    }
}
