//! A real server a test starts on loopback (sshd, openssl s_server,
//! chromedriver...): started, waited for until it listens, its log shown
//! when it dies, killed when the test is done with it.

use std::fs;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use tempfile::TempDir;

use crate::wait::{PATIENCE, wait_until};

/// A child process serving on `addr:port`; killed on drop. It owns the
/// temp dir its files (configuration, keys, `log`) live in, because some
/// servers read them again after starting (sshd re-executes itself for
/// every connection).
pub struct Daemon {
    pub addr: String,
    pub port: u16,
    name: String,
    dir: TempDir,
    child: Child,
}

impl Daemon {
    /// Starts `cmd`, which must listen on `addr:port`, with its stderr in
    /// `dir/log`, and waits until it accepts a connection.
    pub fn start(cmd: &mut Command, dir: TempDir, addr: &str, port: u16) -> Daemon {
        let name = Path::new(cmd.get_program())
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let log = fs::File::create(dir.path().join("log")).expect("the log file is created");
        // Its stdin and stdout must not hold the test's pipes.
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start {name}: {err}"));
        let mut daemon = Daemon {
            addr: addr.to_string(),
            port,
            name,
            dir,
            child,
        };
        daemon.wait_until_listening();
        daemon
    }

    fn wait_until_listening(&mut self) {
        let listening = wait_until(PATIENCE, || {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("{} exited with {status}: {}", self.name, self.log());
            }
            TcpStream::connect((self.addr.as_str(), self.port)).is_ok()
        });
        assert!(
            listening,
            "{} did not listen on {}:{} within {PATIENCE:?}: {}",
            self.name,
            self.addr,
            self.port,
            self.log()
        );
    }

    /// The directory its files live in.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A file in that directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// What it wrote on stderr so far.
    pub fn log(&self) -> String {
        fs::read_to_string(self.path("log")).unwrap_or_default()
    }

    /// Stops it (its port then refuses connections).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_is_waited_for_and_stopped() {
        crate::require("python3", "python3");
        let port = crate::free_port("127.0.0.1");
        let script = format!(
            "import socket, time\ns = socket.socket()\ns.bind(('127.0.0.1', {port}))\n\
             s.listen()\ntime.sleep(60)"
        );
        let mut daemon = Daemon::start(
            Command::new("python3").args(["-c", &script]),
            tempfile::tempdir().unwrap(),
            "127.0.0.1",
            port,
        );
        assert!(TcpStream::connect(("127.0.0.1", port)).is_ok());
        daemon.stop();
        assert!(TcpStream::connect(("127.0.0.1", port)).is_err());
    }

    #[test]
    #[should_panic(expected = "exited with")]
    fn a_server_that_dies_shows_its_log() {
        Daemon::start(
            Command::new("sh").args(["-c", "echo broken >&2; exit 1"]),
            tempfile::tempdir().unwrap(),
            "127.0.0.1",
            crate::closed_port(),
        );
    }
}
