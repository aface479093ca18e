//! What to watch: paths, recursion, exclusions and per-path attribute sets
//! and severities. Loaded from YAML or JSON with unknown keys refused, or
//! made from `fim-check init PATH...`; embedded in the baseline so verify
//! checks exactly what init recorded.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use globset::{GlobSet, GlobSetBuilder};
use secops_common::{Error, Severity};
use serde::{Deserialize, Serialize};

use crate::attrs::AttrSet;

/// A policy file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Globs excluded everywhere: with a `/` they match the whole path,
    /// without one the file name (`*.swp`).
    #[serde(default)]
    pub exclude: Vec<String>,
    /// Stay on the filesystem of each watched path (bind mounts, /proc
    /// under / and network mounts are not crossed).
    #[serde(default = "yes")]
    pub one_file_system: bool,
    pub paths: Vec<Rule>,
}

/// One watched path.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub path: PathBuf,
    /// Descend into subdirectories; `false` watches the path and, for a
    /// directory, its direct entries only.
    #[serde(default = "yes")]
    pub recursive: bool,
    #[serde(default)]
    pub attributes: AttrSet,
    /// Severity of added, removed and changed records under this path.
    #[serde(default = "high")]
    pub severity: Severity,
    /// Globs excluded under this path only.
    #[serde(default)]
    pub exclude: Vec<String>,
}

fn yes() -> bool {
    true
}

fn high() -> Severity {
    Severity::High
}

impl Policy {
    /// Loads and checks a policy file.
    pub fn load(path: &Path) -> Result<Policy, Error> {
        let policy: Policy = secops_common::config::load(path)?;
        policy
            .check()
            .map_err(|err| Error::bad_input(format!("{}: {err}", path.display())))?;
        Ok(policy)
    }

    /// Parses and checks policy text as [`Policy::load`] does a file;
    /// errors read `LINE:COLUMN: FIELD: problem`. The entry point of the
    /// fuzz targets and tests.
    pub fn parse(text: &str, syntax: secops_common::config::Syntax) -> Result<Policy, String> {
        let policy: Policy = secops_common::config::parse(text, syntax)?;
        policy.check()?;
        Ok(policy)
    }

    /// The policy of `fim-check init PATH...`: each path, recursive, `full`.
    pub fn for_paths(paths: &[PathBuf]) -> Result<Policy, Error> {
        let rules = paths
            .iter()
            .map(|p| {
                let path = std::path::absolute(p).map_err(|err| {
                    Error::bad_input(format!("cannot resolve {}: {err}", p.display()))
                })?;
                Ok(Rule {
                    path,
                    recursive: true,
                    attributes: AttrSet::full(),
                    severity: Severity::High,
                    exclude: Vec::new(),
                })
            })
            .collect::<Result<_, Error>>()?;
        let policy = Policy {
            exclude: Vec::new(),
            one_file_system: true,
            paths: rules,
        };
        policy.check().map_err(Error::bad_input)?;
        Ok(policy)
    }

    /// What differs between the policy a baseline was sealed with (`self`)
    /// and the one it is meant to check (`intended`), in words; empty when
    /// they agree. A baseline that crosses filesystems where the intended
    /// policy would not checks more, never less, and agrees.
    pub fn differences(&self, intended: &Policy) -> Vec<String> {
        fn only<'p>(a: &'p Policy, b: &Policy) -> Vec<&'p Path> {
            let mut paths: Vec<&Path> = a
                .paths
                .iter()
                .map(|r| r.path.as_path())
                .filter(|p| !b.paths.iter().any(|r| r.path == *p))
                .collect();
            paths.dedup();
            paths
        }
        let mut found = Vec::new();
        let rule = |policy: &Policy, path: &Path| -> Vec<Rule> {
            policy
                .paths
                .iter()
                .filter(|r| r.path == path)
                .cloned()
                .collect()
        };
        let list = |paths: Vec<&Path>| {
            paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let sealed_only = only(self, intended);
        if !sealed_only.is_empty() {
            found.push(format!(
                "it watches {} where the policy does not",
                list(sealed_only)
            ));
        }
        let intended_only = only(intended, self);
        if !intended_only.is_empty() {
            found.push(format!(
                "it does not watch {}, which the policy does",
                list(intended_only)
            ));
        }
        let mut changed: Vec<&Path> = Vec::new();
        for r in &intended.paths {
            let (ours, theirs) = (rule(self, &r.path), rule(intended, &r.path));
            if !ours.is_empty() && ours != theirs && !changed.contains(&r.path.as_path()) {
                changed.push(&r.path);
            }
        }
        if !changed.is_empty() {
            found.push(format!(
                "its rules for {} differ from the policy's (recursion, attributes, severity or excludes)",
                list(changed)
            ));
        }
        if self.exclude != intended.exclude {
            found.push(format!(
                "it excludes {:?} where the policy excludes {:?}",
                self.exclude, intended.exclude
            ));
        }
        if self.one_file_system && !intended.one_file_system {
            found.push(
                "it stays on one filesystem where the policy crosses filesystems".to_string(),
            );
        }
        // The order of rules for distinct paths means nothing (the deepest
        // rule governs); that of one path's duplicates is compared above.
        found
    }

    /// SHA-256 of the policy's canonical form (its JSON as stored in the
    /// baseline), hex: the same policy, however its file is laid out or
    /// commented, has the same digest.
    pub fn digest(&self) -> String {
        use sha2::{Digest, Sha256};
        let json = serde_json::to_vec(self).expect("a policy always serializes");
        Sha256::digest(&json)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    fn check(&self) -> Result<(), String> {
        if self.paths.is_empty() {
            return Err("paths: the policy watches nothing".into());
        }
        for (i, rule) in self.paths.iter().enumerate() {
            if !rule.path.is_absolute() {
                return Err(format!(
                    "paths[{i}].path: {} is not absolute",
                    rule.path.display()
                ));
            }
            Matcher::build(&rule.exclude).map_err(|err| format!("paths[{i}].exclude: {err}"))?;
        }
        Matcher::build(&self.exclude).map_err(|err| format!("exclude: {err}"))?;
        Ok(())
    }
}

/// Exclusion globs split by what they match: the whole path or the name.
#[derive(Debug, Clone)]
struct Matcher {
    whole: GlobSet,
    name: GlobSet,
}

impl Matcher {
    fn build(globs: &[String]) -> Result<Matcher, String> {
        let mut whole = GlobSetBuilder::new();
        let mut name = GlobSetBuilder::new();
        for text in globs {
            let glob = globset::GlobBuilder::new(text)
                .literal_separator(true)
                .backslash_escape(true)
                .build()
                .map_err(|err| format!("bad glob {text:?}: {err}"))?;
            if text.contains('/') {
                whole.add(glob);
            } else {
                name.add(glob);
            }
        }
        let done = |b: GlobSetBuilder| b.build().map_err(|err| err.to_string());
        Ok(Matcher {
            whole: done(whole)?,
            name: done(name)?,
        })
    }

    fn excludes(&self, path: &Path) -> bool {
        self.whole.is_match(path)
            || path
                .file_name()
                .is_some_and(|name| self.name.is_match(Path::new(name)))
    }
}

/// A checked policy ready for lookups during a walk.
pub struct Scope {
    pub policy: Policy,
    global: Matcher,
    rules: Vec<(Rule, Matcher)>,
}

impl Scope {
    pub fn new(policy: Policy) -> Result<Scope, Error> {
        policy.check().map_err(Error::bad_input)?;
        let global = Matcher::build(&policy.exclude).map_err(Error::bad_input)?;
        let rules = policy
            .paths
            .iter()
            .map(|r| {
                Ok((
                    r.clone(),
                    Matcher::build(&r.exclude).map_err(Error::bad_input)?,
                ))
            })
            .collect::<Result<_, Error>>()?;
        Ok(Scope {
            policy,
            global,
            rules,
        })
    }

    /// The paths a walk starts from: rule paths not already inside another
    /// recursive rule's tree.
    pub fn roots(&self) -> Vec<&Path> {
        let mut roots: Vec<&Path> = Vec::new();
        for (rule, _) in &self.rules {
            let covered = self.rules.iter().any(|(other, _)| {
                other.recursive && other.path != rule.path && rule.path.starts_with(&other.path)
            });
            if !covered && !roots.contains(&rule.path.as_path()) {
                roots.push(&rule.path);
            }
        }
        roots
    }

    /// The walk root `path` lies in (or is).
    pub fn root_of(&self, path: &Path) -> Option<&Path> {
        self.roots().into_iter().find(|root| path.starts_with(root))
    }

    /// The rule governing `path` (the deepest rule containing it), or
    /// `None` when the path is excluded or lies beyond a non-recursive rule.
    pub fn rule_for(&self, path: &[u8]) -> Option<&Rule> {
        let path = Path::new(OsStr::from_bytes(path));
        let (rule, matcher) = self
            .rules
            .iter()
            .filter(|(r, _)| path.starts_with(&r.path))
            .max_by_key(|(r, _)| r.path.as_os_str().len())?;
        if !rule.recursive {
            let depth = path.components().count() - rule.path.components().count();
            if depth > 1 {
                return None;
            }
        }
        if self.global.excludes(path) || matcher.excludes(path) {
            return None;
        }
        Some(rule)
    }

    /// Whether the walk should list the entries of directory `path`.
    pub fn descends(&self, path: &[u8]) -> bool {
        self.rule_for(path)
            .is_some_and(|rule| rule.recursive || rule.path.as_os_str().as_bytes() == path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secops_common::config::{Syntax, parse};

    fn scope(yaml: &str) -> Scope {
        Scope::new(parse(yaml, Syntax::Yaml).unwrap()).unwrap()
    }

    #[test]
    fn the_deepest_rule_wins_and_excludes_apply() {
        let s = scope(
            "exclude: ['*.swp']\npaths:\n  - path: /etc\n    exclude: [/etc/mtab]\n  - path: /etc/ssh\n    attributes: perms\n    severity: critical\n",
        );
        assert_eq!(s.roots(), [Path::new("/etc")]);
        assert_eq!(s.rule_for(b"/etc/passwd").unwrap().severity, Severity::High);
        let ssh = s.rule_for(b"/etc/ssh/sshd_config").unwrap();
        assert_eq!(
            (ssh.severity, ssh.attributes),
            (Severity::Critical, AttrSet::perms())
        );
        assert!(s.rule_for(b"/etc/mtab").is_none());
        assert!(s.rule_for(b"/etc/a/.x.swp").is_none());
        assert!(s.rule_for(b"/etcetera").is_none());
    }

    #[test]
    fn non_recursive_rules_stop_at_direct_entries() {
        let s = scope("paths:\n  - path: /root\n    recursive: false\n");
        assert!(s.rule_for(b"/root/.bashrc").is_some());
        assert!(s.rule_for(b"/root/.ssh/id_ed25519").is_none());
        assert!(s.descends(b"/root") && !s.descends(b"/root/.ssh"));
    }

    #[test]
    fn typos_and_relative_paths_are_refused() {
        let err = parse::<Policy>(
            "paths:\n  - path: /etc\n    recursve: false\n",
            Syntax::Yaml,
        )
        .unwrap_err();
        assert!(err.contains("recursve"), "{err}");
        let err = parse::<Policy>(
            "paths:\n  - path: /etc\n    attributes: perm\n",
            Syntax::Yaml,
        )
        .unwrap_err();
        assert!(
            err.contains("paths[0].attributes: unknown attribute \"perm\""),
            "{err}"
        );
        let policy: Policy = parse("paths:\n  - path: etc\n", Syntax::Yaml).unwrap();
        assert!(policy.check().unwrap_err().contains("not absolute"));
    }

    #[test]
    fn differences_say_what_a_baseline_checks_otherwise() {
        let policy = |yaml: &str| parse::<Policy>(yaml, Syntax::Yaml).unwrap();
        let sealed = policy("one_file_system: false\npaths:\n  - path: /etc\n  - path: /usr/bin\n");
        let reordered = policy("# same\npaths: [{path: /usr/bin}, {path: /etc}]\n");
        assert_eq!(
            sealed.differences(&reordered),
            Vec::<String>::new(),
            "rule order, comments and crossing more than asked mean nothing"
        );
        let other = policy(
            "one_file_system: false\nexclude: ['*~']\npaths:\n  - path: /etc\n    severity: low\n  - path: /boot\n",
        );
        assert_eq!(
            sealed.differences(&other),
            [
                "it watches /usr/bin where the policy does not",
                "it does not watch /boot, which the policy does",
                "its rules for /etc differ from the policy's (recursion, attributes, severity or excludes)",
                "it excludes [] where the policy excludes [\"*~\"]",
            ]
        );
        let crossing = policy("one_file_system: false\npaths: [{path: /etc}, {path: /usr/bin}]\n");
        assert_eq!(
            reordered.differences(&crossing),
            ["it stays on one filesystem where the policy crosses filesystems"]
        );
        assert_eq!(
            reordered.digest(),
            policy("paths:\n- path: /usr/bin\n- {path: /etc}\n").digest()
        );
        assert_ne!(reordered.digest(), sealed.digest());
    }
}
