//! vulnscan: open ports, services and known weaknesses of the hosts one is
//! authorised to scan, found by nmap (or a built-in connect scanner when
//! nmap is missing), judged by rules into severities, and compared with the
//! previous scan so that cron alerts on changes.

mod builtin;
pub mod cli;
mod history;
mod nmap;
pub mod nmap_xml;
mod ports;
mod records;
mod rules;
mod scan;
mod target;

use std::path::PathBuf;

use secops_common::{Error, Exit, Output, Record, info, warn};

pub use crate::cli::Args;
use crate::cli::EngineChoice;
use crate::history::Snapshot;
use crate::ports::PortList;
use crate::records::TABLE_COLUMNS;
pub use crate::records::TOOL;
use crate::scan::{Engine, Host};
use crate::target::Target;

/// Runs vulnscan as the command line asks.
pub fn run(args: &Args) -> Result<Exit, Error> {
    let targets = targets(args)?;
    let ports = args.ports.as_deref().map(PortList::parse).transpose()?;
    let engine = engine(args)?;
    let (hosts, complete) = match &engine {
        Some(nmap) => {
            let opts = nmap::NmapOptions {
                ports: ports.clone(),
                top_ports: args.top_ports,
                syn: args.syn,
                scripts: !args.no_scripts,
                max_rate: args.max_rate,
                timeout: args.timeout,
            };
            let run = nmap::scan(nmap, &opts, &targets)?;
            (run.hosts, run.complete)
        }
        None => (builtin_scan(args, &targets, ports.clone())?, true),
    };
    let kind = if engine.is_some() {
        Engine::Nmap
    } else {
        Engine::Builtin
    };

    let mut records: Vec<Record> = Vec::new();
    for host in &hosts {
        host_records(host, kind, &mut records);
    }
    let selection = format!(
        "{} {} ports={}",
        kind.as_str(),
        targets
            .iter()
            .map(Target::as_str)
            .collect::<Vec<_>>()
            .join(" "),
        match (&ports, args.top_ports) {
            (Some(list), _) => list.spec().to_string(),
            (None, Some(top)) => format!("top{top}"),
            (None, None) => "default".to_string(),
        }
    );
    let changes = changes(args, &selection, &records, complete)?;

    let mut out = Output::open(&args.common.output_spec(&TABLE_COLUMNS)?)?;
    for rec in records.iter().chain(&changes) {
        out.write(rec)?;
    }
    let written = out.finish()?;
    if !complete {
        return Err(Error::failed(
            "nmap did not finish; the records written cover only the hosts it completed",
        ));
    }
    Ok(Exit::for_findings(written.worst, args.common.fail_on))
}

/// The command-line targets and those of `--targets-file`, checked, with
/// 127.0.0.1 when none are given.
fn targets(args: &Args) -> Result<Vec<Target>, Error> {
    let mut texts: Vec<String> = args.targets.clone();
    if let Some(path) = &args.targets_file {
        let text = std::fs::read_to_string(path)
            .map_err(|err| Error::bad_input(format!("cannot read {}: {err}", path.display())))?;
        for (n, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if !line.is_empty() {
                Target::parse(line).map_err(|err| {
                    Error::bad_input(format!("{}:{}: {err}", path.display(), n + 1))
                })?;
                texts.push(line.to_string());
            }
        }
    }
    if texts.is_empty() {
        texts.push("127.0.0.1".to_string());
    }
    let targets = texts
        .iter()
        .map(|t| Target::parse(t))
        .collect::<Result<Vec<_>, _>>()?;
    let total: u128 = targets.iter().map(Target::size).sum();
    if total > args.max_hosts as u128 {
        return Err(Error::bad_input(format!(
            "the targets add up to {total} addresses, more than --max-hosts {}",
            args.max_hosts
        )));
    }
    Ok(targets)
}

/// nmap's path, or `None` for the built-in scanner.
fn engine(args: &Args) -> Result<Option<PathBuf>, Error> {
    let located = match args.engine {
        EngineChoice::Builtin => return Ok(None),
        EngineChoice::Auto | EngineChoice::Nmap => nmap::locate(),
    };
    match located {
        Some(path) => Ok(Some(path)),
        None if args.require_nmap || args.engine == EngineChoice::Nmap => Err(Error::failed(
            format!("nmap is not installed; {}", nmap::INSTALL_HINT),
        )),
        None => {
            warn!(
                "nmap is not installed, so only the built-in connect scan runs (no versions, no scripts); {}",
                nmap::INSTALL_HINT
            );
            Ok(None)
        }
    }
}

fn builtin_scan(
    args: &Args,
    targets: &[Target],
    ports: Option<PortList>,
) -> Result<Vec<Host>, Error> {
    let nmap_only = [
        ("--top-ports", args.top_ports.is_some()),
        ("--syn", args.syn),
        ("--max-rate", args.max_rate.is_some()),
    ];
    if let Some((flag, _)) = nmap_only.iter().find(|(_, given)| *given) {
        return Err(Error::bad_input(format!(
            "{flag} needs nmap, but the built-in scanner is in use; {}",
            nmap::INSTALL_HINT
        )));
    }
    let mut addrs = Vec::new();
    for target in targets {
        addrs.extend(target.addresses(args.max_hosts)?);
    }
    let opts = builtin::BuiltinOptions {
        ports: ports.unwrap_or_else(PortList::all),
        concurrency: usize::from(args.concurrency),
        timeout: args.connect_timeout,
        banner_timeout: if args.no_banners {
            std::time::Duration::ZERO
        } else {
            args.banner_timeout
        },
    };
    info!(
        "connect-scanning {} ports on {} addresses",
        opts.ports.ports().len(),
        addrs.len()
    );
    Ok(builtin::scan(&addrs, &opts))
}

/// A host's `vuln.port` and `vuln.finding` records.
fn host_records(host: &Host, engine: Engine, out: &mut Vec<Record>) {
    for port in &host.ports {
        out.push(records::port_record(&host.addr, port, engine));
        for finding in rules::judge(&host.addr, port) {
            out.push(records::finding_record(
                &host.addr,
                Some(port),
                &finding,
                engine,
            ));
        }
    }
    for script in &host.scripts {
        let finding = rules::judge_script(script);
        out.push(records::finding_record(&host.addr, None, &finding, engine));
    }
}

/// Change records against `--baseline` or the kept last scan, and this scan
/// kept for next time. An incomplete scan neither diffs nor replaces the
/// state: its missing hosts would read as closed ports.
fn changes(
    args: &Args,
    selection: &str,
    records: &[Record],
    complete: bool,
) -> Result<Vec<Record>, Error> {
    if !complete {
        warn!("the scan is incomplete, so it is not compared with the last one nor kept");
        return Ok(Vec::new());
    }
    let now = Snapshot::of(records);
    let state = if args.no_state {
        None
    } else {
        let dir = secops_common::state::state_dir(args.state_dir.as_deref())?;
        Some(history::state_file(&dir, selection))
    };
    let before = match (&args.baseline, &state) {
        (Some(path), _) => Some(Snapshot::load(path)?),
        (None, Some(path)) if path.exists() => Some(Snapshot::load(path)?),
        _ => None,
    };
    if let Some(path) = &state {
        history::save(path, records)?;
    }
    Ok(match before {
        Some(before) => history::changes(&before, &now),
        None => {
            info!("no previous scan of these targets; the next run reports changes");
            Vec::new()
        }
    })
}
