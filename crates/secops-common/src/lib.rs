//! What every secops tool shares, and nothing only one of them needs: the
//! record format, severities, output writers, the record reader, the common
//! command-line flags, exit statuses, atomic files, the `--interval` loop and
//! its signal handling, the state-directory rules and Prometheus textfile output.

pub mod atomic;
pub mod cli;
pub mod config;
pub mod diag;
pub mod exit;
pub mod input;
pub mod output;
pub mod prom;
pub mod record;
pub mod repeat;
pub mod severity;
pub mod signals;
pub mod state;
pub mod text;

pub use exit::{Error, Exit, Result};
pub use output::{Format, Output, OutputSpec};
pub use record::Record;
pub use severity::Severity;
