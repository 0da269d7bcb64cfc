//! Withdrawal holds from cases: where configured (`risk_hold_withdrawals_on_case`,
//! on by default), opening a case places a hold named `case-<id>` on the
//! player in the ledger (`HoldWithdrawals`, journaled), and resolving it
//! lifts that hold (`ReleaseWithdrawals`). The ledger refuses every
//! approval of a held player's withdrawals in the same step as the money
//! would move, so no approval can slip between a case opening and a read
//! of the case list; a player with two open cases stays held until both
//! are resolved (each case lifts only its own hold).
//!
//! Cases live in the read model and holds in the ledger: [`sweep`] runs at
//! start-up and places the hold of every open case that lacks one (cases
//! opened before this release, when the hold was a read-model check; a
//! hold that failed or a stop between the case's opening and its hold).
//! Placing a hold the player already has changes nothing.

use std::time::Duration;

use edge::AppState;
use edge::error::ApiError;
use engine::{Command, ExtId, OperatorId, Outcome, PlayerId, Reason, Rejection, Request, SourceId, payments};
use readmodel::risk::{self, CaseFilter};

/// The risk module's settings (in the server's module extensions; the
/// defaults when absent).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Settings {
    /// Opening a case holds the player's withdrawals until it is resolved.
    pub hold_withdrawals_on_case: bool,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            hold_withdrawals_on_case: true,
        }
    }
}

/// The settings in force.
pub fn settings(state: &AppState) -> Settings {
    state.modules.get::<Settings>().copied().unwrap_or_default()
}

/// The name of case `case`'s hold in the ledger.
pub fn hold_name(case: u64) -> ExtId {
    ExtId::new(&format!("case-{case}")).expect("a short printable id")
}

/// Places case `case`'s hold on `player` under request `id` from `source`:
/// the journal record's sequence number and the player's holds now.
pub(crate) async fn place(
    state: &AppState,
    source: SourceId,
    operator: OperatorId,
    id: ExtId,
    case: u64,
    player: PlayerId,
) -> Result<(u64, u32), ApiError> {
    let reason = Reason::new(&format!("risk case {case} is open")).map_err(ApiError::internal)?;
    let command = payments::Command::HoldWithdrawals {
        player,
        hold: hold_name(case),
        reason,
        operator,
    };
    submit(state, source, id, command, player).await
}

/// Lifts case `case`'s hold on `player`: the sequence number and the
/// holds left, or `None` when the case held nothing (opened while holds
/// were off, or its hold already lifted).
pub(crate) async fn lift(
    state: &AppState,
    source: SourceId,
    operator: OperatorId,
    case: u64,
    player: PlayerId,
) -> Result<Option<(u64, u32)>, ApiError> {
    let reason = Reason::new(&format!("risk case {case} resolved")).map_err(ApiError::internal)?;
    let command = payments::Command::ReleaseWithdrawals {
        player,
        hold: hold_name(case),
        reason,
        operator,
    };
    let id = ExtId::new(&format!("risk-case-{case}-release")).map_err(ApiError::internal)?;
    match submit(state, source, id, command, player).await {
        Ok(done) => Ok(Some(done)),
        Err(error) if error.code == "unknown_withdrawal_hold" => Ok(None),
        Err(error) => Err(error),
    }
}

async fn submit(
    state: &AppState,
    source: SourceId,
    id: ExtId,
    command: payments::Command,
    player: PlayerId,
) -> Result<(u64, u32), ApiError> {
    let request = Request {
        source,
        id,
        command: Command::Payments(command),
    };
    let reply = state.engine.run(request).await?;
    match reply.outcome {
        Outcome::WithdrawalHolds { holds } => Ok((reply.seq, holds)),
        other => {
            let currency = state
                .view
                .read()
                .player(player)
                .map(|p| p.currency)
                .unwrap_or(engine::Currency::EUR);
            Err(edge::change::refusal(&other, currency))
        }
    }
}

/// The source the start-up sweep submits under (the server's own).
const SYSTEM_SOURCE: SourceId = SourceId(0);

/// Places the hold of every open case (see the module's comment), once the
/// read model holds every write acknowledged before the start: how many
/// holds were submitted. Nothing when holds are off.
pub async fn sweep(state: &AppState, now_ms: u64) -> Result<usize, String> {
    if !settings(state).hold_withdrawals_on_case {
        return Ok(0);
    }
    let wanted = state.durable.get();
    state
        .readmodel
        .wait_for(wanted, Duration::from_secs(600))
        .await
        .map_err(|e| e.to_string())?;
    let mut placed = 0;
    let mut after_id = 0;
    loop {
        let filter = CaseFilter {
            state: Some("open".into()),
            assignee: None,
            player: None,
            after_id,
            limit: 500,
        };
        let (cases, _) = state
            .readmodel
            .query(move |c| risk::cases(c, &filter))
            .await
            .map_err(|e| e.to_string())?;
        let Some(last) = cases.last() else {
            return Ok(placed);
        };
        after_id = last.id;
        for case in cases {
            // A fresh request id per start: the ledger changes nothing for
            // a hold the player already has.
            let id = ExtId::new(&format!("risk-case-{}-hold-at-{now_ms}", case.id)).map_err(|e| e.to_string())?;
            place(state, SYSTEM_SOURCE, OperatorId::SYSTEM, id, case.id, case.player)
                .await
                .map_err(|e| format!("case {}: {}", case.id, e.message))?;
            placed += 1;
        }
    }
}

/// Runs [`sweep`] in the background, logging what it did.
pub fn spawn_sweep(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let now_ms = state.now_ms();
        match sweep(&state, now_ms).await {
            Ok(0) => {}
            Ok(placed) => tracing::info!(placed, "withdrawal holds of open risk cases placed"),
            Err(error) => tracing::warn!(%error, "placing the withdrawal holds of open risk cases failed"),
        }
    })
}

/// Whether a refusal is the ledger's hold.
pub fn is_hold(rejection: &Rejection) -> bool {
    matches!(rejection, Rejection::WithdrawalHeld { .. })
}
