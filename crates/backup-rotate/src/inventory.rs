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

/// A manifest of NAME's whose archive is gone: what a prune killed between
/// deleting an archive and its manifest leaves, or a create killed between
/// linking its manifest and its archive.
#[derive(Debug, Clone)]
pub struct Orphan {
    /// The manifest.
    pub path: PathBuf,
    /// The archive it names, which does not exist.
    pub archive: PathBuf,
    pub name: ArchiveName,
    pub manifest: Manifest,
}

/// NAME's orphan manifests in `dir`: named as a manifest of one of NAME's
/// archives, a manifest that names that archive (so it is ours), and no
/// file of the archive's name beside it. A manifest that does not parse,
/// or names another archive, is not ours and is not listed.
pub fn orphan_manifests(dir: &Path, name: &str) -> Result<Vec<Orphan>, Error> {
    let entries = fs::read_dir(dir).context(|| format!("cannot list {}", dir.display()))?;
    let mut orphans = Vec::new();
    for entry in entries {
        let entry = entry.context(|| format!("cannot list {}", dir.display()))?;
        let Some(file_name) = entry.file_name().to_str().map(str::to_string) else {
            continue;
        };
        let Some(archive_name) = file_name.strip_suffix(MANIFEST_SUFFIX) else {
            continue;
        };
        let Some(parsed) = ArchiveName::parse(archive_name, Some(name)) else {
            continue;
        };
        if !entry.file_type().is_ok_and(|t| t.is_file()) {
            continue;
        }
        let archive = dir.join(archive_name);
        // Gone for certain: any other answer (it is there, or it cannot
        // be told) leaves the manifest alone.
        match fs::symlink_metadata(&archive) {
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            _ => continue,
        }
        let path = entry.path();
        let Some(manifest) = Manifest::load(&path)
            .ok()
            .filter(|m| m.archive == archive_name && m.name == name)
        else {
            continue;
        };
        orphans.push(Orphan {
            path,
            archive,
            name: parsed,
            manifest,
        });
    }
    orphans.sort_by_key(|o| std::cmp::Reverse((o.name.time, o.name.seq)));
    Ok(orphans)
}
