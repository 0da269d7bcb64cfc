//! The gateway's read copy of the ledger's access state, fed from the
//! committed stream.
//!
//! [`ProjectingSink`] wraps the journal sink: once a batch is durable it
//! applies the batch's access commands to the shared [`View`] with
//! [`engine::ledger::Access::follow`] (the same code the ledger runs), and
//! times the flush for `/metrics`. It runs on the sequencer thread, before
//! the replies go out, so an operator who was told "aggregator created" finds
//! it in the view. The view is rebuilt from the journal at every start and
//! never written anywhere: no private durable state (DESIGN.md invariant 1).

use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Instant;

use engine::ledger::Access;
use engine::sequencer::{CommitError, CommitSink, Committed};
use engine::{Command, Config, Envelope, Ledger, Outcome};
use engine::{access, players};

use crate::metrics::Metrics;

/// What the gateway may read without asking the sequencer.
#[derive(Clone, Debug, Default)]
pub struct View {
    /// Operators, aggregators, game sessions.
    pub access: Access,
    /// Players registered (ids are dense, 1..=players_len).
    pub players_len: u64,
}

impl View {
    /// The view of a recovered ledger.
    pub fn of(ledger: &Ledger) -> View {
        View {
            access: ledger.access().clone(),
            players_len: ledger.players_len() as u64,
        }
    }

    /// Applies one committed command.
    pub fn follow(&mut self, config: &Config, envelope: &Envelope, outcome: &Outcome) {
        self.access.follow(config, envelope, outcome);
        if let Outcome::Registered { player } = outcome {
            self.players_len = self.players_len.max(player.0);
        }
    }
}

/// The view shared between the handlers (readers) and the sink (writer).
#[derive(Clone, Debug, Default)]
pub struct SharedView(Arc<RwLock<View>>);

impl SharedView {
    /// Shares `view`.
    pub fn new(view: View) -> SharedView {
        SharedView(Arc::new(RwLock::new(view)))
    }

    /// Reads the view. A panic while writing cannot leave it half-updated
    /// (follow validates nothing and allocates only), so poisoning is ignored.
    pub fn read(&self) -> RwLockReadGuard<'_, View> {
        self.0.read().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, View> {
        self.0.write().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Commands that can change the view.
fn changes_view(command: &Command) -> bool {
    matches!(
        command,
        Command::Players(players::Command::RegisterPlayer { .. })
            | Command::Access(access::Command::CreateOperator { .. })
            | Command::Access(access::Command::CreateAggregator { .. })
            | Command::Access(access::Command::IssueSession { .. })
    )
}

/// A [`CommitSink`] that commits to `inner`, then updates the view and the metrics.
pub struct ProjectingSink<S> {
    inner: S,
    view: SharedView,
    config: Config,
    metrics: Arc<Metrics>,
}

impl<S: CommitSink> ProjectingSink<S> {
    /// Wraps `inner`; `config` must be the ledger's.
    pub fn new(inner: S, view: SharedView, config: Config, metrics: Arc<Metrics>) -> ProjectingSink<S> {
        ProjectingSink {
            inner,
            view,
            config,
            metrics,
        }
    }
}

impl<S: CommitSink> CommitSink for ProjectingSink<S> {
    fn commit(&mut self, batch: &[Committed]) -> Result<(), CommitError> {
        let started = Instant::now();
        self.inner.commit(batch)?;
        self.metrics.flush_seconds.observe(started.elapsed().as_secs_f64());
        self.metrics.batch_len.observe(batch.len() as f64);
        if batch.iter().any(|c| changes_view(&c.envelope.request.command)) {
            let mut view = self.view.write();
            for committed in batch {
                view.follow(&self.config, &committed.envelope, &committed.outcome);
            }
        }
        Ok(())
    }
}
