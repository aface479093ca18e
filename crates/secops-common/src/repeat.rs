//! `--interval` loops that end cleanly: SIGINT or SIGTERM stops the loop
//! after the current pass is written and flushed; a second signal ends the
//! process at once, for an operator who really means it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use signal_hook::consts::{SIGINT, SIGTERM};

use crate::cli::RepeatArgs;
use crate::exit::Error;

/// Longest sleep between checks of the stop flag.
const TICK: Duration = Duration::from_millis(50);

/// A schedule of passes: one without `--interval`, else every interval
/// (measured from the start, so slow passes do not make the loop drift)
/// until `--count` passes or a signal.
pub struct Repeat {
    interval: Option<Duration>,
    count: Option<u64>,
    stop: Arc<AtomicBool>,
}

impl Repeat {
    pub fn new(args: &RepeatArgs) -> Result<Repeat, Error> {
        let stop = Arc::new(AtomicBool::new(false));
        if args.interval.is_some() {
            for signal in [SIGINT, SIGTERM] {
                // Order matters: the shutdown hook sees the flag as it was
                // before this signal, so only a second signal exits.
                signal_hook::flag::register_conditional_shutdown(signal, 130, Arc::clone(&stop))
                    .and_then(|_| signal_hook::flag::register(signal, Arc::clone(&stop)))
                    .map_err(|err| {
                        Error::failed(format!("cannot install signal handlers: {err}"))
                    })?;
            }
        }
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
            while let Some(left) = next.checked_duration_since(Instant::now()) {
                if self.stop.load(Ordering::Relaxed) || left.is_zero() {
                    break;
                }
                std::thread::sleep(left.min(TICK));
            }
            if self.stop.load(Ordering::Relaxed) {
                return Ok(());
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
