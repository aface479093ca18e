//! `--ports` lists (`22,80,8000-8100`): parsed once so the built-in scanner
//! gets the numbers and nmap gets a list that cannot carry anything else.

use secops_common::Error;

/// The ports to scan, in the operator's spelling and expanded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortList {
    spec: String,
    ports: Vec<u16>,
}

impl PortList {
    pub fn parse(spec: &str) -> Result<PortList, Error> {
        let bad = |why: &str| Error::bad_input(format!("invalid --ports {spec:?}: {why}"));
        let mut ports = Vec::new();
        for part in spec.split(',') {
            let (lo, hi) = part.split_once('-').unwrap_or((part, part));
            let lo: u16 = lo
                .parse()
                .map_err(|_| bad("expected N or N-M, e.g. 22,80,8000-8100"))?;
            let hi: u16 = hi
                .parse()
                .map_err(|_| bad("expected N or N-M, e.g. 22,80,8000-8100"))?;
            if lo == 0 || lo > hi {
                return Err(bad("ports run from 1 to 65535 and ranges go upwards"));
            }
            ports.extend(lo..=hi);
        }
        ports.sort_unstable();
        ports.dedup();
        Ok(PortList {
            spec: spec.to_string(),
            ports,
        })
    }

    /// Every TCP port, the built-in scanner's default.
    pub fn all() -> PortList {
        PortList {
            spec: "1-65535".to_string(),
            ports: (1..=u16::MAX).collect(),
        }
    }

    pub fn spec(&self) -> &str {
        &self.spec
    }

    pub fn ports(&self) -> &[u16] {
        &self.ports
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_and_ranges_expand_sorted_and_unique() {
        let list = PortList::parse("80,20-22,22").unwrap();
        assert_eq!(list.ports(), [20, 21, 22, 80]);
        for bad in ["0", "22-20", "ssh", "1-70000", "22;id", ""] {
            assert!(PortList::parse(bad).is_err(), "{bad}");
        }
    }
}
