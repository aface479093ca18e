//! scripts/install as a packager runs it (the binaries `cargo test` built,
//! into a DESTDIR): every tool gets its binary, a man page that man renders
//! without a warning and that names every option `--help` lists (and one
//! page per subcommand), and completions bash accepts and registers. And
//! every script in scripts/ answers `--help` and `-h` with its header and
//! does nothing else.

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use secops_pipeline_tests::{bin_dir, repo, tools};
use secops_testkit::{require, stderr};

/// A command's `--help`, as the operator reads it.
fn help(tool: &str, sub: Option<&str>) -> String {
    let mut cmd = Command::new(bin_dir().join(tool));
    cmd.args(sub).arg("--help");
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{tool} {sub:?} --help: {}",
        stderr(&out)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The subcommands `--help` lists under `Commands:` (not `help`).
fn subcommands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| *l != "Commands:")
        .skip(1)
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.strip_prefix("  "))
        .filter(|l| !l.starts_with(' '))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(String::from)
        .collect()
}

/// The long options `--help` lists: lines `  -x, --name ...` and
/// `      --name ...`.
fn long_options(help: &str) -> Vec<String> {
    help.lines()
        .filter_map(|l| {
            let rest = l.strip_prefix("  ")?;
            let rest = match rest.strip_prefix("    ") {
                Some(no_short) => no_short,
                None => rest.strip_prefix('-')?.get(1..)?.strip_prefix(", ")?,
            };
            let name = rest.strip_prefix("--")?;
            let end = name
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
                .unwrap_or(name.len());
            Some(format!("--{}", &name[..end]))
        })
        .collect()
}

/// The page as man shows it (ASCII, wide enough that option tags are
/// never hyphenated), failing on any warning of groff's.
fn render(page: &Path) -> String {
    require("man", "man-db");
    let out = Command::new("man")
        .args(["--warnings", "-l"])
        .arg(page)
        .env("LC_ALL", "C")
        .env("MANWIDTH", "250")
        .env("MANPAGER", "cat")
        .env_remove("MAN_KEEP_FORMATTING")
        .output()
        .unwrap();
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "man -l {}: {}",
        page.display(),
        stderr(&out)
    );
    // Overstruck bold and underline, should any reach here: X\bX, _\bX.
    let mut text = String::new();
    for c in String::from_utf8(out.stdout).unwrap().chars() {
        if c == '\u{8}' {
            text.pop();
        } else {
            text.push(c);
        }
    }
    text
}

/// Whether the page describes `option`: a line of its own that starts
/// with it (`--mount <PATH>`, `-m, --mount <PATH>`), as the options
/// sections show each; the synopsis alone does not count.
fn describes_option(text: &str, option: &str) -> bool {
    text.lines().any(|line| {
        let line = line.trim_start();
        let line = match line.as_bytes() {
            [b'-', c, b',', b' ', ..] if *c != b'-' => &line[4..],
            _ => line,
        };
        line.strip_prefix(option)
            .is_some_and(|rest| !rest.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '-'))
    })
}

fn files_under(dir: &Path) -> BTreeSet<String> {
    let mut files = BTreeSet::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(at) = pending.pop() {
        for entry in std::fs::read_dir(&at).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let rel = path.strip_prefix(dir).unwrap();
                files.insert(rel.to_string_lossy().into_owned());
            }
        }
    }
    files
}

fn install_into(dest: &Path) -> Output {
    Command::new(repo("scripts/install"))
        .env("BIN_DIR", bin_dir())
        .env("DESTDIR", dest)
        .env("PREFIX", "/usr")
        .output()
        .unwrap()
}

#[test]
fn install_gives_every_tool_its_man_pages_and_completions() {
    let dest = tempfile::tempdir().unwrap();
    let out = install_into(dest.path());
    assert!(out.status.success(), "scripts/install: {}", stderr(&out));
    let usr = dest.path().join("usr");
    let share = usr.join("share");
    let man1 = share.join("man/man1");
    let mut pages_expected = BTreeSet::new();
    for tool in tools() {
        let exe = usr.join("bin").join(&tool);
        let mode = std::fs::metadata(&exe).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, 0o755, "{}", exe.display());
        let version = Command::new(&exe).arg("--version").output().unwrap();
        assert!(version.status.success(), "{tool} --version");

        // The tool's page, and one per subcommand; each names every
        // option its --help lists.
        let top = help(&tool, None);
        let mut pages = vec![(tool.clone(), top.clone())];
        for sub in subcommands(&top) {
            pages.push((format!("{tool}-{sub}"), help(&tool, Some(&sub))));
        }
        for (name, help) in pages {
            let page = man1.join(format!("{name}.1"));
            assert!(page.is_file(), "no man page {}", page.display());
            let text = render(&page);
            assert!(
                text.contains("NAME") && text.contains(&name),
                "{name}.1 renders as:\n{text}"
            );
            let options = long_options(&help);
            assert!(
                options.contains(&"--help".to_string()),
                "{name}: {options:?}"
            );
            for option in options {
                assert!(
                    describes_option(&text, &option),
                    "{name}.1 does not describe {option}:\n{text}"
                );
            }
            pages_expected.insert(format!("{name}.1"));
        }

        // bash accepts the completion and, once it is sourced, completes
        // the tool.
        let bash = share.join("bash-completion/completions").join(&tool);
        let syntax = Command::new("bash").arg("-n").arg(&bash).output().unwrap();
        assert!(
            syntax.status.success(),
            "bash -n {}: {}",
            bash.display(),
            stderr(&syntax)
        );
        let registered = Command::new("bash")
            .arg("-c")
            .arg(r#"source "$1" && complete -p "$2""#)
            .arg("bash")
            .arg(&bash)
            .arg(&tool)
            .output()
            .unwrap();
        let line = String::from_utf8_lossy(&registered.stdout);
        assert!(
            registered.status.success() && line.trim_end().ends_with(&format!(" {tool}")),
            "complete -p {tool}: {line} {}",
            stderr(&registered)
        );
        let zsh =
            std::fs::read_to_string(share.join("zsh/site-functions").join(format!("_{tool}")));
        assert!(
            zsh.unwrap().starts_with(&format!("#compdef {tool}\n")),
            "{tool}: zsh"
        );
        let fish = share
            .join("fish/vendor_completions.d")
            .join(format!("{tool}.fish"));
        let fish = std::fs::read_to_string(fish).unwrap();
        assert!(
            fish.contains(&format!("\ncomplete -c {tool} ")),
            "{tool}: fish"
        );
    }
    // Nothing else: no stray page, no temporary file left.
    assert_eq!(
        files_under(&man1),
        pages_expected,
        "the man pages installed"
    );
    assert!(
        !files_under(dest.path())
            .iter()
            .any(|f| f.contains("install-tmp")),
        "{:?}",
        files_under(dest.path())
    );
    let log_dir = std::fs::metadata(dest.path().join("var/log/secops")).unwrap();
    assert_eq!(
        log_dir.permissions().mode() & 0o027,
        0,
        "var/log/secops is 0750 or 2750"
    );
    // The example configuration, as the package ships it.
    for example in std::fs::read_dir(repo("config")).unwrap() {
        let example = example.unwrap().path();
        if example.is_file() {
            let installed = dest
                .path()
                .join("etc/secops")
                .join(example.file_name().unwrap());
            assert_eq!(
                std::fs::read(&installed).ok(),
                std::fs::read(&example).ok(),
                "{}",
                installed.display()
            );
        }
    }
}

#[test]
fn install_with_a_binary_that_cannot_make_its_pages_installs_nothing() {
    // A BIN_DIR whose secops is a program that fails (an old build
    // refusing --generate man-pages, say): not one file is installed.
    let bins = tempfile::tempdir().unwrap();
    for tool in tools() {
        let to = bins.path().join(&tool);
        if tool == "secops" {
            std::fs::write(
                &to,
                "#!/bin/sh\necho 'error: requires a subcommand' >&2\nexit 2\n",
            )
            .unwrap();
            std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o755)).unwrap();
        } else {
            std::os::unix::fs::symlink(bin_dir().join(&tool), &to).unwrap();
        }
    }
    let dest = tempfile::tempdir().unwrap();
    let out = Command::new(repo("scripts/install"))
        .env("BIN_DIR", bins.path())
        .env("DESTDIR", dest.path())
        .env("PREFIX", "/usr")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("secops cannot make its man pages; nothing was installed"),
        "{}",
        stderr(&out)
    );
    assert!(
        files_under(dest.path()).is_empty(),
        "{:?}",
        files_under(dest.path())
    );
}

/// Commands a script must not reach when asked for its help: each stands
/// in for the real one, logs that it was run, and fails.
const TRIPWIRES: &[&str] = &[
    "cargo",
    "rustup",
    "apt-get",
    "apt",
    "dpkg",
    "install",
    "mkdir",
    "rm",
    "cp",
    "mv",
    "ln",
    "chmod",
    "chown",
    "chgrp",
    "mktemp",
    "tar",
    "mount",
    "umount",
    "hyperfine",
    "sudo",
    "systemctl",
    "ssh",
    "curl",
    "tee",
    "touch",
    "dd",
    "truncate",
    "realpath",
];

/// Runs `script flag` with the tripwires first on PATH, an unwritable
/// PREFIX and a DESTDIR, HOME and TMPDIR under `root`, for at most 30 s.
fn run_for_help(script: &Path, flag: &str, root: &Path) -> Output {
    let trips = root.join("tripwires");
    std::fs::create_dir(&trips).unwrap();
    let log = root.join("tripped.log");
    for name in TRIPWIRES {
        let path = trips.join(name);
        std::fs::write(
            &path,
            format!(
                "#!/bin/sh\necho \"{name} $*\" >>'{}'\nexit 97\n",
                log.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    for dir in ["home", "tmp"] {
        std::fs::create_dir(root.join(dir)).unwrap();
    }
    let path = format!(
        "{}:{}",
        trips.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut child = Command::new(script)
        .arg(flag)
        .current_dir(root)
        .env("PATH", path)
        .env("PREFIX", "/proc/secops-help-test")
        .env("DESTDIR", root.join("dest"))
        .env("HOME", root.join("home"))
        .env("TMPDIR", root.join("tmp"))
        .env("CARGO_TARGET_DIR", root.join("target"))
        .env("FUZZ_WORK", root.join("fuzz"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("{} {flag} was still running after 30 s", script.display());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

#[test]
fn every_script_answers_help_with_its_header_and_does_nothing_else() {
    let mut scripts: Vec<PathBuf> = std::fs::read_dir(repo("scripts"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    scripts.sort();
    assert!(
        scripts.iter().any(|s| s.ends_with("install")),
        "{scripts:?}"
    );
    for script in &scripts {
        let name = script.file_name().unwrap().to_string_lossy().into_owned();
        let mode = std::fs::metadata(script).unwrap().permissions().mode();
        assert!(mode & 0o111 != 0, "scripts/{name} is not executable");
        // The header's first line, as the script's --help must print it:
        // the comment after the #! line, or a Python docstring's.
        let text = std::fs::read_to_string(script).unwrap();
        let first = text.lines().nth(1).unwrap_or_default();
        let first = first
            .trim_start_matches('#')
            .trim_start_matches("\"\"\"")
            .trim();
        assert!(
            !first.is_empty(),
            "scripts/{name} starts with no header comment"
        );
        for flag in ["--help", "-h"] {
            let root = tempfile::tempdir().unwrap();
            let out = run_for_help(script, flag, root.path());
            let said = format!("scripts/{name} {flag}");
            let tripped =
                std::fs::read_to_string(root.path().join("tripped.log")).unwrap_or_default();
            assert!(tripped.is_empty(), "{said} ran:\n{tripped}");
            assert!(
                out.status.success(),
                "{said}: {}\n{}",
                out.status,
                stderr(&out)
            );
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(stdout.contains(first), "{said} printed:\n{stdout}");
            assert!(
                stdout.contains(&name),
                "{said} does not say how it is used:\n{stdout}"
            );
            for dir in ["home", "tmp"] {
                let left = files_under(&root.path().join(dir));
                assert!(left.is_empty(), "{said} wrote {left:?} in {dir}");
            }
            for made in ["dest", "target", "fuzz"] {
                assert!(!root.path().join(made).exists(), "{said} made {made}");
            }
        }
    }
}
