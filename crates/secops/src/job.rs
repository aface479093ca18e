//! One run of one job: the program started from its argument vector (never
//! a shell) in a process group of its own, its stdout sent line by line to
//! the writer of the central log, the tail of its stderr kept for the
//! failure record, and the whole group killed at its timeout.

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, Stdio};
use std::sync::mpsc::Sender;
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

use crate::settings::find_program;

/// The stderr kept for a failure record: its last bytes.
const STDERR_TAIL: usize = 2048;
/// A longer stdout line is cut off there and dropped (not a record).
const MAX_LINE: usize = 4 << 20;
/// How long a job gets between SIGTERM and SIGKILL at its timeout.
const KILL_GRACE: Duration = Duration::from_secs(2);

/// What a job's thread tells the scheduler.
#[derive(Debug)]
pub enum Event {
    Started { job: String, pgid: i32 },
    Line { job: String, line: Vec<u8> },
    Done { job: String, outcome: Outcome },
    Signal(i32),
}

/// How a run ended.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub started: SystemTime,
    pub duration: Duration,
    pub exit: Option<i32>,
    pub signal: Option<i32>,
    pub timed_out: Option<Duration>,
    pub spawn_error: Option<String>,
    pub stderr: String,
}

impl Outcome {
    /// Why the run counts as failed, or none: exits 0 (nothing found) and 1
    /// (found something) are good runs; any other exit, a signal, a
    /// timeout or a program that did not start is a failure.
    pub fn failure(&self) -> Option<String> {
        if let Some(err) = &self.spawn_error {
            return Some(format!("did not start: {err}"));
        }
        if let Some(limit) = self.timed_out {
            return Some(format!("killed after its {limit:?} timeout"));
        }
        if let Some(signal) = self.signal {
            let name =
                Signal::try_from(signal).map_or_else(|_| signal.to_string(), |s| s.to_string());
            return Some(format!("killed by {name}"));
        }
        match self.exit {
            Some(0 | 1) => None,
            Some(2) => Some("exit 2: bad usage, settings or input".to_string()),
            Some(3) => Some("exit 3: the run itself failed".to_string()),
            Some(code) => Some(format!("exit {code}")),
            None => Some("ended without a status".to_string()),
        }
    }

    /// `exit 0`, `killed by SIGKILL`, ...
    pub fn describe(&self) -> String {
        match (self.failure(), self.exit) {
            (Some(why), _) => why,
            (None, Some(code)) => format!("exit {code}"),
            (None, None) => "ended".to_string(),
        }
    }
}

/// Starts `argv` for `job` on a thread of its own; every event goes to `tx`.
pub fn start(job: String, argv: Vec<String>, timeout: Option<Duration>, tx: Sender<Event>) {
    thread::spawn(move || {
        let outcome = run(&job, &argv, timeout, &tx);
        let _ = tx.send(Event::Done { job, outcome });
    });
}

fn run(job: &str, argv: &[String], timeout: Option<Duration>, tx: &Sender<Event>) -> Outcome {
    let started = SystemTime::now();
    let clock = Instant::now();
    let mut outcome = Outcome {
        started,
        duration: Duration::ZERO,
        exit: None,
        signal: None,
        timed_out: None,
        spawn_error: None,
        stderr: String::new(),
    };
    let Some(program) = find_program(&argv[0]) else {
        outcome.spawn_error = Some(format!("`{}` is not beside secops or on PATH", argv[0]));
        return outcome;
    };
    let spawned = Command::new(&program)
        .args(&argv[1..])
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(err) => {
            outcome.spawn_error = Some(format!("{}: {err}", program.display()));
            return outcome;
        }
    };
    let pgid = child.id() as i32;
    let _ = tx.send(Event::Started {
        job: job.to_string(),
        pgid,
    });
    let stdout = child.stdout.take().expect("piped");
    let stderr = child.stderr.take().expect("piped");
    let lines = {
        let (tx, job) = (tx.clone(), job.to_string());
        thread::spawn(move || forward_lines(stdout, &job, &tx))
    };
    let tail = thread::spawn(move || stderr_tail(stderr));

    let status = match timeout {
        None => child.wait(),
        Some(limit) => loop {
            match child.try_wait() {
                Ok(Some(status)) => break Ok(status),
                Ok(None) => {}
                Err(err) => break Err(err),
            }
            let elapsed = clock.elapsed();
            if elapsed >= limit && outcome.timed_out.is_none() {
                outcome.timed_out = Some(limit);
                let _ = killpg(Pid::from_raw(pgid), Signal::SIGTERM);
            }
            if elapsed >= limit + KILL_GRACE {
                let _ = killpg(Pid::from_raw(pgid), Signal::SIGKILL);
            }
            thread::sleep(Duration::from_millis(25));
        },
    };
    // What the tool left behind in its group would hold its pipes open.
    let _ = killpg(Pid::from_raw(pgid), Signal::SIGKILL);
    let _ = lines.join();
    outcome.stderr = tail.join().unwrap_or_default();
    outcome.duration = clock.elapsed();
    match status {
        Ok(status) => {
            outcome.exit = status.code();
            outcome.signal = status.signal();
        }
        Err(err) => outcome.spawn_error = Some(format!("cannot wait for it: {err}")),
    }
    outcome
}

fn forward_lines(stdout: impl Read, job: &str, tx: &Sender<Event>) {
    let mut reader = BufReader::with_capacity(1 << 16, stdout);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match reader
            .by_ref()
            .take(MAX_LINE as u64)
            .read_until(b'\n', &mut buf)
        {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        if buf.last() != Some(&b'\n') && buf.len() >= MAX_LINE {
            let _ = reader.skip_until(b'\n');
            secops_common::warn!(
                "job {job}: a line longer than {} MiB was dropped",
                MAX_LINE >> 20
            );
            continue;
        }
        let line = buf.strip_suffix(b"\n").unwrap_or(&buf);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let event = Event::Line {
            job: job.to_string(),
            line: line.to_vec(),
        };
        if tx.send(event).is_err() {
            return;
        }
    }
}

fn stderr_tail(mut stderr: impl Read) -> String {
    let mut tail = Vec::new();
    let mut chunk = [0u8; 4096];
    while let Ok(n) = stderr.read(&mut chunk) {
        if n == 0 {
            break;
        }
        tail.extend_from_slice(&chunk[..n]);
        if tail.len() > STDERR_TAIL {
            tail.drain(..tail.len() - STDERR_TAIL);
        }
    }
    String::from_utf8_lossy(&tail).trim().to_string()
}
