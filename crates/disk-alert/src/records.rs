//! Turning checks into records: the fields of `docs/records.md` and one
//! sentence an operator can act on.

use std::path::Path;

use secops_common::text::human_bytes;
use secops_common::{Record, Severity};

use crate::alerting::Alerting;
use crate::check::{Assessment, Checked};
use crate::limits::{Level, Levels, Measure};
use crate::usage::{Usage, UsageError};

pub const TOOL: &str = "disk-alert";

/// The fields a table shows.
pub const TABLE_COLUMNS: [&str; 12] = [
    "severity",
    "kind",
    "mount",
    "device",
    "fstype",
    "size_bytes",
    "used_bytes",
    "avail_bytes",
    "percent",
    "inodes_percent",
    "level",
    "error",
];

/// What names a measure's alert on a mount (docs/records.md, "Alerts").
pub fn alert_parts(measure: Measure, mount: &str) -> [&str; 2] {
    [measure.as_str(), mount]
}

/// What names the alert of a mount that cannot be checked.
pub fn error_parts(mount: &str) -> [&str; 2] {
    ["error", mount]
}

/// What names the alert of an output file (the alert log, the metrics
/// textfile) that cannot be written.
pub fn write_parts(path: &str) -> [&str; 2] {
    ["write", path]
}

/// `disk.write_failed`: the alert log or the metrics textfile `path` could
/// not be written (a full or read-only disk, EIO), since `since`. The
/// alerts themselves are still in the records: a disk full enough to stop
/// the log is what disk-alert is there to report.
pub fn write_failed_record(what: &str, path: &Path, err: &str, since: &str) -> Record {
    let path = path_text(path);
    Record::new(TOOL, "disk.write_failed", Severity::High, err)
        .with("file", what)
        .with("path", path.as_str())
        .with("error", err)
        .with("since", since)
        .firing(&write_parts(&path))
}

/// `disk.write_recovered`: `path`, which could not be written since
/// `since`, was written again.
pub fn write_recovered_record(what: &str, path: &Path, since: &str) -> Record {
    let path = path_text(path);
    Record::new(
        TOOL,
        "disk.write_recovered",
        Severity::Info,
        format!("the {what} {path} is written again"),
    )
    .with("file", what)
    .with("path", path.as_str())
    .with("since", since)
    .resolved(&write_parts(&path))
}

/// `disk.usage`: one per filesystem checked, severity by its worse level.
/// An observation: the `disk.alert` beside it is what pages.
pub fn usage_record(checked: &Checked, usage: &Usage, assessment: &Assessment) -> Record {
    let (levels, level) = assessment.space;
    let mut rec = Record::new(
        TOOL,
        "disk.usage",
        assessment.worst().severity(),
        usage_message(checked, usage, assessment),
    );
    mount_fields(&mut rec, checked);
    figures(&mut rec, Some(usage));
    rec.set("warn", levels.warn);
    rec.set("crit", levels.crit);
    rec.set("level", level.as_str());
    let inodes = assessment.inodes;
    rec.set("inodes_warn", inodes.map(|(l, _)| l.warn));
    rec.set("inodes_crit", inodes.map(|(l, _)| l.crit));
    rec.set("inodes_level", inodes.map(|(_, l)| l.as_str()));
    rec
}

/// `disk.alert`: a measure over its warning level.
pub fn alert_record(
    checked: &Checked,
    usage: &Usage,
    measure: Measure,
    levels: Levels,
    level: Level,
    since: &str,
) -> Record {
    let mut rec = Record::new(
        TOOL,
        "disk.alert",
        level.severity(),
        alert_message(checked, usage, measure, levels, level),
    );
    mount_fields(&mut rec, checked);
    rec.set("measure", measure.as_str());
    rec.set("level", level.as_str());
    rec.set("warn", levels.warn);
    rec.set("crit", levels.crit);
    rec.set("since", since);
    figures(&mut rec, Some(usage));
    let mount = path_text(checked.mountpoint());
    rec.firing(&alert_parts(measure, &mount))
}

/// `disk.recovered`: a measure that was alerting is back at or below its
/// warning level.
pub fn recovered_record(
    checked: &Checked,
    usage: &Usage,
    measure: Measure,
    levels: Levels,
    was: &Alerting,
) -> Record {
    let mount = checked.mountpoint().display();
    let message = match measure {
        Measure::Space => format!(
            "{mount} is back to {} full, at or below its warning level of {}%",
            percent_text(usage.percent),
            levels.warn
        ),
        Measure::Inodes => format!(
            "{mount} is back to {} of its inodes used, at or below its warning level of {}%",
            percent_text(usage.inodes_percent),
            levels.warn
        ),
    };
    let mut rec = Record::new(TOOL, "disk.recovered", Severity::Info, message);
    mount_fields(&mut rec, checked);
    recovery_fields(&mut rec, measure, Some(levels), was, "below");
    figures(&mut rec, Some(usage));
    let mount = path_text(checked.mountpoint());
    rec.resolved(&alert_parts(measure, &mount))
}

/// `disk.recovered` for an alerting mount that is no longer mounted.
pub fn unmounted_record(was: &Alerting) -> Record {
    let mut rec = Record::new(
        TOOL,
        "disk.recovered",
        Severity::Info,
        format!(
            "{} is no longer mounted; its {} alert is over",
            was.mount.display(),
            was.measure.as_str()
        ),
    );
    let mount = was.mount.display().to_string();
    rec.set("mount", mount.as_str());
    rec.set("path", mount);
    rec.set("device", None::<String>);
    rec.set("fstype", None::<String>);
    rec.set("readonly", None::<bool>);
    recovery_fields(&mut rec, was.measure, None, was, "unmounted");
    figures(&mut rec, None);
    let mount = path_text(&was.mount);
    rec.resolved(&alert_parts(was.measure, &mount))
}

/// `disk.error`: a filesystem that could not be checked, since `since`.
pub fn error_record(checked: &Checked, err: &UsageError, since: &str) -> Record {
    let what = match &checked.mount {
        Some(m) => format!(
            "{} ({} on {})",
            checked.mountpoint().display(),
            m.fstype,
            m.device
        ),
        None => checked.path.display().to_string(),
    };
    let mut rec = Record::new(
        TOOL,
        "disk.error",
        Severity::High,
        format!("cannot check {what}: {err}"),
    );
    mount_fields(&mut rec, checked);
    rec.set("error", err.to_string());
    rec.set("timed_out", err.is_timeout());
    rec.set("since", since);
    let mount = path_text(checked.mountpoint());
    rec.firing(&error_parts(&mount))
}

/// `disk.error_cleared`: a filesystem that could not be checked since
/// `since` can be again (`checked`), or is no longer mounted (`None`).
pub fn error_cleared_record(mount: &str, checked: Option<&Checked>, since: &str) -> Record {
    let message = match checked {
        Some(_) => format!("{mount} can be checked again"),
        None => format!("{mount} is no longer mounted; its check error is over"),
    };
    let mut rec = Record::new(TOOL, "disk.error_cleared", Severity::Info, message);
    match checked {
        Some(checked) => mount_fields(&mut rec, checked),
        None => {
            rec.set("mount", mount);
            rec.set("path", mount);
            rec.set("device", None::<String>);
            rec.set("fstype", None::<String>);
            rec.set("readonly", None::<bool>);
        }
    }
    rec.set("since", since);
    rec.set(
        "reason",
        if checked.is_some() {
            "checked"
        } else {
            "unmounted"
        },
    );
    rec.resolved(&error_parts(mount))
}

fn mount_fields(rec: &mut Record, checked: &Checked) {
    let mount = checked.mount.as_ref();
    rec.set("mount", path_text(checked.mountpoint()));
    rec.set("path", path_text(&checked.path));
    rec.set("device", mount.map(|m| m.device.as_str()));
    rec.set("fstype", mount.map(|m| m.fstype.as_str()));
    rec.set("readonly", mount.map(|m| m.is_readonly()));
}

fn figures(rec: &mut Record, usage: Option<&Usage>) {
    rec.set("size_bytes", usage.map(|u| u.size_bytes));
    rec.set("used_bytes", usage.map(|u| u.used_bytes));
    rec.set("avail_bytes", usage.map(|u| u.avail_bytes));
    rec.set("free_bytes", usage.map(|u| u.free_bytes));
    rec.set("percent", usage.and_then(|u| u.percent));
    rec.set("inodes_total", usage.map(|u| u.inodes_total));
    rec.set("inodes_used", usage.map(|u| u.inodes_used));
    rec.set("inodes_free", usage.map(|u| u.inodes_free));
    rec.set("inodes_percent", usage.and_then(|u| u.inodes_percent));
}

fn recovery_fields(
    rec: &mut Record,
    measure: Measure,
    levels: Option<Levels>,
    was: &Alerting,
    reason: &str,
) {
    rec.set("measure", measure.as_str());
    rec.set("level", levels.map(|_| Level::Ok.as_str()));
    rec.set("warn", levels.map(|l| l.warn));
    rec.set("crit", levels.map(|l| l.crit));
    rec.set("since", was.since.as_str());
    rec.set("was", was.level.as_str());
    rec.set("reason", reason);
}

fn usage_message(checked: &Checked, usage: &Usage, assessment: &Assessment) -> String {
    let mount = checked.mountpoint().display();
    let on = on_device(checked);
    let mut message = match usage.percent {
        Some(p) => format!(
            "{mount} is {p}% full: {} of {} free{on}",
            human_bytes(usage.avail_bytes),
            human_bytes(usage.size_bytes)
        ),
        None => format!("{mount} reports no space figures{on}"),
    };
    if assessment.inodes.is_some() {
        message.push_str(&format!(
            "; {} of inodes used",
            percent_text(usage.inodes_percent)
        ));
    }
    message
}

fn alert_message(
    checked: &Checked,
    usage: &Usage,
    measure: Measure,
    levels: Levels,
    level: Level,
) -> String {
    let mount = checked.mountpoint().display();
    let on = on_device(checked);
    let crossed = match level {
        Level::Warn => format!("the warning level of {}%", levels.warn),
        _ => format!("the critical level of {}%", levels.crit),
    };
    match (measure, level) {
        (Measure::Space, Level::Full) => format!(
            "{mount} is full: {} used and no space left for users{on}",
            percent_text(usage.percent)
        ),
        (Measure::Space, _) => format!(
            "{mount} is {} full, above {crossed}: {} free{on}",
            percent_text(usage.percent),
            human_bytes(usage.avail_bytes)
        ),
        (Measure::Inodes, Level::Full) => {
            format!("{mount} has no free inodes left: new files cannot be created{on}")
        }
        (Measure::Inodes, _) => format!(
            "{mount} has used {} of its inodes, above {crossed}: {} free{on}",
            percent_text(usage.inodes_percent),
            usage.inodes_free
        ),
    }
}

fn on_device(checked: &Checked) -> String {
    match &checked.mount {
        Some(m) => format!(" ({} on {})", m.fstype, m.device),
        None => String::new(),
    }
}

fn percent_text(percent: Option<u8>) -> String {
    percent.map_or_else(|| "-".to_string(), |p| format!("{p}%"))
}

fn path_text(path: &Path) -> String {
    path.display().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mounts::Mount;

    fn checked() -> Checked {
        Checked {
            path: "/var/log".into(),
            mount: Some(Mount {
                mountpoint: "/var".into(),
                device: "/dev/vdb1".into(),
                fstype: "xfs".into(),
                root: "/".into(),
                dev: 0,
                options: "rw,relatime".into(),
                super_options: "rw".into(),
            }),
            usage: Err(UsageError::TimedOut(std::time::Duration::from_secs(5))),
        }
    }

    fn usage(percent: u8) -> Usage {
        Usage {
            size_bytes: 100 << 30,
            used_bytes: u64::from(percent) << 30,
            avail_bytes: u64::from(100 - percent) << 30,
            free_bytes: u64::from(100 - percent) << 30,
            percent: Some(percent),
            inodes_total: 1000,
            inodes_used: 10,
            inodes_free: 990,
            inodes_percent: Some(1),
        }
    }

    #[test]
    fn alerts_say_what_crossed_and_carry_the_figures() {
        let levels = Levels { warn: 80, crit: 90 };
        let rec = alert_record(
            &checked(),
            &usage(91),
            Measure::Space,
            levels,
            Level::Crit,
            "S",
        );
        assert_eq!(rec.kind, "disk.alert");
        assert_eq!(rec.severity, Severity::High);
        assert_eq!(
            rec.message,
            "/var is 91% full, above the critical level of 90%: 9.0 GiB free (xfs on /dev/vdb1)"
        );
        assert_eq!(rec.fields["mount"], "/var");
        assert_eq!(rec.fields["path"], "/var/log");
        assert_eq!(rec.fields["percent"], 91);
        assert_eq!(rec.fields["since"], "S");
        let warn = alert_record(
            &checked(),
            &usage(85),
            Measure::Space,
            levels,
            Level::Warn,
            "S",
        );
        assert!(
            warn.message.contains("above the warning level of 80%"),
            "{}",
            warn.message
        );
        assert_eq!(warn.severity, Severity::Medium);
    }

    #[test]
    fn errors_name_the_mount_and_whether_it_hung() {
        let c = checked();
        let rec = error_record(&c, c.usage.as_ref().unwrap_err(), "t");
        assert_eq!(
            rec.message,
            "cannot check /var (xfs on /dev/vdb1): timed out after 5s (the mount may be hung)"
        );
        assert_eq!(rec.fields["timed_out"], true);
        assert_eq!(rec.severity, Severity::High);
    }

    #[test]
    fn sizes_read_like_df_h() {}
}
