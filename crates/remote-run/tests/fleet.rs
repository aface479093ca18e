//! A fleet of several real sshd, each on its own loopback address, chosen
//! through Ansible INI and YAML inventories and `--limit`.

mod support;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use serde_json::Value;
use support::{Sshd, client_config, records, remote_run, results, run, stderr};

/// web1, web2 and db1 up; old1's sshd is stopped, so its port refuses.
struct Fleet {
    servers: Vec<Sshd>,
    dir: tempfile::TempDir,
    config: std::path::PathBuf,
}

const NAMES: [(&str, &str, &str); 4] = [
    ("web1", "web", "127.0.0.2"),
    ("web2", "web", "127.0.0.3"),
    ("db1", "db", "127.0.0.4"),
    ("old1", "retired", "127.0.0.5"),
];

impl Fleet {
    fn start() -> Fleet {
        let mut servers: Vec<Sshd> = NAMES
            .iter()
            .map(|(_, _, addr)| Sshd::builder().on(addr).start())
            .collect();
        servers[3].stop();
        let dir = tempfile::tempdir().unwrap();
        let config = client_config(dir.path(), &servers.iter().collect::<Vec<_>>());
        Fleet {
            servers,
            dir,
            config,
        }
    }

    fn host_vars(&self, i: usize) -> (String, u16, String) {
        let s = &self.servers[i];
        (s.addr.clone(), s.port, s.client_key.display().to_string())
    }

    fn ini(&self) -> std::path::PathBuf {
        let mut text = String::from("# the test fleet\n");
        for group in ["web", "db", "retired"] {
            text.push_str(&format!("[{group}]\n"));
            for (i, (name, g, _)) in NAMES.iter().enumerate() {
                if *g == group {
                    let (addr, port, key) = self.host_vars(i);
                    text.push_str(&format!(
                        "{name} ansible_host={addr} ansible_port={port} ansible_ssh_private_key_file={key}\n"
                    ));
                }
            }
        }
        text.push_str(
            "\n[prod:children]\nweb\ndb\nretired\n\n[all:vars]\nansible_user=root\nhttp_port=80\n",
        );
        let path = self.dir.path().join("hosts");
        fs::write(&path, text).unwrap();
        path
    }

    fn yaml(&self) -> std::path::PathBuf {
        let mut text = String::from(
            "all:\n  vars:\n    ansible_user: root\n  children:\n    prod:\n      children:\n",
        );
        for group in ["web", "db", "retired"] {
            text.push_str(&format!("        {group}:\n          hosts:\n"));
            for (i, (name, g, _)) in NAMES.iter().enumerate() {
                if *g == group {
                    let (addr, port, key) = self.host_vars(i);
                    text.push_str(&format!(
                        "            {name}:\n              ansible_host: {addr}\n              ansible_port: {port}\n              ansible_ssh_private_key_file: {key}\n"
                    ));
                }
            }
        }
        let path = self.dir.path().join("hosts.yml");
        fs::write(&path, text).unwrap();
        path
    }

    fn run(
        &self,
        inventory: &Path,
        args: &[&str],
    ) -> (Option<i32>, BTreeMap<String, Value>, String) {
        let out = run(remote_run()
            .arg("--ssh-config")
            .arg(&self.config)
            .arg("--inventory")
            .arg(inventory)
            .args(["--connect-timeout", "5s"])
            .args(args));
        (
            out.status.code(),
            results(&records(&out.stdout)),
            stderr(&out),
        )
    }
}

/// The server address ssh reached, from the remote `$SSH_CONNECTION`.
const SERVER_ADDR: [&str; 3] = ["sh", "-c", "set -- $SSH_CONNECTION; echo $3"];

#[test]
fn each_inventory_host_is_reached_at_its_own_address_and_a_down_one_is_unreachable() {
    let fleet = Fleet::start();
    for inventory in [fleet.ini(), fleet.yaml()] {
        let mut args = vec!["--"];
        args.extend(SERVER_ADDR);
        let (code, results, err) = fleet.run(&inventory, &args);
        assert_eq!(code, Some(3), "{}: {err}", inventory.display());
        assert_eq!(results.len(), 4, "{results:#?}");
        for (name, _, addr) in &NAMES[..3] {
            let rec = &results[*name];
            assert_eq!(rec["status"], "ok", "{rec}");
            assert_eq!(
                rec["stdout"],
                format!("{addr}\n"),
                "{name} reached the wrong server"
            );
        }
        let old = &results["old1"];
        assert_eq!(old["status"], "unreachable", "{old}");
        assert_eq!(old["severity"], "high");
        assert!(
            old["stderr"]
                .as_str()
                .unwrap()
                .contains("Connection refused"),
            "{old}"
        );
    }
}

#[test]
fn limit_patterns_pick_hosts_and_the_exit_status_follows_them() {
    let fleet = Fleet::start();
    let hosts = fleet.ini();
    // web2 fails, the others succeed: exit 1 without the down host.
    let fail_on_web2 = "case \"$SSH_CONNECTION\" in *' 127.0.0.3 '*) exit 4;; esac";
    let (code, results, err) = fleet.run(
        &hosts,
        &["--limit", "prod:!retired", "--", "sh", "-c", fail_on_web2],
    );
    assert_eq!(code, Some(1), "{err}");
    assert_eq!(results.keys().collect::<Vec<_>>(), ["db1", "web1", "web2"]);
    assert_eq!(results["web2"]["status"], "failed");
    assert_eq!(results["web2"]["exit_code"], 4);
    assert_eq!(results["web1"]["status"], "ok");

    let (code, results, err) = fleet.run(&hosts, &["--limit", "web:&prod:!web2", "--", "true"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(results.keys().collect::<Vec<_>>(), ["web1"]);

    let (code, results, err) = fleet.run(&hosts, &["--limit", "db*,web1", "--", "true"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(results.keys().collect::<Vec<_>>(), ["db1", "web1"]);

    let (code, results, _) = fleet.run(&hosts, &["--limit", "prod:!wbe", "--", "true"]);
    assert_eq!(code, Some(2));
    assert!(results.is_empty(), "nothing runs on a misspelt pattern");
}

#[test]
fn host_vars_and_group_vars_beside_the_inventory_say_how_to_connect() {
    let fleet = Fleet::start();
    let dir = fleet.dir.path().join("inventory");
    fs::create_dir_all(dir.join("group_vars")).unwrap();
    fs::create_dir_all(dir.join("host_vars/web2")).unwrap();
    let hosts = dir.join("hosts");
    fs::write(&hosts, "[web]\nweb1\nweb2\n[db]\ndb1\n[retired]\nold1\n").unwrap();
    fs::write(dir.join("group_vars/all.yml"), "ansible_user: root\n").unwrap();
    // The inline port is wrong for everyone: the host files override it.
    fs::write(
        dir.join("group_vars/web.yaml"),
        format!("ansible_port: {}\n", support::closed_port()),
    )
    .unwrap();
    for (i, (name, _, _)) in NAMES.iter().enumerate() {
        let (addr, port, key) = fleet.host_vars(i);
        let vars = format!(
            "ansible_host: {addr}\nansible_port: {port}\nansible_ssh_private_key_file: {key}\n"
        );
        let file = match *name {
            "web2" => dir.join("host_vars/web2/connection.yml"),
            _ => dir.join(format!("host_vars/{name}.yml")),
        };
        fs::write(file, vars).unwrap();
    }
    let mut args = vec!["--"];
    args.extend(SERVER_ADDR);
    let (code, results, err) = fleet.run(&hosts, &args);
    assert_eq!(code, Some(3), "{err}");
    for (name, _, addr) in &NAMES[..3] {
        let rec = &results[*name];
        assert_eq!(rec["status"], "ok", "{rec}");
        assert_eq!(rec["stdout"], format!("{addr}\n"));
    }
    assert_eq!(results["old1"]["status"], "unreachable");
}
