//! vulnscan's command line.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use secops_common::cli::{CommonArgs, PromArgs, RepeatArgs, StateArgs, parse_duration};

const EXAMPLES: &str = "\
Examples:
  vulnscan                                         scan 127.0.0.1 (nmap if installed)
  vulnscan --engine builtin --ports 1-65535 127.0.0.1
  vulnscan --top-ports 100 10.0.0.0/28 | secops-report --format table
  vulnscan --targets-file hosts.txt --fail-on medium | secops-notify --min-severity medium
  vulnscan --baseline last.jsonl 192.0.2.10         what changed since last.jsonl
  vulnscan --engine builtin --interval 5m 127.0.0.1  rescan; after the first pass only what is new
  vulnscan --servers servers.json --group web --top-ports 100
  vulnscan --from-xml scan.xml --rules my-rules.yaml judge an nmap run done by hand
  vulnscan --top-ports 100 --prom-file /var/lib/prometheus/node-exporter/vulnscan.prom 10.0.0.0/28

Scan only hosts you are authorised to scan. Exit status: 0 nothing at or
above --fail-on, 1 something was, 2 bad target or usage, 3 the scan failed
(nmap missing with --require-nmap, nmap killed or timed out) with partial
results still written.";

/// Scan hosts for open ports, services and known weaknesses with nmap (or a
/// built-in connect scanner), judge them with severities, and report what
/// changed since the last scan.
#[derive(Debug, Clone, Parser)]
#[command(name = "vulnscan", version, after_help = EXAMPLES)]
pub struct Args {
    /// Addresses, CIDR ranges or host names [default: 127.0.0.1]
    #[arg(value_name = "TARGET")]
    pub targets: Vec<String>,

    /// Read more targets from FILE, one per line (# starts a comment)
    #[arg(long, value_name = "FILE")]
    pub targets_file: Option<PathBuf>,

    /// Scan the servers of a remote-run inventory (servers.json, or an
    /// Ansible INI or YAML inventory): each one's address, else its name
    #[arg(long, value_name = "FILE")]
    pub servers: Option<PathBuf>,

    /// Only the servers of GROUP in --servers
    #[arg(long, value_name = "GROUP", requires = "servers")]
    pub group: Option<String>,

    /// Judge an nmap XML report (nmap -oX FILE) instead of scanning; - reads
    /// stdin
    #[arg(long, value_name = "FILE", help_heading = "Judging", conflicts_with_all = ["targets", "targets_file", "servers", "engine", "require_nmap", "ports", "top_ports", "syn", "no_scripts", "version_intensity"])]
    pub from_xml: Option<PathBuf>,

    /// Read a Greenbone (GVM/OpenVAS) XML report instead of scanning: its
    /// results become findings with GVM's severities; - reads stdin
    #[arg(long, value_name = "FILE", help_heading = "Judging", conflicts_with_all = ["targets", "targets_file", "servers", "engine", "require_nmap", "ports", "top_ports", "syn", "no_scripts", "version_intensity", "from_xml", "web", "web_only"])]
    pub from_gvm: Option<PathBuf>,

    /// Judge with the rules in FILE (YAML) instead of the built-in ones
    /// (config/vuln-rules.yaml as shipped)
    #[arg(long, value_name = "FILE", help_heading = "Judging")]
    pub rules: Option<PathBuf>,

    /// Which scanner to use; auto is nmap when installed, else builtin
    #[arg(long, value_enum, default_value = "auto", help_heading = "Scanning")]
    pub engine: EngineChoice,

    /// Exit 3 instead of falling back when nmap is not installed
    #[arg(long, help_heading = "Scanning")]
    pub require_nmap: bool,

    /// Ports to scan, e.g. 22,80,8000-8100 [default: nmap's top 1000, or
    /// every port with the built-in scanner]
    #[arg(short, long, value_name = "LIST", help_heading = "Scanning")]
    pub ports: Option<String>,

    /// Scan nmap's N most common ports (nmap only)
    #[arg(
        long,
        value_name = "N",
        conflicts_with = "ports",
        help_heading = "Scanning"
    )]
    pub top_ports: Option<u32>,

    /// SYN scan (-sS, needs root; falls back to -sT without it) (nmap only)
    #[arg(long, help_heading = "Scanning")]
    pub syn: bool,

    /// How hard -sV tries to name a service, 0-9 (nmap only) [default:
    /// nmap's 7]. 0 sends only the probes meant for the port: a silent
    /// listener or tarpit then costs seconds instead of minutes
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u8).range(0..=9), help_heading = "Scanning")]
    pub version_intensity: Option<u8>,

    /// Skip NSE scripts: ports and versions only (nmap only)
    #[arg(long, help_heading = "Scanning")]
    pub no_scripts: bool,

    /// Send at most N packets per second (nmap only)
    #[arg(long, value_name = "N", help_heading = "Safety")]
    pub max_rate: Option<u32>,

    /// Refuse target lists that add up to more than N addresses
    #[arg(long, value_name = "N", default_value_t = 256, help_heading = "Safety")]
    pub max_hosts: usize,

    /// Stop nmap after DURATION and keep the hosts it finished
    #[arg(long, value_name = "DURATION", default_value = "30m", value_parser = parse_duration, help_heading = "Safety")]
    pub timeout: Duration,

    /// Connects in flight at once (built-in scanner)
    #[arg(long, value_name = "N", default_value_t = 256,
          value_parser = clap::value_parser!(u16).range(1..), help_heading = "Built-in scanner")]
    pub concurrency: u16,

    /// Give up on one connect after DURATION (built-in scanner)
    #[arg(long, value_name = "DURATION", default_value = "500ms", value_parser = parse_duration, help_heading = "Built-in scanner")]
    pub connect_timeout: Duration,

    /// Wait DURATION for a service banner (built-in scanner)
    #[arg(long, value_name = "DURATION", default_value = "300ms", value_parser = parse_duration, help_heading = "Built-in scanner")]
    pub banner_timeout: Duration,

    /// Do not read banners (built-in scanner)
    #[arg(long, help_heading = "Built-in scanner")]
    pub no_banners: bool,

    /// Also scan every HTTP or HTTPS service found with nikto
    #[arg(long, help_heading = "Web (nikto)")]
    pub web: bool,

    /// Scan these URLs with nikto, without a port scan
    #[arg(long, value_name = "URL", num_args = 1.., help_heading = "Web (nikto)",
          conflicts_with_all = ["targets", "targets_file", "servers", "from_xml", "web", "ports", "top_ports", "syn", "engine", "require_nmap"])]
    pub web_only: Vec<String>,

    /// nikto to run [default: nikto, else nikto.pl, on PATH]
    #[arg(long, value_name = "PATH", help_heading = "Web (nikto)")]
    pub nikto: Option<PathBuf>,

    /// Exit 3 instead of going on without the web scan when nikto is not
    /// installed
    #[arg(long, help_heading = "Web (nikto)")]
    pub require_nikto: bool,

    /// Stop nikto after DURATION on each web server (its -maxtime); a
    /// scan cut short is reported, not compared
    #[arg(long, value_name = "DURATION", default_value = "20m", value_parser = parse_duration, help_heading = "Web (nikto)")]
    pub web_maxtime: Duration,

    /// nikto's plugins to run (its -Plugins), e.g. "headers;httpoptions"
    /// [default: nikto's own selection]
    #[arg(long, value_name = "LIST", help_heading = "Web (nikto)")]
    pub web_plugins: Option<String>,

    /// Compare with the vuln.port records in FILE instead of the last scan
    #[arg(long, value_name = "FILE", help_heading = "Changes")]
    pub baseline: Option<PathBuf>,

    #[command(flatten)]
    pub state: StateArgs,

    /// Neither read nor write the last scan in the state directory (an
    /// --interval loop still compares each pass with the one before)
    #[arg(long, conflicts_with = "state_dir", help_heading = "State")]
    pub no_state: bool,

    #[command(flatten)]
    pub repeat: RepeatArgs,

    #[command(flatten)]
    pub prom: PromArgs,

    #[command(flatten)]
    pub common: CommonArgs,
}

/// `--engine`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EngineChoice {
    Auto,
    Nmap,
    Builtin,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Args::command().debug_assert();
    }
}
