//! Making one backup so that a good-looking file is always a good backup.
//!
//! The order is what makes it safe:
//! 0. NAME's temporary files that an interrupted run left in the
//!    destination are removed (see `temps.rs`), and said so on stderr;
//! 1. the archive is written to a hidden temporary file in the destination
//!    (`.NAME-PID-XXXXXX.tmp`, locked while this run lives), hashed
//!    (BLAKE3) as it is written;
//! 2. it is read back through a second descriptor, following the writes
//!    as they reach the file (so verifying runs alongside compressing, on
//!    other threads) and finishing after the fsync: the file's size and
//!    BLAKE3 must equal what was written, and the entries decoded from it
//!    must digest to what was read from the sources. The SHA-256 the
//!    manifest records is taken here, of the bytes that were verified;
//!    hashing them on both sides with SHA-256 cost more than BLAKE3 on
//!    both plus SHA-256 once;
//! 3. the manifest is written (temp file, fsync) and linked into place
//!    without replacing anything;
//! 4. only then the archive is linked to its final name, and the directory
//!    fsynced.
//!
//! A kill or crash at any point leaves at most a hidden temp file (which
//! the next run of NAME removes) and perhaps a manifest without its
//! archive; never an archive without a manifest, and never a change to an
//! existing backup (names are taken with link(2), which fails rather than
//! replaces).

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime};

use globset::{Glob, GlobSet, GlobSetBuilder};
use jiff::Timestamp;
use secops_common::Error;

use crate::archive::{Problem, TarWriter, WalkOptions};
use crate::cli::CreateArgs;
use crate::digest::HashingWriter;
use crate::manifest::{DIGEST, FORMAT, Manifest};
use crate::naming::{ArchiveName, check_name};
use crate::progress::Progress;
use crate::readback::{Announcing, Following, ReadBack, read_stream};
use crate::records::TOOL;
use crate::temps::{self, Temp};

/// A finished, verified backup.
pub struct Created {
    pub path: PathBuf,
    pub manifest: Manifest,
    pub problems: Vec<Problem>,
}

/// Why a backup was not made: bad arguments (exit 2) or a failed run.
pub enum CreateError {
    Usage(Error),
    Failed(String),
}

impl From<Error> for CreateError {
    fn from(err: Error) -> CreateError {
        CreateError::Usage(err)
    }
}

/// Everything checked before any file is touched.
struct Plan {
    name: String,
    sources: Vec<PathBuf>,
    level: u32,
    threads: u32,
    walk: WalkOptions,
}

pub fn create(args: &CreateArgs) -> Result<Created, CreateError> {
    let plan = plan(args)?;
    remove_leftovers(&args.dest, &plan.name);
    let started = Instant::now();
    let created_at = Timestamp::now();
    let (temp, (written, problems, counts), back) = write_archive(args, &plan).map_err(|err| {
        CreateError::Failed(format!(
            "cannot write the archive in {}: {err}",
            args.dest.display()
        ))
    })?;
    let (archive_bytes, archive_blake3, tar_bytes, digest) = written;
    let back =
        back.map_err(|err| CreateError::Failed(format!("the archive does not read back: {err}")))?;
    if back.archive_blake3 != archive_blake3 || back.archive_bytes != archive_bytes {
        return Err(CreateError::Failed(format!(
            "the archive on disk differs from what was written ({} bytes, BLAKE3 {} read back; {} bytes, {} written)",
            back.archive_bytes, back.archive_blake3, archive_bytes, archive_blake3
        )));
    }
    if back.entries != digest.count || back.entries_digest != digest.hex() {
        return Err(CreateError::Failed(format!(
            "the archive's entries differ from what was read ({} entries read back, {} written)",
            back.entries, digest.count
        )));
    }
    let unreadable = problems
        .iter()
        .filter(|p| matches!(p, Problem::Unreadable { .. }))
        .count() as u64;
    let mut manifest = Manifest {
        format: FORMAT,
        tool: TOOL.to_string(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        name: plan.name.clone(),
        archive: String::new(),
        created: Timestamp::from_second(created_at.as_second())
            .unwrap_or(created_at)
            .to_string(),
        host: secops_common::record::hostname().to_string(),
        compression: args.compression,
        level: plan.level,
        sources: plan
            .sources
            .iter()
            .map(|s| s.display().to_string())
            .collect(),
        excludes: args.excludes.clone(),
        one_file_system: args.one_file_system,
        entries: digest.count,
        files: counts.files,
        dirs: counts.dirs,
        symlinks: counts.symlinks,
        hardlinks: counts.hardlinks,
        bytes: counts.bytes,
        tar_bytes,
        archive_bytes,
        archive_sha256: back.archive_sha256,
        entries_sha256: None,
        entries_blake3: Some(digest.hex()),
        unreadable,
        changed: problems.len() as u64 - unreadable,
        duration_ms: 0,
    };
    let path = commit(&args.dest, temp, &mut manifest, created_at, started, args)
        .map_err(|err| CreateError::Failed(format!("cannot put the archive in place: {err}")))?;
    Ok(Created {
        path,
        manifest,
        problems,
    })
}

/// Step 0: what earlier, interrupted runs of NAME left behind.
fn remove_leftovers(dest: &Path, name: &str) {
    let (removed, failed) = temps::remove_stale(dest, name, SystemTime::now());
    for gone in removed {
        secops_common::warn!(
            "removed {} ({} bytes): {}",
            gone.path.display(),
            gone.bytes,
            gone.why
        );
    }
    for (path, err) in failed {
        secops_common::warn!(
            "cannot remove {}, left by an interrupted run: {err}",
            path.display()
        );
    }
}

fn plan(args: &CreateArgs) -> Result<Plan, Error> {
    let name = match &args.name {
        Some(name) => name.clone(),
        None => default_name(&args.sources[0])?,
    };
    check_name(&name).map_err(Error::bad_input)?;
    let level = args
        .compression
        .level(args.level)
        .map_err(Error::bad_input)?;
    let meta = fs::metadata(&args.dest)
        .map_err(|err| Error::bad_input(format!("destination {}: {err}", args.dest.display())))?;
    if !meta.is_dir() {
        return Err(Error::bad_input(format!(
            "destination {} is not a directory",
            args.dest.display()
        )));
    }
    let sources = args
        .sources
        .iter()
        .map(|source| absolute(source))
        .collect::<Result<Vec<_>, _>>()?;
    let mut excludes = GlobSetBuilder::new();
    for pattern in &args.excludes {
        let glob = Glob::new(pattern)
            .map_err(|err| Error::bad_input(format!("--exclude {pattern:?}: {err}")))?;
        excludes.add(glob);
    }
    let excludes: GlobSet = excludes
        .build()
        .map_err(|err| Error::bad_input(format!("--exclude: {err}")))?;
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get() as u32));
    Ok(Plan {
        name,
        sources,
        level,
        threads,
        walk: WalkOptions {
            excludes,
            one_file_system: args.one_file_system,
            skip_dir: Some((meta.dev(), meta.ino())),
        },
    })
}

/// The source as an absolute path, resolving its parent but not the source
/// itself: a source that is a symlink is stored as that symlink.
fn absolute(source: &Path) -> Result<PathBuf, Error> {
    let missing = |err: io::Error| Error::bad_input(format!("source {}: {err}", source.display()));
    fs::symlink_metadata(source).map_err(missing)?;
    let absolute = std::path::absolute(source).map_err(missing)?;
    match (absolute.parent(), absolute.file_name()) {
        (Some(parent), Some(name)) => Ok(fs::canonicalize(parent).map_err(missing)?.join(name)),
        _ => fs::canonicalize(&absolute).map_err(missing),
    }
}

fn default_name(source: &Path) -> Result<String, Error> {
    absolute(source)?
        .file_name()
        .and_then(|n| n.to_str())
        .map(str::to_string)
        .ok_or_else(|| {
            Error::bad_input(format!(
                "cannot name a backup of {} after it: pass --name",
                source.display()
            ))
        })
}

type Written = (u64, String, u64, crate::digest::EntryDigest);
/// What writing produced: the archive's facts, the problems met and the
/// counts of what went in.
type Wrote = (Written, Vec<Problem>, crate::archive::Counts);

/// Writes and fsyncs the archive into a temporary file, and reads it back
/// through a second descriptor as it grows (on other threads: step 2 of
/// the module comment overlaps step 1, and only its tail waits for the
/// fsync).
fn write_archive(
    args: &CreateArgs,
    plan: &Plan,
) -> io::Result<(Temp, Wrote, io::Result<ReadBack>)> {
    let temp = temps::create(&args.dest, &plan.name)?;
    let progress = crate::readback::Written::default();
    // Made before the reader starts: however writing ends, dropping it is
    // what tells the reader the file is complete.
    let announcing = Announcing::new(temp.file.reopen()?, progress.clone());
    let following = Following::new(temp.file.reopen()?, progress);
    let compression = args.compression;
    let reading = std::thread::spawn(move || read_stream(following, compression, DIGEST));
    let written = write_to(announcing, args, plan);
    // The reader ends once the writer is gone, whatever happened to it.
    let back = reading
        .join()
        .unwrap_or_else(|_| Err(io::Error::other("the read-back thread panicked")));
    Ok((temp, written?, back))
}

fn write_to(announcing: Announcing, args: &CreateArgs, plan: &Plan) -> io::Result<Wrote> {
    let sink = HashingWriter::new(BufWriter::with_capacity(1 << 20, announcing));
    let compressor = args.compression.writer(sink, plan.level, plan.threads)?;
    let walk = WalkOptions {
        excludes: plan.walk.excludes.clone(),
        ..plan.walk
    };
    let progress = Progress::new();
    let mut tar = TarWriter::new(TarCounter::new(compressor), walk, progress.clone());
    for source in &plan.sources {
        secops_common::info!("reading {}", source.display());
        tar.add_source(source)?;
    }
    progress.finish();
    let digest = tar.digest.clone();
    let counts = tar.counts;
    let problems = std::mem::take(&mut tar.problems);
    let counter = tar.finish()?;
    let tar_bytes = counter.bytes;
    let sink = counter.inner.finish()?;
    let (buffered, sha) = sink.into_parts();
    let bytes = {
        let announcing = buffered
            .into_inner()
            .map_err(io::IntoInnerError::into_error)?;
        announcing.file.sync_all()?;
        announcing.file.metadata()?.len()
    };
    Ok(((bytes, sha, tar_bytes, digest), problems, counts))
}

/// Counts the uncompressed tar bytes, for the ratio.
struct TarCounter<W> {
    inner: W,
    bytes: u64,
}

impl<W> TarCounter<W> {
    fn new(inner: W) -> TarCounter<W> {
        TarCounter { inner, bytes: 0 }
    }
}

impl<W: Write> Write for TarCounter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Steps 3 and 4 of the module comment: manifest, then archive, each under
/// a name link(2) takes only if it is free.
fn commit(
    dest: &Path,
    temp: Temp,
    manifest: &mut Manifest,
    created_at: Timestamp,
    started: Instant,
    args: &CreateArgs,
) -> io::Result<PathBuf> {
    loop {
        let name = ArchiveName::first_free(dest, &manifest.name, created_at, args.compression)
            .ok_or_else(|| io::Error::other("100 backups of this name in one second"))?;
        manifest.archive = name.file_name();
        manifest.duration_ms = started.elapsed().as_millis() as u64;
        let manifest_path = dest.join(name.manifest_name());
        let archive_path = dest.join(name.file_name());
        let mut staged = temps::create(dest, &manifest.name)?;
        staged.file.write_all(manifest.to_json().as_bytes())?;
        staged.file.as_file().sync_all()?;
        match fs::hard_link(staged.file.path(), &manifest_path) {
            Err(err) if err.kind() == io::ErrorKind::AlreadyExists => continue,
            other => other?,
        }
        if let Err(err) = fs::hard_link(temp.file.path(), &archive_path) {
            // Our manifest must not outlive the archive it describes.
            fs::remove_file(&manifest_path)?;
            if err.kind() == io::ErrorKind::AlreadyExists {
                continue;
            }
            return Err(err);
        }
        drop(staged);
        drop(temp);
        File::open(dest)?.sync_all()?;
        return Ok(archive_path);
    }
}
