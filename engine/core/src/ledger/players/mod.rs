//! The players domain (PAM): registration, profiles, account status, KYC,
//! erasure, jurisdiction profiles and due diligence.
//!
//! Its state, [`PlayersState`], is every account (with its wallets, age
//! band and due-diligence state), the jurisdictions' profiles with their
//! effective dates (`jurisdictions.rs`), and the profiles (`profiles.rs`: sealed
//! ciphertext and blind indexes only, never personal data in clear). The other money domains work on the same
//! per-player record (`../account.rs`): see there why wallets are not split
//! out by domain. Its commands touch nothing but this state, so they apply
//! to it alone.

mod command;
mod jurisdictions;
mod kyc;
mod profiles;
#[cfg(test)]
mod tests;

pub use self::command::{
    AccountStatus, AgentFamily, Browser, Command, JurisdictionRules, KycLevel, LoginContext, Os, ProfileIndexes,
    SealedProfile,
};
pub(crate) use self::jurisdictions::ProfilesParts;
pub use self::jurisdictions::{
    AgeBand, CurrencyAmount, DepositLimitDefault, DueDiligence, DueDiligenceRecord, JurisdictionProfile,
    JurisdictionProfiles, PROFILE_CURRENCIES_MAX, PROFILE_VERSIONS_MAX, PlaySessionRules, ProfileV1, ProfileVersion,
    StakeCap, Versions,
};
pub(crate) use self::kyc::Kyc;
pub use self::kyc::{
    DOCUMENTS_PER_PLAYER_MAX, DocumentKind, DocumentRecord, DocumentStatus, KycCheck, KycDocument, KycRecord, KycSource,
};
pub(crate) use self::profiles::Profiles;
pub use self::profiles::{Erasure, ProfileRecord, Sealed};

use super::account::Player;
use super::rg::session::PlayerRg;
use super::store::Detail;
use super::{Applied, Config, Ctx, rejected};
use crate::codec::{Decode, DecodeError, Encode, Reader, Sink};
use crate::command::{LimitKind, LimitMetric, LimitPeriod};
use crate::ids::{ExtId, Jurisdiction, OperatorId, PlayerId, Reason};
use crate::money::Currency;
use crate::outcome::{Capacity, Outcome, Rejection};

/// Every account and the jurisdictions' profiles.
#[derive(Clone, Debug, Default)]
pub(crate) struct PlayersState {
    /// Index = player id − 1: a player is found without a lookup table.
    players: Vec<Player>,
    /// Each jurisdiction's profile versions, and the default profile's.
    pub(crate) jurisdictions: JurisdictionProfiles,
    /// Sealed profiles, blind indexes, status reasons, erasures.
    pub(crate) profiles: Profiles,
    /// KYC reasons, provider checks and documents.
    pub(crate) kyc: Kyc,
}

/// The index of a player id in [`PlayersState`] (ids start at 1).
pub(crate) fn player_index(id: PlayerId) -> Option<usize> {
    usize::try_from(id.0).ok()?.checked_sub(1)
}

impl PlayersState {
    /// Registered players.
    pub(crate) fn len(&self) -> usize {
        self.players.len()
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &Player> {
        self.players.iter()
    }

    /// Every player's RG record, by player id (for the snapshot image's
    /// format-8 part); the players keep theirs.
    pub(crate) fn rg_records(&self) -> Vec<(PlayerId, PlayerRg)> {
        let records = self.players.iter().enumerate();
        records
            .filter_map(|(index, player)| Some((PlayerId(index as u64 + 1), PlayerRg::of(player)?)))
            .collect()
    }

    /// Puts RG records back (from a snapshot image); `false` if they name
    /// a player that does not exist or are not in id order.
    pub(crate) fn restore_rg(&mut self, records: Vec<(PlayerId, PlayerRg)>) -> bool {
        if !records.windows(2).all(|pair| pair[0].0 < pair[1].0) {
            return false;
        }
        for (id, rg) in records {
            match player_index(id).and_then(|i| self.players.get_mut(i)) {
                Some(player) => rg.restore_into(player),
                None => return false,
            }
        }
        true
    }

    pub(crate) fn get(&self, id: PlayerId) -> Result<&Player, Rejection> {
        player_index(id)
            .and_then(|i| self.players.get(i))
            .ok_or(Rejection::UnknownPlayer)
    }

    pub(crate) fn get_mut(&mut self, id: PlayerId) -> Result<&mut Player, Rejection> {
        player_index(id)
            .and_then(|i| self.players.get_mut(i))
            .ok_or(Rejection::UnknownPlayer)
    }

    /// A player and the profile of their jurisdiction in force at
    /// `time_ms`: one lookup of each (the bet path).
    #[inline]
    pub(crate) fn with_profile(
        &self,
        id: PlayerId,
        time_ms: u64,
    ) -> Result<(&Player, &JurisdictionProfile), Rejection> {
        let (player, version) = self.with_profile_version(id, time_ms)?;
        Ok((player, &version.profile))
    }

    /// A player and the version of their jurisdiction's profile in force
    /// at `time_ms` (with its effective date, for the play-session rules).
    #[inline]
    pub(crate) fn with_profile_version(
        &self,
        id: PlayerId,
        time_ms: u64,
    ) -> Result<(&Player, &ProfileVersion), Rejection> {
        let player = self.get(id)?;
        Ok((
            player,
            self.jurisdictions.version_in_force(player.jurisdiction, time_ms),
        ))
    }

    /// Applies one of the domain's commands.
    pub(crate) fn apply(&mut self, ctx: &Ctx, command: &Command, config: &Config) -> Applied {
        match command {
            Command::RegisterPlayer { currency, jurisdiction } => {
                let applied = self.register(*currency, *jurisdiction, AgeBand::Unknown, ctx, config);
                self.stamp_registration(applied, ctx.time_ms)
            }
            Command::SetJurisdictionRules { jurisdiction, rules } => {
                self.jurisdictions.set_kyc_gates(*jurisdiction, *rules, ctx.time_ms);
                (Outcome::Accepted, Detail::Plain)
            }
            Command::SetAccountStatus {
                player,
                status,
                operator,
            } => self.set_status(*player, *status, None, *operator),
            Command::SetKyc { player, level } => self.set_kyc(*player, *level, None, ctx.time_ms),
            Command::RegisterProfiled {
                currency,
                jurisdiction,
                profile,
                indexes,
                operator,
            } => {
                let registration = (*currency, *jurisdiction, AgeBand::Unknown);
                let applied = self.register_profiled(registration, profile, indexes, *operator, ctx, config);
                self.stamp_registration(applied, ctx.time_ms)
            }
            Command::RegisterAged {
                currency,
                jurisdiction,
                profile,
                indexes,
                age_band,
                operator,
            } => {
                let registration = (*currency, *jurisdiction, *age_band);
                let applied = self.register_profiled(registration, profile, indexes, *operator, ctx, config);
                self.stamp_registration(applied, ctx.time_ms)
            }
            Command::SetJurisdictionProfile {
                jurisdiction,
                profile,
                effective_from_ms,
                operator,
            } => self.set_profile(*jurisdiction, profile, *effective_from_ms, *operator, ctx.time_ms),
            Command::SetJurisdictionProfileV1 {
                jurisdiction,
                profile,
                effective_from_ms,
                operator,
            } => self.set_profile(*jurisdiction, &profile.0, *effective_from_ms, *operator, ctx.time_ms),
            Command::RecordDueDiligence {
                player,
                reason,
                operator,
            } => self.record_due_diligence(*player, reason, *operator, ctx.time_ms),
            Command::SetAgeBand { player, band, .. } => {
                check!(self.profiles.check_not_erased(*player));
                check!(self.get_mut(*player)).age_band = *band;
                (Outcome::Accepted, Detail::Plain)
            }
            Command::UpdateProfile {
                player,
                profile,
                indexes,
                operator,
            } => self.update_profile(*player, profile, indexes, *operator),
            Command::SetStatus {
                player,
                status,
                reason,
                operator,
            } => self.set_status(*player, *status, Some(reason), *operator),
            Command::ErasePlayer {
                player,
                reason,
                operator,
            } => self.erase(*player, reason, *operator, ctx.time_ms),
            Command::StartKycCheck {
                player,
                check,
                operator,
            } => self.start_kyc_check(*player, check, *operator, ctx.time_ms),
            Command::SetKycLevel {
                player,
                level,
                reason,
                operator,
            } => {
                let decided = Some((reason.clone(), KycSource::Operator(*operator)));
                self.set_kyc(*player, *level, decided, ctx.time_ms)
            }
            Command::RecordKycDocument {
                player,
                document,
                source,
            } => self.record_document(*player, document, source, ctx.time_ms),
            Command::ApplyKycVerdict {
                player,
                check,
                event_ms,
                level,
                reason,
            } => self.apply_verdict(*player, check, *event_ms, *level, reason, ctx.time_ms),
            Command::RecordLogin { player, .. } => self.record_login(*player, ctx.time_ms),
            Command::RecordLogout { player, .. } => {
                let rules = check!(self.get(*player).map(|p| self.session_rules(p, ctx.time_ms)));
                let account = check!(self.get_mut(*player));
                account.logout(ctx.time_ms, &rules);
                (Outcome::Accepted, Detail::Plain)
            }
        }
    }

    /// A login is recorded for any player not erased; the outcome says
    /// whether the account may play now. It starts a play session (reality
    /// checks and the session time limit count from it); the context is
    /// only journaled: the read model keeps the login sessions and devices.
    fn record_login(&mut self, player: PlayerId, now_ms: u64) -> Applied {
        check!(self.profiles.check_not_erased(player));
        let account = check!(self.get_mut(player));
        let blocked = account.login_block(now_ms);
        account.login(now_ms);
        (Outcome::LoginRecorded { blocked }, Detail::Plain)
    }

    /// Records when a registration that landed happened (the first
    /// deposit-limit prompt is reckoned from it).
    fn stamp_registration(&mut self, applied: Applied, now_ms: u64) -> Applied {
        if let (Outcome::Registered { player }, _) = &applied
            && let Ok(account) = self.get_mut(*player)
        {
            account.prompts_mut().registered_ms = Some(now_ms);
        }
        applied
    }

    /// Opens an account; its base wallet gets the deposit-limit defaults
    /// of the jurisdiction's profile in force (none in a ledger without
    /// profiles, as before them).
    fn register(
        &mut self,
        currency: Currency,
        jurisdiction: Jurisdiction,
        age_band: AgeBand,
        ctx: &Ctx,
        config: &Config,
    ) -> Applied {
        if self.players.len() >= config.players_max as usize {
            return rejected(Rejection::CapacityReached(Capacity::Players));
        }
        let mut account = Player::new(currency, jurisdiction);
        account.age_band = age_band;
        let profile = self.jurisdictions.in_force(jurisdiction, ctx.time_ms);
        if let Some(defaults) = profile.deposit_limit_defaults.iter().find(|d| d.currency == currency) {
            let periods = [
                (LimitPeriod::Day, defaults.day),
                (LimitPeriod::Week, defaults.week),
                (LimitPeriod::Month, defaults.month),
            ];
            let limits = account.wallets[0].limits.get_or_insert_default();
            for (period, amount) in periods {
                if let Some(amount) = amount {
                    let kind = LimitKind {
                        metric: LimitMetric::Deposit,
                        period,
                    };
                    // A first limit on a wallet takes effect at once.
                    limits.set(kind, Some(amount), (ctx.seq, ctx.time_ms), config.limit_cooling_off_ms);
                }
            }
        }
        self.players.push(account);
        let player = PlayerId(self.players.len() as u64);
        (Outcome::Registered { player }, Detail::Plain)
    }

    fn register_profiled(
        &mut self,
        (currency, jurisdiction, age_band): (Currency, Jurisdiction, AgeBand),
        profile: &SealedProfile,
        indexes: &ProfileIndexes,
        operator: OperatorId,
        ctx: &Ctx,
        config: &Config,
    ) -> Applied {
        // The id the player would get: no other player holds it yet, so
        // only the indexes can collide.
        let next = PlayerId(self.players.len() as u64 + 1);
        check!(self.profiles.check_profile(next, profile, indexes));
        let applied = self.register(currency, jurisdiction, age_band, ctx, config);
        if let (Outcome::Registered { player }, _) = &applied {
            debug_assert_eq!(*player, next);
            self.profiles
                .set_profile(*player, SealedProfile::clone(profile), *indexes, operator);
        }
        applied
    }

    fn update_profile(
        &mut self,
        player: PlayerId,
        profile: &SealedProfile,
        indexes: &ProfileIndexes,
        operator: OperatorId,
    ) -> Applied {
        check!(self.get(player));
        check!(self.profiles.check_profile(player, profile, indexes));
        self.profiles
            .set_profile(player, SealedProfile::clone(profile), *indexes, operator);
        (Outcome::Accepted, Detail::Plain)
    }

    fn erase(&mut self, player: PlayerId, reason: &Reason, operator: OperatorId, time_ms: u64) -> Applied {
        check!(self.profiles.check_not_erased(player));
        let account = check!(self.get_mut(player));
        // Erasure ends the relationship: nothing may be staked or paid in
        // again; owed money can still be withdrawn, as for any closed account.
        account.status = AccountStatus::Closed;
        self.profiles.erase(player, reason.clone(), operator, time_ms);
        (Outcome::Accepted, Detail::Plain)
    }

    fn set_profile(
        &mut self,
        jurisdiction: Option<Jurisdiction>,
        profile: &JurisdictionProfile,
        effective_from_ms: Option<u64>,
        operator: OperatorId,
        now_ms: u64,
    ) -> Applied {
        let effective_from_ms = effective_from_ms.unwrap_or(now_ms);
        check!(
            self.jurisdictions
                .check_set(jurisdiction, profile, effective_from_ms, now_ms)
        );
        let version = ProfileVersion {
            effective_from_ms,
            set_at_ms: now_ms,
            set_by: operator,
            profile: profile.clone(),
        };
        self.jurisdictions.set(jurisdiction, version, now_ms);
        if effective_from_ms > now_ms {
            (
                Outcome::Scheduled {
                    effective_at_ms: effective_from_ms,
                },
                Detail::Plain,
            )
        } else {
            (Outcome::Accepted, Detail::Plain)
        }
    }

    fn record_due_diligence(&mut self, id: PlayerId, reason: &Reason, operator: OperatorId, now_ms: u64) -> Applied {
        check!(self.profiles.check_not_erased(id));
        let player = check!(self.get_mut(id));
        let state = player.due_diligence.get_or_insert_default();
        state.recorded = Some(DueDiligenceRecord {
            at_ms: now_ms,
            by: operator,
            reason: reason.clone(),
        });
        (Outcome::Accepted, Detail::Plain)
    }

    fn set_status(
        &mut self,
        player: PlayerId,
        status: AccountStatus,
        reason: Option<&Reason>,
        operator: OperatorId,
    ) -> Applied {
        check!(self.profiles.check_not_erased(player));
        let account = check!(self.get_mut(player));
        account.status = status;
        self.profiles.set_status_reason(player, reason.cloned(), operator);
        (Outcome::Accepted, Detail::Plain)
    }

    /// Sets the level; `decided`: its reason and who gave it (`None`: the
    /// old command, which gives neither, and may still change an erased
    /// player's level as it always could).
    fn set_kyc(
        &mut self,
        id: PlayerId,
        level: KycLevel,
        decided: Option<(Reason, KycSource)>,
        time_ms: u64,
    ) -> Applied {
        if decided.is_some() {
            check!(self.profiles.check_not_erased(id));
        }
        let player = check!(self.get_mut(id));
        player.kyc = level;
        let (reason, by) = decided.unzip();
        self.kyc.set_reason(id, reason, by, time_ms);
        (Outcome::Accepted, Detail::Plain)
    }

    fn start_kyc_check(&mut self, id: PlayerId, check: &ExtId, operator: OperatorId, time_ms: u64) -> Applied {
        check!(self.profiles.check_not_erased(id));
        let player = check!(self.get_mut(id));
        if player.kyc != KycLevel::Verified {
            player.kyc = KycLevel::Pending;
        }
        let pending = player.kyc == KycLevel::Pending;
        let source = KycSource::Operator(operator);
        let reason = Reason::new("verification started at the provider").ok();
        if pending {
            self.kyc.set_reason(id, reason, Some(source), time_ms);
        }
        self.kyc.start_check(
            id,
            KycCheck {
                reference: check.clone(),
                started_by: operator,
                started_at_ms: time_ms,
                last_event_ms: 0,
            },
        );
        (Outcome::Accepted, Detail::Plain)
    }

    fn record_document(&mut self, id: PlayerId, document: &KycDocument, source: &KycSource, time_ms: u64) -> Applied {
        check!(self.get(id));
        check!(self.profiles.check_not_erased(id));
        let index = check!(self.kyc.check_document(id, document, time_ms));
        let number = self
            .kyc
            .set_document(id, index, document.clone(), source.clone(), time_ms);
        (Outcome::KycDocumentRecorded { document: number }, Detail::Plain)
    }

    fn apply_verdict(
        &mut self,
        id: PlayerId,
        check: &ExtId,
        event_ms: u64,
        level: KycLevel,
        reason: &Reason,
        time_ms: u64,
    ) -> Applied {
        let current = check!(self.get(id)).kyc;
        check!(self.profiles.check_not_erased(id));
        if !self.kyc.is_news(id, check, event_ms) {
            return (Outcome::KycEventIgnored { level: current }, Detail::Plain);
        }
        self.kyc.advance_check(id, event_ms);
        let by = KycSource::Provider { check: check.clone() };
        self.set_kyc(id, level, Some((reason.clone(), by)), time_ms)
    }
}

// The domain's part of the snapshot image (see `crate::codec`: append
// fields, never reorder): every account, then the jurisdictions' rules.
// The profiles are not in it: they came with snapshot format 5 and are
// appended at the end of the image (`../image.rs`), so format 4 still
// decodes as it was written; the KYC records (format 6) likewise. Since
// format 7 the rules' list is written empty: the KYC gates are in the
// jurisdiction profiles, appended with the players' age bands and
// due-diligence states; a format 4 to 6 image's rules become versions in
// force since 0.
impl Encode for PlayersState {
    fn encode<S: Sink>(&self, out: &mut S) {
        self.players.encode(out);
        Vec::<(Jurisdiction, JurisdictionRules)>::new().encode(out);
    }
}

impl Decode for PlayersState {
    fn decode(input: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let players = Decode::decode(input)?;
        let rules: Vec<(Jurisdiction, JurisdictionRules)> = Decode::decode(input)?;
        Ok(PlayersState {
            players,
            jurisdictions: JurisdictionProfiles::from_rules(&rules),
            profiles: Profiles::default(),
            kyc: Kyc::default(),
        })
    }
}

/// What snapshot format 7 appends per player, in player order: the age
/// band and the due-diligence state.
pub(crate) struct Compliance {
    pub(crate) age_band: AgeBand,
    pub(crate) due_diligence: Option<DueDiligence>,
}

crate::codec::codec_struct!(Compliance {
    age_band,
    due_diligence
});

impl PlayersState {
    /// The players' age bands and due-diligence states, in player order.
    pub(crate) fn compliance(&self) -> Vec<Compliance> {
        self.players
            .iter()
            .map(|p| Compliance {
                age_band: p.age_band,
                due_diligence: p.due_diligence.as_deref().cloned(),
            })
            .collect()
    }

    /// Puts back what [`PlayersState::compliance`] took (`None`: an image
    /// from before format 7, every band unknown and no deposits counted).
    pub(crate) fn restore_compliance(&mut self, parts: Vec<Compliance>) -> bool {
        if parts.len() != self.players.len() {
            return false;
        }
        for (player, part) in self.players.iter_mut().zip(parts) {
            player.age_band = part.age_band;
            player.due_diligence = part.due_diligence.map(Box::new);
        }
        true
    }
}
