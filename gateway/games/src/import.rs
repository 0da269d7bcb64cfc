//! `POST /operator/v1/games/import`: a provider's game list, as a JSON
//! array of games or CSV with a header row ([`crate::forms::CSV_COLUMNS`]).
//!
//! All or nothing: every row is parsed and checked first, by the forms and
//! by the ledger's own rules against the catalogue as it stands, and the
//! first bad row is a 400 naming the row and the field, with nothing
//! submitted. A good file is then one command per game that is new or
//! changed (unchanged games submit nothing), so a retried import finds
//! them unchanged. Between the check and the last command only a
//! concurrent change of the same catalogue could refuse one; the error
//! then says how many were applied.

use std::collections::HashMap;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use edge::body::JsonOrCsvBody;
use edge::change::ok;
use edge::error::{ApiError, ErrorBody};
use edge::openapi::{LedgerErrors, RoleErrors};
use edge::view::View;
use edge::{AppState, Caller};
use engine::games::{self, GAMES_MAX, Game};
use engine::{Currency, SourceId};
use serde::Serialize;
use utoipa::ToSchema;

use crate::catalogue::submit;
use crate::forms::{self, AggregatorRef, CSV_COLUMNS, FieldError, GameBody};

/// Most games in one import.
pub const ROWS_MAX: usize = 10_000;

/// What an import did.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = GameImportReply)]
pub struct ImportReply {
    /// Games that were not in the catalogue.
    pub created: usize,
    /// Games whose record changed.
    pub updated: usize,
    /// Games already as the file has them (nothing submitted).
    pub unchanged: usize,
    /// Each row's game and what became of it, in file order.
    pub games: Vec<ImportedGame>,
}

/// One row's game.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportedGame {
    /// The row, from 1 (the header is not a row).
    pub row: usize,
    /// The aggregator's id.
    pub aggregator: u32,
    /// The game's code.
    pub code: String,
    /// created, updated or unchanged.
    pub result: &'static str,
}

/// A parsed row: its aggregator reference and code beside the game's form.
struct Row {
    aggregator: AggregatorRef,
    code: String,
    body: GameBody,
}

/// Imports a provider's game list (admins, compliance): a JSON array of
/// games (each a game's record with its `aggregator`, an id or name, and
/// its `code`) or CSV (`content-type: text/csv`) with the header row
/// `aggregator,code,provider,name,type,volatility,rtp_variants_bp,rtp_default_bp,rtp_by_jurisdiction,limits,jurisdictions,enabled`
/// (lists `;`-separated: `9450;9650`, `GB:9450`, `EUR:0.10:50.00`, `MT;GB`).
#[utoipa::path(post, path = "/operator/v1/games/import", tag = "games",
    request_body(content = Vec<serde_json::Value>, description = "a JSON array of games, or CSV (text/csv) with a header row", content_type = "application/json"),
    security(("bearer" = [])),
    responses((status = 200, body = ImportReply), RoleErrors, LedgerErrors,
        (status = 400, body = ErrorBody, description = "invalid_import: the row and field at fault (nothing was submitted); malformed_json"),
        (status = 413, body = ErrorBody, description = "body_too_large"),
        (status = 415, body = ErrorBody, description = "unsupported_media_type: JSON or CSV")))]
pub async fn import(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: JsonOrCsvBody,
) -> Result<Response, ApiError> {
    let rows = if body.csv {
        csv_rows(&body.bytes)?
    } else {
        json_rows(&body.bytes)?
    };
    let planned = plan(&state.view.read(), &caller, rows)?;
    let mut reply = ImportReply {
        created: 0,
        updated: 0,
        unchanged: 0,
        games: Vec::with_capacity(planned.len()),
    };
    for (row, game, result) in planned {
        if result != "unchanged" {
            let command = games::Command::UpsertGame {
                game: Box::new(game.clone()),
                operator: caller.id,
            };
            // Each game its own command, under a fresh id: the Idempotency-Key
            // names one change, an import is many (a retry finds them unchanged).
            let mut fresh = headers.clone();
            fresh.remove(edge::change::IDEMPOTENCY_HEADER);
            if let Err(error) = submit(&state, &caller, &fresh, command).await {
                return Err(ApiError {
                    message: format!(
                        "row {row}: {}; the {} rows before it were applied",
                        error.message,
                        reply.games.len()
                    ),
                    ..error
                });
            }
        }
        match result {
            "created" => reply.created += 1,
            "updated" => reply.updated += 1,
            _ => reply.unchanged += 1,
        }
        reply.games.push(ImportedGame {
            row,
            aggregator: game.aggregator.0,
            code: game.code.to_string(),
            result,
        });
    }
    ok(StatusCode::OK, &reply)
}

fn invalid(row: usize, error: FieldError) -> ApiError {
    ApiError::bad_request(
        "invalid_import",
        format!("row {row}, field {}: {}", error.field, error.message),
    )
}

fn too_many(rows: usize) -> Result<(), ApiError> {
    if rows > ROWS_MAX {
        return Err(ApiError::bad_request(
            "invalid_import",
            format!("{rows} rows: an import holds at most {ROWS_MAX}"),
        ));
    }
    if rows == 0 {
        return Err(ApiError::bad_request("invalid_import", "the file holds no game"));
    }
    Ok(())
}

/// The rows of a JSON array: each an object with `aggregator` and `code`
/// beside a game's record.
fn json_rows(bytes: &[u8]) -> Result<Vec<Row>, ApiError> {
    let items: Vec<serde_json::Value> = edge::body::decode(bytes)?;
    too_many(items.len())?;
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| {
            let row = i + 1;
            let serde_json::Value::Object(mut object) = item else {
                return Err(invalid(row, field("row", "not a JSON object")));
            };
            let aggregator = object
                .remove("aggregator")
                .ok_or_else(|| invalid(row, field("aggregator", "missing")))
                .and_then(|value| {
                    serde_json::from_value::<AggregatorRef>(value)
                        .map_err(|_| invalid(row, field("aggregator", "an id or a name")))
                })?;
            let code = match object.remove("code") {
                Some(serde_json::Value::String(code)) => code,
                _ => return Err(invalid(row, field("code", "missing, or not a string"))),
            };
            let body = serde_json::from_value::<GameBody>(serde_json::Value::Object(object))
                .map_err(|e| invalid(row, field("record", e.to_string())))?;
            Ok(Row { aggregator, code, body })
        })
        .collect()
}

/// The rows of a CSV file whose first line is the header.
fn csv_rows(bytes: &[u8]) -> Result<Vec<Row>, ApiError> {
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(bytes);
    let header = reader
        .headers()
        .map_err(|e| ApiError::bad_request("invalid_import", format!("the header row: {e}")))?;
    let names: Vec<&str> = header.iter().map(str::trim).collect();
    if names != CSV_COLUMNS {
        return Err(ApiError::bad_request(
            "invalid_import",
            format!("the header row must be {}", CSV_COLUMNS.join(",")),
        ));
    }
    let mut rows = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let row = i + 1;
        let record = record.map_err(|e| invalid(row, field("row", e.to_string())))?;
        let (aggregator, code, body) = forms::csv_row(&record).map_err(|e| invalid(row, e))?;
        rows.push(Row {
            aggregator: AggregatorRef::Name(aggregator),
            code,
            body,
        });
        if rows.len() > ROWS_MAX {
            return Err(ApiError::bad_request(
                "invalid_import",
                format!("an import holds at most {ROWS_MAX} rows"),
            ));
        }
    }
    too_many(rows.len())?;
    Ok(rows)
}

fn field(name: &str, message: impl Into<String>) -> FieldError {
    FieldError {
        field: name.to_owned(),
        message: message.into(),
    }
}

/// Every row checked (forms, then the ledger's rules against the view's
/// catalogue, then repeats and room), with what it will do.
fn plan(view: &View, caller: &Caller, rows: Vec<Row>) -> Result<Vec<(usize, Game, &'static str)>, ApiError> {
    let mut seen: HashMap<(SourceId, String), usize> = HashMap::new();
    let mut planned = Vec::with_capacity(rows.len());
    let mut created = 0;
    for (i, row) in rows.into_iter().enumerate() {
        let number = i + 1;
        let source = forms::aggregator_ref(view, &row.aggregator)
            .ok_or_else(|| invalid(number, field("aggregator", "no such aggregator")))?;
        let code = forms::game_code(&row.code).map_err(|e| invalid(number, e))?;
        if let Some(first) = seen.insert((source, row.code.clone()), number) {
            return Err(invalid(number, field("code", format!("the same game as row {first}"))));
        }
        let game = row.body.to_game(source, code).map_err(|e| invalid(number, e))?;
        let command = games::Command::UpsertGame {
            game: Box::new(game.clone()),
            operator: caller.id,
        };
        if let Err(rejection) = view.games.check(&command, &view.access) {
            let error = edge::wire::rejection(&rejection, Currency::EUR);
            return Err(ApiError::bad_request(
                "invalid_import",
                format!("row {number}: {} ({})", error.message, error.code),
            ));
        }
        let result = match view.games.game(source, game.code.as_str()) {
            None => {
                created += 1;
                "created"
            }
            Some(current) if *current == game => "unchanged",
            Some(_) => "updated",
        };
        planned.push((number, game, result));
    }
    if view.games.games_len() + created > GAMES_MAX {
        return Err(ApiError::bad_request(
            "invalid_import",
            format!("{created} new games would pass the catalogue's {GAMES_MAX}"),
        ));
    }
    Ok(planned)
}
