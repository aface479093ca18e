//! `verify`: re-read an archive and hold it against its manifest. The
//! file's SHA-256 catches any flipped byte; decoding every entry catches
//! truncation and proves tar can still extract it.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::inventory::manifest_path;
use crate::manifest::Manifest;
use crate::readback::read_back;

/// The manifest of an archive that verified, and how long it took.
pub fn verify(archive: &Path) -> Result<(Manifest, Duration), String> {
    let started = Instant::now();
    let manifest = Manifest::load(&manifest_path(archive)).map_err(|err| err.to_string())?;
    let (algorithm, entries_digest) = manifest.entries_digest()?;
    let back = read_back(archive, algorithm).map_err(|err| format!("it does not decode: {err}"))?;
    let mut wrong = Vec::new();
    if back.archive_bytes != manifest.archive_bytes {
        wrong.push(format!(
            "{} bytes instead of {}",
            back.archive_bytes, manifest.archive_bytes
        ));
    }
    if back.archive_sha256 != manifest.archive_sha256 {
        wrong.push(format!(
            "SHA-256 {} instead of {}",
            back.archive_sha256, manifest.archive_sha256
        ));
    }
    if back.entries != manifest.entries || back.entries_digest != entries_digest {
        wrong.push(format!(
            "{} entries that digest differently from the {} recorded",
            back.entries, manifest.entries
        ));
    }
    if wrong.is_empty() {
        Ok((manifest, started.elapsed()))
    } else {
        Err(format!(
            "it does not match its manifest: {}",
            wrong.join("; ")
        ))
    }
}
