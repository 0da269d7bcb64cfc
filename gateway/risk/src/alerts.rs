//! Alerts and scores: the alerts the rules raised, each with the journal
//! records it rests on, filtered (the queue is those in no case); one
//! alert; and a player's fraud score with its reasons.

use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use edge::AppState;
use edge::error::{ApiError, ErrorBody};
use edge::openapi::{LedgerErrors, RoleErrors};
use edge::reads::read;
use engine::PlayerId;
use readmodel::risk::{self, AlertFilter, AlertView};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::shared::{money, path_id, print_rate, query};

/// Most alerts in one page.
const PAGE_MAX: usize = 1_000;

/// One journal record an alert rests on.
#[derive(Serialize, ToSchema)]
pub struct EvidenceReply {
    /// Its sequence number in the journal.
    pub seq: u64,
    /// What it was: deposit, withdrawal_request, win, bonus_grant, or a
    /// payment's kind for a payment reference.
    pub kind: String,
    /// Its amount (decimal, in `currency`).
    pub amount: String,
    /// The currency of `amount`: the alert's, unless the rule summed
    /// records in several currencies.
    pub currency: String,
    /// The FX rate it was converted into the alert's currency at (the
    /// rate in force at `time_ms`, a decimal), if it was converted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate: Option<String>,
    /// Its amount in the alert's currency (decimal); null when no rate was
    /// in force: then it is reported here and not counted.
    pub converted_amount: Option<String>,
    /// When, ms since the epoch.
    pub time_ms: u64,
}

/// An alert.
#[derive(Serialize, ToSchema)]
pub struct AlertReply {
    /// Its id.
    pub id: u64,
    /// The rule that raised it.
    pub rule: String,
    /// The player.
    pub player: u64,
    /// The currency it was measured in.
    pub currency: String,
    /// The amount it is about (decimal).
    pub amount: String,
    /// The journal record that raised it.
    pub seq: u64,
    /// When, ms since the epoch.
    pub time_ms: u64,
    /// What the rule saw.
    pub summary: String,
    /// The case it is in (none: in the queue).
    pub case: Option<u64>,
    /// The records it rests on, oldest first.
    pub evidence: Vec<EvidenceReply>,
}

pub(crate) fn alert_reply(alert: &AlertView) -> AlertReply {
    AlertReply {
        id: alert.id,
        rule: alert.rule.clone(),
        player: alert.player.0,
        currency: alert.currency.clone(),
        amount: money(alert.amount_minor, &alert.currency),
        seq: alert.seq,
        time_ms: alert.time_ms,
        summary: alert.summary.clone(),
        case: alert.case_id,
        evidence: alert
            .evidence
            .iter()
            .map(|e| EvidenceReply {
                seq: e.seq,
                kind: e.kind.clone(),
                amount: money(e.amount_minor, &e.currency),
                currency: e.currency.clone(),
                rate: e.rate_scaled.map(print_rate),
                converted_amount: e.converted_minor.map(|m| money(m, &alert.currency)),
                time_ms: e.time_ms,
            })
            .collect(),
    }
}

/// Which alerts.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AlertQuery {
    /// Only this rule's.
    pub rule: Option<String>,
    /// Only this player's.
    pub player: Option<u64>,
    /// `queued` (in no case: the queue) or `in_case`.
    pub state: Option<String>,
    /// Only alerts after this id (the last one of the previous page).
    pub after: Option<u64>,
    /// Most returned, 1 to 1000 (default 100), oldest first.
    pub limit: Option<usize>,
}

/// A page of alerts.
#[derive(Serialize, ToSchema)]
pub struct AlertsReply {
    /// Oldest first.
    pub alerts: Vec<AlertReply>,
    /// The sequence number this answer is current to.
    pub as_of_seq: u64,
}

/// Alerts, filtered, oldest first (admins, compliance, read-only).
#[utoipa::path(get, path = "/operator/v1/risk/alerts", tag = "risk", params(AlertQuery), security(("bearer" = [])),
    responses((status = 200, body = AlertsReply), RoleErrors, LedgerErrors,
        (status = 400, body = ErrorBody, description = "invalid_request (a bad query parameter, an unknown rule or state, limit outside 1–1000)")))]
pub async fn list(State(state): State<AppState>, uri: Uri) -> Result<Response, ApiError> {
    let query: AlertQuery = query(&uri, "rule, player, state, after and limit")?;
    if let Some(rule) = &query.rule
        && risk::Rule::from_name(rule).is_none()
    {
        return Err(ApiError::bad_request("invalid_request", "rule: not a rule's name"));
    }
    let queued = match query.state.as_deref() {
        None => None,
        Some("queued") => Some(true),
        Some("in_case") => Some(false),
        Some(_) => return Err(ApiError::bad_request("invalid_request", "state: queued or in_case")),
    };
    let limit = edge::wire::page_limit(query.limit, 100, PAGE_MAX)?;
    let filter = AlertFilter {
        rule: query.rule,
        player: query.player.map(PlayerId),
        queued,
        after_id: query.after.unwrap_or(0),
        limit: limit as u32,
    };
    let (found, as_of_seq) = read(&state, move |c| risk::alerts(c, &filter)).await?;
    let reply = AlertsReply {
        alerts: found.iter().map(alert_reply).collect(),
        as_of_seq,
    };
    edge::change::ok(StatusCode::OK, &reply)
}

/// One alert with its evidence (admins, compliance, read-only).
#[utoipa::path(get, path = "/operator/v1/risk/alerts/{alert}", tag = "risk",
    params(("alert" = u64, Path)), security(("bearer" = [])),
    responses((status = 200, body = AlertReply), RoleErrors, LedgerErrors,
        (status = 404, body = ErrorBody, description = "unknown_alert")))]
pub async fn show(State(state): State<AppState>, Path(alert): Path<String>) -> Result<Response, ApiError> {
    let id = path_id(&alert, "unknown_alert", "alert")?;
    let (found, _) = read(&state, move |c| risk::alert(c, id)).await?;
    let found = found.ok_or_else(|| ApiError::not_found("unknown_alert", "no such alert"))?;
    edge::change::ok(StatusCode::OK, &alert_reply(&found))
}

/// One reason in a fraud score.
#[derive(Serialize, ToSchema)]
pub struct ReasonReply {
    /// shared_device, shared_ip, chargebacks, bonus_abuse, aml_alerts.
    pub signal: &'static str,
    /// The points it adds.
    pub points: u32,
    /// What was found.
    pub detail: String,
}

/// A player's fraud score.
#[derive(Serialize, ToSchema)]
pub struct ScoreReply {
    /// The player.
    pub player: u64,
    /// 0 (nothing found) to 100.
    pub score: u32,
    /// Why, largest first.
    pub reasons: Vec<ReasonReply>,
    /// The sequence number this answer is current to.
    pub as_of_seq: u64,
}

/// A player's fraud score with its reasons (admins, compliance,
/// read-only): devices and IP addresses shared with other players (PAM's
/// login flags; 25 points a device up to 50, 10 an address up to 20),
/// chargebacks (20 each, up to 40), bonus-abuse alerts (25 each, up to
/// 50) and other AML alerts (5 each, up to 20); at most 100.
#[utoipa::path(get, path = "/operator/v1/risk/players/{player}/score", tag = "risk",
    params(("player" = u64, Path)), security(("bearer" = [])),
    responses((status = 200, body = ScoreReply), RoleErrors, LedgerErrors,
        (status = 404, body = ErrorBody, description = "unknown_player")))]
pub async fn score(State(state): State<AppState>, Path(player): Path<String>) -> Result<Response, ApiError> {
    let player = edge::change::player(&state, &player)?;
    let (found, as_of_seq) = read(&state, move |c| risk::score(c, player)).await?;
    let reply = score_reply(player, found, as_of_seq);
    edge::change::ok(StatusCode::OK, &reply)
}

pub(crate) fn score_reply(player: PlayerId, score: risk::Score, as_of_seq: u64) -> ScoreReply {
    ScoreReply {
        player: player.0,
        score: score.score,
        reasons: score
            .reasons
            .into_iter()
            .map(|r| ReasonReply {
                signal: r.signal,
                points: r.points,
                detail: r.detail,
            })
            .collect(),
        as_of_seq,
    }
}
