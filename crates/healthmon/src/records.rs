//! Turning samples and alert transitions into records: the fields of
//! `docs/records.md` and one sentence an operator can act on.

use std::time::SystemTime;

use secops_common::record::rfc3339;
use secops_common::text::{human_bytes, plural};
use secops_common::{Record, Severity};
use serde_json::Value;

use crate::disks::DiskUsage;
use crate::hysteresis::{Subject, Transition};
use crate::processes::{ProcessInfo, Rank};
use crate::sampler::{Sample, round1, round2};
use crate::thresholds::{Level, Metric};

pub const TOOL: &str = "healthmon";

/// The fields a table shows: the message carries each kind's figures.
pub const TABLE_COLUMNS: [&str; 4] = ["ts", "severity", "kind", "message"];

fn record(kind: &str, severity: Severity, at: SystemTime, message: String) -> Record {
    let mut rec = Record::new(TOOL, kind, severity, message);
    rec.ts = rfc3339(at);
    rec
}

/// `health.sample`: the machine-wide figures of one sample.
pub fn sample_record(sample: &Sample, alerts: usize) -> Record {
    let cpu = sample.cpu.total;
    let mem = &sample.memory;
    let fullest = sample.fullest_disk();
    let mut message = match cpu {
        Some(c) => format!("cpu {:.1}%", c.busy),
        None => "cpu unknown".to_string(),
    };
    message.push_str(&format!(
        ", memory {:.1}% of {}, swap {}, load {:.2} {:.2} {:.2}",
        mem.percent(),
        human_bytes(mem.total),
        match mem.swap_percent() {
            Some(p) => format!("{p:.1}%"),
            None => "none".to_string(),
        },
        sample.load.one,
        sample.load.five,
        sample.load.fifteen,
    ));
    if let Some((disk, percent)) = fullest {
        message.push_str(&format!(
            ", fullest disk {} {percent}%",
            disk.mount.mountpoint.display()
        ));
    }
    message.push_str(&format!(", {} processes", sample.counts.processes));
    if alerts > 0 {
        message.push_str(&format!(", {alerts} alert{} active", plural(alerts)));
    }

    let pct = |f: fn(&crate::cpu::CpuPercent) -> f64| cpu.as_ref().map(|c| round1(f(c)));
    let mut rec = record("health.sample", Severity::Info, sample.at, message)
        .with("window_secs", round2(sample.window.as_secs_f64()))
        .with("cpu_percent", pct(|c| c.busy))
        .with("cpu_user_percent", pct(|c| c.user))
        .with("cpu_system_percent", pct(|c| c.system))
        .with("cpu_iowait_percent", pct(|c| c.iowait))
        .with("cpu_steal_percent", pct(|c| c.steal))
        .with("cpus", sample.cpus())
        .with(
            "cpu_core_percent",
            sample
                .cpu
                .cores
                .iter()
                .map(|(_, busy)| round1(*busy))
                .collect::<Vec<_>>(),
        )
        .with("load1", sample.load.one)
        .with("load5", sample.load.five)
        .with("load15", sample.load.fifteen)
        .with("load_per_core", sample.load_per_core())
        .with("mem_total_bytes", mem.total)
        .with("mem_available_bytes", mem.available)
        .with("mem_used_bytes", mem.used())
        .with("mem_percent", round1(mem.percent()))
        .with("swap_total_bytes", mem.swap_total)
        .with("swap_used_bytes", mem.swap_used())
        .with("swap_percent", mem.swap_percent().map(round1));
    let counts = &sample.counts;
    rec.set("processes", counts.processes);
    rec.set("threads", counts.threads);
    rec.set("procs_running", sample.stat.procs_running);
    rec.set("procs_blocked", sample.stat.procs_blocked);
    rec.set("procs_zombie", counts.in_state(b'Z'));
    rec.set("disk_max_percent", fullest.map(|(_, p)| p));
    rec.set(
        "disk_max_mount",
        fullest.map(|(d, _)| d.mount.mountpoint.to_string_lossy().into_owned()),
    );
    rec.set("alerts", alerts);
    rec
}

/// `health.disk`: one mount's usage, as `df` and `df -i` show it.
pub fn disk_record(disk: &DiskUsage, at: SystemTime) -> Record {
    let mount = disk.mount.mountpoint.to_string_lossy();
    let (severity, message) = match &disk.usage {
        Ok(u) => (
            Severity::Info,
            format!(
                "{mount} ({}) is {} used: {} of {}, {} available",
                disk.mount.device,
                u.percent.map_or("-".to_string(), |p| format!("{p}%")),
                human_bytes(u.used_bytes),
                human_bytes(u.size_bytes),
                human_bytes(u.avail_bytes)
            ),
        ),
        Err(err) => (
            Severity::Medium,
            format!("{mount} ({}) could not be read: {err}", disk.mount.device),
        ),
    };
    let usage = disk.usage.as_ref().ok();
    let mut rec = record("health.disk", severity, at, message)
        .with("mount", mount.as_ref())
        .with("device", disk.mount.device.as_str())
        .with("fstype", disk.mount.fstype.as_str())
        .with("size_bytes", usage.map(|u| u.size_bytes))
        .with("used_bytes", usage.map(|u| u.used_bytes))
        .with("avail_bytes", usage.map(|u| u.avail_bytes))
        .with("percent", usage.and_then(|u| u.percent))
        .with("inodes_total", usage.map(|u| u.inodes_total))
        .with("inodes_used", usage.map(|u| u.inodes_used))
        .with("inodes_free", usage.map(|u| u.inodes_free))
        .with("inodes_percent", usage.and_then(|u| u.inodes_percent));
    if let Err(err) = &disk.usage {
        rec.set("error", err.as_str());
    }
    rec
}

/// `health.process`: one entry of a top-N list.
pub fn process_record(
    p: &ProcessInfo,
    rank: usize,
    by: Rank,
    mem_total: u64,
    at: SystemTime,
) -> Record {
    let cpu = p.cpu_percent.map(round1);
    let message = format!(
        "#{rank} by {}: {}: {} cpu, {} resident",
        by.as_str(),
        process_name(&p.name, p.pid, p.user.as_deref()),
        cpu.map_or("unknown".to_string(), |c| format!("{c:.1}%")),
        human_bytes(p.rss_bytes),
    );
    record("health.process", Severity::Info, at, message)
        .with("by", by.as_str())
        .with("rank", rank)
        .with("pid", p.pid)
        .with("process", p.name.as_str())
        .with("user", p.user.as_deref())
        .with("cpu_percent", cpu)
        .with("rss_bytes", p.rss_bytes)
        .with(
            "mem_percent",
            round2(p.rss_bytes as f64 * 100.0 / mem_total.max(1) as f64),
        )
        .with("threads", p.threads)
        .with("state", p.state.to_string())
        .with("cmdline", p.cmdline.as_deref())
}

/// The alert parts of a condition: the metric, then the mount or pid it is
/// about.
pub fn alert_parts(metric: Metric, subject: &Subject) -> Vec<String> {
    let mut parts = vec![metric.as_str().to_string()];
    match subject {
        Subject::Host => {}
        Subject::Mount { mount, .. } => parts.push(mount.clone()),
        Subject::Process { pid, .. } => parts.push(pid.to_string()),
    }
    parts
}

/// `health.alert` (firing) when a condition's level rose (or fell from
/// critical to warning), or holds at the start of a run (`from` = `to`);
/// `health.recovered` (resolved, the same alert) when it is back to ok.
pub fn transition_record(t: &Transition, at: SystemTime) -> Record {
    let parts = alert_parts(t.metric, &t.subject);
    let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
    let rec = level_record(t, at);
    match t.to {
        Level::Ok => rec.resolved(&parts),
        _ => rec.firing(&parts),
    }
}

fn level_record(t: &Transition, at: SystemTime) -> Record {
    let levels = t.rule.levels;
    let what = subject_text(t.metric, &t.subject);
    let value = t.value.map(|v| t.metric.format(v));
    let since = rfc3339(t.since);
    let mut rec = if t.to == Level::Ok {
        let duration = at.duration_since(t.since).unwrap_or_default().as_secs();
        let threshold = levels.lowest();
        let how_long = format!(
            "it was {} for {}, peak {}",
            t.from.as_str(),
            duration_text(duration),
            t.metric.format(t.peak)
        );
        let message = match (&value, gone_text(&t.subject)) {
            (Some(value), _) => format!(
                "{what} is back to {value}, below {} for {} sample{} ({how_long})",
                t.metric.format(threshold.unwrap_or_default()),
                t.rule.clear_samples,
                plural(t.rule.clear_samples)
            ),
            (None, gone) => format!(
                "{what} {gone}; its {} alert is cleared ({how_long})",
                t.from.as_str()
            ),
        };
        record("health.recovered", Severity::Info, at, message)
            .with("metric", t.metric.as_str())
            .with("level", t.to.as_str())
            .with("previous_level", t.from.as_str())
            .with("value", t.value)
            .with("threshold", threshold)
            .with("warn", levels.warn)
            .with("crit", levels.crit)
            .with("unit", t.metric.unit())
            .with("clear_samples", t.rule.clear_samples)
            .with("since", since)
            .with("duration_secs", duration)
            .with("peak", t.peak)
            .with("gone", t.value.is_none())
    } else {
        let threshold = levels.threshold(t.to);
        let shown = t.metric.format(threshold.unwrap_or_default());
        let value = value.unwrap_or_else(|| "unknown".to_string());
        let message = if t.to == t.from {
            match t.value.is_some_and(|v| threshold.is_some_and(|l| v <= l)) {
                false => format!(
                    "{what} is {value}, still above the {} level {shown} (since {since})",
                    t.to.as_str(),
                ),
                // Below, but not yet for --clear samples in a row.
                true => format!(
                    "{what} is {value}, below the {level} level {shown}: the {level} alert holds until {} sample{} in a row are below it (since {since})",
                    t.rule.clear_samples,
                    plural(t.rule.clear_samples),
                    level = t.to.as_str(),
                ),
            }
        } else if t.to > t.from {
            format!(
                "{what} is {value}, above the {} level {shown} for {} sample{}",
                t.to.as_str(),
                t.rule.for_samples,
                plural(t.rule.for_samples)
            )
        } else {
            format!(
                "{what} is down to {value}, below the critical level {} for {} sample{} but still above the warning level {shown}",
                t.metric.format(levels.crit.unwrap_or_default()),
                t.rule.clear_samples,
                plural(t.rule.clear_samples)
            )
        };
        record("health.alert", t.to.severity(), at, message)
            .with("metric", t.metric.as_str())
            .with("level", t.to.as_str())
            .with("previous_level", t.from.as_str())
            .with("value", t.value)
            .with("threshold", threshold)
            .with("warn", levels.warn)
            .with("crit", levels.crit)
            .with("unit", t.metric.unit())
            .with("for_samples", t.rule.for_samples)
            .with("since", since)
            .with("peak", t.peak)
    };
    match &t.subject {
        Subject::Host => {}
        Subject::Mount {
            mount,
            device,
            fstype,
        } => {
            rec.set("mount", mount.as_str());
            rec.set("device", device.as_str());
            rec.set("fstype", fstype.as_str());
        }
        Subject::Process {
            pid, name, user, ..
        } => {
            rec.set("pid", *pid);
            rec.set("process", name.as_str());
            rec.set("user", user.as_deref().map_or(Value::Null, Value::from));
        }
    }
    rec
}

fn subject_text(metric: Metric, subject: &Subject) -> String {
    match subject {
        Subject::Host => metric.label().to_string(),
        Subject::Mount { mount, .. } => format!("{} on {mount}", metric.label()),
        Subject::Process {
            pid, name, user, ..
        } => format!("cpu of {}", process_name(name, *pid, user.as_deref())),
    }
}

fn gone_text(subject: &Subject) -> &'static str {
    match subject {
        Subject::Host => "is no longer measured",
        Subject::Mount { .. } => "is no longer mounted",
        Subject::Process { .. } => "has exited",
    }
}

/// `nginx (pid 1234, user www-data)`.
fn process_name(name: &str, pid: u32, user: Option<&str>) -> String {
    match user {
        Some(user) => format!("{name} (pid {pid}, user {user})"),
        None => format!("{name} (pid {pid})"),
    }
}

/// `45s`, `12m 5s`, `3h 2m`.
fn duration_text(secs: u64) -> String {
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m {}s", s / 60, s % 60),
        s => format!("{}h {}m", s / 3600, s % 3600 / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::thresholds::{Levels, Rule};
    use std::time::Duration;

    fn transition(from: Level, to: Level, value: Option<f64>, subject: Subject) -> Transition {
        Transition {
            metric: Metric::Disk,
            subject,
            from,
            to,
            value,
            rule: Rule {
                levels: Levels {
                    warn: Some(80.0),
                    crit: Some(90.0),
                },
                for_samples: 3,
                clear_samples: 2,
            },
            since: SystemTime::UNIX_EPOCH,
            episode_since: SystemTime::UNIX_EPOCH,
            peak: 97.0,
        }
    }

    fn mount() -> Subject {
        Subject::Mount {
            mount: "/var".into(),
            device: "/dev/vdb1".into(),
            fstype: "ext4".into(),
        }
    }

    #[test]
    fn alerts_say_what_where_how_bad_and_for_how_long() {
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(125);
        let rec = transition_record(
            &transition(Level::Ok, Level::Critical, Some(97.0), mount()),
            at,
        );
        assert_eq!(
            (rec.kind.as_str(), rec.severity),
            ("health.alert", Severity::High)
        );
        assert_eq!(
            rec.message,
            "disk on /var is 97.0%, above the critical level 90.0% for 3 samples"
        );
        assert_eq!(rec.fields["threshold"], 90.0);
        assert_eq!(rec.fields["mount"], "/var");
        assert_eq!(rec.fields["since"], "1970-01-01T00:00:00Z");
        let id = secops_common::alert::alert_id("healthmon", &["disk", "/var"]);
        assert_eq!(rec.alert_id(), Some(id.as_str()));
        assert_eq!(rec.fields["alert"], "firing");

        let held = transition_record(
            &transition(Level::Critical, Level::Critical, Some(96.0), mount()),
            at,
        );
        assert_eq!(
            held.message,
            "disk on /var is 96.0%, still above the critical level 90.0% (since 1970-01-01T00:00:00Z)"
        );
        assert_eq!(held.alert_id(), Some(id.as_str()));

        let down = transition_record(
            &transition(Level::Critical, Level::Warning, Some(85.0), mount()),
            at,
        );
        assert_eq!(down.severity, Severity::Medium);
        assert!(down.message.contains("down to 85.0%"), "{}", down.message);

        let ok = transition_record(
            &transition(Level::Critical, Level::Ok, Some(50.0), mount()),
            at,
        );
        assert_eq!(
            (ok.kind.as_str(), ok.severity),
            ("health.recovered", Severity::Info)
        );
        assert_eq!(
            (ok.fields["alert"].as_str(), ok.alert_id()),
            (Some("resolved"), Some(id.as_str()))
        );
        assert_eq!(
            ok.message,
            "disk on /var is back to 50.0%, below 80.0% for 2 samples (it was critical for 2m 5s, peak 97.0%)"
        );
        assert_eq!(
            (
                ok.fields["duration_secs"].as_u64(),
                ok.fields["gone"].as_bool()
            ),
            (Some(125), Some(false))
        );

        let gone = transition_record(&transition(Level::Warning, Level::Ok, None, mount()), at);
        assert!(
            gone.message
                .starts_with("disk on /var is no longer mounted; its warning alert is cleared"),
            "{}",
            gone.message
        );
        assert_eq!(gone.fields["value"], Value::Null);
    }

    #[test]
    fn sizes_read_like_free_h() {
        assert_eq!(duration_text(3725), "1h 2m");
    }
}
