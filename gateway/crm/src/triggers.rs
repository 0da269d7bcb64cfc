//! The automatic grants: a worker that submits the grants the triggers owe
//! (a deposit match on each confirmed deposit, a no-deposit bonus at
//! registration, for templates flagged automatic).
//!
//! The outbox is the journal: the read model lists the grants owed and not
//! yet journaled (`readmodel::bonuses::pending_triggers`), each keyed by
//! its template and the record that owed it. The worker submits each under
//! the request id made from that key, so a retry (after a restart, or a
//! tick that ran before the projection caught up) finds the grant the
//! first attempt made instead of granting twice; the projection settles
//! the row when the grant is journaled, granted or refused (a blocked
//! player, a full queue).

use std::time::Duration;

use edge::AppState;
use edge::worker::{TickError, TickLog};
use engine::bonus;
use engine::{Amount, Command, Currency, ExtId, PlayerId, Request, SourceId};
use readmodel::bonuses::{self, TRIGGER_PREFIX, TriggerView};

use crate::grants::{Basis, grant_of};

/// How often the worker looks for owed grants.
pub const TICK: Duration = Duration::from_millis(200);
/// Most grants submitted per tick.
const BATCH_MAX: u32 = 256;
/// The source the system's own requests carry.
const SYSTEM_SOURCE: SourceId = SourceId(0);

/// Runs the worker until the task is aborted.
pub async fn run(state: AppState) {
    let mut log = TickLog::new("bonus triggers");
    let mut ticker = tokio::time::interval(TICK);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        log.record(&tick(&state).await);
    }
}

/// Starts the worker on the runtime; abort the handle to stop it.
pub fn spawn(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(run(state))
}

/// Submits every grant owed now.
pub async fn tick(state: &AppState) -> Result<(), TickError> {
    let (owed, _) = state
        .readmodel
        .query(|c| bonuses::pending_triggers(c, BATCH_MAX))
        .await?;
    for trigger in owed {
        let code = trigger.template.clone();
        let (template, _) = state.readmodel.query(move |c| bonuses::by_code(c, &code)).await?;
        let Some(template) = template else {
            continue;
        };
        // Refused where the player's jurisdiction bans mixed-product
        // promotions: left pending for an operator to see.
        let player = engine::PlayerId(trigger.player);
        if crate::loyalty::check_mixed_product(state, player, &template.template)
            .await
            .is_err()
        {
            continue;
        }
        let Some(request) = request_of(state, &trigger, &template.template) else {
            continue;
        };
        // A refusal is journaled and settles the row like a grant. A
        // follower submits nothing: the leader's worker grants, and the
        // grant settles the row here when it is replicated.
        match state.engine.run(request).await {
            Ok(_) => {}
            Err(error) if error.code == "not_leader" => return Ok(()),
            Err(error) => tracing::warn!(key = %trigger.key, error = %error.message, "bonus trigger: not submitted"),
        }
    }
    Ok(())
}

/// The grant a trigger owes, under its request id (`None`: a row the
/// worker cannot turn into a grant, left for an operator to see).
fn request_of(state: &AppState, trigger: &TriggerView, template: &bonus::BonusTemplate) -> Option<Request> {
    let currency = Currency::from_code(&trigger.currency)?;
    let player = PlayerId(trigger.player);
    let now_ms = state.now_ms();
    let cap_x = crate::templates::wagering_cap_x(state, player, now_ms)?;
    let basis = Basis {
        deposit: Some(edge::wire::money(Amount::from_minor(trigger.basis_minor), currency)),
        ..Basis::default()
    };
    let grant = grant_of(template, player, &basis, cap_x, now_ms).ok()?;
    let id = ExtId::new(&format!("{TRIGGER_PREFIX}{}", trigger.key)).ok()?;
    Some(Request {
        source: SYSTEM_SOURCE,
        id,
        command: Command::Bonus(bonus::Command::GrantQueued {
            grant,
            max_bet: template.max_bet,
        }),
    })
}
