//! `--prom-file`: what a pass saw, for node_exporter's textfile collector.
//! Besides the findings and last-success time every tool writes
//! (`traffic_cop_findings`, `traffic_cop_last_success_timestamp_seconds`),
//! two gauges of traffic-cop's own, both bounded whatever the machine:
//!
//! - `traffic_cop_listening_sockets{proto,status}`: listeners (TCP
//!   `listen`, UDP `unconn`) by protocol and whitelist status, at most
//!   2 x 5 series; connected sockets (`--all`) are not counted.
//! - `traffic_cop_unreadable_processes`: processes whose descriptors could
//!   not be read (another user's, without root), so that their sockets
//!   show no process: above zero, the scan is partial.

use std::collections::BTreeMap;

use secops_common::prom::Exposition;

use crate::scan::Scan;

/// The figures of one pass, taken before its ports go to the records.
#[derive(Debug, Default, Clone)]
pub struct Figures {
    /// (proto, status) -> listeners.
    listeners: BTreeMap<(&'static str, &'static str), u64>,
    unreadable: u32,
}

impl Figures {
    pub fn of(scan: &Scan) -> Figures {
        let mut listeners = BTreeMap::new();
        for port in scan.ports.iter().filter(|p| p.socket.is_server()) {
            *listeners
                .entry((port.socket.proto.as_str(), port.verdict.status.as_str()))
                .or_default() += 1;
        }
        Figures {
            listeners,
            unreadable: scan.hidden_processes,
        }
    }

    pub fn exposition(&self) -> Exposition {
        let mut metrics = Exposition::default();
        let family = metrics.gauge(
            "traffic_cop_listening_sockets",
            "Listening sockets (TCP listen, UDP unconnected) the last pass saw, by protocol and whitelist status.",
        );
        for ((proto, status), count) in &self.listeners {
            family.sample(&[("proto", proto), ("status", status)], *count as f64);
        }
        metrics
            .gauge(
                "traffic_cop_unreadable_processes",
                "Processes whose open sockets could not be read in the last pass (run as root to see them).",
            )
            .sample(&[], f64::from(self.unreadable));
        metrics
    }
}
