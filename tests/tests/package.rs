//! The Debian package and the tarball as an operator meets them.
//! `scripts/package` builds both from the binaries `cargo test` built;
//! lintian checks the package. Then each is installed on a copy-on-write
//! view of this machine (an overlay of `/` in a private mount namespace,
//! chrooted, so the host is untouched): the package's whole life (every
//! tool's `--version` and a real command from `/usr/bin`, an upgrade over
//! itself that keeps an edited conffile, remove and purge leaving nothing
//! it owned), the install recipes of docs/install.md as written, and its
//! fleet recipe through remote-run against two loopback sshds, each of
//! which runs its sessions in an overlay of its own: two fresh servers.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use secops_pipeline_tests::{bin_dir, repo, tools};
use secops_testkit::{Sshd, Tmpfs, client_config, require};

/// What `scripts/package` made.
struct Artefacts {
    deb: PathBuf,
    tarball: PathBuf,
}

/// The package and tarball, built once for the tests of this file (into
/// target/debug/package-test, replaced on each run).
fn artefacts() -> &'static Artefacts {
    static BUILT: OnceLock<Artefacts> = OnceLock::new();
    BUILT.get_or_init(|| {
        let out = bin_dir().join("package-test");
        let _ = std::fs::remove_dir_all(&out);
        let done = Command::new(repo("scripts/package"))
            .arg(bin_dir())
            .arg(&out)
            .env("PACKAGE_COMPRESSION", "gzip")
            .output()
            .unwrap();
        assert!(
            done.status.success(),
            "scripts/package failed: {}",
            String::from_utf8_lossy(&done.stderr)
        );
        let text = String::from_utf8(done.stdout).unwrap();
        let mut paths = text.lines().map(PathBuf::from);
        Artefacts {
            deb: paths.next().expect("the package's path"),
            tarball: paths.next().expect("the tarball's path"),
        }
    })
}

fn package() -> &'static Path {
    &artefacts().deb
}

/// A machine of its own: a script that runs a command (`CMD`, or ssh's
/// `SSH_ORIGINAL_COMMAND` when it is an sshd's ForceCommand) chrooted into
/// an overlay of `/` whose changes go to `dir` (a tmpfs the test owns), in
/// a private mount namespace. What one session installs, the next sees;
/// the machine running the test never does.
fn machine(dir: &Path) -> PathBuf {
    let script = dir.join("enter");
    std::fs::write(
        &script,
        format!(
            r#"#!/bin/sh
export CMD="${{CMD:-$SSH_ORIGINAL_COMMAND}}"
exec unshare --mount --propagation private /bin/sh -c '
set -e
mkdir -p "$0/upper" "$0/work" "$0/root"
mount -t overlay overlay -o "lowerdir=/,upperdir=$0/upper,workdir=$0/work" "$0/root"
mount --rbind /proc "$0/root/proc"
mount --rbind /dev "$0/root/dev"
export PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
exec chroot "$0/root" /bin/sh -c "cd ${{START:-/}} && $CMD"
' '{}'
"#,
            dir.display()
        ),
    )
    .unwrap();
    script
}

/// Runs `script` (sh) on a fresh machine with the package and tarball in
/// its /tmp/pkg (the working directory) and a `sudo` that runs its
/// arguments (it is root already); returns the output, failing on error.
fn on_a_fresh_machine(script: &str) -> String {
    let disk = Tmpfs::new(1 << 30);
    let pkg = disk.path().join("upper/tmp/pkg");
    std::fs::create_dir_all(&pkg).unwrap();
    for file in [&artefacts().deb, &artefacts().tarball] {
        std::fs::copy(file, pkg.join(file.file_name().unwrap())).unwrap();
    }
    let local_bin = disk.path().join("upper/usr/local/bin");
    std::fs::create_dir_all(&local_bin).unwrap();
    std::fs::write(local_bin.join("sudo"), "#!/bin/sh\nexec \"$@\"\n").unwrap();
    Command::new("chmod")
        .arg("755")
        .arg(local_bin.join("sudo"))
        .status()
        .unwrap();
    let done = Command::new("/bin/sh")
        .arg(machine(disk.path()))
        .env("CMD", format!("set -e\n{script}"))
        .env("START", "/tmp/pkg")
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&done.stdout),
        String::from_utf8_lossy(&done.stderr)
    );
    assert!(done.status.success(), "on the fresh machine:\n{text}");
    text
}

/// The command lines of the first indented block under `heading` in
/// docs/install.md.
fn recipe(heading: &str) -> Vec<String> {
    let text = std::fs::read_to_string(repo("docs/install.md")).unwrap();
    let start = text
        .find(&format!("\n## {heading}\n"))
        .unwrap_or_else(|| panic!("docs/install.md has no section {heading}"));
    text[start..]
        .lines()
        .skip_while(|l| !l.starts_with("    "))
        .take_while(|l| l.starts_with("    "))
        .map(|l| l.trim().to_string())
        .collect()
}

#[test]
fn the_package_is_lintian_clean_and_holds_every_tool_with_its_pages() {
    require("lintian", "lintian");
    let deb = package();
    let lint = Command::new("lintian")
        .args(["--fail-on", "warning", "--no-tag-display-limit"])
        .arg(deb)
        .output()
        .unwrap();
    assert!(
        lint.status.success(),
        "lintian:\n{}{}",
        String::from_utf8_lossy(&lint.stdout),
        String::from_utf8_lossy(&lint.stderr)
    );
    let listing = Command::new("dpkg-deb")
        .arg("-c")
        .arg(deb)
        .output()
        .unwrap();
    let listing = String::from_utf8(listing.stdout).unwrap();
    for tool in tools() {
        for path in [
            format!("./usr/bin/{tool}"),
            format!("./usr/share/man/man1/{tool}.1.gz"),
            format!("./usr/share/bash-completion/completions/{tool}"),
            format!("./usr/share/zsh/vendor-completions/_{tool}"),
            format!("./usr/share/fish/vendor_completions.d/{tool}.fish"),
        ] {
            assert!(listing.contains(&path), "{path} missing:\n{listing}");
        }
    }
    for unit in std::fs::read_dir(repo("cron")).unwrap() {
        let name = unit.unwrap().file_name().to_string_lossy().into_owned();
        if name.ends_with(".service") || name.ends_with(".timer") {
            assert!(
                listing.contains(&format!("./lib/systemd/system/{name}")),
                "{name} missing"
            );
        }
    }
    // dpkg keeps an operator's edits of these across upgrades.
    let conffiles = Command::new("dpkg-deb")
        .arg("--info")
        .arg(deb)
        .arg("conffiles")
        .output()
        .unwrap();
    let conffiles = String::from_utf8(conffiles.stdout).unwrap();
    for file in std::fs::read_dir(repo("config")).unwrap() {
        let file = file.unwrap();
        let name = file.file_name().to_string_lossy().into_owned();
        if file.file_type().unwrap().is_dir() {
            // config/rsyslog: examples for rsyslog's directory, in the docs.
            assert!(
                listing.contains(&format!("./usr/share/doc/secops-tools/examples/{name}/")),
                "{name} examples missing"
            );
            continue;
        }
        assert!(
            conffiles.contains(&format!("/etc/secops/{name}\n")),
            "{name} is not a conffile:\n{conffiles}"
        );
    }
    assert!(
        conffiles.contains("/etc/logrotate.d/secops\n"),
        "{conffiles}"
    );
}

#[test]
fn the_package_installs_runs_upgrades_and_purges_without_a_trace() {
    require("unshare", "util-linux");
    require("dpkg", "dpkg");
    let deb = package()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let mut script = format!("dpkg -i {deb} >/dev/null\n");
    for tool in tools() {
        script.push_str(&format!(
            "/usr/bin/{tool} --version | grep -q '^{tool} '\nman -w {tool} >/dev/null 2>&1 || test -f /usr/share/man/man1/{tool}.1.gz\n"
        ));
    }
    script.push_str(
        "
# A real command from the installed paths and the shipped configuration.
/usr/bin/disk-alert --mount / --format jsonl --no-state | grep -q '\"kind\":\"disk.usage\"'
/usr/bin/secops check --settings /etc/secops/settings.yaml >/dev/null 2>&1 || {
  echo 'secops check of the shipped settings failed:'; /usr/bin/secops check --settings /etc/secops/settings.yaml; exit 1; }
test -f /lib/systemd/system/secops.service
! grep -l /usr/local/bin /lib/systemd/system/secops*.service /lib/systemd/system/secops*.timer
# Not enabled: the operator chooses.
test ! -e /etc/systemd/system/multi-user.target.wants/secops.service
# An operator's edit of a conffile survives an upgrade over itself.
echo '# mine' >> /etc/secops/ports.json
dpkg -i ./*.deb >/dev/null
grep -q '# mine' /etc/secops/ports.json
dpkg -L secops-tools > /tmp/pkg/owned
dpkg -r secops-tools >/dev/null
test ! -e /usr/bin/secops
dpkg --purge secops-tools >/dev/null
test ! -e /etc/secops
# Nothing the package owned is left (directories others share may stay).
while read -r path; do
  if [ -e \"$path\" ] && [ ! -d \"$path\" ]; then echo \"left behind: $path\"; exit 1; fi
done < /tmp/pkg/owned
echo purged
",
    );
    let text = on_a_fresh_machine(&script);
    assert!(text.contains("purged"), "{text}");
}

/// The version line every tool prints, e.g. `secops 0.1.0`.
fn version_line() -> String {
    let out = Command::new(bin_dir().join("secops"))
        .arg("--version")
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[test]
fn the_install_recipes_run_as_written() {
    for heading in [
        "Debian and Ubuntu",
        "RHEL, Alma, Rocky, Amazon Linux and others",
    ] {
        let lines = recipe(heading);
        assert_eq!(lines.len(), 3, "three commands: {lines:?}");
        let text = on_a_fresh_machine(&lines.join("\n"));
        assert!(
            text.contains(&version_line()),
            "{heading}: the installed tool answers: {text}"
        );
    }
}

#[test]
fn the_fleet_recipe_installs_and_checks_every_host() {
    let disks = [Tmpfs::new(1 << 30), Tmpfs::new(1 << 30)];
    let hosts: Vec<Sshd> = disks
        .iter()
        .zip(["127.0.0.2", "127.0.0.3"])
        .map(|(disk, addr)| {
            let enter = machine(disk.path());
            Sshd::builder()
                .on(addr)
                .config(&format!("ForceCommand /bin/sh {}\n", enter.display()))
                .start()
        })
        .collect();
    let work = tempfile::tempdir().unwrap();
    let config = client_config(work.path(), &hosts.iter().collect::<Vec<_>>());
    let servers: Vec<String> = hosts
        .iter()
        .enumerate()
        .map(|(n, s)| {
            format!(
                "{{\"name\":\"web{n}\",\"address\":\"{}\",\"port\":{},\"user\":\"root\",\"identity_file\":\"{}\"}}",
                s.addr,
                s.port,
                s.client_key.display()
            )
        })
        .collect();
    let inventory = work.path().join("servers.json");
    std::fs::write(
        &inventory,
        format!("{{\"servers\":[{}]}}\n", servers.join(",")),
    )
    .unwrap();
    let deb = package();
    std::fs::copy(deb, work.path().join(deb.file_name().unwrap())).unwrap();
    let lines = recipe("A fleet");
    assert_eq!(lines.len(), 1, "one command line: {lines:?}");
    let line = lines[0].replace(
        "remote-run -i hosts.ini",
        &format!(
            "remote-run -F {} -i {}",
            config.display(),
            inventory.display()
        ),
    );
    let path = format!("{}:{}", bin_dir().display(), std::env::var("PATH").unwrap());
    let done = Command::new("/bin/sh")
        .args(["-c", &line])
        .current_dir(work.path())
        .env("PATH", path)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&done.stdout).into_owned();
    assert!(
        done.status.success(),
        "{line}\n{text}{}",
        String::from_utf8_lossy(&done.stderr)
    );
    for host in ["web0", "web1"] {
        let row = format!("{host}  ok      {}", version_line());
        assert!(
            text.lines().any(|l| l.trim_end() == row),
            "{row:?} in the table: {text}"
        );
    }
    // Installed there, not here.
    assert!(!Path::new("/usr/bin/secops").exists());
}
