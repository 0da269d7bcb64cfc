//! The back office's pages. Each reads the read model (current to every
//! write acknowledged before the request, like the operator API's reads)
//! and renders HTML; tables carry `data-label`s so that on a phone they
//! collapse into cards. Panels whose data only the operator API can give
//! (the profile, opened with the player's data key; the RG state, read
//! through the ring; sessions and devices; the analytics module's
//! problem-gambling markers, interventions and churn risk) load that API's
//! JSON with the session's cookie, so they show what the API shows to
//! this role. The 360's timeline is the support module's
//! (`readmodel::support::latest_timeline`), as `GET …/timeline` pages it.
//! Buttons post to the operator API ([`crate::sessions`]); a role the API
//! would refuse is not shown them.

// A page's early answer (the login redirect, an error page) is the
// response itself, made at most once per request: boxing it buys nothing.
#![allow(clippy::result_large_err)]

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use edge::AppState;
use engine::Role;
use maud::{Markup, html};
use readmodel::ReadModelError;
use rusqlite::{Connection, params};
use serde::Deserialize;

use readmodel::support::TimelineEntry;

use crate::dashboard;
use crate::layout::{Viewer, money, page, when};

/// The signed-in viewer of a page, or the redirect to the login form.
pub(crate) fn viewer(state: &AppState, headers: &HeaderMap) -> Result<Viewer, Response> {
    let to_login = || (StatusCode::SEE_OTHER, [(header::LOCATION, "/backoffice/login")]).into_response();
    let back_office = crate::of(state).map_err(IntoResponse::into_response)?;
    let session = back_office
        .sessions
        .current(headers, state.now_ms())
        .ok_or_else(to_login)?;
    let view = state.view.read();
    let operator = view.access.operator(session.operator).ok_or_else(to_login)?;
    if operator.role == Role::Disabled {
        back_office.sessions.close(headers);
        return Err(to_login());
    }
    Ok(Viewer {
        id: session.operator,
        name: operator.name.to_string(),
        role: operator.role,
        csrf: session.csrf,
    })
}

/// A read-model query for a page; errors become an error page.
pub(crate) async fn read<T: Send + 'static>(
    state: &AppState,
    query: impl FnOnce(&Connection) -> Result<T, ReadModelError> + Send + 'static,
) -> Result<(T, u64), Response> {
    edge::reads::read(state, query)
        .await
        .map_err(IntoResponse::into_response)
}

/// `GET /backoffice`: the live dashboard.
pub async fn dashboard(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let viewer = match viewer(&state, &headers) {
        Ok(viewer) => viewer,
        Err(redirect) => return redirect,
    };
    let figures = match dashboard::current(&state).await {
        Ok(figures) => figures,
        Err(error) => return error.into_response(),
    };
    let body = html! {
        section #figures data-sse="/backoffice/dashboard/events" aria-live="polite" {
            (dashboard::cards(&figures, &[]))
        }
        p.note { "Updated live from the read model. GGR and NGR are the reports' figures over all time; per period, game and country: " a href="/backoffice/reports" { "reports" } "." }
    };
    page("Dashboard", "/backoffice", &viewer, body)
}

/// The player search's parameters.
#[derive(Deserialize)]
pub struct Search {
    /// A player id, or empty for the latest players.
    #[serde(default)]
    pub q: String,
    /// Only players with this status (`active`, `suspended`, `closed`).
    #[serde(default)]
    pub status: String,
}

struct PlayerRow {
    player: u64,
    currency: String,
    status: String,
    jurisdiction: Option<String>,
}

fn find_players(connection: &Connection, id: Option<u64>, status: &str) -> Result<Vec<PlayerRow>, ReadModelError> {
    let mut statement = connection.prepare_cached(
        "SELECT p.player, p.currency, COALESCE(f.status, 'active'), f.jurisdiction
         FROM players p LEFT JOIN profiles f ON f.player = p.player
         WHERE (?1 IS NULL OR p.player = ?1) AND (?2 = '' OR COALESCE(f.status, 'active') = ?2)
         ORDER BY p.player DESC LIMIT 50",
    )?;
    let rows = statement
        .query_map(params![id.map(|id| id as i64), status], |row| {
            Ok(PlayerRow {
                player: row.get::<_, i64>(0)? as u64,
                currency: row.get(1)?,
                status: row.get(2)?,
                jurisdiction: row.get(3)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// `GET /backoffice/players?q=&status=`: by id, or the latest 50 (with a
/// status); the personal data's blind indexes are PAM's, not searched here.
pub async fn players(State(state): State<AppState>, headers: HeaderMap, Query(search): Query<Search>) -> Response {
    let viewer = match viewer(&state, &headers) {
        Ok(viewer) => viewer,
        Err(redirect) => return redirect,
    };
    let q = search.q.trim().to_owned();
    let id = q.strip_prefix('#').unwrap_or(&q).parse::<u64>().ok();
    let bad_query = !q.is_empty() && id.is_none();
    let status = match search.status.as_str() {
        "" | "active" | "suspended" | "closed" => search.status.clone(),
        _ => String::new(),
    };
    let filter = status.clone();
    let rows = if bad_query {
        Vec::new()
    } else {
        match read(&state, move |c| find_players(c, id, &filter)).await {
            Ok((rows, _)) => rows,
            Err(error) => return error,
        }
    };
    let body = html! {
        form.search role="search" method="get" action="/backoffice/players"
            hx-get="/backoffice/players" hx-target="#results" hx-select="#results" hx-swap="outerHTML" hx-push-url="true" {
            label for="q" { "Player id" }
            input #q name="q" inputmode="numeric" value=(q) placeholder="e.g. 42";
            label for="status" { "Status" }
            select #status name="status" {
                @for option in ["", "active", "suspended", "closed"] {
                    option value=(option) selected[option == status] { (if option.is_empty() { "any" } else { option }) }
                }
            }
            button type="submit" { "Search" }
        }
        @if bad_query { p.error role="alert" { "A player id is a number." } }
        table.cardtable #results {
            caption { (rows.len()) " players" }
            thead { tr { th scope="col" { "Player" } th scope="col" { "Currency" } th scope="col" { "Status" } th scope="col" { "Jurisdiction" } } }
            tbody {
                @for row in &rows {
                    tr {
                        td data-label="Player" { a href=(format!("/backoffice/players/{}", row.player)) { "#" (row.player) } }
                        td data-label="Currency" { (row.currency) }
                        td data-label="Status" { (row.status) }
                        td data-label="Jurisdiction" { (row.jurisdiction.as_deref().unwrap_or("—")) }
                    }
                }
            }
        }
    };
    page("Players", "/backoffice/players", &viewer, body)
}

struct Account {
    currency: String,
    status: String,
    status_reason: Option<String>,
    jurisdiction: Option<String>,
    registered_at_ms: Option<u64>,
    kyc: String,
    wallets: Vec<(String, i64, i64, i64)>,
    movements: Vec<(u64, u64, String, String, i64, i64)>,
    payments: Vec<(String, String, String, i64, String)>,
}

fn account(connection: &Connection, player: u64) -> Result<Option<Account>, ReadModelError> {
    let id = player as i64;
    let found = connection.query_row(
        "SELECT p.currency, COALESCE(f.status, 'active'), f.status_reason, f.jurisdiction, f.registered_at_ms,
                COALESCE((SELECT level FROM kyc_players k WHERE k.player = p.player), 'none')
         FROM players p LEFT JOIN profiles f ON f.player = p.player WHERE p.player = ?1",
        params![id],
        |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, Option<String>>(2)?,
                row.get::<_, Option<String>>(3)?,
                row.get::<_, Option<i64>>(4)?,
                row.get::<_, String>(5)?,
            ))
        },
    );
    let (currency, status, status_reason, jurisdiction, registered, kyc) = match found {
        Ok(found) => found,
        Err(rusqlite::Error::QueryReturnedNoRows) => return Ok(None),
        Err(error) => return Err(error.into()),
    };
    let wallets = connection
        .prepare_cached("SELECT currency, cash, bonus, reserved FROM balances WHERE player = ?1 ORDER BY currency")?
        .query_map(params![id], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let movements = connection
        .prepare_cached(
            "SELECT seq, time_ms, kind, currency, cash_delta, cash FROM movements WHERE player = ?1
             ORDER BY seq DESC LIMIT 20",
        )?
        .query_map(params![id], |row| {
            Ok((
                row.get::<_, i64>(0)? as u64,
                row.get::<_, i64>(1)? as u64,
                row.get(2)?,
                row.get(3)?,
                row.get(4)?,
                row.get(5)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let payments = connection
        .prepare_cached(
            "SELECT source || ':' || ext_id, kind, state, amount_minor, currency FROM cashier_payments
             WHERE player = ?1 ORDER BY created_ms DESC LIMIT 20",
        )?
        .query_map(params![id], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(Account {
        currency,
        status,
        status_reason,
        jurisdiction,
        registered_at_ms: registered.map(|ms| ms.max(0) as u64),
        kyc,
        wallets,
        movements,
        payments,
    }))
}

/// Timeline entries at most on the player 360.
const TIMELINE_MAX: u32 = 100;

/// A player's latest timeline entries, newest first: the support
/// module's `player_timeline` (every accepted journal record about the
/// player, a game round folded into one row), the rows
/// `GET /operator/v1/players/{player}/timeline` pages through, so the 360
/// and the API show the same events.
fn timeline(connection: &Connection, player: u64) -> Result<Vec<TimelineEntry>, ReadModelError> {
    readmodel::support::latest_timeline(connection, engine::PlayerId(player), TIMELINE_MAX)
}

/// A timeline entry's money: a round's stake and win, in its currency.
fn round_money(entry: &TimelineEntry) -> Option<String> {
    let currency = entry.currency.as_deref()?;
    let staked = money(entry.stake_minor?, currency);
    let won = money(entry.win_minor.unwrap_or(0), currency);
    Some(format!("staked {staked}, won {won}"))
}

/// A panel filled from the operator API's JSON (by `app.js`).
fn api_panel(title: &str, url: &str) -> Markup {
    html! {
        section.panel aria-label=(title) {
            h2 { (title) }
            div.api data-api=(url) { p.note { "Loading…" } }
        }
    }
}

/// `GET /backoffice/players/{player}`: the player 360.
pub async fn player(State(state): State<AppState>, headers: HeaderMap, Path(text): Path<String>) -> Response {
    let viewer = match viewer(&state, &headers) {
        Ok(viewer) => viewer,
        Err(redirect) => return redirect,
    };
    let Ok(player) = text.parse::<u64>() else {
        return not_found(&viewer);
    };
    // The timeline carries notes and tickets: the support module's readers only.
    let reads_timeline = viewer.reads_support();
    let account = match read(&state, move |c| {
        Ok(account(c, player)?.map(|account| {
            let events = if reads_timeline {
                timeline(c, player)
            } else {
                Ok(Vec::new())
            };
            (account, events, support_of(c, player))
        }))
    })
    .await
    {
        Ok((Some((account, Ok(events), Ok(support))), _)) => (account, events, support),
        Ok((Some((_, Err(error), _) | (_, _, Err(error))), _)) => {
            return edge::ApiError::internal(error).into_response();
        }
        Ok((None, _)) => return not_found(&viewer),
        Err(error) => return error,
    };
    let (account, events, (notes, tickets)) = account;
    let api = |tail: &str| format!("/operator/v1/players/{player}/{tail}");
    let body = html! {
        div.grid {
            section.panel aria-label="Account" {
                h2 { "Account" }
                dl {
                    dt { "Status" } dd data-field="status" { (account.status) @if let Some(reason) = &account.status_reason { " (" (reason) ")" } }
                    dt { "KYC" } dd data-field="kyc" { (account.kyc) }
                    dt { "Jurisdiction" } dd { (account.jurisdiction.as_deref().unwrap_or("—")) }
                    dt { "Currency" } dd { (account.currency) }
                    dt { "Registered" } dd { (account.registered_at_ms.map(when).unwrap_or_else(|| "—".into())) }
                }
            }
            section.panel aria-label="Wallets" {
                h2 { "Wallets" }
                table.cardtable {
                    thead { tr { th scope="col" { "Currency" } th scope="col" { "Cash" } th scope="col" { "Bonus" } th scope="col" { "Reserved" } } }
                    tbody {
                        @for (currency, cash, bonus, reserved) in &account.wallets {
                            tr {
                                td data-label="Currency" { (currency) }
                                td data-label="Cash" data-field=(format!("cash_{currency}")) { (money(*cash, currency)) }
                                td data-label="Bonus" { (money(*bonus, currency)) }
                                td data-label="Reserved" { (money(*reserved, currency)) }
                            }
                        }
                    }
                }
            }
            (api_panel("Profile", &api("profile")))
            (api_panel("Limits and responsible gambling", &api("rg")))
            (api_panel("Sessions", &api("sessions")))
            (api_panel("Devices", &api("devices")))
            @if viewer.reads_risk() { (api_panel("Risk score", &format!("/operator/v1/risk/players/{player}/score"))) }
            @if viewer.works_markers() { (markers_panel(&api("markers"))) (interventions_panel(&api("interventions"))) }
            @if viewer.reads_churn() { (churn_panel(&api("churn"))) }
            section.panel aria-label="Bonuses" {
                h2 { "Bonuses" }
                div.api data-api=(api("bonuses")) { p.note { "Loading…" } }
                @if viewer.manages_bonuses() {
                    form.act.forfeit data-submit=(api("bonuses/forfeit")) data-done="Bonus forfeited." {
                        input type="hidden" name="currency" value=(account.currency);
                        label for="forfeit-serial" { "Forfeit bonus (serial)" }
                        input #forfeit-serial name="serial" type="number" min="1" required data-json="number";
                        button.reject type="submit" { "Forfeit" }
                    }
                }
            }
            section.panel aria-label="Statement" {
                h2 { "Statement" }
                form.act.statement method="get" action=(format!("/backoffice/players/{player}/statement")) {
                    label for="statement-from" { "From (UTC day)" }
                    input #statement-from type="date" name="from" required;
                    label for="statement-to" { "To (UTC day, included)" }
                    input #statement-to type="date" name="to" required;
                    label for="statement-format" { "Format" }
                    select #statement-format name="format" { option value="csv" { "CSV" } option value="json" { "JSON" } }
                    button type="submit" { "Get statement" }
                }
                p { a href=(format!("{}?format=csv", api("statement"))) download { "Whole statement (CSV)" } }
            }
        }
        @if reads_timeline {
            section.panel aria-label="Timeline" {
                h2 { "Timeline (latest " (TIMELINE_MAX) ")" }
                ol.timeline #timeline {
                    @for event in &events {
                        li data-kind=(event.kind) data-what=(event.event) data-seq=(event.seq) {
                            time { (when(event.time_ms)) } " " strong { (event.event) } " " span.note { (event.kind) }
                            @if let Some(round) = &event.round { " " span { (round) } }
                            @if let Some(detail) = &event.detail { " " span { (detail) } }
                            @if let Some(operator) = event.operator { " " span.note { "by operator " (operator) } }
                            @if let Some(amounts) = round_money(event) { " " span.amount { (amounts) } }
                        }
                    }
                    @if events.is_empty() { li { "Nothing yet." } }
                }
            }
        }
        @if viewer.reads_support() { (support_panels(&viewer, player, &notes, &tickets)) }
        section.panel aria-label="Payments" {
            h2 { "Payments" }
            table.cardtable {
                thead { tr { th scope="col" { "Payment" } th scope="col" { "Kind" } th scope="col" { "State" } th scope="col" { "Amount" } } }
                tbody {
                    @for (id, kind, state, amount, currency) in &account.payments {
                        tr {
                            td data-label="Payment" { (id) }
                            td data-label="Kind" { (kind) }
                            td data-label="State" { (state) }
                            td data-label="Amount" { (money(*amount, currency)) }
                        }
                    }
                }
            }
        }
        section.panel aria-label="History" {
            h2 { "History (latest 20 movements)" }
            table.cardtable {
                thead { tr { th scope="col" { "Seq" } th scope="col" { "Time" } th scope="col" { "Kind" } th scope="col" { "Cash change" } th scope="col" { "Cash after" } } }
                tbody {
                    @for (seq, time_ms, kind, currency, delta, cash) in &account.movements {
                        tr {
                            td data-label="Seq" { (seq) }
                            td data-label="Time" { (when(*time_ms)) }
                            td data-label="Kind" { (kind) }
                            td data-label="Cash change" { (money(*delta, currency)) }
                            td data-label="Cash after" { (money(*cash, currency)) }
                        }
                    }
                }
            }
        }
    };
    page(&format!("Player #{player}"), "/backoffice/players", &viewer, body)
}

/// The problem-gambling markers panel: the score, whether the player is
/// flagged, the markers that fired with what was seen (the analytics
/// module's `…/markers`, admins and compliance).
fn markers_panel(url: &str) -> Markup {
    html! {
        section.panel #markers aria-label="Problem-gambling markers" {
            h2 { "Problem-gambling markers" }
            p { "Score " strong.api data-api=(url) data-pick="score" { "…" } " of 100 over the last 28 days; flagged: "
                span.api data-api=(url) data-pick="flagged" { "…" } }
            h3 { "Markers that fired" }
            div.api data-api=(url) data-pick="markers" { p.note { "Loading…" } }
        }
    }
}

/// The interventions panel: the player's interventions (kind, when,
/// answered or not) and the buttons that send one (admins, compliance),
/// each a journaled command through the operator API.
fn interventions_panel(url: &str) -> Markup {
    html! {
        section.panel #interventions aria-label="Interventions" {
            h2 { "Interventions" }
            div.api data-api=(url) data-pick="interventions" { p.note { "Loading…" } }
            form.act.intervene data-submit=(url) data-done="Intervention sent." {
                label for="intervention-message" { "Message (empty: the standard text)" }
                input #intervention-message name="message" maxlength="1000" data-json="optional";
                button type="submit" name="kind" value="reality_check" { "Reality check" }
                button type="submit" name="kind" value="limit_prompt" { "Limit prompt" }
                button type="submit" name="kind" value="time_out_suggestion" { "Suggest a time-out" }
            }
        }
    }
}

/// The churn panel: the probability and its top reasons; the API answers
/// 409 while no model is trained, and the panel says so.
fn churn_panel(url: &str) -> Markup {
    html! {
        section.panel #churn aria-label="Churn risk" {
            h2 { "Churn risk" }
            p.note { "The probability of no bet in the next 30 days, from a model retrained every 6 hours; until one is trained there is no score." }
            div.api data-api=(url) { p.note { "Loading…" } }
        }
    }
}

/// Notes and tickets shown at most on the player 360.
const SUPPORT_ROWS_MAX: u32 = 50;

type SupportRows = (Vec<readmodel::support::NoteView>, Vec<readmodel::support::TicketView>);

/// The player's internal notes and tickets, oldest first (the first
/// [`SUPPORT_ROWS_MAX`] of each).
fn support_of(connection: &Connection, player: u64) -> Result<SupportRows, ReadModelError> {
    use readmodel::support::{TicketFilter, notes, tickets};
    let player = engine::PlayerId(player);
    let notes = notes(connection, player, 0, SUPPORT_ROWS_MAX)?;
    let filter = TicketFilter {
        player: Some(player),
        limit: SUPPORT_ROWS_MAX,
        ..TicketFilter::default()
    };
    Ok((notes, tickets(connection, &filter)?))
}

/// The player 360's notes (with the add-note form for support and admins)
/// and tickets.
fn support_panels(
    viewer: &Viewer,
    player: u64,
    notes: &[readmodel::support::NoteView],
    tickets: &[readmodel::support::TicketView],
) -> Markup {
    html! {
        div.grid {
            section.panel aria-label="Notes" {
                h2 { "Internal notes" }
                ul.notes #notes {
                    @for note in notes {
                        li data-note=(note.id) {
                            time { (when(note.time_ms)) } " " strong { "operator " (note.operator) } " " span { (note.text) }
                        }
                    }
                    @if notes.is_empty() { li { "No notes." } }
                }
                @if viewer.works_support() {
                    form.act.add-note data-submit=(format!("/operator/v1/players/{player}/notes")) data-done="Note added." {
                        label for="note-text" { "Add a note (never shown to the player)" }
                        textarea #note-text name="text" required maxlength="4000" rows="2" {}
                        button type="submit" { "Add note" }
                    }
                }
            }
            section.panel aria-label="Tickets" {
                h2 { "Tickets" }
                table.cardtable #tickets {
                    thead { tr { th scope="col" { "Ticket" } th scope="col" { "Subject" } th scope="col" { "Status" } th scope="col" { "Priority" } th scope="col" { "Assignee" } th scope="col" { "Updated" } } }
                    tbody {
                        @for ticket in tickets {
                            tr data-ticket=(ticket.id) {
                                td data-label="Ticket" { (ticket.id) }
                                td data-label="Subject" { (ticket.subject) }
                                td data-label="Status" data-field="ticket_status" { (ticket.status) }
                                td data-label="Priority" { (ticket.priority) }
                                td data-label="Assignee" { (ticket.assignee.map(|a| a.to_string()).unwrap_or_else(|| "—".into())) }
                                td data-label="Updated" { (when(ticket.updated_ms)) }
                            }
                        }
                    }
                }
                @if tickets.is_empty() { p.note { "No tickets." } }
            }
        }
    }
}

/// The statement form's period: UTC days, `to` included.
#[derive(Deserialize)]
pub struct StatementPeriod {
    /// The first day, `YYYY-MM-DD`.
    #[serde(default)]
    pub from: String,
    /// The last day, included.
    #[serde(default)]
    pub to: String,
    /// `csv` or `json`.
    #[serde(default)]
    pub format: String,
}

/// A `YYYY-MM-DD` day's start, ms since the epoch.
fn day_start_ms(text: &str) -> Option<i64> {
    let mut parts = text.splitn(3, '-');
    let year = parts.next()?.parse::<i32>().ok()?;
    let month = time::Month::try_from(parts.next()?.parse::<u8>().ok()?).ok()?;
    let day = parts.next()?.parse::<u8>().ok()?;
    let date = time::Date::from_calendar_date(year, month, day).ok()?;
    Some(date.midnight().assume_utc().unix_timestamp() * 1000)
}

/// `GET /backoffice/players/{player}/statement?from=&to=&format=`: the
/// operator API's statement for those UTC days (a redirect to it, so the
/// API's own roles and format apply); a bad period is an error page.
pub async fn statement(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(text): Path<String>,
    Query(period): Query<StatementPeriod>,
) -> Response {
    let viewer = match viewer(&state, &headers) {
        Ok(viewer) => viewer,
        Err(redirect) => return redirect,
    };
    let Ok(player) = text.parse::<u64>() else {
        return not_found(&viewer);
    };
    let format = if period.format == "json" { "json" } else { "csv" };
    let (Some(from), Some(to)) = (day_start_ms(&period.from), day_start_ms(&period.to)) else {
        return bad_period(&viewer, player, "Give both days as YYYY-MM-DD.");
    };
    if to < from {
        return bad_period(&viewer, player, "The last day is before the first.");
    }
    let to = to + 86_400_000;
    let location = format!("/operator/v1/players/{player}/statement?from={from}&to={to}&format={format}&limit=10000");
    (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response()
}

fn bad_period(viewer: &Viewer, player: u64, message: &str) -> Response {
    let mut response = page(
        "Statement",
        "/backoffice/players",
        viewer,
        html! {
            p.error role="alert" { (message) }
            p { a href=(format!("/backoffice/players/{player}")) { "Back to player #" (player) } }
        },
    );
    *response.status_mut() = StatusCode::BAD_REQUEST;
    response
}

fn not_found(viewer: &Viewer) -> Response {
    let mut response = page(
        "Not found",
        "",
        viewer,
        html! { p { "No such player. " a href="/backoffice/players" { "Search players" } } },
    );
    *response.status_mut() = StatusCode::NOT_FOUND;
    response
}

type QueueRow = (String, u64, i64, String, u64, Option<String>);

fn queue(connection: &Connection) -> Result<Vec<QueueRow>, ReadModelError> {
    let rows = connection
        .prepare_cached(
            "SELECT source || ':' || ext_id, player, amount_minor, currency, created_ms,
                    CASE WHEN first_approval_source IS NULL THEN NULL
                         ELSE first_approval_source || ':' || first_approval_id END
             FROM cashier_payments WHERE kind = 'withdrawal' AND state = 'requested'
             ORDER BY created_ms LIMIT 200",
        )?
        .query_map([], |row| {
            Ok((
                row.get(0)?,
                row.get::<_, i64>(1)? as u64,
                row.get(2)?,
                row.get(3)?,
                row.get::<_, i64>(4)? as u64,
                row.get(5)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// `GET /backoffice/withdrawals`: the approval queue, oldest first, with
/// approve and reject buttons for the roles that may use them.
pub async fn withdrawals(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let viewer = match viewer(&state, &headers) {
        Ok(viewer) => viewer,
        Err(redirect) => return redirect,
    };
    let rows = match read(&state, queue).await {
        Ok((rows, _)) => rows,
        Err(error) => return error,
    };
    let body = html! {
        table.cardtable #queue {
            caption { (rows.len()) " awaiting approval" }
            thead { tr {
                th scope="col" { "Withdrawal" } th scope="col" { "Player" } th scope="col" { "Amount" } th scope="col" { "Requested" }
                @if viewer.may_approve() { th scope="col" { "Decision" } }
            } }
            tbody {
                @for (payment, player, amount, currency, created_ms, first) in &rows {
                    tr data-payment=(payment) {
                        td data-label="Withdrawal" { (payment) @if first.is_some() { " (first approval given)" } }
                        td data-label="Player" { a href=(format!("/backoffice/players/{player}")) { "#" (player) } }
                        td data-label="Amount" { (money(*amount, currency)) }
                        td data-label="Requested" { (when(*created_ms)) }
                        @if viewer.may_approve() {
                            td data-label="Decision" {
                                button.approve type="button" data-action=(format!("/cashier/v1/withdrawals/{payment}/approve"))
                                    aria-label=(format!("Approve withdrawal {payment}")) { "Approve" }
                                " "
                                button.reject type="button" data-action=(format!("/cashier/v1/withdrawals/{payment}/reject"))
                                    aria-label=(format!("Reject withdrawal {payment}")) { "Reject" }
                            }
                        }
                    }
                }
            }
        }
        @if !viewer.may_approve() { p.note { "Your role (" (viewer.role.name()) ") may view the queue but not decide." } }
    };
    page("Withdrawals", "/backoffice/withdrawals", &viewer, body)
}

type AuditRow = (
    u64,
    u64,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    bool,
    Option<String>,
);

fn audit_rows(connection: &Connection, only: Option<u32>) -> Result<Vec<AuditRow>, ReadModelError> {
    let rows = connection
        .prepare_cached(
            "SELECT seq, time_ms, operator_name, kind, target_type || ' ' || target, field, before, after, ok, detail
             FROM audit WHERE (?1 IS NULL OR operator = ?1) ORDER BY seq DESC LIMIT 100",
        )?
        .query_map(params![only], |row| {
            Ok((
                row.get::<_, i64>(0)? as u64,
                row.get::<_, i64>(1)? as u64,
                row.get(2)?,
                row.get(3)?,
                row.get(4)?,
                row.get(5)?,
                row.get(6)?,
                row.get(7)?,
                row.get(8)?,
                row.get(9)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// `GET /backoffice/audit`: the latest 100 operator actions, from the
/// journal: everyone's for the roles that read the audit trail (admins,
/// compliance), the viewer's own for the others.
pub async fn audit(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let viewer = match viewer(&state, &headers) {
        Ok(viewer) => viewer,
        Err(redirect) => return redirect,
    };
    let only = (!viewer.reads_audit()).then_some(viewer.id.0);
    let rows = match read(&state, move |c| audit_rows(c, only)).await {
        Ok((rows, _)) => rows,
        Err(error) => return error,
    };
    let body = html! {
        table.cardtable #audit {
            caption { (if only.is_some() { "Your latest actions" } else { "Latest operator actions" }) }
            thead { tr {
                th scope="col" { "Seq" } th scope="col" { "Time" } th scope="col" { "Operator" } th scope="col" { "Action" }
                th scope="col" { "Target" } th scope="col" { "Change" } th scope="col" { "Result" }
            } }
            tbody {
                @for (seq, time_ms, operator, kind, target, field, before, after, ok, detail) in &rows {
                    tr data-kind=(kind) {
                        td data-label="Seq" { (seq) }
                        td data-label="Time" { (when(*time_ms)) }
                        td data-label="Operator" { (operator) }
                        td data-label="Action" { (kind) }
                        td data-label="Target" { (target.as_deref().unwrap_or("—")) }
                        td data-label="Change" {
                            (field.as_deref().unwrap_or("")) " "
                            (before.as_deref().unwrap_or("")) @if after.is_some() { " → " (after.as_deref().unwrap_or("")) }
                            @if let Some(detail) = detail { br; span.note { (detail) } }
                        }
                        td data-label="Result" { (if *ok { "ok" } else { "refused" }) }
                    }
                }
            }
        }
    };
    page("Audit trail", "/backoffice/audit", &viewer, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_statement_day_is_its_utc_midnight_and_bad_days_are_none() {
        assert_eq!(day_start_ms("1970-01-02"), Some(86_400_000));
        assert_eq!(day_start_ms("2026-12-03"), Some(1_796_256_000_000));
        for bad in ["", "2026-13-01", "2026-02-30", "2026-12", "x-1-1", "2026-12-03-1"] {
            assert_eq!(day_start_ms(bad), None, "{bad}");
        }
    }
}
