//! The PAM module's [`PlayerDirectory`]: what partner contracts may be told
//! about a player (country, date of birth, registration time, affiliate),
//! read from the profiles view and opened with the player's data key.
//!
//! An erased player has no profile left to tell: only the registration
//! time remains. The CRM module asks it too, for what marketing may use
//! (country, date of birth, contact, consents per channel), and has it
//! fill the read model's plain country and birth year, which segments
//! select on ([`ProfileDirectory::fill_attributes`]; why they are filled
//! here and not journaled: `readmodel::profiles`). The server runs that
//! once at start-up too ([`spawn_backfill`]): a read model made before
//! those columns, or rebuilt, gets them without opening a profile per
//! evaluation.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::Arc;

use edge::directory::{
    FactsFuture, FactsManyFuture, FillFuture, MarketingFacts, MarketingFuture, PlayerDirectory, PlayerFacts,
};
use edge::error::ApiError;
use edge::reads::read;
use edge::state::AppState;
use engine::{KeyId, PlayerId};
use readmodel::profiles;

use crate::players::open;
use crate::profile::{Date, Profile};
use crate::vault::{DataKey, Vault};

/// Profiles opened per read-model transaction when filling attributes.
const FILL_BATCH: u32 = 500;
/// Batches in a row that may write nothing before a fill gives up.
const STALLS_MAX: u32 = 3;

/// The directory over the profiles view and the vault.
pub struct ProfileDirectory {
    vault: Arc<Vault>,
}

/// What a partner may know of a player, from their opened profile.
fn learn(facts: &mut PlayerFacts, profile: Profile) {
    facts.country = Some(profile.country);
    facts.birth_date = Some(profile.date_of_birth);
    facts.affiliate_code = profile.affiliate_code;
}

impl ProfileDirectory {
    /// A directory opening profiles with `vault`'s keys.
    pub fn new(vault: Arc<Vault>) -> ProfileDirectory {
        ProfileDirectory { vault }
    }
}

impl PlayerDirectory for ProfileDirectory {
    fn facts<'a>(&'a self, state: &'a AppState, player: PlayerId) -> FactsFuture<'a> {
        Box::pin(async move {
            let (view, _) = read(state, move |c| profiles::profile(c, player)).await?;
            let Some(view) = view else { return Ok(None) };
            let mut facts = PlayerFacts {
                registered_at_ms: view.registered_at_ms,
                ..PlayerFacts::default()
            };
            if let Some(sealed) = view.profile {
                let profile = open(&self.vault, sealed).await?;
                learn(&mut facts, profile);
            }
            Ok(Some(facts))
        })
    }

    fn facts_of<'a>(&'a self, state: &'a AppState, players: Vec<PlayerId>) -> FactsManyFuture<'a> {
        Box::pin(async move {
            let (views, _) = read(state, move |c| {
                let mut views = Vec::with_capacity(players.len());
                for player in players {
                    if let Some(view) = profiles::profile(c, player)? {
                        views.push((player, view));
                    }
                }
                Ok(views)
            })
            .await?;
            // One blocking task opens them all, each data key read and
            // unwrapped once for the batch (and dropped with it).
            let vault = Arc::clone(&self.vault);
            let opening = tokio::task::spawn_blocking(move || -> Result<_, ApiError> {
                let mut keys: HashMap<KeyId, Option<DataKey>> = HashMap::new();
                let mut found = HashMap::with_capacity(views.len());
                let mut unkeyed = Vec::new();
                for (player, view) in views {
                    let mut facts = PlayerFacts {
                        registered_at_ms: view.registered_at_ms,
                        ..PlayerFacts::default()
                    };
                    if let Some(sealed) = view.profile {
                        let key = match keys.entry(sealed.key_id) {
                            Entry::Occupied(stored) => stored.into_mut(),
                            Entry::Vacant(slot) => slot.insert(vault.key(sealed.key_id).map_err(ApiError::internal)?),
                        };
                        let Some(key) = key else {
                            unkeyed.push((player, facts, sealed));
                            continue;
                        };
                        let plain = key.open(&sealed).map_err(ApiError::internal)?;
                        let profile: Profile = serde_json::from_slice(&plain).map_err(ApiError::internal)?;
                        learn(&mut facts, profile);
                    }
                    found.insert(player, facts);
                }
                Ok((found, unkeyed))
            });
            let (mut found, unkeyed) = opening.await.map_err(ApiError::internal)??;
            // A key this member lacks: the one-by-one path fetches it from
            // the group (or fails as a lone profile's read would).
            for (player, mut facts, sealed) in unkeyed {
                let profile = open(&self.vault, sealed).await?;
                learn(&mut facts, profile);
                found.insert(player, facts);
            }
            Ok(found)
        })
    }

    fn marketing<'a>(&'a self, state: &'a AppState, player: PlayerId) -> MarketingFuture<'a> {
        Box::pin(async move {
            let (view, _) = read(state, move |c| profiles::profile(c, player)).await?;
            let Some(sealed) = view.and_then(|v| v.profile) else {
                return Ok(None);
            };
            let profile = open(&self.vault, sealed).await?;
            Ok(Some(MarketingFacts {
                country: profile.country,
                birth_date: profile.date_of_birth,
                email: profile.email,
                phone: profile.phone,
                email_consent: profile.marketing.email,
                sms_consent: profile.marketing.sms,
                push_token: profile.push_token,
                push_consent: profile.marketing.push,
            }))
        })
    }

    fn fill_attributes<'a>(&'a self, state: &'a AppState) -> FillFuture<'a> {
        Box::pin(self.fill(state))
    }
}

impl ProfileDirectory {
    /// Opens the profiles whose plain attributes are owed, a batch at a
    /// time, and records their country and birth year (each only if the
    /// profile is still the one opened: one changed meanwhile stays owed,
    /// one erased stays blank). Ends when none is owed.
    async fn fill(&self, state: &AppState) -> Result<u64, edge::error::ApiError> {
        let (mut filled, mut stalls) = (0, 0);
        loop {
            let (pending, _) = read(state, |c| profiles::pending_attributes(c, FILL_BATCH)).await?;
            if pending.is_empty() {
                return Ok(filled);
            }
            let mut opened = Vec::with_capacity(pending.len());
            for (player, sealed) in pending {
                let profile = open(&self.vault, sealed.clone()).await?;
                let year = Date::parse(&profile.date_of_birth).map(|d| d.year());
                opened.push((player, sealed, profile.country, year));
            }
            let (written, asked) = state
                .readmodel
                .write(move |c| {
                    let mut written = 0;
                    for (player, sealed, country, year) in &opened {
                        written += u64::from(profiles::set_attributes(c, *player, sealed, Some(country), *year)?);
                    }
                    Ok::<_, readmodel::ReadModelError>((written, opened.len()))
                })
                .await
                .map_err(edge::error::ApiError::internal)?;
            filled += written;
            // Rows changed under this batch are owed again with their new
            // profile, and rows another filler (the start-up backfill, a
            // concurrent evaluation) wrote first are no longer owed: go on.
            // Only batches that write nothing again and again are left to
            // the next call rather than spun on.
            stalls = if written == 0 && asked > 0 { stalls + 1 } else { 0 };
            if stalls == STALLS_MAX {
                return Ok(filled);
            }
        }
    }
}

/// Fills every owed attribute once the server is up (the upgrade's
/// backfill, idempotent), logging how many.
pub fn spawn_backfill(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let Some(directory) = state.directory() else { return };
        match directory.fill_attributes(&state).await {
            Ok(0) => {}
            Ok(filled) => tracing::info!(filled, "profiles' marketing attributes filled from the vault"),
            Err(error) => tracing::warn!(?error, "filling the profiles' marketing attributes failed"),
        }
    })
}
