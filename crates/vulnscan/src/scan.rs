//! What a scan found, whichever engine ran it: the hosts, their open ports
//! and the script output attached to each. Records and rules read this, so
//! nmap and the built-in scanner are judged the same way.

use crate::rules::Finding;

/// One scanned host and its open ports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Host {
    /// The address scanned (nmap's `<address addr=...>`).
    pub addr: String,
    pub ports: Vec<Port>,
    /// Host-level script results (nmap's `<hostscript>`).
    pub scripts: Vec<Script>,
}

/// One port in state `open` (or `open|filtered`, as nmap says for UDP).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Port {
    pub proto: String,
    pub port: u16,
    pub state: String,
    pub service: Option<String>,
    pub product: Option<String>,
    pub version: Option<String>,
    pub cpe: Vec<String>,
    /// The first bytes the service sent (built-in engine only).
    pub banner: Option<String>,
    pub scripts: Vec<Script>,
}

/// One script result: an NSE script's id and nmap's human-readable
/// output, or one nikto finding (id `nikto`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Script {
    /// What rules name in `script:`.
    pub id: String,
    pub output: String,
    /// The finding's own identity where one script reports many (nikto:
    /// its test id and a digest of the URL and message); else `id`.
    pub key: Option<String>,
    /// The URL a web finding is about.
    pub url: Option<String>,
    pub references: Vec<String>,
    /// A scanner's own judgement (GVM's severity score), which stands
    /// instead of the rules'.
    pub verdict: Option<Finding>,
}

/// Which engine produced a scan, named in every record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Nmap,
    Builtin,
    /// `--web-only`: no port scan, nikto on the URLs given.
    Nikto,
    /// `--from-gvm`: a Greenbone report.
    Gvm,
}

impl Engine {
    pub fn as_str(self) -> &'static str {
        match self {
            Engine::Nmap => "nmap",
            Engine::Builtin => "builtin",
            Engine::Nikto => "nikto",
            Engine::Gvm => "gvm",
        }
    }
}
