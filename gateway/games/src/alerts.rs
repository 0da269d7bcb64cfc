//! The RTP alerts' history: an evaluator that runs the RTP test of every
//! game and currency over the last 24 hours (the window of `/metrics` and
//! of the alerts route's default) and records each crossing into alert or
//! back ([`readmodel::rtp_alerts`]), the worker that runs it every
//! [`EVALUATE_EVERY`], and the route that reads the history (and runs it
//! first, so what an operator reads is current to the figures).
//!
//! The history is derived from the figures, not journaled (why:
//! [`readmodel::rtp_alerts`]); a rebuilt read model starts it again at
//! the figures of the first evaluation after the rebuild.

use std::time::Duration;

use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use edge::AppState;
use edge::change::ok;
use edge::error::{ApiError, ErrorBody};
use edge::openapi::RoleErrors;
use edge::reads::read;
use edge::view::View;
use edge::wire::money;
use edge::worker::{TickError, TickLog};
use engine::{Amount, Currency, SourceId};
use readmodel::monitoring;
use readmodel::rtp_alerts::{self, Event, Filter, Test};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::performance::{self, Period, Sums};

/// How often the worker evaluates.
pub const EVALUATE_EVERY: Duration = Duration::from_secs(60);
/// Most rows one history read returns.
pub const HISTORY_MAX: usize = 1_000;
/// Longest game code a filter names (as the catalogue's).
const GAME_CODE_MAX: usize = 128;

/// The RTP test of every game and currency the window holds.
fn tests_of(view: &View, sums: &Sums) -> Vec<Test> {
    monitoring::by_game(&view.games, &sums.rows)
        .iter()
        .flat_map(|game| {
            game.currencies.iter().map(|c| Test {
                source: game.source.0,
                game: game.code.clone(),
                currency: c.currency.code().to_owned(),
                alert: c.alert(),
                bets: c.sum.bets,
                turnover: c.sum.stake,
                rtp_actual: c.rtp_actual(),
                rtp_configured: c.rtp_configured(),
                z: c.z(),
            })
        })
        .collect()
}

/// Runs the RTP test over the last 24 hours and records every crossing;
/// returns the rows written (none when nothing crossed).
pub async fn evaluate(state: &AppState) -> Result<Vec<Event>, ApiError> {
    let period = Period::named(Some("24h"), state.now_ms())?;
    let (sums, as_of_seq) = performance::sums(state, period).await?;
    let tests = tests_of(&state.view.read(), &sums);
    // Most evaluations change nothing: a reader finds that out, and only a
    // crossing takes the write lock (where it is checked again).
    let probe = tests.clone();
    let (planned, _) = read(state, move |c| rtp_alerts::plan(c, &probe, as_of_seq)).await?;
    if planned.is_empty() {
        return Ok(Vec::new());
    }
    let now_ms = state.now_ms();
    state
        .readmodel
        .write(move |c| rtp_alerts::record(c, &tests, now_ms, as_of_seq))
        .await
        .map_err(ApiError::internal)
}

/// Starts the worker: an evaluation every [`EVALUATE_EVERY`], the first
/// one period after the start.
pub fn spawn(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let start = tokio::time::Instant::now();
        let mut ticks = tokio::time::interval_at(start + EVALUATE_EVERY, EVALUATE_EVERY);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut log = TickLog::new("RTP alerts");
        loop {
            ticks.tick().await;
            let evaluated = evaluate(&state).await.map(|rows| {
                for row in rows.iter().filter(|r| r.kind == rtp_alerts::Kind::Raised) {
                    tracing::warn!(game = %row.test.game, currency = %row.test.currency,
                        z = ?row.test.z, "RTP alert raised");
                }
            });
            log.record(&evaluated.map_err(TickError::from));
        }
    })
}

/// Which rows of the history.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct HistoryQuery {
    /// From this time on, ms since the epoch (inclusive).
    pub from_ms: Option<u64>,
    /// Before this time, ms since the epoch (exclusive).
    pub to_ms: Option<u64>,
    /// Only this game code (at any aggregator).
    pub game: Option<String>,
    /// Most rows, 1 to 1000 (default 100).
    pub limit: Option<usize>,
}

/// One crossing of a game's RTP test.
#[derive(Serialize, ToSchema)]
pub struct RtpAlertEvent {
    /// Its id (increasing with time).
    pub id: u64,
    /// `raised` or `cleared` (a cleared game that left the 24-hour window
    /// shows zero bets and no RTP).
    pub kind: String,
    /// When it was recorded, ms since the epoch.
    pub time_ms: u64,
    /// The aggregator's id.
    pub aggregator: u32,
    /// The game's code.
    pub code: String,
    /// Its provider, if the catalogue holds the game.
    pub provider: Option<String>,
    /// The currency of the bets tested.
    pub currency: String,
    /// Bets tested (last 24 hours).
    pub bets: u64,
    /// Their turnover.
    pub turnover: String,
    /// Actual RTP then.
    pub rtp_actual: Option<f64>,
    /// Configured RTP then.
    pub rtp_configured: Option<f64>,
    /// The statistic then.
    pub z: Option<f64>,
    /// The read model's sequence number the figures were current to.
    pub as_of_seq: u64,
}

/// The history, newest first.
#[derive(Serialize, ToSchema)]
pub struct RtpAlertHistoryReply {
    /// The rows.
    pub events: Vec<RtpAlertEvent>,
    /// The read model's sequence number.
    pub as_of_seq: u64,
}

fn filter_of(q: HistoryQuery) -> Result<Filter, ApiError> {
    let limit = edge::wire::page_limit(q.limit, 100, HISTORY_MAX)?;
    if let (Some(from), Some(to)) = (q.from_ms, q.to_ms)
        && from >= to
    {
        return Err(ApiError::bad_request("invalid_request", "from_ms must be before to_ms"));
    }
    if let Some(game) = &q.game
        && (game.is_empty() || game.len() > GAME_CODE_MAX)
    {
        return Err(ApiError::bad_request(
            "invalid_request",
            format!("game: a code of 1 to {GAME_CODE_MAX} bytes"),
        ));
    }
    Ok(Filter {
        from_ms: q.from_ms,
        to_ms: q.to_ms,
        game: q.game,
        limit: limit as u32,
    })
}

fn event_of(view: &View, event: Event) -> RtpAlertEvent {
    let test = event.test;
    let provider = view
        .games
        .game(SourceId(test.source), &test.game)
        .map(|g| g.provider.to_string());
    let turnover = Currency::from_code(&test.currency).map_or_else(
        || test.turnover.to_string(),
        |c| money(Amount::from_minor(test.turnover), c),
    );
    RtpAlertEvent {
        id: event.id,
        kind: event.kind.name().to_owned(),
        time_ms: event.time_ms,
        aggregator: test.source,
        code: test.game,
        provider,
        currency: test.currency,
        bets: test.bets,
        turnover,
        rtp_actual: test.rtp_actual,
        rtp_configured: test.rtp_configured,
        z: test.z,
        as_of_seq: event.as_of_seq,
    }
}

/// The RTP alerts raised and cleared, newest first (admins, finance,
/// compliance, read-only, marketing). It evaluates the RTP test first, so
/// a crossing since the worker's last round is in the answer; reading
/// twice records nothing twice.
#[utoipa::path(get, path = "/operator/v1/games/performance/alerts/history", tag = "games", params(HistoryQuery),
    security(("bearer" = [])),
    responses((status = 200, body = RtpAlertHistoryReply), RoleErrors,
        (status = 400, body = ErrorBody, description = "invalid_request: an unknown parameter, from_ms not before to_ms, a bad game code, limit outside 1–1000"),
        (status = 503, body = ErrorBody, description = "view_behind")))]
pub async fn history(State(state): State<AppState>, uri: Uri) -> Result<Response, ApiError> {
    let q: HistoryQuery = performance::query(&uri, "from_ms, to_ms, game and limit")?;
    let filter = filter_of(q)?;
    evaluate(&state).await?;
    let (events, as_of_seq) = read(&state, move |c| rtp_alerts::history(c, &filter)).await?;
    let view = state.view.read();
    let events = events.into_iter().map(|e| event_of(&view, e)).collect();
    drop(view);
    ok(StatusCode::OK, &RtpAlertHistoryReply { events, as_of_seq })
}
