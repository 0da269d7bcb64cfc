//! The compliance queues: players awaiting a manual KYC decision, and the
//! AML alert queue with the cases worked from it. Both read the read
//! model; their buttons and forms call the operator API's own routes
//! (`PUT /operator/v1/players/{player}/kyc`, `/operator/v1/risk/cases...`)
//! with the session, so the same roles, checks and audit apply. A role the
//! API would refuse sees the queue without them (or, without read access,
//! not at all).

// A page's early answer (the login redirect, an error page) is the
// response itself, made at most once per request: boxing it buys nothing.
#![allow(clippy::result_large_err)]

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use edge::AppState;
use engine::{OperatorId, Role};
use maud::{Markup, html};
use readmodel::ReadModelError;
use rusqlite::{Connection, params};

use crate::layout::{Viewer, forbidden, money, page, when};
use crate::pages::{read, viewer};

/// A player awaiting a KYC decision.
struct KycRow {
    player: u64,
    level: String,
    reason: Option<String>,
    since_ms: u64,
    check_ref: Option<String>,
    documents_pending: u64,
}

/// Players whose level is `pending` or with a document pending review,
/// oldest first.
fn kyc_queue(connection: &Connection) -> Result<Vec<KycRow>, ReadModelError> {
    let rows = connection
        .prepare_cached(
            "SELECT k.player, k.level, k.reason, k.at_ms, k.check_ref,
                    (SELECT COUNT(*) FROM kyc_documents d WHERE d.player = k.player AND d.status = 'pending')
             FROM kyc_players k
             WHERE k.level = 'pending'
                OR EXISTS (SELECT 1 FROM kyc_documents d WHERE d.player = k.player AND d.status = 'pending')
             ORDER BY k.at_ms, k.player LIMIT 200",
        )?
        .query_map([], |row| {
            Ok(KycRow {
                player: row.get::<_, i64>(0)? as u64,
                level: row.get(1)?,
                reason: row.get(2)?,
                since_ms: row.get::<_, i64>(3)?.max(0) as u64,
                check_ref: row.get(4)?,
                documents_pending: row.get::<_, i64>(5)?.max(0) as u64,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// The decision form of one player: a reason and verify / reject.
fn kyc_decision(player: u64) -> Markup {
    let field = format!("kyc-reason-{player}");
    html! {
        form.act data-submit=(format!("/operator/v1/players/{player}/kyc")) data-method="PUT"
            data-done=(format!("Player #{player}: KYC decided.")) {
            label for=(field) { "Reason" }
            input id=(field) name="reason" required maxlength="256" placeholder="e.g. passport checked";
            button.approve type="submit" name="level" value="verified"
                aria-label=(format!("Verify player {player}")) { "Verify" }
            button.reject type="submit" name="level" value="rejected"
                aria-label=(format!("Reject player {player}")) { "Reject" }
        }
    }
}

/// `GET /backoffice/kyc`: players awaiting a KYC decision (admins,
/// compliance, support read it; admins and compliance decide).
pub async fn kyc(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let viewer = match viewer(&state, &headers) {
        Ok(viewer) => viewer,
        Err(redirect) => return redirect,
    };
    if !viewer.reads_kyc() {
        return forbidden("KYC review", &viewer);
    }
    let rows = match read(&state, kyc_queue).await {
        Ok((rows, _)) => rows,
        Err(error) => return error,
    };
    let body = html! {
        table.cardtable #kyc {
            caption { (rows.len()) " awaiting a decision" }
            thead { tr {
                th scope="col" { "Player" } th scope="col" { "Level" } th scope="col" { "Since" }
                th scope="col" { "Why" } th scope="col" { "Documents pending" }
                @if viewer.decides_kyc() { th scope="col" { "Decision" } }
            } }
            tbody {
                @for row in &rows {
                    tr data-player=(row.player) {
                        td data-label="Player" { a href=(format!("/backoffice/players/{}", row.player)) { "#" (row.player) } }
                        td data-label="Level" { (row.level) }
                        td data-label="Since" { (when(row.since_ms)) }
                        td data-label="Why" {
                            (row.reason.as_deref().unwrap_or("—"))
                            @if let Some(check) = &row.check_ref { " (check " (check) ")" }
                        }
                        td data-label="Documents pending" { (row.documents_pending) }
                        @if viewer.decides_kyc() { td data-label="Decision" { (kyc_decision(row.player)) } }
                    }
                }
                @if rows.is_empty() { tr { td colspan="6" { "Nobody is waiting." } } }
            }
        }
        @if !viewer.decides_kyc() { p.note { "Your role (" (viewer.role.name()) ") may view the queue but not decide." } }
    };
    page("KYC review", "/backoffice/kyc", &viewer, body)
}

/// An AML alert.
struct AlertRow {
    id: u64,
    rule: String,
    player: u64,
    currency: String,
    amount_minor: i64,
    time_ms: u64,
    summary: String,
}

/// An open case.
struct CaseRow {
    id: u64,
    player: u64,
    summary: String,
    assignee: Option<u64>,
    opened_by: u64,
    opened_ms: u64,
    alerts: u64,
    notes: Vec<(u64, u64, String, String)>,
}

struct Aml {
    queue: Vec<AlertRow>,
    cases: Vec<CaseRow>,
    resolved: Vec<(u64, u64, String, Option<String>)>,
}

fn aml(connection: &Connection) -> Result<Aml, ReadModelError> {
    let queue = connection
        .prepare_cached(
            "SELECT id, rule, player, currency, amount_minor, time_ms, summary FROM risk_alerts
             WHERE case_id IS NULL ORDER BY id LIMIT 200",
        )?
        .query_map([], |row| {
            Ok(AlertRow {
                id: row.get::<_, i64>(0)? as u64,
                rule: row.get(1)?,
                player: row.get::<_, i64>(2)? as u64,
                currency: row.get(3)?,
                amount_minor: row.get(4)?,
                time_ms: row.get::<_, i64>(5)?.max(0) as u64,
                summary: row.get(6)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut cases = connection
        .prepare_cached(
            "SELECT c.id, c.player, c.summary, c.assignee, c.opened_by, c.opened_ms,
                    (SELECT COUNT(*) FROM risk_alerts a WHERE a.case_id = c.id)
             FROM risk_cases c WHERE c.state = 'open' ORDER BY c.id LIMIT 100",
        )?
        .query_map([], |row| {
            Ok(CaseRow {
                id: row.get::<_, i64>(0)? as u64,
                player: row.get::<_, i64>(1)? as u64,
                summary: row.get(2)?,
                assignee: row.get::<_, Option<i64>>(3)?.map(|id| id as u64),
                opened_by: row.get::<_, i64>(4)? as u64,
                opened_ms: row.get::<_, i64>(5)?.max(0) as u64,
                alerts: row.get::<_, i64>(6)?.max(0) as u64,
                notes: Vec::new(),
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut notes = connection.prepare_cached(
        "SELECT operator, time_ms, kind, text FROM risk_case_notes WHERE case_id = ?1 ORDER BY id DESC LIMIT 10",
    )?;
    for case in &mut cases {
        case.notes = notes
            .query_map(params![case.id as i64], |row| {
                Ok((
                    row.get::<_, i64>(0)? as u64,
                    row.get::<_, i64>(1)?.max(0) as u64,
                    row.get(2)?,
                    row.get(3)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
    }
    let resolved = connection
        .prepare_cached(
            "SELECT id, player, summary, outcome FROM risk_cases WHERE state = 'resolved' ORDER BY id DESC LIMIT 20",
        )?
        .query_map([], |row| {
            Ok((
                row.get::<_, i64>(0)? as u64,
                row.get::<_, i64>(1)? as u64,
                row.get(2)?,
                row.get(3)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Aml { queue, cases, resolved })
}

/// The operators a case may be assigned to: the enabled ones, (id, name).
fn assignable(state: &AppState) -> Vec<(u32, String)> {
    let view = state.view.read();
    let access = &view.access;
    (1..=access.operators_len() as u32)
        .filter_map(|id| {
            let operator = access.operator(OperatorId(id))?;
            (operator.role != Role::Disabled).then(|| (id, operator.name.to_string()))
        })
        .collect()
}

fn operator_name(operators: &[(u32, String)], id: u64) -> String {
    operators
        .iter()
        .find(|(known, _)| u64::from(*known) == id)
        .map(|(_, name)| name.clone())
        .unwrap_or_else(|| format!("operator {id}"))
}

/// Opening a case from one alert: its summary.
fn open_case_form(alert: &AlertRow) -> Markup {
    let field = format!("case-summary-{}", alert.id);
    html! {
        form.act data-submit="/operator/v1/risk/cases" data-done=(format!("Case opened from alert {}.", alert.id)) {
            input type="hidden" name="alerts" data-json="list" value=(alert.id);
            label for=(field) { "Case summary" }
            input id=(field) name="summary" required maxlength="500" value=(format!("{} on player {}", alert.rule, alert.player));
            button type="submit" aria-label=(format!("Open a case from alert {}", alert.id)) { "Open case" }
        }
    }
}

/// A case's forms: assign, annotate, act on the player (journaled under
/// the operator's source), resolve.
fn case_forms(case: &CaseRow, viewer: &Viewer, operators: &[(u32, String)]) -> Markup {
    let id = case.id;
    let base = format!("/operator/v1/risk/cases/{id}");
    let assigned = case.assignee.unwrap_or(u64::from(viewer.id.0));
    html! {
        details.work {
            summary { "Work case " (id) }
            form.act.assign data-submit=(format!("{base}/assignee")) data-method="PUT" data-done=(format!("Case {id} assigned.")) {
                label for=(format!("assignee-{id}")) { "Assign to" }
                select id=(format!("assignee-{id}")) name="operator" data-json="number" {
                    @for (operator, name) in operators {
                        option value=(operator) selected[u64::from(*operator) == assigned] { (name) }
                    }
                }
                button type="submit" { "Assign" }
            }
            form.act.note data-submit=(format!("{base}/notes")) data-done=(format!("Note added to case {id}.")) {
                label for=(format!("note-{id}")) { "Note" }
                textarea id=(format!("note-{id}")) name="text" required maxlength="4000" rows="2" {}
                button type="submit" { "Add note" }
            }
            form.act.action data-submit=(format!("{base}/actions")) data-done=(format!("Case {id}: action taken.")) {
                label for=(format!("action-{id}")) { "Act on player #" (case.player) }
                select id=(format!("action-{id}")) name="action" {
                    option value="require_kyc" { "Require KYC again" }
                    option value="suspend" { "Suspend the account" }
                }
                label for=(format!("action-reason-{id}")) { "Why" }
                input id=(format!("action-reason-{id}")) name="reason" required maxlength="200";
                button.reject type="submit" { "Act" }
            }
            form.act.resolve data-submit=(format!("{base}/resolution")) data-done=(format!("Case {id} resolved.")) {
                label for=(format!("outcome-{id}")) { "Outcome" }
                select id=(format!("outcome-{id}")) name="outcome" {
                    option value="no_action" { "No action" }
                    option value="false_positive" { "False positive" }
                    option value="reported" { "Reported (SAR filed)" }
                }
                label for=(format!("finding-{id}")) { "Finding" }
                textarea id=(format!("finding-{id}")) name="text" required maxlength="4000" rows="2" {}
                button.reject type="submit" { "Resolve" }
            }
        }
    }
}

/// `GET /backoffice/aml`: the alert queue (alerts in no case), the open
/// cases with their latest notes, the latest resolved ones. Admins,
/// compliance and read-only operators read it; admins and compliance get
/// the forms (open a case, assign, annotate, resolve).
pub async fn aml_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let viewer = match viewer(&state, &headers) {
        Ok(viewer) => viewer,
        Err(redirect) => return redirect,
    };
    if !viewer.reads_risk() {
        return forbidden("AML alerts and cases", &viewer);
    }
    let found = match read(&state, aml).await {
        Ok((found, _)) => found,
        Err(error) => return error,
    };
    let operators = assignable(&state);
    let works = viewer.works_cases();
    let body = html! {
        table.cardtable #alerts {
            caption { (found.queue.len()) " alerts in the queue" }
            thead { tr {
                th scope="col" { "Alert" } th scope="col" { "Rule" } th scope="col" { "Player" } th scope="col" { "Amount" }
                th scope="col" { "Raised" } th scope="col" { "Summary" }
                @if works { th scope="col" { "Case" } }
            } }
            tbody {
                @for alert in &found.queue {
                    tr data-alert=(alert.id) {
                        td data-label="Alert" { (alert.id) }
                        td data-label="Rule" { (alert.rule) }
                        td data-label="Player" { a href=(format!("/backoffice/players/{}", alert.player)) { "#" (alert.player) } }
                        td data-label="Amount" { (money(alert.amount_minor, &alert.currency)) }
                        td data-label="Raised" { (when(alert.time_ms)) }
                        td data-label="Summary" { (alert.summary) }
                        @if works { td data-label="Case" { (open_case_form(alert)) } }
                    }
                }
                @if found.queue.is_empty() { tr { td colspan="7" { "No alert is waiting." } } }
            }
        }
        h2 { "Open cases (" (found.cases.len()) ")" }
        @if found.cases.is_empty() { p.note { "No case is open." } }
        div #cases {
            @for case in &found.cases {
                article.panel data-case=(case.id) aria-label=(format!("Case {}", case.id)) {
                    h2 { "Case " (case.id) " · " a href=(format!("/backoffice/players/{}", case.player)) { "player #" (case.player) } }
                    dl {
                        dt { "Summary" } dd { (case.summary) }
                        dt { "Alerts" } dd { (case.alerts) }
                        dt { "Assignee" } dd data-field="assignee" { (case.assignee.map(|id| operator_name(&operators, id)).unwrap_or_else(|| "nobody".into())) }
                        dt { "Opened" } dd { (when(case.opened_ms)) " by " (operator_name(&operators, case.opened_by)) }
                    }
                    @if !case.notes.is_empty() {
                        h3 { "Latest notes" }
                        ul.notes {
                            @for (operator, time_ms, kind, text) in &case.notes {
                                li data-kind=(kind) { strong { (kind) } " · " (operator_name(&operators, *operator)) " · " (when(*time_ms)) ": " (text) }
                            }
                        }
                    }
                    @if works { (case_forms(case, &viewer, &operators)) }
                }
            }
        }
        table.cardtable #resolved {
            caption { "Latest resolved cases" }
            thead { tr { th scope="col" { "Case" } th scope="col" { "Player" } th scope="col" { "Summary" } th scope="col" { "Outcome" } } }
            tbody {
                @for (id, player, summary, outcome) in &found.resolved {
                    tr data-case=(id) {
                        td data-label="Case" { (id) }
                        td data-label="Player" { a href=(format!("/backoffice/players/{player}")) { "#" (player) } }
                        td data-label="Summary" { (summary) }
                        td data-label="Outcome" { (outcome.as_deref().unwrap_or("—")) }
                    }
                }
            }
        }
        @if !works { p.note { "Your role (" (viewer.role.name()) ") may view alerts and cases but not work them." } }
    };
    page("AML alerts and cases", "/backoffice/aml", &viewer, body)
}
