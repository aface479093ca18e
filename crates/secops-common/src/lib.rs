//! What every secops tool shares, and nothing only one of them needs: the
//! record format and its alert contract, run-to-run memory, severities, output writers, the record reader, the common
//! command-line flags, exit statuses, atomic files, the `--interval` loop and
//! its signal handling, the state-directory rules, the modes of the files the
//! tools create and Prometheus textfile output.

pub mod alert;
pub mod append;
pub mod atomic;
pub mod cli;
pub mod config;
pub mod diag;
pub mod exit;
pub mod input;
pub mod last_run;
pub mod output;
pub mod perms;
pub mod prom;
pub mod record;
pub mod repeat;
pub mod severity;
pub mod signals;
pub mod state;
pub mod text;

pub use alert::{Alerting, Stage};
pub use exit::{Context, Error, Exit, Result};
pub use last_run::LastRun;
pub use output::{Format, Output, OutputSpec};
pub use record::Record;
pub use severity::Severity;
