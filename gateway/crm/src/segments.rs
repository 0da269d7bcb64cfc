//! Marketing segments over the operator API: list, show, set (journaled:
//! `SetSegment`, kept by the read model) and the live members.
//!
//! Membership is worked out when asked, by the read model alone
//! (`readmodel::campaigns::members`): one query per rule (aggregates over
//! the movements for the behavioural rules, indexed ranges over the plain
//! `country` and `birth_year` columns for the profile rules) and a pass
//! over the player ids, so any segment scales to a million players
//! without opening a sealed profile. First the PAM module's directory
//! fills the attributes of the profiles registered or changed since the
//! last evaluation (`PlayerDirectory::fill_attributes`), so an answer is
//! never older than the profiles it reads.

use std::collections::{HashMap, HashSet};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use edge::body::{JsonBody, decode};
use edge::change::{ok, refusal, request_id};
use edge::error::{ApiError, ErrorBody};
use edge::openapi::{BodyErrors, LedgerErrors, RoleErrors};
use edge::reads::read;
use edge::wire::{self, Sign};
use edge::{AppState, Caller};
use engine::bonus::{self, RgFilter, SEGMENT_RULES_MAX, SEGMENT_WINDOW_DAYS_MAX, Segment, SegmentRule};
use engine::ledger::games::GameType;
use engine::{Amount, BonusCode, Command, Currency, Jurisdiction, Outcome, Title};
use readmodel::campaigns::{self, GamesOfType, SegmentView};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Deposits over a window.
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DepositsBody {
    /// The wallet's currency.
    pub currency: String,
    /// How far back, days (1–3660).
    pub window_days: u32,
    /// Smallest total ("0.00" by default).
    pub min_total: Option<String>,
    /// Largest total.
    pub max_total: Option<String>,
    /// Fewest deposits (default 0).
    #[serde(default)]
    pub min_count: u32,
}

/// GGR (stakes less prizes) over a window.
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GgrBody {
    /// The wallet's currency.
    pub currency: String,
    /// How far back, days (1–3660).
    pub window_days: u32,
    /// Smallest GGR (may be negative).
    pub min: Option<String>,
    /// Largest GGR.
    pub max: Option<String>,
}

/// A range of whole numbers.
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Range {
    /// Lowest (inclusive, default 0).
    #[serde(default)]
    pub min: u32,
    /// Highest (inclusive; none: no bound).
    pub max: Option<u32>,
}

/// Game types played over a window.
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GameTypesBody {
    /// `slot`, `table`, `live`, `crash`, `other` (any of them).
    pub types: Vec<String>,
    /// How far back, days (1–3660).
    pub window_days: u32,
}

/// VIP tiers.
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TiersBody {
    /// Tier codes (any of them).
    #[serde(default)]
    pub tiers: Vec<String>,
    /// Players without a tier match too.
    #[serde(default)]
    pub none_too: bool,
}

/// One rule: an object with exactly one of these keys.
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum RuleBody {
    /// Country of residence is one of these (ISO 3166-1 alpha-2).
    Country(Vec<String>),
    /// Age within the range, in whole years as turned this calendar year
    /// (UTC): the read model keeps only the birth year in clear.
    Age(Range),
    /// Deposits over a window.
    Deposits(DepositsBody),
    /// GGR over a window.
    Ggr(GgrBody),
    /// Days since the last money movement within the range.
    LastActivity(Range),
    /// Played a game of one of these types over a window.
    GameTypes(GameTypesBody),
    /// The VIP tier.
    VipTier(TiersBody),
    /// `never_restricted` or `previously_restricted` (never self-excluded
    /// nor timed out; or before, not now).
    RgStatus(String),
}

/// A segment as the API takes it.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SegmentBody {
    /// Display name (1–128 bytes).
    pub name: String,
    /// Rules every member keeps (AND).
    #[serde(default)]
    pub all: Vec<RuleBody>,
    /// Rules of which a member keeps at least one (OR), if any.
    #[serde(default)]
    pub any: Vec<RuleBody>,
}

/// A segment as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct SegmentReply {
    /// Its code.
    pub code: String,
    /// Display name.
    pub name: String,
    /// Rules every member keeps.
    pub all: Vec<RuleBody>,
    /// Rules of which a member keeps at least one.
    pub any: Vec<RuleBody>,
    /// The sequence number that set it last.
    pub seq: u64,
    /// When, ms since the epoch.
    pub set_ms: u64,
}

/// Every segment.
#[derive(Serialize, ToSchema)]
pub struct SegmentsReply {
    /// By code.
    pub segments: Vec<SegmentReply>,
    /// The sequence number this answer is current to.
    pub as_of_seq: u64,
}

/// A page of a segment's members.
#[derive(Serialize, ToSchema)]
pub struct MembersReply {
    /// How many members the segment has now.
    pub count: u64,
    /// Player ids, ascending, after `after`.
    pub members: Vec<u64>,
    /// The `after` of the next page (none: this was the last).
    pub next_after: Option<u64>,
}

/// Paging of members.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    /// Only players with a greater id (default 0).
    pub after: Option<u64>,
    /// Most ids on the page (1–1000, default 100).
    pub limit: Option<u32>,
}

impl PageQuery {
    /// The page `uri` asks for, checked: `(after, limit)`. Campaign
    /// targets page the same way.
    pub(crate) fn from_uri(uri: &Uri) -> Result<(u64, u32), ApiError> {
        let query = axum::extract::Query::<PageQuery>::try_from_uri(uri)
            .map(|q| q.0)
            .map_err(|_| ApiError::bad_request("invalid_request", "the query parameters are after and limit"))?;
        let limit = query.limit.unwrap_or(100);
        if !(1..=1000).contains(&limit) {
            return Err(ApiError::bad_request("invalid_request", "limit: 1 to 1000"));
        }
        Ok((query.after.unwrap_or(0), limit))
    }
}

fn invalid(field: &str, message: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request("invalid_segment", format!("{field}: {message}"))
}

fn window(days: u32, field: &str) -> Result<u32, ApiError> {
    if (1..=SEGMENT_WINDOW_DAYS_MAX).contains(&days) {
        Ok(days)
    } else {
        Err(invalid(field, format!("1 to {SEGMENT_WINDOW_DAYS_MAX} days")))
    }
}

fn signed(text: &str, currency: Currency, field: &str) -> Result<Amount, ApiError> {
    Amount::parse(text, currency).map_err(|e| invalid(field, format!("{e:?}")))
}

fn rule_of(body: &RuleBody, field: &str) -> Result<SegmentRule, ApiError> {
    let too_many = |n: usize| n == 0 || n > SEGMENT_RULES_MAX;
    Ok(match body {
        RuleBody::Country(countries) => {
            if too_many(countries.len()) {
                return Err(invalid(field, format!("1 to {SEGMENT_RULES_MAX} countries")));
            }
            let countries = countries
                .iter()
                .map(|c| Jurisdiction::new(c).map_err(|e| invalid(&format!("{field}.country"), e)))
                .collect::<Result<_, _>>()?;
            SegmentRule::Country { countries }
        }
        RuleBody::Age(range) => {
            let max = range.max.unwrap_or(150);
            if range.min > max || max > 150 {
                return Err(invalid(&format!("{field}.age"), "min at most max, both at most 150"));
            }
            SegmentRule::AgeBetween {
                min_years: range.min as u16,
                max_years: max as u16,
            }
        }
        RuleBody::Deposits(d) => {
            let currency = wire::currency(&d.currency)?;
            let money = |t: &Option<String>, f: &str| {
                t.as_deref()
                    .map(|t| wire::amount(t, currency, Sign::NonNegative, &format!("{field}.deposits.{f}")))
                    .transpose()
            };
            let min_total = money(&d.min_total, "min_total")?.unwrap_or(Amount::ZERO);
            let max_total = money(&d.max_total, "max_total")?;
            if max_total.is_some_and(|max| max < min_total) {
                return Err(invalid(&format!("{field}.deposits"), "max_total below min_total"));
            }
            SegmentRule::Deposits {
                currency,
                window_days: window(d.window_days, &format!("{field}.deposits.window_days"))?,
                min_total,
                max_total,
                min_count: d.min_count,
            }
        }
        RuleBody::Ggr(g) => {
            let currency = wire::currency(&g.currency)?;
            let min = g
                .min
                .as_deref()
                .map(|t| signed(t, currency, &format!("{field}.ggr.min")))
                .transpose()?;
            let max = g
                .max
                .as_deref()
                .map(|t| signed(t, currency, &format!("{field}.ggr.max")))
                .transpose()?;
            if let (Some(min), Some(max)) = (min, max)
                && max < min
            {
                return Err(invalid(&format!("{field}.ggr"), "max below min"));
            }
            SegmentRule::Ggr {
                currency,
                window_days: window(g.window_days, &format!("{field}.ggr.window_days"))?,
                min,
                max,
            }
        }
        RuleBody::LastActivity(range) => {
            if range.min > SEGMENT_WINDOW_DAYS_MAX || range.max.is_some_and(|max| max < range.min) {
                return Err(invalid(&format!("{field}.last_activity"), "min at most max and 3660"));
            }
            SegmentRule::LastActivity {
                min_days: range.min,
                max_days: range.max,
            }
        }
        RuleBody::GameTypes(g) => {
            let types = g
                .types
                .iter()
                .map(|t| {
                    GameType::from_name(t)
                        .ok_or_else(|| invalid(&format!("{field}.game_types"), "slot, table, live, crash or other"))
                })
                .collect::<Result<Vec<_>, _>>()?;
            if types.is_empty() || types.len() > GameType::ALL.len() {
                return Err(invalid(&format!("{field}.game_types"), "1 to 5 types"));
            }
            SegmentRule::GameTypes {
                types,
                window_days: window(g.window_days, &format!("{field}.game_types.window_days"))?,
            }
        }
        RuleBody::VipTier(t) => {
            if t.tiers.len() > SEGMENT_RULES_MAX || (t.tiers.is_empty() && !t.none_too) {
                return Err(invalid(&format!("{field}.vip_tier"), "1 to 32 tiers, or none_too"));
            }
            let tiers = t
                .tiers
                .iter()
                .map(|c| BonusCode::new(c).map_err(|e| invalid(&format!("{field}.vip_tier"), e)))
                .collect::<Result<_, _>>()?;
            SegmentRule::VipTier {
                tiers,
                none_too: t.none_too,
            }
        }
        RuleBody::RgStatus(status) => SegmentRule::RgStatus {
            status: match status.as_str() {
                "never_restricted" => RgFilter::NeverRestricted,
                "previously_restricted" => RgFilter::PreviouslyRestricted,
                _ => {
                    return Err(invalid(
                        &format!("{field}.rg_status"),
                        "never_restricted or previously_restricted",
                    ));
                }
            },
        },
    })
}

/// A segment from its code and body, every field checked.
pub fn to_segment(code: &str, body: &SegmentBody) -> Result<Segment, ApiError> {
    let code = BonusCode::new(code).map_err(|e| invalid("code", e))?;
    let name = Title::new(&body.name).map_err(|e| invalid("name", e))?;
    if body.all.len() + body.any.len() > SEGMENT_RULES_MAX {
        return Err(invalid("rules", format!("at most {SEGMENT_RULES_MAX} in all")));
    }
    let rules = |rules: &[RuleBody], group: &str| {
        rules
            .iter()
            .enumerate()
            .map(|(n, r)| rule_of(r, &format!("{group}[{n}]")))
            .collect::<Result<Vec<_>, _>>()
    };
    Ok(Segment {
        code,
        name,
        all: rules(&body.all, "all")?,
        any: rules(&body.any, "any")?,
    })
}

fn body_of(rule: &SegmentRule) -> RuleBody {
    let money = |a: Amount, c: Currency| wire::money(a, c);
    match rule {
        SegmentRule::Country { countries } => RuleBody::Country(countries.iter().map(ToString::to_string).collect()),
        SegmentRule::AgeBetween { min_years, max_years } => RuleBody::Age(Range {
            min: u32::from(*min_years),
            max: Some(u32::from(*max_years)),
        }),
        SegmentRule::Deposits {
            currency,
            window_days,
            min_total,
            max_total,
            min_count,
        } => RuleBody::Deposits(DepositsBody {
            currency: currency.code().to_owned(),
            window_days: *window_days,
            min_total: Some(money(*min_total, *currency)),
            max_total: max_total.map(|m| money(m, *currency)),
            min_count: *min_count,
        }),
        SegmentRule::Ggr {
            currency,
            window_days,
            min,
            max,
        } => RuleBody::Ggr(GgrBody {
            currency: currency.code().to_owned(),
            window_days: *window_days,
            min: min.map(|m| money(m, *currency)),
            max: max.map(|m| money(m, *currency)),
        }),
        SegmentRule::LastActivity { min_days, max_days } => RuleBody::LastActivity(Range {
            min: *min_days,
            max: *max_days,
        }),
        SegmentRule::GameTypes { types, window_days } => RuleBody::GameTypes(GameTypesBody {
            types: types.iter().map(|t| t.name().to_owned()).collect(),
            window_days: *window_days,
        }),
        SegmentRule::VipTier { tiers, none_too } => RuleBody::VipTier(TiersBody {
            tiers: tiers.iter().map(ToString::to_string).collect(),
            none_too: *none_too,
        }),
        SegmentRule::RgStatus { status } => RuleBody::RgStatus(
            match status {
                RgFilter::NeverRestricted => "never_restricted",
                RgFilter::PreviouslyRestricted => "previously_restricted",
            }
            .to_owned(),
        ),
    }
}

/// The API's form of a segment.
pub fn reply(view: &SegmentView) -> SegmentReply {
    let s = &view.segment;
    SegmentReply {
        code: s.code.to_string(),
        name: s.name.to_string(),
        all: s.all.iter().map(body_of).collect(),
        any: s.any.iter().map(body_of).collect(),
        seq: view.seq,
        set_ms: view.set_ms,
    }
}

pub(crate) fn unknown_segment() -> ApiError {
    ApiError::not_found("unknown_segment", "no segment has this code")
}

/// The catalogue's games of each type a segment names.
struct Games(HashMap<GameType, HashSet<(u32, String)>>);

impl GamesOfType for Games {
    fn games(&self, types: &[GameType]) -> HashSet<(u32, String)> {
        types.iter().filter_map(|t| self.0.get(t)).flatten().cloned().collect()
    }
}

fn games_of(state: &AppState, segment: &Segment) -> Games {
    let wanted: HashSet<GameType> = segment
        .all
        .iter()
        .chain(&segment.any)
        .filter_map(|r| match r {
            SegmentRule::GameTypes { types, .. } => Some(types.iter().copied()),
            _ => None,
        })
        .flatten()
        .collect();
    let mut games: HashMap<GameType, HashSet<(u32, String)>> = HashMap::new();
    if !wanted.is_empty() {
        for game in state.view.read().games.games() {
            if wanted.contains(&game.kind) {
                games
                    .entry(game.kind)
                    .or_default()
                    .insert((game.aggregator.0, game.code.to_string()));
            }
        }
    }
    Games(games)
}

/// The members of `segment` now (of `only`, if given), ascending.
pub async fn members(state: &AppState, segment: &Segment, only: Option<u64>) -> Result<Vec<u64>, ApiError> {
    let profile_rules = segment
        .all
        .iter()
        .chain(&segment.any)
        .any(|r| matches!(r, SegmentRule::Country { .. } | SegmentRule::AgeBetween { .. }));
    if profile_rules && let Some(directory) = state.directory() {
        directory.fill_attributes(state).await?;
    }
    let games = games_of(state, segment);
    let now_ms = state.now_ms();
    let owned = segment.clone();
    let (members, _) = read(state, move |c| campaigns::members(c, &owned, now_ms, only, &games)).await?;
    Ok(members)
}

/// Every segment, by code (every role).
#[utoipa::path(get, path = "/operator/v1/segments", tag = "crm", security(("bearer" = [])),
    responses((status = 200, body = SegmentsReply), RoleErrors))]
pub async fn list(State(state): State<AppState>) -> Result<Response, ApiError> {
    let (found, as_of_seq) = read(&state, campaigns::segments).await?;
    let segments = found.iter().map(reply).collect();
    ok(StatusCode::OK, &SegmentsReply { segments, as_of_seq })
}

/// One segment (every role).
#[utoipa::path(get, path = "/operator/v1/segments/{code}", tag = "crm",
    params(("code" = String, Path, description = "the segment's code")), security(("bearer" = [])),
    responses((status = 200, body = SegmentReply), RoleErrors,
        (status = 404, body = ErrorBody, description = "unknown_segment")))]
pub async fn show(State(state): State<AppState>, Path(code): Path<String>) -> Result<Response, ApiError> {
    let (found, _) = read(&state, move |c| campaigns::segment(c, &code)).await?;
    found.map_or_else(|| Err(unknown_segment()), |view| ok(StatusCode::OK, &reply(&view)))
}

/// Creates a segment, or replaces the one of this code (admins,
/// marketing). Journaled; the read model keeps it.
#[utoipa::path(put, path = "/operator/v1/segments/{code}", tag = "crm", request_body = SegmentBody,
    params(("code" = String, Path, description = "the segment's code (1–64 printable ASCII)"), edge::change::IdempotencyKey),
    security(("bearer" = [])),
    responses((status = 200, body = SegmentReply), BodyErrors, RoleErrors, LedgerErrors,
        (status = 400, body = ErrorBody, description = "invalid_segment (the field is named), unknown_currency, invalid_amount, too_many_decimals")))]
pub async fn put(
    State(state): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let request: SegmentBody = decode(&body)?;
    let segment = to_segment(&code, &request)?;
    let command = Command::Bonus(bonus::Command::SetSegment {
        segment: Box::new(segment),
        operator: caller.id,
    });
    match caller.submit(&state, request_id(&headers)?, command).await? {
        Outcome::Accepted => {}
        other => return Err(refusal(&other, Currency::EUR)),
    }
    let (found, _) = read(&state, move |c| campaigns::segment(c, &code)).await?;
    found.map_or_else(|| Err(unknown_segment()), |view| ok(StatusCode::OK, &reply(&view)))
}

/// A segment's members now, by player id, a page at a time, with their
/// count (every role).
#[utoipa::path(get, path = "/operator/v1/segments/{code}/members", tag = "crm",
    params(("code" = String, Path, description = "the segment's code"), PageQuery), security(("bearer" = [])),
    responses((status = 200, body = MembersReply), RoleErrors,
        (status = 400, body = ErrorBody, description = "invalid_request (a bad query parameter)"),
        (status = 404, body = ErrorBody, description = "unknown_segment")))]
pub async fn list_members(
    State(state): State<AppState>,
    Path(code): Path<String>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let (after, limit) = PageQuery::from_uri(&uri)?;
    let (found, _) = read(&state, move |c| campaigns::segment(c, &code)).await?;
    let view = found.ok_or_else(unknown_segment)?;
    let all = members(&state, &view.segment, None).await?;
    let page: Vec<u64> = all
        .iter()
        .copied()
        .filter(|&p| p > after)
        .take(limit as usize + 1)
        .collect();
    let next_after = (page.len() > limit as usize).then(|| page[limit as usize - 1]);
    let members = page.into_iter().take(limit as usize).collect();
    ok(
        StatusCode::OK,
        &MembersReply {
            count: all.len() as u64,
            members,
            next_after,
        },
    )
}
