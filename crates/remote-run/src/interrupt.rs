//! SIGINT and SIGTERM end a run cleanly: every ssh still running is sent
//! SIGTERM, hosts not yet started are not started, and each of them gets a
//! record with status `interrupted`, so nothing is lost and no ssh process
//! outlives remote-run. The ssh children run in sessions of their own, so
//! this holds for a terminal's Ctrl-C as for `kill -INT` from a service
//! manager or a script. A second signal ends the process at once.
//!
//! Signals are process-wide, so the running children are too: a global
//! registry the signal thread reads.

use std::collections::HashMap;
use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use secops_common::Error;
use secops_common::signals::Stop;

static STOP: AtomicBool = AtomicBool::new(false);
/// Running ssh pids, and whether the signal thread has stopped each.
static CHILDREN: Mutex<Option<HashMap<u32, bool>>> = Mutex::new(None);

/// Installs the handlers and the thread that stops the children.
pub fn install() -> Result<(), Error> {
    let mut wake = Stop::install()?.into_wake();
    std::thread::spawn(move || {
        let mut byte = [0u8; 1];
        if wake.read(&mut byte).is_ok() {
            STOP.store(true, Ordering::SeqCst);
            secops_common::warn!("interrupted: stopping the ssh sessions still running");
            let mut children = CHILDREN.lock().unwrap_or_else(PoisonError::into_inner);
            for (&pid, stopped) in children.iter_mut().flatten() {
                terminate(pid);
                *stopped = true;
            }
        }
    });
    Ok(())
}

/// True once a signal asked the run to stop.
pub fn stopped() -> bool {
    STOP.load(Ordering::SeqCst)
}

fn terminate(pid: u32) {
    if let Ok(pid) = i32::try_from(pid) {
        let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
    }
}

/// A running ssh, known to the signal thread until [`Running::finish`].
/// Finish it only after the child was waited for, so its pid cannot have
/// been reused by then.
pub struct Running(u32);

impl Running {
    /// Registers `pid`; one started just as the signal came is stopped
    /// here, since the signal thread may already have gone through the
    /// registry.
    pub fn register(pid: u32) -> Running {
        let mut children = CHILDREN.lock().unwrap_or_else(PoisonError::into_inner);
        let late = stopped();
        if late {
            terminate(pid);
        }
        children.get_or_insert_default().insert(pid, late);
        Running(pid)
    }

    /// Forgets the child; true if it was stopped because of a signal
    /// (ssh then exits 255 like for any failure of its own).
    pub fn finish(self) -> bool {
        CHILDREN
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_mut()
            .and_then(|children| children.remove(&self.0))
            .unwrap_or(false)
    }
}
