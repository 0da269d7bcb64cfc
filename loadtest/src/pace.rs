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
//!
//! The schedule is kept by a pacer thread that sleeps to each slot with the
//! operating system's timer (tens of microseconds late, where tokio's timer
//! rounds to the millisecond) and hands it to a waiting connection through
//! a semaphore, so no connection spins while it waits.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

/// The pacing of a run.
pub struct Pace {
    start: Instant,
    until: Instant,
    open: Option<Open>,
}

/// The open loop's schedule.
struct Open {
    interval: Duration,
    /// Slots in the whole run.
    slots: u64,
    /// One permit per slot that is due, plus one per connection at the end.
    due: Arc<Semaphore>,
    /// The next slot to hand out.
    next: AtomicU64,
    /// Tells the pacer to stop early (the run failed).
    stop: Arc<AtomicBool>,
}

/// When a request is sent, and what its latency is measured from.
#[derive(Clone, Copy, Debug)]
pub struct Slot {
    /// The schedule's time for it (closed loop: when it was sent).
    pub intended: Instant,
}

impl Pace {
    /// `rate`: requests per second for the open loop, `None` for the
    /// closed loop; `connections` wait for slots.
    pub fn new(rate: Option<f64>, start: Instant, until: Instant, connections: usize) -> std::io::Result<Pace> {
        let Some(rate) = rate else {
            return Ok(Pace {
                start,
                until,
                open: None,
            });
        };
        let interval = Duration::from_secs_f64(1.0 / rate);
        let slots = ((until - start).as_secs_f64() * rate).ceil() as u64;
        let due = Arc::new(Semaphore::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (pacer_due, pacer_stop) = (due.clone(), stop.clone());
        std::thread::Builder::new().name("pacer".into()).spawn(move || {
            for slot in 0..slots {
                if pacer_stop.load(Ordering::Relaxed) {
                    break;
                }
                let at = start + interval.mul_f64(slot as f64);
                if let Some(wait) = at.checked_duration_since(Instant::now()) {
                    std::thread::sleep(wait);
                }
                pacer_due.add_permits(1);
            }
            // Wake every connection: each finds the schedule spent.
            pacer_due.add_permits(connections);
        })?;
        Ok(Pace {
            start,
            until,
            open: Some(Open {
                interval,
                slots,
                due,
                next: AtomicU64::new(0),
                stop,
            }),
        })
    }

    /// Waits for the next request's slot; `None` once the run is over.
    pub async fn next(&self) -> Option<Slot> {
        let Some(open) = &self.open else {
            let now = Instant::now();
            return (now < self.until).then_some(Slot { intended: now });
        };
        open.due.acquire().await.ok()?.forget();
        let index = open.next.fetch_add(1, Ordering::Relaxed);
        if index >= open.slots {
            // Leave the permit for the next connection to find out too.
            open.due.add_permits(1);
            return None;
        }
        Some(Slot {
            intended: self.start + open.interval.mul_f64(index as f64),
        })
    }
}

impl Drop for Pace {
    fn drop(&mut self) {
        if let Some(open) = &self.open {
            open.stop.store(true, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_open_loop_hands_out_evenly_spaced_slots_never_early_and_stops_at_the_end() {
        let start = Instant::now();
        let pace = Pace::new(Some(1_000.0), start, start + Duration::from_millis(20), 2).unwrap();
        let mut slots = Vec::new();
        while let Some(slot) = pace.next().await {
            assert!(Instant::now() >= slot.intended, "a slot is never handed out early");
            slots.push(slot.intended);
        }
        assert_eq!(slots.len(), 20);
        for (n, slot) in slots.iter().enumerate() {
            let offset = (*slot - start).as_micros();
            assert!(offset.abs_diff(n as u128 * 1_000) <= 1, "slot {n} at {offset} µs");
        }
        // Every other connection finds the end too.
        assert!(pace.next().await.is_none());
    }

    #[tokio::test]
    async fn the_closed_loop_sends_at_once_until_the_end() {
        let start = Instant::now();
        let pace = Pace::new(None, start, start + Duration::from_millis(5), 1).unwrap();
        let slot = pace.next().await.unwrap();
        assert!(slot.intended >= start);
        tokio::time::sleep(Duration::from_millis(6)).await;
        assert!(pace.next().await.is_none());
    }
}
