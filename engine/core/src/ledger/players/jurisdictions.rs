//! Jurisdiction profiles: what a regulator demands of play in its
//! jurisdiction, as versioned data with effective dates.
//!
//! A profile ([`JurisdictionProfile`]) is set by a compliance operator's
//! command (`SetJurisdictionProfile`), journaled like every other change, so
//! a release that ships new regulatory values never changes what an old
//! journal replays to. Each jurisdiction keeps its versions sorted by
//! `effective_from_ms`; the version in force at a time is the last one that
//! took effect by then, and versions dated later are scheduled. A
//! jurisdiction with no version in force uses the default profile's; with
//! neither, [`JurisdictionProfile::UNRESTRICTED`] (what every ledger did
//! before profiles: the KYC gates alone, all off), so journals written
//! before profiles replay to the same outcomes.
//!
//! Lookups are on every bet: each jurisdiction caches the index of the
//! version in force when it was last changed, and the ledger's time only
//! moves forward, so a lookup is that index plus one comparison with the
//! next version's date.

use smallvec::SmallVec;

use super::command::JurisdictionRules;
use crate::codec::{Decode, DecodeError, Encode, Reader, Sink, codec_enum, codec_struct};
use crate::ids::{Jurisdiction, OperatorId, Reason};
use crate::money::{Amount, Currency};
use crate::outcome::{Capacity, Rejection};

const DAY_MS: u64 = 86_400_000;

/// Most versions a jurisdiction keeps. When full, the oldest version that
/// no longer applies is dropped to make room; if every version still
/// applies (in force or scheduled), a new one is refused.
pub const PROFILE_VERSIONS_MAX: usize = 64;
/// Most currencies in one of a profile's per-currency lists.
pub const PROFILE_CURRENCIES_MAX: usize = 32;

/// Where a player stands with respect to a profile's young-adult stake cap.
/// The gateway derives it from the sealed date of birth (the ledger never
/// holds one) at registration and again at login, once the player has
/// crossed the profile's young-adult age.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum AgeBand {
    /// Never evaluated (registered before age bands, or without a date of
    /// birth): treated as [`AgeBand::YoungAdult`], the protective side.
    #[default]
    Unknown,
    /// Younger than the profile's `young_adult_until_age_years`.
    YoungAdult,
    /// That age or older.
    Adult,
}

impl AgeBand {
    /// A short stable name (`young_adult`, `adult`, `unknown`).
    pub fn name(self) -> &'static str {
        match self {
            AgeBand::Unknown => "unknown",
            AgeBand::YoungAdult => "young_adult",
            AgeBand::Adult => "adult",
        }
    }
}

/// The most one bet may stake, in one currency, by age band.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StakeCap {
    /// The bet's currency.
    pub currency: Currency,
    /// The cap for adults.
    pub adult: Amount,
    /// The cap for young adults (and players whose band is unknown).
    pub young_adult: Amount,
}

/// Deposit limits given to a new player's wallet in one currency (`None`:
/// no default for that period).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DepositLimitDefault {
    /// The wallet's currency.
    pub currency: Currency,
    /// Over the last 24 hours.
    pub day: Option<Amount>,
    /// Over the last 7 days.
    pub week: Option<Amount>,
    /// Over the last 30 days.
    pub month: Option<Amount>,
}

/// An amount in one currency (a threshold, configured per currency until
/// exchange rates exist in the ledger).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CurrencyAmount {
    /// The currency.
    pub currency: Currency,
    /// The amount.
    pub amount: Amount,
}

/// What one jurisdiction demands, as of one version.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct JurisdictionProfile {
    /// Youngest age, in whole years, at which a player may register
    /// (checked by the gateway against the sealed date of birth).
    pub minimum_age_years: u8,
    /// Players younger than this are young adults, for the stake caps (0:
    /// no young-adult band).
    pub young_adult_until_age_years: u8,
    /// Verified KYC before deposits, bets and withdrawals.
    pub kyc: JurisdictionRules,
    /// Most a bet may stake, per currency (no entry: no cap). Applied to
    /// every bet until the games catalogue says which bets are slots.
    pub stake_caps: Vec<StakeCap>,
    /// Highest bonus wagering requirement, as a multiple of the bonus
    /// (`None`: no cap).
    pub bonus_wagering_cap_x: Option<u32>,
    /// How often a reality check is due, in minutes (at least 1): every
    /// player's default when `play_sessions.reality_check_by_default`.
    pub reality_check_interval_min: u32,
    /// Shortest self-exclusion, in days (0: none). Time-outs are separate.
    pub self_exclusion_min_days: u32,
    /// Deposit limits a new player's wallet starts with, per currency.
    pub deposit_limit_defaults: Vec<DepositLimitDefault>,
    /// Cumulative confirmed deposits at which due diligence is required
    /// before further deposits and bets, per currency (no entry: not
    /// monitored in that currency).
    pub due_diligence_thresholds: Vec<CurrencyAmount>,
    /// Whether a requested withdrawal may be reversed back into the
    /// balance at the player's request (UK RTS 14B: no). The ledger has no
    /// player-side reversal yet; the cashier reads this.
    pub withdrawal_reversal_allowed: bool,
    /// How play sessions run under this version (none of it in versions
    /// set before command tag 63: they decode with [`PlaySessionRules::NONE`],
    /// so old journals replay to the same outcomes).
    pub play_sessions: PlaySessionRules,
}

/// A profile's rules for play sessions. They count from the moment their
/// version takes effect: a session open since before is reckoned as if it
/// had started then.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct PlaySessionRules {
    /// Players without an interval of their own get reality checks at the
    /// profile's `reality_check_interval_min`.
    pub reality_check_by_default: bool,
    /// A play session with no bet, win or acknowledgement for this many
    /// minutes ends, and the next bet opens a new one (0: only a logout or
    /// the next login ends a session).
    pub idle_end_min: u32,
}

impl PlaySessionRules {
    /// What every version set before play-session rules existed has.
    pub const NONE: PlaySessionRules = PlaySessionRules {
        reality_check_by_default: false,
        idle_end_min: 0,
    };
    /// Longest idle end (24 hours).
    pub const IDLE_END_MAX_MIN: u32 = 1440;
}

impl JurisdictionProfile {
    /// The profile of a jurisdiction nobody configured, before any
    /// default: what ledgers did before profiles (no caps, no thresholds,
    /// the KYC gates off).
    pub const UNRESTRICTED: JurisdictionProfile = JurisdictionProfile {
        minimum_age_years: 18,
        young_adult_until_age_years: 0,
        kyc: JurisdictionRules {
            kyc_before_deposit: false,
            kyc_before_bet: false,
            kyc_before_withdrawal: false,
        },
        stake_caps: Vec::new(),
        bonus_wagering_cap_x: None,
        reality_check_interval_min: 60,
        self_exclusion_min_days: 0,
        deposit_limit_defaults: Vec::new(),
        due_diligence_thresholds: Vec::new(),
        withdrawal_reversal_allowed: true,
        play_sessions: PlaySessionRules::NONE,
    };

    /// Checks what the ledger relies on: amounts not negative, a young
    /// adult's cap no higher than an adult's, a reality-check interval,
    /// each currency at most once per list, lists bounded.
    pub fn validate(&self) -> Result<(), Rejection> {
        let invalid = Err(Rejection::InvalidAmount);
        if self.reality_check_interval_min == 0
            || self.minimum_age_years == 0
            || self.play_sessions.idle_end_min > PlaySessionRules::IDLE_END_MAX_MIN
        {
            return invalid;
        }
        let caps_ok = self
            .stake_caps
            .iter()
            .all(|c| !c.young_adult.is_negative() && c.young_adult <= c.adult);
        let defaults_ok = self
            .deposit_limit_defaults
            .iter()
            .flat_map(|d| [d.day, d.week, d.month])
            .all(|a| a.is_none_or(|a| !a.is_negative()));
        let thresholds_ok = self.due_diligence_thresholds.iter().all(|t| t.amount.is_positive());
        let currencies_ok = distinct(self.stake_caps.iter().map(|c| c.currency))
            && distinct(self.deposit_limit_defaults.iter().map(|d| d.currency))
            && distinct(self.due_diligence_thresholds.iter().map(|t| t.currency));
        if !(caps_ok && defaults_ok && thresholds_ok && currencies_ok) {
            return invalid;
        }
        Ok(())
    }

    /// The most a bet in `currency` may stake for a player in `band`.
    #[inline]
    pub fn stake_cap(&self, currency: Currency, band: AgeBand) -> Option<Amount> {
        let cap = self.stake_caps.iter().find(|c| c.currency == currency)?;
        Some(match band {
            AgeBand::Adult => cap.adult,
            AgeBand::YoungAdult | AgeBand::Unknown => cap.young_adult,
        })
    }

    /// The due-diligence threshold in `currency`, if monitored.
    pub fn due_diligence_threshold(&self, currency: Currency) -> Option<Amount> {
        self.due_diligence_thresholds
            .iter()
            .find(|t| t.currency == currency)
            .map(|t| t.amount)
    }

    /// The shortest self-exclusion, in ms.
    pub fn self_exclusion_min_ms(&self) -> u64 {
        u64::from(self.self_exclusion_min_days) * DAY_MS
    }
}

/// [`JurisdictionProfile::UNRESTRICTED`] as a version in force since 0,
/// with an address, to lend out.
static UNRESTRICTED_VERSION: ProfileVersion = ProfileVersion {
    effective_from_ms: 0,
    set_at_ms: 0,
    set_by: OperatorId::SYSTEM,
    profile: JurisdictionProfile::UNRESTRICTED,
};

fn distinct(currencies: impl Iterator<Item = Currency> + Clone) -> bool {
    let count = currencies.clone().count();
    count <= PROFILE_CURRENCIES_MAX
        && currencies
            .clone()
            .enumerate()
            .all(|(i, c)| currencies.clone().skip(i + 1).all(|other| other != c))
}

/// One version of a jurisdiction's profile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProfileVersion {
    /// When it takes (took) effect, ms since the epoch.
    pub effective_from_ms: u64,
    /// When it was set, ms since the epoch.
    pub set_at_ms: u64,
    /// Who set it ([`OperatorId::SYSTEM`] for the KYC gates of the old
    /// `SetJurisdictionRules`).
    pub set_by: OperatorId,
    /// The profile.
    pub profile: JurisdictionProfile,
}

/// The versions of one jurisdiction's profile (or of the default one).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Versions {
    /// Sorted by `effective_from_ms`, no two on the same time.
    versions: Vec<ProfileVersion>,
    /// Index of the version in force when the list last changed (stale
    /// only forward: the ledger's time never goes back).
    current: usize,
}

impl Versions {
    /// Every version, oldest first.
    pub fn all(&self) -> &[ProfileVersion] {
        &self.versions
    }

    /// The version in force at `time_ms`, if any took effect by then.
    #[inline]
    pub fn in_force(&self, time_ms: u64) -> Option<&ProfileVersion> {
        let cached = self.versions.get(self.current)?;
        if cached.effective_from_ms > time_ms {
            // Before the cached one (a read about the past, or none yet).
            return self.versions.iter().rev().find(|v| v.effective_from_ms <= time_ms);
        }
        let later = &self.versions[self.current + 1..];
        let skip = later.iter().take_while(|v| v.effective_from_ms <= time_ms).count();
        Some(&self.versions[self.current + skip])
    }

    /// Versions that take effect after `time_ms`.
    pub fn scheduled(&self, time_ms: u64) -> impl Iterator<Item = &ProfileVersion> {
        self.versions.iter().filter(move |v| v.effective_from_ms > time_ms)
    }

    /// Whether a version from `effective_from_ms` fits: it replaces one on
    /// the same time, or there is room, or a superseded version can make
    /// room; refused otherwise.
    fn check_insert(&self, effective_from_ms: u64, now_ms: u64) -> Result<(), Rejection> {
        let replaces = self.versions.iter().any(|v| v.effective_from_ms == effective_from_ms);
        if replaces || self.versions.len() < PROFILE_VERSIONS_MAX || self.superseded(now_ms) > 0 {
            Ok(())
        } else {
            Err(Rejection::CapacityReached(Capacity::ProfileVersions))
        }
    }

    /// How many of the oldest versions no longer apply at `now_ms`.
    fn superseded(&self, now_ms: u64) -> usize {
        let in_force = self.versions.iter().rposition(|v| v.effective_from_ms <= now_ms);
        in_force.unwrap_or(0)
    }

    /// Inserts a version checked by [`Versions::check_insert`]; one on the
    /// same time replaces it.
    fn insert(&mut self, version: ProfileVersion, now_ms: u64) {
        let at = self
            .versions
            .partition_point(|v| v.effective_from_ms < version.effective_from_ms);
        match self.versions.get_mut(at) {
            Some(same) if same.effective_from_ms == version.effective_from_ms => *same = version,
            _ => {
                if self.versions.len() >= PROFILE_VERSIONS_MAX {
                    debug_assert!(self.superseded(now_ms) > 0, "checked by check_insert");
                    self.versions.remove(0);
                    let at = at.saturating_sub(1);
                    self.versions.insert(at, version);
                } else {
                    self.versions.insert(at, version);
                }
            }
        }
        self.refresh(now_ms);
    }

    /// Recomputes the cached index of the version in force at `now_ms`.
    fn refresh(&mut self, now_ms: u64) {
        self.current = self.superseded(now_ms);
    }

    fn from_versions(versions: Vec<ProfileVersion>, now_ms: u64) -> Option<Versions> {
        let sorted = versions
            .windows(2)
            .all(|w| w[0].effective_from_ms < w[1].effective_from_ms);
        if !sorted || versions.len() > PROFILE_VERSIONS_MAX {
            return None;
        }
        let mut versions = Versions { versions, current: 0 };
        versions.refresh(now_ms);
        Some(versions)
    }
}

/// Every jurisdiction's profile versions, and the default profile's.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JurisdictionProfiles {
    /// For jurisdictions with none of their own in force.
    default: Versions,
    /// Few (one per licence): a vector is faster than a map. Sorted by code.
    by_code: Vec<(Jurisdiction, Versions)>,
}

impl JurisdictionProfiles {
    /// The profile in force for `jurisdiction` at `time_ms`: its own, else
    /// the default's, else [`JurisdictionProfile::UNRESTRICTED`].
    #[inline]
    pub fn in_force(&self, jurisdiction: Jurisdiction, time_ms: u64) -> &JurisdictionProfile {
        &self.version_in_force(jurisdiction, time_ms).profile
    }

    /// The version in force for `jurisdiction` at `time_ms` (for a
    /// jurisdiction with none, the unrestricted profile in force since 0).
    #[inline]
    pub fn version_in_force(&self, jurisdiction: Jurisdiction, time_ms: u64) -> &ProfileVersion {
        self.by_code
            .iter()
            .find(|(code, _)| *code == jurisdiction)
            .and_then(|(_, versions)| versions.in_force(time_ms))
            .or_else(|| self.default.in_force(time_ms))
            .unwrap_or(&UNRESTRICTED_VERSION)
    }

    /// The versions of `jurisdiction` (`None`: the default profile's).
    pub fn versions(&self, jurisdiction: Option<Jurisdiction>) -> Option<&Versions> {
        match jurisdiction {
            None => Some(&self.default),
            Some(j) => self.by_code.iter().find(|(code, _)| *code == j).map(|(_, v)| v),
        }
    }

    /// The jurisdictions with versions of their own, by code.
    pub fn jurisdictions(&self) -> impl Iterator<Item = (Jurisdiction, &Versions)> {
        self.by_code.iter().map(|(code, versions)| (*code, versions))
    }

    /// Whether [`JurisdictionProfiles::set`] would take this version.
    pub(crate) fn check_set(
        &self,
        jurisdiction: Option<Jurisdiction>,
        profile: &JurisdictionProfile,
        effective_from_ms: u64,
        now_ms: u64,
    ) -> Result<(), Rejection> {
        if effective_from_ms < now_ms {
            return Err(Rejection::TimeNotInFuture);
        }
        profile.validate()?;
        match self.versions(jurisdiction) {
            Some(versions) => versions.check_insert(effective_from_ms, now_ms),
            None => Ok(()),
        }
    }

    /// Adds a version checked by [`JurisdictionProfiles::check_set`].
    pub(crate) fn set(&mut self, jurisdiction: Option<Jurisdiction>, version: ProfileVersion, now_ms: u64) {
        let versions = match jurisdiction {
            None => &mut self.default,
            Some(j) => {
                let at = match self.by_code.binary_search_by_key(&j, |(code, _)| *code) {
                    Ok(at) => at,
                    Err(at) => {
                        self.by_code.insert(at, (j, Versions::default()));
                        at
                    }
                };
                &mut self.by_code[at].1
            }
        };
        versions.insert(version, now_ms);
    }

    /// The old `SetJurisdictionRules`: a version of `jurisdiction`'s
    /// profile in force now with these KYC gates, from now on (its other
    /// fields are those in force for it now). Never refused, as it never
    /// was: a full list drops its oldest version, which no longer applies
    /// (a journal of this command alone schedules nothing).
    pub(crate) fn set_kyc_gates(&mut self, jurisdiction: Jurisdiction, rules: JurisdictionRules, now_ms: u64) {
        let mut profile = self.in_force(jurisdiction, now_ms).clone();
        profile.kyc = rules;
        let version = ProfileVersion {
            effective_from_ms: now_ms,
            set_at_ms: now_ms,
            set_by: OperatorId::SYSTEM,
            profile,
        };
        let full = self
            .versions(Some(jurisdiction))
            .is_some_and(|v| v.check_insert(now_ms, now_ms).is_err());
        if full {
            // Only scheduled versions: the oldest of them goes (a journal
            // written before profiles never gets here).
            if let Some((_, versions)) = self.by_code.iter_mut().find(|(code, _)| *code == jurisdiction) {
                versions.versions.remove(0);
            }
        }
        self.set(Some(jurisdiction), version, now_ms);
    }

    /// Keeps a read copy in step with the ledger (the gateway's view):
    /// applies a committed profile command the way the ledger did, from
    /// its envelope and outcome alone.
    pub fn follow(&mut self, envelope: &crate::Envelope, outcome: &crate::Outcome) {
        use super::command::Command as Players;
        let crate::Command::Players(command) = &envelope.request.command else {
            return;
        };
        let now_ms = envelope.time_ms;
        let set = match command {
            Players::SetJurisdictionProfile {
                jurisdiction,
                profile,
                effective_from_ms,
                operator,
            } => Some((jurisdiction, &**profile, effective_from_ms, operator)),
            Players::SetJurisdictionProfileV1 {
                jurisdiction,
                profile,
                effective_from_ms,
                operator,
            } => Some((jurisdiction, &*profile.0, effective_from_ms, operator)),
            _ => None,
        };
        match (set, command, outcome) {
            (
                Some((jurisdiction, profile, effective_from_ms, operator)),
                _,
                crate::Outcome::Accepted | crate::Outcome::Scheduled { .. },
            ) => {
                let version = ProfileVersion {
                    effective_from_ms: effective_from_ms.unwrap_or(now_ms),
                    set_at_ms: now_ms,
                    set_by: *operator,
                    profile: JurisdictionProfile::clone(profile),
                };
                if self
                    .check_set(*jurisdiction, &version.profile, version.effective_from_ms, now_ms)
                    .is_ok()
                {
                    self.set(*jurisdiction, version, now_ms);
                }
            }
            (_, Players::SetJurisdictionRules { jurisdiction, rules }, crate::Outcome::Accepted) => {
                self.set_kyc_gates(*jurisdiction, *rules, now_ms);
            }
            _ => {}
        }
    }

    /// The profiles of a ledger from before profiles (snapshot formats 4
    /// to 6): each jurisdiction's KYC gates as a version in force since 0.
    pub(crate) fn from_rules(rules: &[(Jurisdiction, JurisdictionRules)]) -> JurisdictionProfiles {
        let mut profiles = JurisdictionProfiles::default();
        for &(jurisdiction, kyc) in rules {
            let version = ProfileVersion {
                effective_from_ms: 0,
                set_at_ms: 0,
                set_by: OperatorId::SYSTEM,
                profile: JurisdictionProfile {
                    kyc,
                    ..JurisdictionProfile::UNRESTRICTED
                },
            };
            profiles.set(Some(jurisdiction), version, 0);
        }
        profiles
    }

    /// Checks a decoded table and caches each list's version in force at
    /// `now_ms`.
    pub(crate) fn from_parts(parts: ProfilesParts, now_ms: u64) -> Option<JurisdictionProfiles> {
        let sorted = parts.by_code.windows(2).all(|w| w[0].0 < w[1].0);
        let valid = |versions: &[ProfileVersion]| versions.iter().all(|v| v.profile.validate().is_ok());
        if !sorted || !valid(&parts.default) || !parts.by_code.iter().all(|(_, v)| valid(v)) {
            return None;
        }
        let by_code = parts
            .by_code
            .into_iter()
            .map(|(code, versions)| Versions::from_versions(versions, now_ms).map(|v| (code, v)))
            .collect::<Option<Vec<_>>>()?;
        Some(JurisdictionProfiles {
            default: Versions::from_versions(parts.default, now_ms)?,
            by_code,
        })
    }

    /// The table as plain data, for the snapshot image.
    pub(crate) fn to_parts(&self) -> ProfilesParts {
        ProfilesParts {
            default: self.default.versions.clone(),
            by_code: self
                .by_code
                .iter()
                .map(|(code, versions)| (*code, versions.versions.clone()))
                .collect(),
        }
    }
}

/// [`JurisdictionProfiles`] as plain data (the snapshot image's part).
#[derive(Clone, Debug, Default)]
pub(crate) struct ProfilesParts {
    pub(crate) default: Vec<ProfileVersion>,
    pub(crate) by_code: Vec<(Jurisdiction, Vec<ProfileVersion>)>,
}

/// A player's due-diligence state: confirmed deposits counted per currency
/// (those confirmed while the player's profile had a threshold in that
/// currency: ledgers before profiles counted none) and whether a
/// compliance operator recorded due diligence.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DueDiligence {
    /// Confirmed deposits since registration, per currency (saturating).
    pub deposited: SmallVec<[CurrencyAmount; 1]>,
    /// When due diligence was recorded, by whom and why (`None`: not yet).
    pub recorded: Option<DueDiligenceRecord>,
}

/// A due-diligence decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DueDiligenceRecord {
    /// When, ms since the epoch.
    pub at_ms: u64,
    /// Who.
    pub by: OperatorId,
    /// Why (the case's reference and finding).
    pub reason: Reason,
}

impl DueDiligence {
    /// Confirmed deposits so far in `currency`.
    pub fn deposited(&self, currency: Currency) -> Amount {
        self.deposited
            .iter()
            .find(|d| d.currency == currency)
            .map_or(Amount::ZERO, |d| d.amount)
    }

    /// Counts a confirmed deposit.
    pub(crate) fn count(&mut self, currency: Currency, amount: Amount) {
        match self.deposited.iter_mut().find(|d| d.currency == currency) {
            Some(total) => total.amount = Amount::from_minor(total.amount.minor().saturating_add(amount.minor())),
            None => self.deposited.push(CurrencyAmount { currency, amount }),
        }
    }

    /// Whether `profile` requires due diligence before more deposits or
    /// bets: a threshold reached in any currency and none recorded.
    pub fn required(&self, profile: &JurisdictionProfile) -> bool {
        self.recorded.is_none()
            && self.deposited.iter().any(|d| {
                profile
                    .due_diligence_threshold(d.currency)
                    .is_some_and(|threshold| d.amount >= threshold)
            })
    }
}

codec_enum!(AgeBand: u8 { 1 => Unknown, 2 => YoungAdult, 3 => Adult });
codec_struct!(StakeCap {
    currency,
    adult,
    young_adult
});
codec_struct!(DepositLimitDefault {
    currency,
    day,
    week,
    month
});
codec_struct!(CurrencyAmount { currency, amount });
// A profile's layout: the fields of command tag 47 and snapshot formats 7
// and 8 (`encode_v1`/`decode_v1`), then (tag 63, format 9 on) the
// play-session rules.
impl JurisdictionProfile {
    fn encode_v1<S: Sink>(&self, out: &mut S) {
        self.minimum_age_years.encode(out);
        self.young_adult_until_age_years.encode(out);
        self.kyc.encode(out);
        self.stake_caps.encode(out);
        self.bonus_wagering_cap_x.encode(out);
        self.reality_check_interval_min.encode(out);
        self.self_exclusion_min_days.encode(out);
        self.deposit_limit_defaults.encode(out);
        self.due_diligence_thresholds.encode(out);
        self.withdrawal_reversal_allowed.encode(out);
    }

    fn decode_v1(input: &mut Reader<'_>) -> Result<JurisdictionProfile, DecodeError> {
        Ok(JurisdictionProfile {
            minimum_age_years: Decode::decode(input)?,
            young_adult_until_age_years: Decode::decode(input)?,
            kyc: Decode::decode(input)?,
            stake_caps: Decode::decode(input)?,
            bonus_wagering_cap_x: Decode::decode(input)?,
            reality_check_interval_min: Decode::decode(input)?,
            self_exclusion_min_days: Decode::decode(input)?,
            deposit_limit_defaults: Decode::decode(input)?,
            due_diligence_thresholds: Decode::decode(input)?,
            withdrawal_reversal_allowed: Decode::decode(input)?,
            play_sessions: PlaySessionRules::NONE,
        })
    }
}

impl Encode for JurisdictionProfile {
    fn encode<S: Sink>(&self, out: &mut S) {
        self.encode_v1(out);
        self.play_sessions.encode(out);
    }
}

impl Decode for JurisdictionProfile {
    fn decode(input: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let mut profile = JurisdictionProfile::decode_v1(input)?;
        profile.play_sessions = Decode::decode(input)?;
        Ok(profile)
    }
}

/// A profile in the layout from before play-session rules (command tag
/// 47): decodes with [`PlaySessionRules::NONE`]; encodes without them.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ProfileV1(pub Box<JurisdictionProfile>);

impl Encode for ProfileV1 {
    fn encode<S: Sink>(&self, out: &mut S) {
        self.0.encode_v1(out);
    }
}

impl Decode for ProfileV1 {
    fn decode(input: &mut Reader<'_>) -> Result<Self, DecodeError> {
        JurisdictionProfile::decode_v1(input).map(|p| ProfileV1(Box::new(p)))
    }
}

/// A profile version as snapshot formats 7 and 8 hold it.
struct ProfileVersionV1 {
    effective_from_ms: u64,
    set_at_ms: u64,
    set_by: OperatorId,
    profile: ProfileV1,
}

impl From<ProfileVersionV1> for ProfileVersion {
    fn from(v1: ProfileVersionV1) -> ProfileVersion {
        ProfileVersion {
            effective_from_ms: v1.effective_from_ms,
            set_at_ms: v1.set_at_ms,
            set_by: v1.set_by,
            profile: *v1.profile.0,
        }
    }
}

impl ProfilesParts {
    /// Decodes the table as snapshot formats 7 and 8 hold it.
    pub(crate) fn decode_v1(input: &mut Reader<'_>) -> Result<ProfilesParts, DecodeError> {
        fn convert(versions: Vec<ProfileVersionV1>) -> Vec<ProfileVersion> {
            versions.into_iter().map(ProfileVersion::from).collect()
        }
        let default: Vec<ProfileVersionV1> = Decode::decode(input)?;
        let by_code: Vec<(Jurisdiction, Vec<ProfileVersionV1>)> = Decode::decode(input)?;
        Ok(ProfilesParts {
            default: convert(default),
            by_code: by_code.into_iter().map(|(code, v)| (code, convert(v))).collect(),
        })
    }
}

codec_struct!(PlaySessionRules {
    reality_check_by_default,
    idle_end_min
});
codec_struct!(ProfileVersion {
    effective_from_ms,
    set_at_ms,
    set_by,
    profile
});
codec_struct!(ProfileVersionV1 {
    effective_from_ms,
    set_at_ms,
    set_by,
    profile
});
codec_struct!(ProfilesParts { default, by_code });
codec_struct!(DueDiligence { deposited, recorded });
codec_struct!(DueDiligenceRecord { at_ms, by, reason });

#[cfg(test)]
mod tests {
    use super::*;

    fn version(from_ms: u64, minimum_age_years: u8) -> ProfileVersion {
        ProfileVersion {
            effective_from_ms: from_ms,
            set_at_ms: 0,
            set_by: OperatorId(1),
            profile: JurisdictionProfile {
                minimum_age_years,
                ..JurisdictionProfile::UNRESTRICTED
            },
        }
    }

    fn gb() -> Jurisdiction {
        Jurisdiction::new("GB").unwrap()
    }

    #[test]
    fn the_version_in_force_is_the_last_that_took_effect_then_the_default_then_unrestricted() {
        let mut table = JurisdictionProfiles::default();
        assert_eq!(table.in_force(gb(), 5), &JurisdictionProfile::UNRESTRICTED);
        table.set(None, version(0, 19), 0);
        assert_eq!(table.in_force(gb(), 5).minimum_age_years, 19);
        table.set(Some(gb()), version(10, 20), 0);
        table.set(Some(gb()), version(30, 21), 0);
        table.set(Some(gb()), version(20, 22), 0);
        let ages: Vec<u8> = [5, 10, 19, 20, 29, 30, 1000]
            .iter()
            .map(|&t| table.in_force(gb(), t).minimum_age_years)
            .collect();
        assert_eq!(ages, [19, 20, 20, 22, 22, 21, 21]);
        // Setting on an existing time replaces that version.
        table.set(Some(gb()), version(20, 23), 0);
        assert_eq!(table.in_force(gb(), 25).minimum_age_years, 23);
        assert_eq!(table.versions(Some(gb())).unwrap().all().len(), 3);
        assert_eq!(table.versions(Some(gb())).unwrap().scheduled(15).count(), 2);
    }

    #[test]
    fn a_full_list_drops_a_superseded_version_and_refuses_when_none_is() {
        let mut table = JurisdictionProfiles::default();
        for i in 0..PROFILE_VERSIONS_MAX as u64 {
            table.set(Some(gb()), version(100 + i, 18), 0);
        }
        let profile = JurisdictionProfile::UNRESTRICTED;
        assert_eq!(
            table.check_set(Some(gb()), &profile, 10_000, 0),
            Err(Rejection::CapacityReached(Capacity::ProfileVersions))
        );
        assert_eq!(
            table.check_set(Some(gb()), &profile, 0, 50),
            Err(Rejection::TimeNotInFuture)
        );
        // At 200 all but the last version are superseded: room again.
        assert_eq!(table.check_set(Some(gb()), &profile, 10_000, 200), Ok(()));
        table.set(Some(gb()), version(10_000, 30), 200);
        let versions = table.versions(Some(gb())).unwrap();
        assert_eq!(versions.all().len(), PROFILE_VERSIONS_MAX);
        assert_eq!(versions.all()[0].effective_from_ms, 101);
        assert_eq!(table.in_force(gb(), 10_000).minimum_age_years, 30);
    }

    #[test]
    fn profiles_with_negative_amounts_or_repeated_currencies_are_refused() {
        let cap = |adult, young_adult| StakeCap {
            currency: Currency::GBP,
            adult: Amount::from_minor(adult),
            young_adult: Amount::from_minor(young_adult),
        };
        let with_caps = |caps: Vec<StakeCap>| JurisdictionProfile {
            stake_caps: caps,
            ..JurisdictionProfile::UNRESTRICTED
        };
        assert_eq!(with_caps(vec![cap(500, 200)]).validate(), Ok(()));
        assert_eq!(with_caps(vec![cap(500, -1)]).validate(), Err(Rejection::InvalidAmount));
        assert_eq!(with_caps(vec![cap(200, 500)]).validate(), Err(Rejection::InvalidAmount));
        assert_eq!(
            with_caps(vec![cap(500, 200), cap(400, 200)]).validate(),
            Err(Rejection::InvalidAmount)
        );
        let no_interval = JurisdictionProfile {
            reality_check_interval_min: 0,
            ..JurisdictionProfile::UNRESTRICTED
        };
        assert_eq!(no_interval.validate(), Err(Rejection::InvalidAmount));
    }

    #[test]
    fn due_diligence_is_required_from_the_threshold_until_recorded() {
        let profile = JurisdictionProfile {
            due_diligence_thresholds: vec![CurrencyAmount {
                currency: Currency::EUR,
                amount: Amount::from_minor(200_000),
            }],
            ..JurisdictionProfile::UNRESTRICTED
        };
        let mut state = DueDiligence::default();
        state.count(Currency::EUR, Amount::from_minor(199_999));
        state.count(Currency::GBP, Amount::from_minor(900_000));
        assert!(!state.required(&profile));
        state.count(Currency::EUR, Amount::from_minor(1));
        assert!(state.required(&profile));
        state.recorded = Some(DueDiligenceRecord {
            at_ms: 1,
            by: OperatorId(2),
            reason: Reason::new("source of funds: payslips").unwrap(),
        });
        assert!(!state.required(&profile));
    }
}
