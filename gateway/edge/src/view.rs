//! The read copy of the ledger's access state (operators, aggregators, game
//! sessions, how many players exist), which handlers consult without asking
//! the sequencer: bad tokens, unknown aggregators and unknown players are
//! refused before anything reaches the ring.
//!
//! The server's commit sink keeps it in step with committed batches using
//! [`engine::ledger::Access::follow`], the same code the ledger runs; it is
//! rebuilt from the journal at every start and never written anywhere (no
//! private durable state, DESIGN.md invariant 1).

use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use engine::ledger::Access;
use engine::{Config, Envelope, Ledger, Outcome};

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

/// The view shared between the handlers (readers) and the commit sink
/// (the one writer).
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

    /// Writes the view: for the commit sink only, after a batch is durable.
    pub fn write(&self) -> RwLockWriteGuard<'_, View> {
        self.0.write().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
