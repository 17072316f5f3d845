//! A cheap hasher for the tables of names the checker looks things up in.
//!
//! std's default (SipHash) is built to resist inputs chosen to collide,
//! at about four times the cost per name; these tables hold a schema's
//! definition names, which come from files the caller chose to read, and a
//! schema crafted to collide would only make its own check slower.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// A map keyed by names, hashed with [`NameHasher`].
pub(crate) type NameMap<K, V> = HashMap<K, V, BuildHasherDefault<NameHasher>>;

/// A set of names, hashed with [`NameHasher`].
pub(crate) type NameSet<K> = HashSet<K, BuildHasherDefault<NameHasher>>;

/// Multiply-and-fold over eight bytes at a time: a multiplication mixes
/// each word into the high bits, and `finish` folds those onto the low
/// bits, which pick the bucket.
#[derive(Clone, Copy, Default)]
pub(crate) struct NameHasher(u64);

/// An odd constant with bits spread across the word (from the digits of
/// pi), so that the multiplication carries every input bit upwards.
const MIX: u64 = 0x243f_6a88_85a3_08d3;

impl NameHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0 ^ word).wrapping_mul(MIX);
    }
}

impl Hasher for NameHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            // The length keeps "ab" and "ab\0" apart.
            self.add(u64::from_le_bytes(w) ^ ((rest.len() as u64) << 59));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    fn finish(&self) -> u64 {
        self.0 ^ (self.0 >> 32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(s: &str) -> u64 {
        let mut h = NameHasher::default();
        std::hash::Hash::hash(s, &mut h);
        h.finish()
    }

    #[test]
    fn names_that_differ_hash_apart() {
        let names = [
            "",
            "a",
            "ab",
            "ab\0",
            "abcdefgh",
            "abcdefghi",
            "q_obj_x-arg",
        ];
        let hashes: std::collections::HashSet<u64> = names.iter().map(|n| hash(n)).collect();
        assert_eq!(hashes.len(), names.len());
    }

    #[test]
    fn a_map_finds_what_it_holds() {
        let mut m: NameMap<String, usize> = NameMap::default();
        for i in 0..1000 {
            m.insert(format!("Type{i}"), i);
        }
        assert!((0..1000).all(|i| m.get(format!("Type{i}").as_str()) == Some(&i)));
    }
}
