//! The AML rules' settings: compliance reads them and changes one at a
//! time (who and when are kept with it). The projection reads them as it
//! evaluates each record, so a change applies to records projected after
//! it; alerts already raised stay. A change is a journaled ledger command
//! (`engine::risk::Command::SetRule`) that the read model applies, so a
//! rebuild keeps it; a retry with the same `Idempotency-Key` is answered
//! as the first time.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use edge::body::{JsonBody, decode};
use edge::change::{IdempotencyKey, refusal, request_id};
use edge::error::{ApiError, ErrorBody};
use edge::openapi::{BodyErrors, LedgerErrors, RoleErrors};
use edge::reads::read;
use edge::wire::{self, Sign};
use edge::{AppState, Caller};
use readmodel::risk::{self, Rule, RuleSettings, WINDOW_MS_MAX};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::shared::money;

/// Most currencies a rule holds an amount for.
const AMOUNTS_MAX: usize = 32;
/// Largest count a rule may need.
const COUNT_MAX: u32 = 10_000;

/// An amount in one currency.
#[derive(Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CurrencyAmount {
    /// Currency code.
    pub currency: String,
    /// Decimal amount, positive.
    pub amount: String,
}

/// A rule's settings as the API shows them.
#[derive(Serialize, ToSchema)]
pub struct RuleReply {
    /// The rule: deposit_velocity, little_play, structuring, large_win,
    /// payment_methods, cumulative_deposits, bonus_abuse.
    pub rule: &'static str,
    /// What it looks for, with these settings.
    pub description: &'static str,
    /// Off: it raises nothing.
    pub enabled: bool,
    /// Its window (0 for large_win and third_party_method: each alone).
    pub window_minutes: u64,
    /// The count it needs, where it counts.
    pub count: u32,
    /// Its percentage, where it has one.
    pub percent: u32,
    /// Its amounts per currency (a currency without one is not checked by
    /// amount; exchange rates come later).
    pub amounts: Vec<CurrencyAmount>,
    /// The operator who set it last (none: the shipped settings).
    pub set_by: Option<u32>,
    /// When, ms since the epoch.
    pub set_ms: Option<u64>,
}

/// Every rule.
#[derive(Serialize, ToSchema)]
pub struct RulesReply {
    /// The rules.
    pub rules: Vec<RuleReply>,
    /// The sequence number this answer is current to.
    pub as_of_seq: u64,
}

/// New settings for a rule (all fields).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleRequest {
    /// Off: it raises nothing.
    pub enabled: bool,
    /// Its window, 1 minute to 366 days (large_win and third_party_method:
    /// 0, no window).
    pub window_minutes: u64,
    /// The count it needs, 1 to 10000 (rules that do not count ignore it).
    pub count: u32,
    /// Its percentage, 0 to 100 (rules without one ignore it).
    pub percent: u32,
    /// Its amounts, one per currency, at most 32.
    pub amounts: Vec<CurrencyAmount>,
}

fn description(rule: Rule) -> &'static str {
    match rule {
        Rule::DepositVelocity => {
            "at least `count` deposits, or deposits reaching the amount, within the window (checked at each deposit)"
        }
        Rule::LittlePlay => {
            "a withdrawal request after deposits within the window of which less than `percent` % was wagered"
        }
        Rule::Structuring => {
            "at least `count` deposits within the window each within `percent` % below the amount (the AML threshold)"
        }
        Rule::LargeWin => "a win of at least the amount (the AML threshold applies to winnings too)",
        Rule::PaymentMethods => {
            "at least `count` different payment methods within the window: the player's recorded methods, and the providers' references of payments that named none"
        }
        Rule::CumulativeDeposits => {
            "deposits within the window, in every currency converted at the rates in force, reaching the amount (linked operations)"
        }
        Rule::ThirdPartyMethod => {
            "a payment method held in another name than the player's profile (checked when the method is recorded)"
        }
        Rule::BonusAbuse => {
            "a withdrawal request after a deposit and a bonus within the window, less than `percent` % of them wagered"
        }
    }
}

fn reply(settings: &RuleSettings) -> RuleReply {
    RuleReply {
        rule: settings.rule.name(),
        description: description(settings.rule),
        enabled: settings.enabled,
        window_minutes: settings.window_ms / 60_000,
        count: settings.count_min,
        percent: settings.percent,
        amounts: settings
            .amounts
            .iter()
            .map(|(currency, amount)| CurrencyAmount {
                currency: currency.code().to_owned(),
                amount: money(*amount, currency.code()),
            })
            .collect(),
        set_by: settings.set_by.map(|id| id as u32),
        set_ms: settings.set_ms,
    }
}

/// The AML rules' settings (admins, compliance, read-only).
#[utoipa::path(get, path = "/operator/v1/risk/rules", tag = "risk", security(("bearer" = [])),
    responses((status = 200, body = RulesReply), RoleErrors, LedgerErrors))]
pub async fn list(State(state): State<AppState>) -> Result<Response, ApiError> {
    let (rules, as_of_seq) = read(&state, risk::rules).await?;
    let reply = RulesReply {
        rules: rules.iter().map(reply).collect(),
        as_of_seq,
    };
    edge::change::ok(StatusCode::OK, &reply)
}

/// Replaces a rule's settings (admins, compliance): records projected
/// from now on are checked with them.
#[utoipa::path(put, path = "/operator/v1/risk/rules/{rule}", tag = "risk", request_body = RuleRequest,
    params(("rule" = String, Path, description = "deposit_velocity, little_play, structuring, large_win, payment_methods, cumulative_deposits, bonus_abuse"), IdempotencyKey),
    security(("bearer" = [])),
    responses((status = 200, body = RuleReply), BodyErrors, RoleErrors, LedgerErrors,
        (status = 404, body = ErrorBody, description = "unknown_rule")))]
pub async fn set(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let rule = Rule::from_name(&name).ok_or_else(|| ApiError::not_found("unknown_rule", "no such rule"))?;
    let request: RuleRequest = decode(&body)?;
    let settings = settings(rule, &request, u64::from(caller.id.0), state.now_ms())?;
    let command = engine::risk::Command::SetRule {
        settings: Box::new(engine::risk::RuleSettings {
            rule: engine::risk::RiskText::new(rule.name()),
            enabled: settings.enabled,
            window_ms: settings.window_ms,
            count_min: settings.count_min,
            percent: settings.percent,
            amounts: settings
                .amounts
                .iter()
                .map(|(currency, amount)| (*currency, engine::Amount::from_minor(*amount)))
                .collect(),
        }),
        operator: caller.id,
    };
    let outcome = caller
        .submit(&state, request_id(&headers)?, engine::Command::Risk(command))
        .await?;
    if !outcome.is_ok() {
        return Err(refusal(&outcome, engine::Currency::EUR));
    }
    tracing::info!(rule = rule.name(), operator = caller.id.0, "risk rule changed");
    // As the journal holds it (the ledger's time).
    let (stored, _) = read(&state, move |c| risk::rule(c, rule)).await?;
    edge::change::ok(StatusCode::OK, &reply(&stored))
}

fn settings(rule: Rule, request: &RuleRequest, operator: u64, now_ms: u64) -> Result<RuleSettings, ApiError> {
    let bad = |message: String| ApiError::bad_request("invalid_request", message);
    let window_ms = request
        .window_minutes
        .checked_mul(60_000)
        .filter(|ms| *ms <= WINDOW_MS_MAX)
        .ok_or_else(|| bad(format!("window_minutes: at most {}", WINDOW_MS_MAX / 60_000)))?;
    // Each win, each method, is judged alone.
    let windowless = matches!(rule, Rule::LargeWin | Rule::ThirdPartyMethod);
    if !windowless && window_ms == 0 {
        return Err(bad("window_minutes: at least 1".into()));
    }
    if windowless && window_ms != 0 {
        return Err(bad(format!("window_minutes: {} has no window (0)", rule.name())));
    }
    if !(1..=COUNT_MAX).contains(&request.count) {
        return Err(bad(format!("count: 1 to {COUNT_MAX}")));
    }
    if request.percent > 100 {
        return Err(bad("percent: 0 to 100".into()));
    }
    if request.amounts.len() > AMOUNTS_MAX {
        return Err(bad(format!("amounts: at most {AMOUNTS_MAX}")));
    }
    let mut amounts = Vec::new();
    for entry in &request.amounts {
        let currency = wire::currency(&entry.currency)?;
        let amount = wire::amount(&entry.amount, currency, Sign::Positive, "amounts.amount")?;
        if amounts.iter().any(|(c, _)| *c == currency) {
            return Err(bad(format!("amounts: {} twice", currency.code())));
        }
        amounts.push((currency, amount.minor()));
    }
    Ok(RuleSettings {
        rule,
        enabled: request.enabled,
        window_ms,
        count_min: request.count,
        percent: request.percent,
        amounts,
        set_by: Some(operator),
        set_ms: Some(now_ms),
    })
}
