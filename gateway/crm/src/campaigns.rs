//! Campaigns over the operator API: list, show, set (journaled:
//! `SetCampaign`, kept by the read model), a campaign's targets, and its
//! measured uplift (deposits and GGR per player of the targets against
//! the control group, since each player was targeted). The worker that
//! launches and delivers them is [`crate::outreach`].

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use edge::body::{JsonBody, decode};
use edge::change::{ok, refusal, request_id};
use edge::error::{ApiError, ErrorBody};
use edge::openapi::{BodyErrors, LedgerErrors, RoleErrors};
use edge::reads::read;
use edge::wire;
use edge::{AppState, Caller};
use engine::bonus::{self, CONTROL_PCT_MAX, Campaign, CampaignStart, Channel, TemplateKind};
use engine::{BonusCode, Command, Currency, Outcome, Title};
use readmodel::bonuses;
use readmodel::campaigns::{self, Arm, CampaignView};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::notify::Providers;

/// A campaign as the API takes it.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CampaignBody {
    /// Display name (1–128 bytes).
    pub name: String,
    /// The segment's code.
    pub segment: String,
    /// The bonus template granted to each target (a `no_deposit`
    /// template; none: a message only).
    pub offer: Option<String>,
    /// `email`, `sms`, `push` (each needs its provider configured) or
    /// `none` (the offer alone: a scheduled or triggered bonus).
    pub channel: String,
    /// The message (1–128 bytes).
    pub message: String,
    /// When a scheduled campaign targets its segment, ms since the epoch
    /// (exactly one of this and `trigger`).
    pub start_at_ms: Option<u64>,
    /// `deposit` or `registration`: target each member who deposits or
    /// registers.
    pub trigger: Option<String>,
    /// The control group, percent of the segment (0–90, default 0).
    #[serde(default)]
    pub control_pct: u8,
    /// Whether it runs (default true).
    pub enabled: Option<bool>,
}

/// A campaign as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct CampaignReply {
    /// Its code.
    pub code: String,
    /// Display name.
    pub name: String,
    /// The segment's code.
    pub segment: String,
    /// The bonus template granted.
    pub offer: Option<String>,
    /// The channel.
    pub channel: String,
    /// The message.
    pub message: String,
    /// When a scheduled campaign starts.
    pub start_at_ms: Option<u64>,
    /// What triggers it.
    pub trigger: Option<String>,
    /// The control group, percent.
    pub control_pct: u8,
    /// Whether it runs.
    pub enabled: bool,
    /// Players targeted (control group excluded).
    pub targets: u64,
    /// Players in the control group.
    pub controls: u64,
    /// Players skipped (suppressed: RG, consent, risk; or not members
    /// when a trigger fired).
    pub skipped: u64,
    /// Messages delivered (offers granted, for channel none).
    pub delivered: u64,
    /// Sends given up.
    pub failed: u64,
    /// The sequence number of a scheduled campaign's launch, once done.
    pub launched_seq: Option<u64>,
    /// The sequence number that set it last.
    pub seq: u64,
    /// When, ms since the epoch.
    pub set_ms: u64,
}

/// Every campaign.
#[derive(Serialize, ToSchema)]
pub struct CampaignsReply {
    /// By code.
    pub campaigns: Vec<CampaignReply>,
    /// The sequence number this answer is current to.
    pub as_of_seq: u64,
}

/// A campaign's target.
#[derive(Serialize, ToSchema)]
pub struct TargetReply {
    /// The player.
    pub player: u64,
    /// `control`, `skipped`, `pending`, `delivered` or `failed`.
    pub state: String,
    /// When targeted, ms since the epoch.
    pub time_ms: u64,
}

/// A page of a campaign's targets.
#[derive(Serialize, ToSchema)]
pub struct TargetsReply {
    /// By player id.
    pub targets: Vec<TargetReply>,
    /// The `after` of the next page (none: this was the last).
    pub next_after: Option<u64>,
}

/// One arm of the uplift.
#[derive(Serialize, ToSchema)]
pub struct ArmReply {
    /// Players.
    pub players: u64,
    /// Deposits since each was targeted.
    pub deposits: String,
    /// GGR (stakes less prizes) since then.
    pub ggr: String,
    /// Deposits per player (rounded down to the minor unit).
    pub deposits_per_player: String,
    /// GGR per player (rounded toward zero to the minor unit).
    pub ggr_per_player: String,
}

/// A campaign's measured uplift.
#[derive(Serialize, ToSchema)]
pub struct UpliftReply {
    /// The campaign's code.
    pub campaign: String,
    /// The currency of the figures.
    pub currency: String,
    /// The targets.
    pub targets: ArmReply,
    /// The control group.
    pub control: ArmReply,
    /// Targets' deposits per player less the control group's (none
    /// without players on both sides).
    pub deposits_uplift_per_player: Option<String>,
    /// Targets' GGR per player less the control group's.
    pub ggr_uplift_per_player: Option<String>,
}

/// Uplift's query.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct UpliftQuery {
    /// The currency (default: the offer's).
    pub currency: Option<String>,
}

fn invalid(field: &str, message: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request("invalid_campaign", format!("{field}: {message}"))
}

/// A campaign from its code and body, every field checked (the segment
/// and the offer must exist, the channel's provider be configured).
pub async fn to_campaign(state: &AppState, code: &str, body: &CampaignBody) -> Result<Campaign, ApiError> {
    let code = BonusCode::new(code).map_err(|e| invalid("code", e))?;
    let name = Title::new(&body.name).map_err(|e| invalid("name", e))?;
    let message = Title::new(&body.message).map_err(|e| invalid("message", e))?;
    let segment = BonusCode::new(&body.segment).map_err(|e| invalid("segment", e))?;
    let channel = match body.channel.as_str() {
        "none" => Channel::None,
        "email" => Channel::Email,
        "sms" => Channel::Sms,
        "push" => Channel::Push,
        _ => return Err(invalid("channel", "email, sms, push or none")),
    };
    if channel != Channel::None && state.modules.get::<Providers>().and_then(|p| p.of(channel)).is_none() {
        return Err(ApiError::bad_request(
            "channel_unavailable",
            format!("no {} provider is configured", channel.name()),
        ));
    }
    let start = match (body.start_at_ms, body.trigger.as_deref()) {
        (Some(at_ms), None) => CampaignStart::At { at_ms },
        (None, Some("deposit")) => CampaignStart::OnDeposit,
        (None, Some("registration")) => CampaignStart::OnRegistration,
        (None, Some(_)) => return Err(invalid("trigger", "deposit or registration")),
        _ => return Err(invalid("start_at_ms", "exactly one of start_at_ms and trigger")),
    };
    if body.control_pct > CONTROL_PCT_MAX {
        return Err(invalid("control_pct", format!("0 to {CONTROL_PCT_MAX}")));
    }
    let offer = body
        .offer
        .as_deref()
        .map(|o| BonusCode::new(o).map_err(|e| invalid("offer", e)))
        .transpose()?;
    if offer.is_none() && channel == Channel::None {
        return Err(invalid("offer", "required when the channel is none"));
    }
    let wanted = segment.to_string();
    let (found, _) = read(state, move |c| campaigns::segment(c, &wanted)).await?;
    if found.is_none() {
        return Err(crate::segments::unknown_segment());
    }
    if let Some(offer) = &offer {
        let wanted = offer.to_string();
        let (template, _) = read(state, move |c| bonuses::by_code(c, &wanted)).await?;
        let template = template.ok_or_else(crate::templates::unknown_template)?;
        if !matches!(template.template.kind, TemplateKind::NoDeposit { .. }) {
            return Err(invalid(
                "offer",
                "a no_deposit template (the others need a deposit, losses or winnings)",
            ));
        }
    }
    Ok(Campaign {
        code,
        name,
        segment,
        offer,
        channel,
        message,
        start,
        control_pct: body.control_pct,
        enabled: body.enabled.unwrap_or(true),
    })
}

/// The API's form of a campaign.
pub fn reply(view: &CampaignView) -> CampaignReply {
    let c = &view.campaign;
    let (start_at_ms, trigger) = match c.start {
        CampaignStart::At { at_ms } => (Some(at_ms), None),
        CampaignStart::OnDeposit => (None, Some("deposit".to_owned())),
        CampaignStart::OnRegistration => (None, Some("registration".to_owned())),
    };
    CampaignReply {
        code: c.code.to_string(),
        name: c.name.to_string(),
        segment: c.segment.to_string(),
        offer: c.offer.as_ref().map(ToString::to_string),
        channel: c.channel.name().to_owned(),
        message: c.message.to_string(),
        start_at_ms,
        trigger,
        control_pct: c.control_pct,
        enabled: c.enabled,
        targets: view.targets,
        controls: view.controls,
        skipped: view.skipped,
        delivered: view.delivered,
        failed: view.failed,
        launched_seq: view.launched_seq,
        seq: view.seq,
        set_ms: view.set_ms,
    }
}

fn unknown_campaign() -> ApiError {
    ApiError::not_found("unknown_campaign", "no campaign has this code")
}

/// Every campaign, by code (every role).
#[utoipa::path(get, path = "/operator/v1/campaigns", tag = "crm", security(("bearer" = [])),
    responses((status = 200, body = CampaignsReply), RoleErrors))]
pub async fn list(State(state): State<AppState>) -> Result<Response, ApiError> {
    let (found, as_of_seq) = read(&state, campaigns::campaigns).await?;
    let campaigns = found.iter().map(reply).collect();
    ok(StatusCode::OK, &CampaignsReply { campaigns, as_of_seq })
}

/// One campaign with its counts (every role).
#[utoipa::path(get, path = "/operator/v1/campaigns/{code}", tag = "crm",
    params(("code" = String, Path, description = "the campaign's code")), security(("bearer" = [])),
    responses((status = 200, body = CampaignReply), RoleErrors,
        (status = 404, body = ErrorBody, description = "unknown_campaign")))]
pub async fn show(State(state): State<AppState>, Path(code): Path<String>) -> Result<Response, ApiError> {
    let (found, _) = read(&state, move |c| campaigns::campaign(c, &code)).await?;
    found.map_or_else(|| Err(unknown_campaign()), |view| ok(StatusCode::OK, &reply(&view)))
}

/// Creates a campaign, or replaces the one of this code (admins,
/// marketing). Journaled; the read model keeps it. A scheduled campaign
/// launches once, at its start; the players it targeted stay targeted.
#[utoipa::path(put, path = "/operator/v1/campaigns/{code}", tag = "crm", request_body = CampaignBody,
    params(("code" = String, Path, description = "the campaign's code (1–64 printable ASCII)"), edge::change::IdempotencyKey),
    security(("bearer" = [])),
    responses((status = 200, body = CampaignReply), BodyErrors, RoleErrors, LedgerErrors,
        (status = 400, body = ErrorBody, description = "invalid_campaign (the field is named), channel_unavailable"),
        (status = 404, body = ErrorBody, description = "unknown_segment, unknown_template")))]
pub async fn put(
    State(state): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let request: CampaignBody = decode(&body)?;
    let campaign = to_campaign(&state, &code, &request).await?;
    let command = Command::Bonus(bonus::Command::SetCampaign {
        campaign: Box::new(campaign),
        operator: caller.id,
    });
    match caller.submit(&state, request_id(&headers)?, command).await? {
        Outcome::Accepted => {}
        other => return Err(refusal(&other, Currency::EUR)),
    }
    let (found, _) = read(&state, move |c| campaigns::campaign(c, &code)).await?;
    found.map_or_else(|| Err(unknown_campaign()), |view| ok(StatusCode::OK, &reply(&view)))
}

/// A campaign's targets (the control group and the skipped included), by
/// player id, a page at a time (every role).
#[utoipa::path(get, path = "/operator/v1/campaigns/{code}/targets", tag = "crm",
    params(("code" = String, Path, description = "the campaign's code"), crate::segments::PageQuery), security(("bearer" = [])),
    responses((status = 200, body = TargetsReply), RoleErrors,
        (status = 400, body = ErrorBody, description = "invalid_request (a bad query parameter)"),
        (status = 404, body = ErrorBody, description = "unknown_campaign")))]
pub async fn targets(State(state): State<AppState>, Path(code): Path<String>, uri: Uri) -> Result<Response, ApiError> {
    let (after, limit) = crate::segments::PageQuery::from_uri(&uri)?;
    let (found, _) = read(&state, move |c| {
        let Some(_) = campaigns::campaign(c, &code)? else {
            return Ok(None);
        };
        campaigns::targets(c, &code, after, limit + 1).map(Some)
    })
    .await?;
    let mut rows = found.ok_or_else(unknown_campaign)?;
    let next_after = (rows.len() > limit as usize).then(|| rows[limit as usize - 1].player);
    rows.truncate(limit as usize);
    let targets = rows
        .into_iter()
        .map(|t| TargetReply {
            player: t.player,
            state: t.state,
            time_ms: t.time_ms,
        })
        .collect();
    ok(StatusCode::OK, &TargetsReply { targets, next_after })
}

fn arm_reply(arm: &Arm, currency: Currency) -> (ArmReply, Option<(i64, i64)>) {
    let per = (arm.players > 0).then(|| {
        let n = arm.players as i64;
        (arm.deposits_minor / n, arm.ggr_minor / n)
    });
    let money = |minor: i64| wire::money(engine::Amount::from_minor(minor), currency);
    let (deposits_pp, ggr_pp) = per.unwrap_or((0, 0));
    let reply = ArmReply {
        players: arm.players,
        deposits: money(arm.deposits_minor),
        ggr: money(arm.ggr_minor),
        deposits_per_player: money(deposits_pp),
        ggr_per_player: money(ggr_pp),
    };
    (reply, per)
}

/// A campaign's measured uplift: deposits and GGR per player of the
/// targets against the control group, each player counted from when it
/// was targeted (every role).
#[utoipa::path(get, path = "/operator/v1/campaigns/{code}/uplift", tag = "crm",
    params(("code" = String, Path, description = "the campaign's code"), UpliftQuery), security(("bearer" = [])),
    responses((status = 200, body = UpliftReply), RoleErrors,
        (status = 400, body = ErrorBody, description = "invalid_request (a bad query parameter, or no currency for a campaign without an offer), unknown_currency"),
        (status = 404, body = ErrorBody, description = "unknown_campaign")))]
pub async fn uplift(State(state): State<AppState>, Path(code): Path<String>, uri: Uri) -> Result<Response, ApiError> {
    let query = axum::extract::Query::<UpliftQuery>::try_from_uri(&uri)
        .map(|q| q.0)
        .map_err(|_| ApiError::bad_request("invalid_request", "the query parameter is currency"))?;
    let given = query.currency.as_deref().map(wire::currency).transpose()?;
    let wanted = code.clone();
    let (found, _) = read(&state, move |c| campaigns::campaign(c, &wanted)).await?;
    let view = found.ok_or_else(unknown_campaign)?;
    let currency = match (given, &view.campaign.offer) {
        (Some(currency), _) => currency,
        (None, Some(offer)) => {
            let offer = offer.to_string();
            let (template, _) = read(&state, move |c| bonuses::by_code(c, &offer)).await?;
            template.map(|t| t.template.currency).ok_or_else(|| {
                ApiError::bad_request("invalid_request", "the offer's template is gone: give the currency")
            })?
        }
        (None, None) => {
            return Err(ApiError::bad_request(
                "invalid_request",
                "currency: required for a campaign without an offer",
            ));
        }
    };
    let (arms, _) = read(&state, move |c| campaigns::uplift(c, &code, currency)).await?;
    let (targets, target_pp) = arm_reply(&arms.0, currency);
    let (control, control_pp) = arm_reply(&arms.1, currency);
    let money = |minor: i64| wire::money(engine::Amount::from_minor(minor), currency);
    let diff = target_pp.zip(control_pp);
    ok(
        StatusCode::OK,
        &UpliftReply {
            campaign: view.campaign.code.to_string(),
            currency: currency.code().to_owned(),
            targets,
            control,
            deposits_uplift_per_player: diff.map(|(t, c)| money(t.0 - c.0)),
            ggr_uplift_per_player: diff.map(|(t, c)| money(t.1 - c.1)),
        },
    )
}
