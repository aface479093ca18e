//! Log text for tests of what reads logs (anomalizer, and secops running
//! it): a steady rhythm to break.

/// A log from `from` minutes after 2026-11-21T10:00Z, `minutes` long: a
/// request line each minute, and a `heartbeat ok` line each minute for the
/// first `beats` of them (so a heartbeat that stops is a silence).
pub fn heartbeat_log(from: u32, minutes: u32, beats: u32) -> String {
    let mut log = String::new();
    for i in from..from + minutes {
        let (h, m) = (10 + i / 60, i % 60);
        if i < from + beats {
            log += &format!("2026-11-21T{h:02}:{m:02}:05Z heartbeat ok seq={i}\n");
        }
        log += &format!(
            "2026-11-21T{h:02}:{m:02}:10Z request served in {}ms\n",
            i % 7
        );
    }
    log
}

/// 200 sshd-style failures, one user hammered 87 times and others once or
/// twice, 300 logins, and one OOM kill: the seed example of anomalizer.
pub fn auth_log() -> String {
    let mut log = String::new();
    for i in 0..113 {
        log += &format!(
            "Failed password for user{} from 10.0.{}.{} port {}\n",
            i % 60,
            i % 7,
            i,
            40000 + i
        );
    }
    for i in 0..87 {
        log += &format!(
            "Failed password for user_xyz from 10.9.9.{} port {}\n",
            i,
            50000 + i
        );
    }
    for i in 0..300 {
        log += &format!(
            "Accepted publickey for deploy from 10.1.1.{} port {}\n",
            i % 200,
            30000 + i
        );
    }
    log += "kernel: Out of memory: Killed process 4242 (java)\n";
    log
}
