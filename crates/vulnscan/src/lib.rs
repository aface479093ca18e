//! vulnscan: open ports, services and known weaknesses of the hosts one is
//! authorised to scan, found by nmap (or a built-in connect scanner when
//! nmap is missing), judged by rules into severities, and compared with the
//! previous scan so that cron alerts on changes.

mod builtin;
mod changes;
mod child;
pub mod cli;
mod gvm_xml;
mod matchers;
mod metrics;
mod nikto;
mod nmap;
pub mod nmap_xml;
mod ports;
mod records;
mod rules;
mod scan;
mod target;

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use secops_common::prom::{Findings, Passes};
use secops_common::repeat::Repeat;
use secops_common::{Error, Exit, LastRun, Output, Record, info, warn};
use secops_inventory::{Inventory, Selection, select};

use crate::changes::{Scans, Snapshot};
pub use crate::cli::Args;
use crate::cli::EngineChoice;
use crate::metrics::Figures;
use crate::ports::PortList;
pub use crate::records::TOOL;
use crate::records::{TABLE_COLUMNS, summary_record};
use crate::rules::RuleSet;
use crate::scan::{Engine, Host};
use crate::target::Target;

/// Runs vulnscan as the command line asks.
pub fn run(args: &Args) -> Result<Exit, Error> {
    let rules = match &args.rules {
        Some(path) => RuleSet::load(path)?,
        None => RuleSet::builtin()?,
    };
    if (args.from_xml.is_some() || args.from_gvm.is_some()) && args.repeat.interval.is_some() {
        return Err(Error::bad_input(
            "--interval rescans the targets, so it cannot judge a --from-xml or --from-gvm report",
        ));
    }
    let spec = args.common.output_spec(&TABLE_COLUMNS)?;
    let baseline = args.baseline.as_deref().map(Snapshot::load).transpose()?;
    let mut out = Output::open(&spec)?;
    // What the previous pass of an --interval loop saw: only what is new
    // since then is written again, besides the alerts still firing.
    let mut seen: Option<HashSet<FindingKey>> = None;
    // The last scan of the selection, loaded with the first complete one.
    let mut scans: Option<Scans> = None;
    let mut failed = false;
    // The state is kept once a pass's records are out: after each pass on
    // stdout, at the end with --output (the file appears only then).
    let mut save = |scans: &Option<Scans>| {
        if let Some(Err(err)) = scans.as_ref().map(Scans::save) {
            secops_common::diag::error(format_args!(
                "{err}; the next scan of these targets may report changes again"
            ));
            failed = true;
            return false;
        }
        true
    };
    // --prom-file: a loop rewrites it after each pass that completed; a
    // single run once its records are out (below).
    let interval = args.repeat.interval.is_some();
    let mut prom_passes = Passes::default();
    let mut last_pass = (Findings::default(), Figures::default());
    Repeat::new(&args.repeat)?.run(|pass| {
        let started = std::time::Instant::now();
        let mut scanned = match (&args.from_xml, &args.from_gvm) {
            (Some(path), _) => from_xml(path)?,
            (_, Some(path)) => from_gvm(path)?,
            _ if !args.web_only.is_empty() => web_only(args)?,
            _ => scan_targets(args)?,
        };
        if args.web {
            web_scan(args, &mut scanned)?;
        }
        let mut records: Vec<Record> = Vec::new();
        for host in &scanned.hosts {
            host_records(host, scanned.engine, &rules, &mut records);
        }
        // An incomplete scan neither compares nor is kept: its missing
        // hosts would read as closed ports and fixed findings.
        let changes = if scanned.incomplete.is_none() {
            if scans.is_none() {
                scans = Some(Scans::new(memory(args, scanned.selection.as_deref())?));
            }
            let baseline = baseline.as_ref().filter(|_| pass == 0);
            scans.as_mut().unwrap().pass(&records, baseline)
        } else {
            warn!("the scan is incomplete, so it is not compared with the last one nor kept");
            Vec::new()
        };
        let keys: HashSet<FindingKey> = records.iter().map(FindingKey::of).collect();
        for rec in &records {
            let new = seen
                .as_ref()
                .is_none_or(|seen| !seen.contains(&FindingKey::of(rec)));
            if new || rec.alert_id().is_some() {
                out.write(rec)?;
            }
        }
        for rec in &changes {
            out.write(rec)?;
        }
        // A loop's passes write what changed only; a single scan says
        // what it covered, findings or none.
        if !interval {
            let took = started.elapsed();
            out.write(&summary_record(
                &scanned.hosts,
                scanned.engine,
                &records,
                took,
            ))?;
        }
        out.flush()?;
        let findings = out.take_findings();
        if let Some(why) = scanned.incomplete {
            return Err(Error::failed(why));
        }
        let saved = spec.path.is_some() || save(&scans);
        let figures = Figures::of(&scanned.hosts);
        if interval {
            seen = Some(keys);
            if saved {
                prom_passes.note(args.prom.write(TOOL, &findings, figures.exposition()));
            }
        }
        last_pass = (findings, figures);
        Ok(())
    })?;
    let written = out.finish()?;
    if spec.path.is_some() {
        save(&scans);
    }
    let exit = Exit::of_run(failed, written.worst, args.common.fail_on);
    if interval {
        // A run that failed says so by its own error; the metrics' was
        // warned about.
        let prom = prom_passes.conclude();
        if exit != Exit::Failed {
            prom?;
        }
    } else if exit != Exit::Failed {
        let (findings, figures) = last_pass;
        args.prom.write(TOOL, &findings, figures.exposition())?;
    }
    Ok(exit)
}

/// The memory of the last scan of `selection`: its file in the state
/// directory, else (`--no-state`, `--from-xml`) the process's. A default
/// state directory that cannot be used costs the comparison, not the scan;
/// one given with `--state-dir` must work.
fn memory(args: &Args, selection: Option<&str>) -> Result<LastRun, Error> {
    let Some(selection) = selection.filter(|_| !args.no_state) else {
        return Ok(LastRun::in_memory());
    };
    match args.state.dir() {
        Ok(dir) => LastRun::load(&dir, &changes::state_name(selection)),
        Err(err) if args.state.state_dir.is_none() => {
            warn!("{err}; this scan is not compared with the last one nor kept");
            Ok(LastRun::in_memory())
        }
        Err(err) => Err(err),
    }
}

/// What makes a record the same from one pass to the next: its kind, the
/// port it is about and, for a finding, its id and severity (a finding that
/// got worse is new).
#[derive(PartialEq, Eq, Hash)]
struct FindingKey(String, Option<String>, Option<u64>, Option<String>, String);

impl FindingKey {
    fn of(rec: &Record) -> FindingKey {
        let text = |name: &str| rec.get(name).and_then(|v| v.as_str().map(String::from));
        FindingKey(
            rec.kind.clone(),
            text("addr"),
            rec.get("port").and_then(|v| v.as_u64()),
            text("id"),
            rec.severity.as_str().to_string(),
        )
    }
}

/// What was scanned, by whichever means.
struct Scanned {
    hosts: Vec<Host>,
    /// Why the scan is not whole (nmap or nikto cut short): its records
    /// are written, but it is neither compared nor kept.
    incomplete: Option<String>,
    engine: Engine,
    /// What the state file of this scan is keyed by; `None` when the scan
    /// is not vulnscan's own (`--from-xml`), so it is not kept.
    selection: Option<String>,
}

/// Scans the targets of the command line with nmap or the built-in scanner.
fn scan_targets(args: &Args) -> Result<Scanned, Error> {
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
                version_intensity: args.version_intensity,
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
    Ok(Scanned {
        hosts,
        incomplete: (!complete).then(|| {
            "nmap did not finish; the records written cover only the hosts it completed".to_string()
        }),
        engine: kind,
        selection: Some(selection),
    })
}

/// The largest nmap XML report `--xml` reads (a /16 with service and
/// script output is far smaller); it is read whole, then parsed.
const MAX_XML: u64 = 1 << 30;

/// The largest `--targets-file`.
const MAX_TARGETS_FILE: u64 = 64 << 20;

/// Reads an nmap XML report someone already made (`-` is stdin).
fn from_xml(path: &Path) -> Result<Scanned, Error> {
    let xml = secops_common::config::read_text(path, MAX_XML, "1 GiB, for nmap XML")?;
    if !xml.contains("<nmaprun") {
        return Err(Error::bad_input(format!(
            "{} is not nmap XML output (no <nmaprun> element); make it with nmap -oX FILE",
            path.display()
        )));
    }
    let run = nmap_xml::parse(&xml);
    info!(
        "{}: {} hosts with open ports or results",
        path.display(),
        run.hosts.len()
    );
    Ok(Scanned {
        hosts: run.hosts,
        incomplete: (!run.complete).then(|| {
            format!(
                "{} ends before </nmaprun> (nmap was interrupted?); the records written cover only the hosts it completed",
                path.display()
            )
        }),
        engine: Engine::Nmap,
        selection: None,
    })
}

/// Reads a Greenbone report (`-` is stdin). Its change history is kept
/// under its task's name, so each import of the same task's reports is
/// compared with the one before.
fn from_gvm(path: &Path) -> Result<Scanned, Error> {
    let xml = secops_common::config::read_text(path, MAX_XML, "1 GiB, for a GVM report")?;
    let report = gvm_xml::parse(&xml)
        .map_err(|err| Error::bad_input(format!("{}: {err}", path.display())))?;
    info!(
        "{}: {} hosts with results",
        path.display(),
        report.hosts.len()
    );
    let incomplete = match report.status.as_deref() {
        Some("Done") | None => None,
        Some(status) => Some(format!(
            "{}: the GVM scan is not done (status {status}); the records written cover its results so far",
            path.display()
        )),
    };
    let task = report.task.unwrap_or_else(|| path.display().to_string());
    Ok(Scanned {
        hosts: report.hosts,
        incomplete,
        engine: Engine::Gvm,
        selection: Some(format!("gvm {task}")),
    })
}

/// The command-line targets and those of `--targets-file` and `--servers`,
/// checked and without repeats, with 127.0.0.1 when none are given.
fn targets(args: &Args) -> Result<Vec<Target>, Error> {
    let mut texts: Vec<String> = args.targets.clone();
    if let Some(path) = &args.targets_file {
        let text =
            secops_common::config::read_text(path, MAX_TARGETS_FILE, "64 MiB, for a targets file")?;
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
    if let Some(path) = &args.servers {
        texts.extend(server_targets(path, args.group.as_deref())?);
    }
    if texts.is_empty() {
        texts.push("127.0.0.1".to_string());
    }
    let mut seen = HashSet::new();
    texts.retain(|t| seen.insert(t.clone()));
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

/// The addresses of a fleet inventory (secops-inventory, so vulnscan
/// reads every format remote-run does), each server's `address` or, as ssh
/// would, its name.
fn server_targets(path: &Path, group: Option<&str>) -> Result<Vec<String>, Error> {
    let inventory = Inventory::load(path)?;
    let selection = Selection {
        group,
        ..Selection::default()
    };
    let mut texts = Vec::new();
    for server in select(Some(&inventory), &selection)? {
        let text = server.address.as_deref().unwrap_or(&server.name);
        Target::parse(text).map_err(|err| {
            Error::bad_input(format!("{}: server {}: {err}", path.display(), server.name))
        })?;
        texts.push(text.to_string());
    }
    Ok(texts)
}

/// nikto's options, or `None` (warned) when it is missing and not
/// required.
fn nikto_options(args: &Args) -> Result<Option<nikto::NiktoOptions>, Error> {
    match nikto::locate(args.nikto.as_deref()) {
        Some(program) => Ok(Some(nikto::NiktoOptions {
            program,
            maxtime: args.web_maxtime,
            plugins: args.web_plugins.clone(),
        })),
        None if args.require_nikto || !args.web_only.is_empty() || args.nikto.is_some() => {
            Err(Error::failed(match &args.nikto {
                Some(path) => format!("--nikto {}: no such file", path.display()),
                None => format!("nikto is not installed; {}", nikto::INSTALL_HINT),
            }))
        }
        None => {
            warn!(
                "nikto is not installed, so the web servers found are not scanned; {}",
                nikto::INSTALL_HINT
            );
            Ok(None)
        }
    }
}

/// `--web`: nikto on every open port whose service is HTTP or HTTPS, its
/// findings added to the port as script results. The state this scan is
/// kept under names the web scan, so a scan with it is compared only with
/// scans with it.
fn web_scan(args: &Args, scanned: &mut Scanned) -> Result<(), Error> {
    let Some(opts) = nikto_options(args)? else {
        return Ok(());
    };
    for host in &mut scanned.hosts {
        for port in &mut host.ports {
            let web = match port.service {
                Some(_) => web_service(port),
                None => probe_web(&host.addr, port.port, args.connect_timeout),
            };
            let Some(tls) = web else {
                continue;
            };
            let target = nikto::WebTarget {
                addr: host.addr.clone(),
                port: port.port,
                tls,
                root: "/".to_string(),
            };
            let web = nikto::scan(&opts, &target)?;
            port.scripts.extend(web.scripts);
            scanned.incomplete = scanned.incomplete.take().or(web.incomplete);
        }
    }
    if let Some(selection) = &mut scanned.selection {
        selection.push_str(" web");
    }
    Ok(())
}

/// Whether an open port serves HTTP, by the service nmap named: `None`
/// for no, else whether it is TLS (`None` inside when unsure, for nikto
/// to find out).
fn web_service(port: &scan::Port) -> Option<Option<bool>> {
    let name = port.service.as_deref()?.to_ascii_lowercase();
    if port.proto != "tcp" || !name.contains("http") {
        return None;
    }
    Some((name.contains("https") || name.starts_with("ssl")).then_some(true))
}

/// The built-in scanner names no service, so the port is asked: an HTTP
/// server answers `HEAD / HTTP/1.0` with `HTTP/`, a TLS server answers
/// plain text with a TLS alert record (0x15 0x03). Same answer shape as
/// [`web_service`].
fn probe_web(addr: &str, port: u16, timeout: std::time::Duration) -> Option<Option<bool>> {
    use std::io::{Read, Write};
    let ip: std::net::IpAddr = addr.parse().ok()?;
    let mut conn = std::net::TcpStream::connect_timeout(&(ip, port).into(), timeout).ok()?;
    conn.set_read_timeout(Some(timeout.max(std::time::Duration::from_secs(2))))
        .ok()?;
    conn.write_all(b"HEAD / HTTP/1.0\r\n\r\n").ok()?;
    let mut head = [0u8; 5];
    let mut got = 0;
    while got < head.len() {
        match conn.read(&mut head[got..]) {
            Ok(0) | Err(_) => break,
            Ok(n) => got += n,
        }
    }
    match &head[..got] {
        [b'H', b'T', b'T', b'P', b'/'] => Some(None),
        [0x15, 0x03, ..] => Some(Some(true)),
        _ => None,
    }
}

/// `--web-only`: nikto on the URLs given, each a host with one open port.
fn web_only(args: &Args) -> Result<Scanned, Error> {
    let targets = args
        .web_only
        .iter()
        .map(|url| web_target(url))
        .collect::<Result<Vec<_>, _>>()?;
    let opts = nikto_options(args)?.expect("--web-only requires nikto");
    let mut hosts: Vec<Host> = Vec::new();
    let mut incomplete = None;
    for target in &targets {
        let web = nikto::scan(&opts, target)?;
        incomplete = incomplete.or(web.incomplete);
        let port = scan::Port {
            proto: "tcp".to_string(),
            port: target.port,
            state: "open".to_string(),
            service: Some(
                if target.tls == Some(true) {
                    "https"
                } else {
                    "http"
                }
                .to_string(),
            ),
            scripts: web.scripts,
            ..scan::Port::default()
        };
        match hosts.iter_mut().find(|h| h.addr == target.addr) {
            Some(host) => host.ports.push(port),
            None => hosts.push(Host {
                addr: target.addr.clone(),
                ports: vec![port],
                scripts: Vec::new(),
            }),
        }
    }
    Ok(Scanned {
        hosts,
        incomplete,
        engine: Engine::Nikto,
        selection: Some(format!("nikto {}", args.web_only.join(" "))),
    })
}

/// `http://HOST[:PORT][/PATH]` or `https://...`; HOST may be `[v6]`.
fn web_target(url: &str) -> Result<nikto::WebTarget, Error> {
    let bad = |why: &str| Error::bad_input(format!("--web-only {url:?}: {why}"));
    let (tls, rest) = if let Some(rest) = url.strip_prefix("https://") {
        (true, rest)
    } else if let Some(rest) = url.strip_prefix("http://") {
        (false, rest)
    } else {
        return Err(bad("expected http://HOST[:PORT][/PATH] or https://..."));
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let (host, port) = match authority.strip_prefix('[') {
        Some(v6) => {
            let (host, after) = v6.split_once(']').ok_or_else(|| bad("unclosed ["))?;
            (host, after.strip_prefix(':'))
        }
        None => match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        },
    };
    if host.is_empty() || host.starts_with('-') || host.contains(char::is_whitespace) {
        return Err(bad("no host"));
    }
    let port = match port {
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| bad("the port must be 1-65535"))?,
        None if tls => 443,
        None => 80,
    };
    Ok(nikto::WebTarget {
        addr: host.to_string(),
        port,
        tls: Some(tls),
        root: path.to_string(),
    })
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
    if args.top_ports.is_some() {
        warn!(
            "--top-ports ranks ports by nmap's frequency table, which the built-in scanner lacks, so it scans every port instead; {}",
            nmap::INSTALL_HINT
        );
    }
    let nmap_only = [
        ("--syn", args.syn),
        ("--version-intensity", args.version_intensity.is_some()),
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

/// Parses nmap XML and makes the records a scan makes of it, judged by
/// `rules` (rules file text, YAML) or by the built-in rules: the entry
/// point of the fuzz targets and tests. Returns the number of records.
pub fn records_of_nmap_xml(xml: &str, rules: Option<&str>) -> Result<usize, String> {
    let given;
    let rules = match rules {
        Some(text) => {
            given = RuleSet::parse(text)?;
            &given
        }
        None => builtin_rules()?,
    };
    let mut out = Vec::new();
    for host in &nmap_xml::parse(xml).hosts {
        host_records(host, Engine::Nmap, rules, &mut out);
    }
    Ok(out.len())
}

/// Parses a Greenbone XML report and makes the records an import makes of
/// it: the entry point of the fuzz target. Returns the number of records.
pub fn records_of_gvm_xml(xml: &str) -> Result<usize, String> {
    let rules = builtin_rules()?;
    let mut out = Vec::new();
    for host in &gvm_xml::parse(xml)?.hosts {
        host_records(host, Engine::Gvm, rules, &mut out);
    }
    Ok(out.len())
}

/// The built-in rules, parsed once for the fuzz targets' entry points.
fn builtin_rules() -> Result<&'static RuleSet, String> {
    static BUILTIN: std::sync::OnceLock<Result<RuleSet, String>> = std::sync::OnceLock::new();
    BUILTIN
        .get_or_init(|| RuleSet::builtin().map_err(|err| err.to_string()))
        .as_ref()
        .map_err(String::clone)
}

/// A host's `vuln.port` and `vuln.finding` records.
fn host_records(host: &Host, engine: Engine, rules: &RuleSet, out: &mut Vec<Record>) {
    for port in &host.ports {
        out.push(records::port_record(&host.addr, port, engine));
        for finding in rules.judge_port(&host.addr, port) {
            out.push(records::finding_record(
                &host.addr,
                Some(port),
                &finding,
                engine,
            ));
        }
    }
    for script in &host.scripts {
        let finding = rules.judge_script(&host.addr, None, script);
        out.push(records::finding_record(&host.addr, None, &finding, engine));
    }
}
