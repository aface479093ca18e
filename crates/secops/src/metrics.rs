//! `metrics: { path: FILE }`: the Prometheus textfile secops rewrites
//! (atomically, 0644) at start, after every job run and, under `secops
//! run`, at least once a minute, for node_exporter's textfile collector.
//! Everything comes from the job history (the same memory `secops status`
//! reads), so a restart writes the same figures the last run left.

use std::time::Duration;

use secops_common::Severity;
use secops_common::prom::{Exposition, Findings};

use crate::history::History;
use crate::records::TOOL;
use crate::settings::Job;

/// How often `secops run` rewrites the file when no job ends: the age of
/// `secops_last_success_timestamp_seconds` says the scheduler is alive.
pub const HEARTBEAT: Duration = Duration::from_secs(60);

/// What the file says about `jobs`, from `history`.
pub fn exposition(jobs: &[Job], history: &History) -> Exposition {
    let mut metrics = Exposition::default();
    let seconds = |ms: u64| ms as f64 / 1000.0;
    for job in jobs {
        let Some(memory) = history.jobs.get(&job.name) else {
            continue;
        };
        let labels = [("job", job.name.as_str())];
        if let Some(end) = memory.last_end_ms {
            metrics
                .gauge(
                    "secops_job_last_run_timestamp_seconds",
                    "When the job's last run ended, in seconds since the epoch.",
                )
                .sample(&labels, seconds(end));
        }
        if let Some(end) = memory.last_success_ms {
            metrics
                .gauge(
                    "secops_job_last_success_timestamp_seconds",
                    "When the job's last good run (exit 0 or 1) ended, in seconds since the epoch.",
                )
                .sample(&labels, seconds(end));
        }
        if let (Some(_), Some(duration)) = (memory.last_end_ms, memory.last_duration_ms) {
            metrics
                .gauge(
                    "secops_job_last_duration_seconds",
                    "How long the job's last run took.",
                )
                .sample(&labels, seconds(duration));
        }
        metrics
            .gauge(
                "secops_job_failures",
                "Failed runs of the job in a row (0 after a good run).",
            )
            .sample(&labels, memory.failures_in_row as f64);
        if memory.last_end_ms.is_some() {
            for severity in Severity::ALL {
                let count = memory.alerts.get(severity.as_str()).copied().unwrap_or(0);
                metrics
                    .gauge(
                        "secops_job_findings",
                        "Firing alerts among the job's last run's records, by severity.",
                    )
                    .sample(
                        &[("job", job.name.as_str()), ("severity", severity.as_str())],
                        count as f64,
                    );
            }
        }
    }
    // The scheduler's own: when it wrote this file.
    metrics.run_succeeded(TOOL, &Findings::default());
    metrics
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::JobHistory;
    use crate::settings::Settings;
    use secops_common::config::Syntax;

    #[test]
    fn renders_every_job_from_its_history() {
        let settings = Settings::parse(
            "jobs:\n  - {name: good, run: [x], every: 1m}\n  - {name: bad, run: [x], every: 1m}\n  - {name: new, run: [x], every: 1m}\n  - {name: gone, run: [x], every: 1m}\n",
            Syntax::Yaml,
            false,
        )
        .unwrap();
        let mut history = History::default();
        history.jobs.insert(
            "good".into(),
            JobHistory {
                last_end_ms: Some(1_796_600_000_250),
                last_success_ms: Some(1_796_600_000_250),
                last_duration_ms: Some(1500),
                alerts: [("high".to_string(), 2), ("low".to_string(), 1)].into(),
                ..JobHistory::default()
            },
        );
        history.jobs.insert(
            "bad".into(),
            JobHistory {
                last_end_ms: Some(1_796_600_100_000),
                last_duration_ms: Some(40),
                failures_in_row: 3,
                ..JobHistory::default()
            },
        );
        history.jobs.insert("new".into(), JobHistory::default());
        let text = exposition(&settings.jobs, &history).render();
        let (jobs, own) = text
            .split_once("# HELP secops_last_success_timestamp_seconds")
            .unwrap();
        assert_eq!(
            jobs,
            "# HELP secops_job_last_run_timestamp_seconds When the job's last run ended, in seconds since the epoch.\n\
             # TYPE secops_job_last_run_timestamp_seconds gauge\n\
             secops_job_last_run_timestamp_seconds{job=\"good\"} 1796600000.25\n\
             secops_job_last_run_timestamp_seconds{job=\"bad\"} 1796600100\n\
             # HELP secops_job_last_success_timestamp_seconds When the job's last good run (exit 0 or 1) ended, in seconds since the epoch.\n\
             # TYPE secops_job_last_success_timestamp_seconds gauge\n\
             secops_job_last_success_timestamp_seconds{job=\"good\"} 1796600000.25\n\
             # HELP secops_job_last_duration_seconds How long the job's last run took.\n\
             # TYPE secops_job_last_duration_seconds gauge\n\
             secops_job_last_duration_seconds{job=\"good\"} 1.5\n\
             secops_job_last_duration_seconds{job=\"bad\"} 0.04\n\
             # HELP secops_job_failures Failed runs of the job in a row (0 after a good run).\n\
             # TYPE secops_job_failures gauge\n\
             secops_job_failures{job=\"good\"} 0\n\
             secops_job_failures{job=\"bad\"} 3\n\
             secops_job_failures{job=\"new\"} 0\n\
             # HELP secops_job_findings Firing alerts among the job's last run's records, by severity.\n\
             # TYPE secops_job_findings gauge\n\
             secops_job_findings{job=\"good\",severity=\"info\"} 0\n\
             secops_job_findings{job=\"good\",severity=\"low\"} 1\n\
             secops_job_findings{job=\"good\",severity=\"medium\"} 0\n\
             secops_job_findings{job=\"good\",severity=\"high\"} 2\n\
             secops_job_findings{job=\"good\",severity=\"critical\"} 0\n\
             secops_job_findings{job=\"bad\",severity=\"info\"} 0\n\
             secops_job_findings{job=\"bad\",severity=\"low\"} 0\n\
             secops_job_findings{job=\"bad\",severity=\"medium\"} 0\n\
             secops_job_findings{job=\"bad\",severity=\"high\"} 0\n\
             secops_job_findings{job=\"bad\",severity=\"critical\"} 0\n"
        );
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        let stamp: f64 = own
            .lines()
            .last()
            .unwrap()
            .strip_prefix("secops_last_success_timestamp_seconds ")
            .unwrap()
            .parse()
            .unwrap();
        assert!((now - stamp).abs() < 60.0, "{own}");
    }
}
