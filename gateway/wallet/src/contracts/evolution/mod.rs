//! The Evolution One Wallet adapter: Evolution's calls (`check`,
//! `balance`, `debit`, `credit`, `cancel`, `promo_payout`; JSON POSTs to
//! `/evolution/{aggregator}/<call>?authToken=…`) translated onto the
//! commands every contract submits ([`crate::seamless`]).
//!
//! The aggregator is one registered for Evolution: the server made its
//! `authToken` and keeps only the token's digest
//! ([`engine::AggregatorCredential::AuthToken`]). Checks run in this order:
//! the path names such an aggregator and `authToken` is its token
//! (`INVALID_TOKEN_ID`), the body parses (`INVALID_PARAMETER`; fields we do
//! not know are ignored), `sid` is a game-launch token of this aggregator
//! and `userId`'s player (`INVALID_SID`), the currency is the session's and
//! the values are valid (`INVALID_PARAMETER`); only then does anything
//! reach the ring. Answers are HTTP 200 with a status; only an unknown
//! outcome (busy, stopping, commit in doubt) is a 503/500 with
//! `TEMPORARY_ERROR`, which Evolution retransmits.
//!
//! A debit is the bet `refId` names (its idempotency key). Its one
//! settlement, a credit (a win naming the bet) or a cancel (a rollback),
//! is keyed by the same `refId`, so a second settlement of either kind is
//! `BET_ALREADY_SETTLED` (a retransmission of the first, with the same
//! amount, answers as the first did, with today's balance); a settlement of
//! a debit we never took is `BET_DOES_NOT_EXIST`, and a cancel of one
//! leaves the ledger's tombstone, so the late debit is `BET_ALREADY_SETTLED`.
//! `promo_payout` pays a promotion (a `JackpotWin` a jackpot win) to cash.
//! Amounts are JSON numbers in major units, read exactly ([`wire`]).

pub mod wire;

use axum::extract::Query;
use axum::extract::rejection::QueryRejection;
use axum::http::StatusCode;
use axum::response::Response;
use edge::AppState;
use edge::body::JsonBody;
use edge::error::{ApiError, json_response};
use edge::openapi::partner_failure;
use engine::command::{Bet, RoundRef, Win, WinKind};
use engine::ledger::Session;
use engine::{AggregatorCredential, Command, Currency, ExtId, GameCode, Outcome, Rejection, RoundId, SourceId, gaming};
use serde::Serialize;
use utoipa::ToSchema;

use self::wire::{Auth, Reply, Request, Status};
use crate::contracts::{Refusal, Stop};
use crate::seamless::{self, SessionRef};

/// Which call of the contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Call {
    Check,
    Balance,
    Debit,
    Credit,
    Cancel,
    PromoPayout,
}

/// Runs one call.
async fn serve(
    state: AppState,
    partner: &str,
    query: Result<Query<Auth>, QueryRejection>,
    body: Result<JsonBody, ApiError>,
    call: Call,
) -> Response {
    let body = body.map(|JsonBody(bytes)| bytes);
    let uuid = body.as_ref().ok().and_then(|bytes| wire::uuid_of(bytes));
    // A follower answers as its engine would (`not_leader`), before its
    // view, which may lag the leader's, could refuse the token or session.
    let caller = match state.engine.following() {
        Some(error) => Err(Stop::Engine(error)),
        None => authorized(&state, partner, query).map_err(Stop::from),
    };
    let result = match caller {
        Ok(source) => match &body {
            // Bounded by the request's deadline here, so that a late
            // answer is still Evolution's (`TEMPORARY_ERROR`).
            Ok(bytes) => edge::submit::bounded(run(&state, source, bytes, call))
                .await
                .unwrap_or_else(|late| Err(late.into())),
            Err(_) => Err(Status::InvalidParameter.into()),
        },
        Err(stop) => Err(stop),
    };
    let (http, bytes) = match result {
        Ok(reply) => (StatusCode::OK, reply.render(Status::Ok, uuid.as_deref())),
        Err(Stop::Refused(status, balances)) => {
            tracing::debug!(?call, ?status, "evolution refusal");
            let reply = Reply { sid: None, balances };
            (StatusCode::OK, reply.render(status, uuid.as_deref()))
        }
        Err(Stop::Engine(error)) => (
            error.status,
            Reply::default().render(Status::TemporaryError, uuid.as_deref()),
        ),
    };
    json_response(http, bytes)
}

/// The aggregator the path names, if `authToken` is its token.
fn authorized(state: &AppState, partner: &str, query: Result<Query<Auth>, QueryRejection>) -> Result<SourceId, Status> {
    let source = partner.parse().map(SourceId).map_err(|_| Status::InvalidTokenId)?;
    let Some(AggregatorCredential::AuthToken(digest)) = seamless::credential(state, source) else {
        return Err(Status::InvalidTokenId);
    };
    let token = query.ok().and_then(|Query(auth)| auth.auth_token);
    match token {
        Some(token) if edge::tokens::digest(&token) == digest => Ok(source),
        _ => Err(Status::InvalidTokenId),
    }
}

async fn run(state: &AppState, source: SourceId, body: &[u8], call: Call) -> Result<Reply, Stop<Status>> {
    let request = wire::decode(body)?;
    let session = session(state, source, &request)?;
    match call {
        Call::Check => {
            if state.now_ms() >= session.session.expires_at_ms {
                return Err(Status::InvalidSid.into());
            }
            Ok(Reply {
                sid: Some(request.sid),
                balances: None,
            })
        }
        Call::Balance => done(state, source, &session.session).await,
        Call::Debit | Call::Credit | Call::Cancel | Call::PromoPayout => {
            let (id, command) = command(&request, &session.session, call)?;
            settle(state, source, &session, id, command, call).await
        }
    }
}

/// The session `sid` names: this aggregator's, of `userId`'s player, whose
/// currency the request names if it names one.
fn session(state: &AppState, source: SourceId, request: &Request) -> Result<SessionRef, Status> {
    let session = seamless::session(state, source, &request.sid).ok_or(Status::InvalidSid)?;
    if protocol::hub88::user_player(&request.user_id) != Some(session.session.player) {
        return Err(Status::InvalidSid);
    }
    match &request.currency {
        Some(code) if Currency::from_code(code) != Some(session.session.currency) => Err(Status::InvalidParameter),
        _ => Ok(session),
    }
}

/// The request id and engine command of a money call.
fn command(request: &Request, session: &Session, call: Call) -> Result<(ExtId, Command), Status> {
    let (player, currency) = (session.player, session.currency);
    if call == Call::PromoPayout {
        let promo = request.promo_transaction.as_ref().ok_or(Status::InvalidParameter)?;
        let kind = if promo.kind == "JackpotWin" {
            WinKind::Jackpot
        } else {
            WinKind::Promotional
        };
        let game = request.game.as_ref().and_then(|game| game.kind.as_deref());
        let round = round_ref(Some(&promo.id), Some(game.unwrap_or("evolution-promo")))?;
        let amount = wire::amount(&promo.amount, currency, false)?;
        let win = Win {
            player,
            currency,
            amount,
            round,
            kind,
            close_round: false,
            bet: None,
        };
        return Ok((ext_id(&promo.id)?, Command::from(win)));
    }
    let transaction = request.transaction.as_ref().ok_or(Status::InvalidParameter)?;
    let bet = ext_id(&transaction.ref_id)?;
    let settlement = || seamless::derived_id("settle", &[&transaction.ref_id]).ok_or(Status::InvalidParameter);
    let round = || {
        let game = request.game.as_ref().ok_or(Status::InvalidParameter)?;
        round_ref(game.id.as_deref(), game.kind.as_deref())
    };
    Ok(match call {
        Call::Debit => {
            let amount = wire::amount(&transaction.amount, currency, true)?;
            let stake = Bet {
                player,
                currency,
                amount,
                round: round()?,
                close_round: false,
            };
            (bet, Command::from(stake))
        }
        Call::Credit => {
            let amount = wire::amount(&transaction.amount, currency, false)?;
            let win = Win {
                player,
                currency,
                amount,
                round: round()?,
                kind: WinKind::Regular,
                close_round: false,
                bet: Some(bet),
            };
            (settlement()?, Command::from(win))
        }
        _ => (
            settlement()?,
            Command::Gaming(gaming::Command::Rollback { player, bet }),
        ),
    })
}

/// Submits a money command and renders its outcome: a fresh movement with
/// its balances, a repeat with today's.
async fn settle(
    state: &AppState,
    source: SourceId,
    session: &SessionRef,
    id: ExtId,
    command: Command,
    call: Call,
) -> Result<Reply, Stop<Status>> {
    let completed = seamless::submit(state, source, id, Some(session), command).await?;
    // A movement (`MovedInSession` for a player with reality checks, which
    // One Wallet has no field for).
    if let Some(receipt) = completed.outcome.receipt() {
        return if receipt.seq == completed.seq {
            Ok(Reply {
                sid: None,
                balances: Some(receipt.balances),
            })
        } else {
            done(state, source, &session.session).await
        };
    }
    match &completed.outcome {
        Outcome::RejectedInSession { rejection, balances } => {
            Err(Stop::Refused(status_of(rejection, call), Some(*balances)))
        }
        Outcome::Rejected(rejection) => Err(status_of(rejection, call).into()),
        other => {
            tracing::error!(?other, "unexpected outcome of a wallet command");
            Err(Status::UnknownError.into())
        }
    }
}

/// The session's wallet now.
async fn done(state: &AppState, source: SourceId, session: &Session) -> Result<Reply, Stop<Status>> {
    match seamless::balance(state, source, session).await? {
        Outcome::Balance(balances) => Ok(Reply {
            sid: None,
            balances: Some(balances),
        }),
        Outcome::Rejected(rejection) => Err(status_of(&rejection, Call::Balance).into()),
        other => {
            tracing::error!(?other, "unexpected outcome of a balance query");
            Err(Status::UnknownError.into())
        }
    }
}

/// The status of a ledger refusal.
fn status_of(rejection: &Rejection, call: Call) -> Status {
    let settlement = matches!(call, Call::Credit | Call::Cancel);
    match rejection {
        Rejection::InsufficientFunds { .. } => Status::InsufficientFunds,
        // A settlement of a bet we never took (a credit's round unknown too).
        Rejection::UnknownTransaction | Rejection::WrongTransactionKind | Rejection::UnknownRound if settlement => {
            Status::BetDoesNotExist
        }
        // The settlement key was used by another settlement of this bet.
        Rejection::Conflict if settlement => Status::BetAlreadySettled,
        Rejection::BetRolledBack | Rejection::AlreadyRolledBack => Status::BetAlreadySettled,
        Rejection::SessionExpired { .. } | Rejection::UnknownSession | Rejection::SessionMismatch => Status::InvalidSid,
        // One Wallet has no responsible-gambling status but the lock.
        Rejection::PlayerBlocked(_)
        | Rejection::KycRequired { .. }
        | Rejection::LimitExceeded { .. }
        | Rejection::StakeCapExceeded { .. }
        | Rejection::DueDiligenceRequired
        | Rejection::RealityCheckDue { .. }
        | Rejection::SessionTimeLimitReached { .. } => Status::AccountLocked,
        // One Wallet has no game status: a game the catalogue refuses (or a
        // stake outside its limits) is a parameter of the debit it refuses.
        Rejection::Conflict
        | Rejection::CurrencyMismatch { .. }
        | Rejection::InvalidAmount
        | Rejection::Overflow
        | Rejection::GameRefused(_)
        | Rejection::StakeOutsideGameLimits { .. }
        | Rejection::BonusMaxBetExceeded { .. } => Status::InvalidParameter,
        _ => Status::UnknownError,
    }
}

fn round_ref(id: Option<&str>, game: Option<&str>) -> Result<RoundRef, Status> {
    let id = RoundId::new(id.ok_or(Status::InvalidParameter)?).map_err(|_| Status::InvalidParameter)?;
    let game = GameCode::new(game.ok_or(Status::InvalidParameter)?).map_err(|_| Status::InvalidParameter)?;
    Ok(RoundRef { id, game })
}

fn ext_id(text: &str) -> Result<ExtId, Status> {
    ExtId::new(text).map_err(|_| Status::InvalidParameter)
}

/// Every Evolution reply. (Documentation only: the bytes are written by
/// [`wire::Reply::render`], amounts without floats.)
#[derive(Serialize, ToSchema)]
#[schema(as = EvolutionReply)]
pub struct ReplyDoc {
    /// OK, TEMPORARY_ERROR, INVALID_TOKEN_ID, INVALID_SID, ACCOUNT_LOCKED,
    /// INSUFFICIENT_FUNDS, BET_DOES_NOT_EXIST, BET_ALREADY_SETTLED,
    /// INVALID_PARAMETER, UNKNOWN_ERROR.
    pub status: String,
    /// `check`: the session id to go on with (the same).
    pub sid: Option<String>,
    /// Cash + bonus, in major units.
    #[schema(value_type = Option<f64>)]
    pub balance: Option<String>,
    /// Bonus money, in major units.
    #[schema(value_type = Option<f64>)]
    pub bonus: Option<String>,
    /// The request's `uuid`, echoed.
    pub uuid: Option<String>,
}

/// Every call's body (documentation only: handlers read the raw bytes).
#[derive(Serialize, ToSchema)]
#[schema(as = EvolutionRequest)]
pub struct RequestDoc {
    /// The session id (our game-launch token).
    pub sid: String,
    /// Our id of the player (`player-<id>`).
    #[serde(rename = "userId")]
    pub user_id: String,
    /// Evolution's id of the request.
    pub uuid: String,
    /// The session's currency.
    pub currency: Option<String>,
    /// `{id: round, type: game}`.
    #[schema(value_type = Option<Object>)]
    pub game: Option<String>,
    /// `{id, refId, amount}` (debit, credit, cancel).
    #[schema(value_type = Option<Object>)]
    pub transaction: Option<String>,
    /// `{type, id, amount}` (promo_payout).
    #[serde(rename = "promoTransaction")]
    #[schema(value_type = Option<Object>)]
    pub promo_transaction: Option<String>,
}

fn evolution_failure(description: &str) -> utoipa::openapi::response::Response {
    partner_failure("EvolutionReply", description)
}

edge::responses! {
    /// The Evolution routes' answers without an outcome (TEMPORARY_ERROR,
    /// which Evolution retransmits), or the router's timeout.
    EvolutionFailures {
        500 => evolution_failure, "commit in doubt (TEMPORARY_ERROR)";
        503 => evolution_failure, "busy or stopping (TEMPORARY_ERROR), or timeout";
    }
}

impl Refusal for Status {}

/// A route of the contract (see [`partner_route`](super)).
macro_rules! route {
    ($($route:tt)*) => {
        partner_route! {
            serve(query: Result<Query<Auth>, QueryRejection>, body: Result<JsonBody, ApiError>) $($route)*
        }
    };
}

route! {
    /// Checks a session before play.
    #[utoipa::path(post, path = "/evolution/{aggregator}/check", tag = "evolution", request_body = RequestDoc,
        params(("aggregator" = u32, Path, description = "the Evolution aggregator's id"),
            ("authToken" = String, Query, description = "the token made when the aggregator was registered")),
        responses((status = 200, body = ReplyDoc, description = "a status"), EvolutionFailures))]
    check_route => Call::Check
}

route! {
    /// The balance (also after the session expired).
    #[utoipa::path(post, path = "/evolution/{aggregator}/balance", tag = "evolution", request_body = RequestDoc,
        params(("aggregator" = u32, Path), ("authToken" = String, Query)),
        responses((status = 200, body = ReplyDoc), EvolutionFailures))]
    balance_route => Call::Balance
}

route! {
    /// A bet (`transaction.refId`), in an unexpired session.
    #[utoipa::path(post, path = "/evolution/{aggregator}/debit", tag = "evolution", request_body = RequestDoc,
        params(("aggregator" = u32, Path), ("authToken" = String, Query)),
        responses((status = 200, body = ReplyDoc), EvolutionFailures))]
    debit_route => Call::Debit
}

route! {
    /// Settles a bet with a win (zero is a loss).
    #[utoipa::path(post, path = "/evolution/{aggregator}/credit", tag = "evolution", request_body = RequestDoc,
        params(("aggregator" = u32, Path), ("authToken" = String, Query)),
        responses((status = 200, body = ReplyDoc), EvolutionFailures))]
    credit_route => Call::Credit
}

route! {
    /// Settles a bet by giving the stake back.
    #[utoipa::path(post, path = "/evolution/{aggregator}/cancel", tag = "evolution", request_body = RequestDoc,
        params(("aggregator" = u32, Path), ("authToken" = String, Query)),
        responses((status = 200, body = ReplyDoc), EvolutionFailures))]
    cancel_route => Call::Cancel
}

route! {
    /// Pays a promotion (free rounds, a jackpot) to cash.
    #[utoipa::path(post, path = "/evolution/{aggregator}/promo_payout", tag = "evolution", request_body = RequestDoc,
        params(("aggregator" = u32, Path), ("authToken" = String, Query)),
        responses((status = 200, body = ReplyDoc), EvolutionFailures))]
    promo_payout_route => Call::PromoPayout
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One Wallet's only responsible-gambling status is the lock.
    #[test]
    fn the_session_rules_refusals_lock_the_account() {
        for rejection in [
            Rejection::RealityCheckDue { due_at_ms: 1 },
            Rejection::SessionTimeLimitReached { limit_ms: 1 },
        ] {
            assert_eq!(
                status_of(&rejection, Call::Debit),
                Status::AccountLocked,
                "{rejection:?}"
            );
        }
    }
}
