//! `push` and `fetch`: files moved over the same ssh command channel as a
//! run, so they share its options, its connection reuse and its failure
//! classes, and need nothing on the host but a POSIX shell and coreutils
//! (and tar, to fetch a directory: see `fetch_tree`).
//!
//! Why not scp or sftp: one ssh session per host does the whole push
//! (write beside the target, verify the SHA-256, set the mode, rename into
//! place), where scp would need extra sessions for the checksum and the
//! rename, and `sftp-server` is often disabled on hardened hosts (and scp
//! itself speaks SFTP since OpenSSH 9.0).

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};
use std::process::{ChildStdout, Stdio};

use sha2::{Digest, Sha256};

use secops_common::atomic::AtomicFile;
use secops_common::{Context, Error, Record};

use secops_inventory::Server;

use crate::Sink;
use crate::classify::Status;
use crate::fetch_tree;
use crate::quote;
use crate::records::{self, Copied};
use crate::ssh::{self, SshOptions};

/// The file `push` sends, read once up front for its checksum.
pub struct Source {
    path: PathBuf,
    shown: String,
    name: String,
    mode: u32,
    bytes: u64,
    sha256: String,
}

impl Source {
    pub fn open(path: &Path, mode: Option<u32>) -> Result<Source, Error> {
        let cannot = |err: io::Error| Error::bad_input(format!("{}: {err}", path.display()));
        let meta = fs::metadata(path).map_err(cannot)?;
        if !meta.is_file() {
            return Err(Error::bad_input(format!(
                "{}: not a regular file",
                path.display()
            )));
        }
        let (bytes, sha256) = checksum(File::open(path).map_err(cannot)?).map_err(cannot)?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        Ok(Source {
            path: path.to_path_buf(),
            shown: path.display().to_string(),
            name,
            mode: mode.unwrap_or(meta.permissions().mode() & 0o7777),
            bytes,
            sha256,
        })
    }
}

fn checksum(mut input: impl Read) -> io::Result<(u64, String)> {
    stream(&mut input, |_| {})
}

/// Reads `input` to its end, handing each chunk to `sink` as it goes; the
/// byte count and SHA-256 of all of it. Every copy and checksum of
/// `push` and `fetch` is this one loop.
pub fn stream(input: &mut impl Read, mut sink: impl FnMut(&[u8])) -> io::Result<(u64, String)> {
    let mut hash = Sha256::new();
    let mut total = 0u64;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        };
        hash.update(&buf[..n]);
        total += n as u64;
        sink(&buf[..n]);
    }
    Ok((total, hex(&hash.finalize())))
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Run by `sh -c` on the host with the target, the local file name, the
/// mode and the checksum as `$1`…`$4`. The temporary file sits beside the
/// target so the final `mv` is an atomic rename, and is removed on any
/// failure; a target that is a directory takes the local file name.
const PUSH_SCRIPT: &str = r#"dest=$1
[ -d "$dest" ] && dest="${dest%/}/$2"
tmp=$(mktemp "$dest.XXXXXX") || exit
trap 'rm -f "$tmp"' EXIT
cat >"$tmp" || exit
sum=$(sha256sum <"$tmp") || exit
sum=${sum%% *}
if [ "$sum" != "$4" ]; then
  echo "checksum mismatch: $dest.XXXXXX has sha256 $sum, sent $4" >&2
  exit 1
fi
chmod "$3" "$tmp" && mv -f "$tmp" "$dest" || exit
trap - EXIT"#;

/// Pushes `source` to `remote` on one host.
pub fn push(server: &Server, opts: &SshOptions, source: &Source, remote: &str) -> (Status, Record) {
    let command = [
        "sh".to_string(),
        "-c".to_string(),
        PUSH_SCRIPT.to_string(),
        "sh".to_string(),
        remote.to_string(),
        source.name.clone(),
        format!("{:04o}", source.mode),
        source.sha256.clone(),
    ];
    let remote_command = ssh::remote_command(&quote::command_line(&command), opts.timeout);
    let mut copied = Copied {
        local: &source.shown,
        remote,
        file: None,
        mode: Some(source.mode),
        error: None,
        failed_here: false,
    };
    // Each host reads the file afresh: the threads share no offset.
    let stdin = match File::open(&source.path) {
        Ok(file) => Stdio::from(file),
        Err(err) => {
            copied.error = Some(format!("cannot read {}: {err}", source.shown));
            Stdio::null()
        }
    };
    let max = opts.max_output;
    let outcome = ssh::run_with(server, opts, &remote_command, stdin, move |out| {
        ssh::read_bounded(out, max)
    });
    let status = match (&copied.error, outcome.status) {
        (Some(_), Status::Ok) => Status::Failed,
        (_, status) => status,
    };
    if status == Status::Ok {
        copied.file = Some((source.bytes, source.sha256.clone()));
    }
    let record = records::copied("remote.push", &server.name, &copied, &outcome);
    (status, record)
}

/// Where `fetch` puts each host's copy: `DIR/HOST/PATH`, the remote path
/// made relative, so fetching several paths never collides.
pub struct Target {
    remote: String,
    relative: PathBuf,
    dir: PathBuf,
}

impl Target {
    pub fn new(remote: &str, dir: &Path) -> Result<Target, Error> {
        let path = Path::new(remote);
        let relative: PathBuf = path
            .components()
            .filter(|c| !matches!(c, Component::RootDir | Component::CurDir))
            .collect();
        if path.components().any(|c| c == Component::ParentDir) || relative.as_os_str().is_empty() {
            return Err(Error::bad_input(format!(
                "fetch {remote:?}: give a file or directory path without '..' components"
            )));
        }
        fs::create_dir_all(dir).context(|| format!("cannot create {}", dir.display()))?;
        Ok(Target {
            remote: remote.to_string(),
            relative,
            dir: dir.to_path_buf(),
        })
    }
}

/// Run by `sh -c` on the host with the path as `$1`: one byte says what
/// follows, `D` and a tar archive of a directory or `F` and the file.
const FETCH_SCRIPT: &str = r#"if [ -d "$1" ]; then printf D; exec tar -cf - -C "$1" .; fi
printf F; exec cat -- "$1""#;

/// One regular file as it streamed in.
struct ReceivedFile {
    file: Option<AtomicFile>,
    bytes: u64,
    sha256: String,
    error: Option<String>,
    /// `error` is a failure to write here (a full, read-only or failing
    /// disk), not of the stream.
    failed_here: bool,
}

/// What the reader made of the host's reply.
enum Received {
    /// Nothing usable; why, if it was refused here.
    Nothing(Option<String>),
    File(ReceivedFile),
    Tree(fetch_tree::Received),
}

/// How one host's fetch ended: its status, whether a local write failed
/// (a full, read-only or failing disk here: the run itself failed, exit 3,
/// whatever the host did), and its `remote.fetch` record.
pub struct Fetched {
    pub status: Status,
    pub failed_here: bool,
    pub records: Vec<Record>,
}

/// Fetches the target (a file, or a directory recursively) from one host
/// into `DIR/HOST/PATH`: one `remote.fetch` record, preceded for a
/// directory by a `remote.fetch.file` record per entry, handed to `sink`
/// one at a time (never all built at once).
pub fn fetch(server: &Server, opts: &SshOptions, target: &Target, mut sink: Sink) -> Fetched {
    let local = target.dir.join(&server.name).join(&target.relative);
    let shown = local.display().to_string();
    let unsafe_name = matches!(server.name.as_str(), "." | "..") || server.name.contains('/');
    let dest = if unsafe_name {
        Err("the host name cannot be a directory name".to_string())
    } else {
        Ok((
            target.dir.clone(),
            Path::new(&server.name).join(&target.relative),
        ))
    };
    let command = [
        "sh".to_string(),
        "-c".to_string(),
        FETCH_SCRIPT.to_string(),
        "sh".to_string(),
        target.remote.clone(),
    ];
    let remote_command = ssh::remote_command(&quote::command_line(&command), opts.timeout);
    let mut outcome = ssh::run_with(server, opts, &remote_command, Stdio::null(), move |out| {
        receive(out, dest)
    });
    let received = outcome.stdout.take().unwrap_or(Received::Nothing(None));
    let mut copied = Copied {
        local: &shown,
        remote: &target.remote,
        file: None,
        mode: None,
        error: None,
        failed_here: false,
    };
    match received {
        Received::Tree(mut tree) => {
            outcome.status = fetch_tree::reconcile(
                &mut tree,
                outcome.status,
                outcome.exit_code,
                &outcome.stderr.text(),
            );
            for entry in &tree.entries {
                sink(records::fetched_entry(&server.name, &target.remote, entry));
            }
            copied.failed_here = tree.local_error.is_some();
            copied.error = tree.error.or(tree.local_error);
            let rec = records::fetched_tree(&server.name, &copied, &tree.entries, &outcome);
            Fetched {
                status: outcome.status,
                failed_here: copied.failed_here,
                records: vec![rec],
            }
        }
        Received::File(received) => {
            copied.error = received.error;
            copied.failed_here = received.failed_here;
            if let (Some(file), Status::Ok, None) = (received.file, outcome.status, &copied.error) {
                match file.commit() {
                    Ok(()) => copied.file = Some((received.bytes, received.sha256)),
                    Err(err) => {
                        copied.error = Some(format!("cannot write {shown}: {err}"));
                        copied.failed_here = true;
                    }
                }
            }
            finish_file(server, target, &local, copied, outcome)
        }
        Received::Nothing(error) => {
            copied.error = error;
            finish_file(server, target, &local, copied, outcome)
        }
    }
}

/// The record of a single-file fetch; a failed one leaves no empty
/// directories behind.
fn finish_file<T>(
    server: &Server,
    target: &Target,
    local: &Path,
    copied: Copied,
    mut outcome: ssh::Outcome<T>,
) -> Fetched {
    if copied.file.is_none() {
        remove_empty_dirs(local.parent(), &target.dir);
        if outcome.status == Status::Ok {
            outcome.status = Status::Failed;
        }
    }
    let record = records::copied("remote.fetch", &server.name, &copied, &outcome);
    Fetched {
        status: outcome.status,
        failed_here: copied.failed_here,
        records: vec![record],
    }
}

/// Reads the one-byte reply kind, then the file or the archive; `dest`
/// is the operator's directory and `HOST/PATH` below it.
fn receive(mut out: ChildStdout, dest: Result<(PathBuf, PathBuf), String>) -> Received {
    let mut kind = [0u8; 1];
    let got = loop {
        match out.read(&mut kind) {
            Ok(n) => break n == 1,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => break false,
        }
    };
    let received = match (got.then_some(kind[0]), dest) {
        (None, _) => Received::Nothing(None),
        (Some(_), Err(why)) => Received::Nothing(Some(why)),
        (Some(b'D'), Ok((top, relative))) => {
            return Received::Tree(fetch_tree::receive(out, &top, &relative));
        }
        (Some(b'F'), Ok((top, relative))) => {
            let local = top.join(&relative);
            let parent = relative.parent().unwrap_or(Path::new(""));
            let prepared = fetch_tree::safe_dirs(&top, parent)
                .and_then(|_| AtomicFile::create(&local, 0o600))
                .map_err(|err| {
                    let why = format!("cannot write {}: {err}", local.display());
                    (why, fetch_tree::failed_here(&err))
                });
            let (file, error) = match prepared {
                Ok(file) => (Some(file), None),
                Err(err) => (None, Some(err)),
            };
            return Received::File(receive_file(&mut out, file, error));
        }
        (Some(other), Ok(_)) => Received::Nothing(Some(format!(
            "the host's reply starts with {:?}, not a file or a directory",
            char::from(other)
        ))),
    };
    let _ = io::copy(&mut out, &mut io::sink());
    received
}

/// Streams the remote file into `file`, hashing as it goes. Reads to the
/// end even after a local error, so ssh never blocks on a full pipe.
/// `error` is why `file` could not be made, and whether that is this
/// side's failure.
fn receive_file(
    out: &mut ChildStdout,
    mut file: Option<AtomicFile>,
    error: Option<(String, bool)>,
) -> ReceivedFile {
    let (mut error, mut failed_here) = error.map_or((None, false), |(e, here)| (Some(e), here));
    let streamed = stream(out, |chunk| {
        if let Some(f) = file.as_mut() {
            if let Err(err) = f.write_all(chunk) {
                error.get_or_insert(format!("cannot write {}: {err}", f.target().display()));
                failed_here = true;
                file = None;
            }
        }
    });
    let (bytes, sha256) = streamed.unwrap_or_else(|err| {
        error.get_or_insert(format!("reading from ssh: {err}"));
        (0, String::new())
    });
    ReceivedFile {
        file: if error.is_none() { file } else { None },
        bytes,
        sha256,
        error,
        failed_here,
    }
}

/// Removes the directories a failed fetch created, up to (not including)
/// `top`; ones holding anything else stay.
fn remove_empty_dirs(mut dir: Option<&Path>, top: &Path) {
    while let Some(d) = dir {
        if d == top || !d.starts_with(top) || fs::remove_dir(d).is_err() {
            break;
        }
        dir = d.parent();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fetch_paths_stay_inside_the_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let target = Target::new("/var/log/syslog", tmp.path()).unwrap();
        assert_eq!(target.relative, Path::new("var/log/syslog"));
        let target = Target::new("notes.txt", tmp.path()).unwrap();
        assert_eq!(target.relative, Path::new("notes.txt"));
        let target = Target::new("/var/log/app/", tmp.path()).unwrap();
        assert_eq!(target.relative, Path::new("var/log/app"));
        for bad in ["/var/../etc/shadow", "/", "../x", "./"] {
            assert!(Target::new(bad, tmp.path()).is_err(), "{bad}");
        }
    }

    #[test]
    fn checksums_are_sha256() {
        let (bytes, sum) = checksum(&b"abc"[..]).unwrap();
        assert_eq!(bytes, 3);
        assert_eq!(
            sum,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
