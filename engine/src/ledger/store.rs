//! Bounded memory of past requests (idempotency, transaction lookups,
//! rollbacks, payment life-cycles) and of open rounds.
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

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hash, Hasher};

use hashbrown::HashTable;
use siphasher::sip128::{Hasher128, SipHasher13};

use crate::command::RoundRef;
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

/// The request memory: FIFO ring plus position table plus open payments.
pub(crate) struct TxStore {
    table: HashTable<u32>,
    ring: VecDeque<TxRecord>,
    /// Ring position counter of `ring[0]` (wraps; only differences matter).
    front: u32,
    /// Open payments evicted from the ring, kept until final.
    pinned: KeyMap<TxRecord>,
    retention: Retention,
}

impl TxStore {
    pub(crate) fn new(retention: Retention) -> TxStore {
        assert!(retention.len_max > 0 && retention.len_max < u32::MAX as usize);
        TxStore {
            table: HashTable::new(),
            ring: VecDeque::new(),
            front: 0,
            pinned: KeyMap::default(),
            retention,
        }
    }

    fn index(&self, position: u32) -> usize {
        position.wrapping_sub(self.front) as usize
    }

    fn find(&self, key: Key) -> Option<usize> {
        let ring = &self.ring;
        let front = self.front;
        self.table
            .find(key.0, |&position| {
                ring[position.wrapping_sub(front) as usize].key == key
            })
            .map(|&position| self.index(position))
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
        let position = self.front.wrapping_add(self.ring.len() as u32);
        let ring = &self.ring;
        let front = self.front;
        let hasher = |&p: &u32| ring[p.wrapping_sub(front) as usize].key.0;
        self.table.insert_unique(record.key.0, position, hasher);
        self.ring.push_back(record);
    }

    /// Forgets the oldest requests past the retention limits.
    fn evict(&mut self, now_ms: u64) {
        while let Some(oldest) = self.ring.front() {
            let full = self.ring.len() >= self.retention.len_max;
            let expired = oldest.time_ms.saturating_add(self.retention.age_max_ms) < now_ms;
            if !full && !expired {
                break;
            }
            let position = self.front;
            let key = oldest.key;
            if let Ok(entry) = self.table.find_entry(key.0, |&p| p == position) {
                entry.remove();
            }
            let record = self.ring.pop_front().expect("front exists");
            self.front = self.front.wrapping_add(1);
            if record.is_open_payment() {
                self.pinned.insert(key, record);
            }
        }
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

/// An open round: who plays it and how its stakes were funded.
#[derive(Clone, Debug)]
pub(crate) struct Round {
    pub(crate) player: u32,
    pub(crate) cash: Amount,
    pub(crate) bonus: Amount,
    pub(crate) bonus_serial: u32,
    pub(crate) opened_ms: u64,
}

/// Open rounds, forgotten oldest-first past the count and age limits.
pub(crate) struct RoundStore {
    open: KeyMap<Round>,
    order: VecDeque<(Key, u64)>,
    retention: Retention,
}

impl RoundStore {
    pub(crate) fn new(retention: Retention) -> RoundStore {
        RoundStore {
            open: KeyMap::default(),
            order: VecDeque::new(),
            retention,
        }
    }

    pub(crate) fn get(&self, key: Key) -> Option<&Round> {
        self.open.get(&key)
    }

    pub(crate) fn get_mut(&mut self, key: Key) -> Option<&mut Round> {
        self.open.get_mut(&key)
    }

    /// Opens a round (the key must not be open).
    pub(crate) fn open(&mut self, key: Key, round: Round) {
        self.evict(round.opened_ms);
        self.order.push_back((key, round.opened_ms));
        let previous = self.open.insert(key, round);
        debug_assert!(previous.is_none(), "round opened twice");
    }

    pub(crate) fn close(&mut self, key: Key) {
        self.open.remove(&key);
    }

    fn evict(&mut self, now_ms: u64) {
        while let Some(&(key, opened_ms)) = self.order.front() {
            let full = self.order.len() >= self.retention.len_max;
            let expired = opened_ms.saturating_add(self.retention.age_max_ms) < now_ms;
            if !full && !expired {
                break;
            }
            self.order.pop_front();
            // The same key may have been closed and reopened since.
            if self.open.get(&key).is_some_and(|r| r.opened_ms == opened_ms) {
                self.open.remove(&key);
            }
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.open.len()
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
        store.front = u32::MAX - 2;
        for n in 1..=10 {
            store.insert(record(n, 0, Detail::Plain));
            assert_eq!(store.get(Key(n, n)).map(|r| r.seq), Some(n));
        }
        assert!(store.get(Key(6, 6)).is_none());
        assert!(store.get(Key(7, 7)).is_some());
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
