//! The subcommands: where the baseline and key live, and init, verify,
//! update and show on top of scan, diff and baseline.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

use secops_common::cli::StateArgs;
use secops_common::{Error, Exit, Output, Record};

use crate::alerts::Alerts;
use crate::baseline::{self, Baseline, Header};
use crate::binding::{self, Bindings};
use crate::cli::{Args, CheckArgs, Command, InitArgs, Intended, WatchArgs};
use crate::diff::{Unchanged, aide_bits, compare, unknown};
use crate::entry::Entry;
use crate::key::Key;
use crate::metrics::{self, Figures};
use crate::policy::{Policy, Scope};
use crate::records::{
    Counts, ERROR_SEVERITY, Reason, TABLE_COLUMNS, entry_record, event_record, header_record,
    problem_record, resolved_record, summary_record,
};
use crate::scan::{ProblemKind, Scan, ScanOptions, scan};

pub fn dispatch(args: &Args, aide: &mut u8) -> Result<Exit, Error> {
    let store = Store::locate(args)?;
    match &args.command {
        Command::Init(init_args) => init(args, init_args, &store),
        Command::Verify(check) => verify(args, check, &store, aide, false),
        Command::Update(check) => verify(args, check, &store, aide, true),
        Command::Show if args.prom.prom_file.is_some() => Err(Error::bad_input(
            "--prom-file is written by init, verify, update and watch; show only lists the baseline",
        )),
        Command::Show => show(args, &store),
        Command::Watch(opts) => watch(args, opts, &store),
    }
}

/// Where the baseline and its key are: the flags, else the state directory
/// (only created and checked when one of them lives there).
struct Store {
    baseline: PathBuf,
    key: PathBuf,
}

impl Store {
    fn locate(args: &Args) -> Result<Store, Error> {
        if let (Some(baseline), Some(key)) = (&args.baseline, &args.key) {
            return Ok(Store {
                baseline: baseline.clone(),
                key: key.clone(),
            });
        }
        let dir = args.state.dir()?;
        Ok(Store {
            baseline: args
                .baseline
                .clone()
                .unwrap_or_else(|| dir.join("fim.baseline")),
            key: args.key.clone().unwrap_or_else(|| dir.join("fim.key")),
        })
    }

    /// The baseline, authenticated, whatever it was made for (`show`).
    fn load(&self) -> Result<Baseline, Error> {
        let key = Key::load(&self.key)?;
        let base = baseline::read(&self.baseline, &key)?;
        if base.header.host != secops_common::record::hostname() {
            secops_common::warn!(
                "the baseline {} was made on host {}",
                self.baseline.display(),
                base.header.host
            );
        }
        Ok(base)
    }

    /// The baseline, authenticated and bound to what it is meant to check
    /// (verify, update, watch): made on this host, and for the policy
    /// `intended` names (by default the policy file it was made from, as
    /// that file is now). Another baseline sealed with the same key (one
    /// made for a decoy tree, another host's, one of an old policy) is
    /// refused, as AIDE checks its database against its configuration.
    ///
    /// Then the state directory's record of what the baseline was made
    /// for ([`Bindings`]) must agree, so that even a plain `verify` refuses
    /// a baseline made from a decoy policy file put in its place.
    fn load_for(&self, intended: &Intended, state: &StateArgs) -> Result<Baseline, Error> {
        let key = Key::load(&self.key)?;
        let base = baseline::read(&self.baseline, &key)?;
        self.bind(&base.header, intended)?;
        let mut bindings = Bindings::open(state)?;
        if bindings.check(&self.baseline, &base.header)? {
            match bindings.save() {
                Ok(()) => secops_common::info!(
                    "bound {} to its policy in {}",
                    self.baseline.display(),
                    binding::FILE
                ),
                Err(err) => secops_common::warn!("{err}"),
            }
        }
        Ok(base)
    }

    fn bind(&self, header: &Header, intended: &Intended) -> Result<(), Error> {
        let file = self.baseline.display();
        let here = secops_common::record::hostname();
        if header.host != here {
            return Err(Error::bad_input(format!(
                "baseline {file} was made on host {}, not on this host ({here}); refusing to compare against it (a baseline checks the host it was made on: make one here with fim-check init --force)",
                header.host
            )));
        }
        let recorded = Path::new(&header.policy_source);
        let (expected, what, fix) = match (&intended.policy, intended.paths.as_slice()) {
            (Some(policy), _) => (
                Policy::load(policy),
                format!("the policy {}", policy.display()),
                format!("fim-check init --force --policy {}", policy.display()),
            ),
            (None, []) if header.policy_source == COMMAND_LINE => return Ok(()),
            (None, []) => (
                Policy::load(recorded),
                format!(
                    "its policy file {} as it is now (changed since the baseline was made?)",
                    recorded.display()
                ),
                format!("fim-check init --force --policy {}", recorded.display()),
            ),
            (None, paths) => (
                Policy::for_paths(paths),
                "the paths given".to_string(),
                "fim-check init --force PATH...".to_string(),
            ),
        };
        let expected = expected.map_err(|err| {
            Error::bad_input(format!(
                "baseline {file} cannot be checked against {what}: {err}; refusing to compare against it"
            ))
        })?;
        let differs = header.policy.differences(&expected);
        if differs.is_empty() {
            return Ok(());
        }
        Err(Error::bad_input(format!(
            "baseline {file} was not made for {what}: {}; refusing to compare against it (if the policy was changed on purpose, make a new baseline with {fix})",
            differs.join("; ")
        )))
    }

    /// The memory of what was firing about this baseline.
    fn alerts(&self, args: &Args) -> Alerts {
        Alerts::open(&args.state, &self.baseline, &self.key)
    }

    fn writer(&self, key: &Key) -> Result<baseline::Writer, Error> {
        baseline::Writer::create(&self.baseline, key)
    }

    /// Seals a written baseline and returns its `fim.baseline` record.
    fn seal(
        &self,
        args: &Args,
        writer: baseline::Writer,
        header: Header,
        counts: &Counts,
        scan: &Scan,
    ) -> Result<Record, Error> {
        let mut header = Header {
            created: secops_common::record::now_rfc3339(),
            host: secops_common::record::hostname().to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            ..header
        };
        writer.finish(&mut header)?;
        // What this baseline is for, so that another put in its place is
        // refused.
        let bound = Bindings::open(&args.state).and_then(|mut bindings| {
            bindings.bind(&self.baseline, &header);
            bindings.save()
        });
        if let Err(err) = bound {
            secops_common::warn!("{err}; the baseline is bound to its policy at its next check");
        }
        secops_common::info!(
            "wrote {} entries to {}",
            header.entries,
            self.baseline.display()
        );
        Ok(header_record(&header, &self.baseline, counts).with("errors", scan.problems.len()))
    }
}

/// The `policy_source` of a baseline made from `init PATH...`.
const COMMAND_LINE: &str = "command line";

fn init(args: &Args, init: &InitArgs, store: &Store) -> Result<Exit, Error> {
    let (mut policy, source) = match &init.policy {
        // Absolute, so that verify finds it again from any directory.
        Some(path) => (
            Policy::load(path)?,
            std::path::absolute(path)
                .unwrap_or_else(|_| path.clone())
                .display()
                .to_string(),
        ),
        None => (Policy::for_paths(&init.paths)?, COMMAND_LINE.to_string()),
    };
    if init.cross_filesystems {
        policy.one_file_system = false;
    }
    if !init.force && store.baseline.exists() {
        return Err(Error::bad_input(format!(
            "a baseline already exists at {}; use update to accept changes, or init --force to start over",
            store.baseline.display()
        )));
    }
    let key = Key::load_or_create(&store.key)?;
    let scope = Scope::new(policy)?;
    let mut alerts = store.alerts(args);
    let started = Instant::now();
    let mut writer = store.writer(&key)?;
    let mut counts = Counts::default();
    let mut recorded = 0u64;
    let mut sink = |entry: &Entry, _clean: bool| {
        writer.push(entry);
        counts.add(entry);
        recorded += 1;
        false
    };
    let found = scan(ScanOptions {
        sink: Some(&mut sink),
        ..ScanOptions::of(&scope)
    });
    let mut out = Output::open(&args.common.output_spec(&TABLE_COLUMNS)?)?;
    write_problems(&mut out, &found, &mut alerts)?;
    let header = Header {
        created: String::new(),
        host: String::new(),
        policy_source: source,
        policy: scope.policy.clone(),
        entries: 0,
        version: String::new(),
    };
    let summary = store.seal(args, writer, header, &counts, &found)?;
    // A new baseline takes the tree as it is: whatever was firing about
    // the old one is accepted.
    let looked = |path: &[u8]| !unknown(&found.problems, path);
    for rec in alerts.end_pass(looked, |_| true) {
        out.write(&rec)?;
    }
    out.write(&summary)?;
    secops_common::info!("recorded the tree in {:.2?}", started.elapsed());
    out.finish()?;
    alerts.save()?;
    // The summary is information; only problems weigh on the status.
    let worst = (!found.problems.is_empty()).then_some(ERROR_SEVERITY);
    metrics::after_run(
        &args.prom,
        conclude(&found, worst, args),
        &alerts.findings(),
        Figures::of_summary(recorded, &summary),
    )
}

fn verify(
    args: &Args,
    check: &CheckArgs,
    store: &Store,
    aide: &mut u8,
    accept: bool,
) -> Result<Exit, Error> {
    let mut alerts = store.alerts(args);
    let mut out = Output::open(&args.common.output_spec(&TABLE_COLUMNS)?)?;
    let base = match store.load_for(&check.intended, &args.state) {
        Ok(base) => base,
        Err(err) => return Err(alerts.refuse(&mut out, err)),
    };
    let scope = Scope::new(base.header.policy.clone())?;
    let started = Instant::now();
    // update writes the new baseline as the scan goes.
    let mut writer = match accept {
        true => Some(store.writer(&Key::load(&store.key)?)?),
        false => None,
    };
    let mut counts = Counts::default();
    let mut unchanged = Unchanged::new(&scope, &base);
    let mut sink = |entry: &Entry, clean: bool| {
        if let Some(writer) = writer.as_mut() {
            writer.push(entry);
            counts.add(entry);
        }
        unchanged.keep(entry, clean)
    };
    let found = scan(ScanOptions {
        trusted: check.trust_metadata.then_some(&base),
        sink: Some(&mut sink),
        ..ScanOptions::of(&scope)
    });
    let old = unchanged.rest();
    // Entries read again from the baseline must be what its HMAC covered
    // before anything is said or sealed.
    if let Err(err) = base.intact() {
        return Err(alerts.refuse(&mut out, err));
    }
    let events = compare(&scope, &old, &found);
    let checked = (found.entries.len() + unchanged.dropped()) as u64;
    *aide = aide_bits(&events);
    let differences: Vec<Record> = events.iter().map(event_record).collect();
    for rec in &differences {
        out.write(rec)?;
    }
    let problems = write_problems(&mut out, &found, &mut alerts)?;
    secops_common::info!(
        "checked {checked} entries in {:.2?}: {} differences, {} problems",
        started.elapsed(),
        events.len(),
        found.problems.len()
    );
    let looked = |path: &[u8]| !unknown(&found.problems, path);
    let summary = match writer {
        Some(writer) => match store.seal(args, writer, base.header.clone(), &counts, &found) {
            Ok(summary) => Some(summary),
            Err(err) => {
                // Nothing was accepted: the differences still hold.
                for rec in &differences {
                    alerts.fire(rec);
                }
                for rec in alerts.end_pass(looked, |_| false) {
                    out.write(&rec)?;
                }
                out.finish()?;
                // The state directory that refused the baseline may refuse
                // this too: the baseline's error is the one to report.
                if let Err(save) = alerts.save() {
                    secops_common::warn!("{save}");
                }
                return Err(err);
            }
        },
        None => None,
    };
    let accepted: HashSet<&[u8]> = match summary {
        // update took every difference into the baseline: each alert ends
        // now, those that were firing before through the memory.
        Some(_) => {
            for rec in differences.iter().filter(|r| !alerts.was_firing(r)) {
                out.write(&resolved_record(rec, Reason::Accepted, &store.baseline))?;
            }
            events.iter().map(|e| e.path()).collect()
        }
        None => {
            differences.iter().for_each(|rec| alerts.fire(rec));
            HashSet::new()
        }
    };
    for rec in alerts.end_pass(looked, |path| accepted.contains(path)) {
        out.write(&rec)?;
    }
    let figures = match &summary {
        Some(summary) => Figures::of_summary(checked, summary),
        None => Figures::new(checked, &base.header.created),
    };
    if summary.is_none() {
        out.write(&summary_record(
            checked,
            &events,
            &base.header.created,
            differences.iter().chain(&problems),
            started.elapsed(),
        ))?;
    }
    if let Some(summary) = summary {
        out.write(&summary)?;
        if found
            .problems
            .iter()
            .any(|p| p.kind == ProblemKind::UnreadableDir)
        {
            secops_common::warn!(
                "directories that could not be listed are in the new baseline without their contents"
            );
        }
    }
    let written = out.finish()?;
    alerts.save()?;
    // update accepted the differences: only a failure to read is left.
    let worst = if accept { None } else { written.worst };
    metrics::after_run(
        &args.prom,
        conclude(&found, worst, args),
        &alerts.findings(),
        figures,
    )
}

fn show(args: &Args, store: &Store) -> Result<Exit, Error> {
    let base = store.load()?;
    let counts = Counts::of(base.entries());
    base.intact()?;
    let mut out = Output::open(&args.common.output_spec(&TABLE_COLUMNS)?)?;
    out.write(&header_record(&base.header, &store.baseline, &counts))?;
    for entry in base.entries() {
        out.write(&entry_record(&entry))?;
    }
    base.intact()?;
    out.finish()?;
    Ok(Exit::Clean)
}

fn watch(args: &Args, opts: &WatchArgs, store: &Store) -> Result<Exit, Error> {
    let mut alerts = store.alerts(args);
    let mut out = Output::open(&args.common.output_spec(&TABLE_COLUMNS)?)?;
    let base = match store.load_for(&opts.intended, &args.state) {
        Ok(base) => base,
        Err(err) => return Err(alerts.refuse(&mut out, err)),
    };
    let scope = Scope::new(base.header.policy.clone())?;
    let watched = crate::watch::watch(
        &scope,
        &base,
        &crate::watch::WatchOptions {
            trust_metadata: opts.trust_metadata,
            settle: opts.settle,
            prom: args.prom.clone(),
        },
        &mut out,
        &mut alerts,
    )?;
    let written = out.finish()?;
    let exit = Exit::of_run(watched.failed, written.worst, args.common.fail_on);
    // A watch that failed says so by its own error; a metrics write that
    // failed was warned about as it happened.
    let prom = watched.prom.conclude();
    if exit != Exit::Failed {
        prom?;
    }
    Ok(exit)
}

/// Writes the scan's problems, each a firing `fim.error`.
/// Writes a record per path that could not be checked; returns them.
fn write_problems(
    out: &mut Output,
    found: &Scan,
    alerts: &mut Alerts,
) -> Result<Vec<Record>, Error> {
    let mut written = Vec::new();
    for problem in &found.problems {
        let rec = problem_record(problem);
        out.write(&rec)?;
        alerts.fire(&rec);
        written.push(rec);
    }
    Ok(written)
}

/// 3 when something could not be read, else by what was written.
fn conclude(found: &Scan, worst: Option<secops_common::Severity>, args: &Args) -> Exit {
    let failed = found
        .problems
        .iter()
        .any(|p| p.kind != ProblemKind::ChangedDuringScan);
    Exit::of_run(failed, worst, args.common.fail_on)
}
