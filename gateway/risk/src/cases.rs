//! Cases: compliance opens one from alerts in the queue (all about one
//! player), assigns it, annotates it, acts on the player from it, resolves
//! it with an outcome, and exports it as a suspicious-activity report
//! (JSON or CSV).
//!
//! Every change to a case is a journaled ledger command
//! (`engine::risk::CaseCommand`, submitted by [`submit_case`]) that the
//! read model derives the case from, so a rebuild loses none of them; the
//! routes check the read model first (the alerts free, the case open) and
//! answer once it holds the change. A case's id is its opening record's
//! sequence number. With an `Idempotency-Key`, a retry gets the same reply.
//!
//! An action is the ledger's own operator command, sent under the acting
//! operator's source (so it is journaled and in the audit trail like the
//! same change made from PAM's routes): `suspend` sets the account status
//! to suspended, `require_kyc` sets the KYC level to pending (a new check
//! is due; where the jurisdiction gates deposits, bets or withdrawals on
//! verified KYC they stop until it is verified again), `hold_withdrawals`
//! places the case's withdrawal hold (where holds on opening are off, or
//! to place one that failed). The case's note names the journal record.
//!
//! Where configured (the default), opening a case holds the player's
//! withdrawals in the ledger and resolving it lifts that hold
//! ([`crate::holds`]); both are noted on the case with their journal
//! records. Without an `Idempotency-Key`, the request id
//! is derived from the case and the action, so a retry does not act twice.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use edge::body::{JsonBody, decode};
use edge::change::{IDEMPOTENCY_HEADER, IdempotencyKey, request_id};
use edge::error::{ApiError, ErrorBody};
use edge::openapi::{BodyErrors, LedgerErrors, RoleErrors};
use edge::reads::read;
use edge::{AppState, Caller};
use engine::command::{AccountStatus, KycLevel};
use engine::risk::{CaseCommand, CaseOutcome, CaseUpdate, RiskText};
use engine::{Command, ExtId, OperatorId, Outcome, PlayerId, Query, Reason, Request, TxRef, payments, players};
use readmodel::risk::{self, CaseFile, CaseFilter, CaseView};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::alerts::{AlertReply, ScoreReply, alert_reply, score_reply};
use crate::holds;
use crate::shared::{money, path_id, query, text, write};

/// Most cases in one page.
const PAGE_MAX: usize = 1_000;
/// Most alerts a case is opened with.
const CASE_ALERTS_MAX: usize = 100;
/// Longest summary.
const SUMMARY_MAX: usize = 500;
/// Longest note or finding.
const NOTE_MAX: usize = 4_000;

/// A case.
#[derive(Serialize, ToSchema)]
pub struct CaseReply {
    /// Its id.
    pub id: u64,
    /// The player.
    pub player: u64,
    /// `open` or `resolved`.
    pub state: String,
    /// What it is about.
    pub summary: String,
    /// The operator working it.
    pub assignee: Option<u64>,
    /// How it was resolved: reported, no_action, false_positive.
    pub outcome: Option<String>,
    /// Who opened it.
    pub opened_by: u64,
    /// When, ms since the epoch.
    pub opened_ms: u64,
    /// Who resolved it.
    pub resolved_by: Option<u64>,
    /// When.
    pub resolved_ms: Option<u64>,
}

fn case_reply(case: &CaseView) -> CaseReply {
    CaseReply {
        id: case.id,
        player: case.player.0,
        state: case.state.clone(),
        summary: case.summary.clone(),
        assignee: case.assignee,
        outcome: case.outcome.clone(),
        opened_by: case.opened_by,
        opened_ms: case.opened_ms,
        resolved_by: case.resolved_by,
        resolved_ms: case.resolved_ms,
    }
}

/// A note on a case.
#[derive(Serialize, ToSchema)]
pub struct NoteReply {
    /// The operator who wrote it.
    pub operator: u64,
    /// When, ms since the epoch.
    pub time_ms: u64,
    /// opened, note, assigned, action, resolved.
    pub kind: String,
    /// The text.
    pub text: String,
    /// An action's journal record (its command's sequence number).
    pub journal_seq: Option<u64>,
}

/// A case with its alerts and notes.
#[derive(Serialize, ToSchema)]
pub struct CaseFileReply {
    /// The case.
    pub case: CaseReply,
    /// Its alerts with their evidence.
    pub alerts: Vec<AlertReply>,
    /// Its notes, oldest first.
    pub notes: Vec<NoteReply>,
    /// The sequence number this answer is current to.
    pub as_of_seq: u64,
}

fn file_reply(file: &CaseFile, as_of_seq: u64) -> CaseFileReply {
    CaseFileReply {
        case: case_reply(&file.case),
        alerts: file.alerts.iter().map(alert_reply).collect(),
        notes: file
            .notes
            .iter()
            .map(|n| NoteReply {
                operator: n.operator,
                time_ms: n.time_ms,
                kind: n.kind.clone(),
                text: n.text.clone(),
                journal_seq: n.journal_seq,
            })
            .collect(),
        as_of_seq,
    }
}

/// Which cases.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct CaseQuery {
    /// `open` or `resolved`.
    pub state: Option<String>,
    /// Only those assigned to this operator.
    pub assignee: Option<u64>,
    /// Only this player's.
    pub player: Option<u64>,
    /// Only cases after this id (the last one of the previous page).
    pub after: Option<u64>,
    /// Most returned, 1 to 1000 (default 100), oldest first.
    pub limit: Option<usize>,
}

/// A page of cases.
#[derive(Serialize, ToSchema)]
pub struct CasesReply {
    /// Oldest first.
    pub cases: Vec<CaseReply>,
    /// The sequence number this answer is current to.
    pub as_of_seq: u64,
}

/// Cases, filtered, oldest first (admins, compliance, read-only).
#[utoipa::path(get, path = "/operator/v1/risk/cases", tag = "risk", params(CaseQuery), security(("bearer" = [])),
    responses((status = 200, body = CasesReply), RoleErrors, LedgerErrors,
        (status = 400, body = ErrorBody, description = "invalid_request (a bad query parameter or state, limit outside 1–1000)")))]
pub async fn list(State(state): State<AppState>, uri: Uri) -> Result<Response, ApiError> {
    let query: CaseQuery = query(&uri, "state, assignee, player, after and limit")?;
    if query.state.as_deref().is_some_and(|s| s != "open" && s != "resolved") {
        return Err(ApiError::bad_request("invalid_request", "state: open or resolved"));
    }
    let limit = edge::wire::page_limit(query.limit, 100, PAGE_MAX)?;
    let filter = CaseFilter {
        state: query.state,
        assignee: query.assignee,
        player: query.player.map(PlayerId),
        after_id: query.after.unwrap_or(0),
        limit: limit as u32,
    };
    let (found, as_of_seq) = read(&state, move |c| risk::cases(c, &filter)).await?;
    let reply = CasesReply {
        cases: found.iter().map(case_reply).collect(),
        as_of_seq,
    };
    edge::change::ok(StatusCode::OK, &reply)
}

/// A case to open.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenRequest {
    /// The alerts it takes from the queue (1 to 100, all about one player).
    pub alerts: Vec<u64>,
    /// What it is about (1 to 500 bytes).
    pub summary: String,
}

/// Opens a case on alerts from the queue (admins, compliance); where
/// configured, holds the player's withdrawals in the ledger until it is
/// resolved (noted on the case).
#[utoipa::path(post, path = "/operator/v1/risk/cases", tag = "risk", request_body = OpenRequest, params(IdempotencyKey), security(("bearer" = [])),
    responses((status = 201, body = CaseFileReply), BodyErrors, RoleErrors, LedgerErrors,
        (status = 404, body = ErrorBody, description = "unknown_alert"),
        (status = 409, body = ErrorBody, description = "alert_in_case"),
        (status = 422, body = ErrorBody, description = "players_differ")))]
pub async fn open(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let request: OpenRequest = decode(&body)?;
    if request.alerts.is_empty() || request.alerts.len() > CASE_ALERTS_MAX {
        return Err(ApiError::bad_request(
            "invalid_request",
            format!("alerts: 1 to {CASE_ALERTS_MAX} alert ids"),
        ));
    }
    let mut alerts = request.alerts.clone();
    alerts.sort_unstable();
    alerts.dedup();
    let summary = text(&request.summary, "summary", SUMMARY_MAX)?;
    let checked = alerts.clone();
    // A retry is sent as the first time (the ledger answers with the case
    // it opened), without checking the alerts, taken by it since.
    let retry = retried(&state, &caller, &headers).await?;
    let player = write(&state, move |c| match retry {
        true => risk::alert(c, checked[0])?
            .map(|alert| alert.player)
            .ok_or(risk::CaseError::UnknownAlert(checked[0])),
        false => risk::check_open(c, &checked),
    })
    .await?;
    let command = CaseCommand::Open {
        player,
        alerts,
        summary: RiskText::new(&summary),
        operator: caller.id,
    };
    let (file, as_of_seq) = submit_case_file(&state, &caller, &headers, command).await?;
    let (file, as_of_seq) = if holds::settings(&state).hold_withdrawals_on_case {
        hold_on_open(&state, &caller, file, as_of_seq).await?
    } else {
        (file, as_of_seq)
    };
    edge::change::ok(StatusCode::CREATED, &file_reply(&file, as_of_seq))
}

/// Whether the request's `Idempotency-Key` names a request the ledger has
/// seen: a retry, answered as the first time without checking again.
async fn retried(state: &AppState, caller: &Caller, headers: &HeaderMap) -> Result<bool, ApiError> {
    if headers.get(IDEMPOTENCY_HEADER).is_none() {
        return Ok(false);
    }
    let tx = TxRef {
        source: caller.source,
        id: request_id(headers)?,
    };
    let asked = Request {
        source: caller.source,
        id: ExtId::new("risk-retry-check").map_err(ApiError::internal)?,
        command: Command::Query(Query::Transaction { tx }),
    };
    Ok(matches!(
        state.engine.run(asked).await?.outcome,
        Outcome::Transaction(_)
    ))
}

/// Sends a case command through the ledger (journaled, audited) and
/// answers with the case file once the read model holds it.
async fn submit_case(
    state: &AppState,
    caller: &Caller,
    headers: &HeaderMap,
    command: CaseCommand,
    status: StatusCode,
) -> Result<Response, ApiError> {
    let (file, as_of_seq) = submit_case_file(state, caller, headers, command).await?;
    edge::change::ok(status, &file_reply(&file, as_of_seq))
}

/// Sends a case command through the ledger (journaled, audited): the case
/// file once the read model holds it, and its `as_of_seq`.
async fn submit_case_file(
    state: &AppState,
    caller: &Caller,
    headers: &HeaderMap,
    command: CaseCommand,
) -> Result<(CaseFile, u64), ApiError> {
    let updated = match &command {
        CaseCommand::Update { case, .. } => Some(*case),
        CaseCommand::Open { .. } => None,
    };
    let sent = Command::Risk(engine::risk::Command::Case(command));
    let case = match (caller.submit(state, request_id(headers)?, sent).await?, updated) {
        (Outcome::CaseOpened { case }, None) | (Outcome::Accepted, Some(case)) => case,
        (other, _) => return Err(edge::change::refusal(&other, engine::Currency::EUR)),
    };
    let (file, as_of_seq) = read(state, move |c| risk::case_file(c, case)).await?;
    let file = file.ok_or_else(|| {
        ApiError::new(
            StatusCode::CONFLICT,
            "alert_in_case",
            "another case took these alerts meanwhile: nothing was opened",
        )
    })?;
    Ok((file, as_of_seq))
}

/// Journals a note (or an action's record) the server itself makes on
/// case `id`, under a request id derived from the case and `key`, so a
/// retried request notes it once.
async fn note_case(
    state: &AppState,
    caller: &Caller,
    id: u64,
    update: CaseUpdate,
    note: &str,
    key: &str,
) -> Result<(CaseFile, u64), ApiError> {
    let command = CaseCommand::Update {
        case: id,
        update,
        text: RiskText::new(note),
        operator: caller.id,
    };
    let mut noted = HeaderMap::new();
    let note_id = format!("risk-case-{id}-{key}");
    noted.insert(IDEMPOTENCY_HEADER, note_id.parse().map_err(ApiError::internal)?);
    submit_case_file(state, caller, &noted, command).await
}

/// Checks that case `id` is open, unless the request is a retry.
async fn check_open_case(state: &AppState, caller: &Caller, headers: &HeaderMap, id: u64) -> Result<(), ApiError> {
    if !retried(state, caller, headers).await? {
        write(state, move |c| risk::check_case_open(c, id).map(|_| ())).await?;
    }
    Ok(())
}

/// How the note of a case's withdrawal hold begins (a retry finds it).
const HOLD_PLACED: &str = "held the player's withdrawals";
/// How the note of a lifted hold begins.
const HOLD_LIFTED: &str = "lifted the case's withdrawal hold";

/// Holds the new case's player's withdrawals in the ledger and notes it on
/// the case (or notes why not: the case stays open either way, and the
/// `hold_withdrawals` action or the next start places the hold).
async fn hold_on_open(
    state: &AppState,
    caller: &Caller,
    file: CaseFile,
    as_of_seq: u64,
) -> Result<(CaseFile, u64), ApiError> {
    let (id, player) = (file.case.id, file.case.player);
    // A retried opening finds the hold noted already (the ledger answers a
    // repeated request with the record's outcome, not its first reply).
    if file.notes.iter().any(|n| n.text.starts_with(HOLD_PLACED)) {
        return Ok((file, as_of_seq));
    }
    let request_id = ExtId::new(&format!("risk-case-{id}-hold")).map_err(ApiError::internal)?;
    match holds::place(state, caller.source, caller.id, request_id, id, player).await {
        Ok((seq, holds)) => {
            let note = format!("{HOLD_PLACED} while the case is open ({holds} hold(s) on the player)");
            note_case(
                state,
                caller,
                id,
                CaseUpdate::Action { seq },
                &note,
                "hold-placed", // one per case, as the hold's own request id
            )
            .await
        }
        Err(error) => {
            tracing::warn!(case = id, error = %error.message, "the case's withdrawal hold was not placed");
            let note = format!(
                "the player's withdrawals were not held: {} (retry with the hold_withdrawals action)",
                error.message
            );
            note_case(state, caller, id, CaseUpdate::Note, &note, "hold-failed").await
        }
    }
}

/// A case with its alerts, their evidence, and its notes (admins,
/// compliance, read-only).
#[utoipa::path(get, path = "/operator/v1/risk/cases/{case}", tag = "risk",
    params(("case" = u64, Path)), security(("bearer" = [])),
    responses((status = 200, body = CaseFileReply), RoleErrors, LedgerErrors,
        (status = 404, body = ErrorBody, description = "unknown_case")))]
pub async fn show(State(state): State<AppState>, Path(case): Path<String>) -> Result<Response, ApiError> {
    let (file, as_of_seq) = case_file(&state, &case).await?;
    edge::change::ok(StatusCode::OK, &file_reply(&file, as_of_seq))
}

async fn case_file(state: &AppState, case: &str) -> Result<(CaseFile, u64), ApiError> {
    let id = path_id(case, "unknown_case", "case")?;
    let (file, as_of_seq) = read(state, move |c| risk::case_file(c, id)).await?;
    let file = file.ok_or_else(|| ApiError::not_found("unknown_case", "no such case"))?;
    Ok((file, as_of_seq))
}

/// Who works a case.
#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignRequest {
    /// The operator's id (an enabled operator).
    pub operator: u32,
}

/// Assigns an open case to an operator (admins, compliance).
#[utoipa::path(put, path = "/operator/v1/risk/cases/{case}/assignee", tag = "risk", request_body = AssignRequest,
    params(("case" = u64, Path), IdempotencyKey), security(("bearer" = [])),
    responses((status = 200, body = CaseFileReply), BodyErrors, RoleErrors, LedgerErrors,
        (status = 404, body = ErrorBody, description = "unknown_case, unknown_operator"),
        (status = 409, body = ErrorBody, description = "case_resolved")))]
pub async fn assign(
    State(state): State<AppState>,
    caller: Caller,
    Path(case): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let id = path_id(&case, "unknown_case", "case")?;
    let request: AssignRequest = decode(&body)?;
    let enabled = state
        .view
        .read()
        .access
        .operator(OperatorId(request.operator))
        .is_some_and(|o| o.role != engine::Role::Disabled);
    if !enabled {
        return Err(ApiError::not_found("unknown_operator", "no such enabled operator"));
    }
    check_open_case(&state, &caller, &headers, id).await?;
    let command = CaseCommand::Update {
        case: id,
        update: CaseUpdate::Assign {
            assignee: OperatorId(request.operator),
        },
        text: RiskText::new(&format!("assigned to operator {}", request.operator)),
        operator: caller.id,
    };
    submit_case(&state, &caller, &headers, command, StatusCode::OK).await
}

/// A note.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoteRequest {
    /// The text (1 to 4000 bytes).
    pub text: String,
}

/// Annotates an open case (admins, compliance).
#[utoipa::path(post, path = "/operator/v1/risk/cases/{case}/notes", tag = "risk", request_body = NoteRequest,
    params(("case" = u64, Path), IdempotencyKey), security(("bearer" = [])),
    responses((status = 200, body = CaseFileReply), BodyErrors, RoleErrors, LedgerErrors,
        (status = 404, body = ErrorBody, description = "unknown_case"),
        (status = 409, body = ErrorBody, description = "case_resolved")))]
pub async fn note(
    State(state): State<AppState>,
    caller: Caller,
    Path(case): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let id = path_id(&case, "unknown_case", "case")?;
    let request: NoteRequest = decode(&body)?;
    let note = text(&request.text, "text", NOTE_MAX)?;
    check_open_case(&state, &caller, &headers, id).await?;
    let command = CaseCommand::Update {
        case: id,
        update: CaseUpdate::Note,
        text: RiskText::new(&note),
        operator: caller.id,
    };
    submit_case(&state, &caller, &headers, command, StatusCode::OK).await
}

/// An action on the case's player.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionRequest {
    /// `suspend` (account status suspended), `require_kyc` (KYC level
    /// pending: a new check is due) or `hold_withdrawals` (the case's
    /// withdrawal hold, lifted when it is resolved).
    pub action: String,
    /// Why (1 to 200 bytes); the journaled reason is `risk case <id>: <reason>`.
    pub reason: String,
}

/// Acts on the case's player through the ledger (admins, compliance): the
/// command is journaled under the operator's source and lands in the audit
/// trail; the case's note names its sequence number.
#[utoipa::path(post, path = "/operator/v1/risk/cases/{case}/actions", tag = "risk", request_body = ActionRequest,
    params(("case" = u64, Path), IdempotencyKey), security(("bearer" = [])),
    responses((status = 200, body = CaseFileReply), BodyErrors, RoleErrors, LedgerErrors,
        (status = 404, body = ErrorBody, description = "unknown_case, unknown_player"),
        (status = 409, body = ErrorBody, description = "case_resolved, conflict (the Idempotency-Key was used for another change)")))]
pub async fn act(
    State(state): State<AppState>,
    caller: Caller,
    Path(case): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let (found, _) = case_file(&state, &case).await?;
    let id = found.case.id;
    let request: ActionRequest = decode(&body)?;
    let reason = Reason::new(&format!("risk case {id}: {}", request.reason))
        .ok()
        .filter(|_| !request.reason.trim().is_empty() && request.reason.len() <= 200)
        .ok_or_else(|| ApiError::bad_request("invalid_request", "reason: 1 to 200 bytes of text"))?;
    if found.case.state != "open" {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "case_resolved",
            format!("case {id} is resolved"),
        ));
    }
    let player = found.case.player;
    let (command, done) = match request.action.as_str() {
        "suspend" => (
            Command::Players(players::Command::SetStatus {
                player,
                status: AccountStatus::Suspended,
                reason: reason.clone(),
                operator: caller.id,
            }),
            "suspended the player",
        ),
        "require_kyc" => (
            Command::Players(players::Command::SetKycLevel {
                player,
                level: KycLevel::Pending,
                reason: reason.clone(),
                operator: caller.id,
            }),
            "set the player's KYC level to pending (a new check is due)",
        ),
        "hold_withdrawals" => (
            Command::Payments(payments::Command::HoldWithdrawals {
                player,
                hold: holds::hold_name(id),
                reason: reason.clone(),
                operator: caller.id,
            }),
            "held the player's withdrawals until the case is resolved",
        ),
        _ => {
            return Err(ApiError::bad_request(
                "invalid_request",
                "action: suspend, require_kyc or hold_withdrawals",
            ));
        }
    };
    let request_id = match headers.get(IDEMPOTENCY_HEADER) {
        Some(_) => request_id(&headers)?,
        None => ExtId::new(&format!("risk-case-{id}-{}", request.action)).map_err(ApiError::internal)?,
    };
    let sent = Request {
        source: caller.source,
        id: request_id,
        command,
    };
    let reply = state.engine.run(sent).await?;
    if !reply.outcome.is_ok() {
        let currency = state
            .view
            .read()
            .player(player)
            .map(|p| p.currency)
            .unwrap_or(engine::Currency::EUR);
        return Err(edge::change::refusal(&reply.outcome, currency));
    }
    let note = format!("{done}: {}", reason.as_str());
    let command = CaseCommand::Update {
        case: id,
        update: CaseUpdate::Action { seq: reply.seq },
        text: RiskText::new(&note),
        operator: caller.id,
    };
    // The note's own request id: one note per action record.
    let mut noted = HeaderMap::new();
    let note_id = format!("risk-case-{id}-action-{}", reply.seq);
    noted.insert(IDEMPOTENCY_HEADER, note_id.parse().map_err(ApiError::internal)?);
    submit_case(&state, &caller, &noted, command, StatusCode::OK).await
}

/// A resolution.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveRequest {
    /// `reported` (a suspicious-activity report was filed), `no_action` or
    /// `false_positive`.
    pub outcome: String,
    /// The finding (1 to 4000 bytes).
    pub text: String,
}

/// Resolves an open case with its outcome (admins, compliance), lifting
/// its withdrawal hold (the player's withdrawals flow again unless another
/// open case holds them).
#[utoipa::path(post, path = "/operator/v1/risk/cases/{case}/resolution", tag = "risk", request_body = ResolveRequest,
    params(("case" = u64, Path), IdempotencyKey), security(("bearer" = [])),
    responses((status = 200, body = CaseFileReply), BodyErrors, RoleErrors, LedgerErrors,
        (status = 404, body = ErrorBody, description = "unknown_case"),
        (status = 409, body = ErrorBody, description = "case_resolved")))]
pub async fn resolve(
    State(state): State<AppState>,
    caller: Caller,
    Path(case): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let id = path_id(&case, "unknown_case", "case")?;
    let request: ResolveRequest = decode(&body)?;
    let outcome = CaseOutcome::from_name(&request.outcome)
        .ok_or_else(|| ApiError::bad_request("invalid_request", "outcome: reported, no_action or false_positive"))?;
    let finding = text(&request.text, "text", NOTE_MAX)?;
    let (found, _) = case_file(&state, &case).await?;
    check_open_case(&state, &caller, &headers, id).await?;
    // The hold is lifted first: a stop before the resolution below leaves
    // the case open and unheld, and the next start's sweep holds it again.
    // Lifted whatever the setting now: it may have been placed under it.
    let lifted = holds::lift(&state, caller.source, caller.id, id, found.case.player).await?;
    let noted = found.notes.iter().any(|n| n.text.starts_with(HOLD_LIFTED));
    if let Some((seq, left)) = lifted.filter(|_| !noted) {
        let note = match left {
            0 => format!("{HOLD_LIFTED}: the player's withdrawals flow again"),
            left => {
                format!("{HOLD_LIFTED}; {left} other hold(s) keep the player's withdrawals held")
            }
        };
        note_case(
            &state,
            &caller,
            id,
            CaseUpdate::Action { seq },
            &note,
            "hold-lifted", // one per case, as the release's own request id
        )
        .await?;
    }
    let command = CaseCommand::Update {
        case: id,
        update: CaseUpdate::Resolve { outcome },
        text: RiskText::new(&finding),
        operator: caller.id,
    };
    submit_case(&state, &caller, &headers, command, StatusCode::OK).await
}

/// The report's format.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ExportQuery {
    /// `json` (default) or `csv`.
    pub format: Option<String>,
}

/// A suspicious-activity report: the case, its alerts with every journal
/// record they rest on, its notes, and the player's fraud score.
#[derive(Serialize, ToSchema)]
#[schema(as = CaseReportReply)]
pub struct ReportReply {
    /// What this is: `suspicious_activity_report`.
    pub report: &'static str,
    /// When it was made, ms since the epoch.
    pub generated_ms: u64,
    /// The case, alerts and notes.
    pub case_file: CaseFileReply,
    /// The player's fraud score now.
    pub score: ScoreReply,
}

/// Exports a case as a suspicious-activity report (admins, compliance,
/// read-only): JSON, or CSV with one row per journal record of evidence.
#[utoipa::path(get, path = "/operator/v1/risk/cases/{case}/export", tag = "risk",
    params(("case" = u64, Path), ExportQuery), security(("bearer" = [])),
    responses((status = 200, body = ReportReply, description = "JSON; with format=csv, text/csv: case, player, alert, rule, currency, alert_seq, evidence_seq, kind, amount (in evidence_currency), time_ms, summary, evidence_currency, rate (the FX rate it was converted at into the alert's currency)"),
        RoleErrors, LedgerErrors,
        (status = 400, body = ErrorBody, description = "invalid_request (format: json or csv)"),
        (status = 404, body = ErrorBody, description = "unknown_case")))]
pub async fn export(State(state): State<AppState>, Path(case): Path<String>, uri: Uri) -> Result<Response, ApiError> {
    let query: ExportQuery = query(&uri, "format")?;
    let csv = match query.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(_) => return Err(ApiError::bad_request("invalid_request", "format: json or csv")),
    };
    let (file, as_of_seq) = case_file(&state, &case).await?;
    if csv {
        let body = csv_report(&file);
        let disposition = format!("attachment; filename=\"case-{}.csv\"", file.case.id);
        return Ok((
            StatusCode::OK,
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
                (header::CONTENT_DISPOSITION, disposition),
            ],
            body,
        )
            .into_response());
    }
    let player = file.case.player;
    let (score, score_seq) = read(&state, move |c| risk::score(c, player)).await?;
    let report = ReportReply {
        report: "suspicious_activity_report",
        generated_ms: state.now_ms(),
        case_file: file_reply(&file, as_of_seq),
        score: score_reply(player, score, score_seq),
    };
    edge::change::ok(StatusCode::OK, &report)
}

fn csv_report(file: &CaseFile) -> String {
    let mut out = String::from(
        "case,player,alert,rule,currency,alert_seq,evidence_seq,kind,amount,time_ms,summary,evidence_currency,rate\n",
    );
    for alert in &file.alerts {
        for evidence in &alert.evidence {
            let row = [
                file.case.id.to_string(),
                file.case.player.0.to_string(),
                alert.id.to_string(),
                alert.rule.clone(),
                alert.currency.clone(),
                alert.seq.to_string(),
                evidence.seq.to_string(),
                evidence.kind.clone(),
                money(evidence.amount_minor, &evidence.currency),
                evidence.time_ms.to_string(),
                alert.summary.clone(),
                evidence.currency.clone(),
                evidence.rate_scaled.map(crate::shared::print_rate).unwrap_or_default(),
            ];
            let cells: Vec<String> = row.iter().map(|cell| csv_cell(cell)).collect();
            out.push_str(&cells.join(","));
            out.push('\n');
        }
    }
    out
}

/// A CSV cell (RFC 4180): quoted when it holds a comma, a quote or a line
/// break, quotes doubled.
fn csv_cell(value: &str) -> String {
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_owned()
    }
}
