//! One host's run: the system `ssh` as a child process.
//!
//! Why a subprocess rather than the `openssh` crate: that crate drives this
//! same `/usr/bin/ssh` binary, but pulls in tokio and an async runtime for
//! what is here one child per host and two reader threads; the user's ssh
//! config, agent, jump hosts and known_hosts work identically either way.
//!
//! Safety defaults: `BatchMode=yes` (never hang on a prompt), strict host
//! key checking unless `--accept-new-hostkeys`, no tty (`-T`), and the
//! destination after `--` so a host name cannot become an ssh option.

use std::io::{self, Read};
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

use secops_common::Record;
use secops_inventory::Server;

use crate::capture::Bounded;
use crate::classify::{Status, classify};
use crate::control::Control;
use crate::interrupt;
use crate::passthrough::{self, Stdout};

/// How every host is reached and run.
#[derive(Debug, Clone)]
pub struct SshOptions {
    pub ssh_config: Option<PathBuf>,
    pub connect_timeout: Duration,
    pub timeout: Option<Duration>,
    pub accept_new_hostkeys: bool,
    pub max_output: usize,
    /// Connection sharing; `None` when there is no control directory.
    pub control: Option<Control>,
}

/// What one host did; `stdout` is whatever the caller's reader made of
/// the command's output, `None` when ssh could not even be started.
#[derive(Debug)]
pub struct Outcome<T = Stdout> {
    pub status: Status,
    pub exit_code: Option<i32>,
    pub stdout: Option<T>,
    pub stderr: Bounded,
    pub duration: Duration,
}

/// Grace given after `--timeout` for the remote `timeout` to kill the
/// command and ssh to report it, before the local ssh is killed too.
const KILL_GRACE: Duration = Duration::from_secs(3);
/// `timeout`'s exit status when it had to stop the command.
const TIMEOUT_EXIT: i32 = 124;

/// The full ssh argument list for one host (without the program name).
pub fn arguments(server: &Server, opts: &SshOptions, remote_command: &str) -> Vec<String> {
    let mut args = options(server, opts);
    args.push("--".into());
    args.push(destination(server));
    args.push(remote_command.to_string());
    args
}

/// Where ssh connects: the address, else the name as an ssh-config alias.
pub fn destination(server: &Server) -> String {
    server
        .address
        .clone()
        .unwrap_or_else(|| server.name.clone())
}

/// Every option for one host, up to (not including) the destination;
/// `close` sends `-O exit` with the same ones so it finds the same master.
pub fn options(server: &Server, opts: &SshOptions) -> Vec<String> {
    let mut args: Vec<String> = Vec::new();
    if let Some(config) = &opts.ssh_config {
        args.extend(["-F".into(), config.display().to_string()]);
    }
    let strict = if opts.accept_new_hostkeys {
        "accept-new"
    } else {
        "yes"
    };
    for option in [
        "BatchMode=yes".to_string(),
        format!("StrictHostKeyChecking={strict}"),
        format!("ConnectTimeout={}", opts.connect_timeout.as_secs().max(1)),
        // A host that dies mid-command is noticed in 10 s, not at TCP's
        // keepalive hours later. (ConnectTimeout covers connect and banner.)
        "ServerAliveInterval=5".to_string(),
        "ServerAliveCountMax=2".to_string(),
    ] {
        args.extend(["-o".into(), option]);
    }
    args.push("-T".into());
    if let Some(port) = server.port {
        args.extend(["-p".into(), port.to_string()]);
    }
    if let Some(user) = &server.user {
        args.extend(["-l".into(), user.clone()]);
    }
    if let Some(identity) = &server.identity_file {
        args.extend(["-i".into(), identity.display().to_string()]);
        args.extend(["-o".into(), "IdentitiesOnly=yes".into()]);
    }
    if let Some(jump) = &server.jump {
        args.extend(["-J".into(), jump.clone()]);
    }
    if let Some(control) = &opts.control {
        for option in control.ssh_options(server, opts.ssh_config.as_deref()) {
            args.extend(["-o".into(), option]);
        }
    }
    args
}

/// The command as the remote shell runs it: under coreutils `timeout` when
/// `--timeout` is set, because killing the local ssh leaves a command
/// without a tty running on the host; `-k` follows up with SIGKILL.
pub fn remote_command(command_line: &str, timeout: Option<Duration>) -> String {
    match timeout {
        Some(t) => format!(
            "timeout -k 2 {}s {command_line}",
            t.as_millis().div_ceil(1000).max(1)
        ),
        None => command_line.to_string(),
    }
}

/// Runs the command on one host and waits for it, within the timeouts;
/// its stdout is split into records, handed to `emit` as they come, and
/// kept text.
pub fn run(
    server: &Server,
    opts: &SshOptions,
    remote_command: &str,
    emit: impl FnMut(Record) + Send + 'static,
) -> Outcome {
    let (host, max) = (server.name.clone(), opts.max_output);
    run_with(server, opts, remote_command, Stdio::null(), move |out| {
        passthrough::split(out, &host, max, emit)
    })
}

/// Runs the command on one host with `stdin`, handing its stdout to
/// `read` on a thread of its own (so a file can stream through, as
/// `fetch` does), and waits for it within the timeouts.
pub fn run_with<T: Send + 'static>(
    server: &Server,
    opts: &SshOptions,
    remote_command: &str,
    stdin: Stdio,
    read: impl FnOnce(ChildStdout) -> T + Send + 'static,
) -> Outcome<T> {
    let started = Instant::now();
    let not_run = |status: Status, why: String| {
        let mut stderr = Bounded::new(opts.max_output);
        stderr.push(why.as_bytes());
        Outcome {
            status,
            exit_code: None,
            stdout: None,
            stderr,
            duration: started.elapsed(),
        }
    };
    if interrupt::stopped() {
        return not_run(Status::Interrupted, "not started: interrupted".into());
    }
    let spawned = ssh_command()
        .args(arguments(server, opts, remote_command))
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(err) => return not_run(Status::Unreachable, format!("cannot run ssh: {err}")),
    };
    let running = interrupt::Running::register(child.id());
    let max = opts.max_output;
    let out_pipe = child.stdout.take().expect("stdout is piped");
    let err_pipe = child.stderr.take().expect("stderr is piped");
    let stdout = thread::spawn(move || read(out_pipe));
    let stderr = thread::spawn(move || read_bounded(err_pipe, max));
    let deadline = opts
        .connect_timeout
        .checked_add(opts.timeout.unwrap_or(Duration::MAX))
        .map(|d| d + KILL_GRACE);
    let (exit_code, killed) = wait(&mut child, deadline, started);
    let interrupted = running.finish();
    let stdout = stdout.join().expect("the stdout reader does not panic");
    let stderr = stderr.join().expect("the stderr reader does not panic");
    let duration = started.elapsed();
    let timed_out = killed
        || (exit_code == Some(TIMEOUT_EXIT) || exit_code == Some(128 + 9))
            && opts.timeout.is_some_and(|t| duration >= t);
    let status = if interrupted && exit_code != Some(0) {
        Status::Interrupted
    } else {
        classify(exit_code, stderr.bytes(), timed_out)
    };
    Outcome {
        status,
        exit_code,
        stdout: Some(stdout),
        stderr,
        duration,
    }
}

/// `ssh`, started in a session of its own (util-linux `setsid`, as
/// parallel-ssh does with setsid(2); std has no safe way to call it).
/// A terminal's Ctrl-C then reaches remote-run alone, which stops every
/// ssh and reports each host `interrupted`, instead of racing the children
/// to it. It also puts the ssh processes on the same scheduling footing as
/// pssh's: with autogroup scheduling each session gets its own CPU share,
/// which on a busy machine halves the wall time of a 20-host fan-out.
/// Without `setsid` on PATH, plain `ssh`.
fn ssh_command() -> Command {
    static SETSID: OnceLock<bool> = OnceLock::new();
    let has_setsid = *SETSID.get_or_init(|| on_path("setsid"));
    if has_setsid {
        let mut command = Command::new("setsid");
        command.arg("ssh");
        command
    } else {
        Command::new("ssh")
    }
}

/// Whether a program called `name` is in a directory of `PATH`.
pub fn on_path(name: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(name).is_file()))
}

/// Asks the host's shared connection (master) to exit; true when one was
/// running. Uses the same options as a run, so ssh finds the same socket.
pub fn close(server: &Server, opts: &SshOptions) -> bool {
    Command::new("ssh")
        .args(options(server, opts))
        .args(["-O", "exit", "--"])
        .arg(destination(server))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Waits for ssh, killing it at `deadline`; returns its exit code and
/// whether it had to be killed.
fn wait(child: &mut Child, deadline: Option<Duration>, started: Instant) -> (Option<i32>, bool) {
    let Some(deadline) = deadline else {
        let status = child.wait().ok();
        return (status.and_then(|s| s.code()), false);
    };
    // Polling keeps this to one thread per host; 10 ms is far below any
    // timeout an operator gives.
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return (status.code(), false),
            Ok(None) if started.elapsed() < deadline => thread::sleep(Duration::from_millis(10)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return (None, true);
            }
        }
    }
}

/// Reads `pipe` to its end, keeping its first `max` bytes and counting
/// the rest (stderr, and push's stdout): never more than `max` in memory.
pub fn read_bounded(mut pipe: impl Read, max: usize) -> Bounded {
    let mut kept = Bounded::new(max);
    let mut buf = [0u8; 8192];
    loop {
        match pipe.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => kept.push(&buf[..n]),
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> SshOptions {
        SshOptions {
            ssh_config: Some("cfg".into()),
            connect_timeout: Duration::from_secs(5),
            timeout: None,
            accept_new_hostkeys: false,
            max_output: 10,
            control: None,
        }
    }

    #[test]
    fn the_destination_follows_a_double_dash_and_options_come_first() {
        let server = Server {
            name: "web01".into(),
            address: Some("10.0.0.1".into()),
            port: std::num::NonZeroU16::new(2222),
            user: Some("ops".into()),
            identity_file: Some("/k".into()),
            jump: Some("bastion".into()),
            groups: Vec::new(),
            ..Server::default()
        };
        let args = arguments(&server, &opts(), "uptime");
        let tail = &args[args.len() - 3..];
        assert_eq!(tail, ["--", "10.0.0.1", "uptime"]);
        let joined = args.join(" ");
        for expected in [
            "-F cfg",
            "BatchMode=yes",
            "StrictHostKeyChecking=yes",
            "ConnectTimeout=5",
            "-p 2222",
            "-l ops",
            "-i /k",
            "-J bastion",
        ] {
            assert!(joined.contains(expected), "{expected} in {joined}");
        }
    }

    #[test]
    fn a_timeout_wraps_the_remote_command() {
        assert_eq!(remote_command("sleep 9", None), "sleep 9");
        assert_eq!(
            remote_command("sleep 9", Some(Duration::from_millis(1500))),
            "timeout -k 2 2s sleep 9"
        );
    }
}
