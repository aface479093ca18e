//! What a hostile or broken host prints cannot exhaust the machine
//! remote-run runs on: peak memory stays the same whether a host prints a
//! kilobyte or hundreds of megabytes, with or without newlines, as records
//! or as a tar stream with a gigantic long name. Each host here is a real
//! sshd whose `ForceCommand` plays the host; remote-run's peak RSS is
//! measured by `/usr/bin/time`.

mod support;

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;
use support::{Sshd, aliases, records, results, run, stderr};

/// Far above what remote-run needs (16-24 MiB in a debug build, ssh
/// included), far below what holding a host's output took (300 MiB and
/// 2.5 GiB here).
const PEAK_RSS_LIMIT_KB: u64 = 64 * 1024;

/// Runs remote-run with `args` under `/usr/bin/time`; its output and its
/// peak resident set size in KiB.
fn measured(args: &[&str], config: &Path) -> (Output, u64) {
    let time = Path::new("/usr/bin/time");
    assert!(
        time.exists(),
        "/usr/bin/time is missing: apt-get install time"
    );
    let out = run(Command::new(time)
        .args(["-f", "peak_rss_kb=%M", env!("CARGO_BIN_EXE_remote-run")])
        .arg("--ssh-config")
        .arg(config)
        .args(args));
    let text = stderr(&out);
    let peak = text
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("peak_rss_kb="))
        .and_then(|kb| kb.trim().parse().ok())
        .unwrap_or_else(|| panic!("no peak RSS in stderr: {text}"));
    eprintln!("remote-run {args:?}: peak RSS {peak} KiB");
    (out, peak)
}

/// An sshd whose every session runs `script` (a file in `dir`, so it
/// may be long).
fn host_running(dir: &Path, script: &str) -> Sshd {
    let path = dir.join("host.sh");
    fs::write(&path, script).unwrap();
    Sshd::builder()
        .config(&format!("ForceCommand sh {}\n", path.display()))
        .start()
}

#[test]
fn output_without_newlines_is_counted_not_held_on_every_host_at_once() {
    // 100 MB on stdout with no newline and 20 MB on stderr, from three
    // hosts at once: it all went into memory (a 1 GB line, 1 GB RSS).
    let dir = tempfile::tempdir().unwrap();
    let sshd = host_running(
        dir.path(),
        "head -c 100000000 /dev/zero\nhead -c 20000000 /dev/zero >&2\nexit 3\n",
    );
    let config = sshd.ssh_config(&aliases(3), "");
    let (out, peak) = measured(
        &["--hosts", "h[01-03]", "--parallel", "3", "--", "ignored"],
        &config,
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let results = results(&records(&out.stdout));
    assert_eq!(results.len(), 3);
    for result in results.values() {
        assert_eq!(result["status"], "failed");
        assert_eq!(result["stdout_bytes"], 100_000_000);
        assert_eq!(result["stdout_truncated"], true);
        assert_eq!(result["stdout"].as_str().unwrap().len(), 65536);
        assert_eq!(result["stderr_bytes"], 20_000_000);
        assert_eq!(result["stderr_truncated"], true);
        assert_eq!(result["records"], 0);
    }
    assert!(
        peak < PEAK_RSS_LIMIT_KB,
        "remote-run peaked at {peak} KiB for three hosts printing 120 MB each"
    );
}

/// A record of about 3 KB (a long path, as fim-check may report).
fn record() -> String {
    let path = format!("/srv/{}", "p".repeat(1500));
    format!(
        r#"{{"ts":"2026-11-21T19:02:00Z","host":"localhost","tool":"fim-check","kind":"fim.changed","severity":"high","message":"{path} changed","alert":"firing","alert_id":"fim-check:0123456789abcdef0123456789abcdef","path":"{path}"}}"#
    )
}

#[test]
fn records_stream_through_and_a_line_too_long_for_one_is_text() {
    // 10,000 records (30 MB) were all held until the host finished; a record
    // line longer than remote-run takes one for is kept as text, cut.
    let long_message = 300_000;
    let head = r#"{"ts":"2026-11-21T19:02:00Z","host":"x","tool":"t","kind":"k","severity":"critical","message":""#;
    let dir = tempfile::tempdir().unwrap();
    let sshd = host_running(
        dir.path(),
        &format!(
            "yes '{}' | head -n 10000\n\
             printf '%s' '{head}'\n\
             head -c {long_message} /dev/zero | tr '\\0' m\n\
             printf '\"}}\\n'\n",
            record()
        ),
    );
    let config = sshd.ssh_config(&aliases(1), "");
    let (out, peak) = measured(&["--hosts", "h01", "--", "ignored"], &config);
    assert_eq!(
        out.status.code(),
        Some(1),
        "the records are high: {}",
        stderr(&out)
    );
    let all = records(&out.stdout);
    let passed: Vec<&Value> = all.iter().filter(|r| r["kind"] == "fim.changed").collect();
    assert_eq!(passed.len(), 10_000);
    assert!(passed.iter().all(|r| r["host"] == "h01"));
    assert!(
        all.iter().all(|r| r["severity"] != "critical"),
        "the overlong line was not taken for a record"
    );
    let result = &results(&all)["h01"];
    assert_eq!(result["records"], 10_000);
    let long_line = head.len() + long_message + 3;
    assert_eq!(result["stdout_bytes"], long_line, "{result}");
    assert_eq!(result["stdout_truncated"], true);
    assert!(result["stdout"].as_str().unwrap().starts_with("{\"ts\""));
    assert_eq!(
        all.last().unwrap()["kind"],
        "remote.result",
        "a host's records come before its result"
    );
    // Holding the 30 MB of records took 54 MiB.
    assert!(
        peak < PEAK_RSS_LIMIT_KB / 2,
        "remote-run peaked at {peak} KiB passing 10,000 records through"
    );
}

/// A GNU tar header of `kind` for `name` (its first 100 bytes) and `size`.
fn header(kind: tar::EntryType, name: &str, size: u64) -> Vec<u8> {
    let mut header = tar::Header::new_gnu();
    let field = &mut header.as_gnu_mut().unwrap().name;
    let n = name.len().min(field.len());
    field[..n].copy_from_slice(&name.as_bytes()[..n]);
    header.set_entry_type(kind);
    header.set_size(size);
    header.set_mode(0o644);
    header.set_cksum();
    header.as_bytes().to_vec()
}

/// `data` padded to whole 512-byte blocks.
fn padded(data: &[u8]) -> Vec<u8> {
    let mut data = data.to_vec();
    data.resize(data.len().div_ceil(512) * 512, 0);
    data
}

#[test]
fn a_fetched_archive_with_a_huge_long_name_or_pax_header_is_refused_unread() {
    use tar::EntryType::{GNULongName, Regular, XHeader};
    // A GNU long name of 200 MB (a 1.5 GB one took 800 MB to read), a
    // PAX header of 51 MB, and a long name just past PATH_MAX, each
    // before a file; then a file that is fine. The huge parts are made by
    // the host, block by block, so the test holds none of it.
    let dir = tempfile::tempdir().unwrap();
    let part = |name: &str, bytes: &[u8]| {
        let path = dir.path().join(name);
        fs::write(&path, bytes).unwrap();
        path.display().to_string()
    };
    let long_name = 200_000_000u64;
    let pax = 51_200_000u64; // whole blocks, as the host sends no padding
    let name_5000 = format!("./{}", "n/".repeat(2499));
    let parts = [
        part("a", &header(GNULongName, "././@LongLink", long_name)),
        part(
            "b",
            &[
                header(Regular, "./victim-one.txt", 5),
                padded(b"owned"),
                header(XHeader, "./PaxHeaders/victim-two", pax),
            ]
            .concat(),
        ),
        part(
            "c",
            &[
                header(Regular, "./victim-two.txt", 5),
                padded(b"owned"),
                header(GNULongName, "././@LongLink", name_5000.len() as u64 + 1),
                padded(format!("{name_5000}\0").as_bytes()),
                header(Regular, "./victim-three.txt", 5),
                padded(b"owned"),
                header(Regular, "./ok.txt", 4),
                padded(b"fine"),
                vec![0; 1024],
            ]
            .concat(),
        ),
    ];
    let sshd = host_running(
        dir.path(),
        &format!(
            "printf D\ncat {}\nhead -c {long_name} /dev/zero\ncat {}\nhead -c {pax} /dev/zero\ncat {}\n",
            parts[0], parts[1], parts[2]
        ),
    );
    let config = sshd.ssh_config(&aliases(1), "");
    let dest = tempfile::tempdir().unwrap();
    let dest_arg = dest.path().display().to_string();
    let (out, peak) = measured(&["--hosts", "h01", "fetch", "/srv/app", &dest_arg], &config);
    assert_eq!(
        out.status.code(),
        Some(1),
        "refused entries are high: {}",
        stderr(&out)
    );
    let all = records(&out.stdout);
    let root = dest.path().join("h01/srv/app");
    assert_eq!(
        fs::read(root.join("ok.txt")).ok().as_deref(),
        Some(&b"fine"[..]),
        "{all:#?}"
    );
    let files: Vec<&Value> = all
        .iter()
        .filter(|r| r["kind"] == "remote.fetch.file")
        .collect();
    assert_eq!(files.len(), 4, "{files:#?}");
    for (victim, why) in [
        ("victim-one.txt", "GNU long name is 200000000 bytes"),
        ("victim-two.txt", "PAX header is 51200000 bytes"),
        ("victim-three.txt", "GNU long name is 5001 bytes"),
    ] {
        let rec = files
            .iter()
            .find(|r| r["remote"] == format!("/srv/app/{victim}"))
            .unwrap_or_else(|| panic!("no record for {victim}: {files:#?}"));
        assert_eq!(rec["status"], "skipped", "{rec}");
        assert_eq!(rec["severity"], "high", "{rec}");
        assert_eq!(rec["alert"], "firing", "a refused file fires: {rec}");
        assert!(rec["reason"].as_str().unwrap().contains(why), "{rec}");
        assert!(!root.join(victim).exists());
    }
    let summary = all.iter().find(|r| r["kind"] == "remote.fetch").unwrap();
    assert_eq!(summary["files"], 1, "{summary}");
    assert_eq!(summary["skipped"], 3, "{summary}");
    assert_eq!(
        summary["error"],
        Value::Null,
        "the stream went on: {summary}"
    );
    assert!(
        peak < PEAK_RSS_LIMIT_KB,
        "remote-run peaked at {peak} KiB reading a 200 MB long name"
    );
}

#[test]
fn host_ranges_too_large_are_refused_at_once_naming_the_place() {
    // Sixteen small ranges: 10^16 names, once built until memory ran out.
    let bomb = format!("h{}", "[0:9]".repeat(16));
    let started = std::time::Instant::now();
    let out = run(support::remote_run().args(["--hosts", &bomb, "--", "true"]));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("--hosts: pattern")
            && stderr(&out).contains("more than 100000 hosts"),
        "{}",
        stderr(&out)
    );
    let dir = tempfile::tempdir().unwrap();
    let inventory = dir.path().join("hosts.ini");
    fs::write(
        &inventory,
        format!("[web]\nweb1\n{bomb} ansible_user=ops\n"),
    )
    .unwrap();
    let out = run(support::remote_run()
        .arg("--inventory")
        .arg(&inventory)
        .args(["--", "true"]));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("{}:3: host pattern", inventory.display())),
        "{}",
        stderr(&out)
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}
