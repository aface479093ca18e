//! What was listening, and which alerts ended: traffic-cop's use of the one
//! run-to-run memory ([`LastRun`], kept in the state directory between cron
//! runs and in the process between `--interval` passes).
//!
//! Every listener is remembered under `PROTO ADDR:PORT` as the
//! `port.closed` record it would become, `firing` (with its `alert_id`)
//! when it was an alert. A listener is protocol, address and port, not
//! the socket's inode: a service restarted between two runs is still
//! listening, and that is not news. At the end of a pass:
//!
//! - a listener gone since the last pass becomes its `port.closed` record,
//!   `resolved` when it was firing, else an observation;
//! - a listener still there whose alert ended (it is approved now) becomes
//!   a `port.changed` record, `resolved`.
//!
//! Without a whitelist every listener is `unchecked`, which says nothing
//! about approval: an alert that was firing stays remembered as firing,
//! neither repeated nor resolved.

use std::collections::HashMap;

use secops_common::record::{hostname, now_rfc3339};
use secops_common::{LastRun, Record, Stage};

use crate::records::{
    alerts, closed_record, describe, port_record, record_listener_id, resolve, was,
};
use crate::scan::Port;
use crate::whitelist::Status;

/// The listeners and alerts of the last pass (or run).
pub struct Listeners {
    memory: LastRun,
}

impl Listeners {
    pub fn new(memory: LastRun) -> Listeners {
        Listeners { memory }
    }

    /// Remembers this pass's listeners and returns what ended since the
    /// last pass: the `port.changed` resolutions of listeners approved now,
    /// in `ports` order, then the `port.closed` records of listeners gone,
    /// by port, protocol and address.
    pub fn pass(&mut self, ports: &[Port]) -> Vec<Record> {
        // One record per listener: several sockets may share one (forked
        // servers with SO_REUSEPORT); an alerting one speaks for them all.
        let mut chosen: HashMap<String, &Port> = HashMap::new();
        for port in ports.iter().filter(|p| p.socket.is_server()) {
            chosen
                .entry(key(port))
                .and_modify(|p| {
                    if !alerts(p) && alerts(port) {
                        *p = port;
                    }
                })
                .or_insert(port);
        }
        let mut ended = Vec::new();
        for port in ports {
            let key = key(port);
            if !chosen.get(&key).is_some_and(|p| std::ptr::eq(*p, port)) {
                continue;
            }
            let before = self.memory.previous(&key);
            let firing_before = before.and_then(Record::alert_id).map(str::to_owned);
            let mut rec = closed_record(port);
            if alerts(port) {
                let id = record_listener_id(&rec).expect("a listener record names its listener");
                rec = rec.with_alert(Stage::Firing, id);
            } else if let Some(id) = firing_before {
                if port.verdict.status == Status::Unchecked {
                    // No whitelist, no verdict: the alert is neither
                    // repeated nor resolved.
                    rec = rec.with_alert(Stage::Firing, id);
                } else {
                    let before = before.expect("an alert was remembered");
                    let status = before.fields.get("status").and_then(|v| v.as_str());
                    let pid = before.fields.get("pid").and_then(|v| v.as_u64());
                    let message = format!(
                        "changed: {} (was {})",
                        describe(port),
                        was(status.unwrap_or("unknown"), pid)
                    );
                    ended.push(resolve(port_record(port, "port.changed", message), id));
                }
            }
            self.memory.remember(key, rec);
        }
        let mut gone = self.memory.end_pass(|_| true);
        gone.sort_by_key(|rec| {
            let field = |name: &str| rec.fields.get(name).cloned().unwrap_or_default();
            (
                rec.fields.get("port").and_then(|v| v.as_u64()),
                field("proto").as_str().map(str::to_owned),
                field("addr").as_str().map(str::to_owned),
            )
        });
        for mut rec in gone {
            rec.ts = now_rfc3339();
            rec.host = hostname().to_string();
            ended.push(match rec.alert_id().map(str::to_owned) {
                Some(id) => resolve(rec, id),
                None => rec,
            });
        }
        ended
    }

    /// Keeps this pass's listeners for the next run (nothing without a
    /// state directory).
    pub fn save(&self) -> Result<(), secops_common::Error> {
        self.memory.save()
    }
}

/// `tcp 0.0.0.0:8080`, `udp [::1]:53`: a listener, as remembered.
fn key(port: &Port) -> String {
    format!("{} {}", port.socket.proto, port.socket.local)
}

/// The records of a later `--interval` pass: the socket changes
/// `changes`, each alert that `ended` holds resolved on the change that
/// ends it (the listener's `port.closed`, or its `port.changed` to an
/// approved verdict) rather than written twice. An ended alert no change
/// speaks for is written as it is; closures that end no alert are already
/// among the changes.
pub fn resolve_on_changes(mut changes: Vec<Record>, ended: Vec<Record>) -> Vec<Record> {
    let mut extra = Vec::new();
    for end in ended {
        let Some(id) = end.alert_id().map(str::to_owned) else {
            continue;
        };
        let change = changes.iter().position(|rec| {
            (rec.kind == "port.closed" || rec.kind == "port.changed")
                && rec.alert_id().is_none()
                && record_listener_id(rec).as_deref() == Some(id.as_str())
        });
        match change {
            Some(i) => changes[i] = resolve(changes[i].clone(), id),
            None => extra.push(end),
        }
    }
    changes.extend(extra);
    changes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::monitor::Monitor;
    use secops_common::{Alerting, Severity};

    fn port(number: u16, inode: u64, status: Status) -> Port {
        let severity = match status {
            Status::Approved | Status::Unchecked => Severity::Info,
            _ => Severity::High,
        };
        crate::monitor::tests::port(number, inode, status, severity)
    }

    /// One pass as `run` makes it: (kind, port, alert stage) of each record.
    fn pass(
        listeners: &mut Listeners,
        monitor: &mut Monitor,
        ports: Vec<Port>,
    ) -> Vec<(String, u64, &'static str)> {
        let ended = listeners.pass(&ports);
        let mut out = Vec::new();
        monitor
            .pass(ports, ended, |rec| {
                let stage = match rec.alerting() {
                    Alerting::Alert(stage, _) => stage.as_str(),
                    _ => "none",
                };
                if stage == "resolved" {
                    assert_eq!(rec.severity, Severity::Info, "{rec:?}");
                }
                out.push((
                    rec.kind.clone(),
                    rec.fields["port"].as_u64().unwrap(),
                    stage,
                ));
                Ok::<_, ()>(())
            })
            .unwrap();
        out
    }

    fn kinds(list: &[(&str, u64, &'static str)]) -> Vec<(String, u64, &'static str)> {
        list.iter()
            .map(|(k, p, s)| (k.to_string(), *p, *s))
            .collect()
    }

    #[test]
    fn alerts_resolve_within_a_loop_once_on_the_change_that_ends_them() {
        let mut listeners = Listeners::new(LastRun::in_memory());
        let mut monitor = Monitor::new(true);
        let first = pass(
            &mut listeners,
            &mut monitor,
            vec![
                port(22, 1, Status::Approved),
                port(80, 2, Status::Unknown),
                port(8080, 3, Status::Unknown),
                port(9000, 4, Status::Unapproved),
            ],
        );
        assert_eq!(
            first,
            kinds(&[
                ("port", 22, "none"),
                ("port", 80, "firing"),
                ("port", 8080, "firing"),
                ("port", 9000, "firing"),
            ])
        );
        // 80 approved, 8080 closed, 9000 restarted (new inode, still
        // unapproved), 22 closed.
        let second = pass(
            &mut listeners,
            &mut monitor,
            vec![
                port(80, 2, Status::Approved),
                port(9000, 5, Status::Unapproved),
            ],
        );
        assert_eq!(
            second,
            kinds(&[
                ("port.changed", 80, "resolved"),
                ("port.opened", 9000, "firing"),
                ("port.closed", 22, "none"),
                ("port.closed", 8080, "resolved"),
                ("port.closed", 9000, "none"),
            ])
        );
        // Nothing changed: the alert that holds is written again.
        assert_eq!(
            pass(
                &mut listeners,
                &mut monitor,
                vec![
                    port(80, 2, Status::Approved),
                    port(9000, 5, Status::Unapproved),
                ],
            ),
            kinds(&[("port", 9000, "firing")])
        );
    }

    #[test]
    fn runs_resolve_through_the_state_dir_and_unchecked_keeps_the_alert() {
        let dir = tempfile::tempdir().unwrap();
        let run = |ports: Vec<Port>| {
            let mut listeners = Listeners::new(LastRun::load(dir.path(), "traffic-cop").unwrap());
            let out = pass(&mut listeners, &mut Monitor::new(false), ports);
            listeners.save().unwrap();
            out
        };
        let both = || vec![port(80, 2, Status::Unknown), port(443, 3, Status::Unknown)];
        assert_eq!(
            run(both()),
            kinds(&[("port", 80, "firing"), ("port", 443, "firing")])
        );
        // No whitelist: nothing fires, and nothing is resolved either.
        let unchecked = run(vec![
            port(80, 2, Status::Unchecked),
            port(443, 3, Status::Unchecked),
        ]);
        assert_eq!(
            unchecked,
            kinds(&[("port", 80, "none"), ("port", 443, "none")])
        );
        // 80 approved (restarted: another inode), 443 closed.
        let third = run(vec![port(80, 7, Status::Approved)]);
        assert_eq!(
            third,
            kinds(&[
                ("port", 80, "none"),
                ("port.changed", 80, "resolved"),
                ("port.closed", 443, "resolved"),
            ])
        );
        assert_eq!(run(vec![]), kinds(&[("port.closed", 80, "none")]));
        assert!(run(vec![]).is_empty());
    }
}
