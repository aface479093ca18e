//! Archive names: `NAME-YYYYMMDDTHHMMSSZ[_NN].EXT`, UTC, so `ls` order is
//! time order. Two runs in the same second get `_01`, `_02`...: `_` sorts
//! after `.`, so a suffixed name still sorts after the plain one.
//!
//! Parsing is strict on purpose: prune deletes only files this module
//! recognises as NAME's archives, so `etc-old.tar.gz` or another tool's
//! `etc-2026.tar.gz` are never touched.

use std::path::Path;

use jiff::Timestamp;
use jiff::tz::TimeZone;

use crate::compress::Compression;

/// The suffix of the manifest written beside each archive.
pub const MANIFEST_SUFFIX: &str = ".manifest.json";

/// One archive's name, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveName {
    pub name: String,
    /// Whole seconds, UTC.
    pub time: Timestamp,
    /// 0 for the first archive of that second.
    pub seq: u32,
    pub compression: Compression,
}

impl ArchiveName {
    /// The file name, e.g. `etc-20261121T190200Z.tar.gz`.
    pub fn file_name(&self) -> String {
        let stamp = self.time.to_zoned(TimeZone::UTC).strftime("%Y%m%dT%H%M%SZ");
        let seq = match self.seq {
            0 => String::new(),
            n => format!("_{n:02}"),
        };
        format!("{}-{stamp}{seq}{}", self.name, self.compression.extension())
    }

    /// The manifest's file name.
    pub fn manifest_name(&self) -> String {
        format!("{}{MANIFEST_SUFFIX}", self.file_name())
    }

    /// Parses a file name; `None` unless it is exactly one of ours (for
    /// `name`, when given).
    pub fn parse(file_name: &str, name: Option<&str>) -> Option<ArchiveName> {
        let (stem, compression) = Compression::ALL
            .iter()
            .find_map(|c| Some((file_name.strip_suffix(c.extension())?, *c)))?;
        // NAME may itself contain '-': the timestamp is the last 16 bytes
        // before an optional _NN.
        let (stem, seq) = match stem.rsplit_once('_') {
            Some((rest, digits)) if digits.len() == 2 && all_digits(digits) => {
                (rest, digits.parse().ok()?)
            }
            _ => (stem, 0),
        };
        let split = stem.len().checked_sub(17)?;
        let (prefix, stamp) = (stem.get(..split)?, stem.get(split..)?);
        let stamp = stamp.strip_prefix('-')?;
        let b = stamp.as_bytes();
        let shape_ok = b.len() == 16
            && all_digits(&stamp[..8])
            && b[8] == b'T'
            && all_digits(&stamp[9..15])
            && b[15] == b'Z';
        if !shape_ok || prefix.is_empty() || name.is_some_and(|n| n != prefix) {
            return None;
        }
        let time = jiff::civil::DateTime::strptime("%Y%m%dT%H%M%SZ", stamp)
            .ok()?
            .to_zoned(TimeZone::UTC)
            .ok()?
            .timestamp();
        Some(ArchiveName {
            name: prefix.to_string(),
            time,
            seq,
            compression,
        })
    }

    /// The first name for `time` whose archive and manifest are both free
    /// in `dir`.
    pub fn first_free(
        dir: &Path,
        name: &str,
        time: Timestamp,
        compression: Compression,
    ) -> Option<ArchiveName> {
        let time = Timestamp::from_second(time.as_second()).ok()?;
        (0..100)
            .map(|seq| ArchiveName {
                name: name.to_string(),
                time,
                seq,
                compression,
            })
            .find(|candidate| {
                !dir.join(candidate.file_name()).exists()
                    && !dir.join(candidate.manifest_name()).exists()
            })
    }
}

/// A NAME must make a plain file name that cannot be mistaken for another
/// NAME's archive (no '/', no leading dot, no control characters).
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.+@".contains(c));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "backup name {name:?} must be letters, digits and - _ . + @, not starting with a dot"
        ))
    }
}

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn names_round_trip_and_sort_by_time() {
        let a = ArchiveName {
            name: "web-db".into(),
            time: at("2026-11-21T19:02:00Z"),
            seq: 0,
            compression: Compression::Gzip,
        };
        assert_eq!(a.file_name(), "web-db-20261121T190200Z.tar.gz");
        assert_eq!(
            ArchiveName::parse(&a.file_name(), Some("web-db")),
            Some(a.clone())
        );
        let b = ArchiveName {
            seq: 1,
            ..a.clone()
        };
        assert_eq!(b.file_name(), "web-db-20261121T190200Z_01.tar.gz");
        assert_eq!(ArchiveName::parse(&b.file_name(), None), Some(b.clone()));
        assert!(a.file_name() < b.file_name(), "suffixed name sorts after");
        let c = ArchiveName {
            time: at("2026-11-21T19:02:01Z"),
            ..a.clone()
        };
        assert!(b.file_name() < c.file_name());
        let z = ArchiveName {
            compression: Compression::Zstd,
            ..a
        };
        assert_eq!(z.file_name(), "web-db-20261121T190200Z.tar.zst");
    }

    #[test]
    fn only_exact_names_of_that_backup_are_recognised() {
        let ours = "etc-20261121T190200Z.tar.gz";
        assert!(ArchiveName::parse(ours, Some("etc")).is_some());
        for other in [
            "etc-20261121T190200Z.tar.gz.manifest.json",
            "etc-old.tar.gz",
            "etc-20261121T190200.tar.gz",
            "etc-20261321T190200Z.tar.gz",
            "etc-20261121T190200Z_1.tar.gz",
            "etc-20261121T190200Z.tgz",
            ".etc-20261121T190200Z.tar.gz.x1.tmp",
            "-20261121T190200Z.tar.gz",
            "etcx20261121T190200Z.tar.gz",
        ] {
            assert_eq!(ArchiveName::parse(other, None), None, "{other}");
        }
        assert_eq!(ArchiveName::parse(ours, Some("et")), None);
        assert_eq!(
            ArchiveName::parse("etc-x-20261121T190200Z.tar", Some("etc")),
            None
        );
    }

    #[test]
    fn a_second_run_in_the_same_second_gets_a_free_name() {
        let dir = tempfile::tempdir().unwrap();
        let t = at("2026-11-21T19:02:00.700Z");
        let first = ArchiveName::first_free(dir.path(), "etc", t, Compression::Gzip).unwrap();
        assert_eq!(first.seq, 0);
        std::fs::write(dir.path().join(first.manifest_name()), "{}").unwrap();
        let second = ArchiveName::first_free(dir.path(), "etc", t, Compression::Gzip).unwrap();
        assert_eq!(second.file_name(), "etc-20261121T190200Z_01.tar.gz");
    }

    #[test]
    fn names_that_could_escape_or_hide_are_refused() {
        assert!(check_name("web-db_2").is_ok());
        for bad in ["", ".hidden", "a/b", "a b", "x\n"] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }
}
