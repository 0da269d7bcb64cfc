//! A player's bonuses over the operator API: the list in queue order, a
//! grant from a template or by its claim code, and forfeits.
//!
//! A grant works out the bonus from its template: a deposit match's share
//! of the deposit (up to its cap, for a deposit of at least its minimum), a
//! no-deposit bonus's amount, a cashback's share of the net losses given,
//! a free-spins template's free-round winnings given (credited as a bonus
//! under the template's rules), unless its games are carried by an
//! aggregator with a free-rounds call: then the grant awards the rounds
//! through it ([`crate::free_rounds`], 202) and their winnings are credited
//! when the aggregator reports them. The wagering requirement is the template's
//! multiple of that amount, capped by the player's jurisdiction profile
//! (`bonus_wagering_cap_x`: UK 10×). The ledger queues it behind an active
//! bonus.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use edge::body::{JsonBody, decode};
use edge::change::{ok, player, refusal, request_id};
use edge::error::{ApiError, ErrorBody};
use edge::openapi::{BodyErrors, LedgerErrors, RoleErrors};
use edge::reads::read;
use edge::wire::{self, Sign};
use edge::{AppState, Caller};
use engine::bonus::{self, BonusGrant, BonusList, BonusTemplate, TemplateKind};
use engine::{Amount, Command, Currency, Outcome, PlayerId, Query};
use readmodel::bonuses::{self, TemplateView};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::templates::{currency_of, unknown_player, unknown_template, wagering, wagering_cap_x};

const DAY_MS: u64 = 86_400_000;

/// What a grant is based on, where its template's kind needs it.
#[derive(Clone, Debug, Default)]
pub struct Basis {
    /// Deposit match: the deposit matched.
    pub deposit: Option<String>,
    /// Cashback: the player's net losses over the template's period.
    pub net_losses: Option<String>,
    /// Free spins: the winnings of the free rounds.
    pub winnings: Option<String>,
}

/// A grant from a template.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GrantBody {
    /// The template's code.
    pub template: String,
    /// Deposit match: the deposit matched ("50.00").
    pub deposit: Option<String>,
    /// Cashback: the player's net losses over the template's period.
    pub net_losses: Option<String>,
    /// Free spins: the winnings of the free rounds, credited as the bonus.
    pub winnings: Option<String>,
}

/// A claim by a template's claim code.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClaimBody {
    /// The claim code.
    pub code: String,
    /// Deposit match: the deposit matched ("50.00").
    pub deposit: Option<String>,
    /// Cashback: the player's net losses over the template's period.
    pub net_losses: Option<String>,
    /// Free spins: the winnings of the free rounds, credited as the bonus.
    pub winnings: Option<String>,
}

/// Which bonus to forfeit.
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ForfeitBody {
    /// The wallet's currency (default: the player's).
    pub currency: Option<String>,
    /// The bonus's serial (default: the active one).
    pub serial: Option<u32>,
}

/// Which wallet.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct WalletQuery {
    /// The wallet's currency (default: the player's).
    pub currency: Option<String>,
}

/// A bonus as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct BonusReply {
    /// Its serial in the wallet (grant order).
    pub serial: u32,
    /// 0: active; n: n-th in the queue.
    pub position: u32,
    /// `active` or `queued`.
    pub state: &'static str,
    /// Active: the bonus money left; queued: what it will grant.
    pub amount: String,
    /// Stake needed before conversion.
    pub wagering_required: String,
    /// Stake counted so far.
    pub wagered: String,
    /// Most cash a conversion yields (none: the whole bonus).
    pub conversion_cap: Option<String>,
    /// When it expires, ms since the epoch.
    pub expires_at_ms: u64,
    /// The largest stake while it is active.
    pub max_bet: Option<String>,
}

/// A wallet's bonuses.
#[derive(Debug, Serialize, ToSchema)]
pub struct BonusesReply {
    /// The player.
    pub player: u64,
    /// The wallet's currency.
    pub currency: String,
    /// The active one first, then the queue in order.
    pub bonuses: Vec<BonusReply>,
}

/// What a grant did.
#[derive(Debug, Serialize, ToSchema)]
pub struct GrantReply {
    /// The player.
    pub player: u64,
    /// The template granted.
    pub template: String,
    /// The bonus's serial in the wallet.
    pub serial: u32,
    /// 0: active now; n: n-th in the queue.
    pub position: u32,
    /// `active` or `queued`.
    pub state: &'static str,
    /// The wallet's currency.
    pub currency: String,
    /// The bonus granted.
    pub amount: String,
    /// The stake needed before conversion (the template's multiple, capped
    /// by the jurisdiction).
    pub wagering_required: String,
    /// When it expires, ms since the epoch.
    pub expires_at_ms: u64,
    /// The wallet's cash after the grant.
    pub cash: String,
    /// The wallet's bonus money after the grant.
    pub bonus: String,
    /// The ledger's sequence number of the grant.
    pub seq: u64,
}

/// What a forfeit left.
#[derive(Debug, Serialize, ToSchema)]
pub struct ForfeitReply {
    /// The player.
    pub player: u64,
    /// The wallet's currency.
    pub currency: String,
    /// Cash after it.
    pub cash: String,
    /// Bonus money after it (the next bonus's, if one became active).
    pub bonus: String,
    /// The ledger's sequence number of the forfeit.
    pub seq: u64,
}

fn state_name(position: u32) -> &'static str {
    if position == 0 { "active" } else { "queued" }
}

/// The API's form of a wallet's bonuses.
pub fn bonuses_reply(player: PlayerId, list: &BonusList) -> BonusesReply {
    let money = |amount| wire::money(amount, list.currency);
    BonusesReply {
        player: player.0,
        currency: list.currency.code().to_owned(),
        bonuses: list
            .bonuses
            .iter()
            .map(|b| BonusReply {
                serial: b.serial,
                position: b.position,
                state: state_name(b.position),
                amount: money(b.amount),
                wagering_required: money(b.wagering_required),
                wagered: money(b.wagered),
                conversion_cap: (b.conversion_cap != Amount::MAX).then(|| money(b.conversion_cap)),
                expires_at_ms: b.expires_at_ms,
                max_bet: b.max_bet.map(money),
            })
            .collect(),
    }
}

/// The wallet's currency: the one given, else the player's.
fn wallet_currency(state: &AppState, player: PlayerId, given: Option<&str>) -> Result<Currency, ApiError> {
    match given {
        Some(code) => wire::currency(code),
        None => state
            .view
            .read()
            .player(player)
            .map(|p| p.currency)
            .ok_or_else(unknown_player),
    }
}

/// A player's bonuses: the active one, then the queue in order. Read
/// through the ring, so it agrees with the next bet (every role).
#[utoipa::path(get, path = "/operator/v1/players/{player}/bonuses", tag = "crm",
    params(("player" = u64, Path), WalletQuery), security(("bearer" = [])),
    responses((status = 200, body = BonusesReply), RoleErrors, LedgerErrors,
        (status = 400, body = ErrorBody, description = "invalid_request (a bad query parameter), unknown_currency"),
        (status = 404, body = ErrorBody, description = "unknown_player"),
        (status = 422, body = ErrorBody, description = "currency_mismatch: no wallet in that currency")))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(player_id): Path<String>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let query = axum::extract::Query::<WalletQuery>::try_from_uri(&uri)
        .map(|q| q.0)
        .map_err(|_| ApiError::bad_request("invalid_request", "the query parameter is currency"))?;
    let player = player(&state, &player_id)?;
    let currency = wallet_currency(&state, player, query.currency.as_deref())?;
    let command = Command::Query(Query::Bonuses { player, currency });
    match caller
        .submit(&state, wire::ext_id("bonuses-read", "id")?, command)
        .await?
    {
        Outcome::Bonuses(list) => ok(StatusCode::OK, &bonuses_reply(player, &list)),
        other => Err(refusal(&other, currency)),
    }
}

/// Grants a bonus from a template (admins): active at once, or queued
/// behind the active one.
#[utoipa::path(post, path = "/operator/v1/players/{player}/bonuses", tag = "crm", request_body = GrantBody,
    params(("player" = u64, Path), edge::change::IdempotencyKey), security(("bearer" = [])),
    responses((status = 201, body = GrantReply), BodyErrors, RoleErrors, LedgerErrors,
        (status = 202, body = crate::free_rounds::FreeRoundsReply, description = "free spins on games an aggregator with a free-rounds call carries, without winnings: the rounds awarded through it"),
        (status = 400, body = ErrorBody, description = "invalid_request (a basis the template needs is missing), invalid_amount, too_many_decimals"),
        (status = 403, body = ErrorBody, description = "player_blocked"),
        (status = 404, body = ErrorBody, description = "unknown_player, unknown_template"),
        (status = 409, body = ErrorBody, description = "template_disabled, bonus_queue_full; conflict (Idempotency-Key reused)"),
        (status = 422, body = ErrorBody, description = "deposit_below_minimum, nothing_to_grant, mixed_product_banned (the template spans products and the player's jurisdiction bans that)")))]
pub async fn grant(
    State(state): State<AppState>,
    caller: Caller,
    Path(player_id): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let request: GrantBody = decode(&body)?;
    let player = player(&state, &player_id)?;
    let code = request.template.clone();
    let (found, _) = read(&state, move |c| bonuses::by_code(c, &code)).await?;
    let template = found.ok_or_else(unknown_template)?;
    let basis = Basis {
        deposit: request.deposit,
        net_losses: request.net_losses,
        winnings: request.winnings,
    };
    submit_grant(&state, &caller, &headers, player, &template, &basis).await
}

/// Grants the template a claim code names (admins, on the player's
/// behalf): as a grant from that template.
#[utoipa::path(post, path = "/operator/v1/players/{player}/bonuses/claim", tag = "crm", request_body = ClaimBody,
    params(("player" = u64, Path), edge::change::IdempotencyKey), security(("bearer" = [])),
    responses((status = 201, body = GrantReply), BodyErrors, RoleErrors, LedgerErrors,
        (status = 202, body = crate::free_rounds::FreeRoundsReply, description = "free spins awarded through the aggregator, as for a grant"),
        (status = 400, body = ErrorBody, description = "invalid_request (a basis the template needs is missing), invalid_amount"),
        (status = 404, body = ErrorBody, description = "unknown_player, unknown_bonus_code"),
        (status = 409, body = ErrorBody, description = "template_disabled, bonus_queue_full"),
        (status = 422, body = ErrorBody, description = "deposit_below_minimum, nothing_to_grant, mixed_product_banned")))]
pub async fn claim(
    State(state): State<AppState>,
    caller: Caller,
    Path(player_id): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let request: ClaimBody = decode(&body)?;
    let player = player(&state, &player_id)?;
    let code = request.code.clone();
    let (found, _) = read(&state, move |c| bonuses::by_claim_code(c, &code)).await?;
    let template =
        found.ok_or_else(|| ApiError::not_found("unknown_bonus_code", "no bonus template has this claim code"))?;
    let basis = Basis {
        deposit: request.deposit,
        net_losses: request.net_losses,
        winnings: request.winnings,
    };
    submit_grant(&state, &caller, &headers, player, &template, &basis).await
}

async fn submit_grant(
    state: &AppState,
    caller: &Caller,
    headers: &HeaderMap,
    player: PlayerId,
    view: &TemplateView,
    basis: &Basis,
) -> Result<Response, ApiError> {
    let template = &view.template;
    if !template.enabled {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "template_disabled",
            "the template is disabled",
        ));
    }
    let now_ms = state.now_ms();
    let cap_x = wagering_cap_x(state, player, now_ms).ok_or_else(unknown_player)?;
    crate::loyalty::check_mixed_product(state, player, template).await?;
    // Free spins on games an aggregator with a free-rounds call carries:
    // the aggregator grants the rounds; their winnings come later.
    if basis.winnings.is_none()
        && let Some(aggregator) = crate::free_rounds::carrier(state, template)
    {
        return crate::free_rounds::award(state, caller, headers, player, view, aggregator).await;
    }
    let grant = grant_of(template, player, basis, cap_x, now_ms)?;
    let (amount, wagering, expires_at_ms) = (grant.amount, grant.wagering, grant.expires_at_ms);
    let command = Command::Bonus(bonus::Command::GrantQueued {
        grant,
        max_bet: template.max_bet,
    });
    let currency = currency_of(view);
    let granted = match caller.submit(state, request_id(headers)?, command).await? {
        Outcome::BonusGranted(granted) => granted,
        other => return Err(refusal(&other, currency)),
    };
    let money = |amount| wire::money(amount, currency);
    let reply = GrantReply {
        player: player.0,
        template: template.code.to_string(),
        serial: granted.serial,
        position: granted.position,
        state: state_name(granted.position),
        currency: currency.code().to_owned(),
        amount: money(amount),
        wagering_required: money(wagering),
        expires_at_ms,
        cash: money(granted.receipt.balances.cash),
        bonus: money(granted.receipt.balances.bonus),
        seq: granted.receipt.seq,
    };
    ok(StatusCode::CREATED, &reply)
}

/// The ledger grant a template makes for `basis` at `now_ms`, its wagering
/// multiple capped at `cap_x` (the player's jurisdiction's).
pub fn grant_of(
    template: &BonusTemplate,
    player: PlayerId,
    basis: &Basis,
    cap_x: Option<u32>,
    now_ms: u64,
) -> Result<BonusGrant, ApiError> {
    let currency = template.currency;
    let given = |text: &Option<String>, field: &'static str| -> Result<Amount, ApiError> {
        let text = text.as_deref().ok_or_else(|| {
            ApiError::bad_request(
                "invalid_request",
                format!("{field}: required by a {} template", template.kind.name()),
            )
        })?;
        wire::amount(text, currency, Sign::NonNegative, field)
    };
    let share = |base: Amount, percent: u16| base.mul_div_floor(i64::from(percent), 100).unwrap_or(Amount::MAX);
    let amount = match &template.kind {
        TemplateKind::DepositMatch {
            percent,
            cap,
            min_deposit,
        } => {
            let deposit = given(&basis.deposit, "deposit")?;
            if deposit < *min_deposit || deposit == Amount::ZERO {
                return Err(ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "deposit_below_minimum",
                    format!(
                        "the template matches deposits of at least {}",
                        wire::money(*min_deposit, currency)
                    ),
                ));
            }
            share(deposit, *percent).min(*cap)
        }
        TemplateKind::NoDeposit { amount } => *amount,
        TemplateKind::Cashback { percent, .. } => share(given(&basis.net_losses, "net_losses")?, *percent),
        TemplateKind::FreeSpins { .. } => given(&basis.winnings, "winnings")?,
    };
    if !amount.is_positive() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "nothing_to_grant",
            "the template grants nothing for this basis",
        ));
    }
    Ok(BonusGrant {
        player,
        currency,
        amount,
        wagering: wagering(amount, template.wagering_x, cap_x),
        contributions: template.contributions.clone(),
        default_contribution_pct: template.default_contribution_pct,
        conversion_cap: template.conversion_cap.unwrap_or(Amount::MAX),
        expires_at_ms: now_ms.saturating_add(u64::from(template.expiry_days).saturating_mul(DAY_MS)),
    })
}

/// Forfeits the active bonus, or a queued one by serial (admins). The
/// next queued bonus becomes active when the active one goes.
#[utoipa::path(post, path = "/operator/v1/players/{player}/bonuses/forfeit", tag = "crm", request_body = ForfeitBody,
    params(("player" = u64, Path), edge::change::IdempotencyKey), security(("bearer" = [])),
    responses((status = 200, body = ForfeitReply), BodyErrors, RoleErrors, LedgerErrors,
        (status = 404, body = ErrorBody, description = "unknown_player, unknown_bonus (no such serial active or queued)"),
        (status = 409, body = ErrorBody, description = "no_active_bonus; conflict (Idempotency-Key reused)"),
        (status = 422, body = ErrorBody, description = "currency_mismatch: no wallet in that currency")))]
pub async fn forfeit(
    State(state): State<AppState>,
    caller: Caller,
    Path(player_id): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let request: ForfeitBody = decode(&body)?;
    let player = player(&state, &player_id)?;
    let currency = wallet_currency(&state, player, request.currency.as_deref())?;
    let command = Command::Bonus(bonus::Command::ForfeitBonus {
        player,
        currency,
        serial: request.serial,
    });
    let receipt = match caller.submit(&state, request_id(&headers)?, command).await? {
        Outcome::Moved(receipt) => receipt,
        other => return Err(refusal(&other, currency)),
    };
    let reply = ForfeitReply {
        player: player.0,
        currency: currency.code().to_owned(),
        cash: wire::money(receipt.balances.cash, currency),
        bonus: wire::money(receipt.balances.bonus, currency),
        seq: receipt.seq,
    };
    ok(StatusCode::OK, &reply)
}

#[cfg(test)]
mod tests {
    use engine::{BonusCode, GameCode, Title};

    use super::*;

    fn template(kind: TemplateKind) -> BonusTemplate {
        BonusTemplate {
            code: BonusCode::new("t").unwrap(),
            name: Title::new("T").unwrap(),
            kind,
            currency: Currency::EUR,
            wagering_x: 30,
            contributions: vec![(GameCode::new("roulette").unwrap(), 10)],
            default_contribution_pct: 100,
            max_bet: None,
            expiry_days: 2,
            conversion_cap: None,
            automatic: false,
            claim_code: None,
            mixed_product: false,
            enabled: true,
        }
    }

    fn basis(deposit: Option<&str>, net_losses: Option<&str>, winnings: Option<&str>) -> Basis {
        Basis {
            deposit: deposit.map(Into::into),
            net_losses: net_losses.map(Into::into),
            winnings: winnings.map(Into::into),
        }
    }

    /// (amount, wagering) in minor units, or the error code.
    fn check(kind: TemplateKind, basis: Basis, cap_x: Option<u32>) -> Result<(i64, i64), &'static str> {
        grant_of(&template(kind), PlayerId(1), &basis, cap_x, 1_000)
            .map(|g| {
                assert_eq!(g.expires_at_ms, 1_000 + 2 * DAY_MS);
                assert_eq!(g.conversion_cap, Amount::MAX);
                (g.amount.minor(), g.wagering.minor())
            })
            .map_err(|e| e.code)
    }

    #[test]
    fn the_amount_follows_the_template_and_the_wagering_the_jurisdiction_cap() {
        let matched = TemplateKind::DepositMatch {
            percent: 150,
            cap: Amount::from_minor(10_000),
            min_deposit: Amount::from_minor(1_000),
        };
        let deposit = |d| basis(Some(d), None, None);
        assert_eq!(check(matched.clone(), deposit("20.00"), None), Ok((3_000, 90_000)));
        assert_eq!(check(matched.clone(), deposit("20.00"), Some(10)), Ok((3_000, 30_000)));
        assert_eq!(check(matched.clone(), deposit("500.00"), None), Ok((10_000, 300_000)));
        assert_eq!(
            check(matched.clone(), deposit("9.99"), None),
            Err("deposit_below_minimum")
        );
        assert_eq!(
            check(matched.clone(), basis(None, None, None), None),
            Err("invalid_request")
        );
        assert_eq!(check(matched, deposit("1.001"), None), Err("too_many_decimals"));
        let free = TemplateKind::NoDeposit {
            amount: Amount::from_minor(500),
        };
        assert_eq!(check(free, basis(None, None, None), Some(50)), Ok((500, 15_000)));
        let cashback = TemplateKind::Cashback {
            percent: 10,
            period_days: 7,
        };
        assert_eq!(
            check(cashback.clone(), basis(None, Some("123.45"), None), None),
            Ok((1_234, 37_020))
        );
        assert_eq!(
            check(cashback, basis(None, Some("0.05"), None), None),
            Err("nothing_to_grant")
        );
        let spins = TemplateKind::FreeSpins {
            count: 10,
            bet_value: Amount::from_minor(20),
            games: vec![GameCode::new("slots").unwrap()],
        };
        assert_eq!(
            check(spins.clone(), basis(None, None, Some("3.40")), Some(0)),
            Ok((340, 0))
        );
        assert_eq!(
            check(spins, basis(None, None, Some("0.00")), None),
            Err("nothing_to_grant")
        );
    }
}
