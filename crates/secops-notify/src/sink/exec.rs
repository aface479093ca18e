//! `--exec CMD`: runs `sh -c CMD` once per message with the records on its
//! stdin (JSON Lines, alerts then recoveries) and the subject and counts in
//! its environment, for pagers and ticket systems that have a command but
//! no webhook. Exit status 0 is success; anything else, or running past
//! `--timeout`, is a failed try. The command runs in its own process group
//! so a timeout ends its children too.

use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::digest::Digest;

pub struct ExecSink {
    command: String,
    timeout: Duration,
    target: String,
}

/// Kept of the command's stderr for the failure message.
const STDERR_KEPT: u64 = 4096;

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

    pub fn send(&self, digest: &Digest) -> Result<(), String> {
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(&self.command)
            .env("SECOPS_NOTIFY_SUBJECT", &digest.subject)
            .env("SECOPS_NOTIFY_FIRING", digest.firing.len().to_string())
            .env("SECOPS_NOTIFY_RESOLVED", digest.resolved.len().to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .map_err(|err| format!("cannot run sh: {err}"))?;
        let input = digest.jsonl();
        let mut stdin = child.stdin.take().expect("stdin is piped");
        // A command that does not read its input must not block us.
        std::thread::spawn(move || {
            let _ = stdin.write_all(input.as_bytes());
        });
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
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
                Err(err) => return Err(format!("cannot wait for the command: {err}")),
            }
        };
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
