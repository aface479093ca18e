//! Mount-point patterns for `--exclude-mount` and the config file: an exact
//! path, or shell-style wildcards where `*` matches any run of characters,
//! slashes included (`/var/lib/docker/*`, `/snap/*`), and `?` one.

use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// A mount-point pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern(String);

impl Pattern {
    pub fn new(text: &str) -> Pattern {
        Pattern(text.to_string())
    }

    /// Whether `path` matches the whole pattern.
    pub fn matches(&self, path: &Path) -> bool {
        wildcard(self.0.as_bytes(), path.as_os_str().as_bytes())
    }
}

/// Iterative wildcard matching with backtracking to the last `*`: linear
/// for the patterns people write, never exponential.
fn wildcard(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(&c) if c == b'?' || c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_paths_and_wildcards() {
        let m = |pattern: &str, path: &str| Pattern::new(pattern).matches(Path::new(path));
        assert!(m("/boot", "/boot"));
        assert!(!m("/boot", "/boot/efi"));
        assert!(m("/boot*", "/boot/efi"));
        assert!(m(
            "/var/lib/docker/*",
            "/var/lib/docker/overlay2/abc/merged"
        ));
        assert!(!m("/var/lib/docker/*", "/var/lib/docker"));
        assert!(m("/snap/*/[0-9]*", "/snap/core/[0-9]1")); // brackets are literal
        assert!(m("/mnt/disk?", "/mnt/disk1"));
        assert!(!m("/mnt/disk?", "/mnt/disk10"));
        assert!(m("*a*b*c", "xxaxxbxxc"));
        assert!(!m("*a*b*c", "xxaxxbxxcx"));
        assert!(m("*", "/"));
    }
}
