//! `--exec CMD`: runs `sh -c CMD` once per message with the records on its
//! stdin (JSON Lines, alerts then recoveries) and the subject and counts in
//! its environment, for pagers and ticket systems that have a command but
//! no webhook. Exit status 0 is success; anything else, or running past
//! `--timeout`, is a failed try. The command runs in its own process group
//! so a timeout ends its children too.
//!
//! The records are fed to the command a pipe-full at a time between checks
//! on it (the pipe is non-blocking), not built into one text first: a
//! message about 100,000 alerts is 30 MB of JSON Lines. A command that
//! does not read its input, or exits before the end of it, never blocks
//! us: what it did not take is dropped with the pipe.

use std::io::{ErrorKind, Read, Write};
use std::os::fd::AsFd;
use std::os::unix::process::CommandExt;
use std::process::{ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nix::fcntl::{FcntlArg, OFlag, fcntl};
use nix::poll::{PollFd, PollFlags, poll};

use crate::digest::Digest;

pub struct ExecSink {
    command: String,
    timeout: Duration,
    target: String,
}

/// Kept of the command's stderr for the failure message.
const STDERR_KEPT: u64 = 4096;

/// How often the command is checked on while it runs.
const TICK: Duration = Duration::from_millis(20);

/// Records buffered for the pipe at a time.
const FEED: usize = 64 << 10;

impl ExecSink {
    pub fn new(command: &str, timeout: Duration) -> ExecSink {
        ExecSink {
            command: command.to_string(),
            timeout,
            target: format!("exec {command}"),
        }
    }

    pub fn target(&self) -> &str {
        &self.target
    }

    pub fn send(&self, digest: &Digest<'_>) -> Result<(), String> {
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(&self.command)
            .env("SECOPS_NOTIFY_SUBJECT", &digest.subject)
            .env("SECOPS_NOTIFY_FIRING", digest.firing_count().to_string())
            .env(
                "SECOPS_NOTIFY_RESOLVED",
                digest.resolved_count().to_string(),
            )
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .map_err(|err| format!("cannot run sh: {err}"))?;
        let mut feed = Feed::new(
            child.stdin.take().expect("stdin is piped"),
            Box::new(digest.jsonl()),
        );
        let stderr = child.stderr.take().expect("stderr is piped");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.take(STDERR_KEPT).read_to_string(&mut text);
            let _ = tx.send(text);
        });
        let deadline = Instant::now() + self.timeout;
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if Instant::now() >= deadline => {
                    let group = nix::unistd::Pid::from_raw(child.id() as i32);
                    let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
                    let _ = child.wait();
                    return Err(format!(
                        "timed out after {}",
                        humantime::format_duration(self.timeout)
                    ));
                }
                Ok(None) => feed.write_for(TICK),
                Err(err) => return Err(format!("cannot wait for the command: {err}")),
            }
        };
        drop(feed);
        if status.success() {
            return Ok(());
        }
        let stderr = rx.recv_timeout(Duration::from_secs(1)).unwrap_or_default();
        let stderr = stderr.trim().replace('\n', "; ");
        Err(format!(
            "the command {}{}",
            match status.code() {
                Some(code) => format!("exited with status {code}"),
                None => "was killed by a signal".to_string(),
            },
            if stderr.is_empty() {
                String::new()
            } else {
                format!(": {stderr}")
            }
        ))
    }
}

/// The command's stdin and the lines still to write to it.
struct Feed<'a> {
    /// `None` once everything is written (the command sees the end of its
    /// input) or the command closed its end.
    pipe: Option<ChildStdin>,
    lines: Box<dyn Iterator<Item = String> + 'a>,
    buf: Vec<u8>,
    /// How much of `buf` is written.
    at: usize,
}

impl<'a> Feed<'a> {
    fn new(pipe: ChildStdin, lines: Box<dyn Iterator<Item = String> + 'a>) -> Feed<'a> {
        let nonblocking = fcntl(&pipe, FcntlArg::F_GETFL)
            .and_then(|flags| {
                let flags = OFlag::from_bits_retain(flags) | OFlag::O_NONBLOCK;
                fcntl(&pipe, FcntlArg::F_SETFL(flags))
            })
            .is_ok();
        Feed {
            // A pipe we cannot make non-blocking could block us: the
            // command then gets no input rather than a hung run.
            pipe: nonblocking.then_some(pipe),
            lines,
            buf: Vec::new(),
            at: 0,
        }
    }

    /// Writes what the pipe takes for up to `wait`, then returns; sleeps
    /// out the rest when there is nothing (more) to write.
    fn write_for(&mut self, wait: Duration) {
        let deadline = Instant::now() + wait;
        while let Some(pipe) = &mut self.pipe {
            if self.at == self.buf.len() {
                self.buf.clear();
                self.at = 0;
                while self.buf.len() < FEED {
                    let Some(line) = self.lines.next() else { break };
                    self.buf.extend_from_slice(line.as_bytes());
                }
                if self.buf.is_empty() {
                    self.pipe = None; // the end of its input
                    break;
                }
            }
            match pipe.write(&self.buf[self.at..]) {
                Ok(n) => self.at += n,
                Err(err) if err.kind() == ErrorKind::WouldBlock => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return;
                    }
                    let ms = u16::try_from(left.as_millis().max(1)).unwrap_or(u16::MAX);
                    let mut fds = [PollFd::new(pipe.as_fd(), PollFlags::POLLOUT)];
                    let _ = poll(&mut fds, ms);
                }
                Err(err) if err.kind() == ErrorKind::Interrupted => {}
                // It closed its input (exited, or will not read): fine.
                Err(_) => self.pipe = None,
            }
            if Instant::now() >= deadline {
                return;
            }
        }
        std::thread::sleep(deadline.saturating_duration_since(Instant::now()));
    }
}
