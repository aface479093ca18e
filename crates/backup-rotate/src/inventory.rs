//! The backups in a destination directory: files whose names parse as
//! ours, with their manifests. Everything else in the directory is
//! invisible to list, verify and prune.

use std::fs;
use std::path::{Path, PathBuf};

use secops_common::{Context, Error};

use crate::manifest::Manifest;
use crate::naming::{ArchiveName, MANIFEST_SUFFIX};

/// One archive and what is known about it.
#[derive(Debug, Clone)]
pub struct Backup {
    pub path: PathBuf,
    pub name: ArchiveName,
    pub archive_bytes: u64,
    /// The manifest, if it exists, parses and names this archive.
    pub manifest: Option<Manifest>,
}

impl Backup {
    /// Finished and verified when created: a manifest that names this
    /// archive with its current size. (`verify` re-reads the content.)
    pub fn verified(&self) -> bool {
        self.manifest
            .as_ref()
            .is_some_and(|m| m.archive_bytes == self.archive_bytes)
    }

    pub fn manifest_path(&self) -> PathBuf {
        manifest_path(&self.path)
    }

    pub fn created(&self) -> String {
        self.name.time.to_string()
    }
}

pub fn manifest_path(archive: &Path) -> PathBuf {
    let mut name = archive.as_os_str().to_os_string();
    name.push(MANIFEST_SUFFIX);
    PathBuf::from(name)
}

/// Our archives in `dir` (only NAME's when given), newest first.
pub fn scan(dir: &Path, name: Option<&str>) -> Result<Vec<Backup>, Error> {
    let entries = fs::read_dir(dir).context(|| format!("cannot list {}", dir.display()))?;
    let mut backups = Vec::new();
    for entry in entries {
        let entry = entry.context(|| format!("cannot list {}", dir.display()))?;
        let Some(file_name) = entry.file_name().to_str().map(str::to_string) else {
            continue;
        };
        let Some(parsed) = ArchiveName::parse(&file_name, name) else {
            continue;
        };
        let Ok(meta) = entry.metadata() else { continue };
        if !meta.is_file() {
            continue;
        }
        let path = entry.path();
        let manifest = Manifest::load(&manifest_path(&path))
            .ok()
            .filter(|m| m.archive == file_name);
        backups.push(Backup {
            path,
            name: parsed,
            archive_bytes: meta.len(),
            manifest,
        });
    }
    backups.sort_by_key(|b| std::cmp::Reverse((b.name.time, b.name.seq)));
    Ok(backups)
}
