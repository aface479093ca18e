//! The systemd unit or container a process runs in, read from its cgroup
//! path: the fastest way to tell an operator "this is nginx.service" or
//! "this is container 3f4e1a2b9c0d" without asking a daemon.

/// Where a process sits.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Placement {
    /// e.g. `nginx.service`, `session-4.scope`.
    pub unit: Option<String>,
    /// e.g. `docker:3f4e1a2b9c0d`: runtime and short id.
    pub container: Option<String>,
}

/// Reads `/proc/PID/cgroup` text: the unified (v2) line if there is one,
/// else the v1 `name=systemd` hierarchy.
pub fn placement(cgroup_file: &str) -> Placement {
    let path_of = |prefix: &str| {
        cgroup_file.lines().find_map(|line| {
            let (_, rest) = line.split_once(':')?;
            rest.strip_prefix(prefix)
        })
    };
    let Some(path) = path_of(":").or_else(|| path_of("name=systemd:")) else {
        return Placement::default();
    };
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    let container = parts
        .iter()
        .enumerate()
        .find_map(|(i, part)| container_of(part, parts.get(i + 1).copied()));
    let unit = if container.is_some() {
        None
    } else {
        parts
            .iter()
            .rev()
            .find(|p| p.ends_with(".service") || p.ends_with(".scope"))
            .map(|p| p.to_string())
    };
    Placement { unit, container }
}

/// A container named by one path component (`docker-ID.scope`) or by a
/// runtime directory and the component after it (`/docker/ID`, `/lxc/NAME`).
fn container_of(part: &str, next: Option<&str>) -> Option<String> {
    const SCOPES: [(&str, &str); 5] = [
        ("docker-", "docker"),
        ("libpod-", "podman"),
        ("cri-containerd-", "containerd"),
        ("crio-", "cri-o"),
        ("machine-", "machine"),
    ];
    if let Some(stem) = part.strip_suffix(".scope") {
        for (prefix, runtime) in SCOPES {
            if let Some(id) = stem.strip_prefix(prefix) {
                // `libpod-conmon-ID.scope` is podman's monitor, not the container.
                if id.starts_with("conmon-") {
                    return None;
                }
                return Some(format!("{runtime}:{}", short_id(id)));
            }
        }
    }
    match (part, next) {
        ("docker" | "lxc" | "libpod_parent", Some(id)) => Some(format!("{part}:{}", short_id(id))),
        _ => None,
    }
}

/// Container ids are shown as `docker ps` shows them: the first 12 hex digits.
fn short_id(id: &str) -> &str {
    let hex = id.len() >= 32 && id.bytes().all(|b| b.is_ascii_hexdigit());
    if hex { &id[..12] } else { id }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(text: &str) -> Option<String> {
        placement(text).unit
    }

    fn container(text: &str) -> Option<String> {
        placement(text).container
    }

    const ID: &str = "3f4e1a2b9c0d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f";

    #[test]
    fn systemd_units_from_v2_and_v1() {
        assert_eq!(
            unit("0::/system.slice/nginx.service\n").as_deref(),
            Some("nginx.service")
        );
        assert_eq!(
            unit("0::/user.slice/user-1000.slice/user@1000.service/app.slice/app-gnome-firefox-1.scope").as_deref(),
            Some("app-gnome-firefox-1.scope")
        );
        assert_eq!(
            unit("12:pids:/system.slice/ssh.service\n1:name=systemd:/system.slice/ssh.service\n")
                .as_deref(),
            Some("ssh.service")
        );
        assert_eq!(unit("0::/init.scope").as_deref(), Some("init.scope"));
        assert_eq!(unit("0::/"), None);
        assert_eq!(unit(""), None);
    }

    #[test]
    fn containers_by_runtime() {
        assert_eq!(
            container(&format!("0::/system.slice/docker-{ID}.scope")).as_deref(),
            Some("docker:3f4e1a2b9c0d")
        );
        assert_eq!(
            container(&format!("0::/machine.slice/libpod-{ID}.scope/container")).as_deref(),
            Some("podman:3f4e1a2b9c0d")
        );
        assert_eq!(
            container(&format!(
                "0::/kubepods.slice/kubepods-burstable.slice/cri-containerd-{ID}.scope"
            ))
            .as_deref(),
            Some("containerd:3f4e1a2b9c0d")
        );
        assert_eq!(
            container(&format!(
                "11:memory:/docker/{ID}\n1:name=systemd:/docker/{ID}"
            ))
            .as_deref(),
            Some("docker:3f4e1a2b9c0d")
        );
        assert_eq!(container("0::/lxc/web01").as_deref(), Some("lxc:web01"));
        assert_eq!(
            placement(&format!("0::/system.slice/docker-{ID}.scope")).unit,
            None
        );
        assert_eq!(
            container(&format!("0::/machine.slice/libpod-conmon-{ID}.scope")),
            None
        );
    }
}
