//! The manifest beside each archive: what a later `verify` checks the
//! archive against, and what `list` and `prune` read instead of opening
//! archives. It is written before the archive is renamed into place, so an
//! archive without a manifest is never a finished backup.

use std::path::Path;

use secops_common::Error;
use serde::{Deserialize, Serialize};

use crate::compress::Compression;
use crate::digest::Algorithm;

/// Bumped when a field changes meaning. Format 1 had `entries_sha256`
/// (SHA-256 entry and content digests); format 2 has `entries_blake3`
/// (the same digests with BLAKE3, see `digest.rs`). Both verify.
pub const FORMAT: u32 = 2;

/// The hash of the entry digest in manifests of [`FORMAT`].
pub const DIGEST: Algorithm = Algorithm::Blake3;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format: u32,
    pub tool: String,
    pub version: String,
    pub name: String,
    /// The archive's file name (beside the manifest).
    pub archive: String,
    /// RFC 3339 UTC.
    pub created: String,
    pub host: String,
    pub compression: Compression,
    pub level: u32,
    pub sources: Vec<String>,
    pub excludes: Vec<String>,
    pub one_file_system: bool,
    /// Tar entries, hard links and directories included.
    pub entries: u64,
    pub files: u64,
    pub dirs: u64,
    pub symlinks: u64,
    pub hardlinks: u64,
    /// Bytes of file content.
    pub bytes: u64,
    /// The uncompressed tar stream's size.
    pub tar_bytes: u64,
    pub archive_bytes: u64,
    pub archive_sha256: String,
    /// Format 1: SHA-256 over every entry's name, metadata and SHA-256
    /// content digest (see `digest.rs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entries_sha256: Option<String>,
    /// Format 2: the same with BLAKE3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entries_blake3: Option<String>,
    /// Files that could not be read and are missing or incomplete.
    pub unreadable: u64,
    /// Files that changed while being read.
    pub changed: u64,
    pub duration_ms: u64,
}

impl Manifest {
    /// Reads a manifest; errors name the file, line and field.
    pub fn load(path: &Path) -> Result<Manifest, Error> {
        let manifest: Manifest = secops_common::config::load(path)?;
        manifest
            .entries_digest()
            .map_err(|why| Error::bad_input(format!("{}: {why}", path.display())))?;
        Ok(manifest)
    }

    /// The entry digest and the hash it was made with, as the format says.
    pub fn entries_digest(&self) -> Result<(Algorithm, &str), String> {
        let sha256 = ("entries_sha256", &self.entries_sha256);
        let blake3 = ("entries_blake3", &self.entries_blake3);
        let (algorithm, (field, digest), (other, stray)) = match self.format {
            1 => (Algorithm::Sha256, sha256, blake3),
            2 => (Algorithm::Blake3, blake3, sha256),
            n if n > FORMAT => {
                return Err(format!(
                    "format: {n} is newer than this backup-rotate reads (1 to {FORMAT}); upgrade it"
                ));
            }
            n => {
                return Err(format!(
                    "format: {n} is not a manifest format (1 to {FORMAT})"
                ));
            }
        };
        let format = self.format;
        if stray.is_some() {
            return Err(format!("{other}: not a field of format {format} manifests"));
        }
        digest
            .as_deref()
            .map(|digest| (algorithm, digest))
            .ok_or_else(|| format!("{field}: missing (format {format} manifests have it)"))
    }

    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).expect("a manifest serializes");
        text.push('\n');
        text
    }
}
