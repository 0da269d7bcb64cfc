//! The loyalty worker: at the end of each review period it reviews VIP
//! tiers, at the end of each cashback template's period it grants the
//! cashback, and once it submits the promotion rules the release ships.
//!
//! Both work from the read model's history, for the period just ended
//! (periods are counted from the epoch, so every node agrees on them):
//!
//! - a tier review works out each player's points and turnover in the
//!   period (the players who staked, and those with a tier, who may lose
//!   it) and journals a tier change ([`bonus::Command::SetVipTier`]) where
//!   the tier reached differs from the one held, unless the tier was
//!   decided after the period ended (an operator's decision is newer than
//!   the period reviewed: the next review covers it);
//! - cashback grants each player with net losses (stakes less prizes) in
//!   the template's currency its percent of them — the player's VIP tier's
//!   cashback percent where the tier sets one.
//!
//! Every submission carries a request id made from the player and the
//! period (`vip:…`, `cashback:…`), and a cashback already journaled under
//! its id is skipped (the read model's transactions), so nothing is granted
//! or changed twice, across restarts too. The periods done are remembered
//! in memory only, to spare the read model; a restart reviews the last
//! period again and finds nothing to do.

use std::collections::HashMap;
use std::time::Duration;

use edge::AppState;
use edge::worker::{TickError, TickLog};
use engine::bonus::{self, BonusTemplate, TemplateKind};
use engine::{Amount, Command, Currency, ExtId, Jurisdiction, OperatorId, PlayerId, Request, SourceId};
use readmodel::{bonuses, loyalty};

use crate::grants::{Basis, grant_of};
use crate::loyalty::{milli_points, shipped_request, whole_points};

/// How often the worker looks for a period that ended.
pub const TICK: Duration = Duration::from_millis(250);
/// Players read per page.
const PAGE: u32 = 256;
/// The source the system's own requests carry.
const SYSTEM_SOURCE: SourceId = SourceId(0);
const DAY_MS: u64 = 86_400_000;

/// What the worker has done, in memory.
#[derive(Debug, Default)]
pub struct Progress {
    /// The last review period whose tiers were reviewed.
    reviewed: Option<u64>,
    /// Per cashback template, the last period granted.
    cashback: HashMap<String, u64>,
    /// Whether the shipped promotion rules were submitted.
    shipped: bool,
}

/// Runs the worker until the task is aborted; `shipped` are the promotion
/// rules the release ships (submitted once where none is set).
pub async fn run(state: AppState, shipped: Vec<(Jurisdiction, bool)>) {
    let mut ticker = tokio::time::interval(TICK);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut progress = Progress::default();
    let mut log = TickLog::new("loyalty");
    loop {
        ticker.tick().await;
        log.record(&tick(&state, &shipped, &mut progress).await);
    }
}

/// Starts the worker on the runtime; abort the handle to stop it.
pub fn spawn(state: AppState, shipped: Vec<(Jurisdiction, bool)>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(run(state, shipped))
}

/// One round: shipped rules, cashback, tier reviews.
pub async fn tick(
    state: &AppState,
    shipped: &[(Jurisdiction, bool)],
    progress: &mut Progress,
) -> Result<(), TickError> {
    if !progress.shipped {
        progress.shipped = ship_rules(state, shipped).await?;
    }
    // Cashback first: a period's cashback follows the tier held during
    // it, before the review of that period changes it.
    grant_cashback(state, progress).await?;
    review_tiers(state, progress).await
}

async fn query<T: Send + 'static>(
    state: &AppState,
    f: impl FnOnce(&rusqlite::Connection) -> Result<T, readmodel::ReadModelError> + Send + 'static,
) -> Result<T, TickError> {
    state
        .readmodel
        .wait_in_background(state.durable.get(), edge::reads::VIEW_WAIT_MAX)
        .await?;
    let (value, _) = state.readmodel.query(f).await?;
    Ok(value)
}

/// Submits; `Ok(false)` on a follower (the leader's worker does it).
async fn submit(state: &AppState, id: &str, command: Command) -> Result<bool, TickError> {
    let request = Request {
        source: SYSTEM_SOURCE,
        id: ExtId::new(id).map_err(|e| e.to_string())?,
        command,
    };
    match state.engine.run(request).await {
        Ok(_) => Ok(true),
        Err(error) if error.code == "not_leader" => Ok(false),
        Err(error) => Err(match TickError::from(error) {
            TickError::Failed(message) => TickError::Failed(format!("{id}: {message}")),
            behind => behind,
        }),
    }
}

/// Submits each shipped rule whose jurisdiction has none set: whether
/// all are (false while this node is not the leader).
pub async fn ship_rules(state: &AppState, shipped: &[(Jurisdiction, bool)]) -> Result<bool, TickError> {
    let set = query(state, loyalty::promotion_rules).await?;
    for (jurisdiction, banned) in shipped {
        let code = jurisdiction.to_string();
        if set.iter().any(|(j, _, _)| *j == code) {
            continue;
        }
        let id = shipped_request(*jurisdiction, 1).ok_or("shipped rule id")?;
        let command = Command::Bonus(bonus::Command::SetPromotionRules {
            jurisdiction: Some(*jurisdiction),
            mixed_product_banned: *banned,
            operator: OperatorId::SYSTEM,
        });
        if !submit(state, id.as_str(), command).await? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Reviews every tier for the review period that ended last.
async fn review_tiers(state: &AppState, progress: &mut Progress) -> Result<(), TickError> {
    let Some(config) = query(state, loyalty::current).await? else {
        return Ok(());
    };
    let config = config.config;
    let length = u64::from(config.review_days) * DAY_MS;
    let Some(period) = (state.now_ms() / length).checked_sub(1) else {
        return Ok(());
    };
    if progress.reviewed == Some(period) {
        return Ok(());
    }
    let (from, to) = (period * length, (period + 1) * length);
    let mut after = 0;
    loop {
        let page = query(state, move |c| loyalty::review_candidates(c, from, to, after, PAGE)).await?;
        let Some(&last) = page.last() else { break };
        for player in page {
            let (stakes, latest) = query(state, move |c| {
                Ok((
                    loyalty::stakes_between_times(c, player, from, to)?,
                    loyalty::tiers(c, player, 1)?.pop(),
                ))
            })
            .await?;
            if decided_since(latest.as_ref(), to) {
                continue;
            }
            let held = latest.and_then(|decided| decided.tier);
            let points = whole_points(milli_points(&config, &state.view.read(), &stakes));
            let turnover: i64 = stakes
                .iter()
                .filter(|(_, _, currency, _)| currency == config.currency.code())
                .map(|(_, _, _, stake)| *stake)
                .sum();
            let reached = config
                .tier_for(points, Amount::from_minor(turnover))
                .map(|t| t.code.clone());
            if reached.as_ref().map(|c| c.as_str()) == held.as_deref() {
                continue;
            }
            let command = Command::Bonus(bonus::Command::SetVipTier {
                player: PlayerId(player),
                tier: reached,
                period: u32::try_from(period).unwrap_or(u32::MAX),
                operator: OperatorId::SYSTEM,
            });
            if !submit(state, &format!("vip:{player}:{period}"), command).await? {
                return Ok(());
            }
        }
        after = last;
    }
    progress.reviewed = Some(period);
    Ok(())
}

/// Whether the player's latest tier decision was made at or after
/// `period_end_ms`: an operator's decision made after the period ended is
/// newer than what that period's review knows, and stands until the next
/// period's review (which counts the play since). Without it, a review
/// running late (the worker's first tick after a restart, or one that
/// raced the operator) undid the operator's decision.
fn decided_since(latest: Option<&loyalty::TierView>, period_end_ms: u64) -> bool {
    latest.is_some_and(|decided| decided.time_ms >= period_end_ms)
}

/// Grants every automatic cashback template's cashback for its period that
/// ended last.
async fn grant_cashback(state: &AppState, progress: &mut Progress) -> Result<(), TickError> {
    let templates = query(state, bonuses::list).await?;
    let config = query(state, loyalty::current).await?.map(|v| v.config);
    for view in templates {
        let template = view.template;
        let TemplateKind::Cashback { period_days, .. } = template.kind else {
            continue;
        };
        if !template.automatic || !template.enabled {
            continue;
        }
        let length = u64::from(period_days) * DAY_MS;
        let Some(period) = (state.now_ms() / length).checked_sub(1) else {
            continue;
        };
        let code = template.code.to_string();
        if progress.cashback.get(&code) == Some(&period) {
            continue;
        }
        let (from, to) = (period * length, (period + 1) * length);
        let currency = template.currency.code();
        let mut after = 0;
        loop {
            let page = query(state, move |c| loyalty::net_losses(c, currency, from, to, after, PAGE)).await?;
            let Some(&(last, _)) = page.last() else { break };
            for (player, lost) in page {
                let id = format!("cashback:{code}:{player}:{period}");
                let key = id.clone();
                let (done, held) = query(state, move |c| {
                    Ok((loyalty::journaled(c, SYSTEM_SOURCE.0, &key)?, loyalty::tier(c, player)?))
                })
                .await?;
                if done {
                    continue;
                }
                let override_pct = held.and_then(|tier| {
                    let tiers = &config.as_ref()?.tiers;
                    tiers.iter().find(|t| t.code.as_str() == tier)?.cashback_pct
                });
                let Some(command) = cashback(state, &template, PlayerId(player), lost, override_pct).await? else {
                    continue;
                };
                if !submit(state, &id, command).await? {
                    return Ok(());
                }
            }
            after = last;
        }
        progress.cashback.insert(code, period);
    }
    Ok(())
}

/// The grant of `lost`'s cashback (`None`: nothing to grant, or refused for
/// the player's jurisdiction).
async fn cashback(
    state: &AppState,
    template: &BonusTemplate,
    player: PlayerId,
    lost: i64,
    override_pct: Option<u16>,
) -> Result<Option<Command>, TickError> {
    if crate::loyalty::check_mixed_product(state, player, template)
        .await
        .is_err()
    {
        tracing::info!(player = player.0, template = %template.code, "cashback: mixed-product promotion banned here");
        return Ok(None);
    }
    let mut template = template.clone();
    if let (TemplateKind::Cashback { percent, .. }, Some(pct)) = (&mut template.kind, override_pct) {
        *percent = pct;
    }
    let now_ms = state.now_ms();
    let Some(cap_x) = crate::templates::wagering_cap_x(state, player, now_ms) else {
        return Ok(None);
    };
    let currency: Currency = template.currency;
    let basis = Basis {
        net_losses: Some(edge::wire::money(Amount::from_minor(lost), currency)),
        ..Basis::default()
    };
    let Ok(grant) = grant_of(&template, player, &basis, cap_x, now_ms) else {
        return Ok(None);
    };
    Ok(Some(Command::Bonus(bonus::Command::GrantQueued {
        grant,
        max_bet: template.max_bet,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decided(tier: Option<&str>, operator: u32, time_ms: u64) -> loyalty::TierView {
        loyalty::TierView {
            tier: tier.map(str::to_owned),
            period: 0,
            operator,
            seq: 1,
            time_ms,
        }
    }

    #[test]
    fn a_review_leaves_a_tier_decided_after_its_period() {
        let end = 86_400_000;
        // Decided by an operator after the period ended: left for the next review.
        assert!(decided_since(Some(&decided(Some("gold"), 7, end)), end));
        assert!(decided_since(Some(&decided(Some("gold"), 7, end + 1)), end));
        // Decided within the period, or never: reviewed.
        assert!(!decided_since(Some(&decided(Some("gold"), 7, end - 1)), end));
        assert!(!decided_since(Some(&decided(None, 0, end - 1)), end));
        assert!(!decided_since(None, end));
    }
}
