//! Sending one message through one sink with bounded retries: `--attempts`
//! tries, waiting `--retry-delay` before the second and twice as long
//! before each next one (at most a minute), so a mail server restarting or
//! a webhook rate limit is ridden out but a dead one does not hold a cron
//! run for an hour. The error kept is the last one, scrubbed of secrets.

use std::time::Duration;

use crate::digest::Digest;
use crate::secret::Redactor;
use crate::sink::Sink;

/// Longest wait between two tries.
const MAX_DELAY: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy)]
pub struct Policy {
    pub attempts: u32,
    pub retry_delay: Duration,
}

/// How a delivery ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub attempts: u32,
    /// The last error, scrubbed; `None` when delivered.
    pub error: Option<String>,
}

pub fn deliver(sink: &Sink, digest: &Digest<'_>, policy: Policy, redactor: &Redactor) -> Delivery {
    let mut delay = policy.retry_delay;
    let mut attempt = 1;
    loop {
        match sink.send(digest) {
            Ok(()) => {
                return Delivery {
                    attempts: attempt,
                    error: None,
                };
            }
            Err(err) => {
                let err = redactor.redact(&err);
                if attempt >= policy.attempts {
                    return Delivery {
                        attempts: attempt,
                        error: Some(err),
                    };
                }
                secops_common::warn!(
                    "{}: try {attempt} of {} failed: {err}; retrying in {}",
                    sink.target(),
                    policy.attempts,
                    humantime::format_duration(delay)
                );
                std::thread::sleep(delay);
                delay = (delay * 2).min(MAX_DELAY);
                attempt += 1;
            }
        }
    }
}
