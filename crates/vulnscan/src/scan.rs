//! What a scan found, whichever engine ran it: the hosts, their open ports
//! and the script output attached to each. Records and rules read this, so
//! nmap and the built-in scanner are judged the same way.

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

/// One NSE script result: its id and nmap's human-readable output.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Script {
    pub id: String,
    pub output: String,
}

/// Which engine produced a scan, named in every record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Nmap,
    Builtin,
}

impl Engine {
    pub fn as_str(self) -> &'static str {
        match self {
            Engine::Nmap => "nmap",
            Engine::Builtin => "builtin",
        }
    }
}
