//! The drop-in alert log: the old script's
//! `echo "$(date): Disk at ${USAGE}% used" >> /var/log/disk_alert.log`,
//! byte for byte, so whatever reads that log keeps working.

use std::io::Write;
use std::path::{Path, PathBuf};

use secops_common::Error;

use crate::limits::Measure;

/// Where the old script wrote.
pub const DEFAULT_LOG: &str = "/var/log/disk_alert.log";

/// `date`'s default output in the C locale: `Sat Nov 21 20:15:03 UTC 2026`.
const DATE_FORMAT: &str = "%a %b %e %H:%M:%S %Z %Y";

/// The current local time as `date` prints it in the C locale: the time
/// zone from `TZ` or `/etc/localtime` and its abbreviation, as date(1)
/// takes them.
pub fn date_now() -> String {
    jiff::Zoned::now().strftime(DATE_FORMAT).to_string()
}

/// One alert line, without the date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertLine {
    pub percent: u8,
    pub measure: Measure,
    /// Named only when several mounts are checked; the script checked one
    /// and never named it.
    pub mount: Option<PathBuf>,
}

impl AlertLine {
    /// `<date>: Disk at N% used`, then ` on MOUNT` when there is one;
    /// inodes read `Disk at N% inodes used`.
    pub fn render(&self, date: &str) -> String {
        let what = match self.measure {
            Measure::Space => "used",
            Measure::Inodes => "inodes used",
        };
        let mut line = format!("{date}: Disk at {}% {what}", self.percent);
        if let Some(mount) = &self.mount {
            line.push_str(" on ");
            line.push_str(&mount.display().to_string());
        }
        line.push('\n');
        line
    }
}

/// Appends the lines to `path`, each with one `write(2)` on a file opened
/// `O_APPEND`, so lines from concurrent runs never interleave and logrotate
/// needs no copytruncate. A file that cannot be opened or written is an
/// error: an alert must never be lost in silence. A log that ends mid-line
/// (a write cut short by a full disk) gets a newline first, so a cut line
/// never swallows the next alert.
pub fn append(path: &Path, lines: &[AlertLine], date: &str) -> Result<(), Error> {
    if lines.is_empty() {
        return Ok(());
    }
    // A new log is 0640 whatever the umask (see secops_common::perms);
    // one that exists keeps its mode (logrotate's `create`).
    let mut file = secops_common::append::open(path, secops_common::perms::LOG).map_err(|err| {
        Error::failed(format!(
            "cannot append to the alert log {}: {err} (choose another with --log FILE)",
            path.display()
        ))
    })?;
    let mut texts: Vec<String> = lines.iter().map(|line| line.render(date)).collect();
    if secops_common::append::ends_mid_line(path) {
        texts[0].insert(0, '\n');
    }
    for text in texts {
        let written = file.write(text.as_bytes()).map_err(|err| {
            Error::failed(format!(
                "cannot write to the alert log {}: {err}",
                path.display()
            ))
        })?;
        if written != text.len() {
            return Err(Error::failed(format!(
                "the alert log {} took only {written} of {} bytes (is its filesystem full?)",
                path.display(),
                text.len()
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_read_as_the_script_wrote_them() {
        let date = "Sat Nov 21 20:15:03 UTC 2026";
        let line = |percent, measure, mount: Option<&str>| {
            AlertLine {
                percent,
                measure,
                mount: mount.map(PathBuf::from),
            }
            .render(date)
        };
        assert_eq!(
            line(85, Measure::Space, None),
            "Sat Nov 21 20:15:03 UTC 2026: Disk at 85% used\n"
        );
        assert_eq!(
            line(91, Measure::Inodes, Some("/var")),
            "Sat Nov 21 20:15:03 UTC 2026: Disk at 91% inodes used on /var\n"
        );
    }

    #[test]
    fn appends_and_refuses_a_log_it_cannot_open() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("disk_alert.log");
        std::fs::write(&log, "earlier line\n").unwrap();
        let lines = [AlertLine {
            percent: 81,
            measure: Measure::Space,
            mount: None,
        }];
        append(&log, &lines, "D").unwrap();
        append(&log, &lines, "E").unwrap();
        assert_eq!(
            std::fs::read_to_string(&log).unwrap(),
            "earlier line\nD: Disk at 81% used\nE: Disk at 81% used\n"
        );
        // A line cut short (a full disk) does not swallow the next one.
        std::fs::write(&log, "D: Disk at 8").unwrap();
        append(&log, &lines, "E").unwrap();
        assert_eq!(
            std::fs::read_to_string(&log).unwrap(),
            "D: Disk at 8\nE: Disk at 81% used\n"
        );
        let err = append(&dir.path().join("no/such/dir/log"), &lines, "D").unwrap_err();
        assert_eq!(err.exit, secops_common::Exit::Failed);
        assert!(
            err.message.contains("no/such/dir/log") && err.message.contains("--log"),
            "{err}"
        );
    }

    #[test]
    fn dates_use_the_time_zone_abbreviation_of_tz() {
        // Formatting a fixed instant in a fixed zone, as date(1) would.
        let zoned = jiff::Timestamp::from_second(1_795_287_720)
            .unwrap()
            .in_tz("America/New_York")
            .unwrap();
        assert_eq!(
            zoned.strftime(DATE_FORMAT).to_string(),
            "Sat Nov 21 14:02:00 EST 2026"
        );
        // Days below 10 are padded with a space, as %e and date(1) do.
        let early = jiff::Timestamp::from_second(1_772_409_600)
            .unwrap()
            .in_tz("Asia/Kolkata")
            .unwrap();
        assert_eq!(
            early.strftime(DATE_FORMAT).to_string(),
            "Mon Mar  2 05:30:00 IST 2026"
        );
    }
}
