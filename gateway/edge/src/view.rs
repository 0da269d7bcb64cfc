//! The read copy of the ledger's access state (operators, aggregators, game
//! sessions, which players exist with their jurisdiction and currency), which handlers
//! consult without asking the sequencer: bad tokens, unknown aggregators and
//! unknown players are refused before anything reaches the ring.
//!
//! The server's commit sink keeps it in step with committed batches using
//! [`engine::ledger::Access::follow`], the same code the ledger runs; it is
//! rebuilt from the journal at every start and never written anywhere (no
//! private durable state, DESIGN.md invariant 1).

use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use engine::ledger::Access;
use engine::{Command, Config, Currency, Envelope, Jurisdiction, Ledger, Outcome, PlayerId, players};

/// What the gateway may read without asking the sequencer.
#[derive(Clone, Debug, Default)]
pub struct View {
    /// Operators, aggregators, game sessions.
    pub access: Access,
    /// Each registered player, player `n` at `n - 1` (ids are dense from
    /// 1): a few bytes a player, bounded by the ledger's player limit. A
    /// partner contract that describes the player (Hub88's `/user/info`) or
    /// names no session (Pragmatic Play's promotions) reads it here instead
    /// of sending a query to the ring. Neither field ever changes.
    players: Vec<PlayerView>,
}

/// What never changes about a player.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlayerView {
    /// Licensing jurisdiction (an ISO 3166-1 alpha-2 code).
    pub jurisdiction: Jurisdiction,
    /// Base currency.
    pub currency: Currency,
}

impl View {
    /// The view of a recovered ledger.
    pub fn of(ledger: &Ledger) -> View {
        let players = (1..=ledger.players_len() as u64)
            .filter_map(|id| ledger.player_info(PlayerId(id)).ok())
            .map(|info| PlayerView {
                jurisdiction: info.jurisdiction,
                currency: info.currency,
            })
            .collect();
        View {
            access: ledger.access().clone(),
            players,
        }
    }

    /// Applies one committed command.
    pub fn follow(&mut self, config: &Config, envelope: &Envelope, outcome: &Outcome) {
        self.access.follow(config, envelope, outcome);
        let registration = match &envelope.request.command {
            Command::Players(
                players::Command::RegisterPlayer {
                    jurisdiction, currency, ..
                }
                | players::Command::RegisterProfiled {
                    jurisdiction, currency, ..
                },
            ) => Some(PlayerView {
                jurisdiction: *jurisdiction,
                currency: *currency,
            }),
            _ => None,
        };
        if let (Outcome::Registered { player }, Some(registered)) = (outcome, registration) {
            // Ids are handed out in order, so a new player is the next one.
            debug_assert_eq!(player.0, self.players_len() + 1);
            if player.0 == self.players_len() + 1 {
                self.players.push(registered);
            }
        }
    }

    /// Players registered (ids are dense, `1..=players_len`).
    pub fn players_len(&self) -> u64 {
        self.players.len() as u64
    }

    /// A registered player.
    pub fn player(&self, player: PlayerId) -> Option<PlayerView> {
        let index = usize::try_from(player.0.checked_sub(1)?).ok()?;
        self.players.get(index).copied()
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
