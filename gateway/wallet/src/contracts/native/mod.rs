//! The native wallet API, for aggregators integrating with us directly:
//! `authenticate`, `balance`, `bet`, `win`, `rollback`, `end-round`.
//!
//! Every request is signed ([`signature`]) and names a game session
//! by its game-launch token. Money commands go to the engine wrapped in
//! [`Command::InSession`], so the ledger checks the session (a bet needs it
//! unexpired; wins, rollbacks and round ends land after expiry) inside the
//! same idempotent step as the money: a retry with the same transaction id
//! gets the recorded outcome, rendered to the same bytes, and the same id
//! with any other field is a conflict. Every answer carries the player's
//! cash and bonus balances, refusals included, except those the engine
//! answers without a wallet (conflicts, unknown sessions).

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use engine::command::{Bet, Win, WinKind};
use engine::gaming;
use engine::ledger::Session;
use engine::rg::RealityCheck;
use engine::{AggregatorCredential, Command, Outcome, Rejection, SourceId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use edge::AppState;
use edge::body::{JsonBody, decode};
use edge::error::{ApiError, ErrorDetail, json_response, to_json};
use edge::openapi::{BodyErrors, LedgerErrors};
use edge::wire::{self, Money, RealityCheckReply, Sign};

use self::openapi::{SignatureHeaders, SignedErrors, WalletRefusals};
use crate::seamless::{self, SessionRef};

pub mod openapi;
pub mod signature;

/// A request naming only the session.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    /// The game-launch token.
    pub token: String,
}

/// A stake.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BetRequest {
    /// The game-launch token.
    pub token: String,
    /// The aggregator's id of this transaction (idempotency key), 1–64 printable ASCII.
    pub transaction_id: String,
    /// The aggregator's round id.
    pub round_id: String,
    /// The game's code.
    pub game: String,
    /// Currency code; must be the session's.
    pub currency: String,
    /// Decimal amount in the currency's unit, e.g. "2.50"; positive.
    pub amount: String,
    /// Close the round after this bet.
    #[serde(default)]
    pub close_round: bool,
}

/// What a win pays for.
#[derive(Clone, Copy, Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum WinKindWire {
    /// The result of a round (the round must be known).
    #[default]
    Regular,
    /// A jackpot.
    Jackpot,
    /// A promotion (e.g. a tournament prize).
    Promotional,
}

/// A payout.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WinRequest {
    /// The game-launch token (may have expired).
    pub token: String,
    /// The aggregator's id of this transaction.
    pub transaction_id: String,
    /// The round it pays.
    pub round_id: String,
    /// The game's code.
    pub game: String,
    /// Currency code; must be the session's.
    pub currency: String,
    /// Decimal amount, zero or more.
    pub amount: String,
    /// Regular (default), jackpot or promotional.
    #[serde(default)]
    pub kind: WinKindWire,
    /// Close the round after this win.
    #[serde(default)]
    pub close_round: bool,
    /// The transaction id of the bet this win pays (optional). When given,
    /// the win is refused if that bet is unknown (404 `unknown_transaction`)
    /// or was rolled back (409 `bet_rolled_back`), so a refunded stake is
    /// never also paid out.
    #[serde(default)]
    pub bet_transaction_id: Option<String>,
}

/// Cancels a bet.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RollbackRequest {
    /// The game-launch token (may have expired).
    pub token: String,
    /// The aggregator's id of this rollback.
    pub transaction_id: String,
    /// The transaction id of the bet to cancel.
    pub bet_transaction_id: String,
}

/// Closes a round.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndRoundRequest {
    /// The game-launch token (may have expired).
    pub token: String,
    /// The aggregator's id of this request.
    pub transaction_id: String,
    /// The round.
    pub round_id: String,
    /// The game's code.
    pub game: String,
}

/// A successful answer: the player's wallet after the request.
#[derive(Serialize, ToSchema)]
pub struct WalletReply {
    /// The player id.
    pub player: u64,
    /// Currency code.
    pub currency: &'static str,
    /// Cash balance.
    pub cash: String,
    /// Bonus balance.
    pub bonus: String,
    /// Our transaction number (the engine's sequence number), for money movements.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transaction: Option<u64>,
    /// Where the play session stands on its reality checks: present when
    /// the player has a reality-check interval and a session is open (bets
    /// are refused with `reality_check_due` once `due`). A client should
    /// ignore fields it does not know.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reality_check: Option<RealityCheckReply>,
    /// Present when an operator's jackpot pool paid the player in this
    /// request: a bet that won the pool's must-drop, or a jackpot win paid
    /// from the pool. `cash` already includes it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jackpot: Option<WalletJackpot>,
}

/// A jackpot pool's payout within a wallet request.
#[derive(Serialize, ToSchema)]
pub struct WalletJackpot {
    /// The pool's code.
    pub pool: String,
    /// What the pool paid.
    pub paid: String,
    /// `drop` (a must-drop won by this bet) or `win` (a jackpot win paid
    /// from the pool).
    pub how: &'static str,
}

/// A refusal with the player's wallet at that moment.
#[derive(Serialize, ToSchema)]
pub struct WalletRefusal {
    /// Why.
    pub error: ErrorDetail,
    /// The player id.
    pub player: u64,
    /// Currency code.
    pub currency: &'static str,
    /// Cash balance.
    pub cash: String,
    /// Bonus balance.
    pub bonus: String,
    /// For `reality_check_due`: where the play session stands (elapsed
    /// time, net position).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reality_check: Option<RealityCheckReply>,
}

fn finish(result: Result<Response, ApiError>) -> Response {
    result.unwrap_or_else(IntoResponse::into_response)
}

/// Checks the signature; returns the aggregator.
fn verified(state: &AppState, headers: &HeaderMap, body: &[u8]) -> Result<SourceId, ApiError> {
    // A follower's view may not hold the aggregator or session yet; the
    // call would end in `not_leader` anyway.
    if let Some(error) = state.engine.following() {
        return Err(error);
    }
    let signed = signature::parse(headers)?;
    let secret = match seamless::credential(state, signed.aggregator) {
        Some(AggregatorCredential::Hmac(secret)) => secret,
        Some(
            AggregatorCredential::RsaPublicKey(_)
            | AggregatorCredential::HashKey(_)
            | AggregatorCredential::AuthToken(_),
        ) => {
            return Err(ApiError::unauthorized(
                "wrong_contract",
                "this aggregator speaks its partner's contract (/hub88/..., /pragmatic/... or /evolution/{aggregator}/...)",
            ));
        }
        None => return Err(ApiError::unauthorized("unknown_aggregator", "no such aggregator")),
    };
    signature::verify(&signed, &secret, body, state.now_ms(), state.config.signature_window_ms)?;
    Ok(signed.aggregator)
}

/// The session of `token`, if it belongs to `aggregator`.
fn session(state: &AppState, aggregator: SourceId, token: &str) -> Result<SessionRef, ApiError> {
    seamless::session(state, aggregator, token)
        .ok_or_else(|| ApiError::unauthorized("unknown_token", "unknown game-launch token"))
}

/// Renders an outcome for the session's player; `check` is the session's
/// reality check read after a balance query or a `reality_check_due` refusal
/// (a movement's own outcome carries it).
fn render(outcome: &Outcome, session: &Session, check: Option<&RealityCheck>) -> Result<Response, ApiError> {
    let reply_with =
        |balances: &engine::Balances, transaction, check: Option<&RealityCheck>, jackpot: Option<WalletJackpot>| {
            let money = Money::of(balances);
            let body = WalletReply {
                player: session.player.0,
                currency: money.currency,
                cash: money.cash,
                bonus: money.bonus,
                transaction,
                reality_check: check.map(RealityCheckReply::of),
                jackpot,
            };
            json_response(StatusCode::OK, to_json(&body))
        };
    let reply = |balances: &engine::Balances, transaction, check: Option<&RealityCheck>| {
        reply_with(balances, transaction, check, None)
    };
    match outcome {
        Outcome::Moved(receipt) => Ok(reply(&receipt.balances, Some(receipt.seq), None)),
        Outcome::JackpotDropped(payout) | Outcome::JackpotPaid(payout) => {
            let receipt = &payout.receipt;
            let jackpot = WalletJackpot {
                pool: payout.pool.to_string(),
                paid: wire::money(payout.paid, receipt.balances.currency),
                how: if matches!(outcome, Outcome::JackpotDropped(_)) {
                    "drop"
                } else {
                    "win"
                },
            };
            Ok(reply_with(&receipt.balances, Some(receipt.seq), None, Some(jackpot)))
        }
        Outcome::MovedInSession(session_move) => {
            let receipt = &session_move.receipt;
            Ok(reply(
                &receipt.balances,
                Some(receipt.seq),
                Some(&session_move.reality_check),
            ))
        }
        Outcome::Balance(balances) => Ok(reply(balances, None, check)),
        Outcome::RejectedInSession { rejection, balances } => {
            let error = wire::rejection(rejection, balances.currency);
            let money = Money::of(balances);
            let body = WalletRefusal {
                error: ErrorDetail {
                    code: error.code,
                    message: error.message,
                },
                player: session.player.0,
                currency: money.currency,
                cash: money.cash,
                bonus: money.bonus,
                reality_check: check.map(RealityCheckReply::of),
            };
            Ok(json_response(error.status, to_json(&body)))
        }
        Outcome::Rejected(rejection) => Err(wire::rejection(rejection, session.currency)),
        other => {
            tracing::error!(?other, "unexpected outcome of a wallet command");
            Err(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "unexpected outcome",
            ))
        }
    }
}

/// Submits a wallet command within the session and renders the outcome.
async fn in_session(
    state: &AppState,
    source: SourceId,
    transaction_id: &str,
    session: SessionRef,
    command: Command,
) -> Result<Response, ApiError> {
    let id = wire::ext_id(transaction_id, "transaction_id")?;
    let outcome = seamless::in_session(state, source, id, &session, command).await?;
    // A bet refused for a due check says where the session stands (a read:
    // once per check, not on the money path).
    let check = match outcome.rejection() {
        Some(Rejection::RealityCheckDue { .. }) => seamless::reality_check(state, source, &session.session).await?,
        _ => None,
    };
    render(&outcome, &session.session, check.as_ref())
}

/// Reads the session's wallet, and where the play session stands.
async fn query_balance(state: &AppState, source: SourceId, session: &Session) -> Result<Response, ApiError> {
    let balance = seamless::balance(state, source, session).await?;
    let check = seamless::reality_check(state, source, session).await?;
    render(&balance, session, check.as_ref())
}

/// Exchanges a game-launch token for the player, currency and balances.
#[utoipa::path(post, path = "/wallet/v1/authenticate", tag = "wallet", request_body = TokenRequest,
    params(SignatureHeaders), responses((status = 200, body = WalletReply), BodyErrors, SignedErrors, LedgerErrors))]
pub async fn authenticate(State(state): State<AppState>, headers: HeaderMap, JsonBody(body): JsonBody) -> Response {
    finish(
        async {
            let source = verified(&state, &headers, &body)?;
            let request: TokenRequest = decode(&body)?;
            let session = session(&state, source, &request.token)?.session;
            if state.now_ms() >= session.expires_at_ms {
                return Err(ApiError::unauthorized("session_expired", "the game session has ended"));
            }
            query_balance(&state, source, &session).await
        }
        .await,
    )
}

/// The player's balances (also after the session expired).
#[utoipa::path(post, path = "/wallet/v1/balance", tag = "wallet", request_body = TokenRequest,
    params(SignatureHeaders), responses((status = 200, body = WalletReply), BodyErrors, SignedErrors, LedgerErrors))]
pub async fn balance(State(state): State<AppState>, headers: HeaderMap, JsonBody(body): JsonBody) -> Response {
    finish(
        async {
            let source = verified(&state, &headers, &body)?;
            let request: TokenRequest = decode(&body)?;
            let session = session(&state, source, &request.token)?.session;
            query_balance(&state, source, &session).await
        }
        .await,
    )
}

/// Takes a stake. Refused after the session expired, when a limit or an
/// exclusion blocks it, or without funds (with the balances).
#[utoipa::path(post, path = "/wallet/v1/bet", tag = "wallet", request_body = BetRequest, params(SignatureHeaders),
    responses((status = 200, body = WalletReply), BodyErrors, SignedErrors, WalletRefusals, LedgerErrors,
        (status = 422, body = WalletRefusal, description = "insufficient_funds, currency_mismatch, overflow")))]
pub async fn bet(State(state): State<AppState>, headers: HeaderMap, JsonBody(body): JsonBody) -> Response {
    finish(
        async {
            let source = verified(&state, &headers, &body)?;
            let request: BetRequest = decode(&body)?;
            let currency = wire::currency(&request.currency)?;
            let amount = wire::amount(&request.amount, currency, Sign::Positive, "amount")?;
            let round = wire::round(&request.round_id, &request.game)?;
            let session = session(&state, source, &request.token)?;
            let command = Command::from(Bet {
                player: session.session.player,
                currency,
                amount,
                round,
                close_round: request.close_round,
            });
            in_session(&state, source, &request.transaction_id, session, command).await
        }
        .await,
    )
}

/// Pays out. Accepted after the session expired and despite limits or exclusions.
#[utoipa::path(post, path = "/wallet/v1/win", tag = "wallet", request_body = WinRequest, params(SignatureHeaders),
    responses((status = 200, body = WalletReply), BodyErrors, SignedErrors, WalletRefusals, LedgerErrors,
        (status = 422, body = WalletRefusal, description = "currency_mismatch, overflow")))]
pub async fn win(State(state): State<AppState>, headers: HeaderMap, JsonBody(body): JsonBody) -> Response {
    finish(
        async {
            let source = verified(&state, &headers, &body)?;
            let request: WinRequest = decode(&body)?;
            let currency = wire::currency(&request.currency)?;
            let amount = wire::amount(&request.amount, currency, Sign::NonNegative, "amount")?;
            let round = wire::round(&request.round_id, &request.game)?;
            let kind = match request.kind {
                WinKindWire::Regular => WinKind::Regular,
                WinKindWire::Jackpot => WinKind::Jackpot,
                WinKindWire::Promotional => WinKind::Promotional,
            };
            let bet = request
                .bet_transaction_id
                .as_deref()
                .map(|id| wire::ext_id(id, "bet_transaction_id"))
                .transpose()?;
            let session = session(&state, source, &request.token)?;
            let command = Command::from(Win {
                player: session.session.player,
                currency,
                amount,
                round,
                kind,
                close_round: request.close_round,
                bet,
            });
            in_session(&state, source, &request.transaction_id, session, command).await
        }
        .await,
    )
}

/// Cancels a bet and refunds it. A rollback of a bet never seen is refused
/// (404) and remembered, so that the bet is refused if it arrives later.
#[utoipa::path(post, path = "/wallet/v1/rollback", tag = "wallet", request_body = RollbackRequest, params(SignatureHeaders),
    responses((status = 200, body = WalletReply), BodyErrors, SignedErrors, WalletRefusals, LedgerErrors,
        (status = 422, body = WalletRefusal, description = "overflow")))]
pub async fn rollback(State(state): State<AppState>, headers: HeaderMap, JsonBody(body): JsonBody) -> Response {
    finish(
        async {
            let source = verified(&state, &headers, &body)?;
            let request: RollbackRequest = decode(&body)?;
            let bet = wire::ext_id(&request.bet_transaction_id, "bet_transaction_id")?;
            let session = session(&state, source, &request.token)?;
            let command = Command::Gaming(gaming::Command::Rollback {
                player: session.session.player,
                bet,
            });
            in_session(&state, source, &request.transaction_id, session, command).await
        }
        .await,
    )
}

/// Closes a round: no more bets or wins on it.
#[utoipa::path(post, path = "/wallet/v1/end-round", tag = "wallet", request_body = EndRoundRequest,
    params(SignatureHeaders),
    responses((status = 200, body = WalletReply), BodyErrors, SignedErrors, WalletRefusals, LedgerErrors))]
pub async fn end_round(State(state): State<AppState>, headers: HeaderMap, JsonBody(body): JsonBody) -> Response {
    finish(
        async {
            let source = verified(&state, &headers, &body)?;
            let request: EndRoundRequest = decode(&body)?;
            let round = wire::round(&request.round_id, &request.game)?;
            let session = session(&state, source, &request.token)?;
            let command = Command::Gaming(gaming::Command::EndRound {
                player: session.session.player,
                round,
            });
            in_session(&state, source, &request.transaction_id, session, command).await
        }
        .await,
    )
}
