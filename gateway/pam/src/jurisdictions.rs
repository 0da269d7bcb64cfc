//! Jurisdiction profiles over the operator API: the profiles this release
//! ships (UK, Malta, a default), their JSON form and its validation, the
//! routes that list, show and set them, the due-diligence route, and a
//! player's age band from the sealed date of birth.
//!
//! Profiles are ledger data ([`engine::players::JurisdictionProfile`]),
//! journaled with effective dates: the server submits each shipped profile
//! at start only where the ledger has none ([`submit_shipped`]), so a later
//! release can ship new values without changing what an old journal
//! replays to, and compliance operators change them with
//! `PUT /operator/v1/jurisdictions/{jurisdiction}/profile`.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use edge::body::{JsonBody, decode};
use edge::change::{IdempotencyKey, ok, player, refusal, request_id};
use edge::error::{ApiError, ErrorBody};
use edge::openapi::{BodyErrors, LedgerErrors, RoleErrors};
use edge::wire::{self, Sign};
use edge::{AppState, Caller};
use engine::command::JurisdictionRules;
use engine::players::{
    AgeBand, CurrencyAmount, DepositLimitDefault, JurisdictionProfile, PROFILE_CURRENCIES_MAX, PlaySessionRules,
    ProfileVersion, StakeCap, Versions,
};
use engine::{Amount, Command, Currency, Jurisdiction, OperatorId, Outcome, PlayerId, players};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use utoipa::ToSchema;

use crate::kyc::routes::KycGates;
use crate::players::{PlayerErrors, reason};
use crate::profile::{Date, age_band};

/// The path segment that names the default profile.
pub const DEFAULT_CODE: &str = "default";
/// What the stake caps apply to until the games catalogue (issue 14) says
/// which bets are slots: every bet, since refusing none would be worse.
pub const STAKE_CAP_APPLIES_TO: &str =
    "every bet: bets do not name their game type until the games catalogue exists, so the slot cap applies to all";
/// Where the reversal flag is enforced: the ledger has no player-side
/// withdrawal reversal, so the cashier reads it.
pub const WITHDRAWAL_REVERSAL_NOTE: &str =
    "read by the cashier: the ledger has no player-side withdrawal reversal to refuse";

fn minor(major: i64, currency: Currency) -> Amount {
    let scale = 10_i64.pow(currency.exponent());
    Amount::from_minor(major * scale)
}

/// The anti-money-laundering due-diligence threshold: EUR 2,000, held per
/// currency until exchange rates exist (issues 13/14). Casinos must apply
/// customer due diligence on transactions of EUR 2,000 or more: EU AMLD
/// (Directive (EU) 2015/849, art. 11(d)); UK Money Laundering Regulations
/// 2017, reg. 27(5); Malta PMLFTR (S.L. 373.01) reg. 9 and the FIAU
/// Implementing Procedures Part II (remote gaming). GBP and USD are the
/// EUR amount rounded down at the rates of the release (about 0.85 and
/// 1.08): an operator changes them with a new version.
fn due_diligence_thresholds() -> Vec<CurrencyAmount> {
    [(Currency::EUR, 2_000), (Currency::GBP, 1_700), (Currency::USD, 2_150)]
        .into_iter()
        .map(|(currency, major)| CurrencyAmount {
            currency,
            amount: minor(major, currency),
        })
        .collect()
}

/// The UK (Great Britain) profile, UKGC:
/// - 18+: Gambling Act 2005 s. 46;
/// - slot stake limits GBP 5 per spin, GBP 2 for ages 18 to 24: DCMS,
///   "Slot stake limits" (2025), in force 9 April 2025 (25+) and 21 May
///   2025 (18-24) under the Gambling Act 2005 (Operating Licence
///   Conditions) (Amendment) Regulations 2025;
/// - bonus wagering at most 10x: UKGC LCCP SR code 5.1.12 (from
///   19 January 2026);
/// - self-exclusion at least six months: LCCP SR code 3.5.3 (181 days,
///   the shortest six calendar months);
/// - reality checks: RTS 13 (the interval is the operator's; every 60
///   minutes for every player who set none; a session ends after 30 idle
///   minutes);
/// - no reversal of withdrawals: RTS 14B;
/// - KYC before gambling and before deposits: LCCP 17 (age and identity
///   verified before a customer may deposit or gamble).
pub fn united_kingdom() -> JurisdictionProfile {
    JurisdictionProfile {
        minimum_age_years: 18,
        young_adult_until_age_years: 25,
        kyc: JurisdictionRules {
            kyc_before_deposit: true,
            kyc_before_bet: true,
            kyc_before_withdrawal: true,
        },
        stake_caps: vec![StakeCap {
            currency: Currency::GBP,
            adult: minor(5, Currency::GBP),
            young_adult: minor(2, Currency::GBP),
        }],
        bonus_wagering_cap_x: Some(10),
        reality_check_interval_min: 60,
        self_exclusion_min_days: 181,
        deposit_limit_defaults: Vec::new(),
        due_diligence_thresholds: due_diligence_thresholds(),
        withdrawal_reversal_allowed: false,
        play_sessions: SHIPPED_PLAY_SESSIONS,
    }
}

/// The Malta profile, MGA:
/// - 18+: Gaming Player Protection Directive (Directive 2 of 2018) art. 3;
/// - self-exclusion at least six months: the same directive, art. 11
///   (definite self-exclusion of not less than six months);
/// - reality checks: art. 8 (the player sets the interval; 60 minutes by
///   default; a session ends after 30 idle minutes);
/// - KYC before withdrawals: PMLFTR and the FIAU Implementing Procedures
///   (verification by the EUR 2,000 threshold at the latest; withdrawals
///   wait for it);
/// - no stake cap and no wagering cap in Maltese law.
pub fn malta() -> JurisdictionProfile {
    JurisdictionProfile {
        minimum_age_years: 18,
        young_adult_until_age_years: 0,
        kyc: JurisdictionRules {
            kyc_before_deposit: false,
            kyc_before_bet: false,
            kyc_before_withdrawal: true,
        },
        stake_caps: Vec::new(),
        bonus_wagering_cap_x: None,
        reality_check_interval_min: 60,
        self_exclusion_min_days: 181,
        deposit_limit_defaults: Vec::new(),
        due_diligence_thresholds: due_diligence_thresholds(),
        withdrawal_reversal_allowed: true,
        play_sessions: SHIPPED_PLAY_SESSIONS,
    }
}

/// The default profile, for jurisdictions without one: 18+, the EU AML
/// threshold, a 60-minute reality check for every player (sessions end
/// after 30 idle minutes), and nothing else restricted until a compliance
/// operator configures the jurisdiction.
pub fn default_profile() -> JurisdictionProfile {
    JurisdictionProfile {
        due_diligence_thresholds: due_diligence_thresholds(),
        play_sessions: SHIPPED_PLAY_SESSIONS,
        ..JurisdictionProfile::UNRESTRICTED
    }
}

/// The play-session rules of every shipped profile: the reality check at
/// the profile's interval for every player who set none, and sessions that
/// end after 30 minutes without a bet or win (so a player back the next
/// day starts a new session instead of facing a day-long one).
pub const SHIPPED_PLAY_SESSIONS: PlaySessionRules = PlaySessionRules {
    reality_check_by_default: true,
    idle_end_min: 30,
};

/// Which revision of the shipped profiles this release carries. Revision 1
/// (the first release with profiles) had no play-session rules; revision
/// 2 adds them.
pub const SHIPPED_REVISION: u32 = 2;

/// A shipped profile as revision 1 had it.
fn revision_1(profile: &JurisdictionProfile) -> JurisdictionProfile {
    JurisdictionProfile {
        play_sessions: PlaySessionRules::NONE,
        ..profile.clone()
    }
}

/// The profiles this release ships: `None` is the default profile. The UK
/// is under its ISO 3166-1 code `GB` and the customary `UK`.
pub fn shipped() -> Vec<(Option<Jurisdiction>, JurisdictionProfile)> {
    let code = |c| Jurisdiction::new(c).ok();
    vec![
        (code("GB"), united_kingdom()),
        (code("UK"), united_kingdom()),
        (code("MT"), malta()),
        (None, default_profile()),
    ]
}

/// The promotion rules this release ships, per jurisdiction: whether
/// mixed-product promotions are banned. The UK bans them: UKGC LCCP SR
/// Code 5.1.1(3b) ("must not include more than one type of gambling
/// product within an incentive"), in force since 19 January 2026. The
/// ledger's profile has no field for it (a new one would change the
/// snapshot format), so the rule is journaled beside the profile
/// (`SetPromotionRules`, kept by the read model) and submitted by the
/// loyalty worker where no rule is set for the jurisdiction yet.
pub fn shipped_promotion_rules() -> Vec<(Jurisdiction, bool)> {
    ["GB", "UK"]
        .into_iter()
        .filter_map(|code| Jurisdiction::new(code).ok())
        .map(|jurisdiction| (jurisdiction, true))
        .collect()
}

/// The commands that submit the shipped profiles, each with its request
/// id (a restart that submits one again gets the recorded outcome): where
/// the ledger (as `view` shows it at `now_ms`) has no version yet, and
/// where it still runs an earlier revision the system shipped, unchanged
/// by any operator. A profile a compliance operator set is never replaced.
pub fn shipped_commands(view: &edge::view::View, now_ms: u64) -> Vec<(String, Command)> {
    shipped()
        .into_iter()
        .filter(|(jurisdiction, profile)| match view.profiles.versions(*jurisdiction) {
            None => true,
            Some(versions) if versions.all().is_empty() => true,
            Some(versions) => {
                let only_shipped = versions.all().iter().all(|v| v.set_by == OperatorId::SYSTEM);
                let earlier = versions
                    .in_force(now_ms)
                    .is_some_and(|v| v.profile == revision_1(profile) && v.profile != *profile);
                only_shipped && earlier
            }
        })
        .map(|(jurisdiction, profile)| {
            let id = format!("shipped-profile-{}-{SHIPPED_REVISION}", code_text(jurisdiction));
            let command = players::Command::SetJurisdictionProfile {
                jurisdiction,
                profile: Box::new(profile),
                effective_from_ms: None,
                operator: OperatorId::SYSTEM,
            };
            (id, Command::Players(command))
        })
        .collect()
}

fn code_text(jurisdiction: Option<Jurisdiction>) -> String {
    jurisdiction.map_or_else(|| DEFAULT_CODE.to_owned(), |j| j.to_string())
}

/// A stake cap, as JSON.
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StakeCapBody {
    /// Currency code.
    pub currency: String,
    /// Most per bet for adults, decimal.
    pub adult: String,
    /// Most per bet for young adults (and players whose band is not known
    /// yet), decimal, at most `adult`.
    pub young_adult: String,
}

/// Deposit limits a new wallet starts with, as JSON.
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DepositDefaultsBody {
    /// Currency code.
    pub currency: String,
    /// Over 24 hours, decimal; absent or null: none.
    #[serde(default)]
    pub day: Option<String>,
    /// Over 7 days.
    #[serde(default)]
    pub week: Option<String>,
    /// Over 30 days.
    #[serde(default)]
    pub month: Option<String>,
}

/// A threshold in one currency, as JSON.
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ThresholdBody {
    /// Currency code.
    pub currency: String,
    /// Cumulative confirmed deposits, decimal, above zero.
    pub amount: String,
}

/// A jurisdiction profile, as JSON (amounts are decimal strings).
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileBody {
    /// Youngest age at registration, in years (1 to 99).
    pub minimum_age_years: u8,
    /// Players younger than this get the young-adult stake cap (0: no such
    /// band; else above the minimum age, at most 99).
    pub young_adult_until_age_years: u8,
    /// Verified KYC before deposits, bets, withdrawals.
    pub kyc_gates: KycGates,
    /// Most per bet, per currency (no entry: no cap).
    pub stake_caps: Vec<StakeCapBody>,
    /// Highest bonus wagering requirement as a multiple of the bonus
    /// (absent or null: no cap; else 1 to 1000).
    #[serde(default)]
    pub bonus_wagering_cap_x: Option<u32>,
    /// Reality-check interval in minutes (1 to 1440).
    pub reality_check_interval_min: u32,
    /// Shortest self-exclusion in days (0: none; at most 3650).
    pub self_exclusion_min_days: u32,
    /// Deposit limits given to a new player's wallet, per currency.
    pub deposit_limit_defaults: Vec<DepositDefaultsBody>,
    /// Cumulative confirmed deposits from which due diligence is required
    /// before further deposits and bets, per currency (no entry: that
    /// currency is not monitored).
    pub due_diligence_thresholds: Vec<ThresholdBody>,
    /// Whether a player may reverse a requested withdrawal.
    pub withdrawal_reversal_allowed: bool,
    /// How play sessions run (absent: neither rule, as profiles set before
    /// these rules existed).
    #[serde(default)]
    pub play_sessions: PlaySessionsBody,
}

/// A profile's play-session rules, as JSON. They count from the moment
/// their version takes effect.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlaySessionsBody {
    /// Every player without an interval of their own gets reality checks at
    /// `reality_check_interval_min`.
    pub reality_check_by_default: bool,
    /// A session with no bet, win or acknowledgement for this many minutes
    /// ends; the next bet opens a new one (0: only a logout or the next
    /// login ends a session; at most 1440).
    pub idle_end_min: u32,
}

fn invalid(field: &str, what: &str) -> ApiError {
    ApiError::bad_request("invalid_profile", format!("{field}: {what}"))
}

fn non_negative(text: &str, currency: Currency, field: &str) -> Result<Amount, ApiError> {
    wire::amount(text, currency, Sign::NonNegative, field)
}

fn currencies<T>(items: &[T], currency: impl Fn(&T) -> &str, field: &str) -> Result<Vec<Currency>, ApiError> {
    if items.len() > PROFILE_CURRENCIES_MAX {
        return Err(invalid(field, &format!("at most {PROFILE_CURRENCIES_MAX} currencies")));
    }
    let mut seen = Vec::with_capacity(items.len());
    for item in items {
        let parsed = wire::currency(currency(item))?;
        if seen.contains(&parsed) {
            return Err(invalid(field, &format!("{} listed twice", parsed.code())));
        }
        seen.push(parsed);
    }
    Ok(seen)
}

impl ProfileBody {
    /// The ledger's profile, or a clear 400 naming the field.
    pub fn to_profile(&self) -> Result<JurisdictionProfile, ApiError> {
        if !(1..=99).contains(&self.minimum_age_years) {
            return Err(invalid("minimum_age_years", "1 to 99"));
        }
        let young = self.young_adult_until_age_years;
        if young != 0 && (young <= self.minimum_age_years || young > 99) {
            return Err(invalid(
                "young_adult_until_age_years",
                "0 (no young-adult band) or above the minimum age, at most 99",
            ));
        }
        if !(1..=1440).contains(&self.reality_check_interval_min) {
            return Err(invalid("reality_check_interval_min", "1 to 1440 minutes"));
        }
        if self.play_sessions.idle_end_min > PlaySessionRules::IDLE_END_MAX_MIN {
            return Err(invalid("play_sessions.idle_end_min", "0 (no idle end) to 1440 minutes"));
        }
        if self.self_exclusion_min_days > 3650 {
            return Err(invalid("self_exclusion_min_days", "0 to 3650 days"));
        }
        if self.bonus_wagering_cap_x.is_some_and(|x| !(1..=1000).contains(&x)) {
            return Err(invalid("bonus_wagering_cap_x", "null (no cap) or 1 to 1000"));
        }
        let cap_currencies = currencies(&self.stake_caps, |c| &c.currency, "stake_caps")?;
        let mut stake_caps = Vec::new();
        for (cap, currency) in self.stake_caps.iter().zip(cap_currencies) {
            let adult = non_negative(&cap.adult, currency, "stake_caps.adult")?;
            let young_adult = non_negative(&cap.young_adult, currency, "stake_caps.young_adult")?;
            if young_adult > adult {
                return Err(invalid("stake_caps.young_adult", "at most the adult cap"));
            }
            stake_caps.push(StakeCap {
                currency,
                adult,
                young_adult,
            });
        }
        let default_currencies = currencies(&self.deposit_limit_defaults, |d| &d.currency, "deposit_limit_defaults")?;
        let mut deposit_limit_defaults = Vec::new();
        for (limits, currency) in self.deposit_limit_defaults.iter().zip(default_currencies) {
            let amount =
                |text: &Option<String>, field| text.as_deref().map(|t| non_negative(t, currency, field)).transpose();
            deposit_limit_defaults.push(DepositLimitDefault {
                currency,
                day: amount(&limits.day, "deposit_limit_defaults.day")?,
                week: amount(&limits.week, "deposit_limit_defaults.week")?,
                month: amount(&limits.month, "deposit_limit_defaults.month")?,
            });
        }
        let threshold_currencies = currencies(
            &self.due_diligence_thresholds,
            |t| &t.currency,
            "due_diligence_thresholds",
        )?;
        let mut due_diligence_thresholds = Vec::new();
        for (threshold, currency) in self.due_diligence_thresholds.iter().zip(threshold_currencies) {
            let amount = wire::amount(
                &threshold.amount,
                currency,
                Sign::Positive,
                "due_diligence_thresholds.amount",
            )?;
            due_diligence_thresholds.push(CurrencyAmount { currency, amount });
        }
        let profile = JurisdictionProfile {
            minimum_age_years: self.minimum_age_years,
            young_adult_until_age_years: young,
            kyc: JurisdictionRules {
                kyc_before_deposit: self.kyc_gates.before_deposit,
                kyc_before_bet: self.kyc_gates.before_bet,
                kyc_before_withdrawal: self.kyc_gates.before_withdrawal,
            },
            stake_caps,
            bonus_wagering_cap_x: self.bonus_wagering_cap_x,
            reality_check_interval_min: self.reality_check_interval_min,
            self_exclusion_min_days: self.self_exclusion_min_days,
            deposit_limit_defaults,
            due_diligence_thresholds,
            withdrawal_reversal_allowed: self.withdrawal_reversal_allowed,
            play_sessions: PlaySessionRules {
                reality_check_by_default: self.play_sessions.reality_check_by_default,
                idle_end_min: self.play_sessions.idle_end_min,
            },
        };
        // What the ledger also checks: refused here first, with a clear error.
        profile
            .validate()
            .map_err(|_| invalid("profile", "an amount or interval out of range"))?;
        Ok(profile)
    }

    /// The JSON form of a ledger profile.
    pub fn of(profile: &JurisdictionProfile) -> ProfileBody {
        let money = |amount: Amount, currency| wire::money(amount, currency);
        ProfileBody {
            minimum_age_years: profile.minimum_age_years,
            young_adult_until_age_years: profile.young_adult_until_age_years,
            kyc_gates: KycGates {
                before_deposit: profile.kyc.kyc_before_deposit,
                before_bet: profile.kyc.kyc_before_bet,
                before_withdrawal: profile.kyc.kyc_before_withdrawal,
            },
            stake_caps: profile
                .stake_caps
                .iter()
                .map(|c| StakeCapBody {
                    currency: c.currency.code().to_owned(),
                    adult: money(c.adult, c.currency),
                    young_adult: money(c.young_adult, c.currency),
                })
                .collect(),
            bonus_wagering_cap_x: profile.bonus_wagering_cap_x,
            reality_check_interval_min: profile.reality_check_interval_min,
            self_exclusion_min_days: profile.self_exclusion_min_days,
            deposit_limit_defaults: profile
                .deposit_limit_defaults
                .iter()
                .map(|d| DepositDefaultsBody {
                    currency: d.currency.code().to_owned(),
                    day: d.day.map(|a| money(a, d.currency)),
                    week: d.week.map(|a| money(a, d.currency)),
                    month: d.month.map(|a| money(a, d.currency)),
                })
                .collect(),
            due_diligence_thresholds: profile
                .due_diligence_thresholds
                .iter()
                .map(|t| ThresholdBody {
                    currency: t.currency.code().to_owned(),
                    amount: money(t.amount, t.currency),
                })
                .collect(),
            withdrawal_reversal_allowed: profile.withdrawal_reversal_allowed,
            play_sessions: PlaySessionsBody {
                reality_check_by_default: profile.play_sessions.reality_check_by_default,
                idle_end_min: profile.play_sessions.idle_end_min,
            },
        }
    }
}

/// A new version of a profile.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileRequest {
    /// The whole profile.
    pub profile: ProfileBody,
    /// When it takes effect: RFC 3339 (`2026-06-01T00:00:00Z`) or ms since
    /// the epoch, not before now; absent: at once.
    #[serde(default)]
    pub effective_from: Option<serde_json::Value>,
}

/// One version of a profile.
#[derive(Serialize, ToSchema)]
pub struct VersionReply {
    /// When it takes (took) effect, RFC 3339.
    pub effective_from: String,
    /// The same, ms since the epoch.
    pub effective_from_ms: u64,
    /// When it was set, ms since the epoch.
    pub set_at_ms: u64,
    /// Who set it (operator id; 0: the system, for shipped profiles and
    /// KYC gates set with `PUT .../kyc-gates`).
    pub set_by: u32,
    /// The profile.
    pub profile: ProfileBody,
}

/// A jurisdiction's profile: the version in force, the scheduled ones, and
/// (for one jurisdiction) every version.
#[derive(Serialize, ToSchema)]
pub struct JurisdictionReply {
    /// The code (`GB`, `MT`, or `default`).
    pub code: String,
    /// The version in force now (null: none yet, the default applies).
    pub in_force: Option<VersionReply>,
    /// Versions dated later, oldest first.
    pub scheduled: Vec<VersionReply>,
    /// Every version kept, oldest first (only in the one-jurisdiction read).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history: Option<Vec<VersionReply>>,
    /// What the stake caps apply to.
    pub stake_cap_applies_to: &'static str,
    /// Where `withdrawal_reversal_allowed` is enforced.
    pub withdrawal_reversal: &'static str,
}

/// Every profile.
#[derive(Serialize, ToSchema)]
pub struct JurisdictionsReply {
    /// The default profile first, then each jurisdiction by code.
    pub jurisdictions: Vec<JurisdictionReply>,
}

/// A version set.
#[derive(Serialize, ToSchema)]
pub struct ProfileSetReply {
    /// The code.
    pub code: String,
    /// True if it takes effect later than now.
    pub scheduled: bool,
    /// When it takes effect, RFC 3339.
    pub effective_from: String,
    /// The profile.
    pub profile: ProfileBody,
}

/// A due-diligence record request.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DueDiligenceRequest {
    /// The finding and the case's reference (1 to 256 bytes).
    pub reason: String,
}

/// Due diligence recorded.
#[derive(Serialize, ToSchema)]
pub struct DueDiligenceReply {
    /// Player id.
    pub player: u64,
    /// Always true.
    pub due_diligence_recorded: bool,
}

fn rfc3339(time_ms: u64) -> String {
    i128::from(time_ms)
        .checked_mul(1_000_000)
        .and_then(|nanos| OffsetDateTime::from_unix_timestamp_nanos(nanos).ok())
        .and_then(|at| at.format(&Rfc3339).ok())
        .unwrap_or_default()
}

fn version_reply(version: &ProfileVersion) -> VersionReply {
    VersionReply {
        effective_from: rfc3339(version.effective_from_ms),
        effective_from_ms: version.effective_from_ms,
        set_at_ms: version.set_at_ms,
        set_by: version.set_by.0,
        profile: ProfileBody::of(&version.profile),
    }
}

fn jurisdiction_reply(code: String, versions: &Versions, now_ms: u64, history: bool) -> JurisdictionReply {
    JurisdictionReply {
        code,
        in_force: versions.in_force(now_ms).map(version_reply),
        scheduled: versions.scheduled(now_ms).map(version_reply).collect(),
        history: history.then(|| versions.all().iter().map(version_reply).collect()),
        stake_cap_applies_to: STAKE_CAP_APPLIES_TO,
        withdrawal_reversal: WITHDRAWAL_REVERSAL_NOTE,
    }
}

/// `default` or a jurisdiction code.
fn scope(code: &str) -> Result<Option<Jurisdiction>, ApiError> {
    if code == DEFAULT_CODE {
        return Ok(None);
    }
    Jurisdiction::new(code).map(Some).map_err(|_| {
        ApiError::bad_request(
            "invalid_request",
            "the jurisdiction is two upper-case letters (GB, MT) or default",
        )
    })
}

/// `effective_from`: RFC 3339 text or ms since the epoch.
fn effective_from(value: &serde_json::Value) -> Result<u64, ApiError> {
    let bad = || {
        ApiError::bad_request(
            "invalid_request",
            "effective_from: an RFC 3339 time (2026-06-01T00:00:00Z) or ms since the epoch",
        )
    };
    match value {
        serde_json::Value::Number(n) => n.as_u64().filter(|&ms| ms <= i64::MAX as u64).ok_or_else(bad),
        serde_json::Value::String(text) => {
            let at = OffsetDateTime::parse(text, &Rfc3339).map_err(|_| bad())?;
            u64::try_from(at.unix_timestamp_nanos() / 1_000_000).map_err(|_| bad())
        }
        _ => Err(bad()),
    }
}

/// Every jurisdiction's profile in force and its scheduled versions, the
/// default profile first (admins, compliance, support, read-only).
#[utoipa::path(get, path = "/operator/v1/jurisdictions", tag = "pam", security(("bearer" = [])),
    responses((status = 200, body = JurisdictionsReply), RoleErrors))]
pub async fn list(State(state): State<AppState>) -> Result<Response, ApiError> {
    let now_ms = state.now_ms();
    let view = state.view.read();
    let profiles = &view.profiles;
    let mut jurisdictions = Vec::new();
    if let Some(default) = profiles.versions(None) {
        jurisdictions.push(jurisdiction_reply(DEFAULT_CODE.into(), default, now_ms, false));
    }
    for (code, versions) in profiles.jurisdictions() {
        jurisdictions.push(jurisdiction_reply(code.to_string(), versions, now_ms, false));
    }
    drop(view);
    ok(StatusCode::OK, &JurisdictionsReply { jurisdictions })
}

/// One jurisdiction's profile with its version history (`default` for the
/// default profile). A jurisdiction with no profile of its own answers 404
/// `unknown_jurisdiction` (its players get the default profile).
#[utoipa::path(get, path = "/operator/v1/jurisdictions/{jurisdiction}", tag = "pam",
    params(("jurisdiction" = String, Path, description = "two upper-case letters, or default")), security(("bearer" = [])),
    responses((status = 200, body = JurisdictionReply), RoleErrors,
        (status = 400, body = ErrorBody, description = "invalid_request: not a jurisdiction code"),
        (status = 404, body = ErrorBody, description = "unknown_jurisdiction: no profile of its own")))]
pub async fn show(State(state): State<AppState>, Path(code): Path<String>) -> Result<Response, ApiError> {
    let jurisdiction = scope(&code)?;
    let now_ms = state.now_ms();
    let view = state.view.read();
    let reply = view
        .profiles
        .versions(jurisdiction)
        .filter(|v| !v.all().is_empty())
        .map(|versions| jurisdiction_reply(code_text(jurisdiction), versions, now_ms, true));
    drop(view);
    match reply {
        Some(reply) => ok(StatusCode::OK, &reply),
        None => Err(ApiError::not_found(
            "unknown_jurisdiction",
            format!("{code} has no profile of its own; its players get the default profile"),
        )),
    }
}

/// Sets a version of a jurisdiction's profile (admins, compliance): the
/// whole profile, in force from `effective_from` (at once if absent;
/// scheduled if later; refused with `time_not_in_future` if earlier than
/// now). A version on the same time as an earlier one replaces it.
#[utoipa::path(put, path = "/operator/v1/jurisdictions/{jurisdiction}/profile", tag = "pam", request_body = ProfileRequest,
    params(("jurisdiction" = String, Path, description = "two upper-case letters, or default"), IdempotencyKey),
    security(("bearer" = [])),
    responses((status = 200, body = ProfileSetReply), BodyErrors, RoleErrors, LedgerErrors,
        (status = 400, body = ErrorBody, description = "invalid_profile (the field is named), unknown_currency, invalid_amount, too_many_decimals; invalid_request: the code or effective_from; time_not_in_future: effective_from is before now"),
        (status = 409, body = ErrorBody, description = "conflict (Idempotency-Key reused)")))]
pub async fn set_profile(
    State(state): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let request: ProfileRequest = decode(&body)?;
    let jurisdiction = scope(&code)?;
    let profile = request.profile.to_profile()?;
    let effective_from_ms = request.effective_from.as_ref().map(effective_from).transpose()?;
    if effective_from_ms.is_some_and(|ms| ms < state.now_ms()) {
        // The ledger refuses it too (by its own time); refused here first,
        // so nothing reaches the journal.
        return Err(ApiError::bad_request(
            "time_not_in_future",
            "effective_from is before now: a profile version cannot be back-dated",
        ));
    }
    let id = request_id(&headers)?;
    let command = players::Command::SetJurisdictionProfile {
        jurisdiction,
        profile: Box::new(profile.clone()),
        effective_from_ms,
        operator: caller.id,
    };
    let (scheduled, from_ms) = match caller.submit(&state, id, Command::Players(command)).await? {
        Outcome::Scheduled { effective_at_ms } => (true, effective_at_ms),
        Outcome::Accepted => (false, effective_from_ms.unwrap_or_else(|| state.now_ms())),
        other => return Err(refusal(&other, Currency::EUR)),
    };
    ok(
        StatusCode::OK,
        &ProfileSetReply {
            code: code_text(jurisdiction),
            scheduled,
            effective_from: rfc3339(from_ms),
            profile: ProfileBody::of(&profile),
        },
    )
}

/// Records due diligence on a player (admins, compliance), with its
/// finding: past the jurisdiction's threshold of cumulative confirmed
/// deposits, deposits and bets are refused with `due_diligence_required`
/// until this is recorded.
#[utoipa::path(post, path = "/operator/v1/players/{player}/due-diligence", tag = "pam",
    request_body = DueDiligenceRequest, params(("player" = u64, Path), IdempotencyKey), security(("bearer" = [])),
    responses((status = 200, body = DueDiligenceReply), BodyErrors, RoleErrors, LedgerErrors, PlayerErrors))]
pub async fn record_due_diligence(
    State(state): State<AppState>,
    caller: Caller,
    Path(player_id): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let request: DueDiligenceRequest = decode(&body)?;
    let reason = reason(&request.reason)?;
    let player = player(&state, &player_id)?;
    let id = request_id(&headers)?;
    let command = players::Command::RecordDueDiligence {
        player,
        reason,
        operator: caller.id,
    };
    match caller.submit(&state, id, Command::Players(command)).await? {
        Outcome::Accepted => ok(
            StatusCode::OK,
            &DueDiligenceReply {
                player: player.0,
                due_diligence_recorded: true,
            },
        ),
        other => Err(refusal(&other, Currency::EUR)),
    }
}

/// At a login: if the player is not yet an adult for the stake caps, reads
/// the sealed date of birth and, if the player has crossed the profile's
/// young-adult age since (or was never banded), journals the band. Until
/// then the lower cap applies, the protective side.
pub(crate) async fn reevaluate_band(state: &AppState, caller: &Caller, player: PlayerId) -> Result<(), ApiError> {
    let now_ms = state.now_ms();
    let (current, profile) = {
        let view = state.view.read();
        let Some(seen) = view.player(player) else {
            return Ok(());
        };
        (seen.age_band, view.profiles.in_force(seen.jurisdiction, now_ms).clone())
    };
    if current == AgeBand::Adult {
        return Ok(());
    }
    let (record, _) = crate::players::view(state, player).await?;
    let (Some(sealed), None) = (record.profile, record.erased) else {
        return Ok(());
    };
    let opened = crate::players::open(&crate::players::vault(state)?, sealed).await?;
    let Some(born) = Date::parse(&opened.date_of_birth) else {
        return Ok(());
    };
    let band = age_band(born, Date::from_epoch_ms(now_ms), &profile);
    if band == current {
        return Ok(());
    }
    let command = players::Command::SetAgeBand {
        player,
        band,
        operator: caller.id,
    };
    match caller
        .submit(state, request_id(&HeaderMap::new())?, Command::Players(command))
        .await?
    {
        Outcome::Accepted => {
            tracing::info!(player = player.0, band = band.name(), "age band changed at login");
            Ok(())
        }
        other => Err(refusal(&other, Currency::EUR)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_profiles_pass_the_ledgers_checks_and_round_trip_through_json() {
        for (_, profile) in shipped() {
            assert_eq!(profile.validate(), Ok(()));
            let body = ProfileBody::of(&profile);
            let text = serde_json::to_string(&body).unwrap();
            let back: ProfileBody = serde_json::from_str(&text).unwrap();
            assert_eq!(back.to_profile().unwrap(), profile);
        }
        let uk = united_kingdom();
        assert_eq!(
            uk.stake_cap(Currency::GBP, AgeBand::Adult),
            Some(Amount::from_minor(500))
        );
        assert_eq!(
            uk.stake_cap(Currency::GBP, AgeBand::YoungAdult),
            Some(Amount::from_minor(200))
        );
        assert_eq!(uk.self_exclusion_min_ms(), 181 * 86_400_000);
    }

    #[test]
    fn the_band_changes_on_the_young_adult_birthday() {
        let uk = united_kingdom();
        let born = Date::parse("2001-06-15").unwrap();
        assert_eq!(
            age_band(born, Date::parse("2026-06-14").unwrap(), &uk),
            AgeBand::YoungAdult
        );
        assert_eq!(age_band(born, Date::parse("2026-06-15").unwrap(), &uk), AgeBand::Adult);
        assert_eq!(
            age_band(born, Date::parse("2020-01-01").unwrap(), &malta()),
            AgeBand::Adult
        );
    }

    #[test]
    fn bad_profiles_name_their_field() {
        let mut body = ProfileBody::of(&united_kingdom());
        body.stake_caps[0].currency = "XXX".into();
        assert_eq!(body.to_profile().unwrap_err().code, "unknown_currency");
        let mut body = ProfileBody::of(&united_kingdom());
        body.stake_caps[0].adult = "-1.00".into();
        assert_eq!(body.to_profile().unwrap_err().code, "invalid_amount");
        let mut body = ProfileBody::of(&united_kingdom());
        body.reality_check_interval_min = 0;
        assert_eq!(body.to_profile().unwrap_err().code, "invalid_profile");
        let mut body = ProfileBody::of(&united_kingdom());
        body.stake_caps[0].young_adult = "6.00".into();
        assert_eq!(body.to_profile().unwrap_err().code, "invalid_profile");
        let mut body = ProfileBody::of(&malta());
        body.due_diligence_thresholds
            .push(body.due_diligence_thresholds[0].clone());
        assert_eq!(body.to_profile().unwrap_err().code, "invalid_profile");
        assert_eq!(
            effective_from(&serde_json::json!("2026-06-01T00:00:00Z")).ok(),
            Some(1_780_272_000_000)
        );
        assert!(effective_from(&serde_json::json!(-5)).is_err());
        assert!(effective_from(&serde_json::json!("tomorrow")).is_err());
        let mut body = ProfileBody::of(&malta());
        body.play_sessions.idle_end_min = 1441;
        let error = body.to_profile().unwrap_err();
        assert_eq!(
            (error.code, error.message.starts_with("play_sessions.idle_end_min")),
            ("invalid_profile", true)
        );
        // Absent play-session rules are none, as before they existed.
        let mut json = serde_json::to_value(ProfileBody::of(&malta())).unwrap();
        json.as_object_mut().unwrap().remove("play_sessions");
        let body: ProfileBody = serde_json::from_value(json).unwrap();
        assert_eq!(body.to_profile().unwrap().play_sessions, PlaySessionRules::NONE);
    }

    /// Applies `command` to `ledger` at `time_ms` as the system would.
    fn apply(ledger: &mut engine::Ledger, time_ms: u64, id: &str, command: Command) -> Outcome {
        let envelope = engine::Envelope {
            seq: ledger.last_seq() + 1,
            time_ms,
            request: engine::Request {
                source: engine::SourceId(0),
                id: engine::ExtId::new(id).unwrap(),
                command,
            },
        };
        ledger.apply(&envelope)
    }

    #[test]
    fn a_new_release_ships_its_revision_where_the_ledger_runs_the_last_one_unchanged() {
        let t0 = 1_780_000_000_000;
        let mut ledger = engine::Ledger::new(engine::Config::default());
        // What the first release with profiles submitted: revision 1 of every
        // shipped profile; then an operator set Malta's.
        for (jurisdiction, profile) in shipped() {
            let command = players::Command::SetJurisdictionProfile {
                jurisdiction,
                profile: Box::new(revision_1(&profile)),
                effective_from_ms: None,
                operator: OperatorId::SYSTEM,
            };
            let id = format!("shipped-profile-{}-1", code_text(jurisdiction));
            assert_eq!(
                apply(&mut ledger, t0, &id, Command::Players(command)),
                Outcome::Accepted
            );
        }
        let operators_own = players::Command::SetJurisdictionProfile {
            jurisdiction: Jurisdiction::new("MT").ok(),
            profile: Box::new(revision_1(&malta())),
            effective_from_ms: None,
            operator: OperatorId(7),
        };
        assert_eq!(
            apply(&mut ledger, t0 + 1, "mt-by-hand", Command::Players(operators_own)),
            Outcome::Accepted
        );
        let now = t0 + 60_000;
        let view = edge::view::View::of(&ledger);
        let commands = shipped_commands(&view, now);
        let ids: Vec<&str> = commands.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "shipped-profile-GB-2",
                "shipped-profile-UK-2",
                "shipped-profile-default-2"
            ],
            "Malta was set by an operator: kept"
        );
        for (id, command) in commands {
            assert_eq!(apply(&mut ledger, now, &id, command), Outcome::Accepted);
        }
        let in_force = ledger.profile_in_force(Jurisdiction::new("GB").unwrap(), now);
        assert_eq!(in_force.play_sessions, SHIPPED_PLAY_SESSIONS);
        assert_eq!(
            ledger
                .profile_in_force(Jurisdiction::new("MT").unwrap(), now)
                .play_sessions,
            PlaySessionRules::NONE
        );
        // Once shipped, nothing more to ship.
        assert!(shipped_commands(&edge::view::View::of(&ledger), now + 1).is_empty());
        // A fresh ledger gets every shipped profile.
        let fresh = engine::Ledger::new(engine::Config::default());
        assert_eq!(
            shipped_commands(&edge::view::View::of(&fresh), now).len(),
            shipped().len()
        );
    }
}
