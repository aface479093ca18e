//! Logs whose unusual patterns are expected activity, not incidents: the
//! package managers' own logs (dpkg, apt, update-alternatives, yum, dnf,
//! zypper, pacman). An install writes a template per package and a burst
//! of status lines, an upgrade a few hundred lines in a minute, and every
//! version string is a "dominating value" of its template: statistically
//! unusual, operationally routine. Their findings are still reported, as
//! observations (`info`, `"alert":"none"`) marked `expected`, so a report
//! shows what the package manager did and no one is paged for it. What a
//! package manager does that matters (a failed install, a package from an
//! unknown source) is the business of the logs it affects and of
//! fim-check, which see it.

/// Whether `source` (a log file or rotated set, as anomalizer names it)
/// is a package manager's log.
pub fn package_manager(source: &str) -> bool {
    let mut parts = source.rsplit('/');
    let name = parts.next().unwrap_or(source);
    let parent = parts.next().unwrap_or("");
    let base = name.split('.').next().unwrap_or(name);
    matches!(
        (parent, base),
        (_, "dpkg" | "alternatives" | "aptitude" | "yum" | "pacman")
            | ("apt", "history" | "term" | "eipp")
            | ("zypp", "history")
    ) || name.starts_with("dnf.") && name.contains("log")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_manager_logs_are_known_rotated_or_not() {
        for source in [
            "/var/log/dpkg.log",
            "/var/log/dpkg.log.2.gz",
            "dpkg.log",
            "/var/log/alternatives.log.1",
            "/var/log/apt/history.log",
            "/var/log/apt/term.log.3.gz",
            "/var/log/apt/eipp.log.xz",
            "/var/log/yum.log",
            "/var/log/dnf.rpm.log",
            "/var/log/dnf.librepo.log",
            "/var/log/zypp/history",
            "/var/log/pacman.log",
        ] {
            assert!(package_manager(source), "{source}");
        }
        for source in [
            "/var/log/auth.log",
            "/var/log/syslog",
            "/var/log/kern.log",
            "/srv/app/history.log",
            "/var/log/app/term.log",
            "/var/log/dpkgish/app.log",
            "stdin",
        ] {
            assert!(!package_manager(source), "{source}");
        }
    }
}
