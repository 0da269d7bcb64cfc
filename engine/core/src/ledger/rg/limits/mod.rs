//! Responsible-gambling limits of one wallet and the rolling windows they
//! are checked against.
//!
//! Exact rolling sums would need every event of the last 30 days per player;
//! instead each metric keeps 25 hourly and 31 daily buckets (under 1 KiB).
//! A window sums every bucket that overlaps it, so an amount stays counted
//! up to one bucket (an hour for the day window, a day for week and month)
//! longer than the window, never shorter: the error is always on the
//! player-protecting side.

use crate::codec::{Decode, DecodeError, Encode, Reader, Sink, codec_struct};
use crate::command::{LimitKind, LimitMetric, LimitPeriod};
use crate::money::Amount;

const HOUR_MS: u64 = 3_600_000;
const DAY_MS: u64 = 24 * HOUR_MS;
const HOUR_BUCKETS: usize = 25;
const DAY_BUCKETS: usize = 31;

#[derive(Clone, Copy, Debug, Default)]
struct Bucket {
    index: u64,
    sum: i64,
}

/// Sums of one metric over hourly and daily buckets.
#[derive(Clone, Debug)]
pub(crate) struct Window {
    /// Sequence number at which counting began: amounts from earlier
    /// commands were never counted, so they are never taken back either.
    counting_since_seq: u64,
    hours: [Bucket; HOUR_BUCKETS],
    days: [Bucket; DAY_BUCKETS],
}

impl Window {
    fn new(counting_since_seq: u64) -> Window {
        Window {
            counting_since_seq,
            hours: [Bucket::default(); HOUR_BUCKETS],
            days: [Bucket::default(); DAY_BUCKETS],
        }
    }

    /// Counts `delta` at `time_ms` (the current time).
    fn add(&mut self, time_ms: u64, delta: i64) {
        for (buckets, width) in [(&mut self.hours[..], HOUR_MS), (&mut self.days[..], DAY_MS)] {
            let index = time_ms / width;
            let bucket = &mut buckets[(index % buckets.len() as u64) as usize];
            if bucket.index != index {
                *bucket = Bucket { index, sum: 0 };
            }
            bucket.sum = bucket.sum.saturating_add(delta);
        }
    }

    /// Takes `amount` counted at the earlier `time_ms` back out, in whichever
    /// buckets still hold that time.
    fn take_back(&mut self, time_ms: u64, amount: i64) {
        for (buckets, width) in [(&mut self.hours[..], HOUR_MS), (&mut self.days[..], DAY_MS)] {
            let index = time_ms / width;
            let bucket = &mut buckets[(index % buckets.len() as u64) as usize];
            if bucket.index == index {
                bucket.sum = bucket.sum.saturating_sub(amount);
            }
        }
    }

    /// The sum over the window of `period` ending at `now_ms`.
    fn total(&self, now_ms: u64, period: LimitPeriod) -> i64 {
        let (buckets, width, span) = match period {
            LimitPeriod::Day => (&self.hours[..], HOUR_MS, 24),
            LimitPeriod::Week => (&self.days[..], DAY_MS, 7),
            LimitPeriod::Month => (&self.days[..], DAY_MS, 30),
        };
        let newest = now_ms / width;
        let oldest = newest.saturating_sub(span);
        buckets
            .iter()
            .filter(|b| b.index >= oldest && b.index <= newest)
            .fold(0_i64, |sum, b| sum.saturating_add(b.sum))
    }
}

/// A limit change waiting for its cooling-off to pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Pending {
    amount: Option<Amount>,
    effective_at_ms: u64,
}

#[derive(Clone, Copy, Debug, Default)]
struct Slot {
    current: Option<Amount>,
    pending: Option<Pending>,
}

/// The limits set on one wallet and the windows that feed them.
#[derive(Clone, Debug, Default)]
pub(crate) struct Limits {
    slots: [Slot; 9],
    windows: [Option<Box<Window>>; 3],
}

/// A limit as of a moment: its kind, the maximum in force, and a change
/// waiting for its cooling-off (the new maximum, `None` for a removal, and
/// when it applies).
pub(crate) type LimitState = (LimitKind, Option<Amount>, Option<(Option<Amount>, u64)>);

/// What setting a limit did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LimitChange {
    /// Took effect at once (a decrease, or a first limit).
    Immediate,
    /// Takes effect at the given time (an increase or removal).
    Scheduled(u64),
}

const METRICS: [LimitMetric; 3] = [LimitMetric::Deposit, LimitMetric::Loss, LimitMetric::Wager];
const PERIODS: [LimitPeriod; 3] = [LimitPeriod::Day, LimitPeriod::Week, LimitPeriod::Month];

fn metric_index(metric: LimitMetric) -> usize {
    match metric {
        LimitMetric::Deposit => 0,
        LimitMetric::Loss => 1,
        LimitMetric::Wager => 2,
    }
}

fn slot_index(kind: LimitKind) -> usize {
    let period = match kind.period {
        LimitPeriod::Day => 0,
        LimitPeriod::Week => 1,
        LimitPeriod::Month => 2,
    };
    metric_index(kind.metric) * 3 + period
}

impl Limits {
    /// Sets (or removes, with `None`) a limit at `(seq, now_ms)`. Lowering
    /// applies at once; raising or removing waits `cooling_off_ms`.
    pub(crate) fn set(
        &mut self,
        kind: LimitKind,
        amount: Option<Amount>,
        (seq, now_ms): (u64, u64),
        cooling_off_ms: u64,
    ) -> LimitChange {
        self.promote(now_ms);
        let window = &mut self.windows[metric_index(kind.metric)];
        window.get_or_insert_with(|| Box::new(Window::new(seq)));
        let slot = &mut self.slots[slot_index(kind)];
        let tightens = match (slot.current, amount) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(current), Some(new)) => new <= current,
        };
        if tightens {
            *slot = Slot {
                current: amount,
                pending: None,
            };
            LimitChange::Immediate
        } else {
            let effective_at_ms = now_ms.saturating_add(cooling_off_ms);
            slot.pending = Some(Pending {
                amount,
                effective_at_ms,
            });
            LimitChange::Scheduled(effective_at_ms)
        }
    }

    /// Applies pending changes whose cooling-off has passed.
    pub(crate) fn promote(&mut self, now_ms: u64) {
        for slot in &mut self.slots {
            if let Some(pending) = slot.pending.filter(|p| p.effective_at_ms <= now_ms) {
                *slot = Slot {
                    current: pending.amount,
                    pending: None,
                };
            }
        }
    }

    /// The limit in force for `kind` (after [`Limits::promote`]).
    pub(crate) fn current(&self, kind: LimitKind) -> Option<Amount> {
        self.slots[slot_index(kind)].current
    }

    /// Checks that counting `amount` more on every metric in `metrics`
    /// stays within all limits; names the first one it would break.
    pub(crate) fn check(
        &self,
        metrics: &[LimitMetric],
        amount: Amount,
        now_ms: u64,
    ) -> Result<(), (LimitKind, Amount)> {
        for &metric in metrics {
            let Some(window) = &self.windows[metric_index(metric)] else {
                continue;
            };
            for period in PERIODS {
                let kind = LimitKind { metric, period };
                let Some(limit) = self.current(kind) else {
                    continue;
                };
                let used = window.total(now_ms, period).max(0);
                let remaining = limit.minor().saturating_sub(used).max(0);
                if amount.minor() > remaining {
                    return Err((kind, Amount::from_minor(remaining)));
                }
            }
        }
        Ok(())
    }

    /// The first limit on `metrics` that what is counted already goes past
    /// (a limit lowered after the money was counted), with nothing left.
    pub(crate) fn exceeded(&self, metrics: &[LimitMetric], now_ms: u64) -> Result<(), (LimitKind, Amount)> {
        for &metric in metrics {
            let Some(window) = &self.windows[metric_index(metric)] else {
                continue;
            };
            for period in PERIODS {
                let kind = LimitKind { metric, period };
                let Some(limit) = self.current(kind) else {
                    continue;
                };
                if window.total(now_ms, period) > limit.minor() {
                    return Err((kind, Amount::ZERO));
                }
            }
        }
        Ok(())
    }

    /// Counts `delta` (signed) on `metric` at the current time.
    pub(crate) fn record(&mut self, metric: LimitMetric, now_ms: u64, delta: i64) {
        if let Some(window) = &mut self.windows[metric_index(metric)] {
            window.add(now_ms, delta);
        }
    }

    /// Takes back `amount` that the command at `(then_seq, then_ms)` counted
    /// on `metric`, if it was counted at all.
    pub(crate) fn take_back(&mut self, metric: LimitMetric, (then_seq, then_ms): (u64, u64), amount: i64) {
        if let Some(window) = &mut self.windows[metric_index(metric)]
            && then_seq > window.counting_since_seq
        {
            window.take_back(then_ms, amount);
        }
    }

    /// Every limit set or scheduled, as of `now_ms` (pending changes whose
    /// cooling-off has passed count as in force), without promoting them.
    pub(crate) fn statuses(&self, now_ms: u64) -> impl Iterator<Item = LimitState> + '_ {
        METRICS.iter().flat_map(move |&metric| {
            PERIODS.iter().filter_map(move |&period| {
                let kind = LimitKind { metric, period };
                let slot = self.slots[slot_index(kind)];
                match slot.pending {
                    Some(p) if p.effective_at_ms <= now_ms => p.amount.map(|amount| (kind, Some(amount), None)),
                    Some(p) => Some((kind, slot.current, Some((p.amount, p.effective_at_ms)))),
                    None => slot.current.map(|amount| (kind, Some(amount), None)),
                }
            })
        })
    }

    /// Every limit in force, for views and digests.
    pub(crate) fn in_force(&self) -> impl Iterator<Item = (LimitKind, Amount)> + '_ {
        METRICS.iter().flat_map(move |&metric| {
            PERIODS.iter().filter_map(move |&period| {
                let kind = LimitKind { metric, period };
                self.current(kind).map(|amount| (kind, amount))
            })
        })
    }
}

#[cfg(test)]
mod tests;

// The snapshot image of limit state (see `crate::codec`).
codec_struct!(Bucket { index, sum });
codec_struct!(Window {
    counting_since_seq,
    hours,
    days
});
codec_struct!(Pending {
    amount,
    effective_at_ms
});
codec_struct!(Slot { current, pending });

impl Encode for Limits {
    fn encode<S: Sink>(&self, out: &mut S) {
        self.slots.encode(out);
        for window in &self.windows {
            window.encode(out);
        }
    }
}

impl Decode for Limits {
    fn decode(input: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let slots = Decode::decode(input)?;
        let windows = [Decode::decode(input)?, Decode::decode(input)?, Decode::decode(input)?];
        Ok(Limits { slots, windows })
    }
}
