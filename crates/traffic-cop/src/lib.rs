//! traffic-cop: every open port mapped to its process, executable, user and
//! systemd unit or container, checked against a whitelist of approved
//! services. Reads `/proc` directly, as `ss -tulpn` does, and speaks the
//! secops record format so its findings flow into reports and alerts.

mod cgroup;
pub mod cli;
mod listeners;
mod metrics;
mod monitor;
mod owners;
mod process;
mod records;
mod scan;
mod sock_diag;
mod sockets;
mod users;
pub mod whitelist;

use secops_common::prom::{Findings, Passes};
use secops_common::repeat::Repeat;
use secops_common::{Error, Exit, Format, LastRun, Output, OutputSpec};

pub use crate::cli::Args;
use crate::listeners::Listeners;
use crate::metrics::Figures;
use crate::monitor::Monitor;
use crate::records::TABLE_COLUMNS;
pub use crate::records::TOOL;
use crate::scan::{ScanOptions, Scanner};
use crate::whitelist::Whitelist;

/// Runs traffic-cop as the command line asks.
pub fn run(args: &Args) -> Result<Exit, Error> {
    let whitelist = args.whitelist.as_deref().map(Whitelist::load).transpose()?;
    let spec = args.common.output_spec(&TABLE_COLUMNS)?;
    let interval = args.repeat.interval.is_some();
    let mut listeners = match memory(args, &spec)? {
        Some(memory) => Some(Listeners::new(memory)),
        // A loop resolves its own alerts from memory; a single pass with
        // nothing to compare with needs no memory at all.
        None if interval => Some(Listeners::new(LastRun::in_memory())),
        None => None,
    };
    let mut out = Output::open(&spec)?;
    let mut scanner = Scanner::new(
        ScanOptions {
            all: args.all,
            profile: args.profile,
        },
        whitelist,
    );
    let mut monitor = Monitor::new(interval);
    let mut failed = false;
    // The state is kept once a pass's records are out: after each pass on
    // stdout, at the end with --output (the file appears only then), so a
    // run whose output failed reports the same endings next time.
    let mut save = |listeners: &Option<Listeners>| {
        if let Some(Err(err)) = listeners.as_ref().map(Listeners::save) {
            secops_common::diag::error(format_args!(
                "{err}; what ends before the next run may go unreported"
            ));
            failed = true;
            return false;
        }
        true
    };
    // --prom-file: a loop rewrites it after each pass that completed; a
    // single run once its records are out (below).
    let mut prom_passes = Passes::default();
    let mut last_pass = (Findings::default(), Figures::default());
    Repeat::new(&args.repeat)?.run(|pass| {
        let scan = scanner.scan()?;
        let figures = Figures::of(&scan);
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
        let ended = match &mut listeners {
            Some(listeners) => listeners.pass(&scan.ports),
            None => Vec::new(),
        };
        monitor.pass(scan.ports, ended, |rec| out.write(&rec))?;
        out.flush()?;
        let saved = spec.path.is_some() || save(&listeners);
        let findings = out.take_findings();
        if interval && saved {
            prom_passes.note(args.prom.write(TOOL, &findings, figures.exposition()));
        }
        last_pass = (findings, figures);
        Ok(())
    })?;
    let written = out.finish()?;
    if spec.path.is_some() {
        save(&listeners);
    }
    let exit = Exit::of_run(failed, written.worst, args.common.fail_on);
    if interval {
        // A run that failed says so by its own error; the metrics' was
        // warned about.
        let prom = prom_passes.conclude();
        if exit != Exit::Failed {
            prom?;
        }
    } else if exit != Exit::Failed {
        let (findings, figures) = last_pass;
        args.prom.write(TOOL, &findings, figures.exposition())?;
    }
    Ok(exit)
}

/// The memory of the last run, in the state directory; `None` with
/// `--no-state`, and for a look at a table on a terminal without
/// `--state-dir` (an operator's look must not take the endings that cron's
/// next run should report). A default directory that cannot be used costs
/// the endings across runs, not the run; one given with `--state-dir` must
/// work.
fn memory(args: &Args, spec: &OutputSpec) -> Result<Option<LastRun>, Error> {
    let look = spec.format == Format::Table && spec.path.is_none();
    if args.no_state || (look && args.state.state_dir.is_none()) {
        return Ok(None);
    }
    match args.state.dir() {
        Ok(dir) => LastRun::load(&dir, TOOL).map(Some),
        Err(err) if args.state.state_dir.is_none() => {
            secops_common::warn!(
                "{err}; listeners closed and alerts ended since the last run are not reported"
            );
            Ok(None)
        }
        Err(err) => Err(err),
    }
}
