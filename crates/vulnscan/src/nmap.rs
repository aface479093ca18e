//! nmap as a managed subprocess: found with `which`, given an argument list
//! (never a shell string), always `-n -oX -`, bounded by a timeout, its
//! stderr kept for the error message, and its output parsed even when it
//! was cut short.

use std::path::{Path, PathBuf};
use std::time::Duration;

use secops_common::{Error, info, warn};

use crate::child::{self, Finished};
use crate::nmap_xml::{self, NmapRun};
use crate::ports::PortList;
use crate::target::Target;

/// How to install nmap, said whenever it is missing.
pub const INSTALL_HINT: &str = "install it with `apt-get install nmap` (Debian, Ubuntu), `dnf install nmap` (Fedora, RHEL) or `apk add nmap` (Alpine)";

/// The default NSE selection: the default and vuln scripts that are safe
/// and never reach beyond the targets (`external` scripts query
/// third-party services), plus the checks the rules judge. Without
/// http-slowloris-check, which holds connections open for minutes (one
/// HTTP port took 8.5 min with it, 9 s without) and only guesses.
pub const DEFAULT_SCRIPTS: &str = "(((default or vuln) and safe and not external) or ssl-enum-ciphers or ssl-cert or ssh2-enum-algos or ssh-auth-methods or http-methods or ftp-anon) and not http-slowloris-check";

/// How nmap should scan.
#[derive(Debug, Clone)]
pub struct NmapOptions {
    pub ports: Option<PortList>,
    pub top_ports: Option<u32>,
    /// `-sS` (needs root) instead of `-sT`.
    pub syn: bool,
    pub scripts: bool,
    /// `--version-intensity`; nmap's own default when `None`.
    pub version_intensity: Option<u8>,
    pub max_rate: Option<u32>,
    pub timeout: Duration,
}

/// Where nmap is, or `None` when it is not on `PATH`.
pub fn locate() -> Option<PathBuf> {
    which::which("nmap").ok()
}

/// The argument list for one run (without the program name).
pub fn arguments(opts: &NmapOptions, syn: bool, targets: &[Target]) -> Vec<String> {
    let mut args: Vec<String> = ["-n", "-oX", "-", "-sV", "--noninteractive"]
        .map(String::from)
        .to_vec();
    args.push(if syn { "-sS" } else { "-sT" }.to_string());
    if let Some(ports) = &opts.ports {
        args.extend(["-p".to_string(), ports.spec().to_string()]);
    }
    if let Some(top) = opts.top_ports {
        args.extend(["--top-ports".to_string(), top.to_string()]);
    }
    if let Some(intensity) = opts.version_intensity {
        args.extend(["--version-intensity".to_string(), intensity.to_string()]);
    }
    if opts.scripts {
        args.extend(["--script".to_string(), DEFAULT_SCRIPTS.to_string()]);
    }
    if let Some(rate) = opts.max_rate {
        args.extend(["--max-rate".to_string(), rate.to_string()]);
    }
    if targets.iter().any(Target::is_ipv6) {
        args.push("-6".to_string());
    }
    // Targets follow "--" as a last guard against being read as options.
    args.push("--".to_string());
    args.extend(targets.iter().map(|t| t.as_str().to_string()));
    args
}

/// Runs nmap and parses its XML. A SYN scan refused for want of root is
/// retried as a connect scan; a timeout or a failure after some hosts
/// finished gives those hosts with `complete == false`.
pub fn scan(nmap: &Path, opts: &NmapOptions, targets: &[Target]) -> Result<NmapRun, Error> {
    let v6 = targets.iter().filter(|t| t.is_ipv6()).count();
    if v6 > 0 && v6 < targets.len() {
        // nmap -6 silently skips IPv4 targets, and without it IPv6 ones.
        return Err(Error::bad_input(
            "nmap scans IPv4 and IPv6 targets in separate runs; give them to separate vulnscan invocations",
        ));
    }
    let first = child::run(nmap, &arguments(opts, opts.syn, targets), opts.timeout)?;
    if opts.syn && needs_root(&first.stderr) {
        warn!(
            "nmap refused the SYN scan (-sS) because it needs root; scanning with a connect scan (-sT) instead"
        );
        let second = child::run(nmap, &arguments(opts, false, targets), opts.timeout)?;
        return conclude(second);
    }
    conclude(first)
}

/// True when nmap quit because the scan type needs privileges.
fn needs_root(stderr: &str) -> bool {
    stderr.contains("QUITTING!") && stderr.contains("root privileges")
}

fn conclude(done: Finished) -> Result<NmapRun, Error> {
    let run = nmap_xml::parse(&done.stdout);
    let stderr = done.stderr.trim();
    if done.timed_out {
        warn!(
            "nmap ran past the timeout and was stopped; keeping the {} hosts it finished",
            run.hosts.len()
        );
    } else if !done.success || !run.complete {
        let detail = if stderr.is_empty() {
            "no message"
        } else {
            stderr
        };
        if run.hosts.is_empty() {
            return Err(Error::failed(format!("nmap failed: {detail}")));
        }
        warn!(
            "nmap failed part-way ({detail}); keeping the {} hosts it finished",
            run.hosts.len()
        );
    } else if !stderr.is_empty() {
        info!("nmap said: {stderr}");
    }
    Ok(run)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> NmapOptions {
        NmapOptions {
            ports: Some(PortList::parse("22,80").unwrap()),
            top_ports: None,
            syn: false,
            scripts: true,
            version_intensity: None,
            max_rate: Some(100),
            timeout: Duration::from_secs(1),
        }
    }

    #[test]
    fn the_argument_list_is_offline_safe_and_ends_with_the_targets() {
        let targets = [Target::parse("127.0.0.1").unwrap()];
        let args = arguments(&opts(), false, &targets);
        assert_eq!(&args[..3], ["-n", "-oX", "-"]);
        assert!(args.contains(&"-sT".to_string()));
        let script = &args[args.iter().position(|a| a == "--script").unwrap() + 1];
        assert!(script.contains("not external") && !script.contains("or external"));
        assert_eq!(&args[args.len() - 2..], ["--", "127.0.0.1"]);
    }

    #[test]
    fn the_root_refusal_is_recognised() {
        // nmap 7.93's words when -sS is asked for without root.
        let stderr = "You requested a scan type which requires root privileges.\nQUITTING!\n";
        assert!(needs_root(stderr));
        assert!(!needs_root("Failed to resolve \"x\".\nQUITTING!\n"));
    }
}
