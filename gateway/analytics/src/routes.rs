//! The operator API: a player's markers (measured now) with their alerts,
//! the alert queue, a scan on demand, closing an alert; interventions
//! (sent by compliance, polled and answered by the front end); churn
//! scores with their reasons and a retraining on demand.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use edge::body::{JsonBody, decode};
use edge::change::{IdempotencyKey, refusal, request_id};
use edge::error::{ApiError, ErrorBody};
use edge::openapi::{BodyErrors, LedgerErrors, RoleErrors};
use edge::reads::read;
use edge::{AppState, Caller};
use engine::analytics::{Command as Work, InterventionAnswer, InterventionKind, MESSAGE_MAX};
use engine::risk::RiskText;
use engine::{Command, Currency, Outcome, PlayerId};
use readmodel::analytics::{self as view, AnswerRefusal, InterventionView, MarkerAlertFilter, MarkerAlertView};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::churn::{self, Reason};
use crate::markers::{self, Assessment};
use crate::worker::{self, churn_state};

/// Most alerts or interventions in one page.
const PAGE_MAX: usize = 1_000;

fn query<Q: DeserializeOwned>(uri: &Uri, accepted: &str) -> Result<Q, ApiError> {
    axum::extract::Query::<Q>::try_from_uri(uri)
        .map(|query| query.0)
        .map_err(|_| ApiError::bad_request("invalid_request", format!("query parameters are {accepted}")))
}

fn path_id(text: &str, code: &'static str, what: &str) -> Result<u64, ApiError> {
    text.parse::<u64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| ApiError::not_found(code, format!("no such {what}")))
}

fn text(value: &str, field: &str) -> Result<String, ApiError> {
    if RiskText::new(value).check(MESSAGE_MAX) {
        Ok(value.to_owned())
    } else {
        Err(ApiError::bad_request(
            "invalid_request",
            format!("{field}: 1 to {MESSAGE_MAX} bytes of text, not blank, no control characters"),
        ))
    }
}

/// One record a marker rests on.
#[derive(Serialize, ToSchema)]
#[schema(as = MarkerEvidenceReply)]
pub struct EvidenceReply {
    /// Its journal record (none for a payment's state change).
    pub seq: Option<u64>,
    /// When, ms since the epoch.
    pub time_ms: u64,
    /// Its amount in minor units of the player's currency.
    pub amount_minor: i64,
}

/// A marker found.
#[derive(Serialize, ToSchema)]
pub struct MarkerReply {
    /// loss_chasing, rising_deposits, night_play, limit_increases,
    /// failed_deposits, cancelled_withdrawals.
    pub marker: &'static str,
    /// The points it adds.
    pub points: u32,
    /// What was seen.
    pub detail: String,
    /// The records it rests on, oldest first (at most 20).
    pub evidence: Vec<EvidenceReply>,
}

fn markers_reply(found: &Assessment) -> Vec<MarkerReply> {
    found
        .markers
        .iter()
        .map(|m| MarkerReply {
            marker: m.kind.name(),
            points: m.points,
            detail: m.detail.clone(),
            evidence: m
                .evidence
                .iter()
                .map(|e| EvidenceReply {
                    seq: e.seq,
                    time_ms: e.time_ms,
                    amount_minor: e.amount_minor,
                })
                .collect(),
        })
        .collect()
}

/// A marker alert.
#[derive(Serialize, ToSchema)]
#[schema(as = MarkerAlertReply)]
pub struct AlertReply {
    /// Its id (the journal record that raised it).
    pub id: u64,
    /// The player.
    pub player: u64,
    /// Its score, 1 to 100.
    pub score: u32,
    /// The markers and their points.
    pub markers: Vec<MarkerPointsReply>,
    /// The evidence in words.
    pub summary: String,
    /// The journal position measured.
    pub as_of_seq: u64,
    /// When raised, ms since the epoch.
    pub time_ms: u64,
    /// open or closed.
    pub state: String,
    /// Who closed it (an operator id).
    pub closed_by: Option<u64>,
    /// What they found.
    pub finding: Option<String>,
}

/// A marker's points in an alert.
#[derive(Serialize, ToSchema)]
pub struct MarkerPointsReply {
    /// Its name.
    pub marker: String,
    /// Its points.
    pub points: u32,
}

fn alert_reply(alert: &MarkerAlertView) -> AlertReply {
    AlertReply {
        id: alert.id,
        player: alert.player.0,
        score: alert.score,
        markers: alert
            .markers
            .iter()
            .map(|(marker, points)| MarkerPointsReply {
                marker: marker.clone(),
                points: *points,
            })
            .collect(),
        summary: alert.summary.clone(),
        as_of_seq: alert.as_of_seq,
        time_ms: alert.time_ms,
        state: alert.state.clone(),
        closed_by: alert.closed.as_ref().map(|c| c.0),
        finding: alert.closed.as_ref().map(|c| c.2.clone()),
    }
}

/// A player's markers now, with their alerts.
#[derive(Serialize, ToSchema)]
pub struct PlayerMarkersReply {
    /// The player.
    pub player: u64,
    /// 0 (nothing found) to 100.
    pub score: u32,
    /// The markers found over the last 28 days, largest first.
    pub markers: Vec<MarkerReply>,
    /// Whether an open alert scores 40 or more (CRM then markets nothing
    /// to the player).
    pub flagged: bool,
    /// The player's alerts, oldest first.
    pub alerts: Vec<AlertReply>,
    /// The sequence number this answer is current to.
    pub as_of_seq: u64,
}

/// A player's problem-gambling markers measured now over the last 28 days
/// (night play in UTC), each with its evidence, the score, and the
/// player's alerts (admins, compliance).
#[utoipa::path(get, path = "/operator/v1/players/{player}/markers", tag = "analytics",
    params(("player" = u64, Path)), security(("bearer" = [])),
    responses((status = 200, body = PlayerMarkersReply), RoleErrors, LedgerErrors,
        (status = 404, body = ErrorBody, description = "unknown_player")))]
pub async fn player_markers(State(state): State<AppState>, Path(player): Path<String>) -> Result<Response, ApiError> {
    let player = edge::change::player(&state, &player)?;
    let now_ms = state.now_ms();
    let from_ms = now_ms.saturating_sub(markers::WINDOW_MS);
    let ((found, flagged, alerts), as_of_seq) = read(&state, move |c| {
        let found = markers::assess(&view::facts(c, player, from_ms)?, now_ms);
        let filter = MarkerAlertFilter {
            player: Some(player),
            limit: PAGE_MAX as u32,
            ..Default::default()
        };
        Ok((
            found,
            view::problem_gambling_flagged(c, player)?,
            view::marker_alerts(c, &filter)?,
        ))
    })
    .await?;
    let reply = PlayerMarkersReply {
        player: player.0,
        score: found.score,
        markers: markers_reply(&found),
        flagged,
        alerts: alerts.iter().map(alert_reply).collect(),
        as_of_seq,
    };
    edge::change::ok(StatusCode::OK, &reply)
}

/// Which marker alerts.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AlertsQuery {
    /// Only alerts scoring at least this (0 to 100, default 0).
    pub min_score: Option<u32>,
    /// `open` (default) or `all`.
    pub state: Option<String>,
    /// Only this player's.
    pub player: Option<u64>,
    /// Only alerts after this id (the last one of the previous page).
    pub after: Option<u64>,
    /// Most returned, 1 to 1000 (default 100), oldest first.
    pub limit: Option<usize>,
}

/// A page of marker alerts.
#[derive(Serialize, ToSchema)]
pub struct MarkerAlertsReply {
    /// Oldest first.
    pub alerts: Vec<AlertReply>,
    /// The sequence number this answer is current to.
    pub as_of_seq: u64,
}

/// Marker alerts for compliance, filtered, oldest first (admins, compliance).
#[utoipa::path(get, path = "/operator/v1/analytics/markers", tag = "analytics", params(AlertsQuery),
    security(("bearer" = [])),
    responses((status = 200, body = MarkerAlertsReply), RoleErrors, LedgerErrors,
        (status = 400, body = ErrorBody, description = "invalid_request (a bad parameter, min_score above 100, a state not open or all, limit outside 1–1000)")))]
pub async fn alerts(State(state): State<AppState>, uri: Uri) -> Result<Response, ApiError> {
    let q: AlertsQuery = query(&uri, "min_score, state, player, after and limit")?;
    let min_score = q.min_score.unwrap_or(0);
    if min_score > 100 {
        return Err(ApiError::bad_request("invalid_request", "min_score: 0 to 100"));
    }
    let open_only = match q.state.as_deref() {
        None | Some("open") => true,
        Some("all") => false,
        Some(_) => return Err(ApiError::bad_request("invalid_request", "state: open or all")),
    };
    let limit = edge::wire::page_limit(q.limit, 100, PAGE_MAX)?;
    let filter = MarkerAlertFilter {
        player: q.player.map(PlayerId),
        min_score,
        open_only,
        after_id: q.after.unwrap_or(0),
        limit: limit as u32,
    };
    let (found, as_of_seq) = read(&state, move |c| view::marker_alerts(c, &filter)).await?;
    let reply = MarkerAlertsReply {
        alerts: found.iter().map(alert_reply).collect(),
        as_of_seq,
    };
    edge::change::ok(StatusCode::OK, &reply)
}

/// What a scan did.
#[derive(Serialize, ToSchema)]
pub struct ScanReply {
    /// Players assessed (those who bet, won or deposited in 28 days).
    pub players: usize,
    /// Alerts raised (ids).
    pub alerts: Vec<u64>,
    /// Interventions suggested (ids).
    pub interventions: Vec<u64>,
}

/// Runs the marker scan now, as the worker does every 15 minutes: alerts
/// for players scoring 30 or more without an open alert, an intervention
/// where the score reaches 50 (admins, compliance).
#[utoipa::path(post, path = "/operator/v1/analytics/markers/scan", tag = "analytics", security(("bearer" = [])),
    responses((status = 200, body = ScanReply), RoleErrors, LedgerErrors))]
pub async fn scan(State(state): State<AppState>) -> Result<Response, ApiError> {
    let done = worker::scan(&state).await.map_err(worker::WorkerError::into_api)?;
    let reply = ScanReply {
        players: done.players,
        alerts: done.alerts,
        interventions: done.interventions,
    };
    edge::change::ok(StatusCode::OK, &reply)
}

/// Closing an alert.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CloseRequest {
    /// What was found (1 to 1000 bytes).
    pub finding: String,
}

/// Closes a marker alert with a finding (admins, compliance); journaled.
#[utoipa::path(post, path = "/operator/v1/analytics/markers/{alert}/close", tag = "analytics", request_body = CloseRequest,
    params(("alert" = u64, Path), IdempotencyKey), security(("bearer" = [])),
    responses((status = 200, body = AlertReply), BodyErrors, RoleErrors, LedgerErrors,
        (status = 404, body = ErrorBody, description = "unknown_alert"),
        (status = 409, body = ErrorBody, description = "alert_closed")))]
pub async fn close(
    State(state): State<AppState>,
    caller: Caller,
    Path(alert): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let id = path_id(&alert, "unknown_alert", "alert")?;
    let request: CloseRequest = decode(&body)?;
    let finding = text(&request.finding, "finding")?;
    let (found, _) = read(&state, move |c| view::marker_alert(c, id)).await?;
    let found = found.ok_or_else(|| ApiError::not_found("unknown_alert", "no such marker alert"))?;
    if found.state != "open" {
        // The same finding again is a retry: answered as the first time.
        if found.closed.as_ref().is_some_and(|c| c.2 == finding) {
            return edge::change::ok(StatusCode::OK, &alert_reply(&found));
        }
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "alert_closed",
            "the alert is closed",
        ));
    }
    let command = Work::CloseMarkerAlert {
        alert: id,
        text: RiskText::new(&finding),
        operator: caller.id,
    };
    let outcome = caller
        .submit(&state, request_id(&headers)?, Command::Analytics(command))
        .await?;
    if !outcome.is_ok() {
        return Err(refusal(&outcome, Currency::EUR));
    }
    let (found, _) = read(&state, move |c| view::marker_alert(c, id)).await?;
    let found = found.ok_or_else(|| ApiError::internal("a closed alert is missing"))?;
    edge::change::ok(StatusCode::OK, &alert_reply(&found))
}

/// An intervention.
#[derive(Serialize, ToSchema)]
pub struct InterventionReply {
    /// Its id (the journal record that sent it).
    pub id: u64,
    /// The player.
    pub player: u64,
    /// reality_check, limit_prompt or time_out_suggestion.
    pub kind: String,
    /// What the player is shown.
    pub message: String,
    /// The marker alert it answers.
    pub alert: Option<u64>,
    /// Who sent it (0: the marker worker).
    pub operator: u64,
    /// When, ms since the epoch.
    pub time_ms: u64,
    /// acknowledged, accepted or declined; none while pending.
    pub answer: Option<String>,
    /// When answered, ms since the epoch.
    pub answered_ms: Option<u64>,
}

/// An intervention as the API shows it.
pub fn intervention_reply(found: &InterventionView) -> InterventionReply {
    InterventionReply {
        id: found.id,
        player: found.player.0,
        kind: found.kind.clone(),
        message: found.message.clone(),
        alert: found.alert,
        operator: found.operator,
        time_ms: found.time_ms,
        answer: found.answer.as_ref().map(|a| a.0.clone()),
        answered_ms: found.answer.as_ref().map(|a| a.1),
    }
}

/// Sending an intervention.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InterveneRequest {
    /// reality_check, limit_prompt or time_out_suggestion.
    pub kind: String,
    /// What the player is shown (1 to 1000 bytes; default: the kind's
    /// standard text).
    pub message: Option<String>,
    /// The player's marker alert it answers.
    pub alert: Option<u64>,
}

/// Sends an intervention to the player (admins, compliance): journaled;
/// the front end shows it at the player's next poll. A retry with the same
/// Idempotency-Key answers the same intervention.
#[utoipa::path(post, path = "/operator/v1/players/{player}/interventions", tag = "analytics", request_body = InterveneRequest,
    params(("player" = u64, Path), IdempotencyKey), security(("bearer" = [])),
    responses((status = 201, body = InterventionReply), BodyErrors, RoleErrors, LedgerErrors,
        (status = 404, body = ErrorBody, description = "unknown_player, unknown_alert (not the player's)")))]
pub async fn intervene(
    State(state): State<AppState>,
    caller: Caller,
    Path(player): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let player = edge::change::player(&state, &player)?;
    let request: InterveneRequest = decode(&body)?;
    let kind = InterventionKind::from_name(&request.kind).ok_or_else(|| {
        ApiError::bad_request(
            "invalid_request",
            "kind: reality_check, limit_prompt or time_out_suggestion",
        )
    })?;
    let message = match &request.message {
        Some(message) => text(message, "message")?,
        None => worker::default_message(kind).to_owned(),
    };
    let alert = request.alert.unwrap_or(0);
    if alert > 0 {
        let (found, _) = read(&state, move |c| view::marker_alert(c, alert)).await?;
        if found.is_none_or(|a| a.player != player) {
            return Err(ApiError::not_found(
                "unknown_alert",
                "no such marker alert of this player",
            ));
        }
    }
    let id = request_id(&headers)?;
    let issued = worker::intervene(
        &state,
        caller.source,
        id.as_str(),
        player,
        kind,
        &message,
        alert,
        caller.id,
    )
    .await
    .map_err(|outcome| refusal(&outcome, Currency::EUR))?;
    let (found, _) = read(&state, move |c| view::intervention(c, issued)).await?;
    let found = found.ok_or_else(|| ApiError::internal("a sent intervention is missing"))?;
    edge::change::ok(StatusCode::CREATED, &intervention_reply(&found))
}

/// Which interventions.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct InterventionsQuery {
    /// Only those not answered yet (what the front end shows).
    pub pending: Option<bool>,
    /// Most returned, 1 to 1000 (default 100), newest first.
    pub limit: Option<usize>,
}

/// A player's interventions.
#[derive(Serialize, ToSchema)]
pub struct InterventionsReply {
    /// Newest first.
    pub interventions: Vec<InterventionReply>,
    /// The sequence number this answer is current to.
    pub as_of_seq: u64,
}

/// A player's interventions, newest first: the front end polls the
/// pending ones (admins, compliance, support).
#[utoipa::path(get, path = "/operator/v1/players/{player}/interventions", tag = "analytics",
    params(("player" = u64, Path), InterventionsQuery), security(("bearer" = [])),
    responses((status = 200, body = InterventionsReply), RoleErrors, LedgerErrors,
        (status = 400, body = ErrorBody, description = "invalid_request"),
        (status = 404, body = ErrorBody, description = "unknown_player")))]
pub async fn interventions(
    State(state): State<AppState>,
    Path(player): Path<String>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let player = edge::change::player(&state, &player)?;
    let q: InterventionsQuery = query(&uri, "pending and limit")?;
    let limit = edge::wire::page_limit(q.limit, 100, PAGE_MAX)? as u32;
    let pending = q.pending.unwrap_or(false);
    let (found, as_of_seq) = read(&state, move |c| view::interventions(c, player, pending, limit)).await?;
    let reply = InterventionsReply {
        interventions: found.iter().map(intervention_reply).collect(),
        as_of_seq,
    };
    edge::change::ok(StatusCode::OK, &reply)
}

/// The player's answer.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnswerRequest {
    /// acknowledged, accepted or declined.
    pub answer: String,
}

/// Records the player's answer to an intervention (admins, compliance,
/// support: the front end, after the player chose); journaled. The same
/// answer again is answered as the first time; another one is refused.
#[utoipa::path(post, path = "/operator/v1/players/{player}/interventions/{intervention}/answer", tag = "analytics",
    request_body = AnswerRequest, params(("player" = u64, Path), ("intervention" = u64, Path), IdempotencyKey),
    security(("bearer" = [])),
    responses((status = 200, body = InterventionReply), BodyErrors, RoleErrors, LedgerErrors,
        (status = 404, body = ErrorBody, description = "unknown_player, unknown_intervention"),
        (status = 409, body = ErrorBody, description = "intervention_answered")))]
pub async fn answer(
    State(state): State<AppState>,
    caller: Caller,
    Path((player, intervention)): Path<(String, String)>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let player = edge::change::player(&state, &player)?;
    let id = path_id(&intervention, "unknown_intervention", "intervention")?;
    let request: AnswerRequest = decode(&body)?;
    let answer = InterventionAnswer::from_name(&request.answer)
        .ok_or_else(|| ApiError::bad_request("invalid_request", "answer: acknowledged, accepted or declined"))?;
    let (checked, _) = read(&state, move |c| view::check_answerable(c, player, id)).await?;
    match checked {
        Ok(_) => {}
        Err(AnswerRefusal::Unknown) => {
            return Err(ApiError::not_found(
                "unknown_intervention",
                "no such intervention of this player",
            ));
        }
        Err(AnswerRefusal::Answered) => {
            let (found, _) = read(&state, move |c| view::intervention(c, id)).await?;
            let found = found.ok_or_else(|| ApiError::internal("an answered intervention is missing"))?;
            if found.answer.as_ref().is_some_and(|a| a.0 == answer.name()) {
                return edge::change::ok(StatusCode::OK, &intervention_reply(&found));
            }
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "intervention_answered",
                "the intervention was answered already",
            ));
        }
    }
    let command = Work::AnswerIntervention {
        player,
        intervention: id,
        answer,
    };
    let outcome = caller
        .submit(&state, request_id(&headers)?, Command::Analytics(command))
        .await?;
    if !matches!(outcome, Outcome::Accepted) {
        return Err(refusal(&outcome, Currency::EUR));
    }
    let (found, _) = read(&state, move |c| view::intervention(c, id)).await?;
    let found = found.ok_or_else(|| ApiError::internal("an answered intervention is missing"))?;
    edge::change::ok(StatusCode::OK, &intervention_reply(&found))
}

/// One reason in a churn score.
#[derive(Serialize, ToSchema)]
#[schema(as = ChurnReasonReply)]
pub struct ReasonReply {
    /// days_since_last_bet, active_days_30, bets_30, stake_30,
    /// bets_trend, stake_trend, deposits_30.
    pub feature: &'static str,
    /// The player's value (bets_30 and stake_30 as ln(1 + x), stakes in
    /// major units; trends from -1 to 1).
    pub value: f64,
    /// What it adds to the log-odds of churn.
    pub contribution: f64,
}

fn reasons_reply(reasons: &[Reason]) -> Vec<ReasonReply> {
    reasons
        .iter()
        .map(|r| ReasonReply {
            feature: r.feature,
            value: r.value,
            contribution: r.contribution,
        })
        .collect()
}

/// A player's churn score.
#[derive(Serialize, ToSchema)]
pub struct ChurnReply {
    /// The player.
    pub player: u64,
    /// The probability of no bet in the next 30 days, 0 to 1.
    pub score: f64,
    /// Why: the largest contributions towards churn, largest first.
    pub reasons: Vec<ReasonReply>,
    /// When the model was trained, ms since the epoch.
    pub trained_at_ms: u64,
}

/// The model in force.
#[derive(Serialize, ToSchema)]
pub struct ModelReply {
    /// When trained, ms since the epoch.
    pub trained_at_ms: u64,
    /// The journal position its history ran to.
    pub as_of_seq: u64,
    /// Players it was trained on.
    pub examples: usize,
    /// Of them, churners.
    pub churners: usize,
    /// Its area under the ROC curve on them.
    pub training_auc: f64,
    /// Each feature's weight towards churn (standardised).
    pub weights: Vec<(String, f64)>,
}

fn model_reply(trained: &worker::Trained) -> ModelReply {
    ModelReply {
        trained_at_ms: trained.trained_at_ms,
        as_of_seq: trained.as_of_seq,
        examples: trained.model.examples.0,
        churners: trained.model.examples.1,
        training_auc: trained.model.training_auc,
        weights: churn::FEATURES
            .iter()
            .zip(trained.model.weights)
            .map(|(name, w)| ((*name).to_owned(), w))
            .collect(),
    }
}

fn trained(state: &AppState) -> Result<std::sync::Arc<worker::Trained>, ApiError> {
    let shared = churn_state(state);
    let guard = shared
        .0
        .read()
        .map_err(|_| ApiError::internal("the churn state's lock is poisoned"))?;
    guard.clone().ok_or_else(|| {
        ApiError::new(
            StatusCode::CONFLICT,
            "churn_model_untrained",
            "no churn model yet: it is trained every 6 hours, or now with POST /operator/v1/analytics/churn/training",
        )
    })
}

/// Which churn scores.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ChurnQuery {
    /// Only scores at least this (0 to 1, default 0.5).
    pub min_score: Option<f64>,
    /// Most returned, 1 to 1000 (default 100), highest first.
    pub limit: Option<usize>,
}

/// Players at risk of churning.
#[derive(Serialize, ToSchema)]
pub struct ChurnListReply {
    /// The model that scored them.
    pub model: ModelReply,
    /// Highest first.
    pub players: Vec<ChurnReply>,
}

/// Players by churn risk, highest first, as scored at the last training
/// (admins, marketing, read-only).
#[utoipa::path(get, path = "/operator/v1/analytics/churn", tag = "analytics", params(ChurnQuery),
    security(("bearer" = [])),
    responses((status = 200, body = ChurnListReply), RoleErrors,
        (status = 400, body = ErrorBody, description = "invalid_request (min_score outside 0–1, limit outside 1–1000)"),
        (status = 409, body = ErrorBody, description = "churn_model_untrained")))]
pub async fn churn_list(State(state): State<AppState>, uri: Uri) -> Result<Response, ApiError> {
    let q: ChurnQuery = query(&uri, "min_score and limit")?;
    let min_score = q.min_score.unwrap_or(0.5);
    if !(0.0..=1.0).contains(&min_score) {
        return Err(ApiError::bad_request("invalid_request", "min_score: 0 to 1"));
    }
    let limit = edge::wire::page_limit(q.limit, 100, PAGE_MAX)?;
    let trained = trained(&state)?;
    let players = trained
        .scores
        .iter()
        .filter(|(_, score, _)| *score >= min_score)
        .take(limit)
        .map(|(player, score, reasons)| ChurnReply {
            player: player.0,
            score: *score,
            reasons: reasons_reply(reasons),
            trained_at_ms: trained.trained_at_ms,
        })
        .collect();
    let reply = ChurnListReply {
        model: model_reply(&trained),
        players,
    };
    edge::change::ok(StatusCode::OK, &reply)
}

/// A player's churn risk now, with its reasons (admins, marketing,
/// read-only).
#[utoipa::path(get, path = "/operator/v1/players/{player}/churn", tag = "analytics",
    params(("player" = u64, Path)), security(("bearer" = [])),
    responses((status = 200, body = ChurnReply), RoleErrors, LedgerErrors,
        (status = 404, body = ErrorBody, description = "unknown_player"),
        (status = 409, body = ErrorBody, description = "churn_model_untrained")))]
pub async fn player_churn(State(state): State<AppState>, Path(player): Path<String>) -> Result<Response, ApiError> {
    let player = edge::change::player(&state, &player)?;
    let trained = trained(&state)?;
    let now_ms = state.now_ms();
    let from_ms = now_ms.saturating_sub(churn::LOOKBACK_MS);
    let (facts, _) = read(&state, move |c| view::facts(c, player, from_ms)).await?;
    let scored = trained.model.score(&churn::features(&facts, now_ms));
    let reply = ChurnReply {
        player: player.0,
        score: scored.probability,
        reasons: reasons_reply(&scored.reasons),
        trained_at_ms: trained.trained_at_ms,
    };
    edge::change::ok(StatusCode::OK, &reply)
}

/// Retrains the churn model on the history now, as the worker does every
/// 6 hours, and rescores every active player (admins, marketing).
#[utoipa::path(post, path = "/operator/v1/analytics/churn/training", tag = "analytics", security(("bearer" = [])),
    responses((status = 200, body = ModelReply), RoleErrors, LedgerErrors,
        (status = 422, body = ErrorBody, description = "churn_history_too_short (too few churners or players who stayed)")))]
pub async fn train(State(state): State<AppState>) -> Result<Response, ApiError> {
    let trained = worker::retrain(&state).await.map_err(worker::WorkerError::into_api)?;
    edge::change::ok(StatusCode::OK, &model_reply(&trained))
}
