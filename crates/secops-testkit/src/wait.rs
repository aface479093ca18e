//! Waiting for something another process does.

use std::thread;
use std::time::{Duration, Instant};

/// How long a test waits for another process before it fails: generous,
/// because other builds and tests share the machine, and a wait that holds
/// early returns early.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// Polls `done` every 20 ms until it holds (true) or `timeout` passes
/// (false), so the caller fails with what it knows.
pub fn wait_until(timeout: Duration, mut done: impl FnMut() -> bool) -> bool {
    let started = Instant::now();
    loop {
        if done() {
            return true;
        }
        if started.elapsed() >= timeout {
            return false;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn returns_as_soon_as_it_holds_and_false_after_the_timeout() {
        let mut polls = 0;
        assert!(wait_until(PATIENCE, || {
            polls += 1;
            polls == 3
        }));
        assert_eq!(polls, 3);
        assert!(!wait_until(Duration::from_millis(50), || false));
    }
}
