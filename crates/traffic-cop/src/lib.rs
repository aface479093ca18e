//! traffic-cop: every open port mapped to its process, executable, user and
//! systemd unit or container, checked against a whitelist of approved
//! services. Reads `/proc` directly, as `ss -tulpn` does, and speaks the
//! secops record format so its findings flow into reports and alerts.

mod cgroup;
pub mod cli;
mod last_run;
mod monitor;
mod owners;
mod process;
mod records;
mod scan;
mod sock_diag;
mod sockets;
mod users;
pub mod whitelist;

use secops_common::repeat::Repeat;
use secops_common::{Error, Exit, Output};

pub use crate::cli::Args;
use crate::last_run::LastRun;
use crate::monitor::Monitor;
use crate::records::TABLE_COLUMNS;
pub use crate::records::TOOL;
use crate::scan::{ScanOptions, Scanner};
use crate::whitelist::Whitelist;

/// Runs traffic-cop as the command line asks.
pub fn run(args: &Args) -> Result<Exit, Error> {
    let whitelist = args.whitelist.as_deref().map(Whitelist::load).transpose()?;
    let mut out = Output::open(&args.common.output_spec(&TABLE_COLUMNS)?)?;
    let mut scanner = Scanner::new(
        ScanOptions {
            all: args.all,
            profile: args.profile,
        },
        whitelist,
    );
    let mut last_run = args.state_dir.as_deref().map(LastRun::load).transpose()?;
    let mut monitor = Monitor::new(args.repeat.interval.is_some());
    Repeat::new(&args.repeat)?.run(|pass| {
        let scan = scanner.scan()?;
        if pass == 0 {
            let unowned = scan.ports.iter().filter(|p| p.owner.is_none()).count();
            if unowned > 0 && scan.hidden_processes > 0 {
                secops_common::warn!(
                    "{unowned} of {} sockets have no visible process: {} processes of other users cannot be read; run as root to see them",
                    scan.ports.len(),
                    scan.hidden_processes
                );
            }
        }
        let closed = match &mut last_run {
            Some(last_run) => last_run.compare(&scan.ports),
            None => Vec::new(),
        };
        monitor.pass(scan.ports, |rec| out.write(&rec))?;
        closed.iter().try_for_each(|rec| out.write(rec))?;
        out.flush()
    })?;
    let written = out.finish()?;
    if let Some(last_run) = &last_run {
        last_run.save()?;
    }
    Ok(Exit::for_findings(written.worst, args.common.fail_on))
}
