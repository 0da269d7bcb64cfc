//! The winnings of free rounds granted through the aggregator
//! ([`crate::free_rounds`]), credited as their template's bonus when the
//! aggregator reports them, and the wallet contracts' view of the awards
//! ([`Awards`], registered in `AppState::modules` as
//! `edge::free_rounds::AwardsHook`).
//!
//! A module of its own because it grants (through [`crate::grants`]),
//! and the grants award (through [`crate::free_rounds`]).

use edge::error::ApiError;
use edge::free_rounds::{AwardFuture, FreeRoundAwards};
use edge::reads::read;
use edge::{AppState, wire};
use engine::bonus::{self, FreeRoundsState};
use engine::{Amount, Command, OperatorId, PlayerId, SourceId};
use readmodel::bonuses;
use readmodel::free_rounds;

use crate::free_rounds::{Submitted, submit};
use crate::grants::{Basis, grant_of};

/// The wallet's view of the awards (registered in `AppState::modules` as
/// `wallet::contracts::pragmatic::Awards`).
pub struct Awards;

impl FreeRoundAwards for Awards {
    fn is_award<'a>(&'a self, state: &'a AppState, player: PlayerId, code: &'a str) -> AwardFuture<'a, bool> {
        Box::pin(async move {
            let wanted = code.to_owned();
            let (found, _) = read(state, move |c| free_rounds::by_code(c, &wanted)).await?;
            Ok(found.is_some_and(|v| v.award.player == player))
        })
    }

    fn credit<'a>(
        &'a self,
        state: &'a AppState,
        source: SourceId,
        player: PlayerId,
        code: &'a str,
        winnings: Amount,
    ) -> AwardFuture<'a, ()> {
        Box::pin(credit(state, source, player, code, winnings))
    }
}

/// Credits an award's winnings as its template's bonus, once (the grant's
/// request id derives from the code), then records them on the award. A
/// grant the ledger refuses (the queue full, the player blocked) is
/// logged and the award left as it was: an operator grants it by hand.
async fn credit(
    state: &AppState,
    source: SourceId,
    player: PlayerId,
    code: &str,
    winnings: Amount,
) -> Result<(), ApiError> {
    let wanted = code.to_owned();
    let (found, _) = read(state, move |c| free_rounds::by_code(c, &wanted)).await?;
    let Some(view) = found.filter(|v| v.award.player == player) else {
        return Ok(());
    };
    let award = view.award;
    if winnings.is_positive() {
        let wanted = award.template.to_string();
        let (template, _) = read(state, move |c| bonuses::by_code(c, &wanted)).await?;
        let Some(template) = template else {
            tracing::warn!(code, template = %award.template, "free rounds won: the template is gone");
            return Ok(());
        };
        let now_ms = state.now_ms();
        let cap_x = crate::templates::wagering_cap_x(state, player, now_ms).flatten();
        let basis = Basis {
            winnings: Some(wire::money(winnings, award.currency)),
            ..Basis::default()
        };
        let grant = grant_of(&template.template, player, &basis, cap_x, now_ms)?;
        let command = Command::Bonus(bonus::Command::GrantQueued {
            grant,
            max_bet: template.template.max_bet,
        });
        match submit(state, source, &format!("frbw:{code}"), command).await? {
            Submitted::NotLeader(error) => return Err(error),
            Submitted::Done(outcome) if !outcome.is_ok() => {
                tracing::warn!(
                    code,
                    player = player.0,
                    ?outcome,
                    "free rounds won: the bonus grant was refused"
                );
                return Ok(());
            }
            Submitted::Done(_) => {}
        }
    }
    let command = Command::Bonus(bonus::Command::FreeRoundsSettled {
        player,
        code: award.code.clone(),
        state: FreeRoundsState::Won { winnings },
        attempts: 0,
        operator: OperatorId::SYSTEM,
    });
    match submit(state, source, &format!("frbv:{code}"), command).await? {
        Submitted::NotLeader(error) => Err(error),
        Submitted::Done(_) => Ok(()),
    }
}
