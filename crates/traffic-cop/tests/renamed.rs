//! A process that calls itself what the whitelist approves: issue 22 found
//! a `nobody` python3 renamed node_exporter (prctl PR_SET_NAME) on :9100
//! approved at severity info by a name-only entry. Here real processes take
//! a name two ways, prctl through ctypes and a copy of the python3 binary
//! under the name, and listen on loopback ports any user can bind.

mod support;

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use serde_json::{Value, json};
use support::*;

const LISTEN: &str = r#"
import ctypes, socket, sys
if len(sys.argv) > 1:
    # PR_SET_NAME = 15: what `ps`, /proc/PID/comm and ss show.
    ctypes.CDLL(None).prctl(15, sys.argv[1].encode(), 0, 0, 0)
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen()
print(s.getsockname()[1], flush=True)
sys.stdin.read()
"#;

/// A listener run by `python` (as nobody when the test is root, as in the
/// finding), renamed to `name` with prctl if given; its port.
struct Listener {
    child: Child,
    port: u16,
}

impl Listener {
    fn start(python: &Path, prctl_name: Option<&str>) -> Listener {
        let root = nix_root();
        let mut cmd = if root {
            let mut cmd = Command::new(secops_testkit::require("setpriv", "util-linux"));
            cmd.args(["--reuid", "nobody", "--regid", "nogroup", "--clear-groups"])
                .arg(python);
            cmd
        } else {
            Command::new(python)
        };
        cmd.args(["-c", LISTEN]).args(prctl_name);
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs");
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("the listener printed no port: {line:?}"));
        Listener { child, port }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn nix_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1))
        == Some("0")
}

fn scan(dir: &Path, entries: Value) -> Vec<Value> {
    let list = dir.join("ports.json");
    std::fs::write(&list, json!({ "ports": entries }).to_string()).unwrap();
    let out = run(traffic_cop()
        .arg("--whitelist")
        .arg(&list)
        .args(["--format", "jsonl"]));
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", stderr(&out));
    records(&out.stdout)
}

#[test]
fn a_name_alone_does_not_approve_an_unprivileged_port() {
    // Debian's python3 (another earlier in PATH may be a shim under a home
    // directory nobody cannot read), resolved to its binary.
    let python = std::fs::canonicalize("/usr/bin/python3")
        .expect("/usr/bin/python3 is missing: apt-get install python3");
    // A directory nobody can enter, holding python3 copied as node_exporter.
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let copy = dir.path().join("node_exporter");
    std::fs::copy(&python, &copy).unwrap();

    let renamed = Listener::start(&python, Some("node_exporter"));
    let copied = Listener::start(&copy, None);
    let user = if nix_root() {
        "nobody".to_string()
    } else {
        String::from_utf8(Command::new("id").arg("-nu").output().unwrap().stdout)
            .unwrap()
            .trim()
            .to_string()
    };

    // The whitelist as shipped before: the process name only.
    let recs = scan(
        dir.path(),
        json!([
            {"port": renamed.port, "process": "node_exporter", "comment": "Prometheus node exporter"},
            {"port": copied.port, "process": "node_exporter"},
        ]),
    );
    for (listener, exe) in [
        (&renamed, python.to_str().unwrap()),
        (&copied, copy.to_str().unwrap()),
    ] {
        let rec = record_for(&recs, "tcp", listener.port);
        assert_eq!(rec["process"], "node_exporter", "{rec}");
        assert_eq!(rec["exe"], exe, "{rec}");
        assert_eq!(rec["user"], user.as_str(), "{rec}");
        assert_eq!(
            (
                rec["status"].as_str(),
                rec["severity"].as_str(),
                rec["alert"].as_str()
            ),
            (Some("unverified"), Some("medium"), Some("firing")),
            "{rec}"
        );
        let reason = rec["reason"].as_str().unwrap();
        assert!(reason.starts_with("the name alone matched"), "{rec}");
        assert!(
            rec["message"]
                .as_str()
                .unwrap()
                .contains("not verified: the name alone matched"),
            "{rec}"
        );
    }

    // Pinned by the user the rule gives, or by exe: the proof decides.
    let recs = scan(
        dir.path(),
        json!([
            {"port": renamed.port, "process": "node_exporter", "user": user},
            {"port": copied.port, "process": "node_exporter", "exe": "/usr/local/bin/node_exporter"},
        ]),
    );
    let rec = record_for(&recs, "tcp", renamed.port);
    assert_eq!(rec["status"], "approved", "{rec}");
    let rec = record_for(&recs, "tcp", copied.port);
    assert_eq!(
        (rec["status"].as_str(), rec["severity"].as_str()),
        (Some("unapproved"), Some("critical")),
        "{rec}"
    );
    let recs = scan(
        dir.path(),
        json!([
            {"port": renamed.port, "process": "node_exporter", "user": "node_exporter"},
            {"port": copied.port, "process": "node_exporter", "exe": copy},
        ]),
    );
    let rec = record_for(&recs, "tcp", renamed.port);
    assert_eq!(rec["status"], "unapproved", "{rec}");
    let rec = record_for(&recs, "tcp", copied.port);
    assert_eq!(rec["status"], "approved", "{rec}");
}

#[test]
fn loading_a_name_only_entry_for_an_unprivileged_port_warns() {
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("ports.json");
    std::fs::write(
        &list,
        r#"[{"port": 22, "process": "sshd"}, {"port": 9100, "process": "node_exporter"}]"#,
    )
    .unwrap();
    let out = run(traffic_cop()
        .arg("--whitelist")
        .arg(&list)
        .args(["--format", "jsonl"]));
    let err = stderr(&out);
    assert!(
        err.contains("ports[1] (port 9100) names only a process") && !err.contains("ports[0]"),
        "{err}"
    );
}
