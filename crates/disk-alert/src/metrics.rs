//! `--prom-file`: node_exporter textfile-collector metrics, `disk_alert_*`
//! with node_exporter's label names (`device`, `fstype`, `mountpoint`) so
//! they join its series. node_exporter's filesystem collector already
//! exports the `node_filesystem_*` families, and it drops a textfile series
//! that another collector has (silently: only its log says so), so they are
//! written only with `--prom-node`, for a node_exporter run without that
//! collector.

use std::path::Path;

use secops_common::Error;
use secops_common::prom::{Exposition, Findings};

use crate::check::{Assessment, Checked};
use crate::limits::Level;
use crate::usage::Usage;

/// One pass's metrics.
pub struct Metrics {
    exposition: Exposition,
    /// Whether to write the node_filesystem_* families as well.
    node: bool,
}

impl Metrics {
    pub fn new(node: bool) -> Metrics {
        Metrics {
            exposition: Exposition::default(),
            node,
        }
    }

    /// A filesystem that was read.
    pub fn mount(&mut self, checked: &Checked, usage: &Usage, assessment: &Assessment) {
        let (device, fstype, mountpoint) = labels(checked);
        let labels = [
            ("device", device.as_str()),
            ("fstype", fstype.as_str()),
            ("mountpoint", mountpoint.as_str()),
        ];
        let e = &mut self.exposition;
        if self.node {
            let readonly = checked.mount.as_ref().is_some_and(|m| m.is_readonly());
            for (name, help, value) in [
                (
                    "node_filesystem_size_bytes",
                    "Filesystem size in bytes.",
                    usage.size_bytes,
                ),
                (
                    "node_filesystem_free_bytes",
                    "Filesystem free space in bytes.",
                    usage.free_bytes,
                ),
                (
                    "node_filesystem_avail_bytes",
                    "Filesystem space available to non-root users in bytes.",
                    usage.avail_bytes,
                ),
                (
                    "node_filesystem_files",
                    "Filesystem total file nodes.",
                    usage.inodes_total,
                ),
                (
                    "node_filesystem_files_free",
                    "Filesystem total free file nodes.",
                    usage.inodes_free,
                ),
                (
                    "node_filesystem_readonly",
                    "Filesystem read-only status.",
                    u64::from(readonly),
                ),
                (
                    "node_filesystem_device_error",
                    "Whether an error occurred while getting statistics for the given device.",
                    0,
                ),
            ] {
                e.gauge(name, help).sample(&labels, value as f64);
            }
        }
        e.gauge("disk_alert_size_bytes", "Filesystem size, as df's Size.")
            .sample(&labels, usage.size_bytes as f64);
        e.gauge(
            "disk_alert_avail_bytes",
            "Space an unprivileged user can still fill, as df's Avail.",
        )
        .sample(&labels, usage.avail_bytes as f64);
        if let Some(ratio) = usage.used_ratio() {
            e.gauge(
                "disk_alert_used_ratio",
                "Space used over used + available (df's Use% before rounding up, root reserve left out), 0-1.",
            )
            .sample(&labels, ratio);
        }
        if let Some(ratio) = usage.inodes_used_ratio() {
            e.gauge(
                "disk_alert_inodes_used_ratio",
                "Inodes used over all inodes (df -i's IUse% before rounding up), 0-1.",
            )
            .sample(&labels, ratio);
        }
        for (measure, levels, level) in assessment.measures() {
            let labels = [
                ("device", device.as_str()),
                ("fstype", fstype.as_str()),
                ("mountpoint", mountpoint.as_str()),
                ("measure", measure.as_str()),
            ];
            e.gauge(
                "disk_alert_warn_ratio",
                "Warning level, 0-1: alert when use is above it.",
            )
            .sample(&labels, f64::from(levels.warn) / 100.0);
            e.gauge("disk_alert_crit_ratio", "Critical level, 0-1.")
                .sample(&labels, f64::from(levels.crit) / 100.0);
            e.gauge(
                "disk_alert_level",
                "Alert state: 0 ok, 1 above warn, 2 above crit, 3 full.",
            )
            .sample(&labels, f64::from(level_number(level)));
        }
        self.check_failed(&labels, false);
    }

    /// A filesystem that could not be read (timed out, vanished).
    pub fn failed(&mut self, checked: &Checked) {
        let (device, fstype, mountpoint) = labels(checked);
        let labels = [
            ("device", device.as_str()),
            ("fstype", fstype.as_str()),
            ("mountpoint", mountpoint.as_str()),
        ];
        if self.node {
            self.exposition
                .gauge(
                    "node_filesystem_device_error",
                    "Whether an error occurred while getting statistics for the given device.",
                )
                .sample(&labels, 1.0);
        }
        self.check_failed(&labels, true);
    }

    fn check_failed(&mut self, labels: &[(&str, &str)], failed: bool) {
        self.exposition
            .gauge(
                "disk_alert_check_failed",
                "1 when the filesystem could not be checked (timed out or failed).",
            )
            .sample(labels, if failed { 1.0 } else { 0.0 });
    }

    /// Replaces `path` atomically with this pass's metrics, the pass's
    /// findings and its time.
    pub fn write(mut self, path: &Path, findings: &Findings) -> Result<(), Error> {
        self.exposition
            .run_succeeded(crate::TOOL, findings)
            .write_textfile(path)
    }

    /// The text that [`Metrics::write`] would write, less the timestamp.
    #[cfg(test)]
    fn render(&self) -> String {
        self.exposition.render()
    }
}

fn labels(checked: &Checked) -> (String, String, String) {
    let mount = checked.mount.as_ref();
    (
        mount.map(|m| m.device.clone()).unwrap_or_default(),
        mount.map(|m| m.fstype.clone()).unwrap_or_default(),
        checked.mountpoint().display().to_string(),
    )
}

fn level_number(level: Level) -> u8 {
    match level {
        Level::Ok => 0,
        Level::Warn => 1,
        Level::Crit => 2,
        Level::Full => 3,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::Limits;
    use crate::mounts::Mount;
    use crate::usage::UsageError;

    fn checked(mountpoint: &str) -> Checked {
        Checked {
            path: mountpoint.into(),
            mount: Some(Mount {
                mountpoint: mountpoint.into(),
                device: "/dev/vda".into(),
                fstype: "ext4".into(),
                root: "/".into(),
                dev: 0,
                options: "ro".into(),
                super_options: "ro".into(),
            }),
            usage: Err(UsageError::TimedOut(std::time::Duration::from_secs(1))),
        }
    }

    #[test]
    fn node_names_and_own_families() {
        let usage = Usage {
            size_bytes: 1000,
            used_bytes: 850,
            avail_bytes: 100,
            free_bytes: 150,
            percent: Some(90),
            inodes_total: 10,
            inodes_used: 1,
            inodes_free: 9,
            inodes_percent: Some(10),
        };
        let limits = Limits::new(None, None, None).unwrap();
        let root = checked("/");
        let assessment = Assessment::of(&usage, Path::new("/"), &limits, false);
        let mut metrics = Metrics::new(true);
        metrics.mount(&root, &usage, &assessment);
        metrics.failed(&checked("/mnt/nfs"));
        let text = metrics.render();
        let l = r#"device="/dev/vda",fstype="ext4",mountpoint="/""#;
        for line in [
            format!("node_filesystem_avail_bytes{{{l}}} 100"),
            format!("node_filesystem_free_bytes{{{l}}} 150"),
            format!("node_filesystem_readonly{{{l}}} 1"),
            format!("node_filesystem_device_error{{{l}}} 0"),
            r#"node_filesystem_device_error{device="/dev/vda",fstype="ext4",mountpoint="/mnt/nfs"} 1"#.to_string(),
            format!("disk_alert_used_ratio{{{l}}} 0.8947368421052632"),
            format!("disk_alert_avail_bytes{{{l}}} 100"),
            format!("disk_alert_inodes_used_ratio{{{l}}} 0.1"),
            format!("disk_alert_warn_ratio{{{l},measure=\"space\"}} 0.8"),
            format!("disk_alert_level{{{l},measure=\"space\"}} 1"),
            format!("disk_alert_check_failed{{{l}}} 0"),
        ] {
            assert!(text.lines().any(|t| t == line), "{line} missing from\n{text}");
        }
        let mut own = Metrics::new(false);
        own.mount(&root, &usage, &assessment);
        assert!(!own.render().contains("node_"));
    }
}
