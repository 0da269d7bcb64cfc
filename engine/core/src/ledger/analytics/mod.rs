//! The analytics domain: what the problem-gambling marker worker and
//! compliance record about a player, journaled so that no rebuild of the
//! read model loses it: a marker alert (the markers found, each with its
//! points, and the score), an intervention sent to the player (a reality
//! check, a limit prompt, a time-out suggestion), the player's answer to
//! it, and an alert's closing.
//!
//! Like the risk domain (`../risk/mod.rs`), the ledger checks each
//! command's shape and that its player exists, and keeps nothing of it, so
//! there is no snapshot change; the read model derives the alerts and
//! interventions from these records. What the ledger cannot see (whether
//! an intervention is still unanswered, an alert still open) the gateway
//! checks before it sends and the projection checks again.
//!
//! An alert's id and an intervention's id are the sequence numbers of the
//! records that made them ([`crate::Outcome::MarkerAlertRaised`],
//! [`crate::Outcome::InterventionIssued`]), so a retry, answered from the
//! deduplication table, names the same one.

use super::store::Detail;
use super::{Applied, Ctx, Ledger, rejected};
use crate::ids::{OperatorId, PlayerId};
use crate::ledger::risk::RiskText;
use crate::outcome::{Outcome, Rejection};

/// Most markers one alert carries (one per kind).
pub const MARKERS_MAX: usize = 16;
/// The highest score and the most points one marker adds.
pub const SCORE_MAX: u32 = 100;
/// Longest alert summary or intervention message, bytes.
pub const MESSAGE_MAX: usize = 1_000;

/// A problem-gambling marker (see `gateway/analytics/src/markers.rs` for
/// how each is measured).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MarkerKind {
    /// Deposits soon after a run of losses, or stakes raised after losses.
    LossChasing,
    /// Deposits more often or larger, week over week.
    RisingDeposits,
    /// A large share of rounds played at night (00:00–06:00 UTC).
    NightPlay,
    /// Deposit or loss limits raised again and again.
    LimitIncreases,
    /// Deposits that failed or expired.
    FailedDeposits,
    /// Withdrawals cancelled (reversed) to play the money on.
    CancelledWithdrawals,
}

impl MarkerKind {
    /// Every marker, in tag order.
    pub const ALL: [MarkerKind; 6] = [
        MarkerKind::LossChasing,
        MarkerKind::RisingDeposits,
        MarkerKind::NightPlay,
        MarkerKind::LimitIncreases,
        MarkerKind::FailedDeposits,
        MarkerKind::CancelledWithdrawals,
    ];

    /// Its stable name.
    pub fn name(self) -> &'static str {
        match self {
            MarkerKind::LossChasing => "loss_chasing",
            MarkerKind::RisingDeposits => "rising_deposits",
            MarkerKind::NightPlay => "night_play",
            MarkerKind::LimitIncreases => "limit_increases",
            MarkerKind::FailedDeposits => "failed_deposits",
            MarkerKind::CancelledWithdrawals => "cancelled_withdrawals",
        }
    }

    /// The marker named `name`.
    pub fn from_name(name: &str) -> Option<MarkerKind> {
        MarkerKind::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// One marker found, with the points it adds to the score.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MarkerPoints {
    /// Which.
    pub kind: MarkerKind,
    /// Its points (1 to [`SCORE_MAX`]).
    pub points: u32,
}

/// What is sent to a player.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum InterventionKind {
    /// Shows the time and money spent; the player acknowledges it.
    RealityCheck,
    /// Asks the player to set or lower a limit.
    LimitPrompt,
    /// Suggests a time-out.
    TimeOutSuggestion,
}

impl InterventionKind {
    /// Every kind, in tag order.
    pub const ALL: [InterventionKind; 3] = [
        InterventionKind::RealityCheck,
        InterventionKind::LimitPrompt,
        InterventionKind::TimeOutSuggestion,
    ];

    /// Its stable name.
    pub fn name(self) -> &'static str {
        match self {
            InterventionKind::RealityCheck => "reality_check",
            InterventionKind::LimitPrompt => "limit_prompt",
            InterventionKind::TimeOutSuggestion => "time_out_suggestion",
        }
    }

    /// The kind named `name`.
    pub fn from_name(name: &str) -> Option<InterventionKind> {
        InterventionKind::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// How the player answered an intervention.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum InterventionAnswer {
    /// Seen.
    Acknowledged,
    /// Took the suggestion (set a limit, took a time-out).
    Accepted,
    /// Declined it.
    Declined,
}

impl InterventionAnswer {
    /// Its stable name.
    pub fn name(self) -> &'static str {
        match self {
            InterventionAnswer::Acknowledged => "acknowledged",
            InterventionAnswer::Accepted => "accepted",
            InterventionAnswer::Declined => "declined",
        }
    }

    /// The answer named `name`.
    pub fn from_name(name: &str) -> Option<InterventionAnswer> {
        [
            InterventionAnswer::Acknowledged,
            InterventionAnswer::Accepted,
            InterventionAnswer::Declined,
        ]
        .into_iter()
        .find(|a| a.name() == name)
    }
}

/// What the analytics domain can be asked to do.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Command {
    /// Raises a marker alert for compliance; refused with
    /// [`Rejection::InvalidMarkerAlert`] when out of bounds.
    RaiseMarkerAlert {
        /// The player.
        player: PlayerId,
        /// The score (1 to [`SCORE_MAX`]).
        score: u32,
        /// The markers found, distinct kinds (1 to [`MARKERS_MAX`]).
        markers: Vec<MarkerPoints>,
        /// The evidence in words (1 to [`MESSAGE_MAX`] bytes).
        summary: RiskText,
        /// The journal position the markers were measured at.
        as_of_seq: u64,
    },
    /// Sends an intervention to the player; refused with
    /// [`Rejection::InvalidIntervention`] when out of bounds.
    Intervene {
        /// The player.
        player: PlayerId,
        /// What.
        kind: InterventionKind,
        /// What the player is shown (1 to [`MESSAGE_MAX`] bytes).
        message: RiskText,
        /// The marker alert it answers (0: none).
        alert: u64,
        /// Who sent it ([`OperatorId::SYSTEM`]: the marker worker).
        operator: OperatorId,
    },
    /// Records the player's answer to an intervention.
    AnswerIntervention {
        /// The player.
        player: PlayerId,
        /// The intervention (its record's sequence number, positive).
        intervention: u64,
        /// The answer.
        answer: InterventionAnswer,
    },
    /// Closes a marker alert (compliance reviewed it).
    CloseMarkerAlert {
        /// The alert (its record's sequence number, positive).
        alert: u64,
        /// The finding (1 to [`MESSAGE_MAX`] bytes).
        text: RiskText,
        /// Who.
        operator: OperatorId,
    },
}

impl Command {
    /// The player the command is about (a closing names an alert only).
    pub fn player(&self) -> Option<PlayerId> {
        match self {
            Command::RaiseMarkerAlert { player, .. }
            | Command::Intervene { player, .. }
            | Command::AnswerIntervention { player, .. } => Some(*player),
            Command::CloseMarkerAlert { .. } => None,
        }
    }

    /// A short stable name, for logs, metrics and journal filters.
    pub fn kind(&self) -> &'static str {
        match self {
            Command::RaiseMarkerAlert { .. } => "marker_alert",
            Command::Intervene { .. } => "intervention",
            Command::AnswerIntervention { .. } => "intervention_answer",
            Command::CloseMarkerAlert { .. } => "marker_alert_close",
        }
    }

    /// Checks the command's sizes, lengths and ranges.
    pub fn validate(&self) -> Result<(), Rejection> {
        match self {
            Command::RaiseMarkerAlert {
                score,
                markers,
                summary,
                ..
            } => {
                let distinct = markers
                    .iter()
                    .enumerate()
                    .all(|(i, m)| markers[..i].iter().all(|other| other.kind != m.kind));
                let fits = (1..=SCORE_MAX).contains(score)
                    && (1..=MARKERS_MAX).contains(&markers.len())
                    && markers.iter().all(|m| (1..=SCORE_MAX).contains(&m.points))
                    && distinct
                    && summary.check(MESSAGE_MAX);
                if !fits {
                    return Err(Rejection::InvalidMarkerAlert);
                }
            }
            Command::Intervene { message, .. } => {
                if !message.check(MESSAGE_MAX) {
                    return Err(Rejection::InvalidIntervention);
                }
            }
            Command::AnswerIntervention { intervention, .. } => {
                if *intervention == 0 {
                    return Err(Rejection::InvalidIntervention);
                }
            }
            Command::CloseMarkerAlert { alert, text, .. } => {
                if *alert == 0 || !text.check(MESSAGE_MAX) {
                    return Err(Rejection::InvalidMarkerAlert);
                }
            }
        }
        Ok(())
    }
}

impl Ledger {
    /// Applies one of the domain's commands: checks it and its player,
    /// keeps nothing.
    pub(super) fn apply_analytics(&mut self, ctx: Ctx, command: &Command) -> Applied {
        if let Err(rejection) = command.validate() {
            return rejected(rejection);
        }
        if let Some(player) = command.player()
            && let Err(rejection) = self.player(player)
        {
            return rejected(rejection);
        }
        match command {
            Command::RaiseMarkerAlert { .. } => (Outcome::MarkerAlertRaised { alert: ctx.seq }, Detail::Plain),
            Command::Intervene { .. } => (Outcome::InterventionIssued { intervention: ctx.seq }, Detail::Plain),
            _ => (Outcome::Accepted, Detail::Plain),
        }
    }
}

#[cfg(test)]
mod tests;
