//! Syslog on the local datagram socket (`/dev/log`, or `--syslog-socket`):
//! one datagram per alert or recovery, framed as the C library's syslog(3)
//! frames them (RFC 3164: `<PRI>TAG[PID]: MESSAGE`), facility `daemon`,
//! the record's severity mapped to the syslog level. The timestamp is left
//! to the daemon, which stamps every local message itself.

use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;

use secops_common::{Record, Severity};

use crate::digest::Digest;

pub struct SyslogSink {
    socket: PathBuf,
    target: String,
}

/// LOG_DAEMON.
const FACILITY: u8 = 3;

/// Datagram size every syslog daemon takes without cutting.
const MAX_MESSAGE: usize = 2000;

impl SyslogSink {
    pub fn new(socket: PathBuf) -> SyslogSink {
        SyslogSink {
            target: format!("syslog {}", socket.display()),
            socket,
        }
    }

    pub fn target(&self) -> &str {
        &self.target
    }

    pub fn send(&self, digest: &Digest<'_>) -> Result<(), String> {
        let socket =
            UnixDatagram::unbound().map_err(|err| format!("cannot open a socket: {err}"))?;
        let lines = digest
            .firing()
            .map(|r| frame(&r, false))
            .chain(digest.resolved().map(|r| frame(&r, true)));
        for line in lines {
            socket
                .send_to(line.as_bytes(), &self.socket)
                .map_err(|err| format!("cannot send to {}: {err}", self.socket.display()))?;
        }
        Ok(())
    }
}

fn frame(rec: &Record, resolved: bool) -> String {
    // LOG_CRIT, LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO.
    let level = match (resolved, rec.severity) {
        (true, _) | (false, Severity::Info) => 6,
        (false, Severity::Low) => 5,
        (false, Severity::Medium) => 4,
        (false, Severity::High) => 3,
        (false, Severity::Critical) => 2,
    };
    let label = if resolved {
        "RESOLVED".to_string()
    } else {
        rec.severity.as_str().to_ascii_uppercase()
    };
    let message: String = rec
        .message
        .split(['\r', '\n'])
        .collect::<Vec<_>>()
        .join(" ");
    let mut line = format!(
        "<{}>secops-notify[{}]: [{label}] {} {} {}: {message}",
        FACILITY * 8 + level,
        std::process::id(),
        rec.host,
        rec.tool,
        rec.kind,
    );
    secops_common::text::clip(&mut line, MAX_MESSAGE);
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_carry_priority_tag_and_label() {
        let mut rec = Record::new(
            "disk-alert",
            "disk.alert",
            Severity::High,
            "/var is 93% full",
        );
        rec.host = "web1".into();
        let line = frame(&rec, false);
        assert!(line.starts_with("<27>secops-notify["), "{line}");
        assert!(line.ends_with("]: [HIGH] web1 disk-alert disk.alert: /var is 93% full"));
        assert!(frame(&rec, true).starts_with("<30>"));
    }
}
