//! Hostile or careless inventories are refused quickly, with an error
//! naming the file, the line and the field, before they cost minutes of
//! CPU or gigabytes of memory; the largest allowed ones read in moments.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use secops_inventory::Inventory;

/// `secops_inventory::MAX_HOSTS`, written out so that this file also
/// builds against the code before the limit (to see these tests fail).
const MAX_HOSTS: usize = 100_000;

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
    let path = dir.path().join(name);
    fs::write(&path, text).unwrap();
    path
}

/// Loads `path`, failing the test if that takes longer than `limit`.
fn load_within(path: &Path, limit: Duration) -> Result<Inventory, String> {
    let started = Instant::now();
    let loaded = Inventory::load(path).map_err(|err| err.message);
    let took = started.elapsed();
    assert!(took < limit, "loading {} took {took:?}", path.display());
    loaded
}

#[test]
fn a_hundred_thousand_hosts_on_one_line_read_in_moments() {
    // The duplicate check compared each name with every earlier one
    // (5 * 10^9 comparisons: minutes), and so did adding each host.
    let dir = tempfile::tempdir().unwrap();
    let ini = write(&dir, "hosts.ini", "[web]\nh[0:99999] ansible_user=ops\n");
    let inv = load_within(&ini, Duration::from_secs(10)).unwrap();
    assert_eq!(inv.servers.len(), MAX_HOSTS);
    assert_eq!(inv.servers[99_999].name, "h99999");
    assert_eq!(inv.servers[7].groups, ["all", "web"]);
    let yaml = write(&dir, "hosts.yml", "all:\n  hosts:\n    h[0:99999]:\n");
    let inv = load_within(&yaml, Duration::from_secs(10)).unwrap();
    assert_eq!(inv.servers.len(), MAX_HOSTS);
}

#[test]
fn a_product_of_small_ranges_is_refused_at_its_line() {
    // Sixteen ranges of ten: 10^16 names, built until memory ran out.
    let dir = tempfile::tempdir().unwrap();
    let bomb = "h".to_string() + &"[0:9]".repeat(16);
    let ini = write(&dir, "hosts.ini", &format!("[web]\nw1\n{bomb}\n"));
    let err = load_within(&ini, Duration::from_secs(2)).unwrap_err();
    assert!(
        err.starts_with(&format!("{}:3: host pattern", ini.display()))
            && err.contains("more than 100000 hosts"),
        "{err}"
    );
    let yaml = write(
        &dir,
        "hosts.yml",
        &format!("all:\n  children:\n    web:\n      hosts:\n        {bomb}:\n"),
    );
    let err = load_within(&yaml, Duration::from_secs(2)).unwrap_err();
    assert!(
        err.starts_with(&format!("{}:5:", yaml.display()))
            && err.contains("all.children.web.hosts")
            && err.contains("more than 100000 hosts"),
        "{err}"
    );
}

#[test]
fn the_whole_inventory_is_bounded_too() {
    let dir = tempfile::tempdir().unwrap();
    // Two ranges allowed one by one, too many together.
    let ini = write(&dir, "hosts.ini", "[a]\na[0:99999]\n[b]\nb[0:9]\n");
    let err = load_within(&ini, Duration::from_secs(10)).unwrap_err();
    assert!(
        err.starts_with(&format!("{}:4: host \"b0\"", ini.display()))
            && err.contains("more than 100000 hosts"),
        "{err}"
    );
    let yaml = write(
        &dir,
        "hosts.yml",
        "all:\n  hosts:\n    a[0:99999]:\n  children:\n    b:\n      hosts:\n        b[0:9]:\n",
    );
    let err = load_within(&yaml, Duration::from_secs(10)).unwrap_err();
    assert!(
        err.starts_with(&format!("{}:7:", yaml.display()))
            && err.contains("more than 100000 hosts"),
        "{err}"
    );
    // The same large range on many lines: counted before it is built.
    let lines: String = (0..20).map(|g| format!("[g{g}]\nh[0:99999]\n")).collect();
    let ini = write(&dir, "repeat.ini", &lines);
    let err = load_within(&ini, Duration::from_secs(20)).unwrap_err();
    assert!(
        err.starts_with(&format!("{}:22: host", ini.display()))
            && err.contains("more than 1000000 host names"),
        "{err}"
    );
    // servers.json: the server past the limit, at its line.
    let mut json = String::from("{\"servers\": [\n");
    for i in 0..=MAX_HOSTS {
        json.push_str(&format!("{{\"name\": \"s{i}\"}},\n"));
    }
    json.push_str("{\"name\": \"last\"}]}\n");
    let servers = write(&dir, "servers.json", &json);
    let err = load_within(&servers, Duration::from_secs(10)).unwrap_err();
    assert!(
        err.starts_with(&format!("{}:100003:", servers.display()))
            && err.contains("servers")
            && err.contains("more than 100000 servers"),
        "{err}"
    );
}

#[test]
fn deep_nesting_reads_in_moments_and_groups_are_bounded() {
    // A ladder of diamonds (every group a child of both groups of the
    // level above) and a chain 5,000 deep: depths are worked out in
    // topological order, without recursion.
    let dir = tempfile::tempdir().unwrap();
    let mut ini = String::from("[l0a]\nh0\n[l0b]\n");
    let levels = 60;
    for level in 1..levels {
        for side in ["a", "b"] {
            ini.push_str(&format!("[l{level}{side}]\nh{level}{side}\n"));
        }
        for parent in ["a", "b"] {
            ini.push_str(&format!(
                "[l{}{parent}:children]\nl{level}a\nl{level}b\n",
                level - 1
            ));
        }
    }
    let chain = 5_000;
    ini.push_str("[c0]\n");
    for i in 1..chain {
        ini.push_str(&format!("[c{}:children]\nc{i}\n[c{i}]\n", i - 1));
    }
    ini.push_str(&format!("[c{}]\ndeep\n", chain - 1));
    let path = write(&dir, "nested.ini", &ini);
    let inv = load_within(&path, Duration::from_secs(10)).unwrap();
    let deep = inv.servers.iter().find(|s| s.name == "deep").unwrap();
    assert_eq!(deep.groups.len(), chain + 1);
    let bottom = inv.servers.iter().find(|s| s.name == "h59a").unwrap();
    assert_eq!(bottom.groups.len(), 1 + 2 * levels - 1);
    // More groups than allowed.
    let many: String = (0..=10_000).map(|g| format!("[g{g}]\n")).collect();
    let path = write(&dir, "many.ini", &many);
    let err = load_within(&path, Duration::from_secs(10)).unwrap_err();
    assert!(
        err.starts_with(&format!("{}:9999: group \"g9998\"", path.display()))
            && err.contains("more than 10000 groups"),
        "{err}"
    );
}

#[test]
fn memberships_multiplied_by_nesting_are_bounded() {
    // 100,000 hosts under a chain of 30 groups: 3 million memberships.
    let dir = tempfile::tempdir().unwrap();
    let mut ini = String::from("[c0]\n");
    for i in 1..30 {
        ini.push_str(&format!("[c{}:children]\nc{i}\n[c{i}]\n", i - 1));
    }
    ini.push_str("h[0:99999]\n");
    let path = write(&dir, "members.ini", &ini);
    let err = load_within(&path, Duration::from_secs(20)).unwrap_err();
    assert!(
        err.contains("more than 2000000") && err.starts_with(&format!("{}:", path.display())),
        "{err}"
    );
}
