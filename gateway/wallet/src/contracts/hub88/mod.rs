//! The Hub88-compatible wallet adapter: Hub88's seamless-wallet contract
//! (`/user/info`, `/user/balance`, `/transaction/{bet,win,rollback}`)
//! translated onto exactly the commands the native wallet API submits
//! ([`crate::seamless`]), so the ledger cannot tell the two apart.
//!
//! Hub88 lets the operator configure the wallet's base URL, so each Hub88
//! integration is an aggregator registered with an RSA public key and
//! mounted at `/hub88/{aggregator}/...` (the aggregator id, i.e. its source
//! id). Checks run in this order, each with its own status: the path names
//! an RSA aggregator (`RS_ERROR_INVALID_PARTNER`), the body is readable JSON
//! within the limit, `X-Hub88-Signature` is the aggregator's RSA-SHA256 of
//! the exact body (`RS_ERROR_INVALID_SIGNATURE`), the body has the contract's
//! shape and types, the token names a session of this aggregator and of the
//! request's `user`, the values are valid; only then does anything reach
//! the ring. Business answers are HTTP 200 with a status; only when the
//! outcome is unknown (busy ring, stopping server, commit in doubt) is the
//! HTTP status 503/500, so that Hub88 retries with the same
//! `transaction_uuid`. Every response to an authenticated request is signed
//! with the operator's key; partner and signature refusals are not (nor do
//! they echo `request_uuid`).
//!
//! Idempotency is the ledger's: `transaction_uuid` is the request id, so a
//! retry gets the recorded outcome (status and balance of that moment) and
//! the same uuid with another amount, currency, round, game, token, kind or
//! referenced bet is `RS_ERROR_DUPLICATE_TRANSACTION`. A win names the bet
//! it pays (`reference_transaction_uuid`); the ledger refuses it if that bet
//! is unknown (`RS_ERROR_TRANSACTION_DOES_NOT_EXIST`) or was rolled back
//! (`RS_ERROR_TRANSACTION_ROLLED_BACK`), in the same step as the payout. The response echoes the retry's own
//! `request_uuid`, as Hub88 requires: a retry with the same bytes gets the
//! same bytes.

/// Hub88's wire, from the protocol crate the tools share.
pub use protocol::hub88 as wire;

use std::sync::Arc;

use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use edge::AppState;
use edge::body::JsonBody;
use edge::error::{ApiError, json_response, to_json};
use edge::openapi::partner_failure;
use engine::GameRefusal;
use engine::command::{Bet, RoundRef, Win, WinKind};
use engine::gaming;
use engine::ledger::Session;
use engine::{AggregatorCredential, Amount, Command, Currency, ExtId, GameCode, Outcome, Rejection, RoundId, SourceId};
use protocol::rsa_signature;
use utoipa::openapi::response::Response as ApiResponse;

use self::wire::{Reply, Stake, Status};
use crate::contracts::{Refusal, Stop};
use crate::seamless::{self, SessionRef};

pub use protocol::hub88::SIGNATURE_HEADER;

/// Which call of the contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Call {
    UserInfo,
    Balance,
    Bet,
    Win,
    Rollback,
}

/// Runs one call and signs its answer.
async fn serve(
    state: AppState,
    partner: &str,
    headers: HeaderMap,
    body: Result<JsonBody, ApiError>,
    call: Call,
) -> Response {
    // A follower answers as its engine would (`not_leader`), before its
    // view, which may lag the leader's, could refuse the partner or token.
    if let Some(error) = state.engine.following() {
        return signed(&state, error.status, &Reply::status(Status::Unknown, None)).await;
    }
    let (source, bytes) = match checked(&state, partner, &headers, &body) {
        Ok(checked) => checked,
        // Nothing is signed or echoed before the caller is authenticated: a
        // signature costs CPU a stranger must not be able to spend, and ours
        // must never cover bytes a stranger chose.
        Err(status) => return json_response(StatusCode::OK, to_json(&Reply::status(status, None))),
    };
    // Bounded by the request's deadline here, so that a late answer is
    // still Hub88's (`RS_ERROR_UNKNOWN`, signed).
    let result = edge::submit::bounded(run(&state, source, bytes, call))
        .await
        .unwrap_or_else(|late| Err(late.into()));
    let request_uuid = || wire::request_uuid_of(bytes);
    let (http, reply) = match result {
        Ok(reply) => (StatusCode::OK, reply),
        Err(Stop::Refused(status, _)) => (StatusCode::OK, Reply::status(status, request_uuid())),
        Err(Stop::Engine(error)) => (error.status, Reply::status(Status::Unknown, request_uuid())),
    };
    if reply.status != Status::Ok {
        tracing::debug!(?call, status = ?reply.status, "hub88 refusal");
    }
    signed(&state, http, &reply).await
}

/// The partner, a readable body and its signature: returns the aggregator
/// and the verified bytes.
fn checked<'a>(
    state: &AppState,
    partner: &str,
    headers: &HeaderMap,
    body: &'a Result<JsonBody, ApiError>,
) -> Result<(SourceId, &'a [u8]), Status> {
    let source = partner.parse().map(SourceId).map_err(|_| Status::InvalidPartner)?;
    let Some(AggregatorCredential::RsaPublicKey(key)) = seamless::credential(state, source) else {
        return Err(Status::InvalidPartner);
    };
    // A wrong content type or an oversized body cannot even be checked.
    let body = body.as_ref().map_err(|_| Status::WrongSyntax)?;
    let signature = headers
        .get(SIGNATURE_HEADER)
        .and_then(|value| value.to_str().ok())
        .ok_or(Status::InvalidSignature)?;
    rsa_signature::verify(&key, &body.0, signature).map_err(|_| Status::InvalidSignature)?;
    Ok((source, &body.0))
}

async fn run(state: &AppState, source: SourceId, body: &[u8], call: Call) -> Result<Reply, Stop<Status>> {
    match call {
        Call::UserInfo => user_info(state, body).await,
        Call::Balance => balance(state, source, body).await,
        Call::Bet | Call::Win => transaction(state, source, body, call).await,
        Call::Rollback => rollback(state, source, body).await,
    }
}

/// Who a user is: Hub88 asks operators for every detail they hold. From
/// the player's profile (through the PAM module's directory): the country
/// of residence, the date of birth and the affiliate code; the registration
/// date from the read model; the licensing authority from the player's
/// jurisdiction (`licensing_authority`); `sub_partner_id`, Hub88's name for
/// the operator's brand or site, from the brand the player registered with
/// (none for the default brand: an operator with one site has no
/// sub-partner). Not sent: `sex` (registration does not collect it, and
/// nothing else needs it) and `tags` (free labels for which we have no
/// source: a segment is live membership, not a label). An erased player is
/// reported with its registration date and brand only, and the
/// jurisdiction's code as its country.
async fn user_info(state: &AppState, body: &[u8]) -> Result<Reply, Stop<Status>> {
    let request: wire::UserInfoRequest = wire::decode(body)?;
    let found = wire::user_player(&request.user).and_then(|id| Some((id, state.view.read().player(id)?)));
    let Some((id, player)) = found else {
        return Err(Status::Unknown.into());
    };
    let facts = match state.directory() {
        Some(directory) => directory.facts(state, id).await?.unwrap_or_default(),
        None => Default::default(),
    };
    let (attribution, _) = edge::reads::read(state, move |c| readmodel::marketing::attribution(c, id)).await?;
    let sub_partner_id = attribution
        .map(|attribution| attribution.brand)
        .filter(|brand| brand != readmodel::marketing::DEFAULT_BRAND);
    Ok(Reply {
        user: Some(request.user),
        country: Some(facts.country.unwrap_or_else(|| player.jurisdiction.as_str().to_owned())),
        jurisdiction: licensing_authority(player.jurisdiction.as_str()),
        birth_date: facts.birth_date,
        registration_date: facts.registered_at_ms.and_then(utc_date),
        affiliate_id: facts.affiliate_code,
        sub_partner_id,
        ..Reply::status(Status::Ok, Some(request.request_uuid))
    })
}

/// The licensing authority Hub88 names (its example: `MGA`) for the
/// jurisdictions whose regulator is unambiguous.
fn licensing_authority(jurisdiction: &str) -> Option<&'static str> {
    Some(match jurisdiction {
        "MT" => "MGA",
        "GB" => "UKGC",
        "SE" => "SGA",
        "DK" => "DGA",
        "EE" => "EMTA",
        "ES" => "DGOJ",
        "IT" => "ADM",
        "NL" => "KSA",
        "DE" => "GGL",
        "IE" => "GRAI",
        "IM" => "GSC",
        _ => return None,
    })
}

/// `YYYY-MM-DD` (UTC) of a time in ms since the epoch.
fn utc_date(ms: u64) -> Option<String> {
    let nanos = i128::from(ms).checked_mul(1_000_000)?;
    let date = time::OffsetDateTime::from_unix_timestamp_nanos(nanos).ok()?.date();
    Some(format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    ))
}

async fn balance(state: &AppState, source: SourceId, body: &[u8]) -> Result<Reply, Stop<Status>> {
    let request: wire::BalanceRequest = wire::decode(body)?;
    let session = session(state, source, &request.token, &request.user)?;
    let outcome = seamless::balance(state, source, &session.session).await?;
    Ok(render(&outcome, &session.session, request.request_uuid, Call::Balance))
}

async fn transaction(state: &AppState, source: SourceId, body: &[u8], call: Call) -> Result<Reply, Stop<Status>> {
    let request: wire::TransactionRequest = wire::decode(body)?;
    let session = session(state, source, &request.token, &request.user)?;
    let command = match transaction_command(&request, &session.session, call) {
        Ok(command) => command,
        // Refused before the ledger, but answered like the ledger's own
        // refusals: with the wallet's balance.
        Err(Status::WrongCurrency) => {
            let outcome = seamless::balance(state, source, &session.session).await?;
            let reply = render(&outcome, &session.session, request.request_uuid, call);
            return Ok(Reply {
                status: Status::WrongCurrency,
                ..reply
            });
        }
        Err(status) => return Err(status.into()),
    };
    let id = ext_id(&request.transaction_uuid)?;
    let outcome = seamless::in_session(state, source, id, &session, command).await?;
    Ok(render(&outcome, &session.session, request.request_uuid, call))
}

async fn rollback(state: &AppState, source: SourceId, body: &[u8]) -> Result<Reply, Stop<Status>> {
    let request: wire::RollbackRequest = wire::decode(body)?;
    let session = session(state, source, &request.token, &request.user)?;
    let command = Command::Gaming(gaming::Command::Rollback {
        player: session.session.player,
        bet: ext_id(&request.reference_transaction_uuid)?,
    });
    let id = ext_id(&request.transaction_uuid)?;
    let outcome = seamless::in_session(state, source, id, &session, command).await?;
    Ok(render(&outcome, &session.session, request.request_uuid, Call::Rollback))
}

/// The session of `token`, which must be this aggregator's and `user`'s.
fn session(state: &AppState, source: SourceId, token: &str, user: &str) -> Result<SessionRef, Status> {
    let session = seamless::session(state, source, token).ok_or(Status::InvalidToken)?;
    if wire::user_player(user) != Some(session.session.player) {
        return Err(Status::InvalidToken);
    }
    Ok(session)
}

fn ext_id(text: &str) -> Result<ExtId, Status> {
    ExtId::new(text).map_err(|_| Status::WrongSyntax)
}

/// The engine command of a bet or a win. A free-round bet (`is_free`, or a
/// supplier promotion's, `is_supplier_promo`) stakes nothing: it is
/// recorded as a zero promotional win on its round (the ledger refuses zero
/// bets), which keeps it idempotent and journaled; its winnings come as a
/// promotional win. A jackpot win is a jackpot win. A win's amount is
/// rounded down to the currency's minor unit (see [`wire::amount`]).
fn transaction_command(request: &wire::TransactionRequest, session: &Session, call: Call) -> Result<Command, Status> {
    let promo = request.is_supplier_promo == Some(true);
    let jackpot = request.jackpot_win == Some(true);
    let paid_bet = match (call, &request.reference_transaction_uuid, request.jackpot_win) {
        (Call::Bet, None, None) => None,
        // The ledger checks the bet a win names, atomically with the payout.
        (Call::Win, Some(reference), _) => Some(ext_id(reference)?),
        // A supplier promotion's or a jackpot's win may pay no bet.
        (Call::Win, None, _) if promo || jackpot => None,
        _ => return Err(Status::WrongSyntax),
    };
    // The currency before the amount: the amount's granularity depends on
    // it, and a stake in another currency is a wrong currency, not bad syntax.
    let currency = Currency::from_code(&request.currency)
        .filter(|currency| *currency == session.currency)
        .ok_or(Status::WrongCurrency)?;
    let free = request.is_free == Some(true) || promo;
    let stake = match call {
        Call::Bet if !free => Stake::Positive,
        Call::Bet => Stake::NonNegative,
        _ => Stake::Payout,
    };
    let amount = wire::amount(&request.amount, currency, stake)?;
    let round = RoundRef {
        id: RoundId::new(&request.round).map_err(|_| Status::WrongSyntax)?,
        game: GameCode::new(&request.game_code).map_err(|_| Status::InvalidGame)?,
    };
    let close_round = request.round_closed == Some(true);
    let player = session.player;
    let (amount, kind) = match call {
        Call::Bet if free => (Amount::ZERO, WinKind::Promotional),
        Call::Bet => {
            return Ok(Command::from(Bet {
                player,
                currency,
                amount,
                round,
                close_round,
            }));
        }
        _ if jackpot => (amount, WinKind::Jackpot),
        _ if free => (amount, WinKind::Promotional),
        _ => (amount, WinKind::Regular),
    };
    Ok(Command::from(Win {
        player,
        currency,
        amount,
        round,
        kind,
        close_round,
        bet: paid_bet,
    }))
}

/// The reply of an outcome: only the recorded outcome and the request's
/// own uuid go in, so a retry renders the same bytes.
fn render(outcome: &Outcome, session: &Session, request_uuid: String, call: Call) -> Reply {
    let reply = |status| Reply {
        user: Some(wire::user_name(session.player)),
        ..Reply::status(status, Some(request_uuid.clone()))
    };
    match outcome {
        Outcome::Moved(receipt) => reply(Status::Ok).with_balances(&receipt.balances),
        // Hub88's transaction replies have no field for the reality check.
        Outcome::MovedInSession(session_move) => reply(Status::Ok).with_balances(&session_move.receipt.balances),
        Outcome::JackpotDropped(payout) | Outcome::JackpotPaid(payout) => {
            reply(Status::Ok).with_balances(&payout.receipt.balances)
        }
        Outcome::Balance(balances) => reply(Status::Ok).with_balances(balances),
        Outcome::RejectedInSession { rejection, balances } => reply(status_of(rejection, call)).with_balances(balances),
        Outcome::Rejected(rejection) => reply(status_of(rejection, call)),
        other => {
            tracing::error!(?other, "unexpected outcome of a wallet command");
            reply(Status::Unknown)
        }
    }
}

/// The Hub88 status of an engine refusal.
fn status_of(rejection: &Rejection, call: Call) -> Status {
    match rejection {
        // Hub88: a rollback of a transaction that cannot be found answers
        // RS_OK. The ledger left a tombstone: the bet is refused if it comes.
        Rejection::UnknownTransaction | Rejection::WrongTransactionKind if call == Call::Rollback => Status::Ok,
        Rejection::Conflict => Status::DuplicateTransaction,
        Rejection::CurrencyMismatch { .. } => Status::WrongCurrency,
        Rejection::PlayerBlocked(_) | Rejection::KycRequired { .. } | Rejection::DueDiligenceRequired => {
            Status::UserDisabled
        }
        Rejection::InsufficientFunds { .. } => Status::NotEnoughMoney,
        // Hub88's responsible-gaming status covers the session rules too.
        Rejection::LimitExceeded { .. }
        | Rejection::StakeCapExceeded { .. }
        | Rejection::RealityCheckDue { .. }
        | Rejection::SessionTimeLimitReached { .. } => Status::LimitReached,
        Rejection::InvalidAmount => Status::WrongSyntax,
        Rejection::UnknownRound | Rejection::UnknownTransaction => Status::TransactionDoesNotExist,
        Rejection::BetRolledBack | Rejection::AlreadyRolledBack => Status::TransactionRolledBack,
        Rejection::SessionExpired { .. } => Status::TokenExpired,
        Rejection::UnknownSession | Rejection::SessionMismatch => Status::InvalidToken,
        // Hub88 documents RS_ERROR_INVALID_GAME as an unknown game_code:
        // a game the catalogue lacks, has disabled or does not offer in
        // the player's jurisdiction is none this casino plays.
        Rejection::GameRefused(GameRefusal::Unknown | GameRefusal::Disabled | GameRefusal::JurisdictionNotAllowed) => {
            Status::InvalidGame
        }
        Rejection::GameRefused(GameRefusal::CurrencyNotOffered) => Status::WrongCurrency,
        // Hub88 has no status for a game's stake limits; its limit status
        // tells the game to show the player a limit rather than a fault.
        Rejection::StakeOutsideGameLimits { .. } | Rejection::BonusMaxBetExceeded { .. } => Status::LimitReached,
        _ => Status::Unknown,
    }
}

/// The reply's bytes with the operator's signature of exactly them. Signing
/// takes about 0.4 ms of CPU: it runs on the blocking pool.
async fn signed(state: &AppState, http: StatusCode, reply: &Reply) -> Response {
    let bytes = to_json(reply);
    let signer = Arc::clone(&state.rsa_signer);
    let signing = tokio::task::spawn_blocking(move || {
        let signature = signer.sign(&bytes);
        (bytes, signature)
    });
    match signing.await {
        Ok((bytes, Ok(signature))) => {
            let mut response = json_response(http, bytes);
            if let Ok(value) = HeaderValue::from_str(&signature) {
                response.headers_mut().insert(SIGNATURE_HEADER, value);
            }
            response
        }
        Ok((_, Err(error))) => unsigned(&error),
        Err(error) => unsigned(&error),
    }
}

fn unsigned(error: &dyn std::fmt::Display) -> Response {
    tracing::error!(%error, "cannot sign a hub88 response");
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "the response could not be signed",
    )
    .into_response()
}

/// A Hub88 answer without an outcome: Hub88's shape with
/// `RS_ERROR_UNKNOWN` (ring full, stopping, commit in doubt), or the error
/// body when the request timed out or the response could not be signed.
fn hub88_failure(description: &str) -> ApiResponse {
    partner_failure("Reply", description)
}

edge::responses! {
    /// The Hub88 routes' answers without an outcome: Hub88 retries them
    /// with the same transaction_uuid.
    Hub88Failures {
        500 => hub88_failure, "commit in doubt (RS_ERROR_UNKNOWN), or the response could not be signed";
        503 => hub88_failure, "busy or stopping (RS_ERROR_UNKNOWN), or timeout";
    }
}

impl Refusal for Status {}

/// A route of the contract (see [`partner_route`](super)).
macro_rules! route {
    ($($route:tt)*) => {
        partner_route! { serve(headers: HeaderMap, body: Result<JsonBody, ApiError>) $($route)* }
    };
}

route! {
    /// Who a user is (no token: any user of ours).
    #[utoipa::path(post, path = "/hub88/{aggregator}/user/info", tag = "hub88", request_body = wire::UserInfoRequest,
        params(("aggregator" = u32, Path, description = "the RSA aggregator's id"),
            ("x-hub88-signature" = String, Header, description = "base64 RSA-SHA256 of the body")),
        responses((status = 200, body = wire::Reply, description = "a status; signed in x-hub88-signature unless a partner or signature refusal"),
            Hub88Failures))]
    user_info_route => Call::UserInfo
}

route! {
    /// The session's balance (also after it expired).
    #[utoipa::path(post, path = "/hub88/{aggregator}/user/balance", tag = "hub88", request_body = wire::BalanceRequest,
        params(("aggregator" = u32, Path), ("x-hub88-signature" = String, Header)),
        responses((status = 200, body = wire::Reply), Hub88Failures))]
    balance_route => Call::Balance
}

route! {
    /// A stake (refused after the session expired, or by limits or exclusions).
    #[utoipa::path(post, path = "/hub88/{aggregator}/transaction/bet", tag = "hub88",
        request_body = wire::TransactionRequest, params(("aggregator" = u32, Path), ("x-hub88-signature" = String, Header)),
        responses((status = 200, body = wire::Reply), Hub88Failures))]
    bet_route => Call::Bet
}

route! {
    /// A payout (lands after expiry and despite limits or exclusions).
    #[utoipa::path(post, path = "/hub88/{aggregator}/transaction/win", tag = "hub88",
        request_body = wire::TransactionRequest, params(("aggregator" = u32, Path), ("x-hub88-signature" = String, Header)),
        responses((status = 200, body = wire::Reply), Hub88Failures))]
    win_route => Call::Win
}

route! {
    /// Cancels a bet; one never seen answers RS_OK and is refused if it comes later.
    #[utoipa::path(post, path = "/hub88/{aggregator}/transaction/rollback", tag = "hub88",
        request_body = wire::RollbackRequest, params(("aggregator" = u32, Path), ("x-hub88-signature" = String, Header)),
        responses((status = 200, body = wire::Reply), Hub88Failures))]
    rollback_route => Call::Rollback
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The play-session rules' refusals are Hub88's responsible-gaming status.
    #[test]
    fn the_session_rules_refusals_are_limit_reached() {
        for rejection in [
            Rejection::RealityCheckDue { due_at_ms: 1 },
            Rejection::SessionTimeLimitReached { limit_ms: 1 },
        ] {
            assert_eq!(status_of(&rejection, Call::Bet), Status::LimitReached, "{rejection:?}");
        }
    }
}
