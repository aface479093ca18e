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

/// Receives the tar stream of a fetched directory as `fetch` does,
/// writing what it may under `top/root`: the entry point of the fuzz
/// targets and tests. Returns how many entries were copied and how many
/// skipped or failed, and the error that ended the stream, if any.
pub fn receive_tree(
    stream: impl std::io::Read,
    top: &std::path::Path,
    root: &std::path::Path,
) -> (usize, usize, Option<String>) {
    let received = fetch_tree::receive(stream, top, root);
    let copied = received
        .entries
        .iter()
        .filter(|e| matches!(e.outcome, fetch_tree::Outcome::Copied { .. }))
        .count();
    let other = received.entries.len() - copied;
    (copied, other, received.error)
}

/// Runs remote-run as the command line asks.
pub fn run(args: &Args) -> Result<Exit, Error> {
    let fleet = &args.fleet;
    let hosts = hosts(fleet)?;
    if let Some(Action::List) = args.action {
        return list(&hosts);
    }
    // Said once, not as every host "unreachable".
    if !ssh::on_path("ssh") {
        return Err(Error::failed(
            "ssh is not on PATH: remote-run drives the system OpenSSH client; install it (apt-get install openssh-client) or put its directory on PATH",
        ));
    }
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
    let spec = args.common.output_spec(&TABLE_COLUMNS)?;
    // A table is one table, rendered at the end; the streaming formats are
    // flushed as hosts finish, for the pipeline reading them.
    let streaming = !matches!(
        spec.format,
        secops_common::Format::Table | secops_common::Format::Markdown
    );
    let mut out = Output::open(&spec)?;
    interrupt::install()?;
    let mut tally = Tally::default();
    let mut written = Ok(());
    let mut unflushed = 0usize;
    // Records written as they come: the remote tools' own (`Event::Record`,
    // mid-run) and each host's outcome with its status (`Event::Host`).
    // Output is flushed (a table block rendered) when a host ends, and
    // every FLUSH_EVERY records between, so a table never buffers more.
    let mut handle = |event: Event<Vec<Record>>| {
        let (records, end) = match event {
            Event::Record(rec) => (vec![rec], false),
            Event::Host(host, status, failed_here, recs) => {
                tally.add(status, failed_here);
                secops_common::info!("{host}: {}", status.as_str());
                (recs, true)
            }
        };
        unflushed += records.len();
        if written.is_ok() {
            written = records.iter().try_for_each(|rec| out.write(rec));
        }
        if written.is_ok() && streaming && (end || unflushed >= FLUSH_EVERY) {
            unflushed = 0;
            written = out.flush();
        }
    };
    match &args.action {
        None => {
            let shown = args.command.join(" ");
            let remote = ssh::remote_command(&quote::command_line(&args.command), fleet.timeout);
            fan_out(
                &hosts,
                parallel,
                |s, sink| ssh::run(s, &opts, &remote, sink),
                |server, outcome| {
                    let result = records::result(&server.name, &shown, &outcome);
                    Event::Host(&server.name, outcome.status, false, vec![result])
                },
                &mut handle,
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
                |s, _| transfer::push(s, &opts, &source, remote),
                |server, (status, rec)| Event::Host(&server.name, status, false, vec![rec]),
                &mut handle,
            );
        }
        Some(Action::Fetch { remote, dir }) => {
            let target = transfer::Target::new(remote, dir)?;
            fan_out(
                &hosts,
                parallel,
                |s, sink| transfer::fetch(s, &opts, &target, sink),
                |server, fetched| {
                    let transfer::Fetched {
                        status,
                        failed_here,
                        records,
                    } = fetched;
                    Event::Host(&server.name, status, failed_here, records)
                },
                &mut handle,
            );
        }
        Some(Action::List) => unreachable!("list returns before any host is run"),
        Some(Action::Close) => {
            fan_out(
                &hosts,
                parallel,
                |s, _| ssh::close(s, &opts),
                |server, closed| {
                    let rec = records::master(&server.name, closed);
                    Event::Host(&server.name, Status::Ok, false, vec![rec])
                },
                &mut handle,
            );
        }
    }
    written?;
    let summary = out.finish()?;
    Ok(tally.exit(summary.worst, args.common.fail_on))
}

/// `list`: the hosts' names on stdout, one a line.
fn list(hosts: &[Server]) -> Result<Exit, Error> {
    use std::io::Write;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    hosts
        .iter()
        .try_for_each(|h| writeln!(out, "{}", h.name))
        .and_then(|()| out.flush())
        .map_err(|err| Error::failed(format!("cannot write the host list: {err}")))?;
    Ok(Exit::Clean)
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
    let hosts = secops_inventory::select(
        inventory.as_ref(),
        &Selection {
            group: fleet.group.as_deref(),
            names: names.as_deref(),
            limit: fleet.limit.as_deref(),
        },
    )?;
    if let Some(host) = hosts.iter().find(|h| h.connection.is_some()) {
        return Err(Error::bad_input(format!(
            "host {}: ansible_connection {:?} is not supported, remote-run connects over ssh only; leave it out (--limit 'all:!{}')",
            host.name,
            host.connection.as_deref().unwrap_or_default(),
            host.name
        )));
    }
    Ok(hosts)
}

/// How the hosts ended, for the exit status.
#[derive(Default)]
struct Tally {
    run_failed: bool,
    command_failed: bool,
}

impl Tally {
    /// A host's end; `failed_here` when remote-run itself could not write
    /// what the host sent (a full, read-only or failing disk).
    fn add(&mut self, status: Status, failed_here: bool) {
        self.run_failed |= status.is_run_failure() || failed_here;
        self.command_failed |= status == Status::Failed;
    }

    /// 3 when a host did not run to completion or remote-run could not
    /// write what it fetched, else 1 when a command failed or a record
    /// reached `--fail-on`, else 0.
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

/// What [`fan_out`] reports, in the order it happens.
enum Event<'h, T> {
    /// A record a host's command printed, handed on mid-run.
    Record(Record),
    /// A host finished: its name, how it ended, whether remote-run itself
    /// failed on it (writing what it fetched), and what to write for it.
    Host(&'h str, Status, bool, T),
}

/// Records in flight between the hosts' readers and the writer. A reader
/// that finds the queue full waits (and so, through its pipe, does the
/// remote command), so a slow consumer of remote-run's output costs no
/// memory; each slot holds one record of at most `passthrough::MAX_LINE`.
const IN_FLIGHT: usize = 8;

/// Records written between two flushes at most (a table renders a block
/// of them at each flush).
const FLUSH_EVERY: usize = 1000;

/// Hands a host's records to the writer as they come.
pub type Sink = Box<dyn FnMut(Record) + Send>;

/// Runs `work` on every host with at most `parallel` at once, giving it a
/// [`Sink`] for the records its command prints, and calls `handle` on
/// this thread with each such record as it comes and with `done`'s event
/// for each host as it finishes, so results stream in completion order
/// and a host's records always come before its own outcome.
fn fan_out<'h, T: Send + 'static>(
    hosts: &'h [Server],
    parallel: usize,
    work: impl Fn(&Server, Sink) -> T + Sync,
    done: impl Fn(&'h Server, T) -> Event<'h, Vec<Record>>,
    handle: &mut impl FnMut(Event<'h, Vec<Record>>),
) {
    enum Message<T> {
        Record(Record),
        Done(usize, T),
    }
    let next = AtomicUsize::new(0);
    let (tx, rx) = mpsc::sync_channel::<Message<T>>(IN_FLIGHT);
    thread::scope(|scope| {
        for _ in 0..parallel {
            let tx = tx.clone();
            let (next, work) = (&next, &work);
            scope.spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(server) = hosts.get(i) else { break };
                    let records = tx.clone();
                    let sink: Sink = Box::new(move |rec| {
                        let _ = records.send(Message::Record(rec));
                    });
                    if tx.send(Message::Done(i, work(server, sink))).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        for message in rx {
            match message {
                Message::Record(rec) => handle(Event::Record(rec)),
                Message::Done(i, outcome) => handle(done(&hosts[i], outcome)),
            }
        }
    });
}
