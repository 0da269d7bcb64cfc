//! The journal's knobs and their limits, fixed when it is opened.

use crate::error::JournalError;
use crate::format::BATCH_ALIGN_BYTES;

/// Default segment size: 64 MiB.
pub const SEGMENT_SIZE_DEFAULT_BYTES: u64 = 64 << 20;
/// Smallest segment size accepted (tests use it to force many rolls).
pub const SEGMENT_SIZE_MIN_BYTES: u64 = 4 << 10;
/// Largest segment size accepted.
pub const SEGMENT_SIZE_MAX_BYTES: u64 = 1 << 30;
/// Longest flush interval accepted by [`FlushPolicy::Interval`].
pub const FLUSH_INTERVAL_MAX_MS: u64 = 10_000;

/// When appended batches are made durable.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FlushPolicy {
    /// Every [`Journal::flush`](crate::Journal::flush) fdatasyncs the
    /// active segment if anything was appended since the last one. One
    /// flush per batch: nothing acknowledged is ever lost. The default.
    #[default]
    Always,
    /// A background thread fdatasyncs the active segment every `ms`
    /// milliseconds when something was appended; `flush` only reports that
    /// thread's failures. A crash of the machine (not just the process) can
    /// lose the batches of the last `ms` milliseconds plus one sync; and
    /// because the operating system may write those pages out of order,
    /// recovery can then find a hole followed by valid batches and refuse
    /// to open (see `FORMAT.md`, "Known limits").
    Interval {
        /// Most milliseconds between two syncs, 1 ..= [`FLUSH_INTERVAL_MAX_MS`].
        ms: u64,
    },
    /// **Never syncs (except when a segment is sealed). For benchmarks
    /// only**: a machine crash loses anything up to the whole active
    /// segment, and acknowledged commands with it. A process crash loses
    /// nothing that was appended, as the page cache survives it.
    None,
}

/// How a journal is laid out and flushed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JournalConfig {
    /// Size of each pre-allocated segment file; a batch must fit in one.
    /// [`SEGMENT_SIZE_MIN_BYTES`] ..= [`SEGMENT_SIZE_MAX_BYTES`], a multiple of 8.
    /// Default [`SEGMENT_SIZE_DEFAULT_BYTES`]. Existing segments keep the size they were made with.
    pub segment_size_bytes: u64,
    /// When appends become durable.
    pub flush: FlushPolicy,
}

impl Default for JournalConfig {
    fn default() -> JournalConfig {
        JournalConfig {
            segment_size_bytes: SEGMENT_SIZE_DEFAULT_BYTES,
            flush: FlushPolicy::Always,
        }
    }
}

impl JournalConfig {
    /// Checks every limit.
    pub fn validate(&self) -> Result<(), JournalError> {
        let size = self.segment_size_bytes;
        if !(SEGMENT_SIZE_MIN_BYTES..=SEGMENT_SIZE_MAX_BYTES).contains(&size) {
            return Err(JournalError::Config(format!(
                "segment_size_bytes {size} outside {SEGMENT_SIZE_MIN_BYTES}..={SEGMENT_SIZE_MAX_BYTES}"
            )));
        }
        if !size.is_multiple_of(BATCH_ALIGN_BYTES as u64) {
            return Err(JournalError::Config(format!(
                "segment_size_bytes {size} is not a multiple of {BATCH_ALIGN_BYTES}"
            )));
        }
        if let FlushPolicy::Interval { ms } = self.flush
            && !(1..=FLUSH_INTERVAL_MAX_MS).contains(&ms)
        {
            return Err(JournalError::Config(format!(
                "flush interval {ms} ms outside 1..={FLUSH_INTERVAL_MAX_MS}"
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(config: JournalConfig, ok: bool) {
        assert_eq!(config.validate().is_ok(), ok, "{config:?}");
    }

    #[test]
    fn limits_are_enforced() {
        let base = JournalConfig::default();
        check(base, true);
        check(
            JournalConfig {
                segment_size_bytes: SEGMENT_SIZE_MIN_BYTES,
                ..base
            },
            true,
        );
        check(
            JournalConfig {
                segment_size_bytes: 1024,
                ..base
            },
            false,
        );
        check(
            JournalConfig {
                segment_size_bytes: SEGMENT_SIZE_MIN_BYTES + 4,
                ..base
            },
            false,
        );
        check(
            JournalConfig {
                segment_size_bytes: SEGMENT_SIZE_MAX_BYTES * 2,
                ..base
            },
            false,
        );
        check(
            JournalConfig {
                flush: FlushPolicy::Interval { ms: 0 },
                ..base
            },
            false,
        );
        check(
            JournalConfig {
                flush: FlushPolicy::Interval { ms: 5 },
                ..base
            },
            true,
        );
    }
}
