//! The scanners vulnscan drives (nmap, nikto) as managed subprocesses:
//! an argument list (never a shell string), no stdin, both pipes drained
//! on their own threads, and a deadline after which the child is killed.

use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use secops_common::{Context, Error, info};

/// How a run ended, with everything it printed.
pub struct Finished {
    pub stdout: String,
    pub stderr: String,
    /// Exited with status 0.
    pub success: bool,
    /// Killed at the deadline.
    pub timed_out: bool,
}

/// Runs `program` with `args` for at most `timeout`.
pub fn run(program: &Path, args: &[String], timeout: Duration) -> Result<Finished, Error> {
    info!("running {} {}", program.display(), args.join(" "));
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context(|| format!("cannot run {}", program.display()))?;
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let (success, timed_out) = wait(&mut child, timeout, program)?;
    Ok(Finished {
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
        success,
        timed_out,
    })
}

/// Reads a pipe to the end on its own thread, so a full stderr pipe can
/// never stall the child while we wait on stdout.
fn drain(pipe: Option<impl Read + Send + 'static>) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut bytes);
        }
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// Waits up to `timeout`, then kills; returns (exited 0, timed out).
fn wait(child: &mut Child, timeout: Duration, program: &Path) -> Result<(bool, bool), Error> {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Ok((status.success(), false)),
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Ok((false, true));
            }
            Ok(None) => thread::sleep(Duration::from_millis(20)),
            Err(err) => {
                return Err(Error::failed(format!(
                    "cannot wait for {}: {err}",
                    program.display()
                )));
            }
        }
    }
}
