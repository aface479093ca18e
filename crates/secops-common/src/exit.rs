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
}

impl Error {
    /// Bad usage, configuration or input: exit 2.
    pub fn bad_input(message: impl fmt::Display) -> Error {
        Error {
            exit: Exit::BadInput,
            message: message.to_string(),
        }
    }

    /// The run failed (permissions, a missing dependency, an I/O error): exit 3.
    pub fn failed(message: impl fmt::Display) -> Error {
        Error {
            exit: Exit::Failed,
            message: message.to_string(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

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
    fn worse_outcomes_compare_greater() {
        assert!(
            Exit::Failed > Exit::BadInput
                && Exit::BadInput > Exit::Found
                && Exit::Found > Exit::Clean
        );
    }
}
