//! Wallet calls per aggregator as the edge sees them: how many, how many
//! the ledger refused, how many ended in an error (the ring busy, the
//! server stopping, an outcome in doubt), and how long the round trip to
//! the ledger took, in a latency histogram.
//!
//! Every contract's wallet command goes through `wallet::seamless`, which
//! records here. The counters are atomics in fixed slots (one per
//! aggregator, claimed by compare-and-swap on first use), so recording
//! takes no lock on the bet path and the memory is bounded: past
//! [`AGGREGATORS_MAX`] aggregators, calls are counted in one overflow slot
//! (aggregator 0 in the figures). Nothing here is durable: the figures
//! start at zero with the process, like every Prometheus counter.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use engine::SourceId;

/// Aggregators counted apart; more share the overflow slot.
pub const AGGREGATORS_MAX: usize = 64;

/// The histogram's upper bounds, µs (a last bucket takes the rest).
pub const BUCKETS_US: [u64; 12] = [
    250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000,
];

/// How a wallet call ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallEnd {
    /// The ledger accepted it (or answered a read).
    Accepted,
    /// The ledger refused it (a business rejection).
    Refused,
    /// No outcome: busy, stopping, in doubt.
    Error,
}

#[derive(Default)]
struct Slot {
    /// The aggregator's id + 1; 0: free.
    source: AtomicU64,
    calls: AtomicU64,
    refused: AtomicU64,
    errors: AtomicU64,
    latency_us_sum: AtomicU64,
    buckets: [AtomicU64; BUCKETS_US.len() + 1],
}

/// The figures of one aggregator's calls.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallFigures {
    /// The aggregator (`SourceId(0)`: the overflow of aggregators past
    /// [`AGGREGATORS_MAX`]).
    pub aggregator: SourceId,
    /// Calls recorded.
    pub calls: u64,
    /// Refused by the ledger.
    pub refused: u64,
    /// Ended without an outcome.
    pub errors: u64,
    /// Sum of their latencies, µs.
    pub latency_us_sum: u64,
    /// Calls per bucket of [`BUCKETS_US`] (not cumulative), the last one
    /// for slower calls.
    pub buckets: Vec<u64>,
}

impl CallFigures {
    /// The latency under which `quantile` (0–1) of the calls fell, as the
    /// bucket's upper bound in µs (`None`: no call, or the slowest bucket).
    pub fn latency_us_at(&self, quantile: f64) -> Option<u64> {
        let wanted = (self.calls as f64 * quantile).ceil() as u64;
        let mut seen = 0;
        for (i, count) in self.buckets.iter().enumerate() {
            seen += count;
            if seen >= wanted.max(1) {
                return BUCKETS_US.get(i).copied();
            }
        }
        None
    }
}

/// The wallet calls of every aggregator (in the server's shared state).
pub struct WalletCalls {
    slots: Box<[Slot]>,
    overflow: Slot,
}

impl Default for WalletCalls {
    fn default() -> WalletCalls {
        WalletCalls {
            slots: (0..AGGREGATORS_MAX).map(|_| Slot::default()).collect(),
            overflow: Slot::default(),
        }
    }
}

impl WalletCalls {
    /// Records one call of `aggregator` that took `elapsed` and ended so.
    pub fn record(&self, aggregator: SourceId, elapsed: Duration, end: CallEnd) {
        let slot = self.slot(aggregator);
        let us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        slot.calls.fetch_add(1, Ordering::Relaxed);
        match end {
            CallEnd::Accepted => {}
            CallEnd::Refused => {
                slot.refused.fetch_add(1, Ordering::Relaxed);
            }
            CallEnd::Error => {
                slot.errors.fetch_add(1, Ordering::Relaxed);
            }
        }
        slot.latency_us_sum.fetch_add(us, Ordering::Relaxed);
        let bucket = BUCKETS_US
            .iter()
            .position(|&bound| us <= bound)
            .unwrap_or(BUCKETS_US.len());
        slot.buckets[bucket].fetch_add(1, Ordering::Relaxed);
    }

    /// The slot of `aggregator`: its own, a free one it claims, or the
    /// overflow. Probes from a hash of the id, so lookups stay short.
    fn slot(&self, aggregator: SourceId) -> &Slot {
        let key = u64::from(aggregator.0) + 1;
        let start = (aggregator.0 as usize).wrapping_mul(0x9E37_79B9) % self.slots.len();
        for i in 0..self.slots.len() {
            let slot = &self.slots[(start + i) % self.slots.len()];
            match slot.source.load(Ordering::Acquire) {
                found if found == key => return slot,
                0 => match slot
                    .source
                    .compare_exchange(0, key, Ordering::AcqRel, Ordering::Acquire)
                {
                    Ok(_) => return slot,
                    Err(found) if found == key => return slot,
                    Err(_) => {}
                },
                _ => {}
            }
        }
        &self.overflow
    }

    /// Every aggregator's figures, by id (the overflow last, if used).
    pub fn figures(&self) -> Vec<CallFigures> {
        let mut all: Vec<CallFigures> = self
            .slots
            .iter()
            .filter_map(|slot| {
                let key = slot.source.load(Ordering::Acquire);
                (key != 0).then(|| figures_of(slot, SourceId((key - 1) as u32)))
            })
            .collect();
        all.sort_by_key(|f| f.aggregator.0);
        if self.overflow.calls.load(Ordering::Relaxed) > 0 {
            all.push(figures_of(&self.overflow, SourceId(0)));
        }
        all
    }
}

fn figures_of(slot: &Slot, aggregator: SourceId) -> CallFigures {
    CallFigures {
        aggregator,
        calls: slot.calls.load(Ordering::Relaxed),
        refused: slot.refused.load(Ordering::Relaxed),
        errors: slot.errors.load(Ordering::Relaxed),
        latency_us_sum: slot.latency_us_sum.load(Ordering::Relaxed),
        buckets: slot.buckets.iter().map(|b| b.load(Ordering::Relaxed)).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_aggregator_and_bucket() {
        let calls = WalletCalls::default();
        calls.record(SourceId(7), Duration::from_micros(300), CallEnd::Accepted);
        calls.record(SourceId(7), Duration::from_millis(3), CallEnd::Refused);
        calls.record(SourceId(2), Duration::from_secs(5), CallEnd::Error);
        let figures = calls.figures();
        assert_eq!(figures.len(), 2);
        assert_eq!(figures[0].aggregator, SourceId(2));
        assert_eq!((figures[0].calls, figures[0].errors), (1, 1));
        assert_eq!(*figures[0].buckets.last().unwrap(), 1);
        assert_eq!(figures[0].latency_us_at(0.5), None);
        let seven = &figures[1];
        assert_eq!((seven.calls, seven.refused, seven.errors), (2, 1, 0));
        assert_eq!(seven.buckets[1], 1, "300 µs is in (250, 500]");
        assert_eq!(seven.buckets[4], 1, "3 ms is in (2.5, 5] ms");
        assert_eq!(seven.latency_us_sum, 3_300);
        assert_eq!(seven.latency_us_at(0.5), Some(500));
        assert_eq!(seven.latency_us_at(0.99), Some(5_000));
    }

    #[test]
    fn past_the_slots_calls_share_the_overflow() {
        let calls = WalletCalls::default();
        for id in 1..=(AGGREGATORS_MAX as u32 + 3) {
            calls.record(SourceId(id), Duration::ZERO, CallEnd::Accepted);
        }
        let figures = calls.figures();
        assert_eq!(figures.len(), AGGREGATORS_MAX + 1);
        let overflow = figures.last().unwrap();
        assert_eq!((overflow.aggregator, overflow.calls), (SourceId(0), 3));
    }
}
