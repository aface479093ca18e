//! `--interval` loops that end cleanly: SIGINT or SIGTERM stops the loop
//! after the current pass is written and flushed; a second signal ends the
//! process at once, for an operator who really means it.
//!
//! Between passes the loop sleeps in one blocking read on a socket pair the
//! signal handler writes to (the self-pipe trick), so an idle monitor wakes
//! only when a pass is due or a signal arrives, never to poll a flag.

use std::io::{ErrorKind, Read};
use std::time::{Duration, Instant};

use crate::cli::RepeatArgs;
use crate::exit::Error;
use crate::signals::Stop;

/// A schedule of passes: one without `--interval`, else every interval
/// (measured from the start, so slow passes do not make the loop drift)
/// until `--count` passes or a signal.
pub struct Repeat {
    interval: Option<Duration>,
    count: Option<u64>,
    /// `None` for a single pass, which keeps the default signal handling.
    stop: Option<Stop>,
}

impl Repeat {
    pub fn new(args: &RepeatArgs) -> Result<Repeat, Error> {
        let stop = match args.interval {
            Some(_) => Some(Stop::install()?),
            None => None,
        };
        Ok(Repeat {
            interval: args.interval,
            count: args.count,
            stop,
        })
    }

    /// Runs `pass(n)` for n = 0, 1, ... as scheduled.
    pub fn run(&self, mut pass: impl FnMut(u64) -> Result<(), Error>) -> Result<(), Error> {
        let start = Instant::now();
        let mut n = 0u64;
        loop {
            pass(n)?;
            n += 1;
            let Some(interval) = self.interval else {
                return Ok(());
            };
            if self.count.is_some_and(|count| n >= count) {
                return Ok(());
            }
            let next = start + interval.saturating_mul(n.min(u32::MAX as u64) as u32);
            if self.sleep_until(next) {
                return Ok(());
            }
        }
    }

    /// Sleeps until `deadline`; true if a signal asked the loop to stop.
    fn sleep_until(&self, deadline: Instant) -> bool {
        let Some(stop) = &self.stop else {
            return false;
        };
        let mut wake = stop.wake();
        loop {
            if stop.requested() {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            if wake.set_read_timeout(Some(left)).is_err() {
                // Cannot block with a deadline: fall back to a plain sleep.
                std::thread::sleep(left);
                continue;
            }
            match wake.read(&mut [0u8; 16]) {
                // A signal's byte: the flag is set, checked above.
                Ok(n) if n > 0 => {}
                Err(err)
                    if matches!(
                        err.kind(),
                        ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                    ) => {}
                _ => std::thread::sleep(left),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_pass_without_interval_and_count_passes_with_one() {
        let passes = |interval: Option<u64>, count: Option<u64>| {
            let args = RepeatArgs {
                interval: interval.map(Duration::from_millis),
                count,
            };
            let mut seen = Vec::new();
            Repeat::new(&args)
                .unwrap()
                .run(|n| {
                    seen.push(n);
                    Ok(())
                })
                .unwrap();
            seen
        };
        assert_eq!(passes(None, None), [0]);
        assert_eq!(passes(Some(1), Some(3)), [0, 1, 2]);
    }

    #[test]
    fn an_error_ends_the_loop() {
        let args = RepeatArgs {
            interval: Some(Duration::from_millis(1)),
            count: Some(5),
        };
        let err = Repeat::new(&args).unwrap().run(|n| {
            if n == 1 {
                Err(Error::failed("boom"))
            } else {
                Ok(())
            }
        });
        assert_eq!(err.unwrap_err().message, "boom");
    }
}
