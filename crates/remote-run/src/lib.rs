//! remote-run: a command or secops tool run on many servers over the system
//! OpenSSH, in parallel, with one stream of records: a `remote.result` per
//! host as soon as it finishes, and the remote tools' own records re-emitted
//! with `host` set to the inventory name. `push` and `fetch` move files the
//! same way, one `remote.push` or `remote.fetch` record per host (and a
//! `remote.fetch.file` per file of a fetched directory).

mod capture;
pub mod classify;
pub mod cli;
mod control;
mod fdlimit;
mod fetch_tree;
mod interrupt;
mod passthrough;
mod quote;
mod records;
mod ssh;
mod transfer;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread;

use secops_common::{Error, Exit, Output, Record};
use secops_inventory::{Inventory, Selection, Server, hostrange};

use crate::classify::Status;
pub use crate::cli::Args;
use crate::cli::{Action, FleetArgs};
use crate::control::Control;
use crate::records::TABLE_COLUMNS;
pub use crate::records::TOOL;
use crate::ssh::SshOptions;

/// Runs remote-run as the command line asks.
pub fn run(args: &Args) -> Result<Exit, Error> {
    let fleet = &args.fleet;
    let hosts = hosts(fleet)?;
    let control = match (&args.action, fleet.persist) {
        (Some(Action::Close), _) | (_, Some(_)) => {
            Some(Control::create(fleet.state_dir.as_deref(), fleet.persist)?)
        }
        _ => Control::existing(fleet.state_dir.as_deref()),
    };
    let opts = SshOptions {
        ssh_config: fleet.ssh_config.clone(),
        connect_timeout: fleet.connect_timeout,
        timeout: fleet.timeout,
        accept_new_hostkeys: fleet.accept_new_hostkeys,
        max_output: fleet.max_output,
        control,
    };
    let parallel = fdlimit::bounded_parallelism(usize::from(fleet.parallel).min(hosts.len()));
    let mut out = Output::open(&args.common.output_spec(&TABLE_COLUMNS)?)?;
    interrupt::install()?;
    let mut tally = Tally::default();
    let mut written = Ok(());
    let mut emit = |host: &str, status: Status, records: &[Record]| {
        tally.add(status);
        secops_common::info!("{host}: {}", status.as_str());
        if written.is_ok() {
            written = records
                .iter()
                .try_for_each(|rec| out.write(rec))
                .and_then(|()| out.flush());
        }
    };
    match &args.action {
        None => {
            let shown = args.command.join(" ");
            let remote = ssh::remote_command(&quote::command_line(&args.command), fleet.timeout);
            fan_out(
                &hosts,
                parallel,
                |s| ssh::run(s, &opts, &remote),
                |server, mut outcome| {
                    let result = records::result(&server.name, &shown, &outcome);
                    let mut recs = outcome.stdout.take().map_or_else(Vec::new, |s| s.records);
                    recs.push(result);
                    emit(&server.name, outcome.status, &recs);
                },
            );
        }
        Some(Action::Push {
            local,
            remote,
            mode,
        }) => {
            let source = transfer::Source::open(local, *mode)?;
            fan_out(
                &hosts,
                parallel,
                |s| transfer::push(s, &opts, &source, remote),
                |server, rec| {
                    emit(&server.name, rec.0, &[rec.1]);
                },
            );
        }
        Some(Action::Fetch { remote, dir }) => {
            let target = transfer::Target::new(remote, dir)?;
            fan_out(
                &hosts,
                parallel,
                |s| transfer::fetch(s, &opts, &target),
                |server, (status, recs)| {
                    emit(&server.name, status, &recs);
                },
            );
        }
        Some(Action::Close) => {
            fan_out(
                &hosts,
                parallel,
                |s| ssh::close(s, &opts),
                |server, closed| {
                    emit(
                        &server.name,
                        Status::Ok,
                        &[records::master(&server.name, closed)],
                    );
                },
            );
        }
    }
    written?;
    let summary = out.finish()?;
    Ok(tally.exit(summary.worst, args.common.fail_on))
}

/// The inventory and patterns, resolved to the hosts to run on.
fn hosts(fleet: &FleetArgs) -> Result<Vec<Server>, Error> {
    let inventory = fleet
        .inventory
        .as_deref()
        .map(Inventory::load)
        .transpose()?;
    let names = fleet
        .hosts
        .as_deref()
        .map(hostrange::expand)
        .transpose()
        .map_err(|err| Error::bad_input(format!("--hosts: {err}")))?;
    secops_inventory::select(
        inventory.as_ref(),
        &Selection {
            group: fleet.group.as_deref(),
            names: names.as_deref(),
            limit: fleet.limit.as_deref(),
        },
    )
}

/// How the hosts ended, for the exit status.
#[derive(Default)]
struct Tally {
    run_failed: bool,
    command_failed: bool,
}

impl Tally {
    fn add(&mut self, status: Status) {
        self.run_failed |= status.is_run_failure();
        self.command_failed |= status == Status::Failed;
    }

    /// 3 when a host did not run to completion, else 1 when a command
    /// failed or a record reached `--fail-on`, else 0.
    fn exit(
        &self,
        worst: Option<secops_common::Severity>,
        fail_on: secops_common::Severity,
    ) -> Exit {
        if self.run_failed {
            Exit::Failed
        } else if self.command_failed {
            Exit::Found
        } else {
            Exit::for_findings(worst, fail_on)
        }
    }
}

/// Runs `work` on every host with at most `parallel` at once, calling
/// `done` on this thread as each one finishes, so results stream in
/// completion order.
fn fan_out<T: Send>(
    hosts: &[Server],
    parallel: usize,
    work: impl Fn(&Server) -> T + Sync,
    mut done: impl FnMut(&Server, T),
) {
    let next = AtomicUsize::new(0);
    let (tx, rx) = mpsc::channel();
    thread::scope(|scope| {
        for _ in 0..parallel {
            let tx = tx.clone();
            let (next, work) = (&next, &work);
            scope.spawn(move || {
                while let Some(server) = hosts.get(next.fetch_add(1, Ordering::Relaxed)) {
                    if tx.send((server, work(server))).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        for (server, outcome) in rx {
            done(server, outcome);
        }
    });
}
