//! Operator reads served from the read models (`croupier-readmodel`), never
//! through the sequencer: balances, transaction lookups and a player's
//! history, each current to every write acknowledged before it
//! ([`edge::reads`]).

use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use engine::{Currency, PlayerId, SourceId, TxRef};
use readmodel::history;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use edge::AppState;
use edge::error::{ApiError, ErrorBody};
use edge::openapi::{BearerErrors, LedgerErrors};
use edge::reads::read;
use edge::wire;

use crate::shared::{BalanceReply, balance_reply, ok, player};

/// Most movements in one page of history.
const HISTORY_PAGE_MAX: usize = 1_000;

/// Which wallet.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct CurrencyQuery {
    /// Currency code.
    pub currency: String,
}

/// A wallet's balances (every role).
#[utoipa::path(get, path = "/operator/v1/players/{player}/balance", tag = "operator",
    params(("player" = u64, Path), CurrencyQuery), security(("bearer" = [])),
    responses((status = 200, body = BalanceReply), BearerErrors, LedgerErrors,
        (status = 400, body = ErrorBody, description = "invalid_request (?currency=CODE is required), unknown_currency"),
        (status = 404, body = ErrorBody, description = "unknown_player"),
        (status = 422, body = ErrorBody, description = "currency_mismatch: the player has no wallet in that currency")))]
pub async fn balance(
    State(state): State<AppState>,
    Path(player_id): Path<String>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let Query(query) = Query::<CurrencyQuery>::try_from_uri(&uri)
        .map_err(|_| ApiError::bad_request("invalid_request", "?currency=CODE is required"))?;
    let currency = wire::currency(&query.currency)?;
    let player = player(&state, &player_id)?;
    let (found, as_of_seq) = read(&state, move |c| history::balances(c, player, currency)).await?;
    let balances = found.map_err(|rejection| wire::rejection(&rejection, currency))?;
    let mut reply = balance_reply(player, &balances, None);
    reply.as_of_seq = Some(as_of_seq);
    ok(StatusCode::OK, &reply)
}

/// What became of a request.
#[derive(Serialize, ToSchema)]
pub struct TransactionReply {
    /// Our transaction number (sequence number).
    pub seq: u64,
    /// When it was applied, ms since the epoch.
    pub time_ms: u64,
    /// done, rolled_back, tombstone, or the payment's state (initiated,
    /// confirmed, failed, requested, approved, rejected, completed).
    pub state: String,
    /// Whether it was accepted.
    pub ok: bool,
    /// The refusal code, if refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<&'static str>,
    /// The command's kind (bet, win, deposit_initiate ...).
    pub kind: String,
    /// The player it concerns, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub player: Option<u64>,
    /// The sequence number this answer is current to.
    pub as_of_seq: u64,
}

/// What became of a request, by the source that sent it and its id (every
/// role). Requests are remembered for ever here, also after the ledger's
/// idempotency retention has forgotten them.
#[utoipa::path(get, path = "/operator/v1/transactions/{source}/{id}", tag = "operator",
    params(("source" = u32, Path), ("id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = TransactionReply), BearerErrors, LedgerErrors,
        (status = 400, body = ErrorBody, description = "invalid_request: the id is not 1–64 printable ASCII, or the source not a number"),
        (status = 404, body = ErrorBody, description = "unknown_transaction")))]
pub async fn transaction(
    State(state): State<AppState>,
    Path((source, id)): Path<(u32, String)>,
) -> Result<Response, ApiError> {
    let tx = TxRef {
        source: SourceId(source),
        id: wire::ext_id(&id, "id")?,
    };
    let (found, as_of_seq) = read(&state, move |c| history::transaction(c, &tx)).await?;
    let view = found.ok_or_else(|| ApiError::not_found("unknown_transaction", "no such transaction"))?;
    ok(
        StatusCode::OK,
        &TransactionReply {
            seq: view.seq,
            time_ms: view.time_ms,
            state: view.state,
            ok: view.outcome.is_ok(),
            code: view
                .outcome
                .rejection()
                .map(|rejection| wire::rejection(rejection, Currency::EUR).code),
            kind: view.kind,
            player: view.player.map(|p| p.0),
            as_of_seq,
        },
    )
}

/// Which movements.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct HistoryQuery {
    /// Only this currency's wallet (all wallets if absent).
    pub currency: Option<String>,
    /// Only movements after this sequence number (paging: the last `seq` of
    /// the previous page). Default 0.
    pub after_seq: Option<u64>,
    /// Most movements returned, 1 to 1000. Default 100.
    pub limit: Option<usize>,
}

/// One change to a wallet.
#[derive(Serialize, ToSchema)]
pub struct MovementReply {
    /// The command's sequence number.
    pub seq: u64,
    /// When, ms since the epoch.
    pub time_ms: u64,
    /// The command's kind: bet, win, rollback, deposit_initiate,
    /// deposit_confirm, withdrawal_request, withdrawal_complete, adjust ...
    pub kind: String,
    /// Who sent it (source id) and its id there.
    pub source: u32,
    /// The command's id at its source.
    pub id: String,
    /// Currency code.
    pub currency: &'static str,
    /// Cash moved (negative: taken).
    pub cash_delta: String,
    /// Bonus moved.
    pub bonus_delta: String,
    /// Cash after.
    pub cash: String,
    /// Bonus after.
    pub bonus: String,
    /// Reserved (pending withdrawals) after.
    pub reserved: String,
}

/// A page of a player's history.
#[derive(Serialize, ToSchema)]
pub struct HistoryReply {
    /// Player id.
    pub player: u64,
    /// Movements, oldest first.
    pub movements: Vec<MovementReply>,
    /// Where the next page starts (`after_seq`), if this one was full.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_after_seq: Option<u64>,
    /// The sequence number this answer is current to.
    pub as_of_seq: u64,
}

/// A player's history: every movement of their money, deposit
/// confirmations and withdrawal settlements included, oldest first, in
/// pages (every role).
#[utoipa::path(get, path = "/operator/v1/players/{player}/history", tag = "operator",
    params(("player" = u64, Path), HistoryQuery), security(("bearer" = [])),
    responses((status = 200, body = HistoryReply), BearerErrors, LedgerErrors,
        (status = 400, body = ErrorBody, description = "invalid_request (a bad query parameter, limit outside 1–1000), unknown_currency"),
        (status = 404, body = ErrorBody, description = "unknown_player")))]
pub async fn history(
    State(state): State<AppState>,
    Path(player_id): Path<String>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let Query(query) = Query::<HistoryQuery>::try_from_uri(&uri)
        .map_err(|_| ApiError::bad_request("invalid_request", "query parameters are currency, after_seq and limit"))?;
    let currency = query.currency.as_deref().map(wire::currency).transpose()?;
    let limit = wire::page_limit(query.limit, 100, HISTORY_PAGE_MAX)?;
    let after_seq = query.after_seq.unwrap_or(0);
    let player: PlayerId = player(&state, &player_id)?;
    let (movements, as_of_seq) = read(&state, move |c| {
        if !history::player_exists(c, player)? {
            return Ok(None);
        }
        history::movements(c, player, currency, after_seq, limit).map(Some)
    })
    .await?;
    let movements = movements.ok_or_else(|| ApiError::not_found("unknown_player", "no such player"))?;
    let next_after_seq = (movements.len() == limit)
        .then(|| movements.last().map(|m| m.seq))
        .flatten();
    let movements = movements
        .into_iter()
        .map(|m| {
            let money = |amount| wire::money(amount, m.currency);
            MovementReply {
                seq: m.seq,
                time_ms: m.time_ms,
                kind: m.kind,
                source: m.source.0,
                id: m.id,
                currency: m.currency.code(),
                cash_delta: money(m.cash_delta),
                bonus_delta: money(m.bonus_delta),
                cash: money(m.balances.cash),
                bonus: money(m.balances.bonus),
                reserved: money(m.balances.reserved),
            }
        })
        .collect();
    ok(
        StatusCode::OK,
        &HistoryReply {
            player: player.0,
            movements,
            next_after_seq,
            as_of_seq,
        },
    )
}
