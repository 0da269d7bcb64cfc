//! Affiliates and commission plans over the operator API: list, show and
//! set (create or replace by code), and the players an affiliate referred.
//!
//! Setting either is a ledger command ([`engine::marketing::Command`]) the
//! ledger checks and the read model keeps (`readmodel::marketing`). A
//! tracking code names one affiliate: a code another affiliate already
//! has is refused here (409 `tracking_code_taken`). The commission an
//! affiliate earns is a report (`croupier-reports`, `affiliate-commission`).

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use edge::body::{JsonBody, decode};
use edge::change::{ok, refusal, request_id};
use edge::error::{ApiError, ErrorBody};
use edge::openapi::{BodyErrors, LedgerErrors, RoleErrors};
use edge::reads::read;
use edge::wire::{self, Sign};
use edge::{AppState, Caller};
use engine::marketing::{self, Affiliate, AffiliateStatus, BP_ONE, CommissionPlan, TRACKING_CODES_MAX};
use engine::{Amount, BonusCode, Command, Currency, Outcome, Title};
use readmodel::marketing::{self as view, Defined};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// An affiliate account as the API takes it.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AffiliateBody {
    /// Display name (1–128 bytes).
    pub name: String,
    /// Who to contact (1–128 bytes).
    pub contact: String,
    /// `active` (the default) or `disabled`.
    pub status: Option<String>,
    /// The codes its links carry (0–64, each 1–64 printable ASCII, each
    /// naming no other affiliate).
    #[serde(default)]
    pub tracking_codes: Vec<String>,
    /// Its commission plan's code (must exist).
    pub plan: Option<String>,
}

/// An affiliate account as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AffiliateReply {
    /// Its code.
    pub code: String,
    /// Display name.
    pub name: String,
    /// Contact.
    pub contact: String,
    /// `active` or `disabled`.
    pub status: String,
    /// Its tracking codes.
    pub tracking_codes: Vec<String>,
    /// Its plan's code.
    pub plan: Option<String>,
    /// The sequence number that set it last.
    pub seq: u64,
    /// When, ms since the epoch.
    pub set_ms: u64,
}

/// Every affiliate.
#[derive(Serialize, ToSchema)]
pub struct AffiliatesReply {
    /// By code.
    pub affiliates: Vec<AffiliateReply>,
    /// The sequence number this answer is current to.
    pub as_of_seq: u64,
}

/// The players an affiliate referred.
#[derive(Serialize, ToSchema)]
pub struct ReferredReply {
    /// The affiliate's code.
    pub affiliate: String,
    /// Player ids, ascending.
    pub players: Vec<u64>,
    /// The sequence number this answer is current to.
    pub as_of_seq: u64,
}

/// A commission plan as the API takes it. Shares and fees are basis
/// points (2500 = 25 %).
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanBody {
    /// Display name (1–128 bytes).
    pub name: String,
    /// The currency of its amounts; only referred players' activity in it
    /// counts.
    pub currency: String,
    /// Revenue share of NGR, basis points (0–10000; default 0).
    #[serde(default)]
    pub revenue_share_bp: u16,
    /// Admin fee deducted from positive GGR, basis points (0–10000;
    /// default 0).
    #[serde(default)]
    pub admin_fee_bp: u16,
    /// Whether a negative month's NGR is carried into the next months.
    #[serde(default)]
    pub negative_carry_over: bool,
    /// CPA paid per referred player whose first deposit qualifies
    /// (default 0: none).
    pub cpa_amount: Option<String>,
    /// The smallest qualifying first deposit (default 0).
    pub cpa_threshold: Option<String>,
}

/// A commission plan as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlanReply {
    /// Its code.
    pub code: String,
    /// Display name.
    pub name: String,
    /// Its currency.
    pub currency: String,
    /// Revenue share, basis points.
    pub revenue_share_bp: u16,
    /// Admin fee, basis points.
    pub admin_fee_bp: u16,
    /// Negative carry-over.
    pub negative_carry_over: bool,
    /// CPA per qualifying first deposit.
    pub cpa_amount: String,
    /// The smallest qualifying first deposit.
    pub cpa_threshold: String,
    /// The sequence number that set it last.
    pub seq: u64,
    /// When, ms since the epoch.
    pub set_ms: u64,
}

/// Every commission plan.
#[derive(Serialize, ToSchema)]
pub struct PlansReply {
    /// By code.
    pub plans: Vec<PlanReply>,
    /// The sequence number this answer is current to.
    pub as_of_seq: u64,
}

fn invalid(code: &'static str, field: &str, message: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request(code, format!("{field}: {message}"))
}

/// A code from the path or a body (1–64 printable ASCII).
pub(crate) fn code(text: &str, error: &'static str, field: &str) -> Result<BonusCode, ApiError> {
    BonusCode::new(text).map_err(|e| invalid(error, field, e))
}

fn title(text: &str, error: &'static str, field: &str) -> Result<Title, ApiError> {
    Title::new(text).map_err(|e| invalid(error, field, e))
}

/// An affiliate from its code and body, every field checked.
pub fn to_affiliate(code_text: &str, body: &AffiliateBody) -> Result<Affiliate, ApiError> {
    const E: &str = "invalid_affiliate";
    let status = match body.status.as_deref() {
        None | Some("active") => AffiliateStatus::Active,
        Some("disabled") => AffiliateStatus::Disabled,
        Some(_) => return Err(invalid(E, "status", "active or disabled")),
    };
    if body.tracking_codes.len() > TRACKING_CODES_MAX {
        return Err(invalid(E, "tracking_codes", format!("at most {TRACKING_CODES_MAX}")));
    }
    let mut tracking_codes = Vec::with_capacity(body.tracking_codes.len());
    for (n, text) in body.tracking_codes.iter().enumerate() {
        let tracking = code(text, E, &format!("tracking_codes[{n}]"))?;
        if tracking_codes.contains(&tracking) {
            return Err(invalid(E, &format!("tracking_codes[{n}]"), "listed twice"));
        }
        tracking_codes.push(tracking);
    }
    Ok(Affiliate {
        code: code(code_text, E, "code")?,
        name: title(&body.name, E, "name")?,
        contact: title(&body.contact, E, "contact")?,
        status,
        tracking_codes,
        plan: body.plan.as_deref().map(|p| code(p, E, "plan")).transpose()?,
    })
}

/// A plan from its code and body, every field checked.
pub fn to_plan(code_text: &str, body: &PlanBody) -> Result<CommissionPlan, ApiError> {
    const E: &str = "invalid_plan";
    let currency = wire::currency(&body.currency)?;
    let money = |text: &Option<String>, field: &str| -> Result<Amount, ApiError> {
        text.as_deref()
            .map(|t| wire::amount(t, currency, Sign::NonNegative, field))
            .transpose()
            .map(|a| a.unwrap_or(Amount::ZERO))
    };
    for (value, field) in [
        (body.revenue_share_bp, "revenue_share_bp"),
        (body.admin_fee_bp, "admin_fee_bp"),
    ] {
        if value > BP_ONE {
            return Err(invalid(E, field, format!("0 to {BP_ONE} basis points")));
        }
    }
    Ok(CommissionPlan {
        code: code(code_text, E, "code")?,
        name: title(&body.name, E, "name")?,
        currency,
        revenue_share_bp: body.revenue_share_bp,
        admin_fee_bp: body.admin_fee_bp,
        negative_carry_over: body.negative_carry_over,
        cpa_amount: money(&body.cpa_amount, "cpa_amount")?,
        cpa_threshold: money(&body.cpa_threshold, "cpa_threshold")?,
    })
}

/// The API's form of an affiliate.
pub fn affiliate_reply(defined: &Defined<Affiliate>) -> AffiliateReply {
    let a = &defined.value;
    AffiliateReply {
        code: a.code.to_string(),
        name: a.name.to_string(),
        contact: a.contact.to_string(),
        status: a.status.name().to_owned(),
        tracking_codes: a.tracking_codes.iter().map(ToString::to_string).collect(),
        plan: a.plan.as_ref().map(ToString::to_string),
        seq: defined.seq,
        set_ms: defined.set_ms,
    }
}

/// The API's form of a plan.
pub fn plan_reply(defined: &Defined<CommissionPlan>) -> PlanReply {
    let p = &defined.value;
    PlanReply {
        code: p.code.to_string(),
        name: p.name.to_string(),
        currency: p.currency.code().to_owned(),
        revenue_share_bp: p.revenue_share_bp,
        admin_fee_bp: p.admin_fee_bp,
        negative_carry_over: p.negative_carry_over,
        cpa_amount: wire::money(p.cpa_amount, p.currency),
        cpa_threshold: wire::money(p.cpa_threshold, p.currency),
        seq: defined.seq,
        set_ms: defined.set_ms,
    }
}

fn unknown_affiliate() -> ApiError {
    ApiError::not_found("unknown_affiliate", "no affiliate has this code")
}

fn unknown_plan() -> ApiError {
    ApiError::not_found("unknown_plan", "no commission plan has this code")
}

/// Submits a marketing definition; `Accepted` or its refusal.
pub(crate) async fn define(
    state: &AppState,
    caller: &Caller,
    headers: &HeaderMap,
    command: marketing::Command,
) -> Result<(), ApiError> {
    match caller
        .submit(state, request_id(headers)?, Command::Marketing(command))
        .await?
    {
        Outcome::Accepted => Ok(()),
        // The marketing refusals carry no amounts: any currency prints them.
        other => Err(refusal(&other, Currency::EUR)),
    }
}

/// Every affiliate, by code (admins, marketing, finance, read-only).
#[utoipa::path(get, path = "/operator/v1/affiliates", tag = "crm", security(("bearer" = [])),
    responses((status = 200, body = AffiliatesReply), RoleErrors))]
pub async fn list(State(state): State<AppState>) -> Result<Response, ApiError> {
    let (found, as_of_seq) = read(&state, view::affiliates).await?;
    let affiliates = found.iter().map(affiliate_reply).collect();
    ok(StatusCode::OK, &AffiliatesReply { affiliates, as_of_seq })
}

/// One affiliate (admins, marketing, finance, read-only).
#[utoipa::path(get, path = "/operator/v1/affiliates/{code}", tag = "crm",
    params(("code" = String, Path, description = "the affiliate's code")), security(("bearer" = [])),
    responses((status = 200, body = AffiliateReply), RoleErrors,
        (status = 404, body = ErrorBody, description = "unknown_affiliate")))]
pub async fn show(State(state): State<AppState>, Path(code): Path<String>) -> Result<Response, ApiError> {
    let (found, _) = read(&state, move |c| view::affiliate(c, &code)).await?;
    found.map_or_else(
        || Err(unknown_affiliate()),
        |a| ok(StatusCode::OK, &affiliate_reply(&a)),
    )
}

/// The players an affiliate referred (admins, marketing, finance,
/// read-only).
#[utoipa::path(get, path = "/operator/v1/affiliates/{code}/players", tag = "crm",
    params(("code" = String, Path, description = "the affiliate's code")), security(("bearer" = [])),
    responses((status = 200, body = ReferredReply), RoleErrors,
        (status = 404, body = ErrorBody, description = "unknown_affiliate")))]
pub async fn players(State(state): State<AppState>, Path(code): Path<String>) -> Result<Response, ApiError> {
    let (found, as_of_seq) = read(&state, move |c| {
        let Some(affiliate) = view::affiliate(c, &code)? else {
            return Ok(None);
        };
        Ok(Some((affiliate, view::affiliate_players(c, &code)?)))
    })
    .await?;
    let (affiliate, players) = found.ok_or_else(unknown_affiliate)?;
    ok(
        StatusCode::OK,
        &ReferredReply {
            affiliate: affiliate.value.code.to_string(),
            players: players.into_iter().map(|p| p.0).collect(),
            as_of_seq,
        },
    )
}

/// Creates an affiliate, or replaces the one of this code (admins,
/// marketing). Journaled; the read model keeps it. A disabled
/// affiliate's codes attribute no new player.
#[utoipa::path(put, path = "/operator/v1/affiliates/{code}", tag = "crm", request_body = AffiliateBody,
    params(("code" = String, Path, description = "the affiliate's code (1–64 printable ASCII)"), edge::change::IdempotencyKey),
    security(("bearer" = [])),
    responses((status = 200, body = AffiliateReply), BodyErrors, RoleErrors, LedgerErrors,
        (status = 400, body = ErrorBody, description = "invalid_affiliate (the field is named)"),
        (status = 404, body = ErrorBody, description = "unknown_plan: the plan named does not exist"),
        (status = 409, body = ErrorBody, description = "tracking_code_taken: another affiliate has one of these tracking codes; conflict (Idempotency-Key reused)")))]
pub async fn put(
    State(state): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let request: AffiliateBody = decode(&body)?;
    let affiliate = to_affiliate(&code, &request)?;
    let checking = affiliate.clone();
    let (problem, _) = read(&state, move |c| {
        if let Some(plan) = &checking.plan
            && view::plan(c, plan.as_str())?.is_none()
        {
            return Ok(Some(unknown_plan()));
        }
        for tracking in &checking.tracking_codes {
            if let Some(holder) = view::affiliate_by_tracking(c, tracking.as_str())?
                && holder.value.code != checking.code
            {
                return Ok(Some(ApiError::new(
                    StatusCode::CONFLICT,
                    "tracking_code_taken",
                    format!("affiliate {} has the tracking code {tracking}", holder.value.code),
                )));
            }
        }
        Ok(None)
    })
    .await?;
    if let Some(problem) = problem {
        return Err(problem);
    }
    let command = marketing::Command::SetAffiliate {
        affiliate: Box::new(affiliate),
        operator: caller.id,
    };
    define(&state, &caller, &headers, command).await?;
    let (found, _) = read(&state, move |c| view::affiliate(c, &code)).await?;
    found.map_or_else(
        || Err(unknown_affiliate()),
        |a| ok(StatusCode::OK, &affiliate_reply(&a)),
    )
}

/// Every commission plan, by code (admins, marketing, finance, read-only).
#[utoipa::path(get, path = "/operator/v1/affiliate-plans", tag = "crm", security(("bearer" = [])),
    responses((status = 200, body = PlansReply), RoleErrors))]
pub async fn list_plans(State(state): State<AppState>) -> Result<Response, ApiError> {
    let (found, as_of_seq) = read(&state, view::plans).await?;
    let plans = found.iter().map(plan_reply).collect();
    ok(StatusCode::OK, &PlansReply { plans, as_of_seq })
}

/// One commission plan (admins, marketing, finance, read-only).
#[utoipa::path(get, path = "/operator/v1/affiliate-plans/{code}", tag = "crm",
    params(("code" = String, Path, description = "the plan's code")), security(("bearer" = [])),
    responses((status = 200, body = PlanReply), RoleErrors,
        (status = 404, body = ErrorBody, description = "unknown_plan")))]
pub async fn show_plan(State(state): State<AppState>, Path(code): Path<String>) -> Result<Response, ApiError> {
    let (found, _) = read(&state, move |c| view::plan(c, &code)).await?;
    found.map_or_else(|| Err(unknown_plan()), |p| ok(StatusCode::OK, &plan_reply(&p)))
}

/// Creates a commission plan, or replaces the one of this code (admins,
/// marketing). Journaled; the read model keeps it. Reports apply a plan
/// as it stands when they are made.
#[utoipa::path(put, path = "/operator/v1/affiliate-plans/{code}", tag = "crm", request_body = PlanBody,
    params(("code" = String, Path, description = "the plan's code (1–64 printable ASCII)"), edge::change::IdempotencyKey),
    security(("bearer" = [])),
    responses((status = 200, body = PlanReply), BodyErrors, RoleErrors, LedgerErrors,
        (status = 400, body = ErrorBody, description = "invalid_plan (the field is named), unknown_currency, invalid_amount, too_many_decimals"),
        (status = 409, body = ErrorBody, description = "conflict (Idempotency-Key reused)")))]
pub async fn put_plan(
    State(state): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let request: PlanBody = decode(&body)?;
    let plan = to_plan(&code, &request)?;
    let command = marketing::Command::SetCommissionPlan {
        plan: Box::new(plan),
        operator: caller.id,
    };
    define(&state, &caller, &headers, command).await?;
    let (found, _) = read(&state, move |c| view::plan(c, &code)).await?;
    found.map_or_else(|| Err(unknown_plan()), |p| ok(StatusCode::OK, &plan_reply(&p)))
}
