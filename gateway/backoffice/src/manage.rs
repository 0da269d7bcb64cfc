//! The catalogue and administration pages: games (the catalogue with
//! filters, enable / disable for the roles the games module lets, the
//! jackpot pools), bonus templates, the reports form, and operators (role
//! change and disable, admins only). The games page shows each game's
//! live performance over the last day (turnover, GGR, actual vs configured
//! RTP with a deviation badge, refusals) for the roles that read it. The catalogue, pools and operators
//! are read from the gateway's view of the ledger, the templates from the
//! read model; every button calls the operator API's own route.

// A page's early answer (the login redirect, an error page) is the
// response itself, made at most once per request: boxing it buys nothing.
#![allow(clippy::result_large_err)]

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use edge::AppState;
use engine::games::GameType;
use engine::{OperatorId, Role};
use maud::html;
use readmodel::ReadModelError;
use rusqlite::Connection;
use serde::Deserialize;

use crate::layout::{forbidden, money, page, when};
use crate::pages::{read, viewer};

/// The games page's filters.
#[derive(Deserialize)]
pub struct GameFilter {
    /// A provider's code, or empty.
    #[serde(default)]
    pub provider: String,
    /// A game type, or empty.
    #[serde(default, rename = "type")]
    pub kind: String,
    /// `true`, `false` or empty.
    #[serde(default)]
    pub enabled: String,
    /// A two-letter jurisdiction, or empty.
    #[serde(default)]
    pub jurisdiction: String,
}

struct GameRow {
    aggregator: u32,
    code: String,
    name: String,
    provider: String,
    kind: &'static str,
    rtp_bp: u16,
    jurisdictions: String,
    enabled: bool,
}

/// A path segment, percent-encoded.
fn segment(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// `GET /backoffice/games?provider=&type=&enabled=&jurisdiction=`: the
/// catalogue, filtered, with enable / disable buttons for admins and
/// compliance (the games module's managers); the jackpot pools.
pub async fn games(State(state): State<AppState>, headers: HeaderMap, Query(filter): Query<GameFilter>) -> Response {
    let viewer = match viewer(&state, &headers) {
        Ok(viewer) => viewer,
        Err(redirect) => return redirect,
    };
    let kind = GameType::from_name(&filter.kind);
    let enabled = match filter.enabled.as_str() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    };
    let jurisdiction = filter.jurisdiction.trim().to_ascii_uppercase();
    let (providers, rows, pools) = {
        let view = state.view.read();
        let providers: Vec<String> = view
            .games
            .providers()
            .iter()
            .map(|p| p.code.as_str().to_owned())
            .collect();
        let rows: Vec<GameRow> = view
            .games
            .games()
            .into_iter()
            .filter(|g| filter.provider.is_empty() || g.provider.as_str() == filter.provider)
            .filter(|g| kind.is_none_or(|k| g.kind == k))
            .filter(|g| enabled.is_none_or(|e| g.enabled == e))
            .filter(|g| jurisdiction.is_empty() || g.jurisdictions.iter().any(|j| j.as_str() == jurisdiction))
            .take(500)
            .map(|g| GameRow {
                aggregator: g.aggregator.0,
                code: g.code.as_str().to_owned(),
                name: g.name.as_str().to_owned(),
                provider: g.provider.as_str().to_owned(),
                kind: g.kind.name(),
                rtp_bp: g.rtp_default_bp,
                jurisdictions: g.jurisdictions.iter().map(|j| j.as_str()).collect::<Vec<_>>().join(" "),
                enabled: g.enabled,
            })
            .collect();
        let pools: Vec<(String, String, String, i64, u32)> = view
            .jackpots
            .pools()
            .iter()
            .map(|p| {
                (
                    p.pool.code.as_str().to_owned(),
                    p.pool.name.as_str().to_owned(),
                    p.pool.currency.code().to_owned(),
                    p.balance.minor(),
                    p.wins,
                )
            })
            .collect();
        (providers, rows, pools)
    };
    let manages = viewer.manages_games();
    let performance = if viewer.reads_game_figures() {
        match live_performance(&state).await {
            Ok(rows) => Some(rows),
            Err(response) => return response,
        }
    } else {
        None
    };
    let body = html! {
        form.search role="search" method="get" action="/backoffice/games" {
            label for="provider" { "Provider" }
            select #provider name="provider" {
                option value="" { "any" }
                @for code in &providers { option value=(code) selected[*code == filter.provider] { (code) } }
            }
            label for="type" { "Type" }
            select #type name="type" {
                option value="" { "any" }
                @for k in GameType::ALL { option value=(k.name()) selected[Some(k) == kind] { (k.name()) } }
            }
            label for="enabled" { "State" }
            select #enabled name="enabled" {
                option value="" { "any" }
                option value="true" selected[enabled == Some(true)] { "enabled" }
                option value="false" selected[enabled == Some(false)] { "disabled" }
            }
            label for="jurisdiction" { "Jurisdiction" }
            input #jurisdiction name="jurisdiction" maxlength="2" size="3" value=(jurisdiction) placeholder="MT";
            button type="submit" { "Filter" }
        }
        table.cardtable #games {
            caption { (rows.len()) " games" }
            thead { tr {
                th scope="col" { "Game" } th scope="col" { "Provider" } th scope="col" { "Type" } th scope="col" { "RTP" }
                th scope="col" { "Jurisdictions" } th scope="col" { "State" }
                @if manages { th scope="col" { "Change" } }
            } }
            tbody {
                @for game in &rows {
                    tr data-game=(format!("{}/{}", game.aggregator, game.code)) {
                        td data-label="Game" { (game.name) " (" (game.code) ")" }
                        td data-label="Provider" { (game.provider) }
                        td data-label="Type" { (game.kind) }
                        td data-label="RTP" { (format!("{:.2} %", f64::from(game.rtp_bp) / 100.0)) }
                        td data-label="Jurisdictions" { (game.jurisdictions) }
                        td data-label="State" data-field="state" { (if game.enabled { "enabled" } else { "disabled" }) }
                        @if manages {
                            td data-label="Change" {
                                @let (verb, label) = if game.enabled { ("disable", "Disable") } else { ("enable", "Enable") };
                                button.(verb) type="button"
                                    data-action=(format!("/operator/v1/games/{}/{}/{verb}", game.aggregator, segment(&game.code)))
                                    data-done=(format!("{}: {verb}d.", game.name))
                                    aria-label=(format!("{label} {}", game.name)) { (label) }
                            }
                        }
                    }
                }
            }
        }
        @if let Some(rows) = &performance { (performance_table(rows)) }
        table.cardtable #jackpots {
            caption { "Jackpot pools" }
            thead { tr { th scope="col" { "Pool" } th scope="col" { "Balance" } th scope="col" { "Wins" } } }
            tbody {
                @for (code, name, currency, balance, wins) in &pools {
                    tr data-pool=(code) {
                        td data-label="Pool" { (name) " (" (code) ")" }
                        td data-label="Balance" { (money(*balance, currency)) }
                        td data-label="Wins" { (wins) }
                    }
                }
            }
        }
        @if !manages { p.note { "Your role (" (viewer.role.name()) ") may view the catalogue but not change it." } }
    };
    page("Games", "/backoffice/games", &viewer, body)
}

/// One game's live figures in one currency, for the games page.
struct PerformanceRow {
    game: String,
    provider: String,
    currency: String,
    bets: u64,
    players: u64,
    turnover_minor: i64,
    ggr_minor: i64,
    rtp_actual: Option<f64>,
    rtp_configured: Option<f64>,
    z: Option<f64>,
    alert: bool,
    refusal_rate: f64,
}

/// The last 24 hours of every game with activity, per currency, from the
/// read model's monitoring projection and the catalogue (the same
/// computation as `GET /operator/v1/games/performance`).
async fn live_performance(state: &AppState) -> Result<Vec<PerformanceRow>, Response> {
    use readmodel::monitoring;
    let to_hour = state.now_ms() / monitoring::HOUR_MS + 1;
    let from_hour = to_hour.saturating_sub(24);
    let ((rows, players), _) = read(state, move |c| {
        let rows = monitoring::games(c, from_hour, to_hour)?;
        let mut players = std::collections::HashMap::new();
        for row in &rows {
            let key = (row.source, row.game.clone());
            if let std::collections::hash_map::Entry::Vacant(slot) = players.entry(key) {
                let n = monitoring::unique_players(c, std::slice::from_ref(slot.key()), from_hour, to_hour)?;
                slot.insert(n);
            }
        }
        Ok((rows, players))
    })
    .await?;
    let view = state.view.read();
    let totals = monitoring::by_game(&view.games, &rows);
    drop(view);
    Ok(totals
        .iter()
        .flat_map(|t| {
            let game = t
                .game
                .as_ref()
                .map_or_else(|| t.code.clone(), |g| format!("{} ({})", g.name.as_str(), t.code));
            let provider = t
                .game
                .as_ref()
                .map_or_else(String::new, |g| g.provider.as_str().to_owned());
            let players = players.get(&(t.source, t.code.clone())).copied().unwrap_or(0);
            let refusal_rate = t.refusal_rate();
            t.currencies.iter().map(move |c| PerformanceRow {
                game: game.clone(),
                provider: provider.clone(),
                currency: c.currency.code().to_owned(),
                bets: c.sum.bets,
                players,
                turnover_minor: c.sum.stake,
                ggr_minor: c.sum.ggr(),
                rtp_actual: c.rtp_actual(),
                rtp_configured: c.rtp_configured(),
                z: c.z(),
                alert: c.alert(),
                refusal_rate,
            })
        })
        .collect())
}

fn percent(ratio: Option<f64>) -> String {
    ratio.map_or_else(|| "–".to_owned(), |r| format!("{:.2} %", r * 100.0))
}

/// The RTP deviation badge: an alert, within chance, or too few bets to
/// tell.
fn rtp_badge(row: &PerformanceRow) -> maud::Markup {
    let z = row.z.map_or_else(String::new, |z| format!(" (z = {z:.1})"));
    if row.alert {
        html! { span.badge.alert data-rtp="alert" { "deviates" (z) } }
    } else if row.z.is_some() && row.bets >= readmodel::monitoring::rtp_test::MIN_BETS {
        html! { span.badge.ok data-rtp="ok" { "within chance" (z) } }
    } else {
        html! { span.badge.few data-rtp="few" { "too few bets" } }
    }
}

fn performance_table(rows: &[PerformanceRow]) -> maud::Markup {
    html! {
        table.cardtable #performance {
            caption { "Live performance, last 24 hours (" (rows.len()) ")" }
            thead { tr {
                th scope="col" { "Game" } th scope="col" { "Provider" } th scope="col" { "Bets" } th scope="col" { "Players" }
                th scope="col" { "Turnover" } th scope="col" { "GGR" } th scope="col" { "RTP actual" }
                th scope="col" { "RTP configured" } th scope="col" { "Deviation" } th scope="col" { "Refused" }
            } }
            tbody {
                @for row in rows {
                    tr data-performance=(format!("{}/{}", row.game, row.currency)) {
                        td data-label="Game" { (row.game) }
                        td data-label="Provider" { (row.provider) }
                        td data-label="Bets" { (row.bets) }
                        td data-label="Players" { (row.players) }
                        td data-label="Turnover" { (money(row.turnover_minor, &row.currency)) }
                        td data-label="GGR" { (money(row.ggr_minor, &row.currency)) }
                        td data-label="RTP actual" { (percent(row.rtp_actual)) }
                        td data-label="RTP configured" { (percent(row.rtp_configured)) }
                        td data-label="Deviation" { (rtp_badge(row)) }
                        td data-label="Refused" { (format!("{:.1} %", row.refusal_rate * 100.0)) }
                    }
                }
                @if rows.is_empty() { tr { td colspan="10" { "No bets in the last 24 hours." } } }
            }
        }
    }
}

type TemplateRow = (String, Option<String>, String, String, bool, bool, u64);

fn templates(connection: &Connection) -> Result<Vec<TemplateRow>, ReadModelError> {
    let rows = connection
        .prepare_cached(
            "SELECT code, claim_code, kind, currency, automatic, enabled, set_ms FROM bonus_templates ORDER BY code",
        )?
        .query_map([], |row| {
            Ok((
                row.get(0)?,
                row.get(1)?,
                row.get(2)?,
                row.get(3)?,
                row.get(4)?,
                row.get(5)?,
                row.get::<_, i64>(6)?.max(0) as u64,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// `GET /backoffice/bonuses`: the bonus templates (every role); a
/// player's bonuses and the forfeit button are on their 360.
pub async fn bonuses(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let viewer = match viewer(&state, &headers) {
        Ok(viewer) => viewer,
        Err(redirect) => return redirect,
    };
    let rows = match read(&state, templates).await {
        Ok((rows, _)) => rows,
        Err(error) => return error,
    };
    let body = html! {
        table.cardtable #templates {
            caption { (rows.len()) " bonus templates" }
            thead { tr {
                th scope="col" { "Template" } th scope="col" { "Kind" } th scope="col" { "Currency" } th scope="col" { "Claim code" }
                th scope="col" { "Granted" } th scope="col" { "State" } th scope="col" { "Set" }
            } }
            tbody {
                @for (code, claim, kind, currency, automatic, enabled, set_ms) in &rows {
                    tr data-template=(code) {
                        td data-label="Template" { a href=(format!("/operator/v1/bonus-templates/{}", segment(code))) { (code) } }
                        td data-label="Kind" { (kind) }
                        td data-label="Currency" { (currency) }
                        td data-label="Claim code" { (claim.as_deref().unwrap_or("—")) }
                        td data-label="Granted" { (if *automatic { "automatically" } else { "by claim or operator" }) }
                        td data-label="State" { (if *enabled { "enabled" } else { "disabled" }) }
                        td data-label="Set" { (when(*set_ms)) }
                    }
                }
            }
        }
    };
    page("Bonuses", "/backoffice/bonuses", &viewer, body)
}

/// The reports form's fields.
#[derive(Deserialize)]
pub struct ReportForm {
    /// The report's name.
    #[serde(default)]
    pub report: String,
    /// `quarter`, `month` or `days`.
    #[serde(default)]
    pub period: String,
    /// `YYYYQn`.
    #[serde(default)]
    pub quarter: String,
    /// `YYYY-MM`.
    #[serde(default)]
    pub month: String,
    /// `YYYY-MM-DD`.
    #[serde(default)]
    pub from: String,
    /// `YYYY-MM-DD`, included.
    #[serde(default)]
    pub to: String,
    /// A reporting currency, or empty.
    #[serde(default)]
    pub currency: String,
    /// json, csv, tsv, html.
    #[serde(default)]
    pub format: String,
}

/// The reports the operator API serves (`reports::REPORTS`; modules do not
/// import each other, so the list is repeated here and the API judges the
/// name: the page tests open each one through it).
const REPORTS: &[(&str, &str)] = &[
    ("business", "GGR, NGR, payments and bonus cost"),
    ("ukgc-quarterly", "UK Gambling Commission quarterly return figures"),
    ("mga-tax", "Malta Gaming Authority monthly tax report"),
    ("mga-player-funds", "Malta Gaming Authority monthly player-funds report"),
    ("mga-player-data", "Malta Gaming Authority player-data export"),
];

const FORMATS: &[(&str, &str)] = &[
    ("html", "Printable page (HTML)"),
    ("csv", "CSV"),
    ("tsv", "Tab-delimited"),
    ("json", "JSON"),
];

/// `GET /backoffice/reports`: the form picking a report, its period, a
/// reporting currency and the format; `GET /backoffice/reports/open`
/// sends the browser to the operator API's report (its roles, checks and
/// output), or shows what is missing.
pub async fn reports(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let viewer = match viewer(&state, &headers) {
        Ok(viewer) => viewer,
        Err(redirect) => return redirect,
    };
    if !viewer.reads_reports() {
        return forbidden("Reports", &viewer);
    }
    page("Reports", "/backoffice/reports", &viewer, report_form(None))
}

fn report_form(error: Option<&str>) -> maud::Markup {
    html! {
        @if let Some(error) = error { p.error role="alert" { (error) } }
        form.panel.report method="get" action="/backoffice/reports/open" {
            label for="report" { "Report" }
            select #report name="report" {
                @for (name, title) in REPORTS { option value=(name) { (title) } }
            }
            fieldset {
                legend { "Period" }
                label.choice { input type="radio" name="period" value="month" checked; " A month" }
                label for="month" { "Month" }
                input #month type="month" name="month" placeholder="2026-11";
                label.choice { input type="radio" name="period" value="quarter"; " A quarter" }
                label for="quarter" { "Quarter" }
                input #quarter name="quarter" placeholder="2026Q4" pattern="[0-9]{4}Q[1-4]";
                label.choice { input type="radio" name="period" value="days"; " Days" }
                label for="from" { "From (UTC day)" }
                input #from type="date" name="from";
                label for="to" { "To (UTC day, included)" }
                input #to type="date" name="to";
            }
            label for="currency" { "Reporting currency (optional)" }
            input #currency name="currency" maxlength="3" placeholder="EUR";
            label for="format" { "Format" }
            select #format name="format" {
                @for (value, label) in FORMATS { option value=(value) { (label) } }
            }
            button type="submit" { "Open report" }
        }
        p.note { "Every figure is defined in the report itself; the per-currency tables and, with a reporting currency, the converted ones at the period's closing rates." }
    }
}

/// `GET /backoffice/reports/open?...`: a redirect to
/// `/operator/v1/reports/{report}` with the chosen period and form.
pub async fn open_report(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(form): Query<ReportForm>,
) -> Response {
    let viewer = match viewer(&state, &headers) {
        Ok(viewer) => viewer,
        Err(redirect) => return redirect,
    };
    if !viewer.reads_reports() {
        return forbidden("Reports", &viewer);
    }
    let refuse = |message: &str| {
        let mut response = page("Reports", "/backoffice/reports", &viewer, report_form(Some(message)));
        *response.status_mut() = StatusCode::BAD_REQUEST;
        response
    };
    if !REPORTS.iter().any(|(name, _)| *name == form.report) {
        return refuse("Pick a report.");
    }
    let mut query = form_urlencoded::Serializer::new(String::new());
    match form.period.as_str() {
        "quarter" if !form.quarter.is_empty() => query.append_pair("quarter", form.quarter.trim()),
        "month" if !form.month.is_empty() => query.append_pair("month", form.month.trim()),
        "days" if !form.from.is_empty() && !form.to.is_empty() => query
            .append_pair("from", form.from.trim())
            .append_pair("to", form.to.trim()),
        _ => return refuse("Give the period: a month, a quarter, or both days."),
    };
    if !form.currency.trim().is_empty() {
        query.append_pair("currency", &form.currency.trim().to_ascii_uppercase());
    }
    let format = FORMATS
        .iter()
        .find(|(value, _)| *value == form.format)
        .map_or("html", |(value, _)| value);
    query.append_pair("format", format);
    let location = format!("/operator/v1/reports/{}?{}", form.report, query.finish());
    (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response()
}

/// The roles an admin may give.
const ROLES: &[Role] = &Role::ALL;

/// `GET /backoffice/operators`: every operator with a role change and a
/// disable button (admins only, like the API).
pub async fn operators(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let viewer = match viewer(&state, &headers) {
        Ok(viewer) => viewer,
        Err(redirect) => return redirect,
    };
    if !viewer.manages_operators() {
        return forbidden("Operators", &viewer);
    }
    let rows: Vec<(u32, String, Role)> = {
        let view = state.view.read();
        let access = &view.access;
        (1..=access.operators_len() as u32)
            .filter_map(|id| {
                let operator = access.operator(OperatorId(id))?;
                Some((id, operator.name.to_string(), operator.role))
            })
            .collect()
    };
    let body = html! {
        table.cardtable #operators {
            caption { (rows.len()) " operators" }
            thead { tr { th scope="col" { "Operator" } th scope="col" { "Role" } th scope="col" { "Change" } } }
            tbody {
                @for (id, name, role) in &rows {
                    tr data-operator=(id) {
                        td data-label="Operator" { (name) " (" (id) ")" }
                        td data-label="Role" data-field="role" { (role.name()) }
                        td data-label="Change" {
                            form.act data-submit=(format!("/operator/v1/operators/{id}/role")) data-method="PUT"
                                data-done=(format!("{name}: role changed.")) {
                                label for=(format!("role-{id}")) { "New role" }
                                select id=(format!("role-{id}")) name="role" {
                                    @for r in ROLES { option value=(r.name()) selected[r == role] { (r.name()) } }
                                }
                                button type="submit" aria-label=(format!("Change the role of {name}")) { "Change role" }
                            }
                            @if *role != Role::Disabled && *id != viewer.id.0 {
                                div.actions {
                                    button.reject type="button" data-action=(format!("/operator/v1/operators/{id}/disable"))
                                        data-done=(format!("{name}: disabled.")) aria-label=(format!("Disable {name}")) { "Disable" }
                                }
                            }
                        }
                    }
                }
            }
        }
        p.note { "New operators and their first token come from the operator API (" code { "POST /operator/v1/operators" } "); each enrols their own password and second factor." }
    };
    page("Operators", "/backoffice/operators", &viewer, body)
}
