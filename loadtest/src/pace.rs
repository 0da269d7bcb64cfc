//! When each request is sent: closed loop (a connection sends its next
//! request when the previous reply arrived) or open loop (requests on a
//! fixed schedule shared by all connections, whatever the server does).
//!
//! In the open loop a request's latency is measured from the moment the
//! schedule meant to send it, not from when a free connection got to it:
//! when the server stalls, the requests it kept waiting count their wait
//! (no coordinated omission). At most one request is in flight per
//! connection, so `--connections` bounds the concurrency the schedule may
//! reach; a run that falls behind shows it in its latencies and in the
//! send lag it reports.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The pacing of a run.
pub struct Pace {
    /// `None`: closed loop. `Some`: the time between two scheduled requests.
    interval: Option<Duration>,
    start: Instant,
    until: Instant,
    /// The next schedule slot to hand out (open loop).
    next: AtomicU64,
}

/// When a request is sent, and what its latency is measured from.
#[derive(Clone, Copy, Debug)]
pub struct Slot {
    /// The schedule's time for it (closed loop: when it was sent).
    pub intended: Instant,
}

impl Pace {
    /// `rate`: requests per second for the open loop, `None` for the closed loop.
    pub fn new(rate: Option<f64>, start: Instant, until: Instant) -> Pace {
        Pace {
            interval: rate.map(|rate| Duration::from_secs_f64(1.0 / rate)),
            start,
            until,
            next: AtomicU64::new(0),
        }
    }

    /// Waits for the next request's slot; `None` once the run is over.
    pub async fn next(&self) -> Option<Slot> {
        let Some(interval) = self.interval else {
            let now = Instant::now();
            return (now < self.until).then_some(Slot { intended: now });
        };
        let index = self.next.fetch_add(1, Ordering::Relaxed);
        let intended = self.start + interval.checked_mul(u32::try_from(index).ok()?)?;
        if intended >= self.until {
            return None;
        }
        tokio::time::sleep_until(intended.into()).await;
        Some(Slot { intended })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_open_loop_hands_out_evenly_spaced_slots_and_stops_at_the_end() {
        let start = Instant::now();
        let pace = Pace::new(Some(1_000.0), start, start + Duration::from_millis(20));
        let mut slots = Vec::new();
        while let Some(slot) = pace.next().await {
            slots.push(slot.intended);
        }
        assert_eq!(slots.len(), 20);
        for (n, slot) in slots.iter().enumerate() {
            assert_eq!(*slot - start, Duration::from_millis(n as u64));
        }
        assert!(Instant::now() >= slots[19], "a slot is never handed out early");
    }

    #[tokio::test]
    async fn the_closed_loop_sends_at_once_until_the_end() {
        let start = Instant::now();
        let pace = Pace::new(None, start, start + Duration::from_millis(5));
        let slot = pace.next().await.unwrap();
        assert!(slot.intended >= start);
        tokio::time::sleep(Duration::from_millis(6)).await;
        assert!(pace.next().await.is_none());
    }
}
