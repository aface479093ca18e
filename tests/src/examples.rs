//! The shell examples of README.md and docs/*.md, as tests/examples.rs
//! runs them: every line of an indented code block whose first word is a
//! command a reader would type (one of the tools, `scripts/…`, or a
//! system command the docs use), with `\` continuations and `{ … }` groups
//! joined. Other lines of a block are sample output or file contents.
//!
//! An example that cannot run on a test machine is marked in the Markdown
//! just before its block, with the reason, which the test reports:
//!
//! ```text
//! <!-- examples not run: sudo systemctl, amtool: systemd is not PID 1 here; no Alertmanager runs -->
//! ```
//!
//! Each name is the start of the commands it skips (`*`: the whole block),
//! and must match one of them, so a mark cannot outlive its example.

/// Commands besides the tools that start an example line.
const COMMANDS: &[&str] = &[
    "sudo",
    "sudoedit",
    "groupadd",
    "scripts/",
    "mkdir",
    "cp",
    "install",
    "tar",
    "sha256sum",
    "journalctl",
    "systemctl",
    "apt-get",
    "dpkg",
    "cd",
    "editor",
    "promtool",
    "amtool",
    "printf",
    "rsyslogd",
    "age-keygen",
    "cargo",
    "target/",
    "/usr/bin/time",
    "secops-tools-",
    "{",
];

/// One example: a command line of a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Example {
    /// The document, relative to the repository (`docs/fim-check.md`).
    pub doc: String,
    /// Its first line in the document (1-based).
    pub line: usize,
    /// The command as written, continuations joined with newlines.
    pub command: String,
    /// Why it is not run, when it is marked so.
    pub not_run: Option<String>,
}

/// A `<!-- examples not run: … -->` mark.
struct Mark {
    line: usize,
    prefixes: Vec<String>,
    reason: String,
    used: Vec<bool>,
}

fn parse_mark(line: usize, text: &str) -> Result<Option<Mark>, String> {
    let Some(rest) = text
        .trim()
        .strip_prefix("<!-- examples not run:")
        .and_then(|r| r.strip_suffix("-->"))
    else {
        return Ok(None);
    };
    let (names, reason) = rest.split_once(": ").ok_or_else(|| {
        format!("line {line}: a mark is `<!-- examples not run: NAMES: REASON -->`")
    })?;
    let prefixes: Vec<String> = names.split(',').map(|n| n.trim().to_string()).collect();
    let reason = reason.trim().to_string();
    if reason.is_empty() || prefixes.iter().any(String::is_empty) {
        return Err(format!("line {line}: a mark names commands and a reason"));
    }
    let used = vec![false; prefixes.len()];
    Ok(Some(Mark {
        line,
        prefixes,
        reason,
        used,
    }))
}

/// Whether `line` starts a command: its first word, past `$ ` prompts and
/// `VAR=value` assignments, is one of `tools` or [`COMMANDS`].
fn is_command(line: &str, tools: &[String]) -> bool {
    let words = line.split_whitespace().skip_while(|w| {
        w.split_once('=').is_some_and(|(name, _)| {
            !name.is_empty() && name.chars().all(|c| c.is_ascii_uppercase() || c == '_')
        })
    });
    let Some(first) = words.into_iter().next() else {
        return false;
    };
    tools.iter().any(|t| t == first)
        || COMMANDS.iter().any(|c| match c.ends_with(['/', '-']) {
            true => first.len() > c.len() && first.starts_with(c),
            false => first == *c,
        })
}

/// The examples of one document's text.
pub fn examples(doc: &str, text: &str, tools: &[String]) -> Result<Vec<Example>, String> {
    let lines: Vec<&str> = text.lines().collect();
    let mut found = Vec::new();
    let mut mark: Option<Mark> = None;
    let mut fenced = false;
    let mut i = 0;
    let finish = |mark: Option<Mark>| -> Result<(), String> {
        match mark {
            Some(m) if m.used.iter().any(|u| !u) => Err(format!(
                "{doc}:{}: the mark names {:?}, which start no example of the block after it",
                m.line,
                m.prefixes
                    .iter()
                    .zip(&m.used)
                    .filter(|(_, u)| !**u)
                    .map(|(p, _)| p)
                    .collect::<Vec<_>>()
            )),
            _ => Ok(()),
        }
    };
    while i < lines.len() {
        let line = lines[i];
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            i += 1;
            continue;
        }
        if let Some(m) = parse_mark(i + 1, line).map_err(|e| format!("{doc}: {e}"))? {
            finish(mark.take())?;
            mark = Some(m);
            i += 1;
            continue;
        }
        let starts_block =
            !fenced && line.starts_with("    ") && (i == 0 || lines[i - 1].trim().is_empty());
        if !starts_block {
            i += 1;
            continue;
        }
        // An indented block: until a non-blank line that is not indented.
        let mut block = Vec::new();
        while i < lines.len() && (lines[i].starts_with("    ") || lines[i].trim().is_empty()) {
            block.push((i + 1, lines[i].get(4..).unwrap_or("")));
            i += 1;
        }
        let mut j = 0;
        while j < block.len() {
            let (at, text) = block[j];
            let text = text.trim_start();
            let text = text.strip_prefix("$ ").unwrap_or(text);
            j += 1;
            if !is_command(text, tools) {
                continue;
            }
            let mut command = text.to_string();
            if text == "{" {
                while j < block.len() && !block[j - 1].1.trim_start().starts_with('}') {
                    command = format!("{command}\n{}", block[j].1);
                    j += 1;
                }
            }
            while command.ends_with('\\') && j < block.len() {
                command = format!("{command}\n{}", block[j].1);
                j += 1;
            }
            let not_run = mark.as_mut().and_then(|m| {
                let hit = m
                    .prefixes
                    .iter()
                    .position(|p| p == "*" || command.starts_with(p.as_str()))?;
                m.used[hit] = true;
                Some(m.reason.clone())
            });
            found.push(Example {
                doc: doc.to_string(),
                line: at,
                command,
                not_run,
            });
        }
        finish(mark.take())?;
    }
    finish(mark)?;
    Ok(found)
}

/// Whether an example runs until stopped (a loop, a watch, the scheduler
/// in the foreground): the test lets it run a few seconds and stops it.
pub fn runs_until_stopped(command: &str) -> bool {
    command.contains("--interval")
        || command.contains(" watch")
        || (command.contains("secops run") && !command.contains("--once"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tools() -> Vec<String> {
        vec!["fim-check".into(), "secops-notify".into()]
    }

    #[test]
    fn commands_are_found_and_output_is_not() {
        let doc = "Intro\n\n    fim-check verify   # from cron\n    fim-check: error: no baseline\n    \
                   [ANOMALY] x\n\n    sudo cp a b\n    fim-check watch \\\n        --settle 2s | secops-notify\n";
        let found = examples("d.md", doc, &tools()).unwrap();
        let commands: Vec<_> = found.iter().map(|e| (e.line, e.command.as_str())).collect();
        assert_eq!(
            commands,
            [
                (3, "fim-check verify   # from cron"),
                (7, "sudo cp a b"),
                (8, "fim-check watch \\\n    --settle 2s | secops-notify"),
            ]
        );
        assert!(found.iter().all(|e| e.not_run.is_none()));
    }

    #[test]
    fn list_items_fences_and_prose_are_not_examples() {
        let doc = "- fim-check verify\n  fim-check update\n\n```\n    fim-check verify\n```\ntext\n    fim-check x\n";
        assert_eq!(examples("d.md", doc, &tools()).unwrap(), []);
    }

    #[test]
    fn a_mark_skips_the_commands_it_names_in_the_next_block_only() {
        let doc = "<!-- examples not run: sudo cp: no such file here -->\n\n    sudo cp a b\n    fim-check verify\n\n\
                   Text.\n\n    sudo cp c d\n";
        let found = examples("d.md", doc, &tools()).unwrap();
        let skipped: Vec<_> = found.iter().map(|e| e.not_run.as_deref()).collect();
        assert_eq!(skipped, [Some("no such file here"), None, None]);
    }

    #[test]
    fn a_mark_that_matches_nothing_or_gives_no_reason_is_an_error() {
        let stale = "<!-- examples not run: amtool: no Alertmanager -->\n\n    fim-check verify\n";
        let err = examples("d.md", stale, &tools()).unwrap_err();
        assert!(err.contains("d.md:1") && err.contains("amtool"), "{err}");
        let bare = "<!-- examples not run: amtool -->\n\n    amtool x\n";
        assert!(examples("d.md", bare, &tools()).is_err());
    }

    #[test]
    fn groups_and_prompts_are_one_example() {
        let doc = "    {\n      fim-check verify\n    } | secops-notify\n\n    $ fim-check show\n    output\n";
        let found = examples("d.md", doc, &tools()).unwrap();
        assert_eq!(found[0].command, "{\n  fim-check verify\n} | secops-notify");
        assert_eq!(found[1].command, "fim-check show");
        assert_eq!(found.len(), 2);
    }
}
