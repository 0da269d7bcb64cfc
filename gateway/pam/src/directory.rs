//! The PAM module's [`PlayerDirectory`]: what partner contracts may be told
//! about a player (country, date of birth, registration time, affiliate),
//! read from the profiles view and opened with the player's data key.
//!
//! An erased player has no profile left to tell: only the registration
//! time remains. The CRM module asks it too, for what marketing may use
//! (country, date of birth, contact, consents per channel).

use std::sync::Arc;

use edge::directory::{FactsFuture, MarketingFacts, MarketingFuture, PlayerDirectory, PlayerFacts};
use edge::reads::read;
use edge::state::AppState;
use engine::PlayerId;
use readmodel::profiles;

use crate::players::open;
use crate::vault::Vault;

/// The directory over the profiles view and the vault.
pub struct ProfileDirectory {
    vault: Arc<Vault>,
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
                facts.country = Some(profile.country);
                facts.birth_date = Some(profile.date_of_birth);
                facts.affiliate_code = profile.affiliate_code;
            }
            Ok(Some(facts))
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
}
