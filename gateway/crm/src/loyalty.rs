//! Loyalty and VIP over the operator API: the programme's settings (rates
//! per game type, the redemption rate, the VIP tiers), each player's points
//! and tier with its history, redemptions of points into bonus money, an
//! operator's tier decision, and the promotion rules per jurisdiction (the
//! mixed-product ban).
//!
//! Points come from the read model's history of bets: each movement's
//! stake times the rate of its game's type (from the catalogue; a default
//! rate for games not in it) in force when it was journaled, less the
//! points redeemed. A redemption is one journaled command
//! ([`bonus::Command::RedeemPoints`]): a bonus grant under the configured
//! wagering that records the points it spends.
//!
//! Double spending is prevented in two ways. A redemption is submitted
//! under a request id made from the player and the caller's redemption id,
//! so a retry finds the redemption already journaled (it is answered from
//! the read model, or by the ledger's stored outcome) instead of spending
//! again. And redemptions of one player are serialized here: the balance
//! is read (current to every write acknowledged before) and the command
//! submitted while holding the player's lock, so two concurrent
//! redemptions cannot both see the same points. The lock lives in this
//! process: in a replication group only the leader's process submits.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use edge::body::{JsonBody, decode};
use edge::change::{ok, player, refusal, request_id};
use edge::error::{ApiError, ErrorBody};
use edge::openapi::{BodyErrors, LedgerErrors, RoleErrors};
use edge::player_locks::PlayerLocks;
use edge::reads::read;
use edge::view::View;
use edge::wire::{self, Sign};
use edge::{AppState, Caller};
use engine::bonus::{self, BonusGrant, LoyaltyConfig, RATE_MILLI_MAX, VIP_TIERS_MAX, VipTier};
use engine::games::GameType;
use engine::{Amount, BonusCode, Command, Currency, ExtId, Jurisdiction, Outcome, PlayerId, SourceId, Title};
use readmodel::loyalty::{self, ConfigView, RedemptionView, Stakes, TierView};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

const DAY_MS: u64 = 86_400_000;
/// Most tier changes and redemptions a player's loyalty read lists.
const HISTORY_MAX: u32 = 100;
/// Redemptions of one player, one at a time.
static REDEEMING: PlayerLocks = PlayerLocks::new();

/// A VIP tier as the API takes and shows it.
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TierBody {
    /// Its code (1–64 printable ASCII), unique.
    pub code: String,
    /// Display name.
    pub name: String,
    /// Points earned in a review period that reach it.
    pub min_points: u64,
    /// Stake in the programme's currency over a review period that reaches
    /// it too ("10000.00"; absent: points alone).
    #[serde(default)]
    pub min_turnover: Option<String>,
    /// Cashback percent of net losses (1–100), overriding the cashback
    /// template's.
    #[serde(default)]
    pub cashback_pct: Option<u16>,
    /// Most a player of the tier may withdraw per UTC day, in the
    /// programme's currency: the cashier refuses a withdrawal request over
    /// it (`tier_withdrawal_limit`).
    #[serde(default)]
    pub withdrawal_limit: Option<String>,
    /// Whether the tier has a personal account manager.
    #[serde(default)]
    pub account_manager: bool,
}

/// The loyalty programme as the API takes it.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfigBody {
    /// Points per whole unit of stake, per game type (`slot`, `table`,
    /// `live`, `crash`, `other`), as decimals with at most 3 places ("0.2").
    pub rates: BTreeMap<String, String>,
    /// Points per whole unit of stake on games not in the catalogue.
    pub default_rate: String,
    /// The currency of redemptions and turnover thresholds.
    pub currency: String,
    /// How many points buy `redeem_amount`.
    pub redeem_points: u64,
    /// The bonus money `redeem_points` buy ("1.00").
    pub redeem_amount: String,
    /// Wagering of a redeemed bonus, a multiple of it (0–200; the
    /// player's jurisdiction may cap it lower).
    pub redeem_wagering_x: u32,
    /// Days until a redeemed bonus expires unconverted (1–3660).
    pub redeem_expiry_days: u32,
    /// Length of a VIP review period in days (periods start at the epoch).
    pub review_days: u16,
    /// The tiers, lowest first (ascending `min_points`).
    #[serde(default)]
    pub tiers: Vec<TierBody>,
}

/// The loyalty programme as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConfigReply {
    /// Points per whole unit of stake, per game type.
    pub rates: BTreeMap<String, String>,
    /// Points per unit of stake on games not in the catalogue.
    pub default_rate: String,
    /// The currency of redemptions.
    pub currency: String,
    /// Points per `redeem_amount`.
    pub redeem_points: u64,
    /// What `redeem_points` buy.
    pub redeem_amount: String,
    /// Wagering multiple of a redeemed bonus.
    pub redeem_wagering_x: u32,
    /// Days until a redeemed bonus expires.
    pub redeem_expiry_days: u32,
    /// Review period, days.
    pub review_days: u16,
    /// The tiers, lowest first.
    pub tiers: Vec<TierBody>,
    /// The sequence number that set it.
    pub seq: u64,
    /// When, ms since the epoch.
    pub set_ms: u64,
}

/// A redemption.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RedeemBody {
    /// The caller's id for this redemption (1–64 printable ASCII): a retry
    /// with the same id redeems nothing more.
    pub redemption_id: String,
    /// Points to spend, at least 1.
    pub points: u64,
}

/// What a redemption did (or, for a retry, had done).
#[derive(Debug, Serialize, ToSchema)]
pub struct RedeemReply {
    /// The player.
    pub player: u64,
    /// The caller's redemption id.
    pub redemption_id: String,
    /// Points spent.
    pub points: u64,
    /// The bonus's currency.
    pub currency: String,
    /// The bonus money granted.
    pub amount: String,
    /// Points left after it.
    pub points_available: u64,
    /// The ledger's sequence number of the redemption.
    pub seq: u64,
}

/// An operator's tier decision.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetTierBody {
    /// A tier's code, or null for none.
    pub tier: Option<String>,
}

/// A tier change.
#[derive(Debug, Serialize, ToSchema)]
pub struct TierChange {
    /// The tier (null: none).
    pub tier: Option<String>,
    /// The review period (periods since the epoch) it was worked out for;
    /// 0 for an operator's decision.
    pub period: u32,
    /// The operator (0: the review worker).
    pub operator: u32,
    /// Its sequence number.
    pub seq: u64,
    /// When, ms since the epoch.
    pub time_ms: u64,
}

/// A redemption in a player's history.
#[derive(Debug, Serialize, ToSchema)]
pub struct RedemptionReply {
    /// Its request id.
    pub id: String,
    /// Points spent.
    pub points: u64,
    /// The bonus granted.
    pub amount: String,
    /// Its currency.
    pub currency: String,
    /// Its sequence number.
    pub seq: u64,
    /// When.
    pub time_ms: u64,
}

/// A player's loyalty standing.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlayerLoyaltyReply {
    /// The player.
    pub player: u64,
    /// Points earned since the programme started.
    pub points_earned: u64,
    /// Points redeemed.
    pub points_redeemed: u64,
    /// Points that may be redeemed now.
    pub points_available: u64,
    /// The tier now, with its benefits (null: none).
    pub tier: Option<TierBody>,
    /// Tier changes, newest first (at most 100).
    pub tier_history: Vec<TierChange>,
    /// Redemptions, newest first (at most 100).
    pub redemptions: Vec<RedemptionReply>,
    /// The sequence number this answer is current to.
    pub as_of_seq: u64,
}

/// A jurisdiction's promotion rules.
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PromotionRulesBody {
    /// Whether templates spanning products (`mixed_product`) are refused
    /// for its players.
    pub mixed_product_banned: bool,
}

/// The promotion rules set per jurisdiction.
#[derive(Debug, Serialize, ToSchema)]
pub struct PromotionRulesReply {
    /// By jurisdiction code (`default`: the default profile's).
    pub rules: Vec<PromotionRuleReply>,
    /// The sequence number this answer is current to.
    pub as_of_seq: u64,
}

/// One jurisdiction's rules.
#[derive(Debug, Serialize, ToSchema)]
pub struct PromotionRuleReply {
    /// Its code, or `default`.
    pub jurisdiction: String,
    /// Whether mixed-product promotions are banned.
    pub mixed_product_banned: bool,
    /// The sequence number that set them.
    pub seq: u64,
}

fn invalid(field: &str, message: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request("invalid_loyalty", format!("{field}: {message}"))
}

fn not_configured() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "loyalty_not_configured",
        "no loyalty programme is set (PUT /operator/v1/loyalty/config)",
    )
}

/// A rate ("1.25") in milli-points.
fn rate_milli(text: &str, field: &str) -> Result<u32, ApiError> {
    let bad = || {
        invalid(
            field,
            format!("a decimal of at most 3 places, 0 to {}", RATE_MILLI_MAX / 1000),
        )
    };
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || (!fraction.is_empty() && !digits(fraction)) || fraction.len() > 3 || whole.len() > 7 {
        return Err(bad());
    }
    let whole: u64 = whole.parse().map_err(|_| bad())?;
    let fraction: u64 = format!("{fraction:0<3}").parse().map_err(|_| bad())?;
    let milli = whole * 1000 + fraction;
    u32::try_from(milli)
        .ok()
        .filter(|m| *m <= RATE_MILLI_MAX)
        .ok_or_else(bad)
}

fn rate_text(milli: u32) -> String {
    let text = format!("{}.{:03}", milli / 1000, milli % 1000);
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// The programme from its JSON form, every field checked and named.
pub fn to_config(body: &ConfigBody) -> Result<LoyaltyConfig, ApiError> {
    let currency = wire::currency(&body.currency)?;
    let rates = body
        .rates
        .iter()
        .map(|(kind, rate)| {
            let field = format!("rates.{kind}");
            let kind = GameType::from_name(kind).ok_or_else(|| invalid(&field, "slot, table, live, crash or other"))?;
            Ok((kind, rate_milli(rate, &field)?))
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    if body.redeem_points == 0 {
        return Err(invalid("redeem_points", "at least 1"));
    }
    if body.redeem_wagering_x > bonus::TEMPLATE_WAGERING_X_MAX {
        return Err(invalid(
            "redeem_wagering_x",
            format!("at most {}", bonus::TEMPLATE_WAGERING_X_MAX),
        ));
    }
    if !(1..=3660).contains(&body.redeem_expiry_days) {
        return Err(invalid("redeem_expiry_days", "1 to 3660"));
    }
    if body.review_days == 0 {
        return Err(invalid("review_days", "at least 1"));
    }
    if body.tiers.len() > VIP_TIERS_MAX {
        return Err(invalid("tiers", format!("at most {VIP_TIERS_MAX}")));
    }
    let tiers = body
        .tiers
        .iter()
        .enumerate()
        .map(|(n, t)| to_tier(t, n, currency))
        .collect::<Result<Vec<_>, ApiError>>()?;
    if tiers.windows(2).any(|w| w[0].min_points >= w[1].min_points) {
        return Err(invalid("tiers", "lowest first: min_points must ascend"));
    }
    let mut codes: Vec<&str> = tiers.iter().map(|t| t.code.as_str()).collect();
    codes.sort_unstable();
    if codes.windows(2).any(|w| w[0] == w[1]) {
        return Err(invalid("tiers", "each code once"));
    }
    Ok(LoyaltyConfig {
        rates,
        default_rate_milli: rate_milli(&body.default_rate, "default_rate")?,
        currency,
        redeem_points: body.redeem_points,
        redeem_amount: wire::amount(&body.redeem_amount, currency, Sign::Positive, "redeem_amount")?,
        redeem_wagering_x: body.redeem_wagering_x,
        redeem_expiry_days: body.redeem_expiry_days,
        review_days: body.review_days,
        tiers,
    })
}

fn to_tier(t: &TierBody, n: usize, currency: Currency) -> Result<VipTier, ApiError> {
    let field = |name: &str| format!("tiers[{n}].{name}");
    let money = |text: &Option<String>, name: &str| {
        text.as_deref()
            .map(|t| wire::amount(t, currency, Sign::Positive, &field(name)))
            .transpose()
    };
    if t.cashback_pct.is_some_and(|pct| !(1..=100).contains(&pct)) {
        return Err(invalid(&field("cashback_pct"), "1 to 100"));
    }
    Ok(VipTier {
        code: BonusCode::new(&t.code).map_err(|e| invalid(&field("code"), e))?,
        name: Title::new(&t.name).map_err(|e| invalid(&field("name"), e))?,
        min_points: t.min_points,
        min_turnover: money(&t.min_turnover, "min_turnover")?,
        cashback_pct: t.cashback_pct,
        withdrawal_limit: money(&t.withdrawal_limit, "withdrawal_limit")?,
        account_manager: t.account_manager,
    })
}

fn tier_body(t: &VipTier, currency: Currency) -> TierBody {
    TierBody {
        code: t.code.to_string(),
        name: t.name.to_string(),
        min_points: t.min_points,
        min_turnover: t.min_turnover.map(|a| wire::money(a, currency)),
        cashback_pct: t.cashback_pct,
        withdrawal_limit: t.withdrawal_limit.map(|a| wire::money(a, currency)),
        account_manager: t.account_manager,
    }
}

fn config_reply(view: &ConfigView) -> ConfigReply {
    let c = &view.config;
    ConfigReply {
        rates: c
            .rates
            .iter()
            .map(|(k, r)| (k.name().to_owned(), rate_text(*r)))
            .collect(),
        default_rate: rate_text(c.default_rate_milli),
        currency: c.currency.code().to_owned(),
        redeem_points: c.redeem_points,
        redeem_amount: wire::money(c.redeem_amount, c.currency),
        redeem_wagering_x: c.redeem_wagering_x,
        redeem_expiry_days: c.redeem_expiry_days,
        review_days: c.review_days,
        tiers: c.tiers.iter().map(|t| tier_body(t, c.currency)).collect(),
        seq: view.seq,
        set_ms: view.set_ms,
    }
}

/// Milli-points of `stakes` at `config`'s rates, each game's type from the
/// catalogue. Rollbacks (negative stakes) take back what their bet earned.
pub fn milli_points(config: &LoyaltyConfig, view: &View, stakes: &Stakes) -> i128 {
    stakes
        .iter()
        .map(|(source, game, currency, stake)| {
            let kind = game
                .as_deref()
                .and_then(|code| view.games.game(SourceId(*source), code))
                .map(|g| g.kind);
            let unit = Currency::from_code(currency).map_or(1, |c| 10i128.pow(c.exponent()));
            i128::from(*stake) * i128::from(config.rate_milli(kind)) / unit
        })
        .sum()
}

/// Whole points of a milli-point sum (never negative).
pub fn whole_points(milli: i128) -> u64 {
    u64::try_from((milli / 1000).max(0)).unwrap_or(u64::MAX)
}

/// A player's points: (earned, redeemed), and the programme in force.
struct Standing {
    earned: u64,
    redeemed: u64,
    config: Option<ConfigView>,
}

impl Standing {
    fn available(&self) -> u64 {
        self.earned.saturating_sub(self.redeemed)
    }
}

/// Reads a player's points: each configuration's rates apply to the
/// movements journaled from it to the next one.
async fn standing(state: &AppState, player: PlayerId) -> Result<(Standing, u64), ApiError> {
    let ((configs, stakes, redeemed), as_of) = read(state, move |c| {
        let configs = loyalty::configs(c)?;
        let bounds: Vec<u64> = configs.iter().skip(1).map(|v| v.seq).chain([u64::MAX]).collect();
        let stakes = configs
            .iter()
            .zip(bounds)
            .map(|(v, to)| loyalty::stakes_between_seqs(c, player.0, v.seq, to))
            .collect::<Result<Vec<_>, _>>()?;
        Ok((configs, stakes, loyalty::redeemed(c, player.0)?))
    })
    .await?;
    let milli: i128 = {
        let view = state.view.read();
        configs
            .iter()
            .zip(&stakes)
            .map(|(v, s)| milli_points(&v.config, &view, s))
            .sum()
    };
    let standing = Standing {
        earned: whole_points(milli),
        redeemed,
        config: configs.into_iter().last(),
    };
    Ok((standing, as_of))
}

/// The loyalty programme in force (every role).
#[utoipa::path(get, path = "/operator/v1/loyalty/config", tag = "crm", security(("bearer" = [])),
    responses((status = 200, body = ConfigReply), RoleErrors,
        (status = 409, body = ErrorBody, description = "loyalty_not_configured")))]
pub async fn show_config(State(state): State<AppState>) -> Result<Response, ApiError> {
    let (found, _) = read(&state, loyalty::current).await?;
    let view = found.ok_or_else(not_configured)?;
    ok(StatusCode::OK, &config_reply(&view))
}

/// Sets the loyalty programme (admins): rates per game type, the
/// redemption rate and wagering, the VIP tiers and review period.
/// Journaled; new rates apply to bets journaled after it.
#[utoipa::path(put, path = "/operator/v1/loyalty/config", tag = "crm", request_body = ConfigBody,
    params(edge::change::IdempotencyKey), security(("bearer" = [])),
    responses((status = 200, body = ConfigReply), BodyErrors, RoleErrors, LedgerErrors,
        (status = 400, body = ErrorBody, description = "invalid_loyalty (the field is named), unknown_currency, invalid_amount, too_many_decimals")))]
pub async fn put_config(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let request: ConfigBody = decode(&body)?;
    let config = to_config(&request)?;
    let currency = config.currency;
    let command = Command::Bonus(bonus::Command::SetLoyalty {
        config: Box::new(config),
        operator: caller.id,
    });
    match caller.submit(&state, request_id(&headers)?, command).await? {
        Outcome::Accepted => {}
        other => return Err(refusal(&other, currency)),
    }
    let (found, _) = read(&state, loyalty::current).await?;
    let view = found.ok_or_else(not_configured)?;
    ok(StatusCode::OK, &config_reply(&view))
}

/// A player's points (earned, redeemed, available), tier with its
/// benefits, tier history and redemptions (every role).
#[utoipa::path(get, path = "/operator/v1/players/{player}/loyalty", tag = "crm",
    params(("player" = u64, Path)), security(("bearer" = [])),
    responses((status = 200, body = PlayerLoyaltyReply), RoleErrors,
        (status = 404, body = ErrorBody, description = "unknown_player")))]
pub async fn player_loyalty(
    State(state): State<AppState>,
    Path(player_id): Path<String>,
) -> Result<Response, ApiError> {
    let player = player(&state, &player_id)?;
    let (standing, _) = standing(&state, player).await?;
    let ((history, redemptions), as_of_seq) = read(&state, move |c| {
        Ok((
            loyalty::tiers(c, player.0, HISTORY_MAX)?,
            loyalty::redemptions(c, player.0, HISTORY_MAX)?,
        ))
    })
    .await?;
    let tier = history.first().and_then(|t| t.tier.clone()).and_then(|code| {
        let config = &standing.config.as_ref()?.config;
        let found = config.tiers.iter().find(|t| t.code.as_str() == code);
        Some(found.map_or_else(
            || TierBody {
                code: code.clone(),
                name: code.clone(),
                min_points: 0,
                min_turnover: None,
                cashback_pct: None,
                withdrawal_limit: None,
                account_manager: false,
            },
            |t| tier_body(t, config.currency),
        ))
    });
    let reply = PlayerLoyaltyReply {
        player: player.0,
        points_earned: standing.earned,
        points_redeemed: standing.redeemed,
        points_available: standing.available(),
        tier,
        tier_history: history.into_iter().map(tier_change).collect(),
        redemptions: redemptions.iter().map(redemption_reply).collect(),
        as_of_seq,
    };
    ok(StatusCode::OK, &reply)
}

fn tier_change(t: TierView) -> TierChange {
    TierChange {
        tier: t.tier,
        period: t.period,
        operator: t.operator,
        seq: t.seq,
        time_ms: t.time_ms,
    }
}

fn redemption_reply(r: &RedemptionView) -> RedemptionReply {
    let currency = Currency::from_code(&r.currency).unwrap_or(Currency::EUR);
    RedemptionReply {
        id: r.id.clone(),
        points: r.points,
        amount: wire::money(Amount::from_minor(r.amount_minor), currency),
        currency: r.currency.clone(),
        seq: r.seq,
        time_ms: r.time_ms,
    }
}

/// Redeems a player's points into bonus money (admins): a bonus under the
/// programme's wagering, queued behind an active one. Refused beyond the
/// points available; a retry with the same `redemption_id` redeems nothing
/// more and answers what the first did.
#[utoipa::path(post, path = "/operator/v1/players/{player}/loyalty/redemptions", tag = "crm", request_body = RedeemBody,
    params(("player" = u64, Path)), security(("bearer" = [])),
    responses((status = 201, body = RedeemReply), BodyErrors, RoleErrors, LedgerErrors,
        (status = 400, body = ErrorBody, description = "invalid_request (points 0, a bad redemption_id)"),
        (status = 403, body = ErrorBody, description = "player_blocked"),
        (status = 404, body = ErrorBody, description = "unknown_player"),
        (status = 409, body = ErrorBody, description = "loyalty_not_configured, bonus_queue_full"),
        (status = 422, body = ErrorBody, description = "insufficient_points, nothing_to_grant")))]
pub async fn redeem(
    State(state): State<AppState>,
    caller: Caller,
    Path(player_id): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let request: RedeemBody = decode(&body)?;
    let player = player(&state, &player_id)?;
    if request.points == 0 {
        return Err(ApiError::bad_request("invalid_request", "points: at least 1"));
    }
    wire::ext_id(&request.redemption_id, "redemption_id")?;
    let id = wire::ext_id(
        &format!("loyalty:{}:{}", player.0, request.redemption_id),
        "redemption_id",
    )?;
    let _held = REDEEMING.lock(player).await;
    // A retry: answer what the first redemption did.
    let (source, key) = (caller.source.0, id.as_str().to_owned());
    let (done, _) = read(&state, move |c| loyalty::redemption(c, source, &key)).await?;
    let (standing, _) = standing(&state, player).await?;
    if let Some(done) = done {
        return redeemed_reply(player, &request.redemption_id, &done, standing.available());
    }
    let config = standing.config.as_ref().ok_or_else(not_configured)?.config.clone();
    let available = standing.available();
    if request.points > available {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "insufficient_points",
            format!("the player has {available} points to redeem"),
        ));
    }
    let amount = config.redemption_amount(request.points);
    if !amount.is_positive() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "nothing_to_grant",
            format!(
                "{} points buy {}",
                config.redeem_points,
                wire::money(config.redeem_amount, config.currency)
            ),
        ));
    }
    let grant = redemption_grant(&state, player, &config, amount)?;
    let command = Command::Bonus(bonus::Command::RedeemPoints {
        grant: Box::new(grant),
        max_bet: None,
        points: request.points,
    });
    let granted = match caller.submit(&state, id.clone(), command).await? {
        Outcome::BonusGranted(granted) => granted,
        other => return Err(refusal(&other, config.currency)),
    };
    let done = RedemptionView {
        id: id.as_str().to_owned(),
        points: request.points,
        currency: config.currency.code().to_owned(),
        amount_minor: amount.minor(),
        seq: granted.receipt.seq,
        time_ms: 0,
    };
    redeemed_reply(player, &request.redemption_id, &done, available - request.points)
}

fn redeemed_reply(
    player: PlayerId,
    redemption_id: &str,
    done: &RedemptionView,
    left: u64,
) -> Result<Response, ApiError> {
    let currency = Currency::from_code(&done.currency).unwrap_or(Currency::EUR);
    let reply = RedeemReply {
        player: player.0,
        redemption_id: redemption_id.to_owned(),
        points: done.points,
        currency: done.currency.clone(),
        amount: wire::money(Amount::from_minor(done.amount_minor), currency),
        points_available: left,
        seq: done.seq,
    };
    ok(StatusCode::CREATED, &reply)
}

/// The grant a redemption of `amount` makes: the programme's wagering
/// multiple capped by the player's jurisdiction, its expiry, every game
/// counting in full.
fn redemption_grant(
    state: &AppState,
    player: PlayerId,
    config: &LoyaltyConfig,
    amount: Amount,
) -> Result<BonusGrant, ApiError> {
    let now_ms = state.now_ms();
    let cap_x = crate::templates::wagering_cap_x(state, player, now_ms).ok_or_else(crate::templates::unknown_player)?;
    Ok(BonusGrant {
        player,
        currency: config.currency,
        amount,
        wagering: crate::templates::wagering(amount, config.redeem_wagering_x, cap_x),
        contributions: Vec::new(),
        default_contribution_pct: 100,
        conversion_cap: Amount::MAX,
        expires_at_ms: now_ms.saturating_add(u64::from(config.redeem_expiry_days).saturating_mul(DAY_MS)),
    })
}

/// Sets a player's VIP tier by an operator's decision (admins); the next
/// review may change it again. Journaled with who decided.
#[utoipa::path(put, path = "/operator/v1/players/{player}/loyalty/tier", tag = "crm", request_body = SetTierBody,
    params(("player" = u64, Path), edge::change::IdempotencyKey), security(("bearer" = [])),
    responses((status = 200, body = TierChange), BodyErrors, RoleErrors, LedgerErrors,
        (status = 404, body = ErrorBody, description = "unknown_player"),
        (status = 409, body = ErrorBody, description = "loyalty_not_configured"),
        (status = 422, body = ErrorBody, description = "unknown_tier: the programme has no such tier")))]
pub async fn set_tier(
    State(state): State<AppState>,
    caller: Caller,
    Path(player_id): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let request: SetTierBody = decode(&body)?;
    let player = player(&state, &player_id)?;
    let (found, _) = read(&state, loyalty::current).await?;
    let config = found.ok_or_else(not_configured)?.config;
    let tier = match request.tier.as_deref() {
        None => None,
        Some(code) => Some(
            config
                .tiers
                .iter()
                .find(|t| t.code.as_str() == code)
                .map(|t| t.code.clone())
                .ok_or_else(|| {
                    ApiError::new(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "unknown_tier",
                        "the programme has no such tier",
                    )
                })?,
        ),
    };
    let command = Command::Bonus(bonus::Command::SetVipTier {
        player,
        tier: tier.clone(),
        period: 0,
        operator: caller.id,
    });
    let seq = match caller.submit(&state, request_id(&headers)?, command).await? {
        Outcome::Accepted => state.durable.get(),
        other => return Err(refusal(&other, config.currency)),
    };
    let (history, _) = read(&state, move |c| loyalty::tiers(c, player.0, 1)).await?;
    let change = history.into_iter().next().map_or_else(
        || TierChange {
            tier: tier.map(|t| t.to_string()),
            period: 0,
            operator: caller.id.0,
            seq,
            time_ms: 0,
        },
        tier_change,
    );
    ok(StatusCode::OK, &change)
}

/// The promotion rules set per jurisdiction (every role). A jurisdiction
/// without its own follows the default's; without either, nothing is banned.
#[utoipa::path(get, path = "/operator/v1/promotion-rules", tag = "crm", security(("bearer" = [])),
    responses((status = 200, body = PromotionRulesReply), RoleErrors))]
pub async fn list_promotion_rules(State(state): State<AppState>) -> Result<Response, ApiError> {
    let (rules, as_of_seq) = read(&state, loyalty::promotion_rules).await?;
    let rules = rules
        .into_iter()
        .map(|(jurisdiction, mixed_product_banned, seq)| PromotionRuleReply {
            jurisdiction,
            mixed_product_banned,
            seq,
        })
        .collect();
    ok(StatusCode::OK, &PromotionRulesReply { rules, as_of_seq })
}

/// Sets a jurisdiction's promotion rules (admins, compliance): whether
/// templates spanning products are refused for its players (UKGC SR Code
/// 5.1.1(3b)). `default` sets the default profile's. Journaled.
#[utoipa::path(put, path = "/operator/v1/promotion-rules/{jurisdiction}", tag = "crm", request_body = PromotionRulesBody,
    params(("jurisdiction" = String, Path, description = "a two-letter code, or `default`"), edge::change::IdempotencyKey),
    security(("bearer" = [])),
    responses((status = 200, body = PromotionRuleReply), BodyErrors, RoleErrors, LedgerErrors,
        (status = 400, body = ErrorBody, description = "invalid_request: not a jurisdiction code")))]
pub async fn put_promotion_rules(
    State(state): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let request: PromotionRulesBody = decode(&body)?;
    let jurisdiction = if code == loyalty::DEFAULT_JURISDICTION {
        None
    } else {
        Some(
            Jurisdiction::new(&code)
                .map_err(|e| ApiError::bad_request("invalid_request", format!("jurisdiction: {e}")))?,
        )
    };
    let command = Command::Bonus(bonus::Command::SetPromotionRules {
        jurisdiction,
        mixed_product_banned: request.mixed_product_banned,
        operator: caller.id,
    });
    match caller.submit(&state, request_id(&headers)?, command).await? {
        Outcome::Accepted => {}
        other => return Err(refusal(&other, Currency::EUR)),
    }
    let (rules, _) = read(&state, loyalty::promotion_rules).await?;
    let (jurisdiction, mixed_product_banned, seq) = rules
        .into_iter()
        .find(|(j, _, _)| *j == code)
        .ok_or_else(|| ApiError::internal("the promotion rules just set are not in the read model"))?;
    ok(
        StatusCode::OK,
        &PromotionRuleReply {
            jurisdiction,
            mixed_product_banned,
            seq,
        },
    )
}

/// Refuses a template spanning products for a player whose jurisdiction
/// bans mixed-product promotions.
pub async fn check_mixed_product(
    state: &AppState,
    player: PlayerId,
    template: &bonus::BonusTemplate,
) -> Result<(), ApiError> {
    if !template.mixed_product {
        return Ok(());
    }
    let jurisdiction = state
        .view
        .read()
        .player(player)
        .ok_or_else(crate::templates::unknown_player)?
        .jurisdiction;
    let code = jurisdiction.to_string();
    let (banned, _) = read(state, move |c| loyalty::mixed_product_banned(c, &code)).await?;
    if banned {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "mixed_product_banned",
            format!("the player's jurisdiction ({jurisdiction}) bans promotions that span products"),
        ));
    }
    Ok(())
}

/// The request id of a shipped promotion rule.
pub fn shipped_request(jurisdiction: Jurisdiction, revision: u32) -> Option<ExtId> {
    ExtId::new(&format!("shipped-promotion-rules-{jurisdiction}-{revision}")).ok()
}
