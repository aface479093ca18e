//! Exit statuses and the one error type, so every tool maps failures to the
//! same numbers: 0 nothing found, 1 found something, 2 bad input, 3 the run
//! failed.

use std::fmt;
use std::process::ExitCode;

use crate::severity::Severity;

/// The exit status contract of every tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Exit {
    /// Ran and found nothing at or above `--fail-on`.
    Clean = 0,
    /// Ran and found something at or above `--fail-on`.
    Found = 1,
    /// Bad usage, bad configuration or bad input.
    BadInput = 2,
    /// The run itself failed; partial results were still written.
    Failed = 3,
}

impl Exit {
    /// `Found` when the worst severity written reaches the threshold.
    pub fn for_findings(worst: Option<Severity>, fail_on: Severity) -> Exit {
        match worst {
            Some(worst) if worst >= fail_on => Exit::Found,
            _ => Exit::Clean,
        }
    }

    /// Every tool's status: 3 when the run failed (partial results were
    /// still written), else by the worst severity written.
    pub fn of_run(failed: bool, worst: Option<Severity>, fail_on: Severity) -> Exit {
        if failed {
            Exit::Failed
        } else {
            Exit::for_findings(worst, fail_on)
        }
    }
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> ExitCode {
        ExitCode::from(exit as u8)
    }
}

/// A failure that ends the run, with the exit status it maps to and one line
/// for the operator. Callers give the context (file, line, field) in the
/// message, so there is deliberately no blanket `From<io::Error>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub exit: Exit,
    pub message: String,
    /// The tool already wrote a record about this failure (fim-check's
    /// `fim.baseline_invalid`), so no generic `run.failed` is added.
    pub recorded: bool,
}

impl Error {
    /// Bad usage, configuration or input: exit 2.
    pub fn bad_input(message: impl fmt::Display) -> Error {
        Error {
            exit: Exit::BadInput,
            message: message.to_string(),
            recorded: false,
        }
    }

    /// The run failed (permissions, a missing dependency, an I/O error): exit 3.
    pub fn failed(message: impl fmt::Display) -> Error {
        Error {
            exit: Exit::Failed,
            message: message.to_string(),
            recorded: false,
        }
    }

    /// A file the operator named (`-o`, `--prom-file`) that cannot be
    /// written: a path that cannot be is their mistake (2); a disk that is
    /// full, read-only or failing is a failed run (3).
    pub fn cannot_write(path: &std::path::Path, err: &std::io::Error) -> Error {
        use std::io::ErrorKind;
        let message = format!("cannot write {}: {err}", path.display());
        match err.kind() {
            ErrorKind::NotFound
            | ErrorKind::NotADirectory
            | ErrorKind::IsADirectory
            | ErrorKind::PermissionDenied
            | ErrorKind::InvalidInput => Error::bad_input(message),
            _ => Error::failed(message),
        }
    }

    /// Marks the failure as already said in a record of the tool's own.
    pub fn recorded(self) -> Error {
        Error {
            recorded: true,
            ..self
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// Context for an error from below (I/O, errno, a parser):
/// `fs::read(&path).context(|| format!("cannot read {}", path.display()))?`
/// fails the run (exit 3) with one line that says what was being done and
/// why it failed.
pub trait Context<T> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T, Error>;
}

impl<T, E: fmt::Display> Context<T> for Result<T, E> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T, Error> {
        self.map_err(|err| Error::failed(format!("{}: {err}", what())))
    }
}

/// The result every tool's `run` returns.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn findings_exit_only_at_or_above_the_threshold() {
        assert_eq!(Exit::for_findings(None, Severity::Info), Exit::Clean);
        assert_eq!(
            Exit::for_findings(Some(Severity::Medium), Severity::High),
            Exit::Clean
        );
        assert_eq!(
            Exit::for_findings(Some(Severity::High), Severity::High),
            Exit::Found
        );
        assert_eq!(
            Exit::for_findings(Some(Severity::Critical), Severity::Low),
            Exit::Found
        );
    }

    #[test]
    fn a_failed_run_outranks_its_findings() {
        let critical = Some(Severity::Critical);
        assert_eq!(Exit::of_run(true, None, Severity::High), Exit::Failed);
        assert_eq!(Exit::of_run(true, critical, Severity::High), Exit::Failed);
        assert_eq!(Exit::of_run(false, critical, Severity::High), Exit::Found);
        let err = std::fs::read("/nonexistent/x")
            .context(|| "cannot read /nonexistent/x".into())
            .unwrap_err();
        assert_eq!(err.exit, Exit::Failed);
        assert!(
            err.message
                .starts_with("cannot read /nonexistent/x: No such file")
        );
    }

    #[test]
    fn worse_outcomes_compare_greater() {
        assert!(
            Exit::Failed > Exit::BadInput
                && Exit::BadInput > Exit::Found
                && Exit::Found > Exit::Clean
        );
    }
}
