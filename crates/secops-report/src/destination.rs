//! Where a table or Markdown report goes: stdout, or `--output` through
//! secops-common's atomic file, so nobody ever reads half a report.
//!
//! secops-common's `Output` does this for the record formats, but it can
//! only write records, and these reports also carry a summary and group
//! headings between their tables. This is the part of it such a report needs.

use std::io::{self, BufWriter, Write};
use std::path::Path;

use secops_common::Error;
use secops_common::atomic::AtomicFile;

pub enum Destination {
    Stdout,
    File(AtomicFile),
}

impl Destination {
    /// Opens `path` (stdout if `None`) before any input is read, so a
    /// mistyped directory fails at once rather than after a long read.
    pub fn open(path: Option<&Path>) -> Result<Destination, Error> {
        match path {
            None => Ok(Destination::Stdout),
            Some(path) => AtomicFile::create(path, 0o644)
                .map(Destination::File)
                .map_err(|err| Error::bad_input(format!("cannot write {}: {err}", path.display()))),
        }
    }

    /// Writes what `render` produces and, for a file, renames it into place.
    pub fn deliver(
        self,
        render: impl FnOnce(&mut dyn Write) -> io::Result<()>,
    ) -> Result<(), Error> {
        match self {
            Destination::Stdout => {
                let mut out = BufWriter::with_capacity(1 << 16, io::stdout().lock());
                match render(&mut out).and_then(|()| out.flush()) {
                    // The reader went away (`| head`): as with Output, that
                    // is how a pipeline ends, not an error to report.
                    Err(err) if err.kind() != io::ErrorKind::BrokenPipe => {
                        Err(Error::failed(format!("cannot write to stdout: {err}")))
                    }
                    _ => Ok(()),
                }
            }
            Destination::File(mut file) => {
                let target = file.target().display().to_string();
                let failed =
                    |err: io::Error| Error::failed(format!("cannot write {target}: {err}"));
                render(&mut file).map_err(failed)?;
                file.commit().map_err(failed)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_appears_only_when_delivered_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("report.md");
        let dest = Destination::open(Some(&path)).unwrap();
        let err = dest
            .deliver(|out| {
                out.write_all(b"half")?;
                Err(io::Error::other("disk full"))
            })
            .unwrap_err();
        assert!(err.message.contains("report.md") && err.message.contains("disk full"));
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);

        let dest = Destination::open(Some(&path)).unwrap();
        dest.deliver(|out| out.write_all(b"whole\n")).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "whole\n");
    }

    #[test]
    fn an_unwritable_place_fails_before_reading() {
        let err = Destination::open(Some(Path::new("/nonexistent/dir/r.md")))
            .err()
            .unwrap();
        assert!(err.message.contains("/nonexistent/dir/r.md"), "{err}");
    }
}
