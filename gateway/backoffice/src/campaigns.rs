//! The campaigns page (admins and marketing, CRM's managers): every
//! campaign with its segment, offer, channel, schedule or trigger, state
//! and target counts, and its measured uplift (targets against the control
//! group: players, deposits and GGR per player, the difference), computed
//! by the read model's own `campaigns::uplift`, the one behind the
//! operator API's `…/uplift`; the segments with their member counts (live
//! rules only CRM evaluates, so the count is the API's, loaded by
//! `app.js`); and forms that define a campaign or a segment through the
//! operator API's `PUT` routes, with their roles and journaled audit.

// A page's early answer (the login redirect, an error page) is the
// response itself, made at most once per request: boxing it buys nothing.
#![allow(clippy::result_large_err)]

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use edge::AppState;
use engine::bonus::CampaignStart;
use engine::{Amount, Currency};
use maud::{Markup, html};
use readmodel::ReadModelError;
use readmodel::campaigns::{Arm, CampaignView, SegmentView};
use rusqlite::{Connection, params};

use crate::layout::{Viewer, forbidden, page, when};
use crate::pages::{read, viewer};

/// One arm's figures in a currency.
struct ArmFigures {
    players: u64,
    deposits_pp: Option<i64>,
    ggr_pp: Option<i64>,
}

impl ArmFigures {
    /// Per player, rounded toward zero to the minor unit (the API's rule).
    fn of(arm: &Arm) -> ArmFigures {
        let n = arm.players as i64;
        ArmFigures {
            players: arm.players,
            deposits_pp: (n > 0).then(|| arm.deposits_minor / n),
            ggr_pp: (n > 0).then(|| arm.ggr_minor / n),
        }
    }
}

/// A campaign's uplift in one currency.
struct Uplift {
    currency: Currency,
    targets: ArmFigures,
    control: ArmFigures,
}

/// A campaign with its uplift, in the offer's currency (or, without an
/// offer, in each currency its targeted players hold an account in).
struct Row {
    view: CampaignView,
    uplifts: Vec<Uplift>,
}

/// The currencies a campaign's figures are in: its offer's, as the API
/// defaults to, or the targeted players' account currencies.
fn currencies(c: &Connection, view: &CampaignView) -> Result<Vec<Currency>, ReadModelError> {
    if let Some(offer) = &view.campaign.offer
        && let Some(template) = readmodel::bonuses::by_code(c, &offer.to_string())?
    {
        return Ok(vec![template.template.currency]);
    }
    let codes = c
        .prepare_cached(
            "SELECT DISTINCT p.currency FROM campaign_targets t JOIN players p ON p.player = t.player
             WHERE t.campaign = ?1 ORDER BY p.currency",
        )?
        .query_map(params![view.campaign.code.to_string()], |row| row.get::<_, String>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(codes.iter().filter_map(|code| Currency::from_code(code)).collect())
}

fn campaigns_and_segments(c: &Connection) -> Result<(Vec<Row>, Vec<SegmentView>), ReadModelError> {
    let mut rows = Vec::new();
    for view in readmodel::campaigns::campaigns(c)? {
        let code = view.campaign.code.to_string();
        let mut uplifts = Vec::new();
        for currency in currencies(c, &view)? {
            let (targets, control) = readmodel::campaigns::uplift(c, &code, currency)?;
            uplifts.push(Uplift {
                currency,
                targets: ArmFigures::of(&targets),
                control: ArmFigures::of(&control),
            });
        }
        rows.push(Row { view, uplifts });
    }
    Ok((rows, readmodel::campaigns::segments(c)?))
}

/// Money as the API writes it (`12.50`), then the currency.
fn amount(minor: Option<i64>, currency: Currency) -> String {
    match minor {
        Some(minor) => format!(
            "{} {}",
            edge::wire::money(Amount::from_minor(minor), currency),
            currency.code()
        ),
        None => "—".to_owned(),
    }
}

/// When a campaign targets its segment, in words.
fn schedule(view: &CampaignView) -> String {
    match view.campaign.start {
        CampaignStart::At { at_ms } => format!("at {}", when(at_ms)),
        CampaignStart::OnDeposit => "on each deposit".to_owned(),
        CampaignStart::OnRegistration => "on each registration".to_owned(),
    }
}

/// A campaign's state: disabled, launched, scheduled or live (triggered).
fn state_of(view: &CampaignView) -> &'static str {
    match (view.campaign.enabled, view.campaign.start, view.launched_seq) {
        (false, _, _) => "disabled",
        (true, CampaignStart::At { .. }, Some(_)) => "launched",
        (true, CampaignStart::At { .. }, None) => "scheduled",
        (true, _, _) => "live",
    }
}

fn uplift_table(code: &str, uplifts: &[Uplift]) -> Markup {
    html! {
        @if uplifts.is_empty() { p.note { "No figures yet: no players targeted." } }
        @for u in uplifts {
            @let diff = |t: Option<i64>, c: Option<i64>| t.zip(c).map(|(t, c)| t - c);
            table.cardtable.uplift data-uplift=(code) data-currency=(u.currency.code()) {
                caption { "Uplift in " (u.currency.code()) }
                thead { tr {
                    th scope="col" { "Arm" } th scope="col" { "Players" }
                    th scope="col" { "Deposits per player" } th scope="col" { "GGR per player" }
                } }
                tbody {
                    tr data-arm="targets" {
                        td data-label="Arm" { "Targets" }
                        td data-label="Players" data-field="players" { (u.targets.players) }
                        td data-label="Deposits per player" data-field="deposits_per_player" { (amount(u.targets.deposits_pp.or(Some(0)), u.currency)) }
                        td data-label="GGR per player" data-field="ggr_per_player" { (amount(u.targets.ggr_pp.or(Some(0)), u.currency)) }
                    }
                    tr data-arm="control" {
                        td data-label="Arm" { "Control" }
                        td data-label="Players" data-field="players" { (u.control.players) }
                        td data-label="Deposits per player" data-field="deposits_per_player" { (amount(u.control.deposits_pp.or(Some(0)), u.currency)) }
                        td data-label="GGR per player" data-field="ggr_per_player" { (amount(u.control.ggr_pp.or(Some(0)), u.currency)) }
                    }
                    tr data-arm="uplift" {
                        td data-label="Arm" { "Uplift" }
                        td data-label="Players" { "—" }
                        td data-label="Deposits per player" data-field="deposits_uplift_per_player" { (amount(diff(u.targets.deposits_pp, u.control.deposits_pp), u.currency)) }
                        td data-label="GGR per player" data-field="ggr_uplift_per_player" { (amount(diff(u.targets.ggr_pp, u.control.ggr_pp), u.currency)) }
                    }
                }
            }
        }
    }
}

fn campaign_form(segments: &[SegmentView]) -> Markup {
    html! {
        section.panel aria-label="Define a campaign" {
            h2 { "Define a campaign" }
            p.note { "A code already in use replaces that campaign; the players it targeted stay targeted." }
            form.act.campaign data-submit="/operator/v1/campaigns/" data-path="code" data-method="PUT" data-done="Campaign saved." {
                label for="campaign-code" { "Code" }
                input #campaign-code name="code" required maxlength="64" pattern="[!-~]+";
                label for="campaign-name" { "Name" }
                input #campaign-name name="name" required maxlength="128";
                label for="campaign-segment" { "Segment" }
                select #campaign-segment name="segment" required {
                    @for s in segments { option value=(s.segment.code.to_string()) { (s.segment.code.to_string()) " — " (s.segment.name.to_string()) } }
                }
                label for="campaign-offer" { "Offer (a no-deposit bonus template's code; empty: a message only)" }
                input #campaign-offer name="offer" maxlength="64" data-json="optional";
                label for="campaign-channel" { "Channel" }
                select #campaign-channel name="channel" {
                    @for channel in ["email", "sms", "push", "none"] { option value=(channel) { (channel) } }
                }
                label for="campaign-message" { "Message" }
                input #campaign-message name="message" required maxlength="128";
                label for="campaign-trigger" { "Trigger (empty: scheduled at the start below)" }
                select #campaign-trigger name="trigger" data-json="optional" {
                    option value="" { "scheduled" } option value="deposit" { "on each deposit" } option value="registration" { "on each registration" }
                }
                label for="campaign-start" { "Start (ms since the epoch, for a scheduled campaign)" }
                input #campaign-start name="start_at_ms" type="number" min="0" data-json="optional-number";
                label for="campaign-control" { "Control group (% of the segment, 0–90)" }
                input #campaign-control name="control_pct" type="number" min="0" max="90" value="10" required data-json="number";
                button type="submit" { "Save campaign" }
            }
        }
    }
}

fn segment_form() -> Markup {
    html! {
        section.panel aria-label="Define a segment" {
            h2 { "Define a segment" }
            form.act.segment data-submit="/operator/v1/segments/" data-path="code" data-method="PUT" data-done="Segment saved." {
                label for="segment-code" { "Code" }
                input #segment-code name="code" required maxlength="64" pattern="[!-~]+";
                label for="segment-name" { "Name" }
                input #segment-name name="name" required maxlength="128";
                label for="segment-all" { "Rules every member keeps (JSON list, e.g. [{\"country\": [\"MT\"]}])" }
                textarea #segment-all name="all" rows="2" data-json="json" { "[]" }
                label for="segment-any" { "Rules of which a member keeps one (JSON list; [] for none)" }
                textarea #segment-any name="any" rows="2" data-json="json" { "[]" }
                button type="submit" { "Save segment" }
            }
        }
    }
}

fn campaigns_table(rows: &[Row]) -> Markup {
    html! {
        table.cardtable #campaigns {
            caption { (rows.len()) " campaigns" }
            thead { tr {
                th scope="col" { "Campaign" } th scope="col" { "Segment" } th scope="col" { "Offer" } th scope="col" { "Channel" }
                th scope="col" { "Schedule" } th scope="col" { "State" } th scope="col" { "Targets" } th scope="col" { "Sent" }
                th scope="col" { "Failed" } th scope="col" { "Control" } th scope="col" { "Skipped" }
            } }
            tbody {
                @for row in rows {
                    @let c = &row.view.campaign;
                    tr data-campaign=(c.code.to_string()) {
                        td data-label="Campaign" { strong { (c.code.to_string()) } br; span.note { (c.name.to_string()) } }
                        td data-label="Segment" { (c.segment.to_string()) }
                        td data-label="Offer" { (c.offer.as_ref().map(ToString::to_string).unwrap_or_else(|| "—".into())) }
                        td data-label="Channel" { (c.channel.name()) }
                        td data-label="Schedule" { (schedule(&row.view)) }
                        td data-label="State" data-field="state" { (state_of(&row.view)) }
                        td data-label="Targets" data-field="targets" { (row.view.targets) }
                        td data-label="Sent" data-field="delivered" { (row.view.delivered) }
                        td data-label="Failed" data-field="failed" { (row.view.failed) }
                        td data-label="Control" data-field="controls" { (row.view.controls) }
                        td data-label="Skipped" data-field="skipped" { (row.view.skipped) }
                    }
                }
            }
        }
    }
}

/// `GET /backoffice/campaigns`: campaigns with their uplift, segments
/// with their member counts, and (for the roles that may) the forms.
pub async fn campaigns(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let viewer: Viewer = match viewer(&state, &headers) {
        Ok(viewer) => viewer,
        Err(redirect) => return redirect,
    };
    if !viewer.manages_campaigns() {
        return forbidden("Campaigns", &viewer);
    }
    let (rows, segments) = match read(&state, campaigns_and_segments).await {
        Ok((found, _)) => found,
        Err(error) => return error,
    };
    let body = html! {
        (campaigns_table(&rows))
        h2 { "Uplift: targets against the control group" }
        p.note { "Deposits and GGR (stakes less prizes) of each player since they were targeted, per player; the uplift is the targets' less the control group's." }
        div.grid #uplifts {
            @for row in &rows {
                @let code = row.view.campaign.code.to_string();
                section.panel aria-label=(format!("Uplift of {code}")) {
                    h2 { (code) }
                    (uplift_table(&code, &row.uplifts))
                }
            }
        }
        table.cardtable #segments {
            caption { (segments.len()) " segments" }
            thead { tr {
                th scope="col" { "Segment" } th scope="col" { "Name" } th scope="col" { "Rules" } th scope="col" { "Members" } th scope="col" { "Set" }
            } }
            tbody {
                @for s in &segments {
                    @let code = s.segment.code.to_string();
                    tr data-segment=(code) {
                        td data-label="Segment" { (code) }
                        td data-label="Name" { (s.segment.name.to_string()) }
                        td data-label="Rules" { (s.segment.all.len()) " all, " (s.segment.any.len()) " any" }
                        td data-label="Members" {
                            span.api data-api=(format!("/operator/v1/segments/{}/members?limit=1", urlencode(&code))) data-pick="count" { "…" }
                        }
                        td data-label="Set" { (when(s.set_ms)) }
                    }
                }
            }
        }
        div.grid {
            (campaign_form(&segments))
            (segment_form())
        }
    };
    page("Campaigns", "/backoffice/campaigns", &viewer, body)
}

/// A code as one URL path segment.
fn urlencode(code: &str) -> String {
    form_urlencoded::byte_serialize(code.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_player_figures_round_toward_zero_and_need_players() {
        let arm = Arm {
            players: 3,
            deposits_minor: 1000,
            ggr_minor: -1000,
        };
        let figures = ArmFigures::of(&arm);
        assert_eq!((figures.deposits_pp, figures.ggr_pp), (Some(333), Some(-333)));
        let none = ArmFigures::of(&Arm::default());
        assert_eq!((none.players, none.deposits_pp, none.ggr_pp), (0, None, None));
        assert_eq!(amount(Some(-333), Currency::EUR), "-3.33 EUR");
        assert_eq!(amount(None, Currency::EUR), "—");
        assert_eq!(urlencode("a b/c"), "a%20b%2Fc");
    }
}
