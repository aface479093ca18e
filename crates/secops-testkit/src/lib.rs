//! The harness every tool's tests share, in the spirit of uutils'
//! `tests/common/util.rs`: tests run the real binaries against real
//! programs on loopback, and what that takes is written once here.
//!
//! - [`run`] and [`run_with_stdin`] run a tool; [`assert_exit`],
//!   [`records`], [`of_kind`] and [`stderr`] read what it did.
//! - [`tool`] and [`tool_path`] find a sibling tool's binary in
//!   `target/<profile>/`, never by a nested `cargo build`.
//! - [`require`] fails a test whose real program is missing, naming the
//!   package to install.
//! - [`free_port`], [`closed_port`] and [`PortBlock`] hand out loopback
//!   ports; [`wait_until`] polls with one patience for every test.
//! - [`Daemon`] is any program serving on loopback, killed on drop;
//!   [`Sshd`] is a real OpenSSH server with generated keys.
//! - [`parse_csv`] reads CSV back with Python's `csv` module, an
//!   independent reader, as a spreadsheet import would.
//! - [`heartbeat_log`] is a log with a steady rhythm to break.
//! - [`Tmpfs`], [`EioFs`] and [`KillSoak`] are the faults a writer must
//!   survive: a full or read-only disk, EIO, and kill -9.
//! - [`Namespace`] is a private mount namespace whose tmpfs a test fills
//!   to exact percentages ([`percent_tmpfs`]).
//! - [`Service`] is a stand-in for a receiver's web service (Twilio,
//!   PagerDuty, Opsgenie, Slack, Teams, Telegram, Matrix, ntfy) over HTTPS
//!   with a CA [`certs`] makes, checking requests as the service would.
//! - [`notify`] pipes a tool's records into the real secops-notify and
//!   returns what it sent; [`still_firing`] reads what its state holds.
//!
//! A dev-dependency only.

mod csv;
mod daemon;
mod faults;
mod logs;
mod namespace;
mod net;
mod notify;
mod programs;
mod prom;
mod rng;
mod run;
mod services;
mod sshd;
mod wait;
mod webhook;

pub use crate::csv::parse_csv;
pub use crate::daemon::Daemon;
pub use crate::faults::{EioFs, Fate, KillSoak, Tmpfs, hidden_files};
pub use crate::logs::{auth_log, heartbeat_log};
pub use crate::namespace::{Namespace, page_size, percent_tmpfs, quote};
pub use crate::net::{PortBlock, closed_port, free_port};
pub use crate::notify::{Message, Sent, notify, still_firing};
pub use crate::programs::{bin_dir, require, tool, tool_path};
pub use crate::prom::{
    assert_promtool_accepts, assert_promtool_clean, findings, firing, unix_now, value, version,
};
pub use crate::rng::Rng;
pub use crate::run::{assert_exit, of_kind, only_failure, records, run, run_with_stdin, stderr};
pub use crate::services::{Certs, Seen, Service, certs, certs_for, certs_of, python, serving};
pub use crate::sshd::{Sshd, SshdBuilder, client_config};
pub use crate::wait::{PATIENCE, wait_until};
pub use crate::webhook::Webhook;
