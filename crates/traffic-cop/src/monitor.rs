//! `--interval` mode: after the first full listing, only what changed, and
//! the listeners still alerting.
//! A socket is identified by protocol, address, port and inode, so a
//! restarted service shows as closed and opened again, and a socket whose
//! holder or verdict changed (the binding process exited and left it to a
//! child, a new whitelist) as `.changed`. What ended since the last pass
//! or run (see [`crate::listeners`]) is written after the first listing,
//! and later rides on the change that ends it.

use std::collections::HashMap;
use std::net::SocketAddr;

use secops_common::Record;

use crate::listeners::resolve_on_changes;
use crate::records::{alerts, base_kind, closed_record, describe, port_record, was};
use crate::scan::Port;
use crate::sockets::Proto;

type Key = (Proto, SocketAddr, u64);

/// Remembers the previous pass.
pub struct Monitor {
    previous: Option<HashMap<Key, Port>>,
    /// False for a single pass: indexing thousands of sockets that no later
    /// pass will compare against is a fifth of a one-shot run.
    remember: bool,
}

impl Monitor {
    pub fn new(remember: bool) -> Monitor {
        Monitor {
            previous: None,
            remember,
        }
    }

    /// Hands `emit` the records this pass produces: everything the first
    /// time, then `ended` (what ended since the last run); changes after
    /// that, with the alerts `ended` holds resolved on them. Listing
    /// records are made and handed over one at a time, so a pass over
    /// thousands of sockets never holds them all.
    pub fn pass<E>(
        &mut self,
        ports: Vec<Port>,
        ended: Vec<Record>,
        mut emit: impl FnMut(Record) -> Result<(), E>,
    ) -> Result<(), E> {
        match &self.previous {
            None => {
                ports
                    .iter()
                    .try_for_each(|p| emit(port_record(p, base_kind(p), describe(p))))?;
                ended.into_iter().try_for_each(&mut emit)?;
            }
            Some(previous) => resolve_on_changes(changes(previous, &ports), ended)
                .into_iter()
                .try_for_each(emit)?,
        }
        if !self.remember {
            return Ok(());
        }
        self.previous = Some(
            ports
                .into_iter()
                .map(|p| ((p.socket.proto, p.socket.local, p.socket.inode), p))
                .collect(),
        );
        Ok(())
    }
}

/// Changes are few, so they are collected.
fn changes(previous: &HashMap<Key, Port>, current: &[Port]) -> Vec<Record> {
    let mut records = Vec::new();
    let mut seen = std::collections::HashSet::with_capacity(current.len());
    for port in current {
        let key = (port.socket.proto, port.socket.local, port.socket.inode);
        seen.insert(key);
        let kind = base_kind(port);
        match previous.get(&key) {
            None => records.push(port_record(
                port,
                &format!("{kind}.opened"),
                format!("opened: {}", describe(port)),
            )),
            Some(before) if before.verdict != port.verdict || before.pids != port.pids => {
                let was = was(
                    before.verdict.status.as_str(),
                    before.owner.as_ref().map(|o| o.pid.into()),
                );
                records.push(port_record(
                    port,
                    &format!("{kind}.changed"),
                    format!("changed: {} (was {was})", describe(port)),
                ));
            }
            // Unchanged, still an alert: written again, as every alert is
            // on every pass while it holds.
            Some(_) if alerts(port) => {
                records.push(port_record(port, kind, describe(port)));
            }
            Some(_) => {}
        }
    }
    let mut closed: Vec<&Port> = previous
        .iter()
        .filter(|(key, _)| !seen.contains(*key))
        .map(|(_, p)| p)
        .collect();
    closed.sort_by_key(|p| {
        (
            p.socket.proto,
            p.socket.local.port(),
            p.socket.local.ip(),
            p.socket.inode,
        )
    });
    records.extend(closed.into_iter().map(closed_record));
    records
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::sockets::Socket;
    use crate::whitelist::{Status, Verdict};
    use secops_common::Severity;

    /// A root-held TCP listener on 0.0.0.0 with this verdict.
    pub(crate) fn port(port: u16, inode: u64, status: Status, severity: Severity) -> Port {
        Port {
            socket: Socket {
                proto: Proto::Tcp,
                local: SocketAddr::from(([0, 0, 0, 0], port)),
                remote: None,
                state: "listen",
                uid: 0,
                inode,
            },
            user: "root".into(),
            pids: vec![],
            owner: None,
            verdict: Verdict {
                status,
                severity,
                reason: None,
            },
            note: None,
        }
    }

    fn pass(monitor: &mut Monitor, ports: Vec<Port>) -> Vec<Record> {
        let mut records = Vec::new();
        monitor
            .pass(ports, Vec::new(), |r| {
                records.push(r);
                Ok::<_, ()>(())
            })
            .unwrap();
        records
    }

    #[test]
    fn first_pass_lists_then_only_changes() {
        let mut monitor = Monitor::new(true);
        let a = port(22, 1, Status::Approved, Severity::Info);
        let b = port(80, 2, Status::Unknown, Severity::High);
        let first = pass(&mut monitor, vec![a.clone(), b.clone()]);
        assert_eq!(
            first.iter().map(|r| r.kind.as_str()).collect::<Vec<_>>(),
            ["port", "port"]
        );
        let second = pass(&mut monitor, vec![a.clone(), b.clone()]);
        assert_eq!(
            second
                .iter()
                .map(|r| (r.kind.as_str(), r.fields["port"].as_u64().unwrap()))
                .collect::<Vec<_>>(),
            [("port", 80)],
            "no change: only the alert that still holds"
        );
        assert_eq!(second[0].fields["alert"], "firing");

        let c = port(8080, 3, Status::Unknown, Severity::High);
        let mut b2 = b.clone();
        b2.verdict = Verdict {
            status: Status::Approved,
            severity: Severity::Info,
            reason: None,
        };
        let third = pass(&mut monitor, vec![b2, c]);
        let kinds: Vec<(&str, u64)> = third
            .iter()
            .map(|r| (r.kind.as_str(), r.fields["port"].as_u64().unwrap()))
            .collect();
        assert_eq!(
            kinds,
            [
                ("port.changed", 80),
                ("port.opened", 8080),
                ("port.closed", 22)
            ]
        );
        assert_eq!(third[2].severity, Severity::Info);
        assert_eq!(third[1].severity, Severity::High);
        assert!(
            third[0].message.ends_with("(was unknown)"),
            "{}",
            third[0].message
        );
    }
}
