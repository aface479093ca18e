//! remote-run selects exactly the hosts Ansible would, or refuses: a
//! differential test with ansible-core itself as the oracle.
//!
//! Inventories (INI and YAML, nested and diamond-shaped children, groups
//! declared before or after they are used as children, ranges, ungrouped
//! hosts, host and group names that collide, quoted vars, `group_vars/`)
//! and `--limit` patterns over them (unions, `&`, `!`, globs, `~regex`,
//! subscripts, `@file`, names that match nothing) are generated from a
//! fixed seed, and each is put to ansible-core (tests/ansible_oracle.py,
//! through its InventoryManager, a term matching nothing an error as in
//! remote-run) and to this crate. Every inventory must load, or fail, in
//! both; every host's address, port and user must be the same; every
//! pattern must select the same hosts, or fail in both, or be refused
//! here for one of the documented reasons, and those refusals must be few.
//!
//! A third test does the same on Ansible's own integration-test
//! inventories (from ansible-core's source distribution).
//!
//! Needs ansible-core 2.19 in a Python venv and its source: scripts/test
//! installs both under /opt/secops-venv (SECOPS_ANSIBLE_PYTHON and
//! SECOPS_ANSIBLE_SRC point elsewhere).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use secops_inventory::{Inventory, Selection, select};
use secops_testkit::Rng;
use serde_json::{Value, json};

const INVENTORIES: usize = 64;
const PATTERNS_PER_INVENTORY: usize = 40;

/// The refusals remote-run may make where Ansible selects hosts.
const DOCUMENTED_REFUSALS: [&str; 2] = [
    "leaves the order of these hosts to chance",
    "is not supported in a ~regex term",
];

fn oracle_python() -> PathBuf {
    let python = std::env::var_os("SECOPS_ANSIBLE_PYTHON").map_or_else(
        || PathBuf::from("/opt/secops-venv/bin/python3"),
        PathBuf::from,
    );
    let found = Command::new(&python)
        .args(["-c", "import ansible.release as r; print(r.__version__)"])
        .output()
        .ok()
        .filter(|o| o.status.success());
    let version = found.map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    assert!(
        version.as_deref().is_some_and(|v| v.starts_with("2.19")),
        "ansible-core 2.19 is needed at {} (found {version:?}): run scripts/test, which installs it",
        python.display()
    );
    python
}

const GROUP_NAMES: [&str; 14] = [
    "web", "db", "prod", "staging", "web_eu", "web_us", "db1", "dbs", "cache", "lb", "eu", "us",
    "app01", "test",
];
const HOST_STEMS: [&str; 8] = ["web", "db", "app", "cache", "test", "lb", "h-", "node"];
const USERS: [&str; 6] = ["ops", "'deploy'", "\"svc\"", "o'p'q", "1234", "root"];

/// Glob endings: classes, Python's bracket rules, an unclosed `[`.
const GLOB_TAILS: [&str; 7] = ["[0-9]*", "[]a]*", "[!a-c]*", "[a-]*", "[z-a]*", "[", "\\*"];

/// Regex terms: Python syntax Rust reads alike, and some it does not
/// (flags, look-ahead, backreferences), which must be refused.
const REGEXES: [&str; 24] = [
    r"\w+0[1-3]",
    r"[a-z]+\d{2}$",
    r"(web|db).*",
    r"test0[1-3]",
    "h-.",
    r".*\.com",
    "^web",
    r"(?:db|web)\d+",
    "[^w].*",
    "web{1,2}",
    "db{,1}0",
    "x{}",
    "db|web",
    "(?i)WEB",
    "web(?=0)",
    r"(d)\1",
    "[]a]",
    "[a-]b",
    "a{2,1}",
    "*web",
    r"\d+\.\d+\.",
    "(?P<n>web)0[12]",
    r"[\w.-]+\Z",
    "we+?b",
];

/// One generated inventory: what to write, and the names a pattern can use.
struct Generated {
    path: PathBuf,
    groups: Vec<String>,
    hosts: Vec<String>,
}

fn host_name(rng: &mut Rng, i: usize) -> String {
    // Now and then a host named as a group is (refused, see below).
    match rng.below(50) {
        0 => "app01".to_string(),
        1..=5 => format!("10.0.{}.{}", rng.below(3), i + 1),
        6..=10 => format!("{}{i}.example.com", rng.pick(&HOST_STEMS)),
        _ => format!("{}{:02}", rng.pick(&HOST_STEMS), i + 1),
    }
}

fn generate(rng: &mut Rng, dir: &Path, n: usize) -> Generated {
    let group_count = 2 + rng.below(7);
    let mut groups: Vec<String> = Vec::new();
    while groups.len() < group_count {
        let name = rng.pick(&GROUP_NAMES).to_string();
        if !groups.contains(&name) {
            groups.push(name);
        }
    }
    // Children only point to later groups: no cycles.
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); groups.len()];
    for (p, kids) in children.iter_mut().enumerate() {
        for c in p + 1..groups.len() {
            if rng.percent(25) {
                kids.push(c);
            }
        }
    }
    let mut hosts: Vec<String> = Vec::new();
    let mut members: Vec<Vec<String>> = vec![Vec::new(); groups.len()];
    let mut ungrouped: Vec<String> = Vec::new();
    let mut host_vars: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for i in 0..4 + rng.below(14) {
        let name = host_name(rng, i);
        if !hosts.contains(&name) {
            hosts.push(name.clone());
        }
        let mut placed = false;
        for _ in 0..rng.below(3) {
            let g = rng.below(groups.len());
            if !members[g].contains(&name) {
                members[g].push(name.clone());
                placed = true;
            }
        }
        if !placed || rng.percent(10) {
            ungrouped.push(name.clone());
        }
        if rng.percent(30) {
            let vars = host_vars.entry(name).or_default();
            match rng.below(3) {
                0 => vars.push(("ansible_port".into(), (2200 + rng.below(50)).to_string())),
                1 => vars.push(("ansible_user".into(), rng.pick(&USERS).to_string())),
                _ => vars.push(("ansible_host".into(), format!("192.0.2.{}", rng.below(250)))),
            }
        }
    }
    let mut group_vars: BTreeMap<usize, Vec<(String, String)>> = BTreeMap::new();
    for g in 0..groups.len() {
        if rng.percent(30) {
            let value = if rng.percent(50) {
                rng.pick(&USERS).to_string()
            } else {
                (2000 + rng.below(99)).to_string()
            };
            let key = if value.starts_with(|c: char| c.is_ascii_digit()) && value.len() == 4 {
                "ansible_port"
            } else {
                "ansible_user"
            };
            group_vars.entry(g).or_default().push((key.into(), value));
        }
    }
    let yaml = rng.percent(40);
    let path = dir.join(if yaml {
        format!("inv{n}.yml")
    } else {
        format!("inv{n}.ini")
    });
    let text = if yaml {
        yaml_text(
            &groups,
            &children,
            &members,
            &ungrouped,
            &host_vars,
            &group_vars,
        )
    } else {
        ini_text(
            rng,
            &groups,
            &children,
            &members,
            &ungrouped,
            &host_vars,
            &group_vars,
        )
    };
    std::fs::write(&path, text).unwrap();
    if rng.percent(15) {
        let g = rng.pick(&groups);
        // group_vars/ sits beside every inventory of the directory: give
        // it only to this one by using its own directory.
        let own = dir.join(format!("gv{n}"));
        std::fs::create_dir_all(own.join("group_vars")).unwrap();
        std::fs::write(
            own.join("group_vars").join(format!("{g}.yml")),
            "ansible_user: from_group_vars\n",
        )
        .unwrap();
        let moved = own.join(path.file_name().unwrap());
        std::fs::rename(&path, &moved).unwrap();
        return Generated {
            path: moved,
            groups,
            hosts,
        };
    }
    Generated {
        path,
        groups,
        hosts,
    }
}

fn ini_text(
    rng: &mut Rng,
    groups: &[String],
    children: &[Vec<usize>],
    members: &[Vec<String>],
    ungrouped: &[String],
    host_vars: &BTreeMap<String, Vec<(String, String)>>,
    group_vars: &BTreeMap<usize, Vec<(String, String)>>,
) -> String {
    let mut text = String::from("# generated\n");
    let host_line = |text: &mut String, name: &str| {
        text.push_str(name);
        for (k, v) in host_vars.get(name).into_iter().flatten() {
            let _ = write!(text, " {k}={v}");
        }
        text.push('\n');
    };
    for name in ungrouped {
        host_line(&mut text, name);
    }
    // Sections in a shuffled order: children may be named before their
    // own section comes.
    let mut order: Vec<usize> = (0..groups.len()).collect();
    for i in (1..order.len()).rev() {
        order.swap(i, rng.below(i + 1));
    }
    for g in order {
        if let Some(vars) = group_vars.get(&g) {
            let _ = writeln!(text, "[{}:vars]", groups[g]);
            for (k, v) in vars {
                let _ = writeln!(text, "{k} = {v}");
            }
        }
        let _ = writeln!(text, "[{}]", groups[g]);
        for name in &members[g] {
            host_line(&mut text, name);
        }
        if !children[g].is_empty() {
            let _ = writeln!(text, "[{}:children]", groups[g]);
            for &c in &children[g] {
                let _ = writeln!(text, "{}", groups[c]);
            }
        }
    }
    text
}

fn yaml_text(
    groups: &[String],
    children: &[Vec<usize>],
    members: &[Vec<String>],
    ungrouped: &[String],
    host_vars: &BTreeMap<String, Vec<(String, String)>>,
    group_vars: &BTreeMap<usize, Vec<(String, String)>>,
) -> String {
    let quote = |v: &str| serde_json::to_string(v).unwrap();
    let mut text = String::from("all:\n  hosts:\n");
    let hosts_block = |text: &mut String, names: &[String], indent: &str| {
        for name in names {
            let _ = write!(text, "{indent}{}:", quote(name));
            match host_vars.get(name) {
                Some(vars) => {
                    text.push('\n');
                    for (k, v) in vars {
                        let _ = writeln!(text, "{indent}  {k}: {}", quote(v));
                    }
                }
                None => text.push('\n'),
            }
        }
    };
    hosts_block(&mut text, ungrouped, "    ");
    text.push_str("  children:\n");
    // Each group written once, at top level; children listed by name.
    for (g, name) in groups.iter().enumerate() {
        let _ = writeln!(text, "    {name}:");
        if !members[g].is_empty() {
            text.push_str("      hosts:\n");
            hosts_block(&mut text, &members[g], "        ");
        }
        if let Some(vars) = group_vars.get(&g) {
            text.push_str("      vars:\n");
            for (k, v) in vars {
                let _ = writeln!(text, "        {k}: {}", quote(v));
            }
        }
        if !children[g].is_empty() {
            text.push_str("      children:\n");
            for &c in &children[g] {
                let _ = writeln!(text, "        {}:", groups[c]);
            }
        }
    }
    text
}

/// A term built from the inventory's names: exact, glob, regex or made up.
fn term(rng: &mut Rng, inv: &Generated) -> String {
    let names: Vec<&String> = inv.groups.iter().chain(&inv.hosts).collect();
    let name = rng.pick(&names).to_string();
    let glob = |rng: &mut Rng, name: &str| {
        let chars: Vec<char> = name.chars().collect();
        let at = rng.below(chars.len());
        let mut out: String = chars[..at].iter().collect();
        match rng.below(6) {
            0 => out.push('*'),
            1 => {
                out.push('?');
                out.extend(&chars[(at + 1).min(chars.len())..]);
            }
            2 => {
                let _ = write!(out, "[{}x]", chars[at]);
                out.extend(&chars[at + 1..]);
            }
            3 => {
                let _ = write!(out, "[!{}]*", chars[at]);
            }
            4 => {
                let tail = *rng.pick(&GLOB_TAILS);
                out.push_str(tail);
            }
            _ => {
                out.push('*');
                out.extend(&chars[(at + 1).min(chars.len())..]);
            }
        }
        out
    };
    let base = match rng.below(12) {
        0..=2 => name,
        3 => "all".to_string(),
        4 | 5 => glob(rng, &name),
        6 => format!("~{}", &name[..1 + rng.below(name.len())]),
        7 => {
            let other = rng.pick(&names);
            format!("~({name}|{other})$")
        }
        8 => format!("~{}", rng.pick(&REGEXES)),
        9 => rng
            .pick(&["nosuch", "web99", "stag*x", "~zz", "localhost"])
            .to_string(),
        _ => {
            let group = rng.pick(&inv.groups).clone();
            let sub = match rng.below(6) {
                0 => "[0]".to_string(),
                1 => "[-1]".to_string(),
                2 => format!("[{}]", rng.below(4)),
                3 => format!("[{}:{}]", rng.below(3), rng.below(5)),
                4 => format!("[{}:]", rng.below(3)),
                _ => "[1-2]".to_string(),
            };
            let target = if rng.percent(30) {
                glob(rng, &group)
            } else {
                group
            };
            format!("{target}{sub}")
        }
    };
    let prefix = *rng.pick(&["", "", "", "&", "!", "!"]);
    format!("{prefix}{base}")
}

fn patterns(rng: &mut Rng, inv: &Generated, dir: &Path, n: usize) -> Vec<String> {
    let mut out = vec![
        "all".to_string(),
        format!("all:!{}", inv.groups[0]),
        format!("{}:&{}", inv.groups[0], inv.groups[inv.groups.len() - 1]),
        format!("{}[0]", inv.groups[0]),
        "ungrouped".to_string(),
        // No comma: one address (a host and port) or terms split at `:`.
        format!("{}:22", inv.hosts[0]),
        format!("{}:{}", inv.hosts[0], inv.groups[0]),
        "[::1]:22".to_string(),
        "all:!".to_string(),
    ];
    let file = dir.join(format!("limit{n}.txt"));
    std::fs::write(&file, format!("{}\n!{}\n", inv.hosts[0], inv.hosts[0])).unwrap();
    out.push(format!("@{}", file.display()));
    while out.len() < PATTERNS_PER_INVENTORY {
        let count = 1 + rng.below(3);
        let terms: Vec<String> = (0..count).map(|_| term(rng, inv)).collect();
        // `:` joins only when no term has a colon of its own.
        let sep = if terms.iter().any(|t| t.contains(':')) || rng.percent(50) {
            ","
        } else {
            ":"
        };
        out.push(terms.join(sep));
    }
    out
}

/// ansible-core's verdict on each request (tests/ansible_oracle.py).
fn ask_ansible(python: &Path, requests: &[Value]) -> Vec<Value> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ansible_oracle.py");
    let mut child = Command::new(python)
        .arg(&script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    serde_json::to_writer(child.stdin.take().unwrap(), requests).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "the oracle failed");
    let verdicts: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(verdicts.len(), requests.len());
    verdicts
}

/// Values as an INI inventory may write them, plain, quoted, and as the
/// Python literals Ansible's `ast.literal_eval` turns into something else.
const INI_VALUES: [&str; 30] = [
    "ops",
    "'ops'",
    "\"ops\"",
    "o'p'q",
    "o\"p\"q",
    "'a b'",
    "1234",
    "0x10",
    "1e3",
    "True",
    "None",
    "[1]",
    "ops # c",
    "ops#c",
    "u'x'",
    "'it''s'",
    "a\\'b",
    "web-1",
    "10.0.0.1",
    "-1",
    "~user",
    "/path/key",
    "ab'c'",
    "07",
    "1_000",
    "...",
    "{a}",
    "(1)",
    "\"a\\\"b\"",
    "1-2",
];

#[test]
fn ini_values_are_read_as_ansible_reads_them_or_refused() {
    let python = oracle_python();
    let dir = tempfile::tempdir().unwrap();
    let mut requests = Vec::new();
    let mut files = Vec::new();
    for (i, value) in INI_VALUES.iter().enumerate() {
        for (form, text) in [
            (
                "vars",
                format!("[web]\nw1\n[web:vars]\nansible_user = {value}\n"),
            ),
            ("host", format!("[web]\nw1 ansible_user={value}\n")),
        ] {
            let path = dir.path().join(format!("{form}{i}.ini"));
            std::fs::write(&path, &text).unwrap();
            requests.push(json!({"path": path, "patterns": []}));
            files.push((path, text));
        }
    }
    let verdicts = ask_ansible(&python, &requests);
    let (mut same, mut refused, mut failures) = (0, 0, Vec::new());
    for ((path, text), verdict) in files.iter().zip(&verdicts) {
        let theirs = verdict
            .get("hosts")
            .map(|h| h["w1"]["user"].as_str().map(String::from));
        match (Inventory::load(path), theirs) {
            (Ok(inv), Some(user)) if inv.servers[0].user == user => same += 1,
            (Err(_), None) => same += 1,
            (Err(err), Some(_)) if err.message.contains("as a Python literal") => refused += 1,
            (ours, theirs) => failures.push(format!(
                "{text}: ours {:?}, Ansible {theirs:?}",
                ours.map(|inv| inv.servers[0].user.clone())
                    .map_err(|e| e.message)
            )),
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    // Half the values are odd on purpose (0x10, 1e3, True, [1], u'x'):
    // those are refused; the names and quoted names are all read.
    assert!(same >= 30, "only {same} values read as Ansible reads them");
    eprintln!("{same} INI values read as Ansible reads them, {refused} refused");
}

/// Inventories at the edges of what Ansible accepts.
const EDGE_INVENTORIES: [(&str, &str); 20] = [
    ("open-bracket.ini", "[web\nw1\n"),
    ("header-and-more.ini", "[web] extra\nw1\n"),
    ("header-comment.ini", "[web] # the web tier\nw1\n"),
    (
        "two-children.ini",
        "[web]\nw1\n[prod:children]\nweb extra\n",
    ),
    ("int-host.yml", "all:\n  hosts:\n    1234:\n    web1:\n"),
    (
        "quoted-int-host.yml",
        "all:\n  hosts:\n    \"1234\":\n    web1:\n",
    ),
    (
        "int-group.yml",
        "all:\n  children:\n    99:\n      hosts:\n        web1:\n",
    ),
    ("float-host.yml", "all:\n  hosts:\n    1.5:\n"),
    ("bool-host.yml", "all:\n  hosts:\n    true:\n"),
    (
        "range.yml",
        "all:\n  hosts:\n    web[01:03]:\n      ansible_port: 2222\n",
    ),
    ("collision.ini", "[web]\nweb\n"),
    ("vars-only.ini", "[web:vars]\nansible_user=ops\n"),
    ("child-first.ini", "[prod:children]\nweb\n[web]\nw1\n"),
    ("cycle.ini", "[a:children]\nb\n[b:children]\na\n"),
    ("colon.ini", "[web]\nweb1:\n"),
    ("dashes.ini", "---\n"),
    ("ungrouped-too.ini", "w1\n[web]\nw1\n"),
    (
        "all-vars.ini",
        "[all:vars]\nansible_user=\"ops\"\n[web]\nw1 ansible_user=o'p'q\n",
    ),
    ("port-in-name.ini", "[web]\nw1:2222\n[::1]:2200\n"),
    (
        "comment.ini",
        "[web]\nw1 ansible_port=2200#x\nw2 # ansible_port=1\n",
    ),
];

#[test]
fn edge_inventories_load_or_fail_as_in_ansible() {
    let python = oracle_python();
    let dir = tempfile::tempdir().unwrap();
    let mut requests = Vec::new();
    for (name, text) in EDGE_INVENTORIES {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        requests.push(json!({"path": path, "patterns": []}));
    }
    let verdicts = ask_ansible(&python, &requests);
    let mut failures = Vec::new();
    for ((name, text), verdict) in EDGE_INVENTORIES.iter().zip(&verdicts) {
        let ours = Inventory::load(&dir.path().join(name)).map(|inv| {
            inv.servers
                .iter()
                .map(|s| {
                    (
                        s.name.clone(),
                        (s.port.map(|p| p.to_string()), s.user.clone()),
                    )
                })
                .collect::<BTreeMap<_, _>>()
        });
        let theirs = verdict.get("hosts").map(|hosts| {
            hosts
                .as_object()
                .unwrap()
                .iter()
                .map(|(name, conn)| {
                    let field = |f: &str| conn[f].as_str().map(String::from);
                    (name.clone(), (field("port"), field("user")))
                })
                .collect::<BTreeMap<_, _>>()
        });
        match (&ours, &theirs) {
            (Ok(a), Some(b)) if a == b => {}
            (Err(_), None) => {}
            (Err(err), Some(_)) if err.message.contains("is both a host and a group") => {}
            _ => failures.push(format!("{name} {text:?}: ours {ours:?}, Ansible {verdict}")),
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// Ansible's own integration-test inventories, from the ansible-core
/// source distribution scripts/test unpacks beside the venv.
fn ansible_test_inventories() -> Vec<PathBuf> {
    let root = std::env::var_os("SECOPS_ANSIBLE_SRC").map_or_else(
        || PathBuf::from("/opt/secops-venv/src/ansible-core/test/integration/targets"),
        PathBuf::from,
    );
    let mut found = Vec::new();
    let mut dirs = vec![root.clone()];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if path.is_dir() {
                dirs.push(path);
            } else if (name == "inventory"
                || name == "hosts"
                || name.starts_with("inventory.")
                || name.starts_with("inventory_")
                || name.starts_with("hosts.")
                || name.ends_with(".ini")
                || (name.contains("inventory")
                    && (name.ends_with(".yml") || name.ends_with(".yaml"))))
                && !name.ends_with(".py")
                && !name.ends_with(".j2")
            {
                found.push(path);
            }
        }
    }
    found.sort();
    assert!(
        found.len() >= 60,
        "only {} inventory files under {} (scripts/test unpacks ansible-core's source there; SECOPS_ANSIBLE_SRC points elsewhere)",
        found.len(),
        root.display()
    );
    found
}

#[test]
fn ansibles_own_test_inventories_load_and_select_alike() {
    let python = oracle_python();
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng::new(0x0A45_1B1E);
    let files = ansible_test_inventories();
    let mut requests = Vec::new();
    let mut plans = Vec::new();
    for (n, path) in files.iter().enumerate() {
        let patterns = match Inventory::load(path) {
            Ok(inv) if !inv.servers.is_empty() => {
                let generated = Generated {
                    path: path.clone(),
                    groups: inv.groups.iter().map(|g| g.name.clone()).collect(),
                    hosts: inv.servers.iter().map(|s| s.name.clone()).collect(),
                };
                patterns(&mut rng, &generated, dir.path(), n)
            }
            _ => Vec::new(),
        };
        requests.push(json!({"path": path, "patterns": patterns}));
        plans.push(patterns);
    }
    let verdicts = ask_ansible(&python, &requests);
    let (mut both, mut neither, mut refused, mut compared, mut failures) =
        (0, 0, Vec::new(), 0, Vec::new());
    for ((path, patterns), verdict) in files.iter().zip(&plans).zip(&verdicts) {
        let loaded = match (Inventory::load(path), verdict.get("error")) {
            (Ok(inv), None) => inv,
            (Err(_), Some(_)) => {
                neither += 1;
                continue;
            }
            (Err(err), None) => {
                // Refused here, loaded by Ansible: the error must name the
                // file and say what is unsupported.
                if !err.message.starts_with(&path.display().to_string()) {
                    failures.push(format!(
                        "{}: unclear refusal {:?}",
                        path.display(),
                        err.message
                    ));
                }
                refused.push(err.message);
                continue;
            }
            (Ok(_), Some(theirs)) => {
                failures.push(format!(
                    "{}: loaded here, Ansible: {theirs}",
                    path.display()
                ));
                continue;
            }
        };
        if let Some(why) = verdict.get("vars_error") {
            // An ansible-vault file Ansible cannot open without its
            // password; remote-run skips it with a warning.
            assert!(why.as_str().unwrap().contains("vault"), "{why}");
            continue;
        }
        both += 1;
        let place = path.display();
        failures.extend(host_differences(&loaded, verdict).map(|d| format!("{place}: {d}")));
        for (pattern, theirs) in patterns.iter().zip(verdict["results"].as_array().unwrap()) {
            compared += 1;
            if let Comparison::Differs(d) = compare(&loaded, pattern, theirs) {
                failures.push(format!("{place}: {d}"));
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    assert!(
        both >= 25,
        "only {both} of Ansible's inventories loaded in both; {neither} in neither; refused: {refused:#?}"
    );
    eprintln!(
        "{} files: {both} load in both ({compared} patterns alike), {neither} in neither, {} refused here only: {refused:#?}",
        files.len(),
        refused.len()
    );
}

#[derive(Debug)]
enum Outcome {
    Hosts(BTreeSet<String>),
    Error(String),
}

/// Ansible's verdict on one pattern, as tests/ansible_oracle.py gives it.
fn theirs(result: &Value) -> Outcome {
    match result.get("hosts") {
        Some(hosts) => Outcome::Hosts(
            hosts
                .as_array()
                .unwrap()
                .iter()
                .map(|h| h.as_str().unwrap().to_string())
                .collect(),
        ),
        None => Outcome::Error(result["error"].as_str().unwrap().to_string()),
    }
}

/// How one pattern came out here against Ansible.
enum Comparison {
    Same,
    BothFail,
    /// Refused here, for one of [`DOCUMENTED_REFUSALS`].
    Refused(String),
    Differs(String),
}

fn compare(inv: &Inventory, pattern: &str, result: &Value) -> Comparison {
    match (ours(inv, pattern), theirs(result)) {
        (Outcome::Hosts(a), Outcome::Hosts(b)) if a == b => Comparison::Same,
        (Outcome::Error(_), Outcome::Error(_)) => Comparison::BothFail,
        (Outcome::Error(why), Outcome::Hosts(_))
            if DOCUMENTED_REFUSALS.iter().any(|r| why.contains(r)) =>
        {
            Comparison::Refused(format!("{pattern}: {why}"))
        }
        (mine, theirs) => Comparison::Differs(format!(
            "--limit {pattern:?}: ours {mine:?}, Ansible {theirs:?}"
        )),
    }
}

/// Each host whose address, port or user is not what Ansible makes of it.
fn host_differences<'a>(
    inv: &'a Inventory,
    verdict: &'a Value,
) -> impl Iterator<Item = String> + 'a {
    inv.servers.iter().filter_map(move |server| {
        let theirs = &verdict["hosts"][&server.name];
        let mine = json!({
            "address": server.address,
            "port": server.port.map(|p| p.to_string()),
            "user": server.user,
        });
        (*theirs != mine).then(|| format!("host {}: ours {mine} Ansible {theirs}", server.name))
    })
}

fn ours(inv: &Inventory, pattern: &str) -> Outcome {
    let selection = Selection {
        limit: Some(pattern),
        ..Selection::default()
    };
    match select(Some(inv), &selection) {
        Ok(hosts) => Outcome::Hosts(hosts.into_iter().map(|h| h.name).collect()),
        Err(err) if err.message == "the selection matches no host" => {
            Outcome::Hosts(BTreeSet::new())
        }
        Err(err) => Outcome::Error(err.message),
    }
}

#[test]
fn remote_run_selects_the_hosts_ansible_selects_or_refuses() {
    let python = oracle_python();
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng::new(0x005E_C095);
    let mut generated = Vec::new();
    let mut requests = Vec::new();
    for n in 0..INVENTORIES {
        let inv = generate(&mut rng, dir.path(), n);
        let patterns = patterns(&mut rng, &inv, dir.path(), n);
        requests.push(json!({"path": inv.path, "patterns": patterns}));
        generated.push((inv, patterns));
    }
    let verdicts = ask_ansible(&python, &requests);

    let (mut compared, mut agreed, mut refused) = (0, 0, Vec::new());
    let mut failures = Vec::new();
    let mut refused_inventories = 0;
    let mut both_refused = 0;
    for ((inv, patterns), verdict) in generated.iter().zip(&verdicts) {
        let text = std::fs::read_to_string(&inv.path).unwrap();
        let loaded = Inventory::load(&inv.path);
        let loaded = match (loaded, verdict.get("error")) {
            (Ok(loaded), None) => loaded,
            (Err(_), Some(_)) => continue,
            (Err(err), None) if err.message.contains("is both a host and a group") => {
                refused_inventories += 1;
                continue;
            }
            (ours, theirs) => {
                failures.push(format!(
                    "{}: load {:?} but Ansible {theirs:?}\n{text}",
                    inv.path.display(),
                    ours.map(|_| "ok").map_err(|e| e.message)
                ));
                continue;
            }
        };
        let place = inv.path.display();
        failures
            .extend(host_differences(&loaded, verdict).map(|d| format!("{place}: {d}\n{text}")));
        for (pattern, theirs) in patterns.iter().zip(verdict["results"].as_array().unwrap()) {
            compared += 1;
            match compare(&loaded, pattern, theirs) {
                Comparison::Same => agreed += 1,
                Comparison::BothFail => both_refused += 1,
                Comparison::Refused(why) => refused.push(why),
                Comparison::Differs(d) => failures.push(format!("{place}: {d}\n{text}")),
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} differences from Ansible, the first:\n{}",
        failures.len(),
        failures[..failures.len().min(3)].join("\n---\n")
    );
    assert!(
        refused_inventories * 4 <= INVENTORIES,
        "{refused_inventories} inventories refused"
    );
    assert!(compared >= 2_000, "only {compared} patterns compared");
    assert!(
        agreed * 2 >= compared,
        "only {agreed} of {compared} select hosts"
    );
    assert!(
        refused.len() * 20 <= compared,
        "{} of {compared} patterns refused: {refused:#?}",
        refused.len()
    );
    eprintln!(
        "{compared} patterns over {} inventories: {agreed} select what Ansible selects, {both_refused} fail in both, {} refused here only: {refused:#?}; {refused_inventories} inventories refused",
        INVENTORIES - refused_inventories,
        refused.len()
    );
}
