//! The background thread behind [`FlushPolicy::Interval`](crate::FlushPolicy::Interval):
//! it fdatasyncs the active segment every interval in which something was
//! appended, so the window of loss stays bounded even when appends stop.

use std::fs::File;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::error::JournalError;

struct State {
    file: Arc<File>,
    path: PathBuf,
    stop: bool,
    failure: Option<JournalError>,
}

struct Shared {
    state: Mutex<State>,
    wake: Condvar,
    dirty: AtomicBool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Owns the flusher thread; stops and joins it when dropped.
pub(crate) struct IntervalFlusher {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl IntervalFlusher {
    /// Starts syncing `file` every `interval_ms` in which it was marked dirty.
    pub fn spawn(file: Arc<File>, path: PathBuf, interval_ms: u64) -> Result<IntervalFlusher, JournalError> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                file,
                path: path.clone(),
                stop: false,
                failure: None,
            }),
            wake: Condvar::new(),
            dirty: AtomicBool::new(false),
        });
        let thread_shared = shared.clone();
        let interval = Duration::from_millis(interval_ms);
        let thread = std::thread::Builder::new()
            .name("journal-flush".into())
            .spawn(move || run(&thread_shared, interval))
            .map_err(JournalError::io("spawn flusher thread", path))?;
        Ok(IntervalFlusher {
            shared,
            thread: Some(thread),
        })
    }

    /// Something was appended: sync at the next tick.
    pub fn mark_dirty(&self) {
        self.shared.dirty.store(true, Ordering::Release);
    }

    /// The active segment changed (the old one was synced whole by the roll).
    pub fn set_file(&self, file: Arc<File>, path: PathBuf) {
        let mut state = self.shared.lock();
        state.file = file;
        state.path = path;
    }

    /// The error the thread stopped on, if it did (taken once).
    pub fn take_failure(&self) -> Option<JournalError> {
        self.shared.lock().failure.take()
    }
}

fn run(shared: &Shared, interval: Duration) {
    let mut state = shared.lock();
    loop {
        state = shared
            .wake
            .wait_timeout(state, interval)
            .unwrap_or_else(PoisonError::into_inner)
            .0;
        if state.stop {
            return;
        }
        if !shared.dirty.swap(false, Ordering::AcqRel) {
            continue;
        }
        let (file, path) = (state.file.clone(), state.path.clone());
        drop(state);
        let result = file.sync_data();
        state = shared.lock();
        if let Err(source) = result {
            // A failed fsync cannot be retried: the journal stops.
            state.failure = Some(JournalError::Io {
                operation: "fdatasync (interval flush)",
                path,
                source,
            });
            return;
        }
    }
}

impl Drop for IntervalFlusher {
    fn drop(&mut self) {
        self.shared.lock().stop = true;
        self.shared.wake.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
