//! Reconciliation: a provider's settlement file (CSV) matched against the
//! payments the ledger settled through that provider, by the provider's
//! reference; the differences go to a queue that operators list and
//! resolve with a reason. Nothing here changes money: an import and a
//! resolution are journaled commands that the ledger checks and the read
//! model keeps (`readmodel::reconciliation`).
//!
//! The file: a header row naming at least `reference`, `currency` and
//! `amount` (other columns, such as a provider's fees or dates, are
//! ignored), then one row per settled payment: the provider's reference
//! (`pi_…`, `po_…`, a NOWPayments id), its ISO 4217 currency and its
//! decimal amount (positive; a payout's too). A reference twice in one file
//! is refused.
//!
//! Matching: a row whose reference the ledger settled (deposit confirmed
//! or charged back, withdrawal completed) under this provider matches if
//! the currency and the amount agree, else it is an `amount_mismatch` or
//! a `currency_mismatch`; a row the ledger has not settled is
//! `missing_in_ledger`; a payment the ledger settled in the window
//! (`from_ms`, `to_ms`: when it started) that the file lacks is
//! `missing_in_file`. The import's request id is a digest of the provider
//! and the file's bytes, so posting the same file again is a retry.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use edge::body::{JsonBody, JsonOrCsvBody, decode};
use edge::error::{ApiError, ErrorBody};
use edge::openapi::{BodyErrors, LedgerErrors, RoleErrors};
use edge::reads::read;
use edge::wire;
use edge::{AppState, Caller};
use engine::payments::{self, RECONCILIATION_ITEMS_MAX, ReconciliationGap, ReconciliationItem};
use engine::{Amount, Command, Currency, ExtId, Outcome, Reason};
use readmodel::cashier::{self, PaymentView};
use readmodel::reconciliation::{self as queue, ItemFilter, ItemView, gap_name};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Most rows one file may hold.
const ROWS_MAX: usize = 100_000;
/// Most differences in one page of the queue.
const PAGE_MAX: usize = 1_000;

/// One row of a settlement file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileRow {
    /// The provider's reference.
    pub reference: ExtId,
    /// Its currency.
    pub currency: Currency,
    /// Its amount.
    pub amount: Amount,
}

/// Where a file goes wrong.
fn bad_row(line: usize, message: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request("invalid_file", format!("line {line}: {message}"))
}

/// Parses a settlement file.
pub fn parse_file(bytes: &[u8]) -> Result<Vec<FileRow>, ApiError> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(bytes);
    let headers = reader.headers().map_err(|e| bad_row(1, e))?.clone();
    let column = |name: &str| {
        headers
            .iter()
            .position(|h| h.eq_ignore_ascii_case(name))
            .ok_or_else(|| {
                bad_row(
                    1,
                    format!("the header names no {name} column (reference, currency, amount)"),
                )
            })
    };
    let (reference, currency, amount) = (column("reference")?, column("currency")?, column("amount")?);
    let mut rows = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (n, record) in reader.records().enumerate() {
        let line = n + 2;
        let record = record.map_err(|e| bad_row(line, e))?;
        if rows.len() >= ROWS_MAX {
            return Err(bad_row(line, format!("a file holds at most {ROWS_MAX} rows")));
        }
        let field = |at: usize| record.get(at).unwrap_or("");
        let id = ExtId::new(field(reference)).map_err(|_| bad_row(line, "reference: 1–64 printable ASCII"))?;
        let code = field(currency).to_ascii_uppercase();
        let currency = Currency::from_code(&code).ok_or_else(|| bad_row(line, format!("unknown currency {code:?}")))?;
        let amount =
            Amount::parse_positive(field(amount), currency).map_err(|e| bad_row(line, format!("amount: {e}")))?;
        if !seen.insert(id.as_str().to_owned()) {
            return Err(bad_row(line, format!("reference {id} appears twice")));
        }
        rows.push(FileRow {
            reference: id,
            currency,
            amount,
        });
    }
    Ok(rows)
}

/// Whether the ledger counts `view` as settled by its provider.
fn settled(view: &PaymentView) -> bool {
    matches!(
        (view.kind.as_str(), view.state.as_str()),
        ("deposit", "confirmed" | "charged_back") | ("withdrawal", "completed")
    )
}

/// The ledger's side of one reference, as the matching needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LedgerSide {
    /// Its currency (`None`: one the ledger no longer knows).
    pub currency: Option<Currency>,
    /// Its amount.
    pub amount: Amount,
}

/// Compares the file with the ledger: `window` holds the payments the
/// ledger settled in the window, `elsewhere` those the file names that
/// the ledger settled outside it. The differences, by reference, and how
/// many rows matched.
pub fn compare(
    rows: &[FileRow],
    window: &BTreeMap<String, LedgerSide>,
    elsewhere: &BTreeMap<String, LedgerSide>,
) -> (u32, Vec<ReconciliationItem>) {
    let mut matched = 0u32;
    let mut items = BTreeMap::new();
    for row in rows {
        let found = window
            .get(row.reference.as_str())
            .or_else(|| elsewhere.get(row.reference.as_str()));
        let item = |gap, ledger_currency, ledger_amount| ReconciliationItem {
            reference: row.reference.clone(),
            gap,
            file_currency: row.currency,
            file_amount: row.amount,
            ledger_currency,
            ledger_amount,
        };
        let difference = match found {
            None => Some(item(ReconciliationGap::MissingInLedger, row.currency, Amount::ZERO)),
            Some(side) if side.currency != Some(row.currency) => Some(item(
                ReconciliationGap::CurrencyMismatch,
                side.currency.unwrap_or(row.currency),
                side.amount,
            )),
            Some(side) if side.amount != row.amount => {
                Some(item(ReconciliationGap::AmountMismatch, row.currency, side.amount))
            }
            Some(_) => None,
        };
        match difference {
            Some(item) => {
                items.insert(row.reference.as_str().to_owned(), item);
            }
            None => matched = matched.saturating_add(1),
        }
    }
    let in_file: std::collections::HashSet<&str> = rows.iter().map(|r| r.reference.as_str()).collect();
    for (reference, side) in window {
        if in_file.contains(reference.as_str()) {
            continue;
        }
        let (Ok(id), Some(currency)) = (ExtId::new(reference), side.currency) else {
            continue;
        };
        items.insert(
            reference.clone(),
            ReconciliationItem {
                reference: id,
                gap: ReconciliationGap::MissingInFile,
                file_currency: currency,
                file_amount: Amount::ZERO,
                ledger_currency: currency,
                ledger_amount: side.amount,
            },
        );
    }
    (matched, items.into_values().collect())
}

fn side(view: &PaymentView) -> LedgerSide {
    LedgerSide {
        currency: Currency::from_code(&view.currency),
        amount: Amount::from_minor(view.amount_minor),
    }
}

/// Which window of the ledger to compare.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct WindowQuery {
    /// Ledger payments started at or after this time, ms (default: all).
    pub from_ms: Option<u64>,
    /// Ledger payments started before this time, ms (default: all).
    pub to_ms: Option<u64>,
}

/// One difference as the API shows it.
#[derive(Serialize, ToSchema)]
pub struct DifferenceReply {
    /// The provider.
    pub provider: String,
    /// The file (a digest of its bytes).
    pub file: String,
    /// The provider's reference.
    pub reference: String,
    /// missing_in_ledger, missing_in_file, amount_mismatch, currency_mismatch.
    pub gap: String,
    /// The file's currency.
    pub file_currency: String,
    /// The file's amount (decimal; 0 if the file lacks the row).
    pub file_amount: String,
    /// The ledger's currency.
    pub ledger_currency: String,
    /// The ledger's amount (decimal; 0 if the ledger lacks the payment).
    pub ledger_amount: String,
    /// open or resolved.
    pub state: String,
    /// Why it was resolved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The source of the operator who resolved it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolved_by_source: Option<u32>,
}

fn decimal(minor: i64, code: &str) -> String {
    match Currency::from_code(code) {
        Some(currency) => wire::money(Amount::from_minor(minor), currency),
        None => minor.to_string(),
    }
}

fn difference_reply(view: &ItemView) -> DifferenceReply {
    DifferenceReply {
        provider: view.provider.clone(),
        file: view.file.clone(),
        reference: view.reference.clone(),
        gap: view.gap.clone(),
        file_currency: view.file_currency.clone(),
        file_amount: decimal(view.file_minor, &view.file_currency),
        ledger_currency: view.ledger_currency.clone(),
        ledger_amount: decimal(view.ledger_minor, &view.ledger_currency),
        state: view.state.clone(),
        reason: view.reason.clone(),
        resolved_by_source: view.resolved_by_source,
    }
}

fn item_reply(provider: &str, file: &str, item: &ReconciliationItem) -> DifferenceReply {
    DifferenceReply {
        provider: provider.to_owned(),
        file: file.to_owned(),
        reference: item.reference.as_str().to_owned(),
        gap: gap_name(item.gap).to_owned(),
        file_currency: item.file_currency.code().to_owned(),
        file_amount: wire::money(item.file_amount, item.file_currency),
        ledger_currency: item.ledger_currency.code().to_owned(),
        ledger_amount: wire::money(item.ledger_amount, item.ledger_currency),
        state: "open".into(),
        reason: None,
        resolved_by_source: None,
    }
}

/// What an import found.
#[derive(Serialize, ToSchema)]
#[schema(as = ReconciliationImportReply)]
pub struct ImportReply {
    /// The file's name in the queue: a digest of its bytes.
    pub file: String,
    /// Rows that matched the ledger.
    pub matched: u32,
    /// The differences, now in the queue.
    pub differences: Vec<DifferenceReply>,
}

/// The file's name: `sha256:` and the first 32 hex digits of its digest.
fn file_name(bytes: &[u8]) -> ExtId {
    let digest = ring::digest::digest(&ring::digest::SHA256, bytes);
    let name = format!("sha256:{}", hex::encode(&digest.as_ref()[..16]));
    ExtId::new(&name).expect("a prefix and 32 hex digits make a valid id")
}

/// Imports a provider's settlement file (CSV) and matches it against the
/// ledger; the differences go to the reconciliation queue. Nothing changes
/// money (admins, finance).
#[utoipa::path(post, path = "/operator/v1/reconciliation/{provider}", tag = "cashier",
    request_body(content = String, description = "CSV with a header row naming reference, currency and amount", content_type = "text/csv"),
    params(("provider" = String, Path, description = "stripe, nowpayments"), WindowQuery), security(("bearer" = [])),
    responses((status = 200, body = ImportReply), RoleErrors, LedgerErrors,
        (status = 400, body = ErrorBody, description = "invalid_file (a row that is not reference, currency, amount; a reference twice), invalid_request (a bad window)"),
        (status = 404, body = ErrorBody, description = "unknown_provider"),
        (status = 409, body = ErrorBody, description = "conflict (this file was imported before, when the ledger differed: its differences stand in the queue)"),
        (status = 413, body = ErrorBody, description = "body too large, reconciliation_too_large"),
        (status = 415, body = ErrorBody, description = "not text/csv")))]
pub async fn import(
    State(state): State<AppState>,
    caller: Caller,
    Path(provider): Path<String>,
    uri: Uri,
    body: JsonOrCsvBody,
) -> Result<Response, ApiError> {
    if !body.csv {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "the settlement file is CSV (content-type: text/csv)",
        ));
    }
    let window = axum::extract::Query::<WindowQuery>::try_from_uri(&uri)
        .map(|q| q.0)
        .map_err(|_| ApiError::bad_request("invalid_request", "query parameters are from_ms and to_ms"))?;
    let (from_ms, to_ms) = (window.from_ms.unwrap_or(0), window.to_ms.unwrap_or(i64::MAX as u64));
    if from_ms > to_ms {
        return Err(ApiError::bad_request("invalid_request", "from_ms is after to_ms"));
    }
    let provider_id = provider_id(&state, &provider)?;
    let rows = parse_file(&body.bytes)?;
    let file = file_name(&body.bytes);
    let name = provider.clone();
    let references: Vec<String> = rows.iter().map(|r| r.reference.as_str().to_owned()).collect();
    let ((window, elsewhere), _) = read(&state, move |c| {
        let limit = (ROWS_MAX + RECONCILIATION_ITEMS_MAX) as u32;
        let window: BTreeMap<String, LedgerSide> = cashier::settled(c, &name, from_ms, to_ms, limit)?
            .iter()
            .filter_map(|v| Some((v.reference.clone()?, side(v))))
            .collect();
        let mut elsewhere = BTreeMap::new();
        for reference in references.iter().filter(|r| !window.contains_key(*r)) {
            if let Some(view) = cashier::by_reference(c, &name, reference)?.filter(settled) {
                elsewhere.insert(reference.clone(), side(&view));
            }
        }
        Ok((window, elsewhere))
    })
    .await?;
    let (matched, items) = compare(&rows, &window, &elsewhere);
    let differences = items.iter().map(|i| item_reply(&provider, file.as_str(), i)).collect();
    let command = Command::Payments(payments::Command::ReconciliationImport {
        provider: provider_id,
        file: file.clone(),
        matched,
        items,
    });
    let request_id = crate::shared::derived_id_with(
        "recon",
        &engine::command::TxRef {
            source: caller.source,
            id: file.clone(),
        },
        &provider,
    );
    match caller.submit(&state, request_id, command).await? {
        Outcome::Accepted => edge::change::ok(
            StatusCode::OK,
            &ImportReply {
                file: file.as_str().to_owned(),
                matched,
                differences,
            },
        ),
        other => Err(edge::change::refusal(&other, Currency::EUR)),
    }
}

/// The provider named in a path: one of those configured.
fn provider_id(state: &AppState, name: &str) -> Result<ExtId, ApiError> {
    // Without a cashier no provider is configured: nothing to reconcile.
    let names = crate::shared::cashier(state).map(|c| c.names()).unwrap_or_default();
    if !names.contains(&name) {
        return Err(ApiError::not_found(
            "unknown_provider",
            format!("provider: one of {}", names.join(", ")),
        ));
    }
    ExtId::new(name).map_err(ApiError::internal)
}

/// Which differences.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct QueueQuery {
    /// Only this provider's.
    pub provider: Option<String>,
    /// Only in this state (open, resolved).
    pub state: Option<String>,
    /// Most returned, 1 to 1000 (default 100), oldest first.
    pub limit: Option<usize>,
}

/// A page of the queue.
#[derive(Serialize, ToSchema)]
pub struct QueueReply {
    /// Oldest first.
    pub differences: Vec<DifferenceReply>,
    /// The sequence number this answer is current to.
    pub as_of_seq: u64,
}

/// The reconciliation queue, filtered, oldest first (admins, finance,
/// compliance, read-only).
#[utoipa::path(get, path = "/operator/v1/reconciliation", tag = "cashier",
    params(QueueQuery), security(("bearer" = [])),
    responses((status = 200, body = QueueReply), RoleErrors, LedgerErrors,
        (status = 400, body = ErrorBody, description = "invalid_request (a bad query parameter)")))]
pub async fn list(State(state): State<AppState>, uri: Uri) -> Result<Response, ApiError> {
    let query = axum::extract::Query::<QueueQuery>::try_from_uri(&uri)
        .map(|q| q.0)
        .map_err(|_| ApiError::bad_request("invalid_request", "query parameters are provider, state and limit"))?;
    let limit = wire::page_limit(query.limit, 100, PAGE_MAX)?;
    let filter = ItemFilter {
        provider: query.provider,
        state: query.state,
        limit: limit as u32,
    };
    let (found, as_of_seq) = read(&state, move |c| queue::list(c, &filter)).await?;
    edge::change::ok(
        StatusCode::OK,
        &QueueReply {
            differences: found.iter().map(difference_reply).collect(),
            as_of_seq,
        },
    )
}

/// A resolution.
#[derive(Deserialize, ToSchema)]
#[schema(as = ReconciliationResolveRequest)]
#[serde(deny_unknown_fields)]
pub struct ResolveRequest {
    /// The file the difference came from (its `file` in the queue).
    pub file: String,
    /// Why it is resolved, 1 to 200 bytes.
    pub reason: String,
}

/// Resolves one difference with a reason (journaled; no money moves)
/// (admins, finance).
#[utoipa::path(post, path = "/operator/v1/reconciliation/{provider}/{reference}/resolve", tag = "cashier",
    request_body = ResolveRequest,
    params(("provider" = String, Path), ("reference" = String, Path, description = "the provider's reference")),
    security(("bearer" = [])),
    responses((status = 200, body = DifferenceReply), BodyErrors, RoleErrors, LedgerErrors,
        (status = 404, body = ErrorBody, description = "unknown_difference"),
        (status = 409, body = ErrorBody, description = "difference_resolved (resolved already)")))]
pub async fn resolve(
    State(state): State<AppState>,
    caller: Caller,
    Path((provider, reference)): Path<(String, String)>,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let request: ResolveRequest = decode(&body)?;
    let reason = Reason::new(&request.reason)
        .ok()
        .filter(|_| !request.reason.trim().is_empty() && request.reason.len() <= 200)
        .ok_or_else(|| ApiError::bad_request("invalid_request", "reason: 1 to 200 bytes of text"))?;
    let (file, reference_id) = (
        wire::ext_id(&request.file, "file")?,
        wire::ext_id(&reference, "reference")?,
    );
    let provider_id = wire::ext_id(&provider, "provider")?;
    let (found, _) = {
        let (p, f, r) = (provider.clone(), request.file.clone(), reference.clone());
        read(&state, move |c| queue::item(c, &p, &f, &r)).await?
    };
    let found = found.ok_or_else(|| ApiError::not_found("unknown_difference", "no such difference in the queue"))?;
    if found.state != "open" {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "difference_resolved",
            "this difference is resolved already",
        ));
    }
    let command = Command::Payments(payments::Command::ReconciliationResolve {
        provider: provider_id,
        file: file.clone(),
        reference: reference_id.clone(),
        reason: reason.clone(),
        operator: caller.id,
    });
    let id = crate::shared::derived_id_with(
        "resolve",
        &engine::command::TxRef {
            source: caller.source,
            id: reference_id,
        },
        &format!("{provider}\u{0}{}", file.as_str()),
    );
    match caller.submit(&state, id, command).await? {
        Outcome::Accepted => {
            let mut reply = difference_reply(&found);
            reply.state = "resolved".into();
            reply.reason = Some(reason.as_str().to_owned());
            reply.resolved_by_source = Some(caller.source.0);
            edge::change::ok(StatusCode::OK, &reply)
        }
        other => Err(edge::change::refusal(&other, Currency::EUR)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(reference: &str, currency: Currency, minor: i64) -> FileRow {
        FileRow {
            reference: ExtId::new(reference).unwrap(),
            currency,
            amount: Amount::from_minor(minor),
        }
    }

    #[test]
    fn files_parse_by_their_header_and_bad_rows_are_refused_with_their_line() {
        let file = b"created,Reference,amount,currency,fee\n2026-01-01,pi_1,10.50,eur,0.30\n2026-01-01,\"po_2\",0.00000100,BTC,0\n";
        assert_eq!(
            parse_file(file).unwrap(),
            vec![row("pi_1", Currency::EUR, 1050), row("po_2", Currency::BTC, 100)]
        );
        let refused = |bytes: &[u8]| parse_file(bytes).unwrap_err().message;
        assert!(refused(b"ref,currency,amount\n").contains("no reference column"));
        assert!(refused(b"reference,currency,amount\npi_1,EUR,1.005\n").starts_with("line 2: amount"));
        assert!(refused(b"reference,currency,amount\npi_1,EUR,-1\n").starts_with("line 2: amount"));
        assert!(refused(b"reference,currency,amount\npi_1,XXX,1\n").contains("unknown currency"));
        assert!(
            refused(b"reference,currency,amount\npi_1,EUR,1\npi_1,EUR,2\n")
                .contains("line 3: reference pi_1 appears twice")
        );
        assert!(refused(b"reference,currency,amount\n,EUR,1\n").starts_with("line 2: reference"));
    }

    #[test]
    fn comparison_reports_matches_and_each_kind_of_difference() {
        let ledger = |currency, minor| LedgerSide {
            currency: Some(currency),
            amount: Amount::from_minor(minor),
        };
        let window: BTreeMap<String, LedgerSide> = [
            ("same".to_owned(), ledger(Currency::EUR, 100)),
            ("short".to_owned(), ledger(Currency::EUR, 100)),
            ("other".to_owned(), ledger(Currency::GBP, 100)),
            ("unseen".to_owned(), ledger(Currency::EUR, 700)),
        ]
        .into();
        let elsewhere: BTreeMap<String, LedgerSide> = [("older".to_owned(), ledger(Currency::EUR, 5))].into();
        let rows = [
            row("same", Currency::EUR, 100),
            row("short", Currency::EUR, 90),
            row("other", Currency::EUR, 100),
            row("stray", Currency::EUR, 40),
            row("older", Currency::EUR, 5),
        ];
        let (matched, items) = compare(&rows, &window, &elsewhere);
        assert_eq!(matched, 2);
        let gaps: Vec<(&str, ReconciliationGap, i64, i64)> = items
            .iter()
            .map(|i| {
                (
                    i.reference.as_str(),
                    i.gap,
                    i.file_amount.minor(),
                    i.ledger_amount.minor(),
                )
            })
            .collect();
        assert_eq!(
            gaps,
            vec![
                ("other", ReconciliationGap::CurrencyMismatch, 100, 100),
                ("short", ReconciliationGap::AmountMismatch, 90, 100),
                ("stray", ReconciliationGap::MissingInLedger, 40, 0),
                ("unseen", ReconciliationGap::MissingInFile, 0, 700),
            ]
        );
        assert_eq!(items[0].ledger_currency, Currency::GBP);
    }
}
