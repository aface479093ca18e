//! remote-run's command line.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use secops_common::cli::{CommonArgs, parse_duration};

const EXAMPLES: &str = "\
Examples:
  remote-run --servers servers.json -- uptime
  remote-run --servers servers.json --group web -- fim-check verify | secops-report
  remote-run --ssh-config ~/.ssh/config --hosts 'web[01-20]' --parallel 8 -- df -h /
  remote-run --hosts db1,db2 --timeout 30s -- sh -c 'journalctl -p err -n 50'

The command is an argument vector: each argument is quoted for the remote
shell, so use `sh -c '...'` for pipes and `;`. Lines the command prints that
are secops records are re-emitted with host set to the inventory name; the
rest stays in the host's remote.result record.

Statuses: ok, failed, timeout, unreachable, auth_failed, hostkey_mismatch,
hostkey_unknown. Exit status: 3 if any host was not run to completion
(anything but ok and failed), else 1 if a command failed or a record reached
--fail-on, else 0; 2 for bad usage or a bad inventory.";

/// Run a command or secops tool on many servers over the system OpenSSH, in
/// parallel, with one stream of records.
#[derive(Debug, Clone, Parser)]
#[command(name = "remote-run", version, after_help = EXAMPLES)]
pub struct Args {
    /// Inventory (servers.json): name, address, port, user, identity_file,
    /// jump, groups
    #[arg(long, value_name = "FILE", help_heading = "Hosts")]
    pub servers: Option<PathBuf>,

    /// Only the inventory's hosts in GROUP
    #[arg(short, long, value_name = "GROUP", help_heading = "Hosts")]
    pub group: Option<String>,

    /// Hosts by name or clush-style range (web[01-20],db1); names not in
    /// the inventory are ssh-config aliases
    #[arg(short = 'H', long, value_name = "PATTERN", help_heading = "Hosts")]
    pub hosts: Option<String>,

    /// ssh client configuration handed to ssh -F
    #[arg(short = 'F', long, value_name = "FILE", help_heading = "Hosts")]
    pub ssh_config: Option<PathBuf>,

    /// Hosts run at once
    #[arg(short, long, value_name = "N", default_value_t = 32,
          value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub parallel: u16,

    /// Give up on a host that does not answer within DURATION
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub connect_timeout: Duration,

    /// Kill the remote command after DURATION (runs it under coreutils timeout)
    #[arg(short, long, value_name = "DURATION", value_parser = parse_duration)]
    pub timeout: Option<Duration>,

    /// Bytes of stdout and of stderr kept per host in the result record
    #[arg(long, value_name = "BYTES", default_value_t = 65536)]
    pub max_output: usize,

    /// Trust and record keys of hosts not yet in known_hosts (TOFU);
    /// changed keys are still refused
    #[arg(long)]
    pub accept_new_hostkeys: bool,

    /// The command and its arguments, after --
    #[arg(last = true, required = true, value_name = "COMMAND")]
    pub command: Vec<String>,

    #[command(flatten)]
    pub common: CommonArgs,
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
