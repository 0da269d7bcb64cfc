//! The read copy of the ledger's access state (operators, aggregators, game
//! sessions, which players exist with their jurisdiction, currency and age
//! band, the jurisdiction profiles, the game catalogue, the jackpot pools), which handlers
//! consult without asking the sequencer: bad tokens, unknown aggregators and
//! unknown players are refused before anything reaches the ring.
//!
//! The server's commit sink keeps it in step with committed batches using
//! [`engine::ledger::Access::follow`], the same code the ledger runs; it is
//! rebuilt from the journal at every start and never written anywhere (no
//! private durable state, DESIGN.md invariant 1).

use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use engine::games::Catalogue;
use engine::jackpots::Jackpots;
use engine::ledger::Access;
use engine::players::{AgeBand, JurisdictionProfiles};
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
    /// of sending a query to the ring. Only the age band changes.
    players: Vec<PlayerView>,
    /// Every jurisdiction's profile versions (registration reads the
    /// minimum and young-adult ages; the operator API lists them), kept in
    /// step by [`JurisdictionProfiles::follow`], the ledger's own code.
    pub profiles: JurisdictionProfiles,
    /// The game catalogue (the operator API lists and shows it, an import
    /// is checked against it), kept in step by [`Catalogue::follow`], the
    /// ledger's own code.
    pub games: Catalogue,
    /// The jackpot pools (the operator API shows their balances, `/metrics`
    /// exports them), kept in step by [`Jackpots::follow`], the ledger's own
    /// arithmetic: covered bets, drops, wins and awards.
    pub jackpots: Jackpots,
}

/// What the gateway reads about a player without the ring.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlayerView {
    /// Licensing jurisdiction (an ISO 3166-1 alpha-2 code).
    pub jurisdiction: Jurisdiction,
    /// Base currency.
    pub currency: Currency,
    /// The age band the ledger holds (for the stake caps).
    pub age_band: AgeBand,
}

impl View {
    /// The view of a recovered ledger.
    pub fn of(ledger: &Ledger) -> View {
        let players = (1..=ledger.players_len() as u64)
            .filter_map(|id| {
                Some((
                    ledger.player_info(PlayerId(id)).ok()?,
                    ledger.compliance(PlayerId(id)).ok()?,
                ))
            })
            .map(|(info, (age_band, _))| PlayerView {
                jurisdiction: info.jurisdiction,
                currency: info.currency,
                age_band,
            })
            .collect();
        View {
            access: ledger.access().clone(),
            players,
            profiles: ledger.jurisdiction_profiles().clone(),
            games: ledger.catalogue().clone(),
            jackpots: ledger.jackpots().clone(),
        }
    }

    /// Applies one committed command.
    pub fn follow(&mut self, config: &Config, envelope: &Envelope, outcome: &Outcome) {
        self.access.follow(config, envelope, outcome);
        self.profiles.follow(envelope, outcome);
        self.games.follow(envelope, outcome);
        self.jackpots.follow(envelope, outcome);
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
                age_band: AgeBand::Unknown,
            }),
            Command::Players(players::Command::RegisterAged {
                jurisdiction,
                currency,
                age_band,
                ..
            }) => Some(PlayerView {
                jurisdiction: *jurisdiction,
                currency: *currency,
                age_band: *age_band,
            }),
            Command::Players(players::Command::SetAgeBand { player, band, .. }) => {
                if *outcome == Outcome::Accepted
                    && let Some(view) = player.0.checked_sub(1).and_then(|i| self.players.get_mut(i as usize))
                {
                    view.age_band = *band;
                }
                None
            }
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
