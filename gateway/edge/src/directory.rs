//! What a module may learn about a player from the module that keeps
//! players, without depending on it: the PAM module registers a
//! [`PlayerDirectory`] in `AppState::modules` at start-up, and the partner
//! contracts (Hub88's `/user/info`) ask it.
//!
//! Only facts a partner contract may be told are here; the profile itself
//! stays with the PAM module, which opens it with the player's data key.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use engine::PlayerId;

use crate::error::ApiError;
use crate::state::AppState;

/// What partner contracts may be told about a player.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PlayerFacts {
    /// Country of residence, ISO 3166-1 alpha-2 (`GB`); `None` without a
    /// profile or after an erasure.
    pub country: Option<String>,
    /// Date of birth, `YYYY-MM-DD`.
    pub birth_date: Option<String>,
    /// When the player registered, ms since the epoch.
    pub registered_at_ms: Option<u64>,
    /// The affiliate's tracking code, if the player came through one.
    pub affiliate_code: Option<String>,
}

/// What marketing may use of a player (the CRM module's segments and
/// campaigns), opened from the profile: never stored, never logged.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MarketingFacts {
    /// Country of residence, ISO 3166-1 alpha-2.
    pub country: String,
    /// Date of birth, `YYYY-MM-DD`.
    pub birth_date: String,
    /// Email address.
    pub email: String,
    /// Phone number.
    pub phone: String,
    /// Consents to marketing by email.
    pub email_consent: bool,
    /// Consents to marketing by SMS.
    pub sms_consent: bool,
    /// The device's push registration token, if the front end set one.
    pub push_token: Option<String>,
    /// Consents to marketing by push notification.
    pub push_consent: bool,
}

/// A boxed future of a marketing answer.
pub type MarketingFuture<'a> = Pin<Box<dyn Future<Output = Result<Option<MarketingFacts>, ApiError>> + Send + 'a>>;

/// A boxed future of how many players' plain attributes were filled.
pub type FillFuture<'a> = Pin<Box<dyn Future<Output = Result<u64, ApiError>> + Send + 'a>>;

/// A boxed future of a directory answer.
pub type FactsFuture<'a> = Pin<Box<dyn Future<Output = Result<Option<PlayerFacts>, ApiError>> + Send + 'a>>;

/// A boxed future of the facts about many players (those that exist).
pub type FactsManyFuture<'a> =
    Pin<Box<dyn Future<Output = Result<HashMap<PlayerId, PlayerFacts>, ApiError>> + Send + 'a>>;

/// Tells what partners may know of a player (`None`: no such player).
pub trait PlayerDirectory: Send + Sync {
    /// The facts about `player`, as of the read model.
    fn facts<'a>(&'a self, state: &'a AppState, player: PlayerId) -> FactsFuture<'a>;

    /// The facts about each of `players` that exists, as of the read model:
    /// what a report naming a million players asks, in one go rather than
    /// a million (by default, [`PlayerDirectory::facts`] one at a time).
    fn facts_of<'a>(&'a self, state: &'a AppState, players: Vec<PlayerId>) -> FactsManyFuture<'a> {
        Box::pin(async move {
            let mut found = HashMap::with_capacity(players.len());
            for player in players {
                if let Some(facts) = self.facts(state, player).await? {
                    found.insert(player, facts);
                }
            }
            Ok(found)
        })
    }

    /// What marketing may use of `player` (`None`: no profile, or erased).
    fn marketing<'a>(&'a self, state: &'a AppState, player: PlayerId) -> MarketingFuture<'a> {
        let _ = (state, player);
        Box::pin(async { Ok(None) })
    }

    /// Fills the read model's plain marketing attributes (country, birth
    /// year) of every player whose profile was registered or changed since
    /// they were filled (`readmodel::profiles::pending_attributes`), as of
    /// the read model now; says how many. Segments call it before an
    /// evaluation, the server once at start-up (the backfill).
    fn fill_attributes<'a>(&'a self, state: &'a AppState) -> FillFuture<'a> {
        let _ = state;
        Box::pin(async { Ok(0) })
    }
}

/// The directory a module registered, as `AppState::modules` holds it.
#[derive(Clone)]
pub struct Directory(pub Arc<dyn PlayerDirectory>);

impl AppState {
    /// The player directory, if a module registered one.
    pub fn directory(&self) -> Option<Arc<dyn PlayerDirectory>> {
        self.modules
            .get::<Directory>()
            .map(|directory| Arc::clone(&directory.0))
    }
}
