//! What each fuzz target does with its input, shared by the cargo-fuzz
//! targets (`fuzz/fuzz_targets/*.rs`) and the stable test that runs every
//! target over its seed corpus (`tests/tests/fuzz_corpus.rs`), so the two
//! cannot drift apart. Each target calls the public entry point of the
//! parser it covers; errors are expected outcomes, only a panic, a hang
//! or a memory blowup is a finding.

use std::path::Path;

use secops_common::config::Syntax;

/// Every target, named as its directory under `fuzz/corpus/` and its
/// file under `fuzz/fuzz_targets/`.
#[allow(dead_code)]
pub const TARGETS: &[&str] = &[
    "records",
    "whitelist",
    "fim_policy",
    "fim_baseline",
    "servers_json",
    "ansible_ini",
    "ansible_yaml",
    "hostrange",
    "host_pattern",
    "nmap_xml",
    "gvm_xml",
    "vuln_rules",
    "notify_settings",
    "healthmon_settings",
    "log_lines",
    "backup_restore",
    "backup_manifest",
    "fetch_tar",
    "secops_settings",
];

/// The inventory the `host_pattern` target selects from: nested and
/// diamond-shaped children (so subscripts meet both fixed and unfixed
/// orders), a range, an ungrouped host, names with dots and digits.
static PATTERN_INVENTORY: std::sync::LazyLock<secops_inventory::Inventory> =
    std::sync::LazyLock::new(|| {
        let text = "lone.example.com\n[web]\nweb[01:04]\n[db]\ndb1:2222\ndb2\n\
                    [eu:children]\nweb\ndb\n[us:children]\ndb\n[prod:children]\neu\nus\n";
        let (servers, groups) =
            secops_inventory::parse(secops_inventory::Format::AnsibleIni, text).unwrap();
        secops_inventory::Inventory {
            path: "hosts.ini".into(),
            servers,
            groups,
        }
    });

/// A small nmap document the `vuln_rules` target judges by the rules it
/// is given: open ports with services, versions, CPEs and script output.
const NMAP_SAMPLE: &str = r#"<?xml version="1.0"?>
<nmaprun scanner="nmap"><host><status state="up"/><address addr="10.0.0.5" addrtype="ipv4"/>
<ports>
<port protocol="tcp" portid="22"><state state="open"/><service name="ssh" product="OpenSSH" version="7.4"><cpe>cpe:/a:openbsd:openssh:7.4</cpe></service></port>
<port protocol="tcp" portid="23"><state state="open"/><service name="telnet"/></port>
<port protocol="tcp" portid="6379"><state state="open"/><service name="redis"/></port>
<port protocol="tcp" portid="443"><state state="open"/><service name="https" product="nginx" version="1.10.3"/><script id="ssl-enum-ciphers" output="TLSv1.0: weak"/></port>
</ports><hostscript><script id="smb-vuln-ms17-010" output="VULNERABLE: State: VULNERABLE"/></hostscript></host>
</nmaprun>
"#;

/// Runs `target` on `data`. `scratch` is an empty directory the target may
/// write in (archives are restored and fetched into it); it is emptied
/// before each use.
pub fn run(target: &str, data: &[u8], scratch: &Path) {
    let text = std::str::from_utf8(data).ok();
    match target {
        "records" => {
            if let Some(text) = text {
                for line in text.lines() {
                    if let Ok(rec) = secops_common::Record::from_json(line) {
                        let back = rec.to_json();
                        let again = secops_common::Record::from_json(&back)
                            .expect("a record's own JSON reads back");
                        assert_eq!(again.to_json(), back, "a record's JSON is stable");
                        let _ = rec.alerting();
                    }
                }
            }
            let _ = secops_common::input::read_records_from(data, "<fuzz>", |rec| {
                let _ = rec.to_json();
                Ok(())
            });
        }
        "whitelist" => {
            if let Some(text) = text {
                let _ = traffic_cop::whitelist::Whitelist::parse(text);
            }
        }
        "fim_policy" => {
            if let Some(text) = text {
                for syntax in [Syntax::Json, Syntax::Yaml] {
                    if let Ok(policy) = fim_check::policy::Policy::parse(text, syntax) {
                        let _ = policy.digest();
                        if let Ok(scope) = fim_check::policy::Scope::new(policy) {
                            let _ = scope.roots();
                            for path in ["/etc/passwd", "/", "/var/log/x.log", "/a/b/c"] {
                                let _ = scope.rule_for(path.as_bytes());
                                let _ = scope.descends(path.as_bytes());
                            }
                        }
                    }
                }
            }
        }
        "fim_baseline" => {
            // The first byte picks whether the rest is sealed with the
            // target's key (reaching what lies behind the HMAC check) or
            // taken as the whole file.
            if let Some((&first, rest)) = data.split_first() {
                let dir = fresh(scratch);
                let _ = fim_check::read_baseline_bytes(rest, first & 1 == 0, &dir);
            }
        }
        "servers_json" | "ansible_ini" | "ansible_yaml" => {
            if let Some(text) = text {
                let format = match target {
                    "servers_json" => secops_inventory::Format::ServersJson,
                    "ansible_ini" => secops_inventory::Format::AnsibleIni,
                    _ => secops_inventory::Format::AnsibleYaml,
                };
                let _ = secops_inventory::parse(format, text);
            }
        }
        "hostrange" => {
            if let Some(text) = text {
                let counted = secops_inventory::hostrange::count(text);
                let expanded = secops_inventory::hostrange::expand(text);
                if let (Ok(count), Ok(names)) = (counted, expanded) {
                    assert!(names.len() <= count, "more names than counted");
                }
            }
        }
        "host_pattern" => {
            if let Some(text) = text {
                let _ = secops_inventory::select(
                    Some(&PATTERN_INVENTORY),
                    &secops_inventory::Selection {
                        limit: Some(text),
                        ..Default::default()
                    },
                );
            }
        }
        "nmap_xml" => {
            if let Some(text) = text {
                let _ = vulnscan::records_of_nmap_xml(text, None);
            }
        }
        "gvm_xml" => {
            if let Some(text) = text {
                let _ = vulnscan::records_of_gvm_xml(text);
            }
        }
        "vuln_rules" => {
            if let Some(text) = text {
                let _ = vulnscan::records_of_nmap_xml(NMAP_SAMPLE, Some(text));
            }
        }
        "notify_settings" => {
            if let Some(text) = text {
                for syntax in [Syntax::Json, Syntax::Yaml] {
                    let _ =
                        secops_common::config::parse::<secops_notify::settings::File>(text, syntax);
                }
                let _ = secops_notify::settings::parse_server(text);
            }
        }
        "healthmon_settings" => {
            if let Some((&first, rest)) = data.split_first() {
                let dir = fresh(scratch);
                let name = if first & 1 == 0 { "h.yaml" } else { "h.json" };
                let path = dir.join(name);
                if std::fs::write(&path, rest).is_ok() {
                    let _ = healthmon::check_settings(&path);
                }
            }
        }
        "log_lines" => {
            if let Some(text) = text {
                let _ = anomalizer::mine_text(text);
            }
        }
        "backup_restore" => {
            let dir = fresh(scratch);
            let archive = dir.join("a.tar");
            if std::fs::write(&archive, data).is_ok() {
                let _ = backup_rotate::restore_and_read_back(&archive, &dir.join("to"));
            }
        }
        "backup_manifest" => {
            if let Some(text) = text {
                let _ = backup_rotate::check_manifest(text);
            }
        }
        "fetch_tar" => {
            let dir = fresh(scratch);
            let _ = remote_run::receive_tree(data, &dir, Path::new("host/dir"));
        }
        "secops_settings" => {
            if let Some(text) = text {
                for syntax in [Syntax::Json, Syntax::Yaml] {
                    let _ = secops::settings::Settings::parse(text, syntax, false);
                }
                let _ = secops::settings::parse_size(text);
            }
        }
        other => panic!("no fuzz target {other:?}"),
    }
}

/// The fuzzing process's own scratch directory (under `$TMPDIR`, which
/// scripts/fuzz points at a tmpfs).
#[allow(dead_code)]
pub fn scratch() -> &'static Path {
    static SCRATCH: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    SCRATCH.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("secops-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a scratch directory");
        dir
    })
}

/// `scratch/w`, emptied: whatever a previous input left there (read-only
/// directories included) is removed first.
fn fresh(scratch: &Path) -> std::path::PathBuf {
    let dir = scratch.join("w");
    if dir.symlink_metadata().is_ok() {
        writable(&dir);
        let _ = std::fs::remove_dir_all(&dir);
    }
    let _ = std::fs::create_dir_all(&dir);
    dir
}

fn writable(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let Ok(meta) = dir.symlink_metadata() else {
        return;
    };
    if !meta.is_dir() {
        return;
    }
    let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            writable(&entry.path());
        }
    }
}
