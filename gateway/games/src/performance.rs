//! Live game performance over the operator API and `/metrics`: per game
//! and per provider, rounds, unique players, turnover, GGR, bonus cost,
//! actual RTP against the configured one (with the RTP test's alert),
//! refusal rates, and each aggregator's wallet calls (refusals, errors,
//! latency).
//!
//! The sums come from the read model's monitoring projection
//! ([`readmodel::monitoring`], per game, currency, jurisdiction and hour);
//! the catalogue (provider, volatility, the RTP configured per
//! jurisdiction) from the view; the wallet calls from the edge's
//! lock-free counters ([`edge::calls`]). Figures are per currency: money
//! in two currencies is never added up.
//!
//! Definitions (minor units in the projection, decimals here):
//!
//! - **turnover**: stakes net of rollbacks, cash and bonus money: what the
//!   game took;
//! - **prizes**: wins and jackpot payouts; **GGR** as the reports define
//!   it: cash stakes less prizes credited to cash; **bonus cost**: bonus
//!   money converted to cash by the game's movements; **NGR** = GGR − bonus
//!   cost;
//! - **actual RTP** = (prizes − jackpot payouts) / turnover; **configured
//!   RTP**: each jurisdiction's stakes at the RTP the catalogue configures
//!   for it (the game's default for players of unknown jurisdiction),
//!   over the turnover; the **RTP test** is documented in
//!   [`readmodel::monitoring::rtp_test`];
//! - **rounds**: rounds opened (a player's first bet in a round);
//!   **refusal rate** = refused bets / (accepted + refused).

use std::collections::{BTreeMap, HashMap};

use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use edge::AppState;
use edge::calls::CallFigures;
use edge::change::ok;
use edge::error::{ApiError, ErrorBody};
use edge::openapi::RoleErrors;
use edge::reads::read;
use edge::view::View;
use edge::wire::money;
use engine::{Amount, SourceId};
use readmodel::monitoring::{self, CurrencyTotals, GameSum, GameTotals, HOUR_MS, rtp_test};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Games named in `/metrics` one by one: the busiest by bets over the last
/// day. Every other game counts in its provider's series only, so the
/// number of series stays bounded whatever the catalogue holds.
pub const METRICS_TOP_GAMES: usize = 20;

/// A period of whole UTC hours ending with the current one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Period {
    /// First hour (since the epoch), included.
    pub from_hour: u64,
    /// Last hour, excluded.
    pub to_hour: u64,
}

impl Period {
    /// The period a `period` parameter names (`1h`, `24h`, `7d`, `30d`,
    /// `all`; default `24h`) ending with the hour of `now_ms`.
    pub fn named(name: Option<&str>, now_ms: u64) -> Result<Period, ApiError> {
        let to_hour = now_ms / HOUR_MS + 1;
        let hours = match name.unwrap_or("24h") {
            "1h" => 1,
            "24h" => 24,
            "7d" => 24 * 7,
            "30d" => 24 * 30,
            "all" => to_hour,
            _ => {
                return Err(ApiError::bad_request(
                    "invalid_request",
                    "period is one of 1h, 24h, 7d, 30d, all",
                ));
            }
        };
        Ok(Period {
            from_hour: to_hour.saturating_sub(hours),
            to_hour,
        })
    }
}

/// Which games, over which period.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PerformanceQuery {
    /// Only this provider's games (its code).
    pub provider: Option<String>,
    /// 1h, 24h (default), 7d, 30d or all: whole UTC hours ending with the
    /// current one.
    pub period: Option<String>,
}

/// Over which period.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PeriodQuery {
    /// 1h, 24h (default), 7d, 30d or all.
    pub period: Option<String>,
}

/// A game's or provider's money figures in one currency.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct CurrencyFigures {
    /// ISO 4217.
    pub currency: String,
    /// Bets accepted.
    pub bets: u64,
    /// Stakes net of rollbacks, cash and bonus money.
    pub turnover: String,
    /// The bonus-money share of the turnover.
    pub bonus_stakes: String,
    /// Wins and jackpot payouts.
    pub prizes: String,
    /// Paid by jackpot pools (part of the prizes).
    pub jackpot_paid: String,
    /// Cash stakes less prizes credited to cash.
    pub ggr: String,
    /// Bonus money converted to cash.
    pub bonus_cost: String,
    /// GGR − bonus cost.
    pub ngr: String,
    /// (prizes − jackpot payouts) / turnover; absent without turnover.
    pub rtp_actual: Option<f64>,
    /// The RTP the catalogue configures, weighted by the stakes of each
    /// jurisdiction; absent for a game the catalogue does not hold.
    pub rtp_configured: Option<f64>,
    /// The RTP test's statistic (see the module's documentation).
    pub z: Option<f64>,
    /// |z| above the threshold on enough bets.
    pub alert: bool,
}

/// One refusal reason's count.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct RefusalCount {
    /// The ledger's rejection (`InsufficientFunds`, `GameDisabled` …).
    pub reason: String,
    /// Bets refused for it.
    pub count: u64,
}

/// One game's live performance.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct GamePerformance {
    /// The aggregator's id.
    pub aggregator: u32,
    /// Its name.
    pub aggregator_name: String,
    /// The game's code at that aggregator.
    pub code: String,
    /// The catalogue's name, if it holds the game.
    pub name: Option<String>,
    /// Its provider's code, if the catalogue holds the game.
    pub provider: Option<String>,
    /// Its volatility class (`unrated` if not in the catalogue).
    pub volatility: String,
    /// Rounds opened.
    pub rounds: u64,
    /// Bets accepted.
    pub bets: u64,
    /// Bets the ledger refused.
    pub refused: u64,
    /// refused / (bets + refused).
    pub refusal_rate: f64,
    /// Players who staked.
    pub unique_players: u64,
    /// Money figures per currency.
    pub currencies: Vec<CurrencyFigures>,
    /// Refusals by reason, most frequent first.
    pub refusals: Vec<RefusalCount>,
    /// Whether any currency's RTP test raised the alert.
    pub alert: bool,
}

/// Games' performance over a period.
#[derive(Serialize, ToSchema)]
pub struct GamesPerformanceReply {
    /// First hour of the period, ms since the epoch.
    pub from_ms: u64,
    /// End of the period (excluded), ms since the epoch.
    pub to_ms: u64,
    /// Games with a bet or refusal in the period, by aggregator and code.
    pub games: Vec<GamePerformance>,
    /// The read model's sequence number the figures are current to.
    pub as_of_seq: u64,
}

/// One hour of a game, in one currency.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct HourFigures {
    /// The hour's start, ms since the epoch.
    pub hour_ms: u64,
    /// ISO 4217.
    pub currency: String,
    /// Rounds opened.
    pub rounds: u64,
    /// Bets accepted.
    pub bets: u64,
    /// Bets refused.
    pub refused: u64,
    /// Stakes net of rollbacks.
    pub turnover: String,
    /// Wins and jackpot payouts.
    pub prizes: String,
    /// Cash stakes less cash prizes.
    pub ggr: String,
}

/// One game's performance and its hours.
#[derive(Serialize, ToSchema)]
pub struct GameDetailReply {
    /// First hour of the period, ms since the epoch.
    pub from_ms: u64,
    /// End of the period (excluded).
    pub to_ms: u64,
    /// The period's figures.
    pub game: GamePerformance,
    /// Per hour and currency, oldest first (hours without activity left
    /// out).
    pub hours: Vec<HourFigures>,
    /// The read model's sequence number.
    pub as_of_seq: u64,
}

/// An aggregator's wallet calls since the server started.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct AggregatorCalls {
    /// The aggregator's id (0: the overflow past the counted aggregators).
    pub aggregator: u32,
    /// Its name.
    pub name: String,
    /// Wallet calls that reached the ledger.
    pub calls: u64,
    /// Refused by the ledger.
    pub refused: u64,
    /// Ended without an outcome (busy, stopping, in doubt).
    pub errors: u64,
    /// refused / calls.
    pub refusal_rate: f64,
    /// errors / calls.
    pub error_rate: f64,
    /// Mean round trip to the ledger, µs.
    pub latency_us_mean: Option<u64>,
    /// The histogram bucket holding the median, its upper bound in µs.
    pub latency_us_p50: Option<u64>,
    /// Likewise for the 99th percentile (absent: above the last bucket).
    pub latency_us_p99: Option<u64>,
}

/// One provider's live performance.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ProviderPerformance {
    /// Its code.
    pub provider: String,
    /// Its name.
    pub name: String,
    /// Games of it with activity in the period.
    pub games: u64,
    /// Rounds opened.
    pub rounds: u64,
    /// Bets accepted.
    pub bets: u64,
    /// Bets refused.
    pub refused: u64,
    /// refused / (bets + refused).
    pub refusal_rate: f64,
    /// Players who staked in any of its games, each once.
    pub unique_players: u64,
    /// Money figures per currency (the RTP test over all its games).
    pub currencies: Vec<CurrencyFigures>,
    /// Its games whose RTP test raised the alert.
    pub alerts: u64,
    /// The wallet calls of the aggregators that carry it.
    pub aggregators: Vec<AggregatorCalls>,
}

/// Providers' performance over a period.
#[derive(Serialize, ToSchema)]
pub struct ProvidersPerformanceReply {
    /// First hour of the period, ms since the epoch.
    pub from_ms: u64,
    /// End of the period (excluded).
    pub to_ms: u64,
    /// By code.
    pub providers: Vec<ProviderPerformance>,
    /// The read model's sequence number.
    pub as_of_seq: u64,
}

/// A game whose RTP departs from the configured one by more than chance.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct RtpAlert {
    /// The aggregator's id.
    pub aggregator: u32,
    /// The game's code.
    pub code: String,
    /// Its provider.
    pub provider: Option<String>,
    /// The currency of the bets tested.
    pub currency: String,
    /// Bets tested.
    pub bets: u64,
    /// Actual RTP.
    pub rtp_actual: Option<f64>,
    /// Configured RTP.
    pub rtp_configured: Option<f64>,
    /// The statistic.
    pub z: f64,
    /// `high` (pays more than configured) or `low`.
    pub direction: String,
}

/// The RTP alerts of a period.
#[derive(Serialize, ToSchema)]
pub struct RtpAlertsReply {
    /// First hour of the period, ms since the epoch.
    pub from_ms: u64,
    /// End of the period (excluded).
    pub to_ms: u64,
    /// |z| above it raises an alert.
    pub z_threshold: f64,
    /// On at least this many bets.
    pub min_bets: u64,
    /// Largest |z| first.
    pub alerts: Vec<RtpAlert>,
    /// The read model's sequence number.
    pub as_of_seq: u64,
}

/// What the read model gives for a period.
pub(crate) struct Sums {
    pub(crate) rows: Vec<GameSum>,
    players: HashMap<(SourceId, String), u64>,
    refusals: Vec<(SourceId, String, String, u64)>,
}

pub(crate) async fn sums(state: &AppState, period: Period) -> Result<(Sums, u64), ApiError> {
    read(state, move |c| {
        let rows = monitoring::games(c, period.from_hour, period.to_hour)?;
        let mut players = HashMap::new();
        for row in &rows {
            let key = (row.source, row.game.clone());
            if let std::collections::hash_map::Entry::Vacant(slot) = players.entry(key) {
                let n =
                    monitoring::unique_players(c, std::slice::from_ref(slot.key()), period.from_hour, period.to_hour)?;
                slot.insert(n);
            }
        }
        let refusals = monitoring::refusals(c, None, period.from_hour, period.to_hour)?;
        Ok(Sums {
            rows,
            players,
            refusals,
        })
    })
    .await
}

/// A currency's money figures and RTP test, as the API shows them.
fn currency_figures(totals: &CurrencyTotals) -> CurrencyFigures {
    let currency = totals.currency;
    let total = &totals.sum;
    let show = |minor: i64| money(Amount::from_minor(minor), currency);
    CurrencyFigures {
        currency: currency.code().to_owned(),
        bets: total.bets,
        turnover: show(total.stake),
        bonus_stakes: show(total.bonus_stake),
        prizes: show(total.prize),
        jackpot_paid: show(total.jackpot),
        ggr: show(total.ggr()),
        bonus_cost: show(total.converted),
        ngr: show(total.ggr() - total.converted),
        rtp_actual: totals.rtp_actual(),
        rtp_configured: totals.rtp_configured(),
        z: totals.z(),
        alert: totals.alert(),
    }
}

/// Every game's performance from the period's sums, by aggregator and
/// code.
fn games_of(view: &View, sums: &Sums) -> Vec<GamePerformance> {
    monitoring::by_game(&view.games, &sums.rows)
        .iter()
        .map(|totals| game_of(view, sums, totals))
        .collect()
}

fn game_of(view: &View, sums: &Sums, totals: &GameTotals) -> GamePerformance {
    let (rounds, bets, refused) = totals.counts();
    let refusals = sums
        .refusals
        .iter()
        .filter(|(s, g, _, _)| *s == totals.source && *g == totals.code)
        .map(|(_, _, reason, count)| RefusalCount {
            reason: reason.clone(),
            count: *count,
        })
        .collect();
    GamePerformance {
        aggregator: totals.source.0,
        aggregator_name: aggregator_name(view, totals.source),
        code: totals.code.clone(),
        name: totals.game.as_ref().map(|g| g.name.to_string()),
        provider: totals.game.as_ref().map(|g| g.provider.to_string()),
        volatility: totals.volatility().to_owned(),
        rounds,
        bets,
        refused,
        refusal_rate: totals.refusal_rate(),
        unique_players: sums
            .players
            .get(&(totals.source, totals.code.clone()))
            .copied()
            .unwrap_or(0),
        currencies: totals.currencies.iter().map(currency_figures).collect(),
        refusals,
        alert: totals.alert(),
    }
}

fn aggregator_name(view: &View, source: SourceId) -> String {
    view.access
        .aggregator(source)
        .map_or_else(String::new, |a| a.name.to_string())
}

fn calls_of(view: &View, figures: &CallFigures) -> AggregatorCalls {
    AggregatorCalls {
        aggregator: figures.aggregator.0,
        name: aggregator_name(view, figures.aggregator),
        calls: figures.calls,
        refused: figures.refused,
        errors: figures.errors,
        refusal_rate: monitoring::rate(figures.refused, figures.calls),
        error_rate: monitoring::rate(figures.errors, figures.calls),
        latency_us_mean: (figures.calls > 0).then(|| figures.latency_us_sum / figures.calls),
        latency_us_p50: figures.latency_us_at(0.5).filter(|_| figures.calls > 0),
        latency_us_p99: figures.latency_us_at(0.99).filter(|_| figures.calls > 0),
    }
}

fn period_of(state: &AppState, name: Option<&str>) -> Result<Period, ApiError> {
    Period::named(name, state.now_ms())
}

pub(crate) fn query<T: serde::de::DeserializeOwned>(uri: &Uri, expected: &str) -> Result<T, ApiError> {
    axum::extract::Query::<T>::try_from_uri(uri)
        .map(|query| query.0)
        .map_err(|_| ApiError::bad_request("invalid_request", format!("query parameters are {expected}")))
}

/// Games' live performance (admins, finance, compliance, read-only,
/// marketing).
#[utoipa::path(get, path = "/operator/v1/games/performance", tag = "games", params(PerformanceQuery),
    security(("bearer" = [])),
    responses((status = 200, body = GamesPerformanceReply), RoleErrors,
        (status = 400, body = ErrorBody, description = "invalid_request: an unknown parameter or period"),
        (status = 404, body = ErrorBody, description = "unknown_provider"),
        (status = 503, body = ErrorBody, description = "view_behind")))]
pub async fn games_performance(State(state): State<AppState>, uri: Uri) -> Result<Response, ApiError> {
    let q: PerformanceQuery = query(&uri, "provider and period")?;
    let period = period_of(&state, q.period.as_deref())?;
    if let Some(provider) = &q.provider
        && state.view.read().games.provider(provider).is_none()
    {
        return Err(unknown_provider());
    }
    let (sums, as_of_seq) = sums(&state, period).await?;
    let view = state.view.read();
    let mut games = games_of(&view, &sums);
    drop(view);
    if let Some(provider) = &q.provider {
        games.retain(|g| g.provider.as_deref() == Some(provider.as_str()));
    }
    ok(
        StatusCode::OK,
        &GamesPerformanceReply {
            from_ms: period.from_hour * HOUR_MS,
            to_ms: period.to_hour * HOUR_MS,
            games,
            as_of_seq,
        },
    )
}

fn unknown_provider() -> ApiError {
    ApiError::not_found("unknown_provider", "the catalogue holds no provider of this code")
}

/// One game's live performance with its hours (admins, finance,
/// compliance, read-only, marketing). A game the catalogue does not hold
/// is shown too if it had bets (before the catalogue, or refused).
#[utoipa::path(get, path = "/operator/v1/games/{aggregator}/{code}/performance", tag = "games",
    params(("aggregator" = String, Path, description = "the aggregator's id or name"),
        ("code" = String, Path, description = "the game's code at that aggregator"), PeriodQuery),
    security(("bearer" = [])),
    responses((status = 200, body = GameDetailReply), RoleErrors,
        (status = 400, body = ErrorBody, description = "invalid_request, invalid_game"),
        (status = 404, body = ErrorBody, description = "unknown_aggregator, unknown_game: neither in the catalogue nor played"),
        (status = 503, body = ErrorBody, description = "view_behind")))]
pub async fn game_performance(
    State(state): State<AppState>,
    Path((aggregator, code)): Path<(String, String)>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let q: PeriodQuery = query(&uri, "period")?;
    let period = period_of(&state, q.period.as_deref())?;
    let (source, code) = crate::catalogue::game_key(&state.view.read(), &aggregator, &code)?;
    let key = code.as_str().to_owned();
    let ((rows, hours, players, refusals), as_of_seq) = read(&state, move |c| {
        let rows = monitoring::games(c, period.from_hour, period.to_hour)?
            .into_iter()
            .filter(|r| r.source == source && r.game == key)
            .collect::<Vec<_>>();
        let hours = monitoring::game_hours(c, source, &key, period.from_hour, period.to_hour)?;
        let game = [(source, key.clone())];
        let players = monitoring::unique_players(c, &game, period.from_hour, period.to_hour)?;
        let refusals = monitoring::refusals(c, Some((source, &key)), period.from_hour, period.to_hour)?;
        Ok((rows, hours, players, refusals))
    })
    .await?;
    let view = state.view.read();
    if rows.is_empty() && view.games.game(source, code.as_str()).is_none() {
        return Err(crate::catalogue::unknown_game());
    }
    let sums = Sums {
        rows,
        players: HashMap::from([((source, code.as_str().to_owned()), players)]),
        refusals,
    };
    let game = games_of(&view, &sums)
        .pop()
        .unwrap_or_else(|| idle_game(&view, source, code.as_str()));
    drop(view);
    let hours = hours
        .iter()
        .filter_map(|h| {
            let currency = h.currency?;
            let show = |minor: i64| money(Amount::from_minor(minor), currency);
            Some(HourFigures {
                hour_ms: h.hour.unwrap_or_default() * HOUR_MS,
                currency: currency.code().to_owned(),
                rounds: h.rounds,
                bets: h.bets,
                refused: h.refused,
                turnover: show(h.stake),
                prizes: show(h.prize),
                ggr: show(h.ggr()),
            })
        })
        .collect();
    ok(
        StatusCode::OK,
        &GameDetailReply {
            from_ms: period.from_hour * HOUR_MS,
            to_ms: period.to_hour * HOUR_MS,
            game,
            hours,
            as_of_seq,
        },
    )
}

/// A catalogue game with no activity in the period.
fn idle_game(view: &View, source: SourceId, code: &str) -> GamePerformance {
    let game = view.games.game(source, code);
    GamePerformance {
        aggregator: source.0,
        aggregator_name: aggregator_name(view, source),
        code: code.to_owned(),
        name: game.map(|g| g.name.to_string()),
        provider: game.map(|g| g.provider.to_string()),
        volatility: game.map_or("unrated", |g| g.volatility.name()).to_owned(),
        rounds: 0,
        bets: 0,
        refused: 0,
        refusal_rate: 0.0,
        unique_players: 0,
        currencies: Vec::new(),
        refusals: Vec::new(),
        alert: false,
    }
}

/// Providers' live performance, with the wallet calls of the aggregators
/// that carry them (admins, finance, compliance, read-only, marketing).
#[utoipa::path(get, path = "/operator/v1/providers/performance", tag = "games", params(PeriodQuery),
    security(("bearer" = [])),
    responses((status = 200, body = ProvidersPerformanceReply), RoleErrors,
        (status = 400, body = ErrorBody, description = "invalid_request: an unknown parameter or period"),
        (status = 503, body = ErrorBody, description = "view_behind")))]
pub async fn providers_performance(State(state): State<AppState>, uri: Uri) -> Result<Response, ApiError> {
    let q: PeriodQuery = query(&uri, "period")?;
    let period = period_of(&state, q.period.as_deref())?;
    let (sums, as_of_seq) = sums(&state, period).await?;
    // Which games each provider has in the period, for its unique players.
    let keys: BTreeMap<String, Vec<(SourceId, String)>> = {
        let view = state.view.read();
        let mut keys: BTreeMap<String, Vec<(SourceId, String)>> = BTreeMap::new();
        for row in &sums.rows {
            if let Some(game) = view.games.game(row.source, &row.game) {
                let list = keys.entry(game.provider.to_string()).or_default();
                let key = (row.source, row.game.clone());
                if !list.contains(&key) {
                    list.push(key);
                }
            }
        }
        keys
    };
    let lookup = keys.clone();
    let (players, _) = read(&state, move |c| {
        let mut players = HashMap::new();
        for (provider, games) in &lookup {
            players.insert(
                provider.clone(),
                monitoring::unique_players(c, games, period.from_hour, period.to_hour)?,
            );
        }
        Ok(players)
    })
    .await?;
    let calls = state.wallet_calls.figures();
    let view = state.view.read();
    let providers = providers_of(&view, &sums, &players, &calls);
    drop(view);
    ok(
        StatusCode::OK,
        &ProvidersPerformanceReply {
            from_ms: period.from_hour * HOUR_MS,
            to_ms: period.to_hour * HOUR_MS,
            providers,
            as_of_seq,
        },
    )
}

fn providers_of(
    view: &View,
    sums: &Sums,
    players: &HashMap<String, u64>,
    calls: &[CallFigures],
) -> Vec<ProviderPerformance> {
    let totals = monitoring::by_game(&view.games, &sums.rows);
    view.games
        .providers()
        .iter()
        .map(|provider| {
            let code = provider.code.to_string();
            let own: Vec<&GameTotals> = totals
                .iter()
                .filter(|t| t.game.as_ref().is_some_and(|g| g.provider == provider.code))
                .collect();
            let (rounds, bets, refused) = own.iter().fold((0, 0, 0), |(r, b, f), t| {
                let (tr, tb, tf) = t.counts();
                (r + tr, b + tb, f + tf)
            });
            ProviderPerformance {
                name: provider.name.to_string(),
                games: own.len() as u64,
                rounds,
                bets,
                refused,
                refusal_rate: monitoring::rate(refused, bets + refused),
                unique_players: players.get(&code).copied().unwrap_or(0),
                currencies: monitoring::provider_totals(own.iter().copied())
                    .iter()
                    .map(currency_figures)
                    .collect(),
                alerts: own.iter().filter(|t| t.alert()).count() as u64,
                aggregators: calls
                    .iter()
                    .filter(|c| provider.aggregators.contains(&c.aggregator))
                    .map(|c| calls_of(view, c))
                    .collect(),
                provider: code,
            }
        })
        .collect()
}

/// The games whose RTP test raises an alert over the period (admins,
/// finance, compliance, read-only, marketing), largest |z| first.
#[utoipa::path(get, path = "/operator/v1/games/performance/alerts", tag = "games", params(PeriodQuery),
    security(("bearer" = [])),
    responses((status = 200, body = RtpAlertsReply), RoleErrors,
        (status = 400, body = ErrorBody, description = "invalid_request: an unknown parameter or period"),
        (status = 503, body = ErrorBody, description = "view_behind")))]
pub async fn alerts(State(state): State<AppState>, uri: Uri) -> Result<Response, ApiError> {
    let q: PeriodQuery = query(&uri, "period")?;
    let period = period_of(&state, q.period.as_deref())?;
    let (sums, as_of_seq) = sums(&state, period).await?;
    let view = state.view.read();
    let games = games_of(&view, &sums);
    drop(view);
    ok(
        StatusCode::OK,
        &RtpAlertsReply {
            from_ms: period.from_hour * HOUR_MS,
            to_ms: period.to_hour * HOUR_MS,
            z_threshold: rtp_test::Z_ALERT,
            min_bets: rtp_test::MIN_BETS,
            alerts: alerts_of(&games),
            as_of_seq,
        },
    )
}

fn alerts_of(games: &[GamePerformance]) -> Vec<RtpAlert> {
    let mut alerts: Vec<RtpAlert> = games
        .iter()
        .flat_map(|g| {
            g.currencies.iter().filter(|c| c.alert).map(|c| {
                let z = c.z.unwrap_or_default();
                RtpAlert {
                    aggregator: g.aggregator,
                    code: g.code.clone(),
                    provider: g.provider.clone(),
                    currency: c.currency.clone(),
                    bets: c.bets,
                    rtp_actual: c.rtp_actual,
                    rtp_configured: c.rtp_configured,
                    z,
                    direction: if z > 0.0 { "high" } else { "low" }.to_owned(),
                }
            })
        })
        .collect();
    alerts.sort_by(|a, b| b.z.abs().total_cmp(&a.z.abs()));
    alerts
}

/// The games' performance for the back office: the last day's figures per
/// game and the alerts, from the same code as the API.
pub async fn last_day(state: &AppState) -> Result<(Vec<GamePerformance>, Vec<RtpAlert>), ApiError> {
    let period = Period::named(Some("24h"), state.now_ms())?;
    let (sums, _) = sums(state, period).await?;
    let view = state.view.read();
    let games = games_of(&view, &sums);
    drop(view);
    let alerts = alerts_of(&games);
    Ok((games, alerts))
}

/// The `/metrics` lines of the game monitoring, over the last 24 hours:
/// per provider (bounded by the catalogue's providers) and for the
/// [`METRICS_TOP_GAMES`] busiest games only, and the wallet calls per
/// aggregator (bounded by the edge's slots). Per-game series for every
/// game would grow with the catalogue (thousands of games × currencies):
/// Prometheus keeps every series it ever saw, so the long tail is in the
/// API, not here.
pub async fn metrics(state: &AppState) -> String {
    let Ok(period) = Period::named(Some("24h"), state.now_ms()) else {
        return String::new();
    };
    let calls = state.wallet_calls.figures();
    let raised = read(state, readmodel::rtp_alerts::raised_total)
        .await
        .ok()
        .map(|(n, _)| n);
    let sums = match sums(state, period).await {
        Ok((sums, _)) => sums,
        // The read model is behind: the page still answers, without the
        // per-game lines this once.
        Err(_) => return calls_metrics(&state.view.read(), &calls),
    };
    let view = state.view.read();
    let players = HashMap::new();
    let providers = providers_of(&view, &sums, &players, &calls);
    let mut games = games_of(&view, &sums);
    let mut text = calls_metrics(&view, &calls);
    drop(view);
    games.sort_by(|a, b| b.bets.cmp(&a.bets).then(a.code.cmp(&b.code)));
    games.truncate(METRICS_TOP_GAMES);
    provider_metrics(&mut text, &providers);
    game_metrics(&mut text, &games);
    if let Some(raised) = raised {
        header(
            &mut text,
            "game_rtp_alerts_raised_total",
            "counter",
            "RTP alerts raised (a game and currency crossing into alert) since the read model was built",
        );
        text.push_str(&format!("game_rtp_alerts_raised_total {raised}\n"));
    }
    text
}

fn header(text: &mut String, name: &str, kind: &str, help: &str) {
    text.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
}

fn calls_metrics(view: &View, calls: &[CallFigures]) -> String {
    let mut text = String::new();
    if calls.is_empty() {
        return text;
    }
    let label = |c: &CallFigures| format!("aggregator=\"{}\"", escape(&aggregator_name(view, c.aggregator)));
    header(
        &mut text,
        "wallet_calls_total",
        "counter",
        "Wallet calls that reached the ledger, per aggregator",
    );
    for c in calls {
        text.push_str(&format!("wallet_calls_total{{{}}} {}\n", label(c), c.calls));
    }
    header(
        &mut text,
        "wallet_calls_refused_total",
        "counter",
        "Wallet calls the ledger refused, per aggregator",
    );
    for c in calls {
        text.push_str(&format!("wallet_calls_refused_total{{{}}} {}\n", label(c), c.refused));
    }
    header(
        &mut text,
        "wallet_calls_errors_total",
        "counter",
        "Wallet calls that ended without an outcome, per aggregator",
    );
    for c in calls {
        text.push_str(&format!("wallet_calls_errors_total{{{}}} {}\n", label(c), c.errors));
    }
    header(
        &mut text,
        "wallet_call_latency_seconds",
        "histogram",
        "Round trip of a wallet call to the ledger, per aggregator",
    );
    for c in calls {
        let mut cumulative = 0;
        for (bound, count) in edge::calls::BUCKETS_US.iter().zip(&c.buckets) {
            cumulative += count;
            let le = *bound as f64 / 1e6;
            text.push_str(&format!(
                "wallet_call_latency_seconds_bucket{{{},le=\"{le}\"}} {cumulative}\n",
                label(c)
            ));
        }
        text.push_str(&format!(
            "wallet_call_latency_seconds_bucket{{{},le=\"+Inf\"}} {}\n",
            label(c),
            c.calls
        ));
        text.push_str(&format!(
            "wallet_call_latency_seconds_sum{{{}}} {}\n",
            label(c),
            c.latency_us_sum as f64 / 1e6
        ));
        text.push_str(&format!(
            "wallet_call_latency_seconds_count{{{}}} {}\n",
            label(c),
            c.calls
        ));
    }
    text
}

fn provider_metrics(text: &mut String, providers: &[ProviderPerformance]) {
    if providers.is_empty() {
        return;
    }
    header(
        text,
        "provider_bets_24h",
        "gauge",
        "Bets accepted in a provider's games over the last 24 hours",
    );
    for p in providers {
        text.push_str(&format!(
            "provider_bets_24h{{provider=\"{}\"}} {}\n",
            escape(&p.provider),
            p.bets
        ));
    }
    header(
        text,
        "provider_refused_bets_24h",
        "gauge",
        "Bets refused in a provider's games over the last 24 hours",
    );
    for p in providers {
        text.push_str(&format!(
            "provider_refused_bets_24h{{provider=\"{}\"}} {}\n",
            escape(&p.provider),
            p.refused
        ));
    }
    header(
        text,
        "provider_rtp_alerts",
        "gauge",
        "A provider's games whose RTP test raises an alert (24 hours)",
    );
    for p in providers {
        text.push_str(&format!(
            "provider_rtp_alerts{{provider=\"{}\"}} {}\n",
            escape(&p.provider),
            p.alerts
        ));
    }
    header(
        text,
        "provider_turnover_24h",
        "gauge",
        "Stakes in a provider's games over the last 24 hours, major units",
    );
    for p in providers {
        for c in &p.currencies {
            text.push_str(&format!(
                "provider_turnover_24h{{provider=\"{}\",currency=\"{}\"}} {}\n",
                escape(&p.provider),
                c.currency,
                c.turnover
            ));
        }
    }
    header(
        text,
        "provider_ggr_24h",
        "gauge",
        "GGR of a provider's games over the last 24 hours, major units",
    );
    for p in providers {
        for c in &p.currencies {
            text.push_str(&format!(
                "provider_ggr_24h{{provider=\"{}\",currency=\"{}\"}} {}\n",
                escape(&p.provider),
                c.currency,
                c.ggr
            ));
        }
    }
}

fn game_metrics(text: &mut String, games: &[GamePerformance]) {
    if games.is_empty() {
        return;
    }
    let label = |g: &GamePerformance| {
        format!(
            "provider=\"{}\",game=\"{}\"",
            escape(g.provider.as_deref().unwrap_or("")),
            escape(&g.code)
        )
    };
    header(
        text,
        "game_bets_24h",
        "gauge",
        "Bets accepted in one of the busiest games over the last 24 hours",
    );
    for g in games {
        text.push_str(&format!("game_bets_24h{{{}}} {}\n", label(g), g.bets));
    }
    header(
        text,
        "game_rtp_ratio",
        "gauge",
        "Actual RTP of one of the busiest games over the last 24 hours",
    );
    for g in games {
        for c in &g.currencies {
            if let Some(rtp) = c.rtp_actual {
                text.push_str(&format!(
                    "game_rtp_ratio{{{},currency=\"{}\"}} {rtp}\n",
                    label(g),
                    c.currency
                ));
            }
        }
    }
    header(
        text,
        "game_rtp_z",
        "gauge",
        "RTP test statistic of one of the busiest games (|z| > 3.29: alert)",
    );
    for g in games {
        for c in &g.currencies {
            if let Some(z) = c.z {
                text.push_str(&format!("game_rtp_z{{{},currency=\"{}\"}} {z}\n", label(g), c.currency));
            }
        }
    }
}

/// A label value as Prometheus reads it.
fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_are_whole_hours_ending_now() {
        let now = 10 * HOUR_MS + 5;
        assert_eq!(
            Period::named(None, now).unwrap(),
            Period {
                from_hour: 0,
                to_hour: 11
            }
        );
        assert_eq!(
            Period::named(Some("1h"), now).unwrap(),
            Period {
                from_hour: 10,
                to_hour: 11
            }
        );
        assert_eq!(Period::named(Some("all"), now).unwrap().from_hour, 0);
        assert!(Period::named(Some("2h"), now).is_err());
    }

    #[test]
    fn rtp_test_fires_on_volume_not_on_luck() {
        // 1,000 bets of 1.00 at σ 4: a fair 96 % game, one paying 100 %
        // (within chance) and one paying 150 %.
        let stake_sq = 1_000.0 * 100.0 * 100.0;
        let expected = 96_000.0;
        let variance = rtp_test::variance(stake_sq, 4.0);
        let fair = rtp_test::z(96_000, expected, variance).unwrap();
        let lucky = rtp_test::z(100_000, expected, variance).unwrap();
        let rigged = rtp_test::z(150_000, expected, variance).unwrap();
        assert_eq!(fair, 0.0);
        assert!(!rtp_test::alert(Some(lucky), 1_000), "z = {lucky}");
        assert!(rtp_test::alert(Some(rigged), 1_000), "z = {rigged}");
        assert!(!rtp_test::alert(Some(rigged), rtp_test::MIN_BETS - 1), "too few bets");
        assert_eq!(rtp_test::z(0, 0.0, 0.0), None);
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c"), "a\\\"b\\\\c");
    }
}
