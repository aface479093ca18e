//! The Debian package as an operator meets it. `scripts/package` builds it
//! from the binaries `cargo test` built; lintian checks it; then it is
//! installed with `dpkg -i` on a copy-on-write view of this machine (an
//! overlay of `/` in a private mount namespace, so the host is untouched):
//! every tool's `--version` and a real command run from `/usr/bin`, the
//! units load in `systemd-analyze verify`, it upgrades over itself, and
//! remove then purge leave nothing the package owned.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use secops_pipeline_tests::{bin_dir, repo};
use secops_testkit::require;

/// The package, built once for the tests of this file (into
/// target/package-test, replaced on each run).
fn package() -> &'static Path {
    static DEB: OnceLock<PathBuf> = OnceLock::new();
    DEB.get_or_init(|| {
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
        PathBuf::from(String::from_utf8(done.stdout).unwrap().trim())
    })
}

/// The tools: every crate with a binary.
fn tools() -> Vec<String> {
    let mut tools: Vec<String> = std::fs::read_dir(repo("crates"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("src/main.rs").exists())
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    tools.sort();
    tools
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
        let name = file.unwrap().file_name().to_string_lossy().into_owned();
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

/// Runs `script` (sh) chrooted into an overlay of `/`, with the package at
/// /tmp/secops-tools.deb; returns its output, failing the test on error.
fn in_overlay(deb: &Path, script: &str) -> String {
    let work = tempfile::tempdir().unwrap();
    let w = work.path().display();
    let outer = format!(
        "set -e
mount -t tmpfs tmpfs {w}
mkdir {w}/upper {w}/work {w}/root
mount -t overlay overlay -o lowerdir=/,upperdir={w}/upper,workdir={w}/work {w}/root
mount --rbind /proc {w}/root/proc
mount --rbind /dev {w}/root/dev
mkdir -p {w}/root/tmp/pkg
cp '{deb}' {w}/root/tmp/pkg/secops-tools.deb
exec chroot {w}/root /bin/sh -c \"$SCRIPT\"",
        deb = deb.display()
    );
    let done = Command::new("unshare")
        .args([
            "--mount",
            "--propagation",
            "private",
            "/bin/sh",
            "-c",
            &outer,
        ])
        .env("SCRIPT", script)
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&done.stdout),
        String::from_utf8_lossy(&done.stderr)
    );
    assert!(done.status.success(), "in the overlay:\n{text}");
    text
}

#[test]
fn the_package_installs_runs_upgrades_and_purges_without_a_trace() {
    require("unshare", "util-linux");
    require("dpkg", "dpkg");
    let deb = package();
    let mut script = String::from(
        "set -e
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
dpkg -i /tmp/pkg/secops-tools.deb >/dev/null
",
    );
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
dpkg -i /tmp/pkg/secops-tools.deb >/dev/null
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
    let text = in_overlay(deb, &script);
    assert!(text.contains("purged"), "{text}");
}
