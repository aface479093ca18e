//! Scan targets: checked before anything runs, because they become nmap
//! arguments. Only addresses, CIDR ranges and host names pass, so a target
//! can never be read as an option (`-iL /etc/shadow`) or smuggle shell
//! syntax (`;rm -rf /`), even though nmap is never run through a shell.

use std::net::{IpAddr, Ipv4Addr, ToSocketAddrs};

use secops_common::Error;

/// A checked target as the operator wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target(String);

impl Target {
    /// Accepts `ADDR`, `ADDR/PREFIX` and RFC 1123 host names.
    pub fn parse(text: &str) -> Result<Target, Error> {
        let bad = || {
            Error::bad_input(format!(
                "invalid target {text:?}: expected an IP address, a CIDR range (10.0.0.0/24) or a host name"
            ))
        };
        let (addr, prefix) = match text.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (text, None),
        };
        if let Ok(ip) = addr.parse::<IpAddr>() {
            let max = if ip.is_ipv4() { 32 } else { 128 };
            match prefix.map(str::parse::<u8>) {
                None => {}
                Some(Ok(bits)) if bits <= max => {}
                Some(_) => return Err(bad()),
            }
            return Ok(Target(text.to_string()));
        }
        let hostname = prefix.is_none()
            && !addr.is_empty()
            && addr.len() <= 253
            && addr.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && !label.starts_with('-')
                    && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            });
        if hostname {
            Ok(Target(text.to_string()))
        } else {
            Err(bad())
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// How many addresses it names, for `--max-hosts`.
    pub fn size(&self) -> u128 {
        let Some((addr, bits)) = self.0.split_once('/') else {
            return 1;
        };
        let max = if addr.contains(':') { 128 } else { 32 };
        let free = max - bits.parse::<u32>().unwrap_or(max);
        1u128.checked_shl(free).unwrap_or(u128::MAX)
    }

    pub fn is_ipv6(&self) -> bool {
        self.0
            .split('/')
            .next()
            .and_then(|a| a.parse::<IpAddr>().ok())
            .is_some_and(|ip| ip.is_ipv6())
    }

    /// The addresses the built-in scanner connects to: a CIDR range
    /// expanded (IPv4 only; an IPv6 range is far too large to sweep by
    /// connect), a host name resolved. `limit` bounds the expansion.
    pub fn addresses(&self, limit: usize) -> Result<Vec<IpAddr>, Error> {
        let too_many = || {
            Error::bad_input(format!(
                "target {} has more than --max-hosts {limit} addresses",
                self.0
            ))
        };
        match self.0.split_once('/') {
            Some((addr, bits)) => {
                let bits: u32 = bits.parse().map_err(|_| too_many())?;
                let Ok(IpAddr::V4(base)) = addr.parse::<IpAddr>() else {
                    return match addr.parse::<IpAddr>() {
                        Ok(ip) if bits == 128 => Ok(vec![ip]),
                        _ => Err(Error::bad_input(format!(
                            "the built-in scanner cannot sweep the IPv6 range {}; give single addresses or use --engine nmap",
                            self.0
                        ))),
                    };
                };
                let count = 1u64 << (32 - bits);
                if count > limit as u64 {
                    return Err(too_many());
                }
                let mask = if bits == 0 {
                    0
                } else {
                    u32::MAX << (32 - bits)
                };
                let first = u32::from(base) & mask;
                Ok((0..count as u32)
                    .map(|i| IpAddr::V4(Ipv4Addr::from(first + i)))
                    .collect())
            }
            None => match self.0.parse::<IpAddr>() {
                Ok(ip) => Ok(vec![ip]),
                Err(_) => {
                    let resolved = (self.0.as_str(), 0).to_socket_addrs().map_err(|err| {
                        Error::failed(format!("cannot resolve {}: {err}", self.0))
                    })?;
                    let mut ips: Vec<IpAddr> = resolved.map(|sa| sa.ip()).collect();
                    ips.dedup();
                    ips.truncate(1);
                    Ok(ips)
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_syntax_and_options_are_not_targets() {
        for bad in [
            ";rm -rf /",
            "-iL",
            "--script=external",
            "127.0.0.1;id",
            "$(id)",
            "a b",
            "",
            "10.0.0.0/33",
            "host/24",
        ] {
            let err = Target::parse(bad).unwrap_err();
            assert!(err.message.contains("invalid target"), "{bad}: {err}");
        }
        for good in [
            "127.0.0.1",
            "127.0.0.0/30",
            "::1",
            "db-1.example.org",
            "localhost",
        ] {
            assert_eq!(Target::parse(good).unwrap().as_str(), good);
        }
    }

    #[test]
    fn ranges_expand_within_the_limit() {
        let t = Target::parse("127.0.0.5/30").unwrap();
        let ips: Vec<String> = t
            .addresses(4)
            .unwrap()
            .iter()
            .map(|ip| ip.to_string())
            .collect();
        assert_eq!(ips, ["127.0.0.4", "127.0.0.5", "127.0.0.6", "127.0.0.7"]);
        assert!(t.addresses(3).unwrap_err().message.contains("--max-hosts"));
    }
}
