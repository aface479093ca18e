//! remote-run's command line.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};
use secops_common::cli::{CommonArgs, parse_duration};

const EXAMPLES: &str = "\
Examples:
  remote-run --inventory servers.json -- uptime
  remote-run -i servers.json --group web -- fim-check verify | secops-report
  remote-run -i hosts.ini --limit 'web:&prod:!web03' -- systemctl is-active nginx
  remote-run --ssh-config ~/.ssh/config --hosts 'web[01-20]' --parallel 8 -- df -h /
  remote-run -i hosts.yml --persist 10m -- uptime    # later runs reuse the connections
  remote-run -i hosts.ini push ./fim-check /usr/local/bin/fim-check --mode 755
  remote-run -i hosts.ini fetch /var/log/auth.log logs/   # logs/HOST/var/log/auth.log
  remote-run -i hosts.ini fetch /var/log/nginx/ logs/     # the directory, recursively
  remote-run -i hosts.ini --limit 'all:!prod' list        # which hosts, without running

The command is an argument vector: each argument is quoted for the remote
shell, so use `sh -c '...'` for pipes and `;`. Lines the command prints that
are secops records are re-emitted with host set to the inventory name; the
rest stays in the host's remote.result record.

Statuses: ok, failed, timeout, unreachable, auth_failed, hostkey_mismatch,
hostkey_unknown, interrupted. Exit status: 3 if any host was not run to completion
(anything but ok and failed), else 1 if a command failed or a record reached
--fail-on, else 0; 2 for bad usage or a bad inventory.";

/// Run a command or secops tool on many servers over the system OpenSSH, in
/// parallel, with one stream of records.
#[derive(Debug, Clone, Parser)]
#[command(name = "remote-run", version, after_help = EXAMPLES,
          subcommand_negates_reqs = true)]
pub struct Args {
    #[command(subcommand)]
    pub action: Option<Action>,

    #[command(flatten)]
    pub fleet: FleetArgs,

    /// The command and its arguments, after --
    #[arg(last = true, required = true, value_name = "COMMAND")]
    pub command: Vec<String>,

    #[command(flatten)]
    pub common: CommonArgs,
}

/// Instead of running a command.
#[derive(Debug, Clone, Subcommand)]
pub enum Action {
    /// Copy a local file to every host: written beside REMOTE, checked
    /// against the local SHA-256, given its mode, then renamed over REMOTE
    Push {
        /// The local file
        local: PathBuf,
        /// The remote path (a directory takes the local file name)
        remote: String,
        /// Octal mode of the remote file [default: the local file's]
        #[arg(long, value_name = "MODE", value_parser = parse_mode)]
        mode: Option<u32>,
    },
    /// Copy a file, or a directory recursively, from every host into
    /// DIR/HOST/REMOTE, each file atomically
    Fetch {
        /// The remote file or directory
        remote: String,
        /// Where the per-host copies go
        dir: PathBuf,
    },
    /// End the shared connections (--persist masters) of the selected hosts
    Close,
    /// Print the selected hosts' names, one a line, and run nothing (as
    /// `ansible --list-hosts`): check what a --limit pattern selects
    List,
}

/// Which hosts, and how they are reached; valid before or after the
/// subcommand.
#[derive(Debug, Clone, clap::Args)]
pub struct FleetArgs {
    /// Inventory: servers.json, or an Ansible INI or YAML inventory (by
    /// extension, else by content)
    #[arg(
        global = true,
        short,
        long,
        visible_alias = "servers",
        value_name = "FILE",
        help_heading = "Hosts"
    )]
    pub inventory: Option<PathBuf>,

    /// Only the inventory's hosts in GROUP
    #[arg(
        global = true,
        short,
        long,
        value_name = "GROUP",
        help_heading = "Hosts"
    )]
    pub group: Option<String>,

    /// Hosts by name or range (web[01-20],db1); names not in the inventory
    /// are ssh-config aliases
    #[arg(
        global = true,
        short = 'H',
        long,
        value_name = "PATTERN",
        help_heading = "Hosts"
    )]
    pub hosts: Option<String>,

    /// Ansible's host pattern, as ansible-core reads --limit: groups, hosts,
    /// globs and ~regexes joined by , or : with &intersect and !exclude,
    /// subscripts (web[0], web[1:3]) and @FILE (web:&prod:!web03)
    #[arg(
        global = true,
        short,
        long,
        value_name = "PATTERN",
        help_heading = "Hosts"
    )]
    pub limit: Option<String>,

    /// ssh client configuration handed to ssh -F
    #[arg(
        global = true,
        short = 'F',
        long,
        value_name = "FILE",
        help_heading = "Hosts"
    )]
    pub ssh_config: Option<PathBuf>,

    /// Hosts run at once
    #[arg(global = true, short, long, value_name = "N", default_value_t = 32,
          value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub parallel: u16,

    /// Give up on a host that does not answer within DURATION
    #[arg(global = true, long, value_name = "DURATION", default_value = "10s",
          value_parser = parse_duration)]
    pub connect_timeout: Duration,

    /// Kill the remote command after DURATION (runs it under coreutils timeout)
    #[arg(global = true, short, long, value_name = "DURATION", value_parser = parse_duration)]
    pub timeout: Option<Duration>,

    /// Bytes of stdout and of stderr kept per host in the result record
    #[arg(global = true, long, value_name = "BYTES", default_value_t = 65536)]
    pub max_output: usize,

    /// Trust and record keys of hosts not yet in known_hosts (TOFU);
    /// changed keys are still refused
    #[arg(global = true, long)]
    pub accept_new_hostkeys: bool,

    /// Keep each host's ssh connection open until idle for DURATION, so
    /// later runs skip the handshake (they share it without this flag too)
    #[arg(global = true, long, value_name = "DURATION", value_parser = parse_duration,
          help_heading = "Connections")]
    pub persist: Option<Duration>,

    /// Where the shared-connection sockets live, under ssh/ [default:
    /// $XDG_RUNTIME_DIR/secops, else /var/lib/secops as root, else
    /// $XDG_STATE_HOME/secops]
    #[arg(global = true, long, value_name = "DIR", help_heading = "Connections")]
    pub state_dir: Option<PathBuf>,
}

/// `755`, `0644`, `0o600`.
fn parse_mode(text: &str) -> Result<u32, String> {
    let digits = text.strip_prefix("0o").unwrap_or(text);
    u32::from_str_radix(digits, 8)
        .ok()
        .filter(|mode| *mode <= 0o7777)
        .ok_or_else(|| format!("{text:?} is not an octal file mode (e.g. 755)"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Args::command().debug_assert();
    }

    #[test]
    fn selection_flags_go_before_or_after_the_subcommand() {
        let args = Args::try_parse_from(["rr", "-i", "h.ini", "push", "a", "/b", "--mode", "755"])
            .unwrap();
        assert!(matches!(
            args.action,
            Some(Action::Push {
                mode: Some(0o755),
                ..
            })
        ));
        assert_eq!(
            args.fleet.inventory.as_deref(),
            Some(std::path::Path::new("h.ini"))
        );
        let args =
            Args::try_parse_from(["rr", "fetch", "/var/log/x", "d", "--limit", "web"]).unwrap();
        assert_eq!(args.fleet.limit.as_deref(), Some("web"));
        assert!(Args::try_parse_from(["rr", "--servers", "s.json", "--", "uptime"]).is_ok());
        assert!(
            Args::try_parse_from(["rr", "-H", "h1"]).is_err(),
            "a command is required"
        );
        assert!(parse_mode("9").is_err() && parse_mode("17777").is_err());
    }
}
