//! The gaming domain's state: open rounds, forgotten oldest-first past the
//! count and age limits, and their part of the snapshot image.

use std::collections::VecDeque;

use crate::codec::codec_struct;
use crate::ledger::store::{Key, KeyMap, Retention};
use crate::money::Amount;

/// An open round: who plays it and how its stakes were funded.
#[derive(Clone, Debug)]
pub(crate) struct Round {
    pub(crate) player: u32,
    pub(crate) cash: Amount,
    pub(crate) bonus: Amount,
    pub(crate) bonus_serial: u32,
    pub(crate) opened_ms: u64,
}

/// Open rounds the map makes room for in one step once it holds
/// [`ROUNDS_PRESIZE_FROM`] (capped by the count limit). A busy ledger keeps
/// most of a million rounds open; growing there by doubling would rehash
/// the whole map (~40 ms at 850k rounds) in the middle of the traffic, and
/// deletions at a high load factor leave tombstones that force more rehashes.
const ROUNDS_PRESIZE: usize = 1 << 20;
/// Open rounds from which the map is presized: small ledgers (tests, quiet
/// shards) never pay for the big table.
const ROUNDS_PRESIZE_FROM: usize = 1 << 14;

/// Open rounds, forgotten oldest-first past the count and age limits.
///
/// `order` lists every round opened, closed or not, in opening order: the
/// count limit applies to it, so it never holds more than `len_max` entries
/// and a closed round leaves it at the latest `len_max` openings later.
pub(crate) struct RoundStore {
    open: KeyMap<Round>,
    order: VecDeque<(Key, u64)>,
    retention: Retention,
    presized: bool,
}

impl RoundStore {
    pub(crate) fn new(retention: Retention) -> RoundStore {
        RoundStore {
            open: KeyMap::default(),
            order: VecDeque::new(),
            retention,
            presized: false,
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
        if !self.presized && self.open.len() >= ROUNDS_PRESIZE_FROM {
            self.presized = true;
            let target = ROUNDS_PRESIZE.min(self.retention.len_max);
            self.open.reserve(target.saturating_sub(self.open.len()));
        }
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

    /// The rounds, for a snapshot: the open ones (sorted by key, so equal
    /// stores give equal bytes), the opening order, and whether the map was
    /// presized.
    pub(crate) fn into_parts(self) -> RoundParts {
        let mut open: Vec<(Key, Round)> = self.open.into_iter().collect();
        open.sort_unstable_by_key(|(key, _)| *key);
        RoundParts {
            open,
            order: self.order,
            presized: self.presized,
        }
    }

    /// Rebuilds a store from [`RoundStore::into_parts`]. `None` if the parts
    /// break its invariants.
    pub(crate) fn from_parts(retention: Retention, parts: RoundParts) -> Option<RoundStore> {
        if parts.order.len() > retention.len_max || parts.open.len() > parts.order.len() {
            return None;
        }
        let mut open = KeyMap::default();
        let capacity = if parts.presized {
            ROUNDS_PRESIZE.min(retention.len_max).max(parts.open.len())
        } else {
            parts.open.len()
        };
        open.reserve(capacity);
        for (key, round) in parts.open {
            if open.insert(key, round).is_some() {
                return None;
            }
        }
        Some(RoundStore {
            open,
            order: parts.order,
            retention,
            presized: parts.presized,
        })
    }
}

/// A [`RoundStore`] taken apart for a snapshot.
pub(crate) struct RoundParts {
    pub(crate) open: Vec<(Key, Round)>,
    pub(crate) order: VecDeque<(Key, u64)>,
    pub(crate) presized: bool,
}

// The snapshot image of the rounds (see `crate::codec`: append fields,
// never reorder).
codec_struct!(Round {
    player,
    cash,
    bonus,
    bonus_serial,
    opened_ms
});
codec_struct!(RoundParts { open, order, presized });

#[cfg(test)]
mod tests {
    use super::*;

    fn round(opened_ms: u64) -> Round {
        Round {
            player: 0,
            cash: Amount::from_minor(100),
            bonus: Amount::ZERO,
            bonus_serial: 0,
            opened_ms,
        }
    }

    fn store(len_max: usize, age_max_ms: u64) -> RoundStore {
        RoundStore::new(Retention { len_max, age_max_ms })
    }

    #[test]
    fn rounds_are_forgotten_oldest_first_by_count_and_age() {
        let mut rounds = store(2, 1_000);
        rounds.open(Key(1, 0), round(0));
        rounds.open(Key(2, 0), round(10));
        rounds.open(Key(3, 0), round(20));
        assert!(rounds.get(Key(1, 0)).is_none(), "the count limit forgets the oldest");
        assert!(rounds.get(Key(2, 0)).is_some() && rounds.get(Key(3, 0)).is_some());

        let mut rounds = store(10, 1_000);
        rounds.open(Key(1, 0), round(0));
        rounds.open(Key(2, 0), round(500));
        rounds.open(Key(3, 0), round(1_001));
        assert!(rounds.get(Key(1, 0)).is_none(), "past its age");
        assert_eq!(rounds.len(), 2);
    }

    #[test]
    fn a_closed_and_reopened_round_is_not_evicted_by_its_old_opening() {
        let mut rounds = store(3, 1_000);
        rounds.open(Key(1, 0), round(0));
        rounds.close(Key(1, 0));
        rounds.open(Key(1, 0), round(900));
        rounds.open(Key(2, 0), round(1_001));
        assert!(rounds.get(Key(1, 0)).is_some_and(|r| r.opened_ms == 900));
    }

    #[test]
    fn parts_that_break_the_limits_or_repeat_a_key_are_refused() {
        let retention = Retention {
            len_max: 2,
            age_max_ms: 1_000,
        };
        let mut rounds = RoundStore::new(retention);
        rounds.open(Key(1, 0), round(0));
        rounds.open(Key(2, 0), round(1));
        let parts = rounds.into_parts();
        assert!(RoundStore::from_parts(retention, parts).is_some());
        let repeated = RoundParts {
            open: vec![(Key(1, 0), round(0)), (Key(1, 0), round(1))],
            order: VecDeque::from([(Key(1, 0), 0), (Key(1, 0), 1)]),
            presized: false,
        };
        assert!(RoundStore::from_parts(retention, repeated).is_none());
        let too_many = RoundParts {
            open: Vec::new(),
            order: VecDeque::from([(Key(1, 0), 0), (Key(2, 0), 1), (Key(3, 0), 2)]),
            presized: false,
        };
        assert!(RoundStore::from_parts(retention, too_many).is_none());
    }
}
