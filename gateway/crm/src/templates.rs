//! Bonus templates over the operator API: list, show, and set (create or
//! replace by code). A template's JSON form is flat: the fields of its kind
//! plus the rules every kind shares, each checked and named when wrong
//! before the ledger checks the whole.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use edge::body::{JsonBody, decode};
use edge::change::{ok, refusal, request_id};
use edge::error::{ApiError, ErrorBody};
use edge::openapi::{BodyErrors, LedgerErrors, RoleErrors};
use edge::reads::read;
use edge::wire::{self, Sign};
use edge::{AppState, Caller};
use engine::bonus::{self, BonusTemplate, TEMPLATE_GAMES_MAX, TEMPLATE_WAGERING_X_MAX, TemplateKind};
use engine::{Amount, BonusCode, Command, Currency, GameCode, Outcome, PlayerId, Title};
use readmodel::bonuses::{self, TemplateView};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A game's contribution to wagering.
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Contribution {
    /// The game's code.
    pub game: String,
    /// Percent of its stakes that counts (0 to 100).
    pub pct: u8,
}

/// A template as the API takes it: the fields of its `kind`, then the
/// rules every kind has.
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateBody {
    /// Display name (1–128 bytes).
    pub name: String,
    /// `deposit_match`, `no_deposit`, `cashback` or `free_spins`.
    pub kind: String,
    /// The currency of its amounts and of the bonuses it grants.
    pub currency: String,
    /// Deposit match: percent of the deposit (1–1000); cashback: percent
    /// of net losses (1–100).
    pub percent: Option<u16>,
    /// Deposit match: the most it grants ("100.00").
    pub cap: Option<String>,
    /// Deposit match: the smallest deposit it matches (default 0).
    pub min_deposit: Option<String>,
    /// No-deposit: what it grants.
    pub amount: Option<String>,
    /// Cashback: the period net losses are counted over, days.
    pub period_days: Option<u16>,
    /// Free spins: how many rounds.
    pub count: Option<u32>,
    /// Free spins: each round's stake.
    pub bet_value: Option<String>,
    /// Free spins: the games they are played on.
    pub games: Option<Vec<String>>,
    /// Wagering requirement as a multiple of the bonus (0–200); the
    /// player's jurisdiction may cap it lower at the grant.
    pub wagering_x: u32,
    /// Per-game contributions to wagering.
    #[serde(default)]
    pub contributions: Vec<Contribution>,
    /// Contribution of games not listed, percent (default 100).
    pub default_contribution_pct: Option<u8>,
    /// The largest stake while the bonus is active.
    pub max_bet: Option<String>,
    /// Days from the grant until an unconverted bonus expires.
    pub expiry_days: u32,
    /// Most cash a conversion yields (default: the whole bonus).
    pub conversion_cap: Option<String>,
    /// Granted without an operator: a deposit match on each confirmed
    /// deposit, a no-deposit bonus at registration.
    #[serde(default)]
    pub automatic: bool,
    /// The code a player claims it with.
    pub claim_code: Option<String>,
    /// Whether it spans products (refused where the jurisdiction bans
    /// mixed-product promotions).
    #[serde(default)]
    pub mixed_product: bool,
    /// Whether it may be granted (default true).
    pub enabled: Option<bool>,
}

/// A template as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct TemplateReply {
    /// Its code.
    pub code: String,
    /// Display name.
    pub name: String,
    /// Its kind.
    pub kind: String,
    /// Its currency.
    pub currency: String,
    /// Deposit match and cashback: the percent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub percent: Option<u16>,
    /// Deposit match: the cap.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cap: Option<String>,
    /// Deposit match: the smallest deposit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_deposit: Option<String>,
    /// No-deposit: the amount.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount: Option<String>,
    /// Cashback: the period, days.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub period_days: Option<u16>,
    /// Free spins: the rounds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
    /// Free spins: each round's stake.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bet_value: Option<String>,
    /// Free spins: the games.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub games: Option<Vec<String>>,
    /// Wagering multiple.
    pub wagering_x: u32,
    /// Per-game contributions.
    pub contributions: Vec<Contribution>,
    /// Contribution of other games, percent.
    pub default_contribution_pct: u8,
    /// Max bet while active.
    pub max_bet: Option<String>,
    /// Days until expiry.
    pub expiry_days: u32,
    /// Conversion cap (none: the whole bonus).
    pub conversion_cap: Option<String>,
    /// Granted by a trigger.
    pub automatic: bool,
    /// Claim code.
    pub claim_code: Option<String>,
    /// Spans products.
    pub mixed_product: bool,
    /// May be granted.
    pub enabled: bool,
    /// The sequence number that set it last.
    pub seq: u64,
    /// When, ms since the epoch.
    pub set_ms: u64,
}

/// Every template.
#[derive(Serialize, ToSchema)]
pub struct TemplatesReply {
    /// By code.
    pub templates: Vec<TemplateReply>,
    /// The sequence number this answer is current to.
    pub as_of_seq: u64,
}

fn invalid(field: &str, message: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request("invalid_template", format!("{field}: {message}"))
}

/// A template from its code and body, every field checked.
pub fn to_template(code: &str, body: &TemplateBody) -> Result<BonusTemplate, ApiError> {
    let code = BonusCode::new(code).map_err(|e| invalid("code", e))?;
    let name = Title::new(&body.name).map_err(|e| invalid("name", e))?;
    let currency = wire::currency(&body.currency)?;
    let money = |text: &Option<String>, field: &str, sign| -> Result<Option<Amount>, ApiError> {
        text.as_deref()
            .map(|t| wire::amount(t, currency, sign, field))
            .transpose()
    };
    let required = |value: Option<Amount>, field: &str| value.ok_or_else(|| invalid(field, "required for this kind"));
    let kind = match body.kind.as_str() {
        "deposit_match" => TemplateKind::DepositMatch {
            percent: range(body.percent, "percent", 1, 1000)?,
            cap: required(money(&body.cap, "cap", Sign::Positive)?, "cap")?,
            min_deposit: money(&body.min_deposit, "min_deposit", Sign::NonNegative)?.unwrap_or(Amount::ZERO),
        },
        "no_deposit" => TemplateKind::NoDeposit {
            amount: required(money(&body.amount, "amount", Sign::Positive)?, "amount")?,
        },
        "cashback" => TemplateKind::Cashback {
            percent: range(body.percent, "percent", 1, 100)?,
            period_days: range(body.period_days, "period_days", 1, 366)?,
        },
        "free_spins" => TemplateKind::FreeSpins {
            count: body
                .count
                .filter(|&c| c >= 1)
                .ok_or_else(|| invalid("count", "at least 1, required for this kind"))?,
            bet_value: required(money(&body.bet_value, "bet_value", Sign::Positive)?, "bet_value")?,
            games: games(body.games.as_deref())?,
        },
        _ => return Err(invalid("kind", "deposit_match, no_deposit, cashback or free_spins")),
    };
    if body.wagering_x > TEMPLATE_WAGERING_X_MAX {
        return Err(invalid("wagering_x", format!("at most {TEMPLATE_WAGERING_X_MAX}")));
    }
    if body.expiry_days == 0 || body.expiry_days > 3660 {
        return Err(invalid("expiry_days", "1 to 3660"));
    }
    if body.contributions.len() > TEMPLATE_GAMES_MAX {
        return Err(invalid("contributions", format!("at most {TEMPLATE_GAMES_MAX}")));
    }
    let contributions = body
        .contributions
        .iter()
        .enumerate()
        .map(|(n, c)| {
            let game = GameCode::new(&c.game).map_err(|e| invalid(&format!("contributions[{n}].game"), e))?;
            match c.pct {
                0..=100 => Ok((game, c.pct)),
                _ => Err(invalid(&format!("contributions[{n}].pct"), "0 to 100")),
            }
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    let default_contribution_pct = body.default_contribution_pct.unwrap_or(100);
    if default_contribution_pct > 100 {
        return Err(invalid("default_contribution_pct", "0 to 100"));
    }
    let claim_code = body
        .claim_code
        .as_deref()
        .map(|c| BonusCode::new(c).map_err(|e| invalid("claim_code", e)))
        .transpose()?;
    Ok(BonusTemplate {
        code,
        name,
        kind,
        currency,
        wagering_x: body.wagering_x,
        contributions,
        default_contribution_pct,
        max_bet: money(&body.max_bet, "max_bet", Sign::Positive)?,
        expiry_days: body.expiry_days,
        conversion_cap: money(&body.conversion_cap, "conversion_cap", Sign::NonNegative)?,
        automatic: body.automatic,
        claim_code,
        mixed_product: body.mixed_product,
        enabled: body.enabled.unwrap_or(true),
    })
}

fn range<T: PartialOrd + Copy + std::fmt::Display>(
    value: Option<T>,
    field: &str,
    min: T,
    max: T,
) -> Result<T, ApiError> {
    value
        .filter(|v| *v >= min && *v <= max)
        .ok_or_else(|| invalid(field, format!("{min} to {max}, required for this kind")))
}

fn games(games: Option<&[String]>) -> Result<Vec<GameCode>, ApiError> {
    let games = games.unwrap_or_default();
    if games.is_empty() || games.len() > TEMPLATE_GAMES_MAX {
        return Err(invalid("games", format!("1 to {TEMPLATE_GAMES_MAX} games")));
    }
    games
        .iter()
        .enumerate()
        .map(|(n, g)| GameCode::new(g).map_err(|e| invalid(&format!("games[{n}]"), e)))
        .collect()
}

/// The API's form of a template.
pub fn reply(view: &TemplateView) -> TemplateReply {
    let t = &view.template;
    let money = |amount: Amount| wire::money(amount, t.currency);
    let mut reply = TemplateReply {
        code: t.code.to_string(),
        name: t.name.to_string(),
        kind: t.kind.name().to_owned(),
        currency: t.currency.code().to_owned(),
        percent: None,
        cap: None,
        min_deposit: None,
        amount: None,
        period_days: None,
        count: None,
        bet_value: None,
        games: None,
        wagering_x: t.wagering_x,
        contributions: t
            .contributions
            .iter()
            .map(|(game, pct)| Contribution {
                game: game.to_string(),
                pct: *pct,
            })
            .collect(),
        default_contribution_pct: t.default_contribution_pct,
        max_bet: t.max_bet.map(money),
        expiry_days: t.expiry_days,
        conversion_cap: t.conversion_cap.map(money),
        automatic: t.automatic,
        claim_code: t.claim_code.as_ref().map(ToString::to_string),
        mixed_product: t.mixed_product,
        enabled: t.enabled,
        seq: view.seq,
        set_ms: view.set_ms,
    };
    match &t.kind {
        TemplateKind::DepositMatch {
            percent,
            cap,
            min_deposit,
        } => {
            reply.percent = Some(*percent);
            reply.cap = Some(money(*cap));
            reply.min_deposit = Some(money(*min_deposit));
        }
        TemplateKind::NoDeposit { amount } => reply.amount = Some(money(*amount)),
        TemplateKind::Cashback { percent, period_days } => {
            reply.percent = Some(*percent);
            reply.period_days = Some(*period_days);
        }
        TemplateKind::FreeSpins {
            count,
            bet_value,
            games,
        } => {
            reply.count = Some(*count);
            reply.bet_value = Some(money(*bet_value));
            reply.games = Some(games.iter().map(ToString::to_string).collect());
        }
    }
    reply
}

pub(crate) fn unknown_template() -> ApiError {
    ApiError::not_found("unknown_template", "no bonus template has this code")
}

/// Every bonus template, by code (every role).
#[utoipa::path(get, path = "/operator/v1/bonus-templates", tag = "crm", security(("bearer" = [])),
    responses((status = 200, body = TemplatesReply), RoleErrors))]
pub async fn list(State(state): State<AppState>) -> Result<Response, ApiError> {
    let (found, as_of_seq) = read(&state, bonuses::list).await?;
    let templates = found.iter().map(reply).collect();
    ok(StatusCode::OK, &TemplatesReply { templates, as_of_seq })
}

/// One bonus template (every role).
#[utoipa::path(get, path = "/operator/v1/bonus-templates/{code}", tag = "crm",
    params(("code" = String, Path, description = "the template's code")), security(("bearer" = [])),
    responses((status = 200, body = TemplateReply), RoleErrors,
        (status = 404, body = ErrorBody, description = "unknown_template")))]
pub async fn show(State(state): State<AppState>, Path(code): Path<String>) -> Result<Response, ApiError> {
    let (found, _) = read(&state, move |c| bonuses::by_code(c, &code)).await?;
    found.map_or_else(|| Err(unknown_template()), |view| ok(StatusCode::OK, &reply(&view)))
}

/// Creates a bonus template, or replaces the one of this code (admins).
/// Journaled; the read model keeps it.
#[utoipa::path(put, path = "/operator/v1/bonus-templates/{code}", tag = "crm", request_body = TemplateBody,
    params(("code" = String, Path, description = "the template's code (1–64 printable ASCII)"), edge::change::IdempotencyKey),
    security(("bearer" = [])),
    responses((status = 200, body = TemplateReply), BodyErrors, RoleErrors, LedgerErrors,
        (status = 400, body = ErrorBody, description = "invalid_template (the field is named), unknown_currency, invalid_amount, too_many_decimals"),
        (status = 409, body = ErrorBody, description = "claim_code_taken: another template has this claim code; conflict (Idempotency-Key reused)")))]
pub async fn put(
    State(state): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let request: TemplateBody = decode(&body)?;
    let template = to_template(&code, &request)?;
    if let Some(claim) = template.claim_code.clone() {
        let (holder, _) = read(&state, move |c| bonuses::by_claim_code(c, claim.as_str())).await?;
        if holder.is_some_and(|h| h.template.code != template.code) {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "claim_code_taken",
                "another template has this claim code",
            ));
        }
    }
    let currency = template.currency;
    let command = Command::Bonus(bonus::Command::SetTemplate {
        template: Box::new(template),
        operator: caller.id,
    });
    match caller.submit(&state, request_id(&headers)?, command).await? {
        Outcome::Accepted => {}
        other => return Err(refusal(&other, currency)),
    }
    let (found, _) = read(&state, move |c| bonuses::by_code(c, &code)).await?;
    found.map_or_else(|| Err(unknown_template()), |view| ok(StatusCode::OK, &reply(&view)))
}

/// The currency a template's amounts are in, for errors.
pub(crate) fn currency_of(view: &TemplateView) -> Currency {
    view.template.currency
}
/// The wagering cap (a multiple) of `player`'s jurisdiction profile in
/// force at `now_ms`: `Some(None)` where it has none, `None` for an
/// unknown player.
pub(crate) fn wagering_cap_x(state: &AppState, player: PlayerId, now_ms: u64) -> Option<Option<u32>> {
    let view = state.view.read();
    let jurisdiction = view.player(player)?.jurisdiction;
    Some(view.profiles.in_force(jurisdiction, now_ms).bonus_wagering_cap_x)
}

/// The wagering requirement of `amount` at `multiple`, capped by the
/// jurisdiction's `cap_x`.
pub(crate) fn wagering(amount: Amount, multiple: u32, cap_x: Option<u32>) -> Amount {
    let multiple = cap_x.map_or(multiple, |cap| multiple.min(cap));
    amount.mul_div_floor(i64::from(multiple), 1).unwrap_or(Amount::MAX)
}

/// The answer for a player the ledger does not know.
pub(crate) fn unknown_player() -> ApiError {
    ApiError::not_found("unknown_player", "no such player")
}
