//! A player's statement (every balance movement with the balances after
//! it, as JSON or CSV), the balances at a past moment, and the game history
//! (rounds with their bets, wins and rollbacks), from the read model's
//! movements (`readmodel::history`), like [`crate::lookups`].
//!
//! Amounts are decimal strings in the currency's exponent, never floats,
//! in both formats. Pages are cursors (the last sequence number a page
//! holds), never offsets: a page is the same whatever was written after it.
//! Times in queries are ms since the epoch or RFC 3339.

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::Response;
use engine::{Amount, Currency, PlayerId};
use readmodel::history::{self, BalanceAt, Movement, MovementFilter, RoundFilter};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use utoipa::{IntoParams, ToSchema};

use edge::AppState;
use edge::error::{ApiError, ErrorBody};
use edge::openapi::{BearerErrors, LedgerErrors};
use edge::reads::read;
use edge::wire;

use crate::shared::{ok, player};

/// Most movements in one page of a statement (an export takes pages of this size).
const STATEMENT_PAGE_MAX: usize = 10_000;
/// Most rounds in one page of game history.
const ROUNDS_PAGE_MAX: usize = 200;

/// A time from a query: ms since the epoch, or RFC 3339 (`2026-01-31T12:00:00Z`).
fn time_ms(text: &str, field: &str) -> Result<u64, ApiError> {
    let bad = || {
        ApiError::bad_request(
            "invalid_request",
            format!("{field}: ms since the epoch or an RFC 3339 time (2026-01-31T12:00:00Z)"),
        )
    };
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text
            .parse::<u64>()
            .ok()
            .filter(|&ms| ms <= i64::MAX as u64)
            .ok_or_else(bad);
    }
    let at = OffsetDateTime::parse(text, &Rfc3339).map_err(|_| bad())?;
    u64::try_from(at.unix_timestamp_nanos() / 1_000_000).map_err(|_| bad())
}

/// A time as RFC 3339 in UTC, with milliseconds.
fn rfc3339(time_ms: u64) -> String {
    i128::from(time_ms)
        .checked_mul(1_000_000)
        .and_then(|nanos| OffsetDateTime::from_unix_timestamp_nanos(nanos).ok())
        .and_then(|at| at.format(&Rfc3339).ok())
        .unwrap_or_default()
}

/// A time range from a query: `from` inclusive, `to` exclusive.
fn range(from: Option<&str>, to: Option<&str>) -> Result<(Option<u64>, Option<u64>), ApiError> {
    let from = from.map(|t| time_ms(t, "from")).transpose()?;
    let to = to.map(|t| time_ms(t, "to")).transpose()?;
    if let (Some(from), Some(to)) = (from, to)
        && from > to
    {
        return Err(ApiError::bad_request("invalid_request", "from is after to"));
    }
    Ok((from, to))
}

/// A cursor: the sequence number the previous page ended at.
fn cursor(text: Option<&str>) -> Result<Option<u64>, ApiError> {
    text.map(|text| {
        text.parse::<u64>().ok().filter(|&seq| seq > 0).ok_or_else(|| {
            ApiError::bad_request(
                "invalid_cursor",
                "cursor: pass the next_cursor of the previous page as it was given",
            )
        })
    })
    .transpose()
}

fn sum(a: Amount, b: Amount) -> Result<Amount, ApiError> {
    a.checked_add(b)
        .ok_or_else(|| ApiError::internal("a balance overflows when added up"))
}

/// Runs `query` for `player` once the read model is current; 404 if the
/// read model does not know the player.
async fn for_player<T: Send + 'static>(
    state: &AppState,
    player: PlayerId,
    query: impl FnOnce(&rusqlite::Connection) -> Result<T, readmodel::ReadModelError> + Send + 'static,
) -> Result<(T, u64), ApiError> {
    let (found, as_of_seq) = read(state, move |c| {
        if !history::player_exists(c, player)? {
            return Ok(None);
        }
        query(c).map(Some)
    })
    .await?;
    let found = found.ok_or_else(|| ApiError::not_found("unknown_player", "no such player"))?;
    Ok((found, as_of_seq))
}

/// Which part of the statement, in which format.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct StatementQuery {
    /// Only this currency's wallet (all wallets if absent).
    pub currency: Option<String>,
    /// Only movements at or after this time (ms since the epoch or RFC 3339).
    pub from: Option<String>,
    /// Only movements before this time.
    pub to: Option<String>,
    /// Where the page starts: the `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Most movements returned, 1 to 10000. Default 1000.
    pub limit: Option<usize>,
    /// `json` (the default) or `csv`; `Accept: text/csv` also asks for CSV.
    pub format: Option<String>,
}

/// One line of a statement: a movement and the balances after it. The same
/// fields, in this order, are the CSV's columns.
#[derive(Serialize, ToSchema)]
pub struct StatementLine {
    /// The movement's sequence number (our transaction number).
    pub seq: u64,
    /// When, RFC 3339 (UTC).
    pub time: String,
    /// When, ms since the epoch.
    pub time_ms: u64,
    /// Currency code.
    pub currency: &'static str,
    /// What moved the money: deposit, deposit_confirm, withdrawal_request,
    /// withdrawal_reject, withdrawal_complete, bet, win, rollback,
    /// bonus_grant, bonus_forfeit, bonus_expire, adjust ...
    pub kind: String,
    /// Who sent the command (source id).
    pub source: u32,
    /// The command's id at its source.
    pub id: String,
    /// The game round, for bets, wins and rollbacks.
    pub round: Option<String>,
    /// The game, for bets, wins and rollbacks.
    pub game: Option<String>,
    /// Cash moved (negative: taken).
    pub cash_delta: String,
    /// Bonus moved.
    pub bonus_delta: String,
    /// Cash after.
    pub cash: String,
    /// Bonus after.
    pub bonus: String,
    /// Cash held for pending withdrawals, after.
    pub reserved: String,
    /// The balance after: cash + bonus.
    pub balance: String,
}

fn line(m: Movement) -> Result<StatementLine, ApiError> {
    let money = |amount| wire::money(amount, m.currency);
    let (round, game) = m.round.unzip();
    Ok(StatementLine {
        seq: m.seq,
        time: rfc3339(m.time_ms),
        time_ms: m.time_ms,
        currency: m.currency.code(),
        kind: m.kind,
        source: m.source.0,
        id: m.id,
        round,
        game,
        cash_delta: money(m.cash_delta),
        bonus_delta: money(m.bonus_delta),
        cash: money(m.balances.cash),
        bonus: money(m.balances.bonus),
        reserved: money(m.balances.reserved),
        balance: money(sum(m.balances.cash, m.balances.bonus)?),
    })
}

/// A page of a statement.
#[derive(Serialize, ToSchema)]
pub struct StatementReply {
    /// Player id.
    pub player: u64,
    /// Movements, oldest first.
    pub lines: Vec<StatementLine>,
    /// The cursor of the next page, if this one was full (also the
    /// `x-next-cursor` header of a CSV page).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
    /// The sequence number this answer is current to (also the
    /// `x-as-of-seq` header of a CSV page).
    pub as_of_seq: u64,
}

/// Whether the caller asked for CSV: `?format=` decides, else `Accept`.
fn wants_csv(format: Option<&str>, headers: &HeaderMap) -> Result<bool, ApiError> {
    match format {
        Some("csv") => Ok(true),
        Some("json") => Ok(false),
        Some(_) => Err(ApiError::bad_request("invalid_request", "format: json or csv")),
        None => Ok(headers
            .get_all(header::ACCEPT)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .any(|media| {
                media
                    .split(';')
                    .next()
                    .is_some_and(|m| m.trim().eq_ignore_ascii_case("text/csv"))
            })),
    }
}

/// The statement page as CSV (RFC 4180 quoting, a header line).
fn csv_response(player: PlayerId, reply: &StatementReply) -> Result<Response, ApiError> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    if reply.lines.is_empty() {
        // serde writes the header with the first record: name the columns anyway.
        writer.write_record(STATEMENT_COLUMNS).map_err(ApiError::internal)?;
    }
    for line in &reply.lines {
        writer.serialize(line).map_err(ApiError::internal)?;
    }
    let bytes = writer.into_inner().map_err(ApiError::internal)?;
    let mut response = Response::new(Body::from(bytes));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    let disposition = format!("attachment; filename=\"statement-{}.csv\"", player.0);
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_str(&disposition).map_err(ApiError::internal)?,
    );
    headers.insert("x-as-of-seq", HeaderValue::from(reply.as_of_seq));
    if let Some(next) = &reply.next_cursor {
        headers.insert(
            "x-next-cursor",
            HeaderValue::from_str(next).map_err(ApiError::internal)?,
        );
    }
    Ok(response)
}

/// The CSV's columns: [`StatementLine`]'s fields, in order.
const STATEMENT_COLUMNS: [&str; 15] = [
    "seq",
    "time",
    "time_ms",
    "currency",
    "kind",
    "source",
    "id",
    "round",
    "game",
    "cash_delta",
    "bonus_delta",
    "cash",
    "bonus",
    "reserved",
    "balance",
];

/// A player's statement: every movement of their money (deposits,
/// withdrawals, bets, wins, rollbacks, bonuses, adjustments) with the
/// balances after it, oldest first, in pages, as JSON or CSV (every role).
/// Each line's balances are the previous line's (in that currency) plus its
/// deltas.
#[utoipa::path(get, path = "/operator/v1/players/{player}/statement", tag = "operator",
    params(("player" = u64, Path), StatementQuery), security(("bearer" = [])),
    responses(
        (status = 200, description = "a page of the statement", content(
            (StatementReply = "application/json"),
            (String = "text/csv", example = "seq,time,time_ms,currency,kind,source,id,round,game,cash_delta,bonus_delta,cash,bonus,reserved,balance\n"))),
        BearerErrors, LedgerErrors,
        (status = 400, body = ErrorBody, description = "invalid_request (a bad query parameter or time, from after to, limit outside 1–10000, format neither json nor csv), invalid_cursor, unknown_currency"),
        (status = 404, body = ErrorBody, description = "unknown_player")))]
pub async fn statement(
    State(state): State<AppState>,
    Path(player_id): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, ApiError> {
    let Query(query) = Query::<StatementQuery>::try_from_uri(&uri).map_err(|_| {
        ApiError::bad_request(
            "invalid_request",
            "query parameters are currency, from, to, cursor, limit and format",
        )
    })?;
    let csv = wants_csv(query.format.as_deref(), &headers)?;
    let currency = query.currency.as_deref().map(wire::currency).transpose()?;
    let (from_ms, to_ms) = range(query.from.as_deref(), query.to.as_deref())?;
    let limit = wire::page_limit(query.limit, 1_000, STATEMENT_PAGE_MAX)?;
    let after_seq = cursor(query.cursor.as_deref())?.unwrap_or(0);
    let player = player(&state, &player_id)?;
    let filter = MovementFilter {
        currency,
        after_seq,
        from_ms,
        to_ms,
    };
    let (movements, as_of_seq) = for_player(&state, player, move |c| {
        history::movements_matching(c, player, &filter, limit)
    })
    .await?;
    let next_cursor = (movements.len() == limit)
        .then(|| movements.last().map(|m| m.seq.to_string()))
        .flatten();
    let reply = StatementReply {
        player: player.0,
        lines: movements.into_iter().map(line).collect::<Result<_, _>>()?,
        next_cursor,
        as_of_seq,
    };
    if csv {
        csv_response(player, &reply)
    } else {
        ok(StatusCode::OK, &reply)
    }
}

/// When.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct BalancesAtQuery {
    /// The moment (ms since the epoch or RFC 3339); now if absent.
    pub at: Option<String>,
}

/// One wallet's balances at a moment.
#[derive(Serialize, ToSchema)]
pub struct WalletAt {
    /// Currency code.
    pub currency: &'static str,
    /// Cash.
    pub cash: String,
    /// Bonus money.
    pub bonus: String,
    /// Cash held for pending withdrawals.
    pub reserved: String,
    /// Cash + bonus.
    pub balance: String,
    /// The last movement at or before the moment (0: none, the wallet was empty).
    pub last_seq: u64,
}

/// A player's balances at a moment.
#[derive(Serialize, ToSchema)]
pub struct BalancesAtReply {
    /// Player id.
    pub player: u64,
    /// The moment, ms since the epoch.
    pub at_ms: u64,
    /// The moment, RFC 3339.
    pub at: String,
    /// Each wallet, base currency first.
    pub balances: Vec<WalletAt>,
    /// The sequence number this answer is current to.
    pub as_of_seq: u64,
}

/// A player's balances, per currency, as they were at a past moment: after
/// every movement stamped at or before it (every role). Without `at`, now.
#[utoipa::path(get, path = "/operator/v1/players/{player}/balances", tag = "operator",
    params(("player" = u64, Path), BalancesAtQuery), security(("bearer" = [])),
    responses((status = 200, body = BalancesAtReply), BearerErrors, LedgerErrors,
        (status = 400, body = ErrorBody, description = "invalid_request (a bad query parameter or time)"),
        (status = 404, body = ErrorBody, description = "unknown_player"),
        (status = 422, body = ErrorBody, description = "history_unavailable: the read model's history starts after that moment (the journal before it was retired)")))]
pub async fn balances_at(
    State(state): State<AppState>,
    Path(player_id): Path<String>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let Query(query) = Query::<BalancesAtQuery>::try_from_uri(&uri)
        .map_err(|_| ApiError::bad_request("invalid_request", "the query parameter is at"))?;
    let at_ms = match query.at.as_deref() {
        Some(text) => time_ms(text, "at")?,
        None => state.now_ms(),
    };
    let player = player(&state, &player_id)?;
    let (found, as_of_seq) = read(&state, move |c| history::balances_at(c, player, at_ms)).await?;
    let wallets = found.ok_or_else(|| ApiError::not_found("unknown_player", "no such player"))?;
    let mut balances = Vec::with_capacity(wallets.len());
    for wallet in wallets {
        let BalanceAt::Known(b, last_seq) = wallet else {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "history_unavailable",
                "the history starts after that moment: its journal was retired before the read model was built",
            ));
        };
        let money = |amount| wire::money(amount, b.currency);
        balances.push(WalletAt {
            currency: b.currency.code(),
            cash: money(b.cash),
            bonus: money(b.bonus),
            reserved: money(b.reserved),
            balance: money(sum(b.cash, b.bonus)?),
            last_seq,
        });
    }
    ok(
        StatusCode::OK,
        &BalancesAtReply {
            player: player.0,
            at_ms,
            at: rfc3339(at_ms),
            balances,
            as_of_seq,
        },
    )
}

/// Which rounds.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct GamesQuery {
    /// Only rounds with a movement at or after this time (ms since the
    /// epoch or RFC 3339).
    pub from: Option<String>,
    /// Only rounds with a movement before this time.
    pub to: Option<String>,
    /// Only this game (its code).
    pub game: Option<String>,
    /// Only rounds with a movement of this kind: bet, win or rollback.
    pub kind: Option<String>,
    /// Where the page starts: the `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Most rounds returned, 1 to 200. Default 50.
    pub limit: Option<usize>,
}

/// A bet, win or rollback in a round.
#[derive(Serialize, ToSchema)]
pub struct PlayReply {
    /// Sequence number.
    pub seq: u64,
    /// When, ms since the epoch.
    pub time_ms: u64,
    /// bet, win or rollback.
    pub kind: String,
    /// The aggregator's transaction id.
    pub id: String,
    /// Cash moved (negative: staked).
    pub cash_delta: String,
    /// Bonus moved.
    pub bonus_delta: String,
    /// Cash after.
    pub cash: String,
    /// Bonus after.
    pub bonus: String,
}

/// A game round.
#[derive(Serialize, ToSchema)]
pub struct RoundReply {
    /// The aggregator's source id.
    pub aggregator: u32,
    /// The aggregator's name, if it is one (not an operator's source).
    pub aggregator_name: Option<String>,
    /// The aggregator's round id.
    pub round: String,
    /// The game code.
    pub game: String,
    /// Currency code.
    pub currency: &'static str,
    /// The first movement's time, ms since the epoch.
    pub started_ms: u64,
    /// The last movement's time.
    pub last_ms: u64,
    /// Staked: bets, positive.
    pub staked: String,
    /// Won: wins.
    pub won: String,
    /// Refunded: rollbacks.
    pub refunded: String,
    /// Bets, wins and rollbacks, oldest first.
    pub plays: Vec<PlayReply>,
}

/// A page of game history.
#[derive(Serialize, ToSchema)]
pub struct GamesReply {
    /// Player id.
    pub player: u64,
    /// Rounds, most recently played first.
    pub rounds: Vec<RoundReply>,
    /// The cursor of the next page, if this one was full.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
    /// The sequence number this answer is current to.
    pub as_of_seq: u64,
}

fn round_reply(state: &AppState, round: history::RoundView) -> Result<RoundReply, ApiError> {
    let first = round
        .movements
        .first()
        .ok_or_else(|| ApiError::internal("a round without movements"))?;
    let currency: Currency = first.currency;
    let (started_ms, last_ms) = (
        first.time_ms,
        round.movements.last().map_or(first.time_ms, |m| m.time_ms),
    );
    let (mut staked, mut won, mut refunded) = (Amount::ZERO, Amount::ZERO, Amount::ZERO);
    let mut plays = Vec::with_capacity(round.movements.len());
    for m in round.movements {
        let moved = sum(m.cash_delta, m.bonus_delta)?;
        match m.kind.as_str() {
            "bet" => {
                let stake = moved
                    .checked_neg()
                    .ok_or_else(|| ApiError::internal("a stake overflows"))?;
                staked = sum(staked, stake)?;
            }
            "win" => won = sum(won, moved)?,
            "rollback" => refunded = sum(refunded, moved)?,
            _ => {}
        }
        let money = |amount| wire::money(amount, m.currency);
        plays.push(PlayReply {
            seq: m.seq,
            time_ms: m.time_ms,
            cash_delta: money(m.cash_delta),
            bonus_delta: money(m.bonus_delta),
            cash: money(m.balances.cash),
            bonus: money(m.balances.bonus),
            kind: m.kind,
            id: m.id,
        });
    }
    let aggregator_name = state
        .view
        .read()
        .access
        .aggregator(round.aggregator)
        .map(|a| a.name.as_str().to_owned());
    let money = |amount| wire::money(amount, currency);
    Ok(RoundReply {
        aggregator: round.aggregator.0,
        aggregator_name,
        round: round.round,
        game: round.game,
        currency: currency.code(),
        started_ms,
        last_ms,
        staked: money(staked),
        won: money(won),
        refunded: money(refunded),
        plays,
    })
}

/// A player's game history: rounds with their bets, wins and rollbacks,
/// the game and the aggregator, most recently played first, in pages;
/// filtered by time, game and kind (every role). A round matches if one of
/// its movements does; it is shown whole.
#[utoipa::path(get, path = "/operator/v1/players/{player}/games", tag = "operator",
    params(("player" = u64, Path), GamesQuery), security(("bearer" = [])),
    responses((status = 200, body = GamesReply), BearerErrors, LedgerErrors,
        (status = 400, body = ErrorBody, description = "invalid_request (a bad query parameter, time or game code, from after to, kind not bet, win or rollback, limit outside 1–200), invalid_cursor"),
        (status = 404, body = ErrorBody, description = "unknown_player")))]
pub async fn games(
    State(state): State<AppState>,
    Path(player_id): Path<String>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let Query(query) = Query::<GamesQuery>::try_from_uri(&uri).map_err(|_| {
        ApiError::bad_request(
            "invalid_request",
            "query parameters are from, to, game, kind, cursor and limit",
        )
    })?;
    let (from_ms, to_ms) = range(query.from.as_deref(), query.to.as_deref())?;
    let game = query
        .game
        .as_deref()
        .map(|code| wire::game_code(code).map(|g| g.as_str().to_owned()))
        .transpose()?;
    let kind = match query.kind.as_deref() {
        None => None,
        Some(kind @ ("bet" | "win" | "rollback")) => Some(kind.to_owned()),
        Some(_) => return Err(ApiError::bad_request("invalid_request", "kind: bet, win or rollback")),
    };
    let limit = wire::page_limit(query.limit, 50, ROUNDS_PAGE_MAX)?;
    let before_seq = cursor(query.cursor.as_deref())?.unwrap_or(u64::MAX);
    let player = player(&state, &player_id)?;
    let filter = RoundFilter {
        from_ms,
        to_ms,
        game,
        kind,
        before_seq,
    };
    let (rounds, as_of_seq) = for_player(&state, player, move |c| history::rounds(c, player, &filter, limit)).await?;
    let next_cursor = (rounds.len() == limit)
        .then(|| rounds.last().map(|r| r.last_seq.to_string()))
        .flatten();
    let rounds = rounds
        .into_iter()
        .map(|round| round_reply(&state, round))
        .collect::<Result<_, _>>()?;
    ok(
        StatusCode::OK,
        &GamesReply {
            player: player.0,
            rounds,
            next_cursor,
            as_of_seq,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_ms_or_rfc3339_and_nothing_else() {
        assert_eq!(time_ms("0", "at").ok(), Some(0));
        assert_eq!(time_ms("1767225600000", "at").ok(), Some(1_767_225_600_000));
        assert_eq!(time_ms("2026-01-01T00:00:00Z", "at").ok(), Some(1_767_225_600_000));
        assert_eq!(
            time_ms("2026-01-01T01:00:00.250+01:00", "at").ok(),
            Some(1_767_225_600_250)
        );
        for bad in [
            "",
            "-1",
            "1e3",
            "yesterday",
            "2026-01-01",
            "1969-12-31T23:59:59Z",
            "99999999999999999999",
        ] {
            assert!(time_ms(bad, "at").is_err(), "{bad}");
        }
        assert_eq!(rfc3339(1_767_225_600_250), "2026-01-01T00:00:00.25Z");
    }
}
