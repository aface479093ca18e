//! nmap's `-oX` output turned into [`Host`]s. Read as a stream of events
//! (quick-xml) rather than as a tree, because a tree parser rejects the
//! whole document when nmap was killed half-way, while a stream still gives
//! every `<host>` that was closed before the cut.

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

use crate::scan::{Host, Port, Script};

/// The hosts nmap finished, and whether the document was complete.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NmapRun {
    pub hosts: Vec<Host>,
    /// False when the XML stopped before `</nmaprun>` (nmap killed or
    /// timed out): the hosts are still right, the scan is not whole.
    pub complete: bool,
}

/// Parses nmap XML, keeping open ports only; never fails, because a
/// truncated document is an expected outcome, not an error.
pub fn parse(xml: &str) -> NmapRun {
    let mut reader = Reader::from_str(xml);
    let mut run = NmapRun::default();
    let mut host: Option<Host> = None;
    let mut port: Option<Port> = None;
    let mut in_cpe = false;
    loop {
        let event = match reader.read_event() {
            Ok(Event::Eof) | Err(_) => break,
            Ok(event) => event,
        };
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let empty = matches!(event, Event::Empty(_));
                match e.name().as_ref() {
                    b"host" if !empty => host = Some(Host::default()),
                    b"address" => {
                        if let Some(h) = host.as_mut() {
                            let family = attr(e, "addrtype");
                            if h.addr.is_empty()
                                && matches!(family.as_deref(), Some("ipv4" | "ipv6"))
                            {
                                h.addr = attr(e, "addr").unwrap_or_default();
                            }
                        }
                    }
                    b"port" if host.is_some() => {
                        port = Some(Port {
                            proto: attr(e, "protocol").unwrap_or_default(),
                            port: attr(e, "portid").and_then(|p| p.parse().ok()).unwrap_or(0),
                            ..Port::default()
                        });
                    }
                    b"state" => {
                        if let Some(p) = port.as_mut() {
                            p.state = attr(e, "state").unwrap_or_default();
                        }
                    }
                    b"service" => {
                        if let Some(p) = port.as_mut() {
                            p.service = attr(e, "name");
                            p.product = attr(e, "product");
                            p.version = attr(e, "version");
                        }
                    }
                    b"cpe" if !empty && port.is_some() => in_cpe = true,
                    b"script" => {
                        let script = Script {
                            id: attr(e, "id").unwrap_or_default(),
                            output: attr(e, "output").unwrap_or_default(),
                            ..Script::default()
                        };
                        if let Some(p) = port.as_mut() {
                            p.scripts.push(script);
                        } else if let Some(h) = host.as_mut() {
                            h.scripts.push(script);
                        }
                    }
                    _ => {}
                }
            }
            Event::Text(ref text) if in_cpe => {
                if let (Some(p), Ok(cpe)) = (port.as_mut(), text.xml_content()) {
                    p.cpe.push(cpe.trim().to_string());
                }
            }
            Event::End(ref e) => match e.name().as_ref() {
                b"cpe" => in_cpe = false,
                b"port" => {
                    if let (Some(h), Some(p)) = (host.as_mut(), port.take())
                        && p.state.starts_with("open")
                    {
                        h.ports.push(p);
                    }
                }
                b"host" => {
                    if let Some(h) = host.take().filter(|h| !h.addr.is_empty()) {
                        run.hosts.push(h);
                    }
                }
                b"nmaprun" => run.complete = true,
                _ => {}
            },
            _ => {}
        }
    }
    run
}

/// An attribute's unescaped value; a malformed one counts as absent.
/// Greenbone reports (gvm_xml) are read with it too.
pub(crate) fn attr(e: &BytesStart<'_>, name: &str) -> Option<String> {
    e.try_get_attribute(name)
        .ok()
        .flatten()
        .and_then(|a| a.unescape_value().ok().map(|v| v.into_owned()))
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO_HOSTS: &str = r#"<?xml version="1.0"?>
<nmaprun scanner="nmap" args="nmap -n -oX - 127.0.0.1">
<host><status state="up"/><address addr="127.0.0.1" addrtype="ipv4"/>
<ports><extraports state="closed" count="998"/>
<port protocol="tcp" portid="22"><state state="open" reason="syn-ack"/><service name="ssh" product="OpenSSH" version="9.2p1 Debian 2" method="probed"><cpe>cpe:/a:openbsd:openssh:9.2p1</cpe></service><script id="ssh-auth-methods" output="&#xa;  Supported authentication methods: &#xa;    publickey&#xa;    password"/></port>
<port protocol="tcp" portid="25"><state state="closed" reason="reset"/></port>
</ports></host>
<host><status state="up"/><address addr="127.0.0.2" addrtype="ipv4"/>
<ports><port protocol="tcp" portid="80"><state state="open"/><service name="http"/></port></ports></host>
</nmaprun>"#;

    #[test]
    fn open_ports_services_cpes_and_scripts_are_read() {
        let run = parse(TWO_HOSTS);
        assert!(run.complete);
        assert_eq!(run.hosts.len(), 2);
        let ssh = &run.hosts[0].ports[0];
        assert_eq!(run.hosts[0].ports.len(), 1, "the closed port is dropped");
        assert_eq!((ssh.proto.as_str(), ssh.port), ("tcp", 22));
        assert_eq!(ssh.product.as_deref(), Some("OpenSSH"));
        assert_eq!(ssh.version.as_deref(), Some("9.2p1 Debian 2"));
        assert_eq!(ssh.cpe, ["cpe:/a:openbsd:openssh:9.2p1"]);
        assert_eq!(ssh.scripts[0].id, "ssh-auth-methods");
        assert!(ssh.scripts[0].output.contains("\n    password"));
    }

    #[test]
    fn a_cut_document_keeps_the_hosts_it_finished() {
        for cut in [TWO_HOSTS.find("127.0.0.2").unwrap(), TWO_HOSTS.len() - 12] {
            let run = parse(&TWO_HOSTS[..cut]);
            assert!(!run.complete);
            let addrs: Vec<&str> = run.hosts.iter().map(|h| h.addr.as_str()).collect();
            assert_eq!(addrs, ["127.0.0.1"], "cut at {cut}");
        }
    }
}
