//! Progressive jackpot pools over the operator API: list, show, create and
//! award. The pools are ledger state ([`engine::jackpots::Jackpots`]);
//! reads come from the gateway's view, kept in step by
//! [`engine::jackpots::Jackpots::follow`] (the ledger's own arithmetic), so
//! a balance shown is the ledger's as of the last committed batch.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use edge::body::{JsonBody, decode};
use edge::change::{ok, refusal, request_id};
use edge::error::{ApiError, ErrorBody};
use edge::openapi::{BodyErrors, LedgerErrors, RoleErrors};
use edge::view::View;
use edge::wire::{self, Sign};
use edge::{AppState, Caller};
use engine::jackpots::{self, CoveredGame, Pool, PoolState};
use engine::{Command, Currency, JackpotCode, Outcome, Title};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::forms::{self, AggregatorRef};

/// A game a pool covers, as the API takes it.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CoveredGameBody {
    /// The aggregator: its id or name.
    #[schema(value_type = Object)]
    pub aggregator: AggregatorRef,
    /// The game's code at that aggregator.
    pub code: String,
}

/// A new pool.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JackpotBody {
    /// Its code (1–64 printable ASCII), unique.
    pub code: String,
    /// Display name (1–128 bytes).
    pub name: String,
    /// The currency of its balance; only bets in it contribute.
    pub currency: String,
    /// The games it covers (1 to 10,000), each covered by no other pool in
    /// this currency.
    pub games: Vec<CoveredGameBody>,
    /// The share of each covered stake that goes to the pool, basis points
    /// (1 to 1,000: 0.01 % to 10 %), rounded down to the minor unit.
    pub contribution_bp: u16,
    /// What the pool starts at and is topped up to after each win, from
    /// the operator's seed funding ("100.00", zero or more).
    pub seed: String,
    /// Must-drop cap, above the seed: once the balance reaches it, the next
    /// covered bet wins the pool.
    pub must_drop: Option<String>,
}

/// Who wins an award.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AwardBody {
    /// The player; must hold a wallet in the pool's currency.
    pub player: u64,
}

/// A covered game as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct CoveredGameReply {
    /// The aggregator's id.
    pub aggregator: u32,
    /// The game's code at that aggregator.
    pub code: String,
}

/// A pool's last win.
#[derive(Debug, Serialize, ToSchema)]
pub struct LastWinReply {
    /// The winner.
    pub player: u64,
    /// What the pool paid.
    pub amount: String,
    /// The ledger's sequence number of the win (its transaction id).
    pub seq: u64,
    /// When, ms since the epoch.
    pub time_ms: u64,
}

/// A pool and where it stands.
#[derive(Debug, Serialize, ToSchema)]
pub struct JackpotReply {
    /// Its code.
    pub code: String,
    /// Display name.
    pub name: String,
    /// Its currency.
    pub currency: String,
    /// The games it covers.
    pub games: Vec<CoveredGameReply>,
    /// Share of each covered stake, basis points.
    pub contribution_bp: u16,
    /// Seed amount.
    pub seed: String,
    /// Must-drop cap, if any.
    pub must_drop: Option<String>,
    /// Its balance now.
    pub balance: String,
    /// Every contribution it received.
    pub contributions: String,
    /// How often it was won.
    pub wins: u32,
    /// The last win, if any.
    pub last_win: Option<LastWinReply>,
}

/// Every pool.
#[derive(Serialize, ToSchema)]
pub struct JackpotsReply {
    /// In the order they were created.
    pub jackpots: Vec<JackpotReply>,
}

/// What an award paid.
#[derive(Debug, Serialize, ToSchema)]
pub struct AwardReply {
    /// The pool after the award (reseeded).
    pub jackpot: JackpotReply,
    /// The winner.
    pub player: u64,
    /// What the pool paid to the winner's cash.
    pub paid: String,
    /// What the operator's seed funding put back.
    pub reseed: String,
    /// The winner's cash after it.
    pub cash: String,
    /// The ledger's sequence number of the award.
    pub seq: u64,
}

/// The API's form of a pool.
pub fn reply(state: &PoolState) -> JackpotReply {
    let pool = &state.pool;
    let currency = pool.currency;
    let money = |amount| wire::money(amount, currency);
    JackpotReply {
        code: pool.code.to_string(),
        name: pool.name.to_string(),
        currency: currency.code().to_owned(),
        games: pool
            .games
            .iter()
            .map(|g| CoveredGameReply {
                aggregator: g.aggregator.0,
                code: g.code.to_string(),
            })
            .collect(),
        contribution_bp: pool.contribution_bp,
        seed: money(pool.seed),
        must_drop: pool.must_drop.map(money),
        balance: money(state.balance),
        contributions: engine::money::wide_decimal(state.contributed, currency),
        wins: state.wins,
        last_win: state.last_win.map(|w| LastWinReply {
            player: w.player.0,
            amount: money(w.amount),
            seq: w.seq,
            time_ms: w.time_ms,
        }),
    }
}

fn unknown_jackpot() -> ApiError {
    ApiError::not_found("unknown_jackpot", "no jackpot pool has this code")
}

/// Every pool with its balance (every role).
#[utoipa::path(get, path = "/operator/v1/jackpots", tag = "games", security(("bearer" = [])),
    responses((status = 200, body = JackpotsReply), RoleErrors))]
pub async fn list(State(state): State<AppState>) -> Result<Response, ApiError> {
    let view = state.view.read();
    let jackpots = view.jackpots.pools().iter().map(reply).collect();
    drop(view);
    ok(StatusCode::OK, &JackpotsReply { jackpots })
}

/// One pool: balance, contributions, last win (every role).
#[utoipa::path(get, path = "/operator/v1/jackpots/{code}", tag = "games",
    params(("code" = String, Path, description = "the pool's code")), security(("bearer" = [])),
    responses((status = 200, body = JackpotReply), RoleErrors,
        (status = 404, body = ErrorBody, description = "unknown_jackpot")))]
pub async fn show(State(state): State<AppState>, Path(code): Path<String>) -> Result<Response, ApiError> {
    let reply = state.view.read().jackpots.pool(&code).map(reply);
    reply.map_or_else(|| Err(unknown_jackpot()), |reply| ok(StatusCode::OK, &reply))
}

/// Creates a pool, funded with its seed (admins, finance).
#[utoipa::path(post, path = "/operator/v1/jackpots", tag = "games", request_body = JackpotBody,
    params(edge::change::IdempotencyKey), security(("bearer" = [])),
    responses((status = 201, body = JackpotReply), BodyErrors, RoleErrors, LedgerErrors,
        (status = 400, body = ErrorBody, description = "invalid_jackpot (the field is named), unknown_currency, invalid_amount, too_many_decimals"),
        (status = 404, body = ErrorBody, description = "unknown_aggregator"),
        (status = 409, body = ErrorBody, description = "jackpot_exists; conflict (Idempotency-Key reused)"),
        (status = 422, body = ErrorBody, description = "invalid_jackpot: no game or one twice, a game another pool covers in the currency or the catalogue lacks, contribution outside 1–1000 bp, a must-drop cap not above the seed")))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let request: JackpotBody = decode(&body)?;
    let pool = to_pool(&request, &state.view.read())?;
    let code = pool.code.clone();
    let command = jackpots::Command::CreatePool {
        pool: Box::new(pool),
        operator: caller.id,
    };
    match submit(&state, &caller, &headers, command).await? {
        Outcome::Accepted => {}
        other => return Err(refusal(&other, Currency::EUR)),
    }
    let reply = state.view.read().jackpots.pool(code.as_str()).map(reply);
    reply.map_or_else(|| Err(unknown_jackpot()), |reply| ok(StatusCode::CREATED, &reply))
}

/// A pool from its body, every field checked (the ledger checks the rest).
fn to_pool(body: &JackpotBody, view: &View) -> Result<Pool, ApiError> {
    let invalid =
        |field: &str, message: String| ApiError::bad_request("invalid_jackpot", format!("{field}: {message}"));
    let code = JackpotCode::new(&body.code).map_err(|e| invalid("code", e.to_string()))?;
    let name = Title::new(&body.name).map_err(|e| invalid("name", e.to_string()))?;
    let currency = wire::currency(&body.currency)?;
    let games = body
        .games
        .iter()
        .enumerate()
        .map(|(n, game)| {
            let aggregator = forms::aggregator_ref(view, &game.aggregator)
                .ok_or_else(|| ApiError::not_found("unknown_aggregator", format!("games[{n}]: no such aggregator")))?;
            let code = forms::game_code(&game.code).map_err(|e| invalid(&format!("games[{n}].code"), e.message))?;
            Ok(CoveredGame { aggregator, code })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    let seed = wire::amount(&body.seed, currency, Sign::NonNegative, "seed")?;
    let must_drop = body
        .must_drop
        .as_deref()
        .map(|cap| wire::amount(cap, currency, Sign::Positive, "must_drop"))
        .transpose()?;
    Ok(Pool {
        code,
        name,
        currency,
        games,
        contribution_bp: body.contribution_bp,
        seed,
        must_drop,
    })
}

/// Pays a pool's whole balance to a player's cash and reseeds the pool
/// (admins, finance).
#[utoipa::path(post, path = "/operator/v1/jackpots/{code}/award", tag = "games", request_body = AwardBody,
    params(("code" = String, Path, description = "the pool's code"), edge::change::IdempotencyKey),
    security(("bearer" = [])),
    responses((status = 200, body = AwardReply), BodyErrors, RoleErrors, LedgerErrors,
        (status = 404, body = ErrorBody, description = "unknown_jackpot, unknown_player"),
        (status = 409, body = ErrorBody, description = "jackpot_empty; conflict (Idempotency-Key reused)"),
        (status = 422, body = ErrorBody, description = "currency_mismatch: the player holds no wallet in the pool's currency")))]
pub async fn award(
    State(state): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let request: AwardBody = decode(&body)?;
    let currency = match state.view.read().jackpots.pool(&code) {
        Some(pool) => pool.pool.currency,
        None => return Err(unknown_jackpot()),
    };
    let pool = JackpotCode::new(&code).map_err(|_| unknown_jackpot())?;
    let player = edge::change::player(&state, &request.player.to_string())?;
    let command = jackpots::Command::Award {
        pool,
        player,
        operator: caller.id,
    };
    let payout = match submit(&state, &caller, &headers, command).await? {
        Outcome::JackpotPaid(payout) => payout,
        other => return Err(refusal(&other, currency)),
    };
    let jackpot = state
        .view
        .read()
        .jackpots
        .pool(&code)
        .map(reply)
        .ok_or_else(unknown_jackpot)?;
    let reply = AwardReply {
        jackpot,
        player: player.0,
        paid: wire::money(payout.paid, currency),
        reseed: wire::money(payout.reseed, currency),
        cash: wire::money(payout.receipt.balances.cash, currency),
        seq: payout.receipt.seq,
    };
    ok(StatusCode::OK, &reply)
}

/// Submits a jackpot command under the caller's `Idempotency-Key` (or a
/// fresh id).
async fn submit(
    state: &AppState,
    caller: &Caller,
    headers: &HeaderMap,
    command: jackpots::Command,
) -> Result<Outcome, ApiError> {
    caller
        .submit(state, request_id(headers)?, Command::Jackpots(command))
        .await
}

/// The pools' balances and contributions in the Prometheus text format,
/// read from the view when `/metrics` is scraped (minor units: a gauge is
/// a float, and money never is, so the integer minor units are exported).
pub fn metrics(view: &View) -> String {
    let pools = view.jackpots.pools();
    if pools.is_empty() {
        return String::new();
    }
    let mut text = String::new();
    text.push_str("# HELP jackpot_pool_balance_minor A jackpot pool's balance, minor units of its currency\n");
    text.push_str("# TYPE jackpot_pool_balance_minor gauge\n");
    for state in pools {
        let (pool, currency) = (state.pool.code.as_str(), state.pool.currency.code());
        let balance = state.balance.minor();
        text.push_str(&format!(
            "jackpot_pool_balance_minor{{pool=\"{pool}\",currency=\"{currency}\"}} {balance}\n"
        ));
    }
    text.push_str("# HELP jackpot_pool_wins_total Wins paid by a jackpot pool\n");
    text.push_str("# TYPE jackpot_pool_wins_total counter\n");
    for state in pools {
        let (pool, wins) = (state.pool.code.as_str(), state.wins);
        text.push_str(&format!("jackpot_pool_wins_total{{pool=\"{pool}\"}} {wins}\n"));
    }
    text
}
