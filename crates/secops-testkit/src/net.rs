//! Loopback ports for the servers tests start and the closed ports they
//! point tools at.

use std::net::TcpListener;
use std::sync::atomic::{AtomicU16, Ordering};

/// A port on loopback address `addr` that was free a moment ago (bound,
/// read, released), for a server about to start there.
pub fn free_port(addr: &str) -> u16 {
    TcpListener::bind((addr, 0))
        .and_then(|listener| listener.local_addr())
        .unwrap_or_else(|err| panic!("cannot bind a port on {addr}: {err}"))
        .port()
}

/// A port on 127.0.0.1 that nothing listens on.
pub fn closed_port() -> u16 {
    free_port("127.0.0.1")
}

/// A block of consecutive 127.0.0.1 ports that were all free when taken,
/// held by listeners; tests keep some and drop the rest to make closed
/// ports nothing else listens on. Below the ephemeral range, so no
/// connection a test makes can land on one of them by chance.
pub struct PortBlock {
    pub first: u16,
    pub size: u16,
    pub listeners: Vec<(u16, TcpListener)>,
}

/// Blocks taken by this process so far, so its tests running in parallel
/// take different ones.
static NEXT_BLOCK: AtomicU16 = AtomicU16::new(0);

impl PortBlock {
    pub fn take(size: u16) -> PortBlock {
        let base = 20_000 + (std::process::id() % 100) as u16 * 100;
        for _ in 0..200 {
            let first = base + NEXT_BLOCK.fetch_add(size, Ordering::Relaxed) % 2_000;
            let listeners: Vec<(u16, TcpListener)> = (first..first + size)
                .filter_map(|port| {
                    TcpListener::bind(("127.0.0.1", port))
                        .ok()
                        .map(|l| (port, l))
                })
                .collect();
            if listeners.len() == usize::from(size) {
                return PortBlock {
                    first,
                    size,
                    listeners,
                };
            }
        }
        panic!("no free block of {size} loopback ports between 20000 and 32000");
    }

    pub fn last(&self) -> u16 {
        self.first + self.size - 1
    }

    /// `FIRST-LAST`, as `--ports` and nmap's `-p` take it.
    pub fn range(&self) -> String {
        format!("{}-{}", self.first, self.last())
    }

    /// Keeps listening only on `keep` (offsets into the block); returns
    /// the ports still listening.
    pub fn keep(&mut self, keep: &[u16]) -> std::collections::BTreeSet<u16> {
        let first = self.first;
        self.listeners
            .retain(|(port, _)| keep.contains(&(port - first)));
        self.listeners.iter().map(|(port, _)| *port).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_block_keeps_only_what_is_asked_and_the_rest_is_closed() {
        let mut block = PortBlock::take(3);
        assert_eq!(
            block.range(),
            format!("{}-{}", block.first, block.first + 2)
        );
        let kept = block.keep(&[1]);
        assert_eq!(kept.into_iter().collect::<Vec<_>>(), [block.first + 1]);
        assert!(std::net::TcpStream::connect(("127.0.0.1", block.first + 1)).is_ok());
        assert!(std::net::TcpStream::connect(("127.0.0.1", block.first)).is_err());
        assert!(std::net::TcpStream::connect(("127.0.0.1", closed_port())).is_err());
    }
}
