//! Rate limits for log lines that clients can cause at will (refused
//! connections, requests answered with a server error): at most one line
//! per second per kind, and the next line says how many were left out, so
//! a flood neither fills the disk nor hides how big it was.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Least time between two lines of one kind.
pub const INTERVAL: Duration = Duration::from_secs(1);

/// No line written yet.
const NEVER: u64 = u64::MAX;

/// The limit of one kind of line.
pub struct LogLimit {
    /// Milliseconds since [`epoch`] of the last line written, or [`NEVER`].
    last_ms: AtomicU64,
    /// Lines left out since the last one written.
    suppressed: AtomicU64,
}

impl LogLimit {
    /// A limit that lets its first line through.
    pub const fn new() -> LogLimit {
        LogLimit {
            last_ms: AtomicU64::new(NEVER),
            suppressed: AtomicU64::new(0),
        }
    }

    /// `Some(n)`: write the line now, saying that `n` were left out before
    /// it; `None`: leave it out.
    pub fn admit(&self) -> Option<u64> {
        self.admit_at(elapsed_ms())
    }

    fn admit_at(&self, now_ms: u64) -> Option<u64> {
        let last = self.last_ms.load(Ordering::Relaxed);
        let due = last == NEVER || now_ms.saturating_sub(last) >= INTERVAL.as_millis() as u64;
        // Of racing callers, one wins the slot; the others count as left out.
        if due
            && self
                .last_ms
                .compare_exchange(last, now_ms, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            return Some(self.suppressed.swap(0, Ordering::Relaxed));
        }
        self.suppressed.fetch_add(1, Ordering::Relaxed);
        None
    }
}

impl Default for LogLimit {
    fn default() -> LogLimit {
        LogLimit::new()
    }
}

/// Milliseconds since the first call in this process (monotonic).
fn elapsed_ms() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    EPOCH.get_or_init(Instant::now).elapsed().as_millis() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_a_second_and_the_next_counts_what_was_left_out() {
        let limit = LogLimit::new();
        assert_eq!(limit.admit_at(5), Some(0));
        assert_eq!(limit.admit_at(6), None);
        assert_eq!(limit.admit_at(1_004), None);
        assert_eq!(limit.admit_at(1_005), Some(2));
        assert_eq!(limit.admit_at(5_000), Some(0));
    }
}
