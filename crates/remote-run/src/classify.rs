//! Telling ssh's own failures apart. ssh exits 255 for every one of them,
//! so the class comes from the message it prints on stderr; a remote
//! command that itself exits 255 without such a message is a plain failure.

/// How one host's run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    /// The command ran and exited non-zero.
    Failed,
    /// `--timeout` expired and the command was killed.
    Timeout,
    /// No TCP connection or no SSH banner within `--connect-timeout`.
    Unreachable,
    AuthFailed,
    /// The host's key differs from the one in known_hosts.
    HostkeyMismatch,
    /// The host is not in known_hosts and strict checking is on.
    HostkeyUnknown,
    /// SIGINT or SIGTERM stopped remote-run before the host finished (or
    /// started).
    Interrupted,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Failed => "failed",
            Status::Timeout => "timeout",
            Status::Unreachable => "unreachable",
            Status::AuthFailed => "auth_failed",
            Status::HostkeyMismatch => "hostkey_mismatch",
            Status::HostkeyUnknown => "hostkey_unknown",
            Status::Interrupted => "interrupted",
        }
    }

    /// True when the command never ran to completion on the host: these
    /// make the run exit 3.
    pub fn is_run_failure(self) -> bool {
        !matches!(self, Status::Ok | Status::Failed)
    }
}

/// ssh's messages for each class, matched in this order (a changed key
/// also prints "Host key verification failed", so it comes first).
const PATTERNS: &[(Status, &[&str])] = &[
    (
        Status::HostkeyMismatch,
        &[
            "REMOTE HOST IDENTIFICATION HAS CHANGED",
            "POSSIBLE DNS SPOOFING",
        ],
    ),
    (
        Status::HostkeyUnknown,
        &["host key is known for", "Host key verification failed"],
    ),
    (
        Status::AuthFailed,
        &["Permission denied (", "Too many authentication failures"],
    ),
    (
        Status::Unreachable,
        &[
            "Connection refused",
            "Connection timed out",
            "No route to host",
            "Network is unreachable",
            "Could not resolve hostname",
            "Name or service not known",
            "Connection closed by",
            "Connection reset by",
            "kex_exchange_identification",
        ],
    ),
];

/// The status of a finished run: `exit_code` is `None` when ssh was killed.
pub fn classify(exit_code: Option<i32>, stderr: &[u8], timed_out: bool) -> Status {
    if timed_out {
        return Status::Timeout;
    }
    match exit_code {
        Some(0) => Status::Ok,
        Some(255) => {
            let text = String::from_utf8_lossy(stderr);
            PATTERNS
                .iter()
                .find(|(_, needles)| needles.iter().any(|n| text.contains(n)))
                .map_or(Status::Failed, |(status, _)| *status)
        }
        _ => Status::Failed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssh_messages_pick_the_class() {
        let refused = b"ssh: connect to host 127.0.0.1 port 9: Connection refused\r\n";
        assert_eq!(classify(Some(255), refused, false), Status::Unreachable);
        let denied = b"root@127.0.0.1: Permission denied (publickey).\r\n";
        assert_eq!(classify(Some(255), denied, false), Status::AuthFailed);
        let changed = b"@ WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED! @\nHost key verification failed.\n";
        assert_eq!(classify(Some(255), changed, false), Status::HostkeyMismatch);
        let unknown = b"No ED25519 host key is known for [127.0.0.1]:2222 and you have requested strict checking.\r\nHost key verification failed.\r\n";
        assert_eq!(classify(Some(255), unknown, false), Status::HostkeyUnknown);
    }

    #[test]
    fn exit_codes_without_ssh_messages_are_the_commands() {
        assert_eq!(classify(Some(0), b"", false), Status::Ok);
        assert_eq!(
            classify(Some(3), b"Connection refused", false),
            Status::Failed
        );
        assert_eq!(
            classify(Some(255), b"my tool failed", false),
            Status::Failed
        );
        assert_eq!(classify(None, b"", true), Status::Timeout);
    }
}
