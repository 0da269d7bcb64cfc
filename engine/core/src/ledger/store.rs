//! Bounded memory of past requests (idempotency, transaction lookups,
//! rollbacks, payment life-cycles), and the keyed fingerprints every
//! domain's tables are keyed by (open rounds live in `gaming/rounds.rs`).
//!
//! Keys are 128-bit keyed SipHash fingerprints of (source, external id): at
//! 10M retained ids the chance of any two colliding is about 10^-25, and the
//! key is not known to the senders, so collisions cannot be crafted. The full
//! ids stay in the journal for audit.
//!
//! Records live in a FIFO ring in arrival order; the hash table stores only a
//! 4-byte position per entry, so 10M retained requests cost the table ~84 MB.
//! Eviction is oldest-first by count and age, except that a deposit or
//! withdrawal that is still open is never forgotten: it moves to a small
//! side map until it reaches a final state.
//!
//! Retention is exact: the ring never holds more than `len_max` records and
//! a record leaves it (and can no longer be found) as soon as it is past
//! either limit. Only the table's bookkeeping is batched: the entries of up
//! to [`STALE_MAX`] evicted records stay in the table, where lookups skip
//! them because their positions are no longer in the ring, and are removed
//! together. Removing one entry is a random DRAM access; removing a batch
//! lets those independent accesses overlap (memory-level parallelism)
//! instead of costing one full miss per request.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hash, Hasher};

use hashbrown::HashTable;
use siphasher::sip128::{Hasher128, SipHasher13};

use crate::codec::StableHasher;
use crate::command::{Command, RoundRef};
use crate::ids::{ExtId, PlayerId, SourceId};
use crate::money::{Amount, Currency};
use crate::outcome::{Outcome, PaymentState, TxState};

/// A 128-bit fingerprint used as a map key. Already uniformly random, so the
/// maps hash it by taking its low word.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Key(pub(crate) u64, pub(crate) u64);

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.0);
    }
}

/// Passes an already random `u64` through as the hash.
#[derive(Default)]
pub(crate) struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Only `Key` is hashed with this; fold anything else defensively.
        for &byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(byte);
        }
    }
    fn write_u64(&mut self, value: u64) {
        self.0 = value;
    }
}

pub(crate) type KeyMap<V> = HashMap<Key, V, BuildHasherDefault<PassThrough>>;

/// Derives keys from external ids with a secret SipHash key.
#[derive(Clone, Debug)]
pub(crate) struct Fingerprinter {
    seed: [u64; 2],
}

impl Fingerprinter {
    pub(crate) fn new(seed: [u64; 2]) -> Fingerprinter {
        Fingerprinter { seed }
    }

    fn hasher(&self, domain: u8, source: SourceId) -> SipHasher13 {
        let mut hasher = SipHasher13::new_with_keys(self.seed[0], self.seed[1]);
        // siphasher writes integers little-endian on every platform.
        hasher.write_u8(domain);
        hasher.write_u32(source.0);
        hasher
    }

    fn finish(hasher: SipHasher13) -> Key {
        let hash = hasher.finish128();
        Key(hash.h1, hash.h2)
    }

    pub(crate) fn request(&self, source: SourceId, id: &ExtId) -> Key {
        let mut hasher = self.hasher(1, source);
        hasher.write(id.as_str().as_bytes());
        Self::finish(hasher)
    }

    /// Fingerprint of a command's content, to tell a retry from a conflict:
    /// XXH3-64 over the command's canonical encoding, seeded with the secret
    /// key (the ids themselves are keyed with SipHash above).
    pub(crate) fn payload(&self, command: &Command) -> u64 {
        StableHasher::new(self.payload_seed()).add(command).finish()
    }

    /// [`Fingerprinter::payload`] of a command already encoded.
    pub(crate) fn payload_of_encoded(&self, command: &[u8]) -> u64 {
        crate::codec::hash_bytes(self.payload_seed(), command)
    }

    fn payload_seed(&self) -> u64 {
        self.seed[0] ^ self.seed[1]
    }

    pub(crate) fn round(&self, source: SourceId, round: &RoundRef) -> Key {
        let mut hasher = self.hasher(2, source);
        hasher.write(round.id.as_str().as_bytes());
        hasher.write_u8(0xff); // ids are ASCII: 0xff separates them unambiguously
        hasher.write(round.game.as_str().as_bytes());
        Self::finish(hasher)
    }
}

/// What the ledger needs to remember about a past request beyond its outcome.
#[derive(Clone, Debug)]
pub(crate) enum Detail {
    /// Nothing beyond the outcome.
    Plain,
    /// A bet that took money.
    Bet(BetDetail),
    /// A deposit or withdrawal.
    Payment(PaymentDetail),
    /// A bet id rolled back before the bet arrived.
    Tombstone,
}

#[derive(Clone, Debug)]
pub(crate) struct BetDetail {
    pub(crate) player: u32,
    pub(crate) currency: Currency,
    pub(crate) bonus_serial: u32,
    pub(crate) cash: Amount,
    pub(crate) bonus: Amount,
    pub(crate) wagering_credit: Amount,
    pub(crate) round: Key,
    pub(crate) rolled_back: bool,
}

#[derive(Clone, Debug)]
pub(crate) struct PaymentDetail {
    pub(crate) player: PlayerId,
    pub(crate) currency: Currency,
    pub(crate) amount: Amount,
    pub(crate) state: PaymentState,
}

/// One remembered request.
#[derive(Clone, Debug)]
pub(crate) struct TxRecord {
    pub(crate) key: Key,
    /// Fingerprint of the command, to tell a retry from a conflict.
    pub(crate) payload: u64,
    pub(crate) seq: u64,
    pub(crate) time_ms: u64,
    pub(crate) outcome: Outcome,
    pub(crate) detail: Detail,
}

impl TxRecord {
    fn is_open_payment(&self) -> bool {
        matches!(&self.detail, Detail::Payment(p) if !p.state.is_final())
    }

    pub(crate) fn state(&self) -> TxState {
        match &self.detail {
            Detail::Plain => TxState::Done,
            Detail::Bet(bet) if bet.rolled_back => TxState::RolledBack,
            Detail::Bet(_) => TxState::Done,
            Detail::Payment(payment) => TxState::Payment(payment.state),
            Detail::Tombstone => TxState::Tombstone,
        }
    }
}

/// Retention limits of the request memory.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Retention {
    pub(crate) len_max: usize,
    pub(crate) age_max_ms: u64,
}

/// Most evicted records whose table entries await removal together.
const STALE_MAX: usize = 2048;

/// The request memory: FIFO ring plus position table plus open payments.
///
/// A table entry is a `u32`: the record's ring position (modulo
/// `position_mask + 1`) in the bits of `position_mask`, and the same bits of
/// the key's second word's top half in the bits above (8 of them at the
/// default 10M limit, none from 2^31). The table's own 7-bit tags match a
/// wrong entry in several percent of the lookups of new keys; those extra
/// bits reject nearly all of them without reading the ring (a DRAM miss).
pub(crate) struct TxStore {
    /// Entries of the records, plus those of up to [`STALE_MAX`] evicted
    /// records (listed in `stale`).
    table: HashTable<u32>,
    ring: VecDeque<TxRecord>,
    /// Ring position of `ring[0]`, modulo `position_mask + 1`.
    front: u32,
    /// 2^k - 1 for the least k with 2^k > `len_max + STALE_MAX`, so that
    /// live and stale positions never alias.
    position_mask: u32,
    /// (hash, entry) of evicted records whose table entries are not removed
    /// yet. Their positions precede `front`, so lookups skip them.
    stale: Vec<(u64, u32)>,
    /// Open payments evicted from the ring, kept until final.
    pinned: KeyMap<TxRecord>,
    retention: Retention,
}

impl TxStore {
    pub(crate) fn new(retention: Retention) -> TxStore {
        // Live and stale positions together must fit the u32 position space.
        assert!(retention.len_max > 0 && retention.len_max < u32::MAX as usize - STALE_MAX);
        let positions = (retention.len_max + STALE_MAX + 1) as u64;
        let position_mask = (positions.next_power_of_two() - 1).min(u64::from(u32::MAX)) as u32;
        TxStore {
            table: HashTable::new(),
            ring: VecDeque::new(),
            front: 0,
            position_mask,
            stale: Vec::new(),
            pinned: KeyMap::default(),
            retention,
        }
    }

    /// The ring index an entry points to: past the end of the ring for a
    /// stale entry.
    fn index(&self, entry: u32) -> usize {
        (entry.wrapping_sub(self.front) & self.position_mask) as usize
    }

    /// The key bits an entry carries above its position.
    fn tag(&self, key: Key) -> u32 {
        (key.1 >> 32) as u32 & !self.position_mask
    }

    fn find(&self, key: Key) -> Option<usize> {
        let tag = self.tag(key);
        let tag_mask = !self.position_mask;
        self.table
            .find(key.0, |&entry| {
                entry & tag_mask == tag && self.ring.get(self.index(entry)).is_some_and(|r| r.key == key)
            })
            .map(|&entry| self.index(entry))
    }

    pub(crate) fn get(&self, key: Key) -> Option<&TxRecord> {
        match self.find(key) {
            Some(index) => Some(&self.ring[index]),
            None => self.pinned.get(&key),
        }
    }

    pub(crate) fn get_mut(&mut self, key: Key) -> Option<&mut TxRecord> {
        match self.find(key) {
            Some(index) => Some(&mut self.ring[index]),
            None => self.pinned.get_mut(&key),
        }
    }

    /// Remembers a new request. The key must not be present.
    pub(crate) fn insert(&mut self, record: TxRecord) {
        debug_assert!(self.get(record.key).is_none(), "duplicate request key");
        self.evict(record.time_ms);
        if self.ring.len() == self.ring.capacity() {
            // Grow toward the retention limit, never past it.
            let room = self.ring.len().max(1024).min(self.retention.len_max - self.ring.len());
            self.ring.reserve_exact(room);
        }
        if self.table.len() == self.table.capacity() {
            // Growing rehashes every entry through the ring: stale ones
            // cannot be, so drop them first.
            self.remove_stale();
        }
        let position = self.front.wrapping_add(self.ring.len() as u32) & self.position_mask;
        let entry = self.tag(record.key) | position;
        let (ring, front, mask) = (&self.ring, self.front, self.position_mask);
        let hasher = |&entry: &u32| ring[(entry.wrapping_sub(front) & mask) as usize].key.0;
        self.table.insert_unique(record.key.0, entry, hasher);
        self.ring.push_back(record);
    }

    /// Forgets the oldest requests past the retention limits. Their table
    /// entries go stale and are removed in batches of [`STALE_MAX`].
    fn evict(&mut self, now_ms: u64) {
        while let Some(oldest) = self.ring.front() {
            let full = self.ring.len() >= self.retention.len_max;
            let expired = oldest.time_ms.saturating_add(self.retention.age_max_ms) < now_ms;
            if !full && !expired {
                break;
            }
            let record = self.ring.pop_front().expect("front exists");
            if self.stale.len() == STALE_MAX {
                self.remove_stale();
            }
            self.stale.push((record.key.0, self.tag(record.key) | self.front));
            self.front = self.front.wrapping_add(1) & self.position_mask;
            if record.is_open_payment() {
                self.pinned.insert(record.key, record);
            }
        }
    }

    /// Removes the table entries of evicted records. The lookups are
    /// independent of each other, so the CPU overlaps their cache misses.
    fn remove_stale(&mut self) {
        let table = &mut self.table;
        for (hash, stale) in self.stale.drain(..) {
            if let Ok(entry) = table.find_entry(hash, |&entry| entry == stale) {
                entry.remove();
            }
        }
    }

    /// The remembered requests, for a snapshot: the ring (oldest first) and
    /// the pinned open payments (sorted by key, so equal stores give equal
    /// bytes). The table is not kept: [`TxStore::from_parts`] rebuilds it.
    pub(crate) fn into_parts(self) -> (VecDeque<TxRecord>, Vec<TxRecord>) {
        let mut pinned: Vec<TxRecord> = self.pinned.into_values().collect();
        pinned.sort_unstable_by_key(|record| record.key);
        (self.ring, pinned)
    }

    /// Rebuilds a store from [`TxStore::into_parts`]. `None` if the parts
    /// break its invariants (more records than retained, a key twice).
    pub(crate) fn from_parts(retention: Retention, ring: VecDeque<TxRecord>, pinned: Vec<TxRecord>) -> Option<TxStore> {
        if ring.len() > retention.len_max {
            return None;
        }
        let mut store = TxStore::new(retention);
        let (mask, ring_ref) = (store.position_mask, &ring);
        store.table.reserve(ring.len(), |_| unreachable!("the table is empty"));
        for (position, record) in ring.iter().enumerate() {
            let entry = store.tag(record.key) | position as u32;
            let key_at = |e: &u32| ring_ref[(e & mask) as usize].key;
            match store
                .table
                .entry(record.key.0, |e| key_at(e) == record.key, |e| key_at(e).0)
            {
                hashbrown::hash_table::Entry::Occupied(_) => return None, // a key twice
                hashbrown::hash_table::Entry::Vacant(vacant) => {
                    vacant.insert(entry);
                }
            }
        }
        store.ring = ring;
        for record in pinned {
            if !record.is_open_payment() || store.get(record.key).is_some() {
                return None;
            }
            store.pinned.insert(record.key, record);
        }
        Some(store)
    }

    /// A payment reached a final state: it no longer needs pinning.
    pub(crate) fn settle(&mut self, key: Key) {
        self.pinned.remove(&key);
    }

    /// Open payments currently pinned outside the ring.
    #[cfg(test)]
    pub(crate) fn pinned_len(&self) -> usize {
        self.pinned.len()
    }

    /// Requests remembered.
    pub(crate) fn len(&self) -> usize {
        self.ring.len() + self.pinned.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(n: u64, time_ms: u64, detail: Detail) -> TxRecord {
        TxRecord {
            key: Key(n, n),
            payload: n,
            seq: n,
            time_ms,
            outcome: Outcome::Accepted,
            detail,
        }
    }

    fn open_deposit() -> Detail {
        Detail::Payment(PaymentDetail {
            player: PlayerId(1),
            currency: Currency::EUR,
            amount: Amount::from_minor(1),
            state: PaymentState::Initiated,
        })
    }

    #[test]
    fn evicts_oldest_by_count_but_pins_open_payments() {
        let mut store = TxStore::new(Retention {
            len_max: 3,
            age_max_ms: u64::MAX,
        });
        store.insert(record(1, 0, open_deposit()));
        for n in 2..=6 {
            store.insert(record(n, 0, Detail::Plain));
        }
        assert!(store.get(Key(1, 1)).is_some(), "open payment must survive eviction");
        assert!(store.get(Key(2, 2)).is_none());
        assert!(store.get(Key(3, 3)).is_none());
        for n in 4..=6 {
            assert_eq!(store.get(Key(n, n)).map(|r| r.seq), Some(n));
        }
        assert_eq!(store.pinned_len(), 1);
        store.settle(Key(1, 1));
        assert_eq!(store.len(), 3);
    }

    #[test]
    fn evicts_by_age() {
        let mut store = TxStore::new(Retention {
            len_max: 100,
            age_max_ms: 10,
        });
        store.insert(record(1, 0, Detail::Plain));
        store.insert(record(2, 5, Detail::Plain));
        store.insert(record(3, 11, Detail::Plain));
        assert!(store.get(Key(1, 1)).is_none());
        assert!(store.get(Key(2, 2)).is_some());
        store.insert(record(4, 16, Detail::Plain));
        assert!(store.get(Key(2, 2)).is_none());
        assert_eq!(store.len(), 2);
    }

    #[test]
    fn positions_survive_wrapping() {
        let mut store = TxStore::new(Retention {
            len_max: 4,
            age_max_ms: u64::MAX,
        });
        store.front = store.position_mask - 2;
        for n in 1..=10 {
            store.insert(record(n, 0, Detail::Plain));
            assert_eq!(store.get(Key(n, n)).map(|r| r.seq), Some(n));
        }
        assert!(store.get(Key(6, 6)).is_none());
        assert!(store.get(Key(7, 7)).is_some());
    }

    /// Every request still in the ring is found; every evicted one is not,
    /// whether or not its table entry has been removed yet.
    fn assert_retains_exactly(store: &TxStore, evicted: std::ops::Range<u64>, kept: std::ops::Range<u64>) {
        for n in evicted {
            assert!(store.get(Key(n, n)).is_none(), "request {n} should be forgotten");
        }
        for n in kept {
            assert_eq!(
                store.get(Key(n, n)).map(|r| r.seq),
                Some(n),
                "request {n} should be remembered"
            );
        }
    }

    #[test]
    fn batched_removal_keeps_retention_exact() {
        let len_max = 1000;
        let mut store = TxStore::new(Retention {
            len_max,
            age_max_ms: u64::MAX,
        });
        let total = (3 * STALE_MAX + 500) as u64;
        for n in 1..=total {
            store.insert(record(n, 0, Detail::Plain));
            assert!(store.ring.len() <= len_max);
            assert!(store.stale.len() <= STALE_MAX);
            assert_eq!(store.table.len(), store.ring.len() + store.stale.len());
            if n % 97 == 0 {
                let first_kept = (n + 1).saturating_sub(len_max as u64).max(1);
                assert_retains_exactly(&store, 1..first_kept, first_kept..n + 1);
            }
        }
        assert_eq!(store.len(), len_max);
    }

    #[test]
    fn a_key_reinserted_before_its_stale_entry_is_removed_survives_the_removal() {
        let mut store = TxStore::new(Retention {
            len_max: 2,
            age_max_ms: u64::MAX,
        });
        store.table.reserve(16, |_| unreachable!("the table is empty")); // no growth below
        for n in 1..=3 {
            store.insert(record(n, 0, Detail::Plain)); // 3 evicts 1: its entry goes stale
        }
        assert!(store.get(Key(1, 1)).is_none());
        let mut again = record(1, 0, Detail::Plain);
        again.seq = 100;
        store.insert(again); // evicts 2
        assert_eq!(store.stale.len(), 2);
        assert_eq!(store.get(Key(1, 1)).map(|r| r.seq), Some(100));
        store.remove_stale();
        assert_eq!(store.table.len(), 2);
        assert_eq!(store.get(Key(1, 1)).map(|r| r.seq), Some(100));
        assert_eq!(store.get(Key(3, 3)).map(|r| r.seq), Some(3));
        assert!(store.get(Key(2, 2)).is_none());
    }

    #[test]
    fn mass_expiry_is_exact_and_pins_open_payments() {
        let mut store = TxStore::new(Retention {
            len_max: 1_000_000,
            age_max_ms: 10,
        });
        let total = (2 * STALE_MAX + 7) as u64;
        for n in 1..=total {
            let detail = if n % 1000 == 0 { open_deposit() } else { Detail::Plain };
            store.insert(record(n, 0, detail));
        }
        // Everything expires at once, more than one batch of stale entries.
        store.insert(record(total + 1, 11, Detail::Plain));
        assert!(store.stale.len() <= STALE_MAX);
        for n in 1..=total {
            let found = store.get(Key(n, n)).is_some();
            assert_eq!(found, n % 1000 == 0, "request {n}");
        }
        assert_eq!(store.pinned_len(), (total / 1000) as usize);
        assert_eq!(store.len(), 1 + (total / 1000) as usize);
        // Settled payments are forgotten.
        store.settle(Key(1000, 1000));
        assert!(store.get(Key(1000, 1000)).is_none());
    }

    #[test]
    fn table_growth_with_stale_entries_pending() {
        // Age evicts in small bursts long before the count limit, so the
        // table (live plus stale entries) grows while stale ones are pending.
        let mut store = TxStore::new(Retention {
            len_max: 100_000,
            age_max_ms: 10,
        });
        let mut grew_with_stale = 0;
        for n in 1..=20_000u64 {
            let capacity = store.table.capacity();
            let pending = !store.stale.is_empty();
            store.insert(record(n, n / 50, Detail::Plain));
            if store.table.capacity() > capacity && pending {
                grew_with_stale += 1;
            }
            assert_eq!(store.table.len(), store.ring.len() + store.stale.len());
        }
        assert!(grew_with_stale > 0);
        let now = 20_000 / 50;
        for n in 1..=20_000u64 {
            let expired = n / 50 + 10 < now;
            assert_eq!(store.get(Key(n, n)).is_some(), !expired, "request {n}");
        }
    }

    #[test]
    fn stale_positions_survive_wrapping() {
        let mut store = TxStore::new(Retention {
            len_max: 4,
            age_max_ms: u64::MAX,
        });
        store.front = store.position_mask - (STALE_MAX as u32) / 2;
        for n in 1..=(3 * STALE_MAX as u64) {
            store.insert(record(n, 0, Detail::Plain));
            assert_eq!(store.get(Key(n, n)).map(|r| r.seq), Some(n));
            if n > 4 {
                assert!(store.get(Key(n - 4, n - 4)).is_none());
            }
        }
    }

    #[test]
    fn entries_split_into_tag_and_position() {
        let small = TxStore::new(Retention {
            len_max: 3,
            age_max_ms: u64::MAX,
        });
        assert_eq!(small.position_mask, 4095);
        let default = TxStore::new(Retention {
            len_max: 10_000_000,
            age_max_ms: u64::MAX,
        });
        assert_eq!(default.position_mask, (1 << 24) - 1);
        let largest = TxStore::new(Retention {
            len_max: u32::MAX as usize - STALE_MAX - 1,
            age_max_ms: u64::MAX,
        });
        assert_eq!(largest.position_mask, u32::MAX);
        assert_eq!(largest.tag(Key(1, u64::MAX)), 0);
    }

    #[test]
    fn keys_sharing_the_hash_or_the_tag_stay_apart() {
        let mut store = TxStore::new(Retention {
            len_max: 100,
            age_max_ms: u64::MAX,
        });
        let keys = [Key(7, 1), Key(7, 2), Key(7, 1 << 63), Key(7, (1 << 63) | 1), Key(8, 1)];
        for (n, &key) in keys.iter().enumerate() {
            store.insert(TxRecord {
                key,
                ..record(n as u64, 0, Detail::Plain)
            });
        }
        for (n, &key) in keys.iter().enumerate() {
            assert_eq!(store.get(key).map(|r| r.seq), Some(n as u64));
        }
        assert!(store.get(Key(7, 3)).is_none());
        assert!(store.get(Key(7, (1 << 63) | 2)).is_none());
    }

    #[test]
    fn fingerprints_separate_domains_and_fields() {
        let fp = Fingerprinter::new([1, 2]);
        let id = ExtId::new("abc").unwrap();
        assert_ne!(fp.request(SourceId(1), &id), fp.request(SourceId(2), &id));
        let round = |r: &str, g: &str| RoundRef {
            id: crate::ids::RoundId::new(r).unwrap(),
            game: crate::ids::GameCode::new(g).unwrap(),
        };
        assert_ne!(
            fp.round(SourceId(1), &round("ab", "c")),
            fp.round(SourceId(1), &round("a", "bc"))
        );
        assert_eq!(
            fp.request(SourceId(1), &id),
            Fingerprinter::new([1, 2]).request(SourceId(1), &id)
        );
    }
}
