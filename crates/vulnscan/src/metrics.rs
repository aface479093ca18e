//! `--prom-file`: what a scan found, for node_exporter's textfile
//! collector. Besides the findings and last-success time every tool writes
//! (`vulnscan_findings`, `vulnscan_last_success_timestamp_seconds`), two
//! gauges of vulnscan's own, without labels (addresses and ports are not
//! bounded):
//!
//! - `vulnscan_hosts_scanned`: the hosts the scan reported on (nmap lists
//!   the hosts it found up, the built-in scanner every address it tried).
//! - `vulnscan_open_ports`: the open ports it found on all of them.

use secops_common::prom::Exposition;

use crate::scan::Host;

/// vulnscan's own figures of one scan.
#[derive(Debug, Default, Clone, Copy)]
pub struct Figures {
    hosts: usize,
    open_ports: usize,
}

impl Figures {
    pub fn of(hosts: &[Host]) -> Figures {
        Figures {
            hosts: hosts.len(),
            open_ports: hosts.iter().map(|h| h.ports.len()).sum(),
        }
    }

    pub fn exposition(&self) -> Exposition {
        let mut metrics = Exposition::default();
        metrics
            .gauge(
                "vulnscan_hosts_scanned",
                "Hosts the last scan reported on (nmap: the hosts it found up; built-in: every address tried).",
            )
            .sample(&[], self.hosts as f64);
        metrics
            .gauge(
                "vulnscan_open_ports",
                "Open ports the last scan found, on all its hosts.",
            )
            .sample(&[], self.open_ports as f64);
        metrics
    }
}
