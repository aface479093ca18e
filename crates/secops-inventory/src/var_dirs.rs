//! Ansible's `group_vars/` and `host_vars/` directories beside an
//! inventory file, found the way Ansible's `host_group_vars` plugin finds
//! them: for a group or host NAME, the first of `NAME`, `NAME.yml`,
//! `NAME.yaml` and `NAME.json` that exists; when that is a directory, every
//! file in it (recursively, sorted, skipping hidden files, `~` backups and
//! other extensions), later files overriding earlier ones.
//!
//! Their connection vars override the inventory file's: all group files
//! over all inline group vars, then inline host vars, then host files
//! (Ansible's variable precedence, levels 3 to 9). Files encrypted with
//! ansible-vault cannot be read here and are skipped with a warning; a file
//! naming no group or host of this inventory is warned about, since
//! Ansible itself ignores it silently and a typo would otherwise go unseen.

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

use secops_common::config::{INVENTORY, Syntax, parse_within};

use crate::ansible::{Conn, Tree};
use crate::yaml::Vars;

const EXTENSIONS: [&str; 3] = ["yml", "yaml", "json"];

/// Loads both directories beside `inventory` into `tree`; errors read
/// `FILE:LINE:COL: FIELD: problem`.
pub fn load(tree: &mut Tree, inventory: &Path) -> Result<(), String> {
    let dir = inventory.parent().unwrap_or(Path::new(""));
    let (groups, hosts) = (dir.join("group_vars"), dir.join("host_vars"));
    // One listing per directory, rather than four lookups per host: an
    // inventory of 100,000 hosts would otherwise make 800,000 syscalls.
    let (in_groups, in_hosts) = (entries(&groups), entries(&hosts));
    for (g, name) in tree.group_names().into_iter().enumerate() {
        if mentions(&in_groups, &name) {
            let conn = read_all(&groups, &name)?;
            tree.group_file_vars(g).overlay(&conn);
        }
    }
    for (h, name) in tree.host_names().into_iter().enumerate() {
        if mentions(&in_hosts, &name) {
            let conn = read_all(&hosts, &name)?;
            tree.host_file_vars(h).overlay(&conn);
        }
    }
    warn_unused(&groups, &tree.group_names(), "group");
    warn_unused(&hosts, &tree.host_names(), "host");
    Ok(())
}

/// The names in `dir` (none when it does not exist).
fn entries(dir: &Path) -> HashSet<String> {
    fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Whether `present` holds `name` or `name.EXT`, i.e. whether
/// [`files_for`] can find anything for it.
fn mentions(present: &HashSet<String>, name: &str) -> bool {
    present.contains(name)
        || EXTENSIONS
            .iter()
            .any(|ext| present.contains(&format!("{name}.{ext}")))
}

/// The vars every file for `name` under `dir` gives, merged in order.
fn read_all(dir: &Path, name: &str) -> Result<Conn, String> {
    let mut conn = Conn::default();
    // A name that is not one path component never names a file.
    if name.is_empty() || name.starts_with('.') || name.contains('/') {
        return Ok(conn);
    }
    for file in files_for(dir, name) {
        conn.overlay(&read(&file)?);
    }
    Ok(conn)
}

/// The files Ansible reads for `name`, in the order it reads them.
fn files_for(dir: &Path, name: &str) -> Vec<PathBuf> {
    let base = dir.join(name);
    let candidates = std::iter::once(base.clone()).chain(
        EXTENSIONS
            .iter()
            .map(|ext| dir.join(format!("{name}.{ext}"))),
    );
    for path in candidates {
        if path.is_dir() {
            let mut found = Vec::new();
            dir_files(&path, &mut found);
            return found;
        }
        if path.is_file() {
            return vec![path];
        }
    }
    Vec::new()
}

fn dir_files(dir: &Path, found: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let mut names: Vec<_> = entries.flatten().map(|e| e.file_name()).collect();
    names.sort();
    for name in names {
        let text = name.to_string_lossy();
        if text.starts_with('.') || text.ends_with('~') {
            continue;
        }
        let path = dir.join(&name);
        let ext = path.extension().map(|e| e.to_string_lossy().into_owned());
        match ext {
            None if path.is_dir() => dir_files(&path, found),
            None if path.is_file() => found.push(path),
            Some(ext) if EXTENSIONS.contains(&ext.as_str()) && path.is_file() => found.push(path),
            _ => {}
        }
    }
}

/// One vars file's connection vars.
fn read(path: &Path) -> Result<Conn, String> {
    let text = crate::read_text(path)?;
    if text.starts_with("$ANSIBLE_VAULT") {
        secops_common::warn!(
            "{}: encrypted with ansible-vault, skipped (connection vars in it are not used)",
            path.display()
        );
        return Ok(Conn::default());
    }
    let syntax = match path.extension().and_then(|e| e.to_str()) {
        Some("json") => Syntax::Json,
        _ => Syntax::Yaml,
    };
    let vars: Option<Vars> = parse_within(&text, syntax, &INVENTORY)
        .map_err(|err| format!("{}:{err}", path.display()))?;
    Ok(vars.map(|v| v.0).unwrap_or_default())
}

/// Warns about entries of `dir` that name nothing in the inventory.
fn warn_unused(dir: &Path, names: &[String], what: &str) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let names: HashSet<&str> = names.iter().map(String::as_str).collect();
    for entry in entries.flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        if file.starts_with('.') || file.ends_with('~') {
            continue;
        }
        let stem = EXTENSIONS
            .iter()
            .find_map(|ext| file.strip_suffix(&format!(".{ext}")))
            .unwrap_or(&file);
        if !names.contains(stem) {
            secops_common::warn!(
                "{}: no {what} {stem:?} in the inventory, so its vars are not used",
                entry.path().display()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, rel: &str, text: &str) {
        let path = root.join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }

    fn resolve(root: &Path, ini: &str) -> Result<Vec<crate::Server>, String> {
        let inventory = root.join("hosts");
        let mut tree = crate::ini::parse(ini)?;
        load(&mut tree, &inventory)?;
        tree.resolve().map(|(servers, _)| servers)
    }

    #[test]
    fn files_override_the_inventory_in_ansible_order() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        write(
            root,
            "group_vars/all.yml",
            "ansible_user: root\nntp: pool\n",
        );
        write(root, "group_vars/web/10-conn.yaml", "ansible_port: 2200\n");
        write(root, "group_vars/web/20-more.yml", "ansible_port: 2201\n");
        write(root, "group_vars/web/notes.txt", "ansible_port: nonsense\n");
        write(root, "group_vars/web/.hidden.yml", "ansible_port: 1\n");
        write(root, "group_vars/web/old.yml~", "ansible_port: 1\n");
        write(
            root,
            "host_vars/web1.json",
            r#"{"ansible_host": "10.0.0.1"}"#,
        );
        write(
            root,
            "host_vars/web2",
            "ansible_ssh_private_key_file: /keys/web2\n",
        );
        write(
            root,
            "host_vars/web2.yml",
            "ansible_user: shadowed-by-the-extensionless-file\n",
        );
        let servers = resolve(
            root,
            "[web]\nweb1 ansible_port=22 ansible_host=inline\nweb2\n[web:vars]\nansible_user=ops\n",
        )
        .unwrap();
        let s = |name: &str| servers.iter().find(|s| s.name == name).unwrap();
        // group_vars/all beats the inline [web:vars]; host vars beat both.
        assert_eq!(s("web2").user.as_deref(), Some("root"));
        assert_eq!(s("web2").port.unwrap().get(), 2201);
        assert_eq!(
            s("web1").port.unwrap().get(),
            22,
            "inline host var wins over group files"
        );
        assert_eq!(
            s("web1").address.as_deref(),
            Some("10.0.0.1"),
            "host file wins over inline"
        );
        assert_eq!(
            s("web2").identity_file.as_deref(),
            Some(Path::new("/keys/web2"))
        );
    }

    #[test]
    fn errors_name_the_vars_file_line_and_field() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        write(root, "group_vars/web.yml", "# conn\nansible_port: 70000\n");
        let err = resolve(root, "[web]\nweb1\n").unwrap_err();
        let file = root.join("group_vars/web.yml").display().to_string();
        assert!(
            err.starts_with(&format!("{file}:2:"))
                && err.contains("ansible_port")
                && err.contains("invalid port"),
            "{err}"
        );
        write(root, "group_vars/web.yml", "ansible_password: hunter2\n");
        let err = resolve(root, "[web]\nweb1\n").unwrap_err();
        assert!(
            err.starts_with(&format!("{file}:1:")) && err.contains("key or agent"),
            "{err}"
        );
        fs::remove_file(root.join("group_vars/web.yml")).unwrap();
        write(
            root,
            "host_vars/web1/a.yml",
            "ansible_host: \"{{ inventory_hostname }}.lan\"\n",
        );
        let err = resolve(root, "[web]\nweb1\n").unwrap_err();
        assert!(
            err.contains("a.yml:1:") && err.contains("templates"),
            "{err}"
        );
    }

    #[test]
    fn vault_files_are_skipped() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        write(
            root,
            "group_vars/all/vault.yml",
            "$ANSIBLE_VAULT;1.1;AES256\n6162\n",
        );
        write(root, "group_vars/all/main.yml", "ansible_user: ops\n");
        let servers = resolve(root, "web1\n").unwrap();
        assert_eq!(servers[0].user.as_deref(), Some("ops"));
    }
}
