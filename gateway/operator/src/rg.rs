//! Responsible gambling's play-session rules, for the operator's front end
//! and back office: the reality-check interval and its acknowledgement
//! (UKGC RTS 13), the session time limit, the deposit-limit reviews (LCCP
//! 3.5 prompts), and one read of everything RG knows of a player (with
//! the interventions sent to them, from the read model).
//!
//! The rules themselves are the ledger's (`engine/core/src/ledger/rg/`):
//! these handlers parse, submit one command or query, and render.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use edge::body::{JsonBody, decode};
use edge::error::{ApiError, ErrorBody, ErrorDetail};
use edge::openapi::{BearerErrors, BodyErrors, LedgerErrors, RoleErrors};
use edge::reads::read;
use edge::wire::{self, RealityCheckReply};
use edge::{AppState, Caller};
use engine::rg::{LimitStatus, PromptReason, RG_DURATION_MAX_MS, RG_DURATION_MIN_MS, RgStatus};
use engine::{Command, Currency, Outcome, Query, rg};
use readmodel::analytics::InterventionView;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::shared::{ChangeReply, IdempotencyKey, change_player, ok, player, refusal};

/// A reality-check interval.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RealityCheckRequest {
    /// Minutes between reality checks, 1 to 1440, or null for the default
    /// (no checks unless the jurisdiction sets an interval).
    pub interval_minutes: Option<u64>,
}

/// A session time limit.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionLimitRequest {
    /// The longest a play session may last, in minutes (1 to 1440), or null
    /// to remove the limit.
    pub limit_minutes: Option<u64>,
}

/// A body with nothing in it (`{}`): the path says everything.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmptyRequest {}

/// Minutes from a request, as ms within the ledger's bounds.
fn minutes(value: Option<u64>, field: &str) -> Result<Option<u64>, ApiError> {
    let Some(minutes) = value else {
        return Ok(None);
    };
    let range = (RG_DURATION_MIN_MS / 60_000)..=(RG_DURATION_MAX_MS / 60_000);
    if !range.contains(&minutes) {
        return Err(ApiError::bad_request(
            "invalid_duration",
            format!("{field}: {} to {} minutes, or null", range.start(), range.end()),
        ));
    }
    Ok(Some(minutes * 60_000))
}

/// Sets the player's reality-check interval: at once, to the open session
/// too (admins, compliance, support; the front end on the player's behalf).
#[utoipa::path(put, path = "/operator/v1/players/{player}/reality-check", tag = "operator",
    request_body = RealityCheckRequest, params(("player" = u64, Path), IdempotencyKey), security(("bearer" = [])),
    responses((status = 200, body = ChangeReply), BodyErrors, RoleErrors, LedgerErrors,
        (status = 400, body = ErrorBody, description = "invalid_duration, malformed_json, invalid_request"),
        (status = 404, body = ErrorBody, description = "unknown_player"),
        (status = 409, body = ErrorBody, description = "conflict (Idempotency-Key reused)")))]
pub async fn set_reality_check(
    State(state): State<AppState>,
    caller: Caller,
    Path(player_id): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let request: RealityCheckRequest = decode(&body)?;
    let interval_ms = minutes(request.interval_minutes, "interval_minutes")?;
    change_player(&state, &caller, &headers, &player_id, Currency::EUR, |player| {
        Command::Rg(rg::Command::SetRealityCheckInterval { player, interval_ms })
    })
    .await
}

/// The front end reports that the player acknowledged the reality check it
/// showed: bets go on, the next check is an interval from now (admins,
/// support: the roles that report logins).
#[utoipa::path(post, path = "/operator/v1/players/{player}/reality-check/acknowledgement", tag = "operator",
    request_body = EmptyRequest, params(("player" = u64, Path), IdempotencyKey), security(("bearer" = [])),
    responses((status = 200, body = ChangeReply), BodyErrors, RoleErrors, LedgerErrors,
        (status = 404, body = ErrorBody, description = "unknown_player"),
        (status = 409, body = ErrorBody, description = "no_play_session: nothing to acknowledge; conflict (Idempotency-Key reused)")))]
pub async fn acknowledge_reality_check(
    State(state): State<AppState>,
    caller: Caller,
    Path(player_id): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let _: EmptyRequest = decode(&body)?;
    change_player(&state, &caller, &headers, &player_id, Currency::EUR, |player| {
        Command::Rg(rg::Command::AcknowledgeRealityCheck { player })
    })
    .await
}

/// Sets or removes the player's session time limit: a shorter one applies
/// at once, a longer one or a removal after the cooling-off (admins,
/// compliance, support).
#[utoipa::path(put, path = "/operator/v1/players/{player}/session-time-limit", tag = "operator",
    request_body = SessionLimitRequest, params(("player" = u64, Path), IdempotencyKey), security(("bearer" = [])),
    responses((status = 200, body = ChangeReply), BodyErrors, RoleErrors, LedgerErrors,
        (status = 400, body = ErrorBody, description = "invalid_duration, malformed_json, invalid_request"),
        (status = 404, body = ErrorBody, description = "unknown_player"),
        (status = 409, body = ErrorBody, description = "conflict (Idempotency-Key reused)")))]
pub async fn set_session_time_limit(
    State(state): State<AppState>,
    caller: Caller,
    Path(player_id): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let request: SessionLimitRequest = decode(&body)?;
    let limit_ms = minutes(request.limit_minutes, "limit_minutes")?;
    change_player(&state, &caller, &headers, &player_id, Currency::EUR, |player| {
        Command::Rg(rg::Command::SetSessionTimeLimit { player, limit_ms })
    })
    .await
}

/// The front end reports that the player reviewed their deposit limits
/// (answered the prompt at registration, at the first deposit, or the
/// 6-monthly review) (admins, support).
#[utoipa::path(post, path = "/operator/v1/players/{player}/limit-review", tag = "operator",
    request_body = EmptyRequest, params(("player" = u64, Path), IdempotencyKey), security(("bearer" = [])),
    responses((status = 200, body = ChangeReply), BodyErrors, RoleErrors, LedgerErrors,
        (status = 404, body = ErrorBody, description = "unknown_player"),
        (status = 409, body = ErrorBody, description = "conflict (Idempotency-Key reused)")))]
pub async fn record_limit_review(
    State(state): State<AppState>,
    caller: Caller,
    Path(player_id): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let _: EmptyRequest = decode(&body)?;
    change_player(&state, &caller, &headers, &player_id, Currency::EUR, |player| {
        Command::Rg(rg::Command::RecordLimitReview { player })
    })
    .await
}

/// A limit change waiting for its cooling-off.
#[derive(Serialize, ToSchema)]
pub struct PendingLimitReply {
    /// The new maximum (decimal), or null: the limit is being removed.
    pub amount: Option<String>,
    /// When it applies, ms since the epoch.
    pub effective_at_ms: u64,
}

/// One deposit, loss or wager limit of one wallet.
#[derive(Serialize, ToSchema)]
pub struct LimitReply {
    /// The wallet's currency.
    pub currency: &'static str,
    /// deposit, loss or wager.
    pub metric: &'static str,
    /// day, week or month.
    pub period: &'static str,
    /// The maximum in force (decimal), or null: none now.
    pub amount: Option<String>,
    /// A raise or removal waiting for the cooling-off.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending: Option<PendingLimitReply>,
}

/// A session time limit change waiting for its cooling-off.
#[derive(Serialize, ToSchema)]
pub struct PendingSessionLimitReply {
    /// The new limit in minutes, or null: the limit is being removed.
    pub limit_minutes: Option<u64>,
    /// When it applies, ms since the epoch.
    pub effective_at_ms: u64,
}

/// The play session and its rules.
#[derive(Serialize, ToSchema)]
#[schema(as = RgSessionReply)]
pub struct SessionReply {
    /// When the open play session started (login, or the first bet without
    /// one), ms since the epoch; null: none is open.
    pub started_ms: Option<u64>,
    /// Wins minus stakes since it started (decimal, base currency).
    pub net_position: String,
    /// The session time limit in force, in minutes; null: none.
    pub time_limit_minutes: Option<u64>,
    /// A longer limit or a removal waiting for the cooling-off.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_limit_pending: Option<PendingSessionLimitReply>,
    /// The reality-check interval that applies, in minutes; null: no checks.
    pub reality_check_interval_minutes: Option<u64>,
    /// Where the open session stands on its reality checks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reality_check: Option<RealityCheckReply>,
    /// Why a bet would be refused now by the session rules
    /// (`reality_check_due`, `session_time_limit_reached`), if it would.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bets_refused: Option<ErrorDetail>,
}

/// A deposit-limit prompt that is due.
#[derive(Serialize, ToSchema)]
pub struct PromptReply {
    /// registration, first_deposit or review (6 months after the last one).
    pub reason: &'static str,
    /// Since when, ms since the epoch (0: a registration from before
    /// registration times were recorded).
    pub due_since_ms: u64,
}

/// The dates the deposit-limit prompts are reckoned from, and the one due.
#[derive(Serialize, ToSchema)]
pub struct PromptsReply {
    /// Registration, ms since the epoch (null: before it was recorded).
    pub registered_ms: Option<u64>,
    /// The first confirmed deposit.
    pub first_deposit_ms: Option<u64>,
    /// The last limit review reported (or deposit limit set).
    pub last_limit_review_ms: Option<u64>,
    /// The prompt the front end must show now, with why; null: none.
    pub due: Option<PromptReply>,
}

/// Everything responsible gambling knows of a player.
#[derive(Serialize, ToSchema)]
pub struct RgReply {
    /// The player id.
    pub player: u64,
    /// The moment it describes, ms since the epoch.
    pub at_ms: u64,
    /// The player's base currency (of `net_position`).
    pub currency: &'static str,
    /// Self-excluded until, ms since the epoch; null: not self-excluded now.
    pub self_excluded_until_ms: Option<u64>,
    /// On a time-out until, ms since the epoch; null: none now.
    pub timed_out_until_ms: Option<u64>,
    /// Deposit, loss and wager limits of every wallet.
    pub limits: Vec<LimitReply>,
    /// The play session: reality checks, time limit, net position.
    pub session: SessionReply,
    /// The deposit-limit prompts.
    pub prompts: PromptsReply,
    /// The interventions compliance or the marker worker sent the player
    /// (reality check, limit prompt, time-out suggestion), newest first,
    /// the latest [`INTERVENTIONS_MAX`].
    pub interventions: Vec<RgInterventionReply>,
}

/// Interventions at most in the RG read.
pub const INTERVENTIONS_MAX: u32 = 50;

/// An intervention sent to the player, as the RG read shows it (the
/// analytics module's `…/interventions` has the rest).
#[derive(Serialize, ToSchema)]
pub struct RgInterventionReply {
    /// Its id (the journal record that sent it).
    pub id: u64,
    /// reality_check, limit_prompt or time_out_suggestion.
    pub kind: String,
    /// When sent, ms since the epoch.
    pub time_ms: u64,
    /// Whether the player answered.
    pub answered: bool,
    /// acknowledged, accepted or declined; null while pending.
    pub answer: Option<String>,
    /// When answered, ms since the epoch.
    pub answered_ms: Option<u64>,
}

impl RgInterventionReply {
    fn of(found: &InterventionView) -> RgInterventionReply {
        RgInterventionReply {
            id: found.id,
            kind: found.kind.clone(),
            time_ms: found.time_ms,
            answered: found.answer.is_some(),
            answer: found.answer.as_ref().map(|a| a.0.clone()),
            answered_ms: found.answer.as_ref().map(|a| a.1),
        }
    }
}

fn limit_reply(limit: &LimitStatus) -> LimitReply {
    let show = |amount: engine::Amount| wire::money(amount, limit.currency);
    LimitReply {
        currency: limit.currency.code(),
        metric: wire::metric_name(limit.kind.metric),
        period: wire::period_name(limit.kind.period),
        amount: limit.amount.map(show),
        pending: limit.pending.map(|(amount, effective_at_ms)| PendingLimitReply {
            amount: amount.map(show),
            effective_at_ms,
        }),
    }
}

/// The reply form of the ledger's RG status, with the player's
/// interventions (newest first).
pub fn rg_reply(status: &RgStatus, interventions: &[InterventionView]) -> RgReply {
    let future = |until_ms: u64| (until_ms > status.at_ms).then_some(until_ms);
    let to_minutes = |ms: u64| ms / 60_000;
    let bets_refused = status.bets_refused.map(|rejection| {
        let error = wire::rejection(&rejection, status.currency);
        ErrorDetail {
            code: error.code,
            message: error.message,
        }
    });
    RgReply {
        player: status.player.0,
        at_ms: status.at_ms,
        currency: status.currency.code(),
        self_excluded_until_ms: future(status.self_excluded_until_ms),
        timed_out_until_ms: future(status.timed_out_until_ms),
        limits: status.limits.iter().map(limit_reply).collect(),
        session: SessionReply {
            started_ms: status.session_started_ms,
            net_position: wire::money(status.net_position, status.currency),
            time_limit_minutes: status.session_limit_ms.map(to_minutes),
            time_limit_pending: status.session_limit_pending.map(|(limit_ms, effective_at_ms)| {
                PendingSessionLimitReply {
                    limit_minutes: limit_ms.map(to_minutes),
                    effective_at_ms,
                }
            }),
            reality_check_interval_minutes: status.reality_check_interval_ms.map(to_minutes),
            reality_check: status.reality_check.as_ref().map(RealityCheckReply::of),
            bets_refused,
        },
        prompts: PromptsReply {
            registered_ms: status.registered_ms,
            first_deposit_ms: status.first_deposit_ms,
            last_limit_review_ms: status.limit_review_ms,
            due: status.limit_prompt.map(|prompt| PromptReply {
                reason: match prompt.reason {
                    PromptReason::Registration => "registration",
                    PromptReason::FirstDeposit => "first_deposit",
                    PromptReason::Review => "review",
                },
                due_since_ms: prompt.due_since_ms,
            }),
        },
        interventions: interventions.iter().map(RgInterventionReply::of).collect(),
    }
}

/// Everything responsible gambling knows of a player now: limits (with
/// changes waiting for their cooling-off), exclusions, the play session's
/// reality check and time limit, and the deposit-limit prompt due with why.
/// Read through the ring, so it agrees with the next bet; and the
/// interventions sent to the player, with whether each was answered, from
/// the read model the analytics module projects into (every role).
#[utoipa::path(get, path = "/operator/v1/players/{player}/rg", tag = "operator",
    params(("player" = u64, Path)), security(("bearer" = [])),
    responses((status = 200, body = RgReply), BearerErrors, LedgerErrors,
        (status = 404, body = ErrorBody, description = "unknown_player")))]
pub async fn get_rg(
    State(state): State<AppState>,
    caller: Caller,
    Path(player_id): Path<String>,
) -> Result<Response, ApiError> {
    let player = player(&state, &player_id)?;
    let query = Command::Query(Query::Rg {
        player,
        at_ms: state.now_ms(),
    });
    let status = match caller.submit(&state, wire::ext_id("rg-read", "id")?, query).await? {
        Outcome::Rg(status) => status,
        other => return Err(refusal(&other, Currency::EUR)),
    };
    let (interventions, _) = read(&state, move |c| {
        readmodel::analytics::interventions(c, player, false, INTERVENTIONS_MAX)
    })
    .await?;
    ok(StatusCode::OK, &rg_reply(&status, &interventions))
}
