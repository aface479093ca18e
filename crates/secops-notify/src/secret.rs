//! Secrets (the SMTP password, the webhook URL) as DESIGN.md allows them:
//! from an environment variable, from a file nobody else can read (refused
//! otherwise, as ssh refuses a loose private key), or from an age-encrypted
//! file decrypted by Debian's `age` with an identity file that is private
//! too. A [`Secret`] never prints itself, and [`Redactor`] scrubs it out of
//! every error text before that text reaches stderr or a record.

use std::fmt;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use secops_common::Error;

/// Where a secret comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Env(String),
    File(PathBuf),
}

/// A secret value. `Debug` and `Display` show only that it is hidden.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// A value that is secret (or may hold one, as a URL may).
    pub fn new(value: String) -> Secret {
        Secret(value)
    }

    /// The value, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([hidden])")
    }
}

/// The first bytes of an age file, binary or armored.
const AGE_HEADERS: [&[u8]; 2] = [
    b"age-encryption.org/",
    b"-----BEGIN AGE ENCRYPTED FILE-----",
];

/// Reads a secret. `what` names it in errors ("the SMTP password");
/// `identity` is the age identity for encrypted files.
pub fn load(source: &Source, what: &str, identity: Option<&Path>) -> Result<Secret, Error> {
    let text = match source {
        Source::Env(var) => std::env::var(var).map_err(|err| {
            Error::bad_input(format!(
                "{what}: environment variable {var} is {}",
                match err {
                    std::env::VarError::NotPresent => "not set",
                    std::env::VarError::NotUnicode(_) => "not valid UTF-8",
                }
            ))
        })?,
        Source::File(path) => {
            let bytes = std::fs::read(path).map_err(|err| {
                Error::bad_input(format!("{what}: cannot read {}: {err}", path.display()))
            })?;
            if AGE_HEADERS.iter().any(|h| bytes.starts_with(h)) {
                let identity = identity.ok_or_else(|| {
                    Error::bad_input(format!(
                        "{what}: {} is age-encrypted; give --age-identity FILE to decrypt it",
                        path.display()
                    ))
                })?;
                decrypt(path, identity, what)?
            } else {
                check_private(path, what)?;
                String::from_utf8(bytes).map_err(|_| {
                    Error::bad_input(format!("{what}: {} is not UTF-8 text", path.display()))
                })?
            }
        }
    };
    // Files written by `echo` end in a newline that is no part of the secret.
    let value = text.trim_end_matches(['\n', '\r']).to_string();
    if value.trim().is_empty() {
        return Err(Error::bad_input(format!("{what} is empty")));
    }
    Ok(Secret(value))
}

/// Refuses a file that the group or others may read or write, or that
/// another user owns: the message says what to run, as ssh's does.
pub fn check_private(path: &Path, what: &str) -> Result<(), Error> {
    let meta = std::fs::metadata(path).map_err(|err| {
        Error::bad_input(format!("{what}: cannot read {}: {err}", path.display()))
    })?;
    let mode = meta.mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(Error::bad_input(format!(
            "{what}: permissions {mode:04o} for {} are too open; it must be readable by its owner only: run chmod 600 {}",
            path.display(),
            path.display()
        )));
    }
    if meta.uid() != nix::unistd::geteuid().as_raw() && meta.uid() != 0 {
        return Err(Error::bad_input(format!(
            "{what}: {} is owned by uid {}, not by this user or root",
            path.display(),
            meta.uid()
        )));
    }
    Ok(())
}

/// Runs `age -d -i IDENTITY FILE` and returns what it printed.
fn decrypt(path: &Path, identity: &Path, what: &str) -> Result<String, Error> {
    check_private(identity, &format!("{what}: the age identity"))?;
    let mut child = Command::new("age")
        .arg("-d")
        .arg("-i")
        .arg(identity)
        .arg(path)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|err| {
            Error::failed(format!(
                "{what}: cannot run age to decrypt {}: {err} (install the Debian package age)",
                path.display()
            ))
        })?;
    let mut plain = Vec::new();
    let mut complaint = String::new();
    let read = child
        .stdout
        .take()
        .expect("stdout is piped")
        .read_to_end(&mut plain)
        .and_then(|_| {
            child
                .stderr
                .take()
                .expect("stderr is piped")
                .read_to_string(&mut complaint)
        });
    let status = child.wait();
    match (read, status) {
        (Ok(_), Ok(status)) if status.success() => String::from_utf8(plain).map_err(|_| {
            Error::bad_input(format!(
                "{what}: {} does not decrypt to UTF-8 text",
                path.display()
            ))
        }),
        // age's own words (wrong identity, corrupt file) never hold the
        // plaintext, so they are safe to pass on.
        _ => Err(Error::bad_input(format!(
            "{what}: age could not decrypt {} with {}: {}",
            path.display(),
            identity.display(),
            complaint.trim().replace('\n', "; ")
        ))),
    }
}

/// Scrubs known secrets out of text. A webhook URL's path and query are
/// scrubbed on their own too, since an HTTP library may quote just those.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    needles: Vec<String>,
}

impl Redactor {
    pub fn add(&mut self, secret: &Secret) {
        self.push(secret.expose());
    }

    /// Adds a URL and its path-and-query part.
    pub fn add_url(&mut self, url: &Secret) {
        self.push(url.expose());
        if let Some((_, rest)) = url.expose().split_once("://")
            && let Some(slash) = rest.find('/')
            && rest.len() - slash > 1
        {
            self.push(&rest[slash..]);
        }
    }

    fn push(&mut self, needle: &str) {
        if !needle.is_empty() && !self.needles.iter().any(|n| n == needle) {
            self.needles.push(needle.to_string());
            // Longest first, so a URL goes before its own path.
            self.needles.sort_by_key(|n| std::cmp::Reverse(n.len()));
        }
    }

    pub fn redact(&self, text: &str) -> String {
        let mut text = text.to_string();
        for needle in &self.needles {
            if text.contains(needle.as_str()) {
                text = text.replace(needle.as_str(), "[redacted]");
            }
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::Permissions;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn loose_files_are_refused_as_ssh_does() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pw");
        std::fs::write(&path, "hunter2\n").unwrap();
        std::fs::set_permissions(&path, Permissions::from_mode(0o644)).unwrap();
        let err = load(&Source::File(path.clone()), "the SMTP password", None).unwrap_err();
        assert!(
            err.message.contains("0644") && err.message.contains("chmod 600"),
            "{err}"
        );
        assert!(!err.message.contains("hunter2"));
        std::fs::set_permissions(&path, Permissions::from_mode(0o600)).unwrap();
        let secret = load(&Source::File(path), "the SMTP password", None).unwrap();
        assert_eq!(secret.expose(), "hunter2");
        assert_eq!(format!("{secret:?}"), "Secret([hidden])");
    }

    #[test]
    fn urls_are_scrubbed_whole_and_by_path() {
        let mut redactor = Redactor::default();
        redactor.add_url(&Secret(
            "https://hooks.example/services/T0/B0/tok3n".to_string(),
        ));
        assert_eq!(
            redactor.redact("POST https://hooks.example/services/T0/B0/tok3n failed"),
            "POST [redacted] failed"
        );
        assert_eq!(
            redactor.redact("404 for /services/T0/B0/tok3n"),
            "404 for [redacted]"
        );
    }

    #[test]
    fn unset_variables_are_named() {
        let err = load(
            &Source::Env("SECOPS_NOTIFY_SURELY_UNSET".into()),
            "the webhook URL",
            None,
        )
        .unwrap_err();
        assert!(
            err.message
                .contains("SECOPS_NOTIFY_SURELY_UNSET is not set")
        );
    }
}
