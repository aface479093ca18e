//! `push` and `fetch` against a real sshd: files arrive whole, verified,
//! with their mode, one record per host; failures leave nothing behind.

mod support;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use serde_json::Value;
use support::{Sshd, aliases, closed_port, records, remote_run, run, stderr};

fn of_kind<'a>(all: &'a [Value], kind: &str) -> std::collections::BTreeMap<String, &'a Value> {
    all.iter()
        .filter(|r| r["kind"] == kind)
        .map(|r| (r["host"].as_str().unwrap().to_string(), r))
        .collect()
}

fn sha256(path: &Path) -> String {
    let out = std::process::Command::new("sha256sum")
        .arg(path)
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap()[..64].to_string()
}

fn leftovers(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn push_writes_the_file_whole_with_its_mode_and_checksum() {
    let sshd = Sshd::start();
    let config = sshd.ssh_config(&aliases(2), "");
    let local = sshd.path("tool.bin");
    let bytes: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    fs::write(&local, &bytes).unwrap();
    let target_dir = sshd.path("dest");
    fs::create_dir(&target_dir).unwrap();
    let target = target_dir.join("tool");
    let out = run(remote_run()
        .arg("--ssh-config")
        .arg(&config)
        .args(["--hosts", "h[01-02]", "push"])
        .arg(&local)
        .arg(&target)
        .args(["--mode", "750"]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let all = records(&out.stdout);
    let pushed = of_kind(&all, "remote.push");
    assert_eq!(pushed.len(), 2, "{all:#?}");
    for rec in pushed.values() {
        assert_eq!(rec["status"], "ok", "{rec}");
        assert_eq!(rec["bytes"], 300_000);
        assert_eq!(rec["sha256"], sha256(&local));
        assert_eq!(rec["mode"], "0750");
        assert_eq!(rec["remote"], target.display().to_string());
    }
    assert_eq!(fs::read(&target).unwrap(), bytes);
    assert_eq!(
        fs::metadata(&target).unwrap().permissions().mode() & 0o7777,
        0o750
    );
    assert_eq!(
        leftovers(&target_dir),
        ["tool"],
        "no temporary files remain"
    );

    // A directory target takes the local name; the local mode is kept.
    fs::set_permissions(&local, fs::Permissions::from_mode(0o640)).unwrap();
    let out = run(remote_run()
        .arg("--ssh-config")
        .arg(&config)
        .args(["--hosts", "h01", "push"])
        .arg(&local)
        .arg(&target_dir));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let copy = target_dir.join("tool.bin");
    assert_eq!(fs::read(&copy).unwrap(), bytes);
    assert_eq!(
        fs::metadata(&copy).unwrap().permissions().mode() & 0o7777,
        0o640
    );
}

#[test]
fn a_failed_push_is_failed_and_leaves_no_file() {
    let sshd = Sshd::start();
    let down = format!(
        "Host down\n  HostName 127.0.0.1\n  Port {}\n  IdentityFile {}\n",
        closed_port(),
        sshd.client_key.display()
    );
    let config = sshd.ssh_config(&aliases(1), &down);
    let local = sshd.path("tool.bin");
    fs::write(&local, "payload").unwrap();
    let missing = sshd.path("no/such/dir/tool");
    let out = run(remote_run()
        .arg("--ssh-config")
        .arg(&config)
        .args(["--hosts", "h01", "push"])
        .arg(&local)
        .arg(&missing));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let all = records(&out.stdout);
    let rec = of_kind(&all, "remote.push")["h01"];
    assert_eq!(rec["status"], "failed", "{rec}");
    assert_eq!(rec["sha256"], Value::Null);
    assert!(rec["message"].as_str().unwrap().contains("mktemp"), "{rec}");

    let target = sshd.path("tool");
    let out = run(remote_run()
        .arg("--ssh-config")
        .arg(&config)
        .args(["--hosts", "h01,down", "--connect-timeout", "5s", "push"])
        .arg(&local)
        .arg(&target));
    assert_eq!(
        out.status.code(),
        Some(3),
        "an unreachable host exits 3: {}",
        stderr(&out)
    );
    let all = records(&out.stdout);
    let pushed = of_kind(&all, "remote.push");
    assert_eq!(pushed["h01"]["status"], "ok");
    assert_eq!(pushed["down"]["status"], "unreachable");
    assert_eq!(fs::read_to_string(&target).unwrap(), "payload");
}

#[test]
fn fetch_writes_one_copy_per_host_and_nothing_for_failures() {
    let sshd = Sshd::start();
    let config = sshd.ssh_config(&aliases(2), "");
    let log = sshd.path("app.log");
    let content: Vec<u8> = (0..200_000u32)
        .flat_map(|i| format!("line {i}\n").into_bytes())
        .collect();
    fs::write(&log, &content).unwrap();
    let dest = tempfile::tempdir().unwrap();
    let out = run(remote_run()
        .arg("--ssh-config")
        .arg(&config)
        .args(["--hosts", "h[01-02]", "fetch"])
        .arg(&log)
        .arg(dest.path()));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let all = records(&out.stdout);
    let fetched = of_kind(&all, "remote.fetch");
    let relative = log.strip_prefix("/").unwrap();
    for host in ["h01", "h02"] {
        let copy = dest.path().join(host).join(relative);
        assert_eq!(fs::read(&copy).unwrap(), content, "{host}");
        assert_eq!(
            fs::metadata(&copy).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let rec = fetched[host];
        assert_eq!(rec["status"], "ok", "{rec}");
        assert_eq!(rec["local"], copy.display().to_string());
        assert_eq!(rec["bytes"], content.len());
        assert_eq!(rec["sha256"], sha256(&log));
    }

    let out = run(remote_run()
        .arg("--ssh-config")
        .arg(&config)
        .args(["--hosts", "h01", "fetch"])
        .arg(sshd.path("sub/missing.log"))
        .arg(dest.path()));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let all = records(&out.stdout);
    let rec = of_kind(&all, "remote.fetch")["h01"];
    assert_eq!(rec["status"], "failed", "{rec}");
    assert!(
        rec["stderr"].as_str().unwrap().contains("No such file"),
        "{rec}"
    );
    let copy = dest
        .path()
        .join("h01")
        .join(sshd.path("sub/missing.log").strip_prefix("/").unwrap());
    assert!(!copy.exists());
    assert!(
        !copy.parent().unwrap().exists(),
        "no empty directories are left"
    );
    assert!(
        dest.path().join("h01").join(relative).exists(),
        "earlier copies stay"
    );
}
