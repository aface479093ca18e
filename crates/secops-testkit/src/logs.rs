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
