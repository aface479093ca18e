//! Output kept in a result record, bounded by `--max-output` so one host
//! printing gigabytes cannot exhaust memory; the rest is counted, not kept.

/// The first `limit` bytes of a stream and its full length.
#[derive(Debug, Clone)]
pub struct Bounded {
    kept: Vec<u8>,
    limit: usize,
    total: u64,
}

impl Bounded {
    pub fn new(limit: usize) -> Bounded {
        Bounded {
            kept: Vec::new(),
            limit,
            total: 0,
        }
    }

    pub fn push(&mut self, bytes: &[u8]) {
        self.total += bytes.len() as u64;
        let room = self.limit.saturating_sub(self.kept.len());
        self.kept.extend_from_slice(&bytes[..bytes.len().min(room)]);
    }

    pub fn bytes(&self) -> &[u8] {
        &self.kept
    }

    pub fn truncated(&self) -> bool {
        self.total > self.kept.len() as u64
    }

    pub fn total(&self) -> u64 {
        self.total
    }

    /// The kept bytes as text: invalid UTF-8 (binary output) becomes U+FFFD
    /// rather than failing the record.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.kept).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_head_and_counts_the_rest() {
        let mut out = Bounded::new(4);
        out.push(b"ab");
        assert!(!out.truncated());
        out.push(b"cdef");
        assert_eq!(out.bytes(), b"abcd");
        assert_eq!(out.total(), 6);
        assert!(out.truncated());
        out.push(b"\xff");
        assert_eq!(out.text(), "abcd");
    }
}
