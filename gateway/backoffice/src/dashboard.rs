//! The live dashboard's figures, read from the read model: per currency
//! the deposits, withdrawals paid, GGR and NGR (the reports' definitions,
//! `reports::build`: cash stakes net of rollbacks − cash prizes; NGR = GGR
//! − bonus money converted to cash) and bets; players with a bet in the
//! last 24 hours; the withdrawal approval queue's depth; open AML alerts. [`events`] sends them to an open page as
//! server-sent events, with bets per second over each interval and a
//! chart of the last minute, and bar charts of deposits and GGR per hour
//! over the last day, per currency.
//!
//! The money and bets come from the projection's running sums per hour
//! (`readmodel::summaries`), so a refresh reads a few rows per hour of
//! history rather than every movement.

use std::convert::Infallible;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use edge::AppState;
use maud::{Markup, html};
use readmodel::ReadModelError;
use rusqlite::Connection;

use crate::layout::{money, trusted};

/// Per-currency totals.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CurrencyFigures {
    /// ISO 4217 code.
    pub currency: String,
    /// Deposits credited, minor units.
    pub deposits_minor: i64,
    /// Withdrawals approved or completed, minor units.
    pub withdrawals_minor: i64,
    /// Cash stakes (rollbacks netted) − cash prizes, minor units: the
    /// reports' GGR.
    pub ggr_minor: i64,
    /// GGR − bonus cost (bonus money converted to cash), minor units: the
    /// reports' NGR.
    pub ngr_minor: i64,
}

/// What the dashboard shows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Figures {
    /// Per currency, by code.
    pub currencies: Vec<CurrencyFigures>,
    /// Bets accepted so far.
    pub bets: u64,
    /// Players with a bet in the 24 hours before the latest movement.
    pub active_players: u64,
    /// Withdrawals waiting for approval.
    pub queue_depth: u64,
    /// AML alerts not in a resolved case (the queue and open cases').
    pub open_alerts: u64,
    /// The read model's sequence number they are current to.
    pub as_of_seq: u64,
    /// Deposits and GGR per hour over the last [`HOURS`] hours, per
    /// currency (by code), for the charts.
    pub hourly: Vec<Hourly>,
}

/// Hours the dashboard's charts cover, the current one last.
pub const HOURS: usize = 24;

/// One currency's deposits and GGR per hour, oldest first, minor units.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Hourly {
    /// ISO 4217 code.
    pub currency: String,
    /// Deposits credited in each hour.
    pub deposits_minor: Vec<i64>,
    /// GGR (the reports' definition) of each hour.
    pub ggr_minor: Vec<i64>,
}

/// Deposits and GGR per currency over the [`HOURS`] hours ending with the
/// hour of `now_ms`: deposits from the movements, GGR from the game
/// monitoring's hours (`readmodel::monitoring`), which sum the same
/// figures as the reports.
fn hourly(connection: &Connection, now_ms: u64) -> Result<Vec<Hourly>, ReadModelError> {
    let hour_ms = readmodel::monitoring::HOUR_MS;
    let to_hour = now_ms / hour_ms + 1;
    let from_hour = to_hour.saturating_sub(HOURS as u64);
    let mut series: Vec<Hourly> = Vec::new();
    let mut put = |currency: String, hour: i64, deposits: i64, ggr: i64| {
        let Some(at) = (hour as u64)
            .checked_sub(from_hour)
            .map(|i| i as usize)
            .filter(|i| *i < HOURS)
        else {
            return;
        };
        let index = match series.iter().position(|h| h.currency == currency) {
            Some(index) => index,
            None => {
                series.push(Hourly {
                    currency,
                    deposits_minor: vec![0; HOURS],
                    ggr_minor: vec![0; HOURS],
                });
                series.len() - 1
            }
        };
        series[index].deposits_minor[at] += deposits;
        series[index].ggr_minor[at] += ggr;
    };
    let mut deposits =
        connection.prepare_cached("SELECT currency, hour, deposits FROM money_hours WHERE hour >= ?1 AND hour < ?2")?;
    let rows = deposits.query_map(rusqlite::params![from_hour as i64, to_hour as i64], |row| {
        Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?, row.get::<_, i64>(2)?))
    })?;
    for row in rows {
        let (currency, hour, minor) = row?;
        put(currency, hour, minor, 0);
    }
    let mut ggr = connection.prepare_cached(
        "SELECT currency, hour, SUM(stake - bonus_stake - cash_prize) FROM game_hours
         WHERE hour >= ?1 AND hour < ?2 GROUP BY 1, 2",
    )?;
    let rows = ggr.query_map(rusqlite::params![from_hour as i64, to_hour as i64], |row| {
        Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?, row.get::<_, i64>(2)?))
    })?;
    for row in rows {
        let (currency, hour, minor) = row?;
        put(currency, hour, 0, minor);
    }
    series.sort_by(|a, b| a.currency.cmp(&b.currency));
    Ok(series)
}

/// Reads the figures, the charts' hours ending with the hour of `now_ms`.
pub fn read_at(connection: &Connection, now_ms: u64) -> Result<Figures, ReadModelError> {
    let mut figures = read(connection)?;
    figures.hourly = hourly(connection, now_ms)?;
    Ok(figures)
}

/// Reads the figures (without the hourly charts).
pub fn read(connection: &Connection) -> Result<Figures, ReadModelError> {
    // The movements' report figures (`readmodel::figures`), summed as the
    // reports sum them: over all time here, from the hourly running sums
    // (`readmodel::summaries`), a row per hour and currency.
    let mut statement = connection.prepare_cached(
        "SELECT currency, SUM(deposits), SUM(cash_stake - cash_prize), SUM(converted)
         FROM money_hours GROUP BY currency ORDER BY currency",
    )?;
    let mut currencies = statement
        .query_map([], |row| {
            let ggr: i64 = row.get(2)?;
            let converted: i64 = row.get(3)?;
            Ok(CurrencyFigures {
                currency: row.get(0)?,
                deposits_minor: row.get(1)?,
                ggr_minor: ggr,
                ngr_minor: ggr - converted,
                withdrawals_minor: 0,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut paid = connection.prepare_cached(
        "SELECT currency, SUM(amount_minor) FROM cashier_payments
         WHERE kind = 'withdrawal' AND state IN ('approved', 'completed') GROUP BY currency",
    )?;
    for row in paid.query_map([], |row| Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?)))? {
        let (currency, minor) = row?;
        match currencies.iter_mut().find(|c| c.currency == currency) {
            Some(figures) => figures.withdrawals_minor = minor,
            None => currencies.push(CurrencyFigures {
                currency,
                withdrawals_minor: minor,
                ..CurrencyFigures::default()
            }),
        }
    }
    let bets: i64 = connection.query_row("SELECT COALESCE(SUM(bets), 0) FROM money_hours", [], |row| row.get(0))?;
    // Each player's last bet, counted over an index range.
    let active_players: i64 = connection.query_row(
        "SELECT COUNT(*) FROM last_bets
         WHERE time_ms >= (SELECT COALESCE(MAX(time_ms), 0) FROM movements) - 86400000",
        [],
        |row| row.get(0),
    )?;
    let queue_depth: i64 = connection.query_row(
        "SELECT COUNT(*) FROM cashier_payments WHERE kind = 'withdrawal' AND state = 'requested'",
        [],
        |row| row.get(0),
    )?;
    let open_alerts: i64 = connection.query_row(
        "SELECT COUNT(*) FROM risk_alerts a LEFT JOIN risk_cases c ON c.id = a.case_id
         WHERE a.case_id IS NULL OR c.state = 'open'",
        [],
        |row| row.get(0),
    )?;
    Ok(Figures {
        currencies,
        open_alerts: open_alerts.max(0) as u64,
        bets: bets.max(0) as u64,
        active_players: active_players.max(0) as u64,
        queue_depth: queue_depth.max(0) as u64,
        as_of_seq: 0,
        hourly: Vec::new(),
    })
}

/// The figures as the dashboard's cards; `rates` the bets per second of
/// the last samples (newest last), for the chart.
pub fn cards(figures: &Figures, rates: &[f64]) -> Markup {
    let rate = rates.last().copied().unwrap_or(0.0);
    html! {
        div.cards data-as-of=(figures.as_of_seq) {
            div.card { h2 { "Bets per second" } p.figure data-figure="bets_per_s" { (format!("{rate:.1}")) } (trusted(chart(rates))) }
            div.card { h2 { "Bets" } p.figure data-figure="bets" { (figures.bets) } }
            div.card { h2 { "Active players (24 h)" } p.figure data-figure="active_players" { (figures.active_players) } }
            div.card { h2 { "Approval queue" } p.figure data-figure="queue_depth" { a href="/backoffice/withdrawals" { (figures.queue_depth) } } }
            div.card { h2 { "Open AML alerts" } p.figure data-figure="open_alerts" { a href="/backoffice/aml" { (figures.open_alerts) } } }
        }
        table.cardtable {
            caption { "Money by currency (as of sequence " (figures.as_of_seq) ")" }
            thead { tr { th scope="col" { "Currency" } th scope="col" { "Deposits" } th scope="col" { "Withdrawals paid" } th scope="col" { "GGR" } th scope="col" { "NGR" } } }
            tbody {
                @for c in &figures.currencies {
                    tr {
                        td data-label="Currency" { (c.currency) }
                        td data-label="Deposits" data-figure=(format!("deposits_{}", c.currency)) { (money(c.deposits_minor, &c.currency)) }
                        td data-label="Withdrawals paid" { (money(c.withdrawals_minor, &c.currency)) }
                        td data-label="GGR" data-figure=(format!("ggr_{}", c.currency)) { (money(c.ggr_minor, &c.currency)) }
                        td data-label="NGR" data-figure=(format!("ngr_{}", c.currency)) { (money(c.ngr_minor, &c.currency)) }
                    }
                }
                @if figures.currencies.is_empty() {
                    tr { td colspan="5" { "No money has moved yet." } }
                }
            }
        }
        @if !figures.hourly.is_empty() {
            section.charts aria-label="Last 24 hours" {
                h2 { "Last 24 hours, per hour" }
                div.cards {
                    @for h in &figures.hourly {
                        div.card data-chart=(format!("deposits_{}", h.currency)) {
                            h3 { "Deposits " (h.currency) }
                            p.figure { (money(h.deposits_minor.iter().sum(), &h.currency)) }
                            (trusted(bars(&h.deposits_minor, &format!("deposits in {} per hour, last 24 hours", h.currency))))
                        }
                        div.card data-chart=(format!("ggr_{}", h.currency)) {
                            h3 { "GGR " (h.currency) }
                            p.figure { (money(h.ggr_minor.iter().sum(), &h.currency)) }
                            (trusted(bars(&h.ggr_minor, &format!("GGR in {} per hour, last 24 hours", h.currency))))
                        }
                    }
                }
            }
        }
    }
}

/// A bar chart of `values` (one bar each, oldest first) as inline SVG,
/// scaled to the largest magnitude; negative bars hang below the axis.
pub fn bars(values: &[i64], label: &str) -> String {
    const W: f64 = 120.0;
    const H: f64 = 32.0;
    let top = values.iter().map(|v| v.unsigned_abs()).max().unwrap_or(0).max(1) as f64;
    let has_negative = values.iter().any(|v| *v < 0);
    // The axis: the bottom, or the middle when a bar goes below zero.
    let axis = if has_negative { H / 2.0 } else { H };
    let room = if has_negative { H / 2.0 - 1.0 } else { H - 1.0 };
    let width = W / values.len().max(1) as f64;
    let rects: String = values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let height = (v.unsigned_abs() as f64 / top) * room;
            let y = if *v < 0 { axis } else { axis - height };
            format!(
                "<rect x=\"{:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{height:.1}\"/>",
                i as f64 * width,
                (width - 1.0).max(0.5)
            )
        })
        .collect();
    let label = label.replace('&', "&amp;").replace('"', "&quot;").replace('<', "&lt;");
    format!(
        "<svg class=\"bars\" viewBox=\"0 0 {W} {H}\" role=\"img\" aria-label=\"{label}\"><g fill=\"currentColor\">{rects}</g></svg>"
    )
}

/// A sparkline of `values` as inline SVG (scaled to its maximum).
pub fn chart(values: &[f64]) -> String {
    const W: f64 = 120.0;
    const H: f64 = 32.0;
    let max = values.iter().copied().fold(1.0_f64, f64::max);
    let step = if values.len() > 1 {
        W / (values.len() - 1) as f64
    } else {
        W
    };
    let points: Vec<String> = values
        .iter()
        .enumerate()
        .map(|(i, v)| format!("{:.1},{:.1}", i as f64 * step, H - (v / max) * (H - 2.0) - 1.0))
        .collect();
    format!(
        "<svg class=\"spark\" viewBox=\"0 0 {W} {H}\" role=\"img\" aria-label=\"bets per second, last minute\"><polyline fill=\"none\" stroke=\"currentColor\" stroke-width=\"1.5\" points=\"{}\"/></svg>",
        points.join(" ")
    )
}

/// Reads the figures, current to every write acknowledged before now.
pub async fn current(state: &AppState) -> Result<Figures, edge::ApiError> {
    let now_ms = state.now_ms();
    let (mut figures, as_of) = edge::reads::read(state, move |c| read_at(c, now_ms)).await?;
    figures.as_of_seq = as_of;
    Ok(figures)
}

/// Samples kept for the chart (a minute at the default interval).
const SAMPLES_MAX: usize = 60;

struct Feed {
    state: AppState,
    every: Duration,
    last: Option<(u64, u64)>,
    rates: Vec<f64>,
    first: bool,
}

/// `GET /backoffice/dashboard/events`: the cards as an HTML fragment in a
/// `figures` event every interval, while the session lasts and the server
/// is not stopping.
pub async fn events(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let Ok(back_office) = crate::of(&state) else {
        return edge::ApiError::internal("the back office is not installed").into_response();
    };
    if back_office.sessions.current(&headers, state.now_ms()).is_none() {
        return edge::ApiError::unauthorized("session_expired", "sign in first").into_response();
    }
    let feed = Feed {
        state,
        every: Duration::from_millis(back_office.settings.dashboard_every_ms.max(100)),
        last: None,
        rates: Vec::new(),
        first: true,
    };
    let stream = futures_util::stream::unfold(feed, |mut feed| async move {
        if !feed.first {
            tokio::time::sleep(feed.every).await;
        }
        feed.first = false;
        if !feed.state.ready.load(Ordering::Relaxed) {
            return None;
        }
        // A read the read model cannot answer yet (behind by more than a
        // read waits, say while the machine is busy) skips this refresh;
        // ending the stream would leave the page without figures for good.
        let figures = match current(&feed.state).await {
            Ok(figures) => figures,
            Err(_) => {
                return Some((
                    Ok(Event::default().comment("figures skipped: the read model is behind")),
                    feed,
                ));
            }
        };
        let now = feed.state.now_ms();
        let rate = match feed.last {
            Some((bets, at)) if now > at => figures.bets.saturating_sub(bets) as f64 * 1000.0 / (now - at) as f64,
            _ => 0.0,
        };
        feed.last = Some((figures.bets, now));
        feed.rates.push(rate);
        if feed.rates.len() > SAMPLES_MAX {
            feed.rates.remove(0);
        }
        let event = Event::default()
            .event("figures")
            .data(cards(&figures, &feed.rates).into_string());
        Some((Ok::<Event, Infallible>(event), feed))
    });
    Sse::new(stream).keep_alive(KeepAlive::default()).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chart_scales_to_its_maximum_and_survives_no_samples() {
        let svg = chart(&[0.0, 2.0, 4.0]);
        assert!(svg.contains("points=\"0.0,31.0 60.0,16.0 120.0,1.0\""), "{svg}");
        assert!(chart(&[]).contains("points=\"\""));
    }

    #[test]
    fn bars_scale_to_the_largest_magnitude_and_hang_losses_below_the_axis() {
        let svg = bars(&[0, 50, 100], "deposits");
        assert!(
            svg.contains("<rect x=\"80.0\" y=\"1.0\" width=\"39.0\" height=\"31.0\"/>"),
            "{svg}"
        );
        assert!(svg.contains("<rect x=\"40.0\" y=\"16.5\""), "{svg}");
        let svg = bars(&[-10, 10], "ggr <eur>");
        assert!(
            svg.contains("<rect x=\"0.0\" y=\"16.0\" width=\"59.0\" height=\"15.0\"/>"),
            "{svg}"
        );
        assert!(svg.contains("<rect x=\"60.0\" y=\"1.0\""), "{svg}");
        assert!(svg.contains("aria-label=\"ggr &lt;eur>\""), "{svg}");
        assert!(bars(&[], "none").contains("<g fill=\"currentColor\"></g>"));
    }
}
