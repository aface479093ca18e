//! remote-run: a command or secops tool run on many servers over the system
//! OpenSSH, in parallel, with one stream of records: a `remote.result` per
//! host as soon as it finishes, and the remote tools' own records re-emitted
//! with `host` set to the inventory name.

mod capture;
pub mod classify;
pub mod cli;
mod fdlimit;
pub mod hostrange;
pub mod inventory;
mod passthrough;
mod quote;
mod records;
mod ssh;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread;

use secops_common::{Error, Exit, Output};

pub use crate::cli::Args;
use crate::inventory::{Inventory, Selection, Server};
use crate::records::TABLE_COLUMNS;
pub use crate::records::TOOL;
use crate::ssh::{Outcome, SshOptions};

/// Runs remote-run as the command line asks.
pub fn run(args: &Args) -> Result<Exit, Error> {
    let inventory = args.servers.as_deref().map(Inventory::load).transpose()?;
    let names = args
        .hosts
        .as_deref()
        .map(hostrange::expand)
        .transpose()
        .map_err(|err| Error::bad_input(format!("--hosts: {err}")))?;
    let hosts = inventory::select(
        inventory.as_ref(),
        &Selection {
            group: args.group.as_deref(),
            names: names.as_deref(),
        },
    )?;
    let opts = SshOptions {
        ssh_config: args.ssh_config.clone(),
        connect_timeout: args.connect_timeout,
        timeout: args.timeout,
        accept_new_hostkeys: args.accept_new_hostkeys,
        max_output: args.max_output,
    };
    let shown = args.command.join(" ");
    let remote = ssh::remote_command(&quote::command_line(&args.command), args.timeout);
    let mut out = Output::open(&args.common.output_spec(&TABLE_COLUMNS)?)?;
    let (mut run_failed, mut command_failed) = (false, false);
    let mut written = Ok(());
    fan_out(
        &hosts,
        fdlimit::bounded_parallelism(usize::from(args.parallel).min(hosts.len())),
        &opts,
        &remote,
        |server, outcome| {
            run_failed |= outcome.status.is_run_failure();
            command_failed |= outcome.status == classify::Status::Failed;
            secops_common::info!("{}: {}", server.name, outcome.status.as_str());
            if written.is_ok() {
                written = outcome
                    .stdout
                    .records
                    .iter()
                    .try_for_each(|rec| out.write(rec))
                    .and_then(|()| out.write(&records::result(&server.name, &shown, &outcome)))
                    .and_then(|()| out.flush());
            }
        },
    );
    written?;
    let passed_through = out.finish()?;
    if run_failed {
        return Ok(Exit::Failed);
    }
    let findings = Exit::for_findings(passed_through.worst, args.common.fail_on);
    Ok(if command_failed {
        Exit::Found
    } else {
        findings
    })
}

/// Runs every host with at most `parallel` at once, calling `done` on this
/// thread as each one finishes, so results stream in completion order.
fn fan_out(
    hosts: &[Server],
    parallel: usize,
    opts: &SshOptions,
    remote: &str,
    mut done: impl FnMut(&Server, Outcome),
) {
    let next = AtomicUsize::new(0);
    let (tx, rx) = mpsc::channel();
    thread::scope(|scope| {
        for _ in 0..parallel {
            let tx = tx.clone();
            let next = &next;
            scope.spawn(move || {
                while let Some(server) = hosts.get(next.fetch_add(1, Ordering::Relaxed)) {
                    if tx.send((server, ssh::run(server, opts, remote))).is_err() {
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
