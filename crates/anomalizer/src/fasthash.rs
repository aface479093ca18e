//! A small, fast hash for the per-line lookups (parse-tree children,
//! parameter values, template ids), after rustc's FxHash. SipHash, the
//! standard one, resists crafted collisions, but costs more than the
//! lookup itself here; every table hashed this way is capped (100
//! children per node, 64 values per position) or keyed by our own ids, so
//! a hostile log cannot grow a collision chain past that cap.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

const K: u64 = 0x517c_c1b7_2722_0a95;

#[derive(Debug, Default, Clone, Copy)]
pub struct FastHasher(u64);

impl FastHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(K);
    }
}

impl Hasher for FastHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            self.add(u64::from_le_bytes(chunk.try_into().expect("8 bytes")));
        }
        let mut tail = [0u8; 8];
        let rest = chunks.remainder();
        tail[..rest.len()].copy_from_slice(rest);
        self.add(u64::from_le_bytes(tail));
    }

    fn write_u8(&mut self, b: u8) {
        self.add(u64::from(b));
    }

    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }
}

/// A `HashMap` hashed with [`FastHasher`].
pub type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FastHasher>>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::BuildHasher;

    #[test]
    fn equal_keys_hash_alike_and_near_ones_apart() {
        let build = BuildHasherDefault::<FastHasher>::default();
        assert_eq!(build.hash_one("blk_<*>"), build.hash_one("blk_<*>"));
        assert_ne!(build.hash_one("user1"), build.hash_one("user2"));
        assert_ne!(build.hash_one("abcdefgh1"), build.hash_one("abcdefgh2"));
        assert_ne!(build.hash_one(1usize), build.hash_one(2usize));
    }
}
