//! The background snapshotter: takes a snapshot whenever the journal has
//! grown by a configured number of commands, or on request.
//!
//! It never touches the live ledger. Each snapshot is rebuilt from disk (the
//! newest snapshot plus the durable journal after it, see
//! [`take_snapshot`]) on this thread, so the sequencer does not stop for it;
//! what it costs the server is one core for the rebuild and the write, and
//! the disk bandwidth of the write.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};

use crate::durable::{DurableSeq, SnapshotPolicy, SnapshotTaken, take_snapshot};
use crate::ledger::Config;
use crate::snapshot;

/// When to take snapshots and what to keep.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SnapshotterConfig {
    /// Take a snapshot once this many commands were made durable since the
    /// last one (0: only on request). Default 5,000,000: at most that many
    /// commands to replay on a restart, about 4 s at worst on a 2-core VM.
    pub every_commands: u64,
    /// How often the durable sequence number is looked at.
    pub poll: Duration,
    /// What to keep.
    pub policy: SnapshotPolicy,
}

impl Default for SnapshotterConfig {
    fn default() -> SnapshotterConfig {
        SnapshotterConfig {
            every_commands: 5_000_000,
            poll: Duration::from_secs(1),
            policy: SnapshotPolicy::default(),
        }
    }
}

/// What the snapshotter has done so far.
#[derive(Clone, Debug, Default)]
pub struct SnapshotterStatus {
    /// Snapshots taken.
    pub taken: u64,
    /// The newest one taken by this snapshotter.
    pub last: Option<SnapshotTaken>,
    /// The last failure, if the last attempt failed.
    pub last_error: Option<String>,
}

/// The reply to [`Snapshotter::request`].
pub type SnapshotReply = Result<Option<SnapshotTaken>, String>;

enum Message {
    Now(oneshot::Sender<SnapshotReply>),
    Stop,
}

/// A thread that takes snapshots of one data directory.
pub struct Snapshotter {
    messages: Sender<Message>,
    status: Arc<Mutex<SnapshotterStatus>>,
    thread: Option<JoinHandle<()>>,
}

impl Snapshotter {
    /// Starts the thread for the data directory `dir`, whose journal's
    /// durable end `durable` tracks (see [`JournalSink::durable_seq`](crate::durable::JournalSink::durable_seq)).
    pub fn spawn(
        dir: PathBuf,
        ledger_config: Config,
        durable: DurableSeq,
        config: SnapshotterConfig,
    ) -> std::io::Result<Snapshotter> {
        let (messages, inbox) = crossbeam_channel::unbounded();
        let status = Arc::new(Mutex::new(SnapshotterStatus::default()));
        let worker = Worker {
            last_seq: snapshot::list(&dir)
                .ok()
                .and_then(|found| found.first().map(|(seq, _)| *seq))
                .unwrap_or(0),
            dir,
            ledger_config,
            durable,
            config,
            status: status.clone(),
        };
        let thread = std::thread::Builder::new()
            .name("snapshotter".into())
            .spawn(move || worker.run(&inbox))?;
        Ok(Snapshotter {
            messages,
            status,
            thread: Some(thread),
        })
    }

    /// Asks for a snapshot now; the receiver gets what was taken
    /// (`Ok(None)`: nothing new since the last one).
    pub fn request(&self) -> oneshot::Receiver<SnapshotReply> {
        let (reply, receiver) = oneshot::channel();
        // A stopped thread drops the reply: the receiver then reports it.
        let _ = self.messages.send(Message::Now(reply));
        receiver
    }

    /// What it has done so far.
    pub fn status(&self) -> SnapshotterStatus {
        self.status.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Stops the thread, waiting for a snapshot in progress to finish.
    pub fn stop(mut self) {
        self.shut_down();
    }

    fn shut_down(&mut self) {
        let _ = self.messages.send(Message::Stop);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Snapshotter {
    fn drop(&mut self) {
        self.shut_down();
    }
}

struct Worker {
    dir: PathBuf,
    ledger_config: Config,
    durable: DurableSeq,
    config: SnapshotterConfig,
    status: Arc<Mutex<SnapshotterStatus>>,
    /// Sequence number of the newest snapshot.
    last_seq: u64,
}

impl Worker {
    fn run(mut self, inbox: &Receiver<Message>) {
        loop {
            match inbox.recv_timeout(self.config.poll) {
                Ok(Message::Now(reply)) => {
                    let taken = self.take();
                    let _ = reply.send(taken);
                }
                Ok(Message::Stop) | Err(RecvTimeoutError::Disconnected) => return,
                Err(RecvTimeoutError::Timeout) => {
                    let every = self.config.every_commands;
                    if every > 0 && self.durable.get() >= self.last_seq.saturating_add(every) {
                        let _ = self.take();
                    }
                }
            }
        }
    }

    fn take(&mut self) -> SnapshotReply {
        let through = self.durable.get();
        let result = take_snapshot(&self.dir, self.ledger_config.clone(), Some(through), self.config.policy)
            .map_err(|error| error.to_string());
        let mut status = self.status.lock().unwrap_or_else(PoisonError::into_inner);
        match &result {
            Ok(Some(taken)) => {
                self.last_seq = taken.info.seq;
                status.taken += 1;
                status.last = Some(taken.clone());
                status.last_error = None;
            }
            Ok(None) => status.last_error = None,
            Err(error) => {
                // Try again only after as many commands again.
                self.last_seq = through;
                status.last_error = Some(error.clone());
            }
        }
        result
    }
}
