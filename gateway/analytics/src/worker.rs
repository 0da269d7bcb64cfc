//! The scheduled work: every [`SCAN_EVERY`] the marker scan assesses each
//! player who played or deposited in the last 28 days, raises an alert for
//! compliance where the score reaches [`ALERT_SCORE`] and the player has
//! no open alert, and where it reaches [`INTERVENE_SCORE`] suggests an
//! intervention; every [`RETRAIN_EVERY`] the churn model is retrained on
//! the history and every active player rescored. Both also run on demand
//! (`POST /operator/v1/analytics/markers/scan`, `…/churn/training`).
//!
//! Alerts and interventions are submitted under request ids made from the
//! player and the journal position measured (`marker-alert-<player>-<seq>`)
//! and from the alert (`marker-intervention-<alert>`), so a scan repeated
//! on the same journal raises nothing twice.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::http::StatusCode;
use edge::AppState;
use edge::error::ApiError;
use engine::analytics::{Command as Work, InterventionKind, MarkerKind, MarkerPoints};
use engine::risk::RiskText;
use engine::{Command, ExtId, OperatorId, Outcome, PlayerId, Request, SourceId};
use readmodel::ReadModelError;
use readmodel::analytics as view;

use crate::churn::{self, ChurnError, ChurnModel, Reason};
use crate::markers::{self, ALERT_SCORE, Assessment, INTERVENE_SCORE};

/// How often the marker scan runs.
pub const SCAN_EVERY: Duration = Duration::from_secs(15 * 60);
/// How often the churn model is retrained.
pub const RETRAIN_EVERY: Duration = Duration::from_secs(6 * 3_600);
/// Most players one scan or one training reads.
pub const PLAYERS_MAX: usize = 20_000;
/// Players read per read-model query.
const PAGE: u32 = 250;
/// The source the system's own requests carry.
const SYSTEM_SOURCE: SourceId = SourceId(0);

/// The churn model in force and the scores it gave, shared by the worker
/// and the routes (in the server's module extensions).
#[derive(Clone, Default)]
pub struct ChurnState(pub Arc<RwLock<Option<Arc<Trained>>>>);

/// A trained model and its scores.
#[derive(Debug)]
pub struct Trained {
    /// The model.
    pub model: ChurnModel,
    /// When it was trained, ms since the epoch.
    pub trained_at_ms: u64,
    /// The journal position its history ran to.
    pub as_of_seq: u64,
    /// Every player active in the lookback, scored then: highest first.
    pub scores: Vec<(PlayerId, f64, Vec<Reason>)>,
}

/// Puts the churn state into the server's module extensions.
pub fn install(modules: &mut axum::http::Extensions) {
    modules.insert(ChurnState::default());
}

/// The churn state in force (a fresh, empty one when not installed).
pub fn churn_state(state: &AppState) -> ChurnState {
    state.modules.get::<ChurnState>().cloned().unwrap_or_default()
}

/// Why a scan or a retraining did not finish.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// The read model failed, or did not reach the journal's durable end
    /// within a minute.
    #[error("read model: {0}")]
    ReadModel(#[from] ReadModelError),
    /// A request id the worker made is not a valid id.
    #[error("request id {0:?} is not a valid id")]
    Id(String),
    /// The ledger did not take a command (the ring full, the replication
    /// group's leader elsewhere, a timeout): its answer.
    #[error("{}: {}", .0.code, .0.message)]
    Ledger(ApiError),
    /// The ledger answered a command with an outcome the worker cannot use.
    #[error("{what} for player {player}: the ledger answered {outcome}")]
    Unexpected {
        /// The command.
        what: &'static str,
        /// Its player.
        player: u64,
        /// The outcome, as its debug text.
        outcome: String,
    },
    /// The churn model could not be trained.
    #[error(transparent)]
    Churn(#[from] ChurnError),
}

impl From<ApiError> for WorkerError {
    fn from(error: ApiError) -> WorkerError {
        WorkerError::Ledger(error)
    }
}

impl WorkerError {
    /// The answer to an operator who asked for the scan or the training:
    /// the ledger's own answer when it did not take a command (busy, not
    /// the leader), 422 `churn_history_too_short` when the history is too
    /// short to train on, and a 500 for the rest.
    pub fn into_api(self) -> ApiError {
        match self {
            WorkerError::Ledger(error) => error,
            WorkerError::Churn(error @ ChurnError::TooLittleHistory { .. }) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "churn_history_too_short",
                error.to_string(),
            ),
            other => ApiError::internal(other),
        }
    }
}

/// What a scan did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scanned {
    /// Players assessed.
    pub players: usize,
    /// Alerts raised.
    pub alerts: Vec<u64>,
    /// Interventions suggested.
    pub interventions: Vec<u64>,
}

/// Players active since `from_ms` with what `each` found, page by page.
async fn each_active<T: Send + 'static>(
    state: &AppState,
    from_ms: u64,
    each: impl Fn(&rusqlite::Connection, PlayerId) -> Result<Option<T>, readmodel::ReadModelError>
    + Send
    + Sync
    + Clone
    + 'static,
) -> Result<(Vec<T>, usize, u64), WorkerError> {
    let mut after = PlayerId(0);
    let (mut found, mut players, mut as_of) = (Vec::new(), 0, 0);
    while players < PLAYERS_MAX {
        let each = each.clone();
        let (page, seq) = state
            .readmodel
            .query(move |c| {
                let ids = view::active_players(c, from_ms, after, PAGE)?;
                let mut out = Vec::new();
                for player in &ids {
                    if let Some(t) = each(c, *player)? {
                        out.push(t);
                    }
                }
                Ok((ids, out))
            })
            .await?;
        let (ids, out) = page;
        as_of = seq;
        found.extend(out);
        players += ids.len();
        match ids.last() {
            Some(last) if ids.len() == PAGE as usize => after = *last,
            _ => break,
        }
    }
    Ok((found, players, as_of))
}

/// Assesses every active player and raises what is due (see the module's
/// comment).
pub async fn scan(state: &AppState) -> Result<Scanned, WorkerError> {
    catch_up(state).await?;
    let now_ms = state.now_ms();
    let from_ms = now_ms.saturating_sub(markers::WINDOW_MS);
    let (due, players, as_of_seq) = each_active(state, from_ms, move |c, player| {
        let found = markers::assess(&view::facts(c, player, from_ms)?, now_ms);
        if found.score < ALERT_SCORE {
            return Ok(None);
        }
        let open = view::MarkerAlertFilter {
            player: Some(player),
            open_only: true,
            limit: 1,
            ..Default::default()
        };
        let has_open = !view::marker_alerts(c, &open)?.is_empty();
        Ok((!has_open).then_some((player, found)))
    })
    .await?;
    let mut scanned = Scanned {
        players,
        ..Scanned::default()
    };
    for (player, found) in due {
        let alert = raise(state, player, &found, as_of_seq).await?;
        scanned.alerts.push(alert);
        if found.score >= INTERVENE_SCORE {
            let kind = suggestion(&found);
            let id = format!("marker-intervention-{alert}");
            let message = default_message(kind);
            let issued = intervene(
                state,
                SYSTEM_SOURCE,
                &id,
                player,
                kind,
                message,
                alert,
                OperatorId::SYSTEM,
            )
            .await
            .map_err(|outcome| WorkerError::Unexpected {
                what: "intervention",
                player: player.0,
                outcome: format!("{outcome:?}"),
            })?;
            scanned.interventions.push(issued);
        }
    }
    if !scanned.alerts.is_empty() {
        tracing::info!(
            alerts = scanned.alerts.len(),
            interventions = scanned.interventions.len(),
            "problem-gambling markers raised alerts"
        );
    }
    Ok(scanned)
}

async fn catch_up(state: &AppState) -> Result<(), WorkerError> {
    let wanted = state.durable.get();
    state.readmodel.wait_for(wanted, Duration::from_secs(60)).await?;
    Ok(())
}

async fn raise(state: &AppState, player: PlayerId, found: &Assessment, as_of_seq: u64) -> Result<u64, WorkerError> {
    let command = Work::RaiseMarkerAlert {
        player,
        score: found.score,
        markers: found
            .markers
            .iter()
            .map(|m| MarkerPoints {
                kind: m.kind,
                points: m.points,
            })
            .collect(),
        summary: RiskText::new(&found.summary()),
        as_of_seq,
    };
    let id = format!("marker-alert-{}-{as_of_seq}", player.0);
    match submit(state, SYSTEM_SOURCE, &id, command).await? {
        Outcome::MarkerAlertRaised { alert } => Ok(alert),
        other => Err(WorkerError::Unexpected {
            what: "marker alert",
            player: player.0,
            outcome: format!("{other:?}"),
        }),
    }
}

/// Sends an intervention under request `id` from `source`: its id, or
/// the ledger's outcome when refused.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn intervene(
    state: &AppState,
    source: SourceId,
    id: &str,
    player: PlayerId,
    kind: InterventionKind,
    message: &str,
    alert: u64,
    operator: OperatorId,
) -> Result<u64, Outcome> {
    let command = Work::Intervene {
        player,
        kind,
        message: RiskText::new(message),
        alert,
        operator,
    };
    let outcome = submit(state, source, id, command)
        .await
        .map_err(|_| Outcome::Rejected(engine::Rejection::Conflict))?;
    match outcome {
        Outcome::InterventionIssued { intervention } => Ok(intervention),
        other => Err(other),
    }
}

async fn submit(state: &AppState, source: SourceId, id: &str, command: Work) -> Result<Outcome, WorkerError> {
    let request = Request {
        source,
        id: ExtId::new(id).map_err(|_| WorkerError::Id(id.to_owned()))?,
        command: Command::Analytics(command),
    };
    Ok(state.engine.run(request).await?.outcome)
}

/// The intervention a marker worker suggests for `found`: a time-out for
/// the highest scores and cancelled withdrawals, a reality check for
/// night play, a limit prompt for the money markers.
pub fn suggestion(found: &Assessment) -> InterventionKind {
    match found.markers.first().map(|m| m.kind) {
        _ if found.score >= 80 => InterventionKind::TimeOutSuggestion,
        Some(MarkerKind::CancelledWithdrawals) => InterventionKind::TimeOutSuggestion,
        Some(MarkerKind::NightPlay) => InterventionKind::RealityCheck,
        _ => InterventionKind::LimitPrompt,
    }
}

/// What the player is shown when the sender wrote nothing.
pub fn default_message(kind: InterventionKind) -> &'static str {
    match kind {
        InterventionKind::RealityCheck => {
            "A reality check: have a look at the time and money you have spent playing recently."
        }
        InterventionKind::LimitPrompt => "Would you like to set a deposit or loss limit? It takes effect at once.",
        InterventionKind::TimeOutSuggestion => "You may want to take a break: a time-out pauses your account.",
    }
}

/// Retrains the churn model on the history and rescores every active
/// player; the model in force stays when this fails.
pub async fn retrain(state: &AppState) -> Result<Arc<Trained>, WorkerError> {
    catch_up(state).await?;
    let now_ms = state.now_ms();
    let from_ms = now_ms.saturating_sub(churn::HORIZON_MS + churn::LOOKBACK_MS);
    let recent_ms = now_ms.saturating_sub(churn::LOOKBACK_MS);
    let (rows, _, as_of_seq) = each_active(state, from_ms, move |c, player| {
        let facts = view::facts(c, player, from_ms)?;
        let example = churn::labelled(&facts, now_ms);
        let active = facts
            .movements
            .iter()
            .any(|m| m.kind == view::FactKind::Bet && m.time_ms >= recent_ms);
        let current = active.then(|| churn::features(&facts, now_ms));
        Ok(Some((player, example, current)))
    })
    .await?;
    let examples: Vec<_> = rows.iter().filter_map(|(_, e, _)| *e).collect();
    let model = churn::train(&examples)?;
    let mut scores: Vec<(PlayerId, f64, Vec<Reason>)> = rows
        .iter()
        .filter_map(|(player, _, current)| {
            let scored = model.score(current.as_ref()?);
            Some((*player, scored.probability, scored.reasons))
        })
        .collect();
    scores.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let trained = Arc::new(Trained {
        model,
        trained_at_ms: now_ms,
        as_of_seq,
        scores,
    });
    let shared = churn_state(state);
    // The model is replaced whole: whatever a writer that panicked left
    // behind is overwritten.
    *shared.0.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(trained.clone());
    tracing::info!(
        examples = trained.model.examples.0,
        churners = trained.model.examples.1,
        auc = trained.model.training_auc,
        "churn model retrained"
    );
    Ok(trained)
}

/// Runs the marker scan and the retraining on their schedules until the
/// task is aborted.
pub fn spawn(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let start = tokio::time::Instant::now();
        let mut scans = tokio::time::interval_at(start + SCAN_EVERY, SCAN_EVERY);
        let mut trainings = tokio::time::interval_at(start + RETRAIN_EVERY, RETRAIN_EVERY);
        for ticker in [&mut scans, &mut trainings] {
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        }
        loop {
            tokio::select! {
                _ = scans.tick() => {
                    if let Err(error) = scan(&state).await {
                        tracing::warn!(%error, "problem-gambling marker scan");
                    }
                }
                _ = trainings.tick() => {
                    if let Err(error) = retrain(&state).await {
                        tracing::warn!(%error, "churn model retraining");
                    }
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An operator who asked for a scan or a training gets the ledger's
    /// own answer when it did not take a command, 422 only for a history
    /// too short to train on, and a 500 for a read model that failed.
    #[test]
    fn each_failure_answers_the_operator_with_its_own_status() {
        let busy = ApiError::busy("busy", "the ring is full", 1);
        assert_eq!(WorkerError::from(busy.clone()).into_api(), busy);

        let short = WorkerError::Churn(ChurnError::TooLittleHistory {
            churners: 1,
            stayed: 40,
        })
        .into_api();
        assert_eq!(
            (short.status, short.code),
            (StatusCode::UNPROCESSABLE_ENTITY, "churn_history_too_short")
        );
        assert!(
            short.message.contains("1 churners and 40 who stayed"),
            "{}",
            short.message
        );

        let failed = WorkerError::ReadModel(ReadModelError::Stopped).into_api();
        assert_eq!(
            (failed.status, failed.code),
            (StatusCode::INTERNAL_SERVER_ERROR, "internal")
        );
    }
}
