//! The manifest beside each archive: what a later `verify` checks the
//! archive against, and what `list` and `prune` read instead of opening
//! archives. It is written before the archive is renamed into place, so an
//! archive without a manifest is never a finished backup.

use std::path::Path;

use secops_common::Error;
use serde::{Deserialize, Serialize};

use crate::compress::Compression;

/// Bumped when a field changes meaning.
pub const FORMAT: u32 = 1;

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
    /// SHA-256 over every entry's name, metadata and content digest
    /// (see `digest.rs`).
    pub entries_sha256: String,
    /// Files that could not be read and are missing or incomplete.
    pub unreadable: u64,
    /// Files that changed while being read.
    pub changed: u64,
    pub duration_ms: u64,
}

impl Manifest {
    /// Reads a manifest; errors name the file, line and field.
    pub fn load(path: &Path) -> Result<Manifest, Error> {
        secops_common::config::load(path)
    }

    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).expect("a manifest serializes");
        text.push('\n');
        text
    }
}
