//! Alerts go out through the real secops-notify (beside secops or on
//! PATH), run once per batch with the notify settings and fed the batch's
//! records on stdin; its own records (`notify.sent`, `notify.failed`) come
//! back into the central log. One delivery at a time, on a thread of its
//! own, so a slow webhook never holds up the schedule and two runs of
//! secops-notify never race on its state. A delivery that fails loses
//! nothing: every record is in the central log before it is handed over,
//! and secops-notify keeps what it still owes in its state.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc::{self, Sender};
use std::thread;

use secops_common::{Alerting, Record};

use crate::job::Event;
use crate::settings::{NotifyPlan, find_program};

/// The name the central log's writer knows secops-notify's lines by.
pub const NOTIFY_JOB: &str = "secops-notify";

/// A batch of records, and how to deliver it.
struct Batch {
    records: Vec<Record>,
    config: PathBuf,
    state_dir: Option<PathBuf>,
}

/// The delivery thread's inbox, and the thread.
pub struct Deliveries {
    tx: Sender<Batch>,
    thread: thread::JoinHandle<()>,
}

impl Deliveries {
    /// Starts the delivery thread; secops-notify's stdout goes to `events`.
    pub fn start(events: Sender<Event>) -> Deliveries {
        let (tx, rx) = mpsc::channel::<Batch>();
        let thread = thread::spawn(move || {
            for batch in rx {
                deliver(&batch, &events);
            }
        });
        Deliveries { tx, thread }
    }

    /// Takes no more batches; the thread ends once every batch handed over
    /// is delivered (secops must not exit before: an alert still queued
    /// would be lost).
    pub fn close(self) -> thread::JoinHandle<()> {
        drop(self.tx);
        self.thread
    }

    /// Hands `records` to secops-notify if any of them can page (firing,
    /// resolved, or from a program that predates the alert contract).
    pub fn send(&self, plan: &NotifyPlan, config: PathBuf, state_dir: PathBuf, records: &[Record]) {
        let records: Vec<Record> = records
            .iter()
            .filter(|rec| match rec.alerting() {
                Alerting::Observation => false,
                Alerting::Alert(..) => true,
                Alerting::Unknown => rec.severity >= plan.min_severity,
            })
            .cloned()
            .collect();
        if records.is_empty() {
            return;
        }
        let _ = self.tx.send(Batch {
            records,
            config,
            state_dir: (!plan.has_state_dir).then_some(state_dir),
        });
    }
}

fn deliver(batch: &Batch, events: &Sender<Event>) {
    let Some(program) = find_program(NOTIFY_JOB) else {
        secops_common::warn!(
            "secops-notify is not beside secops or on PATH: {} alert records are only in the central log",
            batch.records.len()
        );
        return;
    };
    let mut cmd = Command::new(program);
    cmd.arg("--config").arg(&batch.config);
    if let Some(dir) = &batch.state_dir {
        cmd.arg("--state-dir").arg(dir);
    }
    let child = cmd
        .args(["--format", "jsonl"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(err) => {
            secops_common::warn!("cannot run secops-notify: {err}");
            return;
        }
    };
    let mut input = Vec::new();
    for rec in &batch.records {
        input.extend_from_slice(rec.to_json().as_bytes());
        input.push(b'\n');
    }
    let mut stdin = child.stdin.take().expect("piped");
    let writer = thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output();
    let _ = writer.join();
    match out {
        Ok(out) => {
            for line in out.stdout.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
                let _ = events.send(Event::Line {
                    job: NOTIFY_JOB.to_string(),
                    line: line.to_vec(),
                });
            }
            if !matches!(out.status.code(), Some(0 | 1)) {
                secops_common::warn!(
                    "secops-notify ended with {}: what it could not deliver stays owed in its state, and every record is in the central log",
                    out.status
                );
            }
        }
        Err(err) => secops_common::warn!("secops-notify: {err}"),
    }
}
