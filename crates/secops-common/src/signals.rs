//! SIGINT and SIGTERM, handled alike by every tool that runs for a while
//! (`--interval` loops, `fim-check watch`, remote-run's sessions,
//! secops-notify's grouping): the first signal asks the run to stop cleanly,
//! after what is in hand is written; a second one ends the process at once
//! (status 130), for an operator who really means it.
//!
//! Besides the flag, a signal writes a byte to a socket pair (the self-pipe
//! trick), so a tool can sleep in a blocking read or `poll` and still wake
//! at once, instead of polling the flag.

use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use signal_hook::consts::{SIGINT, SIGTERM};

use crate::exit::Error;

/// The installed handlers: a flag, and the read end of the self-pipe.
pub struct Stop {
    flag: Arc<AtomicBool>,
    wake: UnixStream,
}

impl Stop {
    /// Installs the handlers for SIGINT and SIGTERM.
    pub fn install() -> Result<Stop, Error> {
        let failed =
            |err: std::io::Error| Error::failed(format!("cannot install signal handlers: {err}"));
        let flag = Arc::new(AtomicBool::new(false));
        let (wake, writer) = UnixStream::pair().map_err(failed)?;
        for signal in [SIGINT, SIGTERM] {
            // Order matters: the shutdown hook sees the flag as it was
            // before this signal, so only a second signal exits.
            signal_hook::flag::register_conditional_shutdown(signal, 130, Arc::clone(&flag))
                .and_then(|_| signal_hook::flag::register(signal, Arc::clone(&flag)))
                .and_then(|_| writer.try_clone())
                .and_then(|writer| signal_hook::low_level::pipe::register(signal, writer))
                .map_err(failed)?;
        }
        Ok(Stop { flag, wake })
    }

    /// True once a signal asked the run to stop.
    pub fn requested(&self) -> bool {
        self.flag.load(Ordering::Relaxed)
    }

    /// The flag itself, for a thread that checks it on its own.
    pub fn flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.flag)
    }

    /// Readable once a signal has arrived: block, `poll` or time out on it.
    pub fn wake(&self) -> &UnixStream {
        &self.wake
    }

    /// The read end of the self-pipe, for a thread that owns it.
    pub fn into_wake(self) -> UnixStream {
        self.wake
    }
}
