//! Regulatory and business reports over the operator API (issue 15, its
//! "Reports" section): `GET /operator/v1/reports/{report}` for a period,
//! per currency and, with `?currency=`, converted into a reporting
//! currency at the FX read model's rates (the rates used are listed), as
//! JSON, CSV, tab-delimited text or a printable HTML page.
//!
//! - `ukgc-quarterly`: the UK Gambling Commission's quarterly return
//!   figures: GGY per product split GB / non-GB customers, active
//!   customers, deposits.
//! - `business`: GGR and NGR by day, game, provider, country and
//!   affiliate; deposits and withdrawals by provider; bonus cost.
//! - `mga-tax`, `mga-player-funds`, `mga-player-data`: the Malta Gaming
//!   Authority's monthly tax report, player-funds report and player-data
//!   export.
//! - `rg-interventions`: interventions sent to players per kind and
//!   answer, problem-gambling marker alerts per state and per marker
//!   (`readmodel::analytics`).
//! - `affiliate-commission`: each affiliate's monthly commission under its
//!   plan (revenue share of NGR, CPA) and its referred players' figures
//!   ([`commission`]); also at `/operator/v1/affiliates/{code}/commission`.
//! - `cohort-retention`: registration-month cohorts and the share of each
//!   active (a bet) in every month since.
//!
//! `?brand=` keeps only the players of one brand in every figure built
//! per player (the open bets and jackpot funds of `mga-player-funds` are
//! not per player and are left out under a brand filter).
//!
//! Every figure is a sum of the read model's movements
//! ([`readmodel::reports`]), whose figures the projection derives from
//! each command and its receipt; [`build`] says exactly how each figure is
//! defined, and every report carries those definitions. Reports only read:
//! the roles that read the books (admin, finance, compliance, read-only)
//! may fetch them; support may not.
//!
//! It keeps no state of its own and knows nothing of the server or of
//! other modules (players' countries come through the
//! [`edge::directory::PlayerDirectory`] the PAM module registers).

#![deny(missing_docs)]

pub mod build;
pub mod commission;
pub mod period;
pub mod table;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::Response;
use edge::AppState;
use edge::change::ok;
use edge::error::{ApiError, ErrorBody};
use edge::openapi::RoleErrors;
use edge::reads::read;
use edge::route::{Access, Route, route};
use engine::payments::FX_RATE_SCALE;
use engine::{Currency, PlayerId, Role};
use serde::Deserialize;
use utoipa::{IntoParams, OpenApi};

use crate::build::{GameInfo, Inputs, PlayerInfo};
use crate::period::{BadPeriod, Period};
use crate::table::{Report, ReportReply};

/// Who reads reports: the roles that read the books. Support answers
/// players and needs neither the operator's revenue nor the player-data
/// export.
pub const READERS: &[Role] = &[Role::Admin, Role::Finance, Role::Compliance, Role::ReadOnly];

/// This module's routes, each with the roles it admits.
pub fn routes() -> Vec<Route> {
    vec![
        route::<__path_report, _>(Access::Operator(READERS), report),
        route::<__path_affiliate_commission, _>(Access::Operator(COMMISSION_READERS), affiliate_commission),
    ]
}

/// The tag of this module's operations.
#[derive(OpenApi)]
#[openapi(
    components(schemas(ReportReply, table::TableReply, table::RateUsed, table::Definition)),
    tags((name = "reports", description = "Regulatory and business reports for a period, per currency and converted into a reporting currency: ukgc-quarterly, business, mga-tax, mga-player-funds, mga-player-data, rg-interventions; as JSON, CSV, tab-delimited text or printable HTML. Admins, finance, compliance and read-only operators read them."))
)]
pub struct Doc;

/// The reports, by name.
pub const REPORTS: &[(&str, &str)] = &[
    ("ukgc-quarterly", "UK Gambling Commission quarterly return figures"),
    ("business", "GGR, NGR, payments and bonus cost"),
    ("mga-tax", "Malta Gaming Authority monthly tax report"),
    ("mga-player-funds", "Malta Gaming Authority monthly player-funds report"),
    ("mga-player-data", "Malta Gaming Authority player-data export"),
    (
        "rg-interventions",
        "Responsible-gambling interventions and problem-gambling markers",
    ),
    ("affiliate-commission", "Affiliate commission for a month"),
    ("cohort-retention", "Cohort retention by registration month"),
];

/// Who reads an affiliate's commission at its own route: those who read
/// reports, and marketing (who manages the affiliates).
pub const COMMISSION_READERS: &[Role] = &[Role::Admin, Role::Finance, Role::Marketing, Role::ReadOnly];

/// A report's period and form.
#[derive(Clone, Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ReportQuery {
    /// A quarter, `YYYYQn` (`2026Q4`).
    pub quarter: Option<String>,
    /// A month, `YYYY-MM`.
    pub month: Option<String>,
    /// The first day, `YYYY-MM-DD` (UTC), with `to`.
    pub from: Option<String>,
    /// The last day, included, with `from`.
    pub to: Option<String>,
    /// `json` (the default), `csv`, `tsv` (tab-delimited) or `html`.
    pub format: Option<String>,
    /// A reporting currency: every table also gets its figures converted
    /// into it at the rates in force at the end of the period.
    pub currency: Option<String>,
    /// Only the players of this brand (`default`: those of no other).
    pub brand: Option<String>,
    /// `affiliate-commission` only: this affiliate alone.
    pub affiliate: Option<String>,
}

/// The form a report is rendered in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// JSON ([`ReportReply`]).
    Json,
    /// CSV (RFC 4180).
    Csv,
    /// Tab-delimited.
    Tsv,
    /// A printable HTML page.
    Html,
}

fn invalid_period(error: BadPeriod) -> ApiError {
    ApiError::bad_request("invalid_period", error.0)
}

/// The period a query names: a quarter, a month, or `from` and `to`.
pub fn period_of(query: &ReportQuery) -> Result<Period, ApiError> {
    match (&query.quarter, &query.month, &query.from, &query.to) {
        (Some(quarter), None, None, None) => period::quarter(quarter).map_err(invalid_period),
        (None, Some(month), None, None) => period::month(month).map_err(invalid_period),
        (None, None, Some(from), Some(to)) => {
            let first = period::date(from, "from").map_err(invalid_period)?;
            let last = period::date(to, "to").map_err(invalid_period)?;
            period::days(first, last).map_err(invalid_period)
        }
        _ => Err(ApiError::bad_request(
            "invalid_period",
            "name the period once: quarter (2026Q4), month (2026-01), or from and to (YYYY-MM-DD, both included)",
        )),
    }
}

fn format_of(query: &ReportQuery) -> Result<Format, ApiError> {
    match query.format.as_deref() {
        None | Some("json") => Ok(Format::Json),
        Some("csv") => Ok(Format::Csv),
        Some("tsv") => Ok(Format::Tsv),
        Some("html") => Ok(Format::Html),
        Some(_) => Err(ApiError::bad_request(
            "invalid_request",
            "format: json, csv, tsv or html",
        )),
    }
}

/// A report for a period (admins, finance, compliance, read-only).
#[utoipa::path(get, path = "/operator/v1/reports/{report}", tag = "reports",
    params(("report" = String, Path, description = "ukgc-quarterly, business, mga-tax, mga-player-funds, mga-player-data, rg-interventions, affiliate-commission or cohort-retention"), ReportQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "the report", content(
            (ReportReply = "application/json"),
            (String = "text/csv"),
            (String = "text/tab-separated-values"),
            (String = "text/html"))),
        RoleErrors,
        (status = 400, body = ErrorBody, description = "invalid_period (none, two, a bad date, to before from, over 367 days; affiliate-commission takes a month), invalid_request (an unknown parameter or format, affiliate= on another report), unknown_currency"),
        (status = 404, body = ErrorBody, description = "unknown_report, unknown_brand, unknown_affiliate"),
        (status = 422, body = ErrorBody, description = "fx_rate_missing: no rate into the reporting currency in force at the end of the period")))]
pub async fn report(State(state): State<AppState>, Path(name): Path<String>, uri: Uri) -> Result<Response, ApiError> {
    let Some(&(name, title)) = REPORTS.iter().find(|(known, _)| *known == name) else {
        let names: Vec<&str> = REPORTS.iter().map(|(n, _)| *n).collect();
        return Err(ApiError::not_found(
            "unknown_report",
            format!("no such report; reports are {}", names.join(", ")),
        ));
    };
    let Query(query) = Query::<ReportQuery>::try_from_uri(&uri).map_err(|_| {
        ApiError::bad_request(
            "invalid_request",
            "query parameters are quarter, month, from, to, format, currency, brand and affiliate",
        )
    })?;
    if query.affiliate.is_some() && name != "affiliate-commission" {
        return Err(ApiError::bad_request(
            "invalid_request",
            "affiliate= is for the affiliate-commission report",
        ));
    }
    let period = period_of(&query)?;
    let format = format_of(&query)?;
    let reporting = query.currency.as_deref().map(edge::wire::currency).transpose()?;
    let filter = Filter {
        brand: query.brand.clone(),
        affiliate: query.affiliate.clone(),
    };
    let report = generate_filtered(&state, name, title, &period, reporting, &filter).await?;
    respond(&report, format)
}

/// An affiliate's commission for a month (admins, finance, marketing,
/// read-only): the `affiliate-commission` report for that affiliate alone.
#[utoipa::path(get, path = "/operator/v1/affiliates/{code}/commission", tag = "reports",
    params(("code" = String, Path, description = "the affiliate's code"), ReportQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "the report", content(
            (ReportReply = "application/json"),
            (String = "text/csv"),
            (String = "text/tab-separated-values"),
            (String = "text/html"))),
        RoleErrors,
        (status = 400, body = ErrorBody, description = "invalid_period (the report takes month=YYYY-MM), invalid_request, unknown_currency"),
        (status = 404, body = ErrorBody, description = "unknown_affiliate"),
        (status = 422, body = ErrorBody, description = "fx_rate_missing")))]
pub async fn affiliate_commission(
    State(state): State<AppState>,
    Path(code): Path<String>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let Query(query) = Query::<ReportQuery>::try_from_uri(&uri)
        .map_err(|_| ApiError::bad_request("invalid_request", "query parameters are month, format and currency"))?;
    if query.affiliate.is_some() || query.brand.is_some() {
        return Err(ApiError::bad_request(
            "invalid_request",
            "the affiliate is in the path; brand= does not apply",
        ));
    }
    let period = period_of(&query)?;
    let format = format_of(&query)?;
    let reporting = query.currency.as_deref().map(edge::wire::currency).transpose()?;
    let filter = Filter {
        brand: None,
        affiliate: Some(code),
    };
    let (name, title) = ("affiliate-commission", "Affiliate commission for a month");
    let report = generate_filtered(&state, name, title, &period, reporting, &filter).await?;
    respond(&report, format)
}

/// What a report is narrowed to.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    /// Only this brand's players.
    pub brand: Option<String>,
    /// `affiliate-commission`: only this affiliate.
    pub affiliate: Option<String>,
}

/// Builds report `name` for `period` as [`generate`] does, narrowed by
/// `filter`.
pub async fn generate_filtered(
    state: &AppState,
    name: &'static str,
    title: &'static str,
    period: &Period,
    reporting: Option<Currency>,
    filter: &Filter,
) -> Result<Report, ApiError> {
    if name == "affiliate-commission" && filter.brand.is_some() {
        return Err(ApiError::bad_request(
            "invalid_request",
            "brand= does not apply to the commission report: an affiliate's plan pays on all its players",
        ));
    }
    let brand_players = match &filter.brand {
        Some(brand) => Some(brand_players(state, brand.clone()).await?),
        None => None,
    };
    let (tables, definitions, as_of_seq) = match name {
        "affiliate-commission" => {
            if !period.is_month() {
                return Err(ApiError::bad_request(
                    "invalid_period",
                    "the commission report is monthly: month=YYYY-MM",
                ));
            }
            let only = filter.affiliate.clone();
            let (from_ms, to_ms) = (period.from_ms, period.to_ms);
            let (found, as_of_seq) = read(state, move |c| {
                if let Some(code) = &only
                    && readmodel::marketing::affiliate(c, code)?.is_none()
                {
                    return Ok(None);
                }
                commission::affiliate_months(c, only.as_deref(), from_ms, to_ms).map(Some)
            })
            .await?;
            let months = found.ok_or_else(|| ApiError::not_found("unknown_affiliate", "no affiliate has this code"))?;
            (
                commission::commission_tables(&months),
                commission::COMMISSION_DEFINITIONS.to_vec(),
                as_of_seq,
            )
        }
        "cohort-retention" => {
            let (from_ms, to_ms) = (period.from_ms, period.to_ms);
            // Up to and including the current millisecond.
            let until_ms = state.now_ms().saturating_add(1).max(to_ms);
            let (mut activity, as_of_seq) = read(state, move |c| {
                readmodel::marketing::cohort_activity(c, from_ms, to_ms, until_ms)
            })
            .await?;
            if let Some(players) = &brand_players {
                activity.retain(|a| players.contains(&a.player));
            }
            (
                vec![commission::cohort_table(&activity, until_ms)],
                commission::COHORT_DEFINITIONS.to_vec(),
                as_of_seq,
            )
        }
        _ => return generate_for(state, name, title, period, reporting, brand_players.as_ref()).await,
    };
    finish(state, name, title, period, reporting, tables, definitions, as_of_seq).await
}

/// The players of `brand` (404 `unknown_brand` if it is neither set nor
/// the default).
async fn brand_players(state: &AppState, brand: String) -> Result<BTreeSet<PlayerId>, ApiError> {
    let (found, _) = read(state, move |c| {
        use readmodel::marketing as m;
        if brand != m::DEFAULT_BRAND && m::brand(c, &brand)?.is_none() {
            return Ok(None);
        }
        m::brand_players(c, &brand).map(Some)
    })
    .await?;
    let players = found.ok_or_else(|| ApiError::not_found("unknown_brand", "no brand has this code"))?;
    Ok(players.into_iter().collect())
}

/// Builds report `name` for `period`, converted into `reporting` if given.
pub async fn generate(
    state: &AppState,
    name: &'static str,
    title: &'static str,
    period: &Period,
    reporting: Option<Currency>,
) -> Result<Report, ApiError> {
    generate_filtered(state, name, title, period, reporting, &Filter::default()).await
}

/// The reports built from the period's sums, narrowed to `players` if
/// given.
async fn generate_for(
    state: &AppState,
    name: &'static str,
    title: &'static str,
    period: &Period,
    reporting: Option<Currency>,
    only: Option<&BTreeSet<PlayerId>>,
) -> Result<Report, ApiError> {
    let (from_ms, to_ms) = (period.from_ms, period.to_ms);
    if name == "rg-interventions" {
        let (counts, as_of_seq) = read(state, move |c| {
            readmodel::analytics::intervention_counts(c, from_ms, to_ms)
        })
        .await?;
        return Ok(Report {
            name,
            title,
            first_day: period.first_day.clone(),
            last_day: period.last_day.clone(),
            from_ms,
            to_ms,
            // Counts only: nothing to convert.
            reporting: None,
            rates: BTreeMap::new(),
            as_of_seq,
            definitions: build::RG_DEFINITIONS.to_vec(),
            tables: build::rg_interventions(&counts),
        });
    }
    let wallets_too = matches!(name, "mga-player-funds" | "mga-player-data");
    let ((gaming, payments, wallets, open_bets), as_of_seq) = read(state, move |c| {
        // The MGA's funds and player data are built from the wallets alone
        // (which count their bets from the same sums).
        let gaming = if wallets_too {
            Vec::new()
        } else {
            readmodel::reports::gaming(c, from_ms, to_ms)?
        };
        let payments = readmodel::reports::payments(c, from_ms, to_ms)?;
        let (wallets, open_bets) = if wallets_too {
            (
                readmodel::reports::wallets_at(c, from_ms, to_ms)?,
                readmodel::reports::open_bets(c, to_ms)?,
            )
        } else {
            (Vec::new(), Vec::new())
        };
        Ok((gaming, payments, wallets, open_bets))
    })
    .await?;
    let mut inputs = Inputs {
        gaming,
        payments,
        wallets,
        open_bets,
        jackpot_funds: Vec::new(),
        players: HashMap::new(),
        games: HashMap::new(),
    };
    if let Some(only) = only {
        inputs.gaming.retain(|s| only.contains(&s.player));
        inputs.payments.retain(|p| only.contains(&p.player));
        inputs.wallets.retain(|w| only.contains(&w.player));
        inputs.open_bets.clear();
    }
    let named: BTreeSet<PlayerId> = inputs
        .gaming
        .iter()
        .map(|s| s.player)
        .chain(inputs.payments.iter().map(|p| p.player))
        .chain(inputs.wallets.iter().map(|w| w.player))
        .collect();
    inputs.players = players(state, named).await?;
    {
        let view = state.view.read();
        for game in view.games.games() {
            inputs.games.insert(
                (game.aggregator.0, game.code.as_str().to_owned()),
                GameInfo {
                    kind: game.kind.name().to_owned(),
                    provider: game.provider.as_str().to_owned(),
                },
            );
        }
        if name == "mga-player-funds" && only.is_none() {
            let mut funds: BTreeMap<Currency, i64> = BTreeMap::new();
            for pool in view.jackpots.pools() {
                *funds.entry(pool.pool.currency).or_default() += pool.balance.minor();
            }
            inputs.jackpot_funds = funds.into_iter().collect();
        }
    }
    let tables = match name {
        "ukgc-quarterly" => build::ukgc(&inputs),
        "business" => build::business(&inputs),
        "mga-tax" => build::mga_tax(&inputs),
        "mga-player-funds" => build::mga_funds(&inputs),
        _ => build::mga_players(&inputs),
    };
    let mut definitions: Vec<(&'static str, &'static str)> = build::definitions(name).to_vec();
    if !matches!(name, "mga-player-funds" | "mga-player-data") {
        definitions.extend_from_slice(build::gaming_definitions());
    }
    finish(state, name, title, period, reporting, tables, definitions, as_of_seq).await
}

/// The report from its tables: the rates into `reporting` looked up.
#[allow(clippy::too_many_arguments)]
async fn finish(
    state: &AppState,
    name: &'static str,
    title: &'static str,
    period: &Period,
    reporting: Option<Currency>,
    tables: Vec<crate::table::Table>,
    mut definitions: Vec<(&'static str, &'static str)>,
    as_of_seq: u64,
) -> Result<Report, ApiError> {
    if name == "affiliate-commission" {
        definitions.extend_from_slice(build::gaming_definitions());
    }
    let (from_ms, to_ms) = (period.from_ms, period.to_ms);
    let currencies: BTreeSet<Currency> = tables.iter().flat_map(|t| t.lines.iter().map(|l| l.currency)).collect();
    let rates = match reporting {
        Some(reporting) => rates(state, currencies, reporting, to_ms).await?,
        None => BTreeMap::new(),
    };
    Ok(Report {
        name,
        title,
        first_day: period.first_day.clone(),
        last_day: period.last_day.clone(),
        from_ms,
        to_ms,
        reporting,
        rates,
        as_of_seq,
        definitions,
        tables,
    })
}

/// What the reports need of each player: the profile's country, date of
/// birth and affiliate through the PAM module's directory, else the
/// licensing jurisdiction.
async fn players(state: &AppState, named: BTreeSet<PlayerId>) -> Result<HashMap<PlayerId, PlayerInfo>, ApiError> {
    let mut facts_of = match state.directory() {
        Some(directory) => directory.facts_of(state, named.iter().copied().collect()).await?,
        None => HashMap::new(),
    };
    let mut players = HashMap::with_capacity(named.len());
    for player in named {
        let facts = facts_of.remove(&player);
        let jurisdiction = state.view.read().player(player).map(|p| p.jurisdiction);
        let mut info = PlayerInfo {
            country: jurisdiction.map_or_else(|| "unknown".to_owned(), |j| j.as_str().to_owned()),
            ..PlayerInfo::default()
        };
        if let Some(facts) = facts {
            if let Some(country) = facts.country {
                info.country = country;
            }
            info.birth_date = facts.birth_date;
            info.affiliate = facts.affiliate_code;
        }
        players.insert(player, info);
    }
    Ok(players)
}

/// The rate of each currency into `reporting` in force at the end of the
/// period (its last millisecond).
async fn rates(
    state: &AppState,
    currencies: BTreeSet<Currency>,
    reporting: Currency,
    to_ms: u64,
) -> Result<BTreeMap<Currency, (i64, u64)>, ApiError> {
    let at_ms = to_ms.saturating_sub(1);
    let (found, _) = read(state, move |c| {
        let mut found = Vec::new();
        for currency in currencies {
            if currency == reporting {
                found.push((currency, Some((FX_RATE_SCALE, 0))));
                continue;
            }
            let rate = readmodel::fx::rate_at(c, currency.code(), reporting.code(), at_ms)?;
            found.push((currency, rate.map(|r| (r.rate_scaled, r.effective_ms))));
        }
        Ok(found)
    })
    .await?;
    let mut rates = BTreeMap::new();
    for (currency, rate) in found {
        let Some(rate) = rate else {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "fx_rate_missing",
                format!(
                    "no {}/{} rate in force at the end of the period (set one with PUT /operator/v1/fx/{}/{})",
                    currency.code(),
                    reporting.code(),
                    currency.code(),
                    reporting.code()
                ),
            ));
        };
        rates.insert(currency, rate);
    }
    Ok(rates)
}

/// The report in `format`, with its `x-as-of-seq` header.
pub fn respond(report: &Report, format: Format) -> Result<Response, ApiError> {
    let (content_type, extension, bytes) = match format {
        Format::Json => {
            let mut response = ok(StatusCode::OK, &report.reply())?;
            response
                .headers_mut()
                .insert("x-as-of-seq", HeaderValue::from(report.as_of_seq));
            return Ok(response);
        }
        Format::Csv => (
            "text/csv; charset=utf-8",
            "csv",
            report.delimited(b',').map_err(ApiError::internal)?,
        ),
        Format::Tsv => (
            "text/tab-separated-values; charset=utf-8",
            "tsv",
            report.delimited(b'\t').map_err(ApiError::internal)?,
        ),
        Format::Html => (
            "text/html; charset=utf-8",
            "html",
            report.html().into_string().into_bytes(),
        ),
    };
    let mut response = Response::new(Body::from(bytes));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if format != Format::Html {
        let disposition = format!(
            "attachment; filename=\"{}-{}-{}.{extension}\"",
            report.name, report.first_day, report.last_day
        );
        headers.insert(
            header::CONTENT_DISPOSITION,
            HeaderValue::from_str(&disposition).map_err(ApiError::internal)?,
        );
    }
    headers.insert("x-as-of-seq", HeaderValue::from(report.as_of_seq));
    Ok(response)
}
