//! The Pragmatic Play seamless-wallet adapter: Pragmatic Play's calls
//! (form-encoded POSTs answered in JSON) translated onto the commands every
//! contract submits ([`crate::seamless`]).
//!
//! Implemented from Pragmatic Play's public integration documentation,
//! "Integration with casino games, API specification" (Seamless Wallet API),
//! <https://pdfcoffee.com/pragmatic-play-documentation-api-pdf-free.html>:
//! `authenticate`, `balance`, `bet`, `result`, `bonusWin`, `jackpotWin`,
//! `promoWin`, `refund`, `endRound`, `adjustment` and `getBalancePerGame`,
//! each at `/pragmatic/{aggregator}/<method>.html`, the aggregator being
//! one registered with Pragmatic Play's secret key
//! ([`engine::AggregatorCredential::HashKey`]).
//!
//! Checks run in this order: the path names such an aggregator and the
//! body is a form within the limit (else error 5 or 7), `hash` is the MD5
//! of the other parameters sorted by name and followed by the key (5), the
//! parameters the documentation requires are there and well-formed (7),
//! `userId` names a player of ours, exactly (2), a given token is a session
//! of this aggregator and player (4); only then does anything reach the
//! ring. Parameters we do not know are ignored (but hashed). Answers are
//! HTTP 200 with `error` and `description`; only an unknown outcome (busy,
//! stopping, commit in doubt) is a 503/500, with error 100, so that
//! Pragmatic Play retries.
//!
//! Idempotency is the ledger's, keyed by `reference`: a repeat moves
//! nothing and answers the same `transactionId` with the *current*
//! balance, as Pragmatic Play asks. Calls without a reference of their own
//! take a stable id derived from what they name (`refund`: the bet's
//! reference; `endRound`: the game and round), so a repeated refund or end
//! of round is a retry and succeeds. A refund of a bet we never took
//! succeeds and moves nothing (the ledger remembers it, so the bet is
//! refused if it comes later); ending a round we do not know succeeds.
//!
//! Money: amounts are decimals in major units, exact (`10.50`; more
//! decimals than the currency has is error 7); replies carry `cash` and
//! `bonus` the same way. A bet of zero, or one with a `bonusCode` (a free
//! round), stakes nothing: it is journaled as a zero promotional win on its
//! round. A `result` with a `bonusCode` pays a free round (a promotional
//! win, no bet needed); other results pay the round (zero is valid).
//! `jackpotWin` is a jackpot win, `promoWin` a promotional win to cash
//! (campaigns come without a token, so it is sent outside any session, in
//! the given currency). `bonusWin` reports the total of free-round winnings
//! already paid by their results: it moves nothing and answers the balance.
//! Free rounds the operator granted through Pragmatic Play's Free Rounds
//! Bonus API are the exception (`edge::free_rounds::FreeRoundAwards`,
//! registered by the module that grants them): their results pay nothing (journaled as zero
//! promotional wins on their rounds), and their `bonusWin` credits the
//! total as the bonus of the template they came from.
//! `adjustment` stakes (negative) or pays (positive) on its round.
//!
//! Calls that carry no token (`token` is optional for all but `bet`, which
//! needs an unexpired session) act on the player's base-currency wallet
//! outside any session: wins, refunds and ends of rounds are owed money and
//! land regardless.

pub mod wire;

use axum::http::StatusCode;
use axum::response::Response;
use edge::AppState;
use edge::body::FormBody;
use edge::error::{ApiError, json_response};
use edge::free_rounds::AwardsHook;
use edge::openapi::partner_failure;
use engine::GameRefusal;
use engine::command::{Bet, RoundRef, Win, WinKind};
use engine::{
    AggregatorCredential, Amount, Balances, Command, Currency, ExtId, GameCode, Outcome, PlayerId, Receipt, Rejection,
    RoundId, SourceId, gaming,
};
use serde::Serialize;
use utoipa::ToSchema;

use self::wire::{Error, Params, Reply, Sign};
use crate::contracts::{Refusal, Stop};
use crate::seamless::{self, SessionRef};

/// Whether `params` name, by `bonusCode`, free rounds granted to `player`
/// through the FRB API.
async fn granted_rounds(state: &AppState, player: PlayerId, params: &Params<'_>) -> Result<bool, ApiError> {
    let (Some(code), Some(hook)) = (params.get("bonusCode"), state.modules.get::<AwardsHook>()) else {
        return Ok(false);
    };
    hook.0.is_award(state, player, code).await
}

/// Which call of the contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Call {
    Authenticate,
    Balance,
    Bet,
    Result,
    BonusWin,
    JackpotWin,
    PromoWin,
    Refund,
    EndRound,
    Adjustment,
    BalancePerGame,
}

/// The player a call is about: who, which wallet, and the session if the
/// call named one.
struct Player {
    id: PlayerId,
    currency: Currency,
    session: Option<SessionRef>,
}

/// Runs one call.
async fn serve(state: AppState, partner: &str, body: Result<FormBody, ApiError>, call: Call) -> Response {
    // A follower answers as its engine would (`not_leader`), before its
    // view, which may lag the leader's, could refuse the partner or token.
    let result = match (state.engine.following(), checked(&state, partner, &body)) {
        (Some(error), _) => Err(Stop::Engine(error)),
        // Bounded by the request's deadline here, so that a late answer is
        // still Pragmatic Play's (error 100).
        (None, Ok((source, params))) => edge::submit::bounded(run(&state, source, &params, call))
            .await
            .unwrap_or_else(|late| Err(late.into())),
        (None, Err(error)) => Err(error.into()),
    };
    let (http, bytes) = match result {
        Ok(reply) => (StatusCode::OK, reply.render(Error::Success)),
        Err(Stop::Refused(error, balances)) => {
            tracing::debug!(?call, ?error, "pragmatic refusal");
            let reply = Reply {
                balances,
                ..Reply::default()
            };
            (StatusCode::OK, reply.render(error))
        }
        Err(Stop::Engine(error)) => (error.status, Reply::default().render(Error::InternalRetry)),
    };
    json_response(http, bytes)
}

/// The partner, a readable form and its hash: returns the aggregator and
/// the parameters.
fn checked<'a>(
    state: &AppState,
    partner: &str,
    body: &'a Result<FormBody, ApiError>,
) -> Result<(SourceId, Params<'a>), Error> {
    let source = partner.parse().map(SourceId).map_err(|_| Error::InvalidHash)?;
    let Some(AggregatorCredential::HashKey(key)) = seamless::credential(state, source) else {
        return Err(Error::InvalidHash);
    };
    let body = body.as_ref().map_err(|_| Error::BadParameters)?;
    let params = Params::parse(&body.0)?;
    if !params.hash_matches(&key) {
        return Err(Error::InvalidHash);
    }
    Ok((source, params))
}

async fn run(state: &AppState, source: SourceId, params: &Params<'_>, call: Call) -> Result<Reply, Stop<Error>> {
    match call {
        Call::Authenticate => authenticate(state, source, params).await,
        Call::Balance | Call::BonusWin | Call::BalancePerGame => balance(state, source, params, call).await,
        Call::Bet | Call::Adjustment => stake(state, source, params, call).await,
        Call::Result | Call::JackpotWin | Call::PromoWin => payout(state, source, params, call).await,
        Call::Refund => refund(state, source, params).await,
        Call::EndRound => end_round(state, source, params).await,
    }
}

/// Opens the game: the token must be an unexpired session of this partner.
async fn authenticate(state: &AppState, source: SourceId, params: &Params<'_>) -> Result<Reply, Stop<Error>> {
    params.required("providerId")?;
    let token = params.required("token").map_err(|_| Error::AuthenticationFailed)?;
    let session = seamless::session(state, source, token).ok_or(Error::AuthenticationFailed)?;
    if state.now_ms() >= session.session.expires_at_ms {
        return Err(Error::AuthenticationFailed.into());
    }
    let player = Player {
        id: session.session.player,
        currency: session.session.currency,
        session: Some(session),
    };
    let country = state.view.read().player(player.id).map(|view| view.jurisdiction);
    Ok(Reply {
        user_id: Some(protocol::hub88::user_name(player.id)),
        token: Some(token.to_owned()),
        balances: Some(current(state, source, &player).await?),
        country,
        ..Reply::default()
    })
}

/// Reads the balance: `balance`, `getBalancePerGame` (the one wallet, for
/// each game asked about) and `bonusWin` (a report of free-round winnings
/// their results already paid: checked, answered, nothing moved).
async fn balance(state: &AppState, source: SourceId, params: &Params<'_>, call: Call) -> Result<Reply, Stop<Error>> {
    params.required("providerId")?;
    let player = player(state, source, params)?;
    let games = match call {
        Call::BalancePerGame => game_list(params.required("gameIdList")?)?,
        Call::BonusWin => {
            ext_id(params.required("reference")?)?;
            let amount = wire::amount(params.required("amount")?, player.currency, Sign::NonNegative)?;
            if granted_rounds(state, player.id, params).await? {
                let (Some(hook), Some(code)) = (state.modules.get::<AwardsHook>(), params.get("bonusCode")) else {
                    return Err(Error::BadParameters.into());
                };
                hook.0.credit(state, source, player.id, code, amount).await?;
            }
            Vec::new()
        }
        _ => Vec::new(),
    };
    Ok(Reply {
        balances: Some(current(state, source, &player).await?),
        total: call == Call::Balance,
        games,
        ..Reply::default()
    })
}

/// `gameIdList`: game ids separated by commas, each a valid game code.
fn game_list(list: &str) -> Result<Vec<String>, Error> {
    list.split(',')
        .map(|game| GameCode::new(game.trim()).map(|code| code.as_str().to_owned()))
        .collect::<Result<_, _>>()
        .map_err(|_| Error::GameNotFound)
}

/// `bet`, or an `adjustment` (a negative one stakes, a positive one pays,
/// zero only answers the balance).
async fn stake(state: &AppState, source: SourceId, params: &Params<'_>, call: Call) -> Result<Reply, Stop<Error>> {
    required(params, &["providerId", "timestamp"])?;
    let player = player(state, source, params)?;
    if call == Call::Bet && player.session.is_none() {
        // A stake needs the session: its expiry, limits and aggregator.
        return Err(Error::AuthenticationFailed.into());
    }
    let sign = if call == Call::Bet {
        Sign::NonNegative
    } else {
        Sign::Any
    };
    let amount = wire::amount(params.required("amount")?, player.currency, sign)?;
    let round = round(params)?;
    let id = ext_id(params.required("reference")?)?;
    let free = call == Call::Bet && (amount == Amount::ZERO || params.get("bonusCode").is_some());
    let command = if free {
        win(&player, Amount::ZERO, round, WinKind::Promotional)
    } else if call == Call::Bet {
        bet(&player, amount, round)
    } else if amount.is_positive() {
        win(&player, amount, round, WinKind::Regular)
    } else if amount.is_negative() {
        bet(&player, amount.checked_neg().ok_or(Error::BadParameters)?, round)
    } else {
        // A zero adjustment changes nothing.
        return balance(state, source, params, call).await;
    };
    settle(state, source, &player, id, command, call).await
}

/// `result`, `jackpotWin` and `promoWin`: money owed to the player.
async fn payout(state: &AppState, source: SourceId, params: &Params<'_>, call: Call) -> Result<Reply, Stop<Error>> {
    required(params, &["providerId", "timestamp"])?;
    let mut player = player(state, source, params)?;
    if call == Call::PromoWin {
        // Campaigns are outside any game session: the given currency.
        player.session = None;
        player.currency = Currency::from_code(params.required("currency")?).ok_or(Error::BadParameters)?;
    }
    let amount = wire::amount(params.required("amount")?, player.currency, Sign::NonNegative)?;
    let id = ext_id(params.required("reference")?)?;
    // Free rounds granted through the FRB API pay at their bonusWin, as a
    // bonus: their results record the round and pay nothing.
    let amount = if call == Call::Result && granted_rounds(state, player.id, params).await? {
        Amount::ZERO
    } else {
        amount
    };
    let (round, kind) = match call {
        Call::Result if params.get("bonusCode").is_some() => (round(params)?, WinKind::Promotional),
        Call::Result => (round(params)?, WinKind::Regular),
        Call::JackpotWin => {
            params.required("jackpotId")?;
            (round(params)?, WinKind::Jackpot)
        }
        _ => (campaign(params)?, WinKind::Promotional),
    };
    settle(state, source, &player, id, win(&player, amount, round, kind), call).await
}

/// A promotion's "round": the campaign, in the game if one is named.
fn campaign(params: &Params<'_>) -> Result<RoundRef, Error> {
    params.required("campaignType")?;
    Ok(RoundRef {
        id: RoundId::new(params.required("campaignId")?).map_err(|_| Error::BadParameters)?,
        game: GameCode::new(params.get("gameId").unwrap_or("pragmatic-promo")).map_err(|_| Error::GameNotFound)?,
    })
}

/// Cancels the bet `reference` names; one we never took needs no refund.
async fn refund(state: &AppState, source: SourceId, params: &Params<'_>) -> Result<Reply, Stop<Error>> {
    params.required("providerId")?;
    let player = player(state, source, params)?;
    let reference = params.required("reference")?;
    let command = Command::Gaming(gaming::Command::Rollback {
        player: player.id,
        bet: ext_id(reference)?,
    });
    let id = seamless::derived_id("refund", &[reference]).ok_or(Error::BadParameters)?;
    settle(state, source, &player, id, command, Call::Refund).await
}

/// Closes the round; a round already closed, or never seen, is ended.
async fn end_round(state: &AppState, source: SourceId, params: &Params<'_>) -> Result<Reply, Stop<Error>> {
    params.required("providerId")?;
    let player = player(state, source, params)?;
    let round = round(params)?;
    let parts = [round.game.as_str(), round.id.as_str()];
    let id = seamless::derived_id("endRound", &parts).ok_or(Error::BadParameters)?;
    let command = Command::Gaming(gaming::Command::EndRound {
        player: player.id,
        round,
    });
    settle(state, source, &player, id, command, Call::EndRound).await
}

/// Submits `command` and renders its outcome with the current balances.
async fn settle(
    state: &AppState,
    source: SourceId,
    player: &Player,
    id: ExtId,
    command: Command,
    call: Call,
) -> Result<Reply, Stop<Error>> {
    let completed = seamless::submit(state, source, id, player.session.as_ref(), command).await?;
    // A movement (`MovedInSession` for a player with reality checks: the
    // contract's replies have no field for them).
    if let Some(receipt) = completed.outcome.receipt() {
        return if receipt.seq == completed.seq {
            // Fresh: the receipt's balances are the current ones.
            Ok(moved(receipt, receipt.balances, call))
        } else {
            // A repeat: the same transaction, today's balance.
            Ok(moved(receipt, current(state, source, player).await?, call))
        };
    }
    match &completed.outcome {
        Outcome::Balance(_) | Outcome::Accepted => done(state, source, player).await,
        Outcome::RejectedInSession { rejection, .. } | Outcome::Rejected(rejection)
            if succeeds_anyway(rejection, call) =>
        {
            done(state, source, player).await
        }
        Outcome::RejectedInSession { rejection, balances } => {
            Err(Stop::Refused(error_of(rejection, call), Some(*balances)))
        }
        Outcome::Rejected(rejection) => Err(error_of(rejection, call).into()),
        other => {
            tracing::error!(?other, "unexpected outcome of a wallet command");
            Err(Error::InternalNoRetry.into())
        }
    }
}

/// The reply of a movement: its transaction, the balances to show, and for
/// a bet the part of the stake paid from bonus money.
fn moved(receipt: &Receipt, balances: Balances, call: Call) -> Reply {
    let used_promo = (call == Call::Bet).then(|| receipt.bonus_delta.checked_neg().unwrap_or(Amount::ZERO));
    Reply {
        balances: Some(balances),
        transaction_id: Some(receipt.seq),
        used_promo,
        ..Reply::default()
    }
}

/// A success that moved nothing: the current balances.
async fn done(state: &AppState, source: SourceId, player: &Player) -> Result<Reply, Stop<Error>> {
    Ok(Reply {
        balances: Some(current(state, source, player).await?),
        ..Reply::default()
    })
}

/// Pragmatic Play's rules for what is done already: a refund of a bet we
/// never took (or took back already, or that was no bet) and the end of a
/// round we do not know (or closed already).
fn succeeds_anyway(rejection: &Rejection, call: Call) -> bool {
    match call {
        Call::Refund => matches!(
            rejection,
            Rejection::UnknownTransaction | Rejection::WrongTransactionKind | Rejection::AlreadyRolledBack
        ),
        Call::EndRound => matches!(rejection, Rejection::UnknownRound),
        _ => false,
    }
}

/// The error code of a ledger refusal.
fn error_of(rejection: &Rejection, call: Call) -> Error {
    match rejection {
        Rejection::InsufficientFunds { .. } => Error::InsufficientBalance,
        Rejection::UnknownPlayer => Error::PlayerNotFound,
        Rejection::KycRequired { .. } | Rejection::BetRolledBack | Rejection::DueDiligenceRequired => {
            Error::BetNotAllowed
        }
        Rejection::SessionExpired { .. } | Rejection::UnknownSession | Rejection::SessionMismatch => {
            Error::AuthenticationFailed
        }
        Rejection::PlayerBlocked(_) => Error::PlayerFrozen,
        // The reference was used with other parameters; or a currency the
        // player holds no wallet in; or an amount the ledger refuses.
        Rejection::Conflict | Rejection::CurrencyMismatch { .. } | Rejection::InvalidAmount | Rejection::Overflow => {
            Error::BadParameters
        }
        Rejection::LimitExceeded { .. }
        | Rejection::StakeCapExceeded { .. }
        | Rejection::SessionTimeLimitReached { .. } => Error::BetLimit,
        // The bet waits until the player acknowledges the check in the
        // operator's front end.
        Rejection::RealityCheckDue { .. } => Error::RealityCheck,
        Rejection::GameRefused(GameRefusal::Unknown | GameRefusal::Disabled) => Error::GameNotFound,
        Rejection::GameRefused(GameRefusal::JurisdictionNotAllowed | GameRefusal::CurrencyNotOffered) => {
            Error::BetNotAllowed
        }
        Rejection::StakeOutsideGameLimits { .. } | Rejection::BonusMaxBetExceeded { .. } => Error::BetOutsideGameLimits,
        _ if call == Call::EndRound => Error::EndRound,
        _ => Error::InternalNoRetry,
    }
}

/// The player `userId` names (exactly: names are case-sensitive), and the
/// session `token` names if one is given, which must be this partner's and
/// this player's.
fn player(state: &AppState, source: SourceId, params: &Params<'_>) -> Result<Player, Error> {
    let id = protocol::hub88::user_player(params.required("userId")?).ok_or(Error::PlayerNotFound)?;
    let view = state.view.read().player(id).ok_or(Error::PlayerNotFound)?;
    let Some(token) = params.get("token") else {
        return Ok(Player {
            id,
            currency: view.currency,
            session: None,
        });
    };
    match seamless::session(state, source, token) {
        Some(session) if session.session.player == id => Ok(Player {
            id,
            currency: session.session.currency,
            session: Some(session),
        }),
        _ => Err(Error::AuthenticationFailed),
    }
}

/// The player's wallet now (through the ring).
async fn current(state: &AppState, source: SourceId, player: &Player) -> Result<Balances, Stop<Error>> {
    match seamless::wallet_balance(state, source, player.id, player.currency).await? {
        Outcome::Balance(balances) => Ok(balances),
        Outcome::Rejected(rejection) => Err(error_of(&rejection, Call::Balance).into()),
        other => {
            tracing::error!(?other, "unexpected outcome of a balance query");
            Err(Error::InternalNoRetry.into())
        }
    }
}

fn bet(player: &Player, amount: Amount, round: RoundRef) -> Command {
    Command::from(Bet {
        player: player.id,
        currency: player.currency,
        amount,
        round,
        close_round: false,
    })
}

fn win(player: &Player, amount: Amount, round: RoundRef, kind: WinKind) -> Command {
    Command::from(Win {
        player: player.id,
        currency: player.currency,
        amount,
        round,
        kind,
        close_round: false,
        bet: None,
    })
}

/// `gameId` and `roundId`.
fn round(params: &Params<'_>) -> Result<RoundRef, Error> {
    let game = GameCode::new(params.required("gameId")?).map_err(|_| Error::GameNotFound)?;
    let id = RoundId::new(params.required("roundId")?).map_err(|_| Error::BadParameters)?;
    Ok(RoundRef { id, game })
}

fn required(params: &Params<'_>, keys: &[&str]) -> Result<(), Error> {
    keys.iter().try_for_each(|key| params.required(key).map(|_| ()))
}

fn ext_id(text: &str) -> Result<ExtId, Error> {
    ExtId::new(text).map_err(|_| Error::BadParameters)
}

/// Every Pragmatic Play reply: the fields that apply to the call, then
/// `error` (0 is success) and `description`. Amounts are JSON numbers in
/// major units, exact to the currency's decimals. (Documentation only: the
/// bytes are written by [`wire::Reply::render`], without floats.)
#[derive(Serialize, ToSchema)]
#[schema(as = PragmaticReply)]
pub struct ReplyDoc {
    /// `authenticate`: our id of the player (`player-<id>`).
    #[serde(rename = "userId")]
    pub user_id: Option<String>,
    /// `authenticate`: the token, echoed.
    pub token: Option<String>,
    /// The wallet's currency (ISO 4217).
    pub currency: Option<String>,
    /// Cash, in major units.
    #[schema(value_type = Option<f64>)]
    pub cash: Option<String>,
    /// Bonus money, in major units.
    #[schema(value_type = Option<f64>)]
    pub bonus: Option<String>,
    /// `balance`: cash + bonus.
    #[serde(rename = "totalBalance")]
    #[schema(value_type = Option<f64>)]
    pub total_balance: Option<String>,
    /// Our id of the movement (the same on a repeat).
    #[serde(rename = "transactionId")]
    pub transaction_id: Option<u64>,
    /// `bet`: the part of the stake paid from bonus money.
    #[serde(rename = "usedPromo")]
    #[schema(value_type = Option<f64>)]
    pub used_promo: Option<String>,
    /// `authenticate`: the player's country (ISO 3166-1 alpha-2).
    pub country: Option<String>,
    /// `getBalancePerGame`: `[{gameID, cash, bonus}]`.
    #[serde(rename = "gamesBalances")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub games_balances: Option<String>,
    /// 0 success, 1 insufficient balance, 2 player not found, 3 bet not
    /// allowed, 4 authentication failed, 5 invalid hash, 6 player frozen,
    /// 7 bad parameters, 8 game not found, 50 bet limit, 100 retry,
    /// 120 internal error, 130 endRound error.
    pub error: u16,
    /// The error's text.
    pub description: String,
}

/// The form every call posts: the parameters the documentation lists for
/// the call, as text, and `hash`. (Documentation only: handlers read the
/// raw form.)
#[derive(Serialize, ToSchema)]
#[schema(as = PragmaticForm)]
pub struct FormDoc {
    /// MD5 (hex) of the other parameters sorted by name as `k=v&…`, followed by the secret key.
    pub hash: String,
    /// Pragmatic Play's provider id.
    #[serde(rename = "providerId")]
    pub provider_id: Option<String>,
    /// Our id of the player (`player-<id>`), case-sensitive.
    #[serde(rename = "userId")]
    pub user_id: Option<String>,
    /// The game-launch token (required by `authenticate` and `bet`).
    pub token: Option<String>,
    /// Pragmatic Play's id of the transaction: our idempotency key.
    pub reference: Option<String>,
    /// A decimal amount in major units (`10.50`).
    pub amount: Option<String>,
    /// The game.
    #[serde(rename = "gameId")]
    pub game_id: Option<String>,
    /// The round.
    #[serde(rename = "roundId")]
    pub round_id: Option<String>,
}

/// The answers without an outcome (error 100, which Pragmatic Play retries
/// with the same reference), or the router's timeout.
fn pragmatic_failure(description: &str) -> utoipa::openapi::response::Response {
    partner_failure("PragmaticReply", description)
}

edge::responses! {
    /// The Pragmatic Play routes' answers without an outcome.
    PragmaticFailures {
        500 => pragmatic_failure, "commit in doubt (error 100)";
        503 => pragmatic_failure, "busy or stopping (error 100), or timeout";
    }
}

impl Refusal for Error {}

/// A route of the contract (see [`partner_route`](super)).
macro_rules! route {
    ($($route:tt)*) => {
        partner_route! { serve(body: Result<FormBody, ApiError>) $($route)* }
    };
}

route! {
    /// Opens a game: the player, currency and balance of an unexpired token.
    #[utoipa::path(post, path = "/pragmatic/{aggregator}/authenticate.html", tag = "pragmatic",
        request_body(content = FormDoc, content_type = "application/x-www-form-urlencoded"),
        params(("aggregator" = u32, Path, description = "the Pragmatic Play aggregator's id")),
        responses((status = 200, body = ReplyDoc, description = "error 0 with the player, or an error code"), PragmaticFailures))]
    authenticate_route => Call::Authenticate
}

route! {
    /// The balance (also after the session expired, or without a token).
    #[utoipa::path(post, path = "/pragmatic/{aggregator}/balance.html", tag = "pragmatic",
        request_body(content = FormDoc, content_type = "application/x-www-form-urlencoded"),
        params(("aggregator" = u32, Path)), responses((status = 200, body = ReplyDoc), PragmaticFailures))]
    balance_route => Call::Balance
}

route! {
    /// A stake in the token's session (zero or with a bonusCode: a free round).
    #[utoipa::path(post, path = "/pragmatic/{aggregator}/bet.html", tag = "pragmatic",
        request_body(content = FormDoc, content_type = "application/x-www-form-urlencoded"),
        params(("aggregator" = u32, Path)), responses((status = 200, body = ReplyDoc), PragmaticFailures))]
    bet_route => Call::Bet
}

route! {
    /// A round's win (zero is valid); with a bonusCode a free round's.
    #[utoipa::path(post, path = "/pragmatic/{aggregator}/result.html", tag = "pragmatic",
        request_body(content = FormDoc, content_type = "application/x-www-form-urlencoded"),
        params(("aggregator" = u32, Path)), responses((status = 200, body = ReplyDoc), PragmaticFailures))]
    result_route => Call::Result
}

route! {
    /// The total of a free-round bonus, already paid by its results: the balance.
    #[utoipa::path(post, path = "/pragmatic/{aggregator}/bonusWin.html", tag = "pragmatic",
        request_body(content = FormDoc, content_type = "application/x-www-form-urlencoded"),
        params(("aggregator" = u32, Path)), responses((status = 200, body = ReplyDoc), PragmaticFailures))]
    bonus_win_route => Call::BonusWin
}

route! {
    /// A jackpot win.
    #[utoipa::path(post, path = "/pragmatic/{aggregator}/jackpotWin.html", tag = "pragmatic",
        request_body(content = FormDoc, content_type = "application/x-www-form-urlencoded"),
        params(("aggregator" = u32, Path)), responses((status = 200, body = ReplyDoc), PragmaticFailures))]
    jackpot_win_route => Call::JackpotWin
}

route! {
    /// A campaign's prize (tournament, prize drop), to cash, without a session.
    #[utoipa::path(post, path = "/pragmatic/{aggregator}/promoWin.html", tag = "pragmatic",
        request_body(content = FormDoc, content_type = "application/x-www-form-urlencoded"),
        params(("aggregator" = u32, Path)), responses((status = 200, body = ReplyDoc), PragmaticFailures))]
    promo_win_route => Call::PromoWin
}

route! {
    /// Cancels a bet; one never taken succeeds, moves nothing, and is refused if it comes.
    #[utoipa::path(post, path = "/pragmatic/{aggregator}/refund.html", tag = "pragmatic",
        request_body(content = FormDoc, content_type = "application/x-www-form-urlencoded"),
        params(("aggregator" = u32, Path)), responses((status = 200, body = ReplyDoc), PragmaticFailures))]
    refund_route => Call::Refund
}

route! {
    /// Closes a round (again: still success).
    #[utoipa::path(post, path = "/pragmatic/{aggregator}/endRound.html", tag = "pragmatic",
        request_body(content = FormDoc, content_type = "application/x-www-form-urlencoded"),
        params(("aggregator" = u32, Path)), responses((status = 200, body = ReplyDoc), PragmaticFailures))]
    end_round_route => Call::EndRound
}

route! {
    /// Corrects a round: a negative amount stakes, a positive one pays.
    #[utoipa::path(post, path = "/pragmatic/{aggregator}/adjustment.html", tag = "pragmatic",
        request_body(content = FormDoc, content_type = "application/x-www-form-urlencoded"),
        params(("aggregator" = u32, Path)), responses((status = 200, body = ReplyDoc), PragmaticFailures))]
    adjustment_route => Call::Adjustment
}

route! {
    /// The balance for each game of `gameIdList` (one wallet: the same for each).
    #[utoipa::path(post, path = "/pragmatic/{aggregator}/getBalancePerGame.html", tag = "pragmatic",
        request_body(content = FormDoc, content_type = "application/x-www-form-urlencoded"),
        params(("aggregator" = u32, Path)), responses((status = 200, body = ReplyDoc), PragmaticFailures))]
    balance_per_game_route => Call::BalancePerGame
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The play-session rules' refusals get the contract's codes: 210
    /// (reality check warning) for a due check, 50 for the session time limit.
    #[test]
    fn the_session_rules_refusals_have_their_codes() {
        let due = Rejection::RealityCheckDue { due_at_ms: 1 };
        let reached = Rejection::SessionTimeLimitReached { limit_ms: 1 };
        assert_eq!(error_of(&due, Call::Bet), Error::RealityCheck);
        assert_eq!(
            (Error::RealityCheck.code(), Error::RealityCheck.description()),
            (210, "Reality check warning")
        );
        assert_eq!(error_of(&reached, Call::Bet), Error::BetLimit);
    }

    /// A refusal the contract has no code of its own for is 130 (`endRound`
    /// error) on `endRound`, 120 (non-retryable internal error) elsewhere.
    #[test]
    fn an_unmapped_refusal_is_130_on_end_round_and_120_elsewhere() {
        let other = Rejection::RoundPlayerMismatch;
        assert_eq!(error_of(&other, Call::EndRound).code(), 130);
        for call in [Call::Bet, Call::Result, Call::Refund] {
            assert_eq!(error_of(&other, call).code(), 120, "{call:?}");
        }
    }
}
