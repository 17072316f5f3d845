//! A cheap hasher for the tables of names the checker looks things up in.
//!
//! std's default (SipHash) is built to resist inputs chosen to collide,
//! at about four times the cost per name; these tables hold a schema's
//! definition names, which come from files the caller chose to read, and a
//! schema crafted to collide would only make its own check slower.

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};

/// A set of names, hashed with [`NameHasher`].
pub(crate) type NameSet<K> = HashSet<K, BuildHasherDefault<NameHasher>>;

/// Positions by name, for names kept elsewhere: the entities own their
/// names, and this table holds only each name's hash and position, so
/// that indexing a name copies nothing.
#[derive(Clone, Debug, Default)]
pub(crate) struct NameIndex {
    /// Open addressing with linear probing: a name's hash and position
    /// plus one, or position 0 for an empty slot. A power of two long and
    /// at most half full, so that every probe ends at an empty slot.
    slots: Vec<(u64, usize)>,
    len: usize,
}

fn name_hash(name: &str) -> u64 {
    let mut h = NameHasher::default();
    h.write(name.as_bytes());
    h.finish()
}

impl NameIndex {
    /// An index with room for `n` names before it grows.
    pub(crate) fn with_capacity(n: usize) -> NameIndex {
        NameIndex {
            slots: vec![(0, 0); n.saturating_mul(2).next_power_of_two().max(8)],
            len: 0,
        }
    }

    /// The position of `name`; `name_at` reads the name at a position.
    pub(crate) fn get<'a>(&self, name: &str, name_at: impl Fn(usize) -> &'a str) -> Option<usize> {
        if self.slots.is_empty() {
            return None;
        }
        let hash = name_hash(name);
        let mask = self.slots.len() - 1;
        let mut s = hash as usize & mask;
        loop {
            let (h, p) = self.slots[s];
            if p == 0 {
                return None;
            }
            if h == hash && name_at(p - 1) == name {
                return Some(p - 1);
            }
            s = (s + 1) & mask;
        }
    }

    /// Records that `name`, not yet in the index, is at `pos`.
    pub(crate) fn insert(&mut self, name: &str, pos: usize) {
        if 2 * (self.len + 1) > self.slots.len() {
            let size = self.slots.len().saturating_mul(2).max(8);
            let old = std::mem::replace(&mut self.slots, vec![(0, 0); size]);
            for (h, p) in old {
                if p != 0 {
                    self.put(h, p);
                }
            }
        }
        self.put(name_hash(name), pos + 1);
        self.len += 1;
    }

    fn put(&mut self, hash: u64, slot: usize) {
        let mask = self.slots.len() - 1;
        let mut s = hash as usize & mask;
        while self.slots[s].1 != 0 {
            s = (s + 1) & mask;
        }
        self.slots[s] = (hash, slot);
    }
}

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
    fn an_index_finds_what_it_holds() {
        let names: Vec<String> = (0..1000).map(|i| format!("Type{i}")).collect();
        let name_at = |i: usize| names[i].as_str();
        // Grown from empty, and sized up front.
        for mut index in [NameIndex::default(), NameIndex::with_capacity(1000)] {
            assert_eq!(index.get("Type0", name_at), None);
            for (i, name) in names.iter().enumerate() {
                index.insert(name, i);
            }
            assert!((0..1000).all(|i| index.get(&names[i], name_at) == Some(i)));
            assert_eq!(index.get("Type1000", name_at), None);
            assert_eq!(index.get("", name_at), None);
        }
    }
}
