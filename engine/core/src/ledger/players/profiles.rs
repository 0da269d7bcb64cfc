//! Player profiles as the ledger holds them: the sealed (encrypted) profile,
//! its blind indexes, who changed it, the reason of the account's status,
//! and whether the player was erased.
//!
//! Kept beside the accounts, not inside the per-player record
//! (`../account.rs`): the bet path never reads them, and players registered
//! without a profile cost nothing here. The indexes are maps from blind
//! index to player, rebuilt from the records when a snapshot is loaded (the
//! records are the truth; the maps only make the duplicate check a lookup).

use std::collections::BTreeMap;

use super::command::{ProfileIndexes, SealedProfile};
use crate::codec::{Decode, DecodeError, Encode, Reader, Sink, codec_enum, codec_struct};
use crate::ids::{BlindIndex, KeyId, OperatorId, PlayerId, Reason};
use crate::outcome::{DuplicateOf, Rejection};

/// What the players domain knows of profiles, by player.
#[derive(Clone, Debug, Default)]
pub(crate) struct Profiles {
    records: BTreeMap<PlayerId, ProfileRecord>,
    by_email: BTreeMap<BlindIndex, PlayerId>,
    by_identity: BTreeMap<BlindIndex, PlayerId>,
    /// A data key seals one player's profile only: erasing one player must
    /// never destroy another's key.
    by_key: BTreeMap<KeyId, PlayerId>,
}

/// One player's profile data.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProfileRecord {
    /// The sealed profile and its indexes; `None` if never given or erased.
    pub sealed: Option<Sealed>,
    /// Who last registered or changed the profile.
    pub profile_by: Option<OperatorId>,
    /// Why the account has its status, if an operator said.
    pub status_reason: Option<Reason>,
    /// Who last set the status.
    pub status_by: Option<OperatorId>,
    /// Erased: the profile is gone for good.
    pub erasure: Erasure,
}

/// A sealed profile with the indexes it was submitted with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sealed {
    /// The ciphertext.
    pub profile: SealedProfile,
    /// Its blind indexes.
    pub indexes: ProfileIndexes,
}

/// Whether a player's profile was erased.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Erasure {
    /// Not erased.
    #[default]
    Live,
    /// Erased by `operator` for `reason`, at `time_ms`.
    Erased {
        /// Who.
        operator: OperatorId,
        /// Why.
        reason: Reason,
        /// When, ms since the epoch.
        time_ms: u64,
    },
}

impl ProfileRecord {
    /// True once erased.
    pub fn is_erased(&self) -> bool {
        matches!(self.erasure, Erasure::Erased { .. })
    }
}

impl Profiles {
    /// The record of `player`, if it has one.
    pub(crate) fn get(&self, player: PlayerId) -> Option<&ProfileRecord> {
        self.records.get(&player)
    }

    /// Every data key a live (sealed, not erased) profile names.
    pub(crate) fn live_keys(&self) -> impl Iterator<Item = KeyId> + '_ {
        self.records
            .values()
            .filter_map(|record| record.sealed.as_ref().map(|sealed| sealed.profile.key_id))
    }

    /// Refused if erased, or if another player holds either index or the
    /// data key.
    pub(crate) fn check_profile(
        &self,
        player: PlayerId,
        profile: &SealedProfile,
        indexes: &ProfileIndexes,
    ) -> Result<(), Rejection> {
        if self.get(player).is_some_and(ProfileRecord::is_erased) {
            return Err(Rejection::PlayerErased);
        }
        if self.by_key.get(&profile.key_id).is_some_and(|&owner| owner != player) {
            return Err(Rejection::ProfileKeyInUse);
        }
        let taken = |map: &BTreeMap<BlindIndex, PlayerId>, index| map.get(index).is_some_and(|&owner| owner != player);
        if taken(&self.by_email, &indexes.email) {
            return Err(Rejection::DuplicatePlayer {
                matched: DuplicateOf::Email,
            });
        }
        if taken(&self.by_identity, &indexes.identity) {
            return Err(Rejection::DuplicatePlayer {
                matched: DuplicateOf::Identity,
            });
        }
        Ok(())
    }

    /// Refused if erased.
    pub(crate) fn check_not_erased(&self, player: PlayerId) -> Result<(), Rejection> {
        match self.get(player) {
            Some(record) if record.is_erased() => Err(Rejection::PlayerErased),
            _ => Ok(()),
        }
    }

    /// Stores `profile` for `player`, replacing its old one and indexes.
    /// The caller checked [`Profiles::check_profile`].
    pub(crate) fn set_profile(
        &mut self,
        player: PlayerId,
        profile: SealedProfile,
        indexes: ProfileIndexes,
        operator: OperatorId,
    ) {
        self.drop_indexes(player);
        self.by_email.insert(indexes.email, player);
        self.by_identity.insert(indexes.identity, player);
        self.by_key.insert(profile.key_id, player);
        let record = self.records.entry(player).or_default();
        record.sealed = Some(Sealed { profile, indexes });
        record.profile_by = Some(operator);
    }

    /// Records why and by whom the status was set (`None`: the old status
    /// command, which gives no reason).
    pub(crate) fn set_status_reason(&mut self, player: PlayerId, reason: Option<Reason>, operator: OperatorId) {
        // A player without a profile and without a reason needs no record.
        if reason.is_none() && !self.records.contains_key(&player) {
            return;
        }
        let record = self.records.entry(player).or_default();
        record.status_reason = reason;
        record.status_by = Some(operator);
    }

    /// Drops the profile and its indexes and marks the player erased.
    pub(crate) fn erase(&mut self, player: PlayerId, reason: Reason, operator: OperatorId, time_ms: u64) {
        self.drop_indexes(player);
        let record = self.records.entry(player).or_default();
        record.sealed = None;
        record.erasure = Erasure::Erased {
            operator,
            reason,
            time_ms,
        };
    }

    fn drop_indexes(&mut self, player: PlayerId) {
        if let Some(old) = self.records.get(&player).and_then(|r| r.sealed.as_ref()) {
            self.by_email.remove(&old.indexes.email);
            self.by_identity.remove(&old.indexes.identity);
            self.by_key.remove(&old.profile.key_id);
        }
    }

    /// The highest player id with a record, to check against the accounts.
    pub(crate) fn last_player(&self) -> Option<PlayerId> {
        self.records.keys().next_back().copied()
    }
}

// The snapshot part (see `crate::codec`: append fields, never reorder):
// the records in player order; the index maps are rebuilt on decode.
impl Encode for Profiles {
    fn encode<S: Sink>(&self, out: &mut S) {
        self.records.encode(out);
    }
}

impl Decode for Profiles {
    fn decode(input: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let records = BTreeMap::<PlayerId, ProfileRecord>::decode(input)?;
        let mut profiles = Profiles {
            records,
            ..Profiles::default()
        };
        for (&player, record) in &profiles.records {
            let Some(sealed) = &record.sealed else { continue };
            let email = profiles.by_email.insert(sealed.indexes.email, player);
            let identity = profiles.by_identity.insert(sealed.indexes.identity, player);
            let key = profiles.by_key.insert(sealed.profile.key_id, player);
            if email.is_some() || identity.is_some() || key.is_some() || record.is_erased() {
                return Err(DecodeError::Invalid(
                    "profiles (a blind index or data key repeated, or an erased profile)",
                ));
            }
        }
        Ok(profiles)
    }
}

codec_struct!(ProfileRecord {
    sealed,
    profile_by,
    status_reason,
    status_by,
    erasure
});
codec_struct!(Sealed { profile, indexes });
codec_enum!(Erasure: u8 { 1 => Live, 2 => Erased { operator, reason, time_ms } });
