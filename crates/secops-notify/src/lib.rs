//! secops-notify: delivers secops records as alerts people do not mute.
//!
//! Firing records at or above `--min-severity` become alerts, keyed by the
//! host and the `alert_id` the writing tool gave them ([`identity`]);
//! observations never do; the [`ledger`] in the state directory decides
//! what each sink is owed (new alerts, repeats after `--repeat-interval`,
//! escalations, recoveries) and remembers it across runs; records that
//! arrive together are [`grouping`] into one [`digest`] per sink; each
//! [`sink`] (email, SMS, pagers, chat, webhooks, command, syslog) gets it,
//! all at once, with bounded retries ([`delivery`]), and every delivery
//! writes a `notify.sent` or
//! `notify.failed` record. A state that cannot be saved (a full, read-only
//! or failing disk) never keeps an alert from going out: the run goes on
//! from memory and says so with a `notify.state_failed` and exit 3.

pub mod cli;
mod delivery;
mod digest;
mod grouping;
pub mod identity;
mod ledger;
mod receivers;
mod records;
pub mod secret;
pub mod settings;
mod sink;
mod tls;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use secops_common::{Error, Exit, Output, Record, Severity};

pub use crate::cli::Args;
use crate::delivery::{Delivery, Policy, deliver};
use crate::digest::Digest;
use crate::grouping::Group;
use crate::identity::identify;
use crate::ledger::{Arrival, Due, Ledger, Receipt};
pub use crate::records::TOOL;
use crate::records::{
    TABLE_COLUMNS, delivery_record, held_record, state_failed_record, summary_record,
};
use crate::settings::Settings;
use crate::sink::Sink;

/// Runs secops-notify as the command line asks.
pub fn run(args: &Args) -> Result<Exit, Error> {
    let settings = Settings::load(args)?;
    let sinks = Sink::open_all(&settings)?;
    if sinks.is_empty() {
        return Err(Error::bad_input(
            "nowhere to send alerts: give --smtp with --to, a webhook, Slack or Teams URL, --sms-to, a PagerDuty or Opsgenie key, --telegram-chat, --matrix-room, --ntfy-url, --http-url, --exec, or --syslog (or a --config naming one; /etc/secops/notify.yaml is read when it exists)",
        ));
    }
    for sink in &sinks {
        secops_common::info!(
            "delivering {} and above to {}",
            sink.min_severity,
            sink.target()
        );
    }
    // A state directory that cannot be made (a read-only /var/lib) must
    // not keep the alerts from going out: the run goes on without saving.
    let (dir, unusable) = match secops_common::state::state_dir(settings.state_dir.as_deref()) {
        Ok(dir) => (dir, None),
        Err(err) if err.exit == Exit::Failed => (
            settings
                .state_dir
                .clone()
                .unwrap_or_else(secops_common::state::default_state_dir),
            Some(err),
        ),
        Err(err) => return Err(err),
    };
    let started = Instant::now();
    let mut notifier = Notifier {
        ledger: Ledger::load(&dir)?,
        out: Output::open(&args.common.output_spec(&TABLE_COLUMNS)?)?,
        settings,
        sinks,
        worst: None,
        failed: false,
        failures: Vec::new(),
        unsaved: false,
        sent: 0,
        undelivered: Vec::new(),
    };
    if let Some(err) = unusable {
        notifier.unsaved(err)?;
    }
    let stats = grouping::run_groups(&args.inputs, notifier.settings.group_wait, &mut notifier)?;
    let summary = summary_record(
        stats.records,
        notifier.sent,
        &notifier.undelivered,
        started.elapsed(),
    );
    notifier.out.write(&summary)?;
    notifier.out.finish()?;
    let run = Exit::of_run(notifier.failed, notifier.worst, args.common.fail_on);
    Ok(stats.conclude().max(run))
}

struct Notifier {
    settings: Settings,
    sinks: Vec<Sink>,
    ledger: Ledger,
    out: Output,
    /// The worst severity read, for --fail-on.
    worst: Option<Severity>,
    failed: bool,
    /// Per sink, the message whose delivery failed last in this run and
    /// when (see [`Failure`]).
    failures: Vec<(&'static str, Failure)>,
    /// The state could not be saved, and a `notify.state_failed` said so;
    /// cleared when a save succeeds again (in a long-running stream).
    unsaved: bool,
    /// Messages delivered, and the `notify.failed` and `notify.held`
    /// records written, for the run's `notify.summary`.
    sent: u64,
    undelivered: Vec<Record>,
}

impl Notifier {
    /// The outcome of a change to the ledger. One that could not be saved
    /// is made in memory all the same, so the run still sends what it
    /// owes; it writes one `notify.state_failed` (per spell of failing
    /// saves) and makes the run exit 3. Anything else ends the run.
    fn saved(&mut self, result: Result<(), Error>) -> Result<(), Error> {
        match result {
            Ok(()) => {
                self.unsaved = false;
                Ok(())
            }
            Err(err) if err.exit == Exit::Failed => self.unsaved(err),
            Err(err) => Err(err),
        }
    }

    fn unsaved(&mut self, err: Error) -> Result<(), Error> {
        self.failed = true;
        if self.unsaved {
            return Ok(());
        }
        self.unsaved = true;
        let rec = state_failed_record(self.ledger.path(), &err.message);
        secops_common::diag::error(format_args!("{}", rec.message));
        self.out.write(&rec)?;
        self.out.flush()
    }
}

impl Notifier {
    /// Whether `due` is to be sent to `name` now: not when nothing is due,
    /// nor when it all failed after every try a moment ago (see
    /// [`Failure`]); each says why on stderr.
    fn owed_now(&self, name: &str, due: &Due<'_>) -> bool {
        if due.is_empty() {
            secops_common::info!("{name}: nothing due");
            return false;
        }
        let failure = self
            .failures
            .iter()
            .find(|(failed, _)| *failed == name)
            .map(|(_, failure)| failure);
        if let Some(failure) = failure
            && failure.at.elapsed() < self.settings.repeat_interval
            && failure.sent.covers(due)
        {
            secops_common::info!(
                "{name}: what it is owed already failed {} ago after all tries; it stays owed for the next run",
                humantime::format_duration(Duration::from_secs(failure.at.elapsed().as_secs()))
            );
            return false;
        }
        true
    }
}

/// A message that failed after all its tries. It stays owed, but this run
/// does not send it again (each message gets `--attempts` tries, not that
/// many per flush: a group sent at `--group-wait` and the end of input
/// would otherwise try a dead sink twice as often) until something new is
/// owed to the sink, or `--repeat-interval` has passed in a long-running
/// stream. The next run sends it.
struct Failure {
    sent: Receipt,
    at: Instant,
}

impl Group for Notifier {
    type Item = Arrival;

    fn admit(&mut self, rec: Record) -> Option<Arrival> {
        self.worst = self.worst.max(Some(rec.severity));
        let id = identify(&rec)?;
        let floor = self.sinks.iter().map(|s| s.min_severity).min();
        (floor.is_some_and(|floor| rec.severity >= floor) || id.ends)
            .then(|| Arrival::new(&rec, id))
    }

    /// Marks what each sink is owed and saves it before anything is sent.
    fn absorb(&mut self, arrivals: Vec<Arrival>) -> Result<(), Error> {
        let now = unix_now();
        let names: Vec<(&'static str, Severity)> = self
            .sinks
            .iter()
            .map(|s| (s.name, s.min_severity))
            .collect();
        let absorbed = self
            .ledger
            .absorb(arrivals, &names, now, self.settings.repeat_interval);
        self.saved(absorbed)
    }

    /// Sends each sink what it is owed, all sinks at once (a slow or
    /// failing one holds up no other); a debt is cleared only after its
    /// send succeeded. A capped sink that has had its hourly messages is
    /// skipped, and what it was owed is noted as held back.
    fn flush(&mut self) -> Result<(), Error> {
        let now = unix_now();
        let policy = Policy {
            attempts: self.settings.attempts,
            retry_delay: self.settings.retry_delay,
        };
        // A capped sink that has had its messages for the hour sends
        // nothing: what it is owed is noted as held back.
        let mut capped = Vec::new();
        for i in 0..self.sinks.len() {
            let name = self.sinks[i].name;
            let Some(cap) = self.sinks[i].max_per_hour else {
                continue;
            };
            if self.ledger.sent_lately(name, now) < cap as usize {
                continue;
            }
            capped.push(i);
            let due = self.ledger.due(name);
            if !self.owed_now(name, &due) {
                continue;
            }
            let receipt = due.receipt();
            let firing = due.firing.len();
            drop(due);
            let rec = held_record(&self.sinks[i], firing, cap);
            secops_common::warn!("{}", rec.message);
            self.out.write(&rec)?;
            self.undelivered.push(rec);
            let held = self.ledger.hold(name, &receipt, now);
            self.saved(held)?;
        }
        // What every other sink is owed, each worked out once.
        let mut sending = Vec::new();
        let mut dues = Vec::new();
        for i in (0..self.sinks.len()).filter(|i| !capped.contains(i)) {
            let due = self.ledger.due(self.sinks[i].name);
            if self.owed_now(self.sinks[i].name, &due) {
                sending.push(i);
                dues.push(due);
            }
        }
        if sending.is_empty() {
            drop(dues);
            return self.out.flush();
        }
        let digests: Vec<Digest<'_>> = sending
            .iter()
            .zip(&dues)
            .map(|(&i, due)| {
                let held = self.ledger.held(self.sinks[i].name);
                Digest::new(due, self.settings.max_items, held)
            })
            .collect();
        let (sinks, redactor) = (&self.sinks, &self.settings.redactor);
        for (&i, digest) in sending.iter().zip(&digests) {
            secops_common::info!(
                "{}: sending {} alert(s) and {} recovery notice(s) to {}",
                sinks[i].name,
                digest.firing_count(),
                digest.resolved_count(),
                sinks[i].target()
            );
        }
        let deliveries: Vec<Delivery> = if let ([i], [digest]) = (&sending[..], &digests[..]) {
            // One sink: nothing to wait beside, so no thread.
            vec![deliver(&sinks[*i], digest, policy, redactor)]
        } else {
            std::thread::scope(|scope| {
                let running: Vec<_> = sending
                    .iter()
                    .zip(&digests)
                    .map(|(&i, digest)| {
                        let sink = &sinks[i];
                        scope.spawn(move || deliver(sink, digest, policy, redactor))
                    })
                    .collect();
                running
                    .into_iter()
                    .map(|thread| {
                        thread.join().unwrap_or_else(|_| Delivery {
                            attempts: 1,
                            error: Some("the delivery thread panicked".into()),
                        })
                    })
                    .collect()
            })
        };
        // The digests and what is due borrow the ledger, which settling
        // changes: what was sent is kept as its keys, and the rest is
        // freed before the ledger (and then the records) grow again.
        let settled: Vec<(usize, Record, Receipt, Delivery)> = sending
            .iter()
            .zip(&digests)
            .zip(&dues)
            .zip(deliveries)
            .map(|(((&i, digest), due), delivery)| {
                let rec = delivery_record(&self.sinks[i], digest, &delivery);
                (i, rec, due.receipt(), delivery)
            })
            .collect();
        drop(digests);
        drop(dues);
        for (i, rec, receipt, delivery) in settled {
            let (name, capped) = (self.sinks[i].name, self.sinks[i].max_per_hour.is_some());
            self.failures.retain(|(failed, _)| *failed != name);
            if delivery.error.is_none() {
                let paid = self.ledger.paid(name, &receipt, now, capped);
                // Said before a failure to save it is: it was sent.
                self.out.write(&rec)?;
                self.sent += 1;
                self.saved(paid)?;
            } else {
                self.failed = true;
                secops_common::diag::error(format_args!("{}", rec.message));
                self.failures.push((
                    name,
                    Failure {
                        sent: receipt,
                        at: Instant::now(),
                    },
                ));
                self.out.write(&rec)?;
                self.undelivered.push(rec);
            }
        }
        self.out.flush()
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
