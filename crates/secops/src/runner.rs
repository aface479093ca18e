//! The scheduler: starts jobs when they are due, never two runs of one job
//! at once, and is the one writer of the central log. Everything arrives
//! on one channel (job lines, job ends, signals) and is handled on this
//! thread in order, so the log, the history and the alert memory need no
//! locks.

use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant, SystemTime};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use secops_common::atomic::AtomicFile;
use secops_common::record::rfc3339;
use secops_common::{Alerting, Context, Error, Exit, LastRun, Record, Severity, Stage};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM, SIGUSR1};

use crate::central_log::{CentralLog, open_rotated, rotated_name};
use crate::delivery::{Deliveries, NOTIFY_JOB};
use crate::history::{History, JobHistory, ms, time_of};
use crate::job::{self, Event, Outcome};
use crate::metrics;
use crate::records;
use crate::schedule::{next_due, stale_at};
use crate::settings::{Job, NotifyPlan, Settings, What};

/// How long the loop sleeps at most, so a clock step is noticed.
const MAX_SLEEP: Duration = Duration::from_secs(60);

pub enum Mode {
    /// Until SIGTERM/SIGINT.
    Forever,
    /// What is due now, then exit.
    Once,
    /// This job now, then exit.
    Job(String),
}

struct Running {
    pgid: Option<i32>,
    records: Vec<Record>,
    findings: HashMap<Severity, u64>,
}

pub struct Runner {
    settings_path: PathBuf,
    settings: Settings,
    notify: Option<NotifyPlan>,
    notify_config: Option<PathBuf>,
    state_dir: PathBuf,
    history: History,
    alerts: LastRun,
    log: CentralLog,
    running: HashMap<String, Running>,
    /// When a job was last skipped because it still ran.
    skipped_at: HashMap<String, SystemTime>,
    tx: Sender<Event>,
    rx: Receiver<Event>,
    deliveries: Deliveries,
    settings_broken: bool,
    /// For the exit status of --once and `job`.
    failed: bool,
    worst: Option<Severity>,
    rejected: u64,
    /// Whether this process already said the central log failed.
    log_failed: bool,
    /// The central log's path, as text, and its write alert's id.
    log_alert: Option<(PathBuf, String, String)>,
    /// When the metrics file was last written.
    metrics_written: Option<Instant>,
    /// Whether the last write of the metrics file failed (said on stderr
    /// once per streak of failures).
    metrics_failed: bool,
}

impl Runner {
    pub fn new(
        settings_path: &Path,
        settings: Settings,
        state_dir: PathBuf,
    ) -> Result<Runner, Error> {
        let (tx, rx) = mpsc::channel();
        let deliveries = Deliveries::start(tx.clone());
        let log = CentralLog::open(&settings.log);
        let mut runner = Runner {
            settings_path: settings_path.to_path_buf(),
            notify: None,
            notify_config: None,
            history: History::load(&state_dir)?,
            alerts: LastRun::load(&state_dir, "secops")?,
            state_dir,
            settings,
            log,
            running: HashMap::new(),
            skipped_at: HashMap::new(),
            tx,
            rx,
            deliveries,
            settings_broken: false,
            failed: false,
            worst: None,
            rejected: 0,
            log_failed: false,
            log_alert: None,
            metrics_written: None,
            metrics_failed: false,
        };
        runner.prepare_notify()?;
        for job in &runner.settings.jobs {
            runner.history.job(&job.name);
        }
        Ok(runner)
    }

    /// Writes inline notify settings where secops-notify's `--config` reads them.
    fn prepare_notify(&mut self) -> Result<(), Error> {
        let plan = self.settings.notify_plan()?;
        self.notify_config = match &plan {
            None => None,
            Some(NotifyPlan {
                file: Some(file), ..
            }) => Some(file.clone()),
            Some(NotifyPlan {
                inline: Some(value),
                ..
            }) => {
                let path = self.state_dir.join("secops-notify.json");
                let bytes = serde_json::to_vec_pretty(value).expect("JSON serializes");
                secops_common::atomic::write_atomic(&path, &bytes, 0o600)
                    .context(|| format!("cannot write {}", path.display()))?;
                Some(path)
            }
            Some(_) => None,
        };
        self.notify = plan;
        Ok(())
    }

    pub fn run(mut self, mode: Mode) -> Result<Exit, Error> {
        let signals = match mode {
            Mode::Forever => Some(self.forward_signals()?),
            _ => None,
        };
        let job = match &mode {
            Mode::Job(name) => Some(
                self.settings
                    .jobs
                    .iter()
                    .find(|j| &j.name == name)
                    .cloned()
                    .ok_or_else(|| {
                        Error::bad_input(format!(
                            "{}: no job named `{name}`",
                            self.settings_path.display()
                        ))
                    })?,
            ),
            _ => None,
        };
        // At start: what the history says, and that the scheduler lives.
        self.write_metrics();
        if let Some(job) = &job {
            self.launch(job)?;
        }
        if matches!(mode, Mode::Once) {
            self.check_stale()?;
            self.start_due()?;
        }
        let mut stop_deadline: Option<Instant> = None;
        loop {
            if !matches!(mode, Mode::Forever) && self.running.is_empty() {
                break;
            }
            if stop_deadline.is_some() && self.running.is_empty() {
                break;
            }
            let wait = match (&mode, stop_deadline) {
                (_, Some(deadline)) => deadline.saturating_duration_since(Instant::now()),
                (Mode::Forever, None) => {
                    self.check_stale()?;
                    self.start_due()?;
                    if self
                        .metrics_written
                        .is_none_or(|at| at.elapsed() >= metrics::HEARTBEAT)
                    {
                        self.write_metrics();
                    }
                    self.sleep_time()
                }
                _ => MAX_SLEEP,
            };
            match self.rx.recv_timeout(wait) {
                Ok(Event::Signal(SIGHUP)) => self.reload()?,
                Ok(Event::Signal(SIGUSR1)) => {
                    // A failure shows at the next append, as a write failure.
                    if self.log.reopen().is_ok() {
                        secops_common::info!("reopened {}", self.log.path().display());
                    }
                }
                Ok(Event::Signal(_)) => {
                    if stop_deadline.is_some() {
                        // A second signal: no more grace.
                        self.kill_all();
                    } else {
                        secops_common::info!(
                            "stopping: {} running job(s) get {:?} to finish",
                            self.running.len(),
                            self.settings.grace
                        );
                        stop_deadline = Some(Instant::now() + self.settings.grace);
                    }
                }
                Ok(event) => self.handle(event)?,
                Err(RecvTimeoutError::Timeout) => {
                    if stop_deadline.is_some_and(|d| Instant::now() >= d) {
                        self.kill_all();
                        // Their Done events still arrive and are recorded.
                        stop_deadline = Some(Instant::now() + Duration::from_secs(5));
                    }
                }
                Err(RecvTimeoutError::Disconnected) => break,
            }
        }
        drop(signals);
        // Every batch handed over is delivered before secops exits, and
        // secops-notify's records reach the central log.
        let delivering = self.deliveries.close();
        loop {
            match self.rx.recv_timeout(Duration::from_millis(50)) {
                Ok(Event::Line { line, .. }) => {
                    let _ = self.log.append(&line);
                }
                Ok(_) => {}
                Err(_) if delivering.is_finished() => break,
                Err(_) => {}
            }
        }
        while let Ok(event) = self.rx.try_recv() {
            if let Event::Line { line, .. } = event {
                let _ = self.log.append(&line);
            }
        }
        if self.rejected > 0 {
            secops_common::warn!(
                "{} line(s) from jobs were not records and were left out of the central log",
                self.rejected
            );
        }
        Ok(match mode {
            Mode::Forever => Exit::Clean,
            _ => Exit::of_run(self.failed, self.worst, Severity::High),
        })
    }

    fn forward_signals(&self) -> Result<signal_hook::iterator::Handle, Error> {
        let mut signals = signal_hook::iterator::Signals::new([SIGHUP, SIGUSR1, SIGTERM, SIGINT])
            .context(|| "cannot install signal handlers".into())?;
        let handle = signals.handle();
        let tx = self.tx.clone();
        std::thread::spawn(move || {
            for signal in signals.forever() {
                if tx.send(Event::Signal(signal)).is_err() {
                    return;
                }
            }
        });
        Ok(handle)
    }

    /// How long until the next job is due.
    fn sleep_time(&self) -> Duration {
        let now = SystemTime::now();
        self.settings
            .jobs
            .iter()
            .filter_map(|job| self.due_at(job))
            .map(|due| due.duration_since(now).unwrap_or(Duration::from_millis(10)))
            .min()
            .unwrap_or(MAX_SLEEP)
            .clamp(Duration::from_millis(10), MAX_SLEEP)
    }

    fn due_at(&self, job: &Job) -> Option<SystemTime> {
        let mut memory = self
            .history
            .jobs
            .get(&job.name)
            .cloned()
            .unwrap_or_default();
        if let Some(skipped) = self.skipped_at.get(&job.name) {
            memory.last_start_ms = memory.last_start_ms.max(Some(ms(*skipped)));
        }
        next_due(job, &memory)
    }

    /// Fires `job.stale` for each job whose last start is older than twice
    /// its interval, once: its next good run resolves it (`job.recovered`).
    fn check_stale(&mut self) -> Result<(), Error> {
        let now = SystemTime::now();
        let mut fired = Vec::new();
        for job in &self.settings.jobs {
            let memory = self.history.job(&job.name);
            if memory.stale || stale_at(job, memory).is_none_or(|at| at > now) {
                continue;
            }
            memory.stale = true;
            let last = memory.last_start_ms.map(|t| rfc3339(time_of(t)));
            let rec = records::job_stale(job, last, self.running.contains_key(&job.name));
            secops_common::warn!("{}", rec.message);
            fired.push(rec);
        }
        if fired.is_empty() {
            return Ok(());
        }
        for rec in &fired {
            self.alerts.fire(rec);
            self.append_log(rec.to_json().as_bytes());
        }
        // Remembered now, so a restart does not fire it again.
        self.alerts.end_pass(|_| false);
        self.deliver(&fired);
        self.save_state();
        Ok(())
    }

    fn start_due(&mut self) -> Result<(), Error> {
        let now = SystemTime::now();
        let due: Vec<Job> = self
            .settings
            .jobs
            .iter()
            .filter(|job| self.due_at(job).is_some_and(|t| t <= now))
            .cloned()
            .collect();
        for job in due {
            if self.running.contains_key(&job.name) {
                self.skipped_at.insert(job.name.clone(), now);
                self.history.job(&job.name).skipped += 1;
                let rec = records::job_skipped(&job.name);
                self.write_own(&rec)?;
                continue;
            }
            self.launch(&job)?;
        }
        Ok(())
    }

    fn launch(&mut self, job: &Job) -> Result<(), Error> {
        let argv = self.argv(job)?;
        secops_common::info!("job {}: {}", job.name, argv.join(" "));
        self.history.job(&job.name).last_start_ms = Some(ms(SystemTime::now()));
        self.skipped_at.remove(&job.name);
        self.running.insert(
            job.name.clone(),
            Running {
                pgid: None,
                records: Vec::new(),
                findings: HashMap::new(),
            },
        );
        job::start(job.name.clone(), argv, job.timeout, self.tx.clone());
        Ok(())
    }

    /// The argument vector a job runs as.
    fn argv(&self, job: &Job) -> Result<Vec<String>, Error> {
        Ok(match &job.what {
            What::Run { argv, on: None } => with_jsonl(argv),
            What::Run {
                argv,
                on: Some(fleet),
            } => {
                let mut words = vec![
                    "remote-run".to_string(),
                    "--inventory".to_string(),
                    fleet.inventory.display().to_string(),
                ];
                if let Some(group) = &fleet.group {
                    words.extend(["--group".to_string(), group.clone()]);
                }
                if let Some(config) = &fleet.ssh_config {
                    words.extend(["--ssh-config".to_string(), config.display().to_string()]);
                }
                words.extend([
                    "--format".to_string(),
                    "jsonl".to_string(),
                    "--".to_string(),
                ]);
                // The remote tool writes records only when asked for
                // JSON Lines, as a local one does.
                words.extend(with_jsonl(argv));
                words
            }
            What::Report(report) => {
                let input = self.state_dir.join(format!("report-{}.jsonl", job.name));
                self.report_input(report.since, &input)?;
                if let Some(dir) = report.output.parent().filter(|d| !d.as_os_str().is_empty()) {
                    secops_common::perms::create_dir_all(dir, secops_common::perms::DIR)
                        .context(|| format!("cannot create {}", dir.display()))?;
                }
                vec![
                    "secops-report".to_string(),
                    "-o".to_string(),
                    report.output.display().to_string(),
                    input.display().to_string(),
                ]
            }
        })
    }

    /// The central log's records of the last `since` (rotated files too),
    /// in order, written to `input` for secops-report, a line at a time.
    fn report_input(&self, since: Duration, input: &Path) -> Result<(), Error> {
        let from = rfc3339(SystemTime::now() - since);
        let mut files = Vec::new();
        for n in (1..=self.settings.log.keep).rev() {
            files.push(rotated_name(self.log.path(), n, true));
            files.push(rotated_name(self.log.path(), n, false));
        }
        files.push(self.log.path().to_path_buf());
        let what = || format!("cannot write {}", input.display());
        let mut out = std::io::BufWriter::new(AtomicFile::create(input, 0o600).context(what)?);
        for file in files {
            let Some(reader) = open_rotated(&file) else {
                continue;
            };
            // A line cut by a crash, or not UTF-8, is not a record.
            for line in reader.lines().map_while(Result::ok) {
                if Record::from_json(&line).is_ok_and(|rec| rec.ts >= from) {
                    writeln!(out, "{line}").context(what)?;
                }
            }
        }
        let file = out
            .into_inner()
            .map_err(|err| err.into_error())
            .context(what)?;
        file.commit().context(what)
    }

    fn handle(&mut self, event: Event) -> Result<(), Error> {
        match event {
            Event::Started { job, pgid } => {
                if let Some(run) = self.running.get_mut(&job) {
                    run.pgid = Some(pgid);
                }
            }
            Event::Line { job, line } => self.line(&job, &line)?,
            Event::Done { job, outcome } => self.done(&job, outcome)?,
            Event::Signal(_) => {}
        }
        Ok(())
    }

    fn line(&mut self, job: &str, line: &[u8]) -> Result<(), Error> {
        let rec = std::str::from_utf8(line)
            .ok()
            .and_then(|text| Record::from_json(text).ok());
        let Some(rec) = rec else {
            self.rejected += 1;
            if self.rejected <= 10 {
                secops_common::warn!(
                    "job {job}: a line that is not a record was left out: {}",
                    String::from_utf8_lossy(&line[..line.len().min(120)])
                );
            }
            return Ok(());
        };
        self.append_log(line);
        if job == NOTIFY_JOB {
            return Ok(());
        }
        if let Some(run) = self.running.get_mut(job) {
            *run.findings.entry(rec.severity).or_default() += 1;
            run.records.push(rec);
        }
        Ok(())
    }

    fn done(&mut self, name: &str, outcome: Outcome) -> Result<(), Error> {
        let run = self.running.remove(name).unwrap_or(Running {
            pgid: None,
            records: Vec::new(),
            findings: HashMap::new(),
        });
        let failure = outcome.failure();
        let mut records = run.records;
        self.worst = self.worst.max(records.iter().map(|r| r.severity).max());
        let mut alerts = std::collections::BTreeMap::new();
        for rec in &records {
            if matches!(rec.alerting(), Alerting::Alert(Stage::Firing, _)) {
                *alerts.entry(rec.severity.as_str().to_string()).or_default() += 1;
            }
        }
        let memory: &mut JobHistory = self.history.job(name);
        memory.last_start_ms = Some(ms(outcome.started));
        memory.last_duration_ms = Some(outcome.duration.as_millis() as u64);
        memory.last_end_ms = Some(ms(outcome.started + outcome.duration));
        memory.alerts = alerts;
        memory.last_exit = outcome.exit;
        memory.last_outcome = Some(outcome.describe());
        memory.findings = run
            .findings
            .iter()
            .map(|(sev, n)| (sev.as_str().to_string(), *n))
            .collect();
        let mut own = Vec::new();
        match &failure {
            Some(why) => {
                memory.failures_in_row += 1;
                self.failed = true;
                let rec = records::job_failed(
                    name,
                    why,
                    outcome.exit,
                    &outcome.stderr,
                    memory.failures_in_row,
                );
                secops_common::warn!("job {name} failed: {why}");
                self.alerts.fire(&rec);
                own.push(rec);
            }
            None => {
                memory.failures_in_row = 0;
                memory.last_success_ms = memory.last_end_ms;
                memory.stale = false;
            }
        }
        let gone = self.alerts.end_pass(|rec| {
            rec.get("job").and_then(|j| j.as_str().map(|j| j == name)) == Some(true)
        });
        for _ in gone {
            own.push(records::job_recovered(name, outcome.exit));
        }
        for rec in &own {
            self.append_log(rec.to_json().as_bytes());
        }
        records.extend(own);
        // Delivered before anything is saved: a disk too full for the
        // state must not hold back the alert that says so.
        self.deliver(&records);
        self.save_state();
        self.write_metrics();
        Ok(())
    }

    /// Rewrites the metrics file (`metrics.path`) from the history. A file
    /// that cannot be written stops nothing: as for the central log, the
    /// first failure fires `secops.write_failed` (`file` "metrics file"),
    /// once, into the central log and through notify, and is said on
    /// stderr once per streak of failures; the first write that works
    /// resolves it with `secops.write_recovered`. `run --once` and `job`
    /// then exit 3.
    fn write_metrics(&mut self) {
        let Some(path) = self.settings.metrics.as_ref().map(|m| m.path.clone()) else {
            return;
        };
        let result = metrics::exposition(&self.settings.jobs, &self.history).write(&path);
        self.metrics_written = Some(Instant::now());
        let shown = path.display().to_string();
        let id = secops_common::alert::alert_id(records::TOOL, &records::write_parts(&shown));
        match result {
            Ok(()) => {
                self.metrics_failed = false;
                if self.alerts.previous(&id).is_some() {
                    let gone = self
                        .alerts
                        .end_pass(|rec| rec.alert_id() == Some(id.as_str()));
                    if !gone.is_empty() {
                        let rec = records::write_recovered(records::METRICS_FILE, &shown);
                        secops_common::info!("{}", rec.message);
                        self.append_log(rec.to_json().as_bytes());
                        self.deliver(std::slice::from_ref(&rec));
                        self.save_state();
                    }
                }
            }
            Err(err) => {
                self.failed = true;
                let rec = records::write_failed(records::METRICS_FILE, &shown, &err.to_string());
                if !std::mem::replace(&mut self.metrics_failed, true) {
                    secops_common::diag::error(format_args!("{}", rec.message));
                }
                if self.alerts.previous(&id).is_none() {
                    self.alerts.fire(&rec);
                    self.alerts.end_pass(|_| false);
                    self.append_log(rec.to_json().as_bytes());
                    self.deliver(std::slice::from_ref(&rec));
                    self.save_state();
                }
            }
        }
    }

    /// Writes a record of secops's own and hands it to notify.
    fn write_own(&mut self, rec: &Record) -> Result<(), Error> {
        self.append_log(rec.to_json().as_bytes());
        self.deliver(std::slice::from_ref(rec));
        Ok(())
    }

    /// Appends a line to the central log. A log that cannot be written (a
    /// full or read-only disk, EIO) does not stop the records on their way
    /// to notify: it fires `secops.write_failed` once, delivered at once,
    /// and the first line written after it resolves it. The run then exits
    /// 3 (with --once).
    fn append_log(&mut self, line: &[u8]) {
        let (path, id) = self.log_alert();
        match self.log.append(line) {
            Ok(()) => {
                if self.alerts.previous(&id).is_some() {
                    let gone = self
                        .alerts
                        .end_pass(|rec| rec.alert_id() == Some(id.as_str()));
                    if !gone.is_empty() {
                        let rec = records::write_recovered("central log", &path);
                        secops_common::info!("{}", rec.message);
                        let _ = self.log.append(rec.to_json().as_bytes());
                        self.deliver(std::slice::from_ref(&rec));
                        self.save_state();
                    }
                }
            }
            Err(err) => {
                self.failed = true;
                if !std::mem::replace(&mut self.log_failed, true) {
                    secops_common::diag::error(format_args!("{err}"));
                }
                if self.alerts.previous(&id).is_none() {
                    let rec = records::write_failed("central log", &path, &err.message);
                    self.alerts.fire(&rec);
                    self.alerts.end_pass(|_| false);
                    self.deliver(std::slice::from_ref(&rec));
                    self.save_state();
                }
            }
        }
    }

    /// The central log's path as text and the id of its write alert,
    /// worked out again only when a reload moved the log (a SHA-256 per
    /// line appended would be work on the hot path).
    fn log_alert(&mut self) -> (String, String) {
        let path = self.log.path();
        if let Some((known, text, id)) = &self.log_alert {
            if known == path {
                return (text.clone(), id.clone());
            }
        }
        let text = path.display().to_string();
        let id = secops_common::alert::alert_id(records::TOOL, &records::write_parts(&text));
        self.log_alert = Some((path.to_path_buf(), text.clone(), id.clone()));
        (text, id)
    }

    /// Saves the job history and the alert memory. A failure costs
    /// catch-up and recoveries, not alerts, so it is said and the run goes
    /// on (exit 3 with --once).
    fn save_state(&mut self) {
        for result in [self.history.save(), self.alerts.save()] {
            if let Err(err) = result {
                self.failed = true;
                secops_common::warn!("{err}");
            }
        }
    }

    fn deliver(&self, records: &[Record]) {
        if let (Some(plan), Some(config)) = (&self.notify, &self.notify_config) {
            self.deliveries
                .send(plan, config.clone(), self.state_dir.clone(), records);
        }
    }

    /// SIGHUP: the new settings, or the old ones and a record saying why.
    fn reload(&mut self) -> Result<(), Error> {
        let path = self.settings_path.display().to_string();
        match Settings::load(&self.settings_path) {
            Ok(settings) => {
                self.log.reconfigure(&settings.log);
                let old = std::mem::replace(&mut self.settings, settings);
                if let Err(err) = self.prepare_notify() {
                    self.settings = old;
                    return self.settings_refused(&path, &err.message);
                }
                self.metrics_moved(old.metrics.as_ref());
                let names: Vec<&str> = self.settings.jobs.iter().map(|j| j.name.as_str()).collect();
                self.history.retain(&names);
                for job in self.settings.jobs.clone() {
                    self.history.job(&job.name);
                }
                self.save_state();
                self.write_metrics();
                secops_common::info!("reloaded {path}: {} job(s)", self.settings.jobs.len());
                if std::mem::take(&mut self.settings_broken) {
                    self.write_own(&records::settings_reloaded(&path))?;
                }
                Ok(())
            }
            Err(err) => self.settings_refused(&path, &err.message),
        }
    }

    /// A reload that moved or dropped the metrics file removes the old one:
    /// left behind, node_exporter would go on exporting its series (twice,
    /// beside the new file's) with an ageing last success.
    fn metrics_moved(&mut self, old: Option<&crate::settings::MetricsSettings>) {
        let Some(old) = old.filter(|old| self.settings.metrics.as_ref() != Some(*old)) else {
            return;
        };
        match std::fs::remove_file(&old.path) {
            Ok(()) => secops_common::info!("removed the old metrics file {}", old.path.display()),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(err) => secops_common::warn!(
                "cannot remove the old metrics file {}: {err}",
                old.path.display()
            ),
        }
        self.metrics_failed = false;
    }

    fn settings_refused(&mut self, path: &str, error: &str) -> Result<(), Error> {
        secops_common::diag::error(format_args!("{error}: the old settings keep running"));
        self.settings_broken = true;
        self.write_own(&records::settings_invalid(path, error))
    }

    fn kill_all(&mut self) {
        for (name, run) in &self.running {
            if let Some(pgid) = run.pgid {
                secops_common::warn!("job {name}: killed at shutdown");
                let _ = killpg(Pid::from_raw(pgid), Signal::SIGKILL);
            }
        }
    }
}

/// `--format jsonl` appended unless the job chose a format or an output
/// file itself; before a `--`, after which a remote command begins.
fn with_jsonl(argv: &[String]) -> Vec<String> {
    let split = argv.iter().position(|w| w == "--").unwrap_or(argv.len());
    let chosen = argv[..split].iter().any(|w| {
        w == "--format"
            || w.starts_with("--format=")
            || w == "-o"
            || w == "--output"
            || w.starts_with("--output=")
    });
    let mut words = argv[..split].to_vec();
    if !chosen {
        words.extend(["--format".to_string(), "jsonl".to_string()]);
    }
    words.extend(argv[split..].iter().cloned());
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jsonl_is_asked_for_unless_the_job_chose() {
        let words = |w: &[&str]| w.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            with_jsonl(&words(&["disk-alert", "--all"])),
            words(&["disk-alert", "--all", "--format", "jsonl"])
        );
        assert_eq!(
            with_jsonl(&words(&["healthmon", "--format", "jsonl"])),
            words(&["healthmon", "--format", "jsonl"])
        );
        assert_eq!(
            with_jsonl(&words(&[
                "remote-run",
                "-i",
                "s.json",
                "--",
                "fim-check",
                "verify"
            ])),
            words(&[
                "remote-run",
                "-i",
                "s.json",
                "--format",
                "jsonl",
                "--",
                "fim-check",
                "verify"
            ])
        );
    }
}
