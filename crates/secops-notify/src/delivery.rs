//! Sending one message through one sink with bounded retries: `--attempts`
//! tries, waiting `--retry-delay` before the second and twice as long
//! before each next one (at most a minute), so a mail server restarting or
//! a webhook rate limit is ridden out but a dead one does not hold a cron
//! run for an hour. A request the service refuses outright (400, 401, 403,
//! 404, 422) is not tried again in this run: the same bytes would be
//! refused again. A service that answers 429 with `Retry-After` is left
//! alone that long; one that asks for more than [`MAX_DELAY`] is not tried
//! again in this run (the message stays owed for the next). The error kept
//! is the last one, scrubbed of secrets.

use std::time::Duration;

use crate::digest::Digest;
use crate::secret::Redactor;
use crate::sink::{Attempt, Sink};

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
    let mut progress = Attempt::default();
    loop {
        let err = match sink.send(digest, &mut progress) {
            Ok(()) => {
                return Delivery {
                    attempts: attempt,
                    error: None,
                };
            }
            Err(err) => err,
        };
        let text = redactor.redact(&err.text);
        if err.permanent {
            return Delivery {
                attempts: attempt,
                error: Some(format!(
                    "{text} (refused: not retried in this run; it stays owed)"
                )),
            };
        }
        let wait = match err.retry_after {
            Some(asked) if asked > MAX_DELAY => {
                return Delivery {
                    attempts: attempt,
                    error: Some(format!(
                        "{text} (rate limited: the service asked for {} before the next try; the message stays owed for the next run)",
                        humantime::format_duration(asked)
                    )),
                };
            }
            Some(asked) => asked.max(delay),
            None => delay,
        };
        if attempt >= policy.attempts {
            return Delivery {
                attempts: attempt,
                error: Some(text),
            };
        }
        secops_common::warn!(
            "{}: try {attempt} of {} failed: {text}; retrying in {}",
            sink.target(),
            policy.attempts,
            humantime::format_duration(wait)
        );
        std::thread::sleep(wait);
        delay = (delay * 2).min(MAX_DELAY);
        attempt += 1;
    }
}
