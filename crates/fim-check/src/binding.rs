//! What each baseline of a state directory was made for, so that a
//! different baseline sealed with the same key (one made for a decoy tree,
//! from a decoy policy file, or another host's) put in its place is
//! refused even by a plain `fim-check verify`, which names no policy.
//!
//! `init` records, per baseline (absolute path), the digest of the policy
//! it sealed, where that policy came from and the paths it watches, in
//! `fim-check.bindings.json` in the state directory (0600, atomic). A
//! verify, update or watch of a baseline with no record records it (trust
//! on first use, as ssh does with host keys: baselines made before this
//! file existed are bound by their first check). The baseline then must
//! hold that policy: a replacement is refused, with a critical
//! `fim.baseline_invalid`, until `init --force` makes the baseline again.
//!
//! The file is as trusted as the key beside it: whoever can write the
//! state directory can read the key and seal anything. What it stops is a
//! baseline swapped where the baseline lives apart from the state
//! directory (`--baseline` on shared or removable storage), or by mistake.

use std::collections::BTreeMap;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use secops_common::cli::StateArgs;
use secops_common::{Context, Error};
use serde::{Deserialize, Serialize};

use crate::baseline::Header;

/// The file's name in the state directory.
pub const FILE: &str = "fim-check.bindings.json";

const VERSION: u64 = 1;

/// What one baseline was made for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Bound {
    /// SHA-256 of the sealed policy (canonical JSON), hex.
    policy_sha256: String,
    /// The policy file, or `command line`.
    policy_source: String,
    /// The paths the policy watches, for messages.
    paths: Vec<PathBuf>,
}

impl Bound {
    fn of(header: &Header) -> Bound {
        Bound {
            policy_sha256: header.policy.digest(),
            policy_source: header.policy_source.clone(),
            paths: header.policy.paths.iter().map(|r| r.path.clone()).collect(),
        }
    }

    fn describe(&self) -> String {
        let paths: Vec<String> = self.paths.iter().map(|p| p.display().to_string()).collect();
        format!(
            "from {}, watching {} (policy sha256 {})",
            self.policy_source,
            paths.join(", "),
            &self.policy_sha256[..16]
        )
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Stored {
    version: u64,
    baselines: BTreeMap<String, Bound>,
}

/// The bindings of one state directory (none when it cannot be used).
pub struct Bindings {
    file: Option<PathBuf>,
    baselines: BTreeMap<String, Bound>,
}

/// The key of `baseline`: its absolute path.
fn key_of(baseline: &Path) -> String {
    std::path::absolute(baseline)
        .unwrap_or_else(|_| baseline.to_path_buf())
        .to_string_lossy()
        .into_owned()
}

impl Bindings {
    /// Reads the bindings of the state directory. One that cannot be used
    /// binds nothing (the alert memory warns about it already); a file
    /// that cannot be read or parsed is an error: a binding must not be
    /// dropped by damaging it.
    pub fn open(state: &StateArgs) -> Result<Bindings, Error> {
        let Ok(dir) = state.dir() else {
            return Ok(Bindings {
                file: None,
                baselines: BTreeMap::new(),
            });
        };
        let file = dir.join(FILE);
        let baselines = match std::fs::read(&file) {
            Ok(bytes) => {
                let stored: Stored = serde_json::from_slice(&bytes).map_err(|err| {
                    Error::bad_input(format!(
                        "{} is damaged ({err}); remove it to bind each baseline again at its next check",
                        file.display()
                    ))
                })?;
                if stored.version != VERSION {
                    return Err(Error::bad_input(format!(
                        "{} is of version {}, where this fim-check reads version {VERSION}",
                        file.display(),
                        stored.version
                    )));
                }
                stored.baselines
            }
            Err(err) if err.kind() == ErrorKind::NotFound => BTreeMap::new(),
            Err(err) => {
                return Err(Error::failed(format!(
                    "cannot read {}: {err}",
                    file.display()
                )));
            }
        };
        Ok(Bindings {
            file: Some(file),
            baselines,
        })
    }

    /// Fails when `baseline`'s record says it was made for another policy
    /// than the one `header` holds; records it when there is no record
    /// (true: the caller saves).
    pub fn check(&mut self, baseline: &Path, header: &Header) -> Result<bool, Error> {
        let now = Bound::of(header);
        match self.baselines.get(&key_of(baseline)) {
            Some(bound) if bound.policy_sha256 == now.policy_sha256 => Ok(false),
            Some(bound) => Err(Error::bad_input(format!(
                "baseline {} was replaced: init made it {}, it now holds a policy {}; refusing to compare against it (if the replacement is intended, make the baseline again with fim-check init --force)",
                baseline.display(),
                bound.describe(),
                now.describe()
            ))),
            None => {
                self.baselines.insert(key_of(baseline), now);
                Ok(self.file.is_some())
            }
        }
    }

    /// Records what `baseline` was (just) made for.
    pub fn bind(&mut self, baseline: &Path, header: &Header) {
        self.baselines.insert(key_of(baseline), Bound::of(header));
    }

    /// Writes the file, 0600 and atomically.
    pub fn save(&self) -> Result<(), Error> {
        let Some(file) = &self.file else {
            return Ok(());
        };
        let stored = Stored {
            version: VERSION,
            baselines: self.baselines.clone(),
        };
        let mut bytes = serde_json::to_vec_pretty(&stored).expect("bindings serialize");
        bytes.push(b'\n');
        secops_common::atomic::write_atomic(file, &bytes, 0o600)
            .context(|| format!("cannot write {}", file.display()))
    }
}
