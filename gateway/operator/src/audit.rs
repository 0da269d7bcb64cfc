//! The audit trail over the operator API (admins and compliance): every
//! operator action with who, what, when, the target and the values before
//! and after, filtered by operator, player, kind and time, in pages
//! (`after_seq` cursor) or exported whole as CSV or JSON.
//!
//! Each entry names the journal record it comes from (`seq`): the trail is
//! the journal, indexed by the read model (`readmodel::audit`), and can be
//! checked against `croupier-admin journal inspect`.

use axum::extract::State;
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use edge::AppState;
use edge::error::{ApiError, ErrorBody};
use edge::openapi::{LedgerErrors, RoleErrors};
use edge::reads::read;
use edge::wire;
use engine::{Currency, OperatorId, PlayerId};
use readmodel::audit::{self, AuditEntry, AuditFilter, Target};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::shared::ok;

/// Most entries in one page.
const PAGE_MAX: usize = 1_000;
/// Most entries in one export (past it, export by time range).
const EXPORT_MAX: usize = 100_000;

/// Which entries.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Only this operator's actions (0: the server itself).
    pub operator: Option<u32>,
    /// Only actions about this player.
    pub player: Option<u64>,
    /// Only this kind of command (set_status, set_limit, set_operator_role …).
    pub kind: Option<String>,
    /// From this time on, ms since the epoch (inclusive).
    pub from_ms: Option<u64>,
    /// Before this time, ms since the epoch (exclusive).
    pub to_ms: Option<u64>,
    /// Only entries after this sequence number (the cursor: the previous
    /// page's `next_after_seq`). Default 0.
    pub after_seq: Option<u64>,
    /// Most entries returned, 1 to 1000 (default 100). Not for exports.
    pub limit: Option<usize>,
    /// Exports only: csv (default) or json.
    pub format: Option<String>,
}

/// One operator action.
#[derive(Serialize, ToSchema)]
pub struct AuditEntryReply {
    /// The journal record's sequence number.
    pub seq: u64,
    /// When, ms since the epoch.
    pub time_ms: u64,
    /// Who: operator id (0: the server, which creates the first operator).
    pub operator: u32,
    /// The operator's name.
    pub operator_name: String,
    /// The request id (`Idempotency-Key`) it was sent under.
    pub request_id: String,
    /// What: the command's kind.
    pub kind: String,
    /// player, operator or aggregator.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_type: Option<&'static str>,
    /// The target's id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<u64>,
    /// Which value changed (status, role, token, kyc, cash:EUR, limit:deposit:day:EUR …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The value before, where the journal holds it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<String>,
    /// The value after (for a refusal, the value asked for); sealed
    /// personal data shows as "changed".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    /// A reason or other context.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Whether the ledger accepted it.
    pub ok: bool,
    /// The refusal code, if refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<&'static str>,
}

/// A page of the audit trail.
#[derive(Serialize, ToSchema)]
pub struct AuditReply {
    /// Entries, oldest first.
    pub entries: Vec<AuditEntryReply>,
    /// The cursor of the next page (`after_seq`), if this one was full.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_after_seq: Option<u64>,
    /// The sequence number this answer is current to.
    pub as_of_seq: u64,
}

/// A page of the audit trail, oldest first (admins, compliance).
#[utoipa::path(get, path = "/operator/v1/audit", tag = "operator",
    params(AuditQuery), security(("bearer" = [])),
    responses((status = 200, body = AuditReply), RoleErrors, LedgerErrors,
        (status = 400, body = ErrorBody, description = "invalid_request (a bad query parameter, limit outside 1–1000, from_ms after to_ms)")))]
pub async fn audit(State(state): State<AppState>, uri: Uri) -> Result<Response, ApiError> {
    let query = parse(&uri)?;
    if query.format.is_some() {
        return Err(ApiError::bad_request(
            "invalid_request",
            "format is for /operator/v1/audit/export",
        ));
    }
    let limit = edge::wire::page_limit(query.limit, 100, PAGE_MAX)?;
    let filter = filter(&query)?;
    let (entries, as_of_seq) = read(&state, move |c| audit::entries(c, &filter, limit)).await?;
    let next_after_seq = (entries.len() == limit)
        .then(|| entries.last().map(|e| e.seq))
        .flatten();
    ok(
        StatusCode::OK,
        &AuditReply {
            entries: entries.into_iter().map(reply).collect(),
            next_after_seq,
            as_of_seq,
        },
    )
}

/// The audit trail as a file, oldest first, at most 100,000 entries
/// (admins, compliance): CSV with a header row, or a JSON array. The
/// `x-croupier-as-of-seq` header says what it is current to.
#[utoipa::path(get, path = "/operator/v1/audit/export", tag = "operator",
    params(AuditQuery), security(("bearer" = [])),
    responses(
        (status = 200, description = "CSV with a header row (format=csv, the default), or a JSON array of entries (format=json)",
            content((String = "text/csv"), (Vec<AuditEntryReply> = "application/json"))),
        RoleErrors, LedgerErrors,
        (status = 400, body = ErrorBody, description = "invalid_request (a bad query parameter, format not csv or json, from_ms after to_ms)")))]
pub async fn export(State(state): State<AppState>, uri: Uri) -> Result<Response, ApiError> {
    let query = parse(&uri)?;
    if query.limit.is_some() {
        return Err(ApiError::bad_request(
            "invalid_request",
            "an export has no limit: narrow it by time",
        ));
    }
    let csv = match query.format.as_deref() {
        None | Some("csv") => true,
        Some("json") => false,
        Some(other) => {
            return Err(ApiError::bad_request(
                "invalid_request",
                format!("format {other:?}: csv or json"),
            ));
        }
    };
    let filter = filter(&query)?;
    let (entries, as_of_seq) = read(&state, move |c| audit::entries(c, &filter, EXPORT_MAX)).await?;
    let entries: Vec<AuditEntryReply> = entries.into_iter().map(reply).collect();
    let (content_type, body) = if csv {
        ("text/csv; charset=utf-8", to_csv(&entries))
    } else {
        ("application/json", edge::error::to_json(&entries))
    };
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (
                header::HeaderName::from_static("x-croupier-as-of-seq"),
                as_of_seq.to_string(),
            ),
        ],
        body,
    )
        .into_response())
}

fn parse(uri: &Uri) -> Result<AuditQuery, ApiError> {
    axum::extract::Query::<AuditQuery>::try_from_uri(uri)
        .map(|query| query.0)
        .map_err(|_| {
            ApiError::bad_request(
                "invalid_request",
                "query parameters are operator, player, kind, from_ms, to_ms, after_seq, limit (pages) and format (exports)",
            )
        })
}

fn filter(query: &AuditQuery) -> Result<AuditFilter, ApiError> {
    if let (Some(from), Some(to)) = (query.from_ms, query.to_ms)
        && from > to
    {
        return Err(ApiError::bad_request("invalid_request", "from_ms is after to_ms"));
    }
    if let Some(kind) = &query.kind
        && (kind.is_empty() || kind.len() > 64 || !kind.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
    {
        return Err(ApiError::bad_request(
            "invalid_request",
            "kind is a command kind: lower-case letters and _",
        ));
    }
    Ok(AuditFilter {
        operator: query.operator.map(OperatorId),
        player: query.player.map(PlayerId),
        kind: query.kind.clone(),
        from_ms: query.from_ms,
        to_ms: query.to_ms,
        after_seq: query.after_seq.unwrap_or(0),
    })
}

fn reply(entry: AuditEntry) -> AuditEntryReply {
    let (target_type, target) = match entry.target {
        Some(Target::Player(player)) => (Some("player"), Some(player.0)),
        Some(Target::Operator(operator)) => (Some("operator"), Some(u64::from(operator.0))),
        Some(Target::Aggregator(source)) => (Some("aggregator"), Some(u64::from(source.0))),
        None => (None, None),
    };
    AuditEntryReply {
        seq: entry.seq,
        time_ms: entry.time_ms,
        operator: entry.operator.0,
        operator_name: entry.operator_name,
        request_id: entry.request_id,
        kind: entry.kind,
        target_type,
        target,
        field: entry.field,
        before: entry.before,
        after: entry.after,
        detail: entry.detail,
        ok: entry.outcome.is_ok(),
        code: entry
            .outcome
            .rejection()
            .map(|rejection| wire::rejection(rejection, Currency::EUR).code),
    }
}

/// The CSV columns, in order.
const CSV_HEADER: &str =
    "seq,time_ms,operator,operator_name,request_id,kind,target_type,target,field,before,after,detail,ok,code";

fn to_csv(entries: &[AuditEntryReply]) -> Vec<u8> {
    let mut out = String::with_capacity(64 + entries.len() * 96);
    out.push_str(CSV_HEADER);
    out.push_str("\r\n");
    for e in entries {
        let fields = [
            e.seq.to_string(),
            e.time_ms.to_string(),
            e.operator.to_string(),
            e.operator_name.clone(),
            e.request_id.clone(),
            e.kind.clone(),
            e.target_type.unwrap_or_default().to_owned(),
            e.target.map(|t| t.to_string()).unwrap_or_default(),
            e.field.clone().unwrap_or_default(),
            e.before.clone().unwrap_or_default(),
            e.after.clone().unwrap_or_default(),
            e.detail.clone().unwrap_or_default(),
            e.ok.to_string(),
            e.code.unwrap_or_default().to_owned(),
        ];
        let row: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
        out.push_str(&row.join(","));
        out.push_str("\r\n");
    }
    out.into_bytes()
}

/// RFC 4180 quoting; a field that a spreadsheet would run as a formula is
/// prefixed with `'` (names and reasons are operator-typed text).
fn csv_field(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@']) && text.parse::<f64>().is_err() {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    if text.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}
