//! The risk domain: the anti-money-laundering work operators do, journaled
//! so that no rebuild of the read model loses it: opening a case on
//! alerts, assigning, annotating, noting an action and resolving it, and
//! setting an AML rule.
//!
//! Like the bonus templates (`../bonus/template.rs`) and the FX rates, the
//! ledger checks each command's shape (sizes, lengths, ranges) and keeps
//! nothing of it, so there is no snapshot change; the read model keeps the
//! cases, notes and rule settings, derived from these records. What the
//! ledger cannot see (whether an alert is free, a case open) the gateway
//! checks before it sends, and the projection checks again: a record that
//! no longer applies there changes nothing, the same on every rebuild.
//!
//! A case's id is the sequence number of the record that opened it,
//! answered in [`crate::Outcome::CaseOpened`] (so a retry, answered from
//! the deduplication table, names the same case).

use super::store::Detail;
use super::{Applied, Ctx, Ledger, rejected};
use crate::ids::{OperatorId, PlayerId};
use crate::money::{Amount, Currency};
use crate::outcome::{Outcome, Rejection};

/// Most alerts a case is opened with.
pub const CASE_ALERTS_MAX: usize = 100;
/// Longest case summary, bytes.
pub const SUMMARY_MAX: usize = 500;
/// Longest note or finding, bytes.
pub const NOTE_MAX: usize = 4_000;
/// Longest rule name, bytes.
pub const RULE_NAME_MAX: usize = 32;
/// The longest window a rule may have: 366 days.
pub const WINDOW_MS_MAX: u64 = 366 * 86_400_000;
/// The largest count a rule may need.
pub const COUNT_MAX: u32 = 10_000;
/// Most per-currency amounts a rule has.
pub const AMOUNTS_MAX: usize = 32;

/// Free text an operator wrote (a summary, a note, a finding, a rule's
/// name). Decoded as it was journaled; the ledger checks it
/// ([`RiskText::check`]) and refuses what does not fit.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RiskText(Box<str>);

impl RiskText {
    /// The text, unchecked (the ledger checks it when applied).
    pub fn new(text: &str) -> RiskText {
        RiskText(text.into())
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Not blank, at most `max` bytes, no control characters but line breaks.
    pub fn check(&self, max: usize) -> bool {
        !self.0.trim().is_empty() && self.0.len() <= max && self.0.chars().all(|c| !c.is_control() || c == '\n')
    }
}

/// How a case was resolved.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CaseOutcome {
    /// A suspicious-activity report was filed.
    Reported,
    /// Nothing to do.
    NoAction,
    /// The alerts were wrong.
    FalsePositive,
}

impl CaseOutcome {
    /// Its stable name.
    pub fn name(self) -> &'static str {
        match self {
            CaseOutcome::Reported => "reported",
            CaseOutcome::NoAction => "no_action",
            CaseOutcome::FalsePositive => "false_positive",
        }
    }

    /// The outcome named `name`.
    pub fn from_name(name: &str) -> Option<CaseOutcome> {
        [CaseOutcome::Reported, CaseOutcome::NoAction, CaseOutcome::FalsePositive]
            .into_iter()
            .find(|o| o.name() == name)
    }
}

/// What is done to an open case.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum CaseUpdate {
    /// Given to an operator to work.
    Assign {
        /// The operator.
        assignee: OperatorId,
    },
    /// Annotated.
    Note,
    /// An action on the player was taken: the command's journal record.
    Action {
        /// Its sequence number.
        seq: u64,
    },
    /// Resolved: it changes no more.
    Resolve {
        /// How.
        outcome: CaseOutcome,
    },
}

impl CaseUpdate {
    /// Its stable name (the note's kind in the read model).
    pub fn name(&self) -> &'static str {
        match self {
            CaseUpdate::Assign { .. } => "assigned",
            CaseUpdate::Note => "note",
            CaseUpdate::Action { .. } => "action",
            CaseUpdate::Resolve { .. } => "resolved",
        }
    }
}

/// A case command.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum CaseCommand {
    /// Opens a case on alerts, all about `player`.
    Open {
        /// The player.
        player: PlayerId,
        /// The alerts' ids, ascending, no repeats (1 to [`CASE_ALERTS_MAX`]).
        alerts: Vec<u64>,
        /// What it is about (1 to [`SUMMARY_MAX`] bytes).
        summary: RiskText,
        /// Who opened it.
        operator: OperatorId,
    },
    /// Changes an open case.
    Update {
        /// The case (the sequence number of its opening record).
        case: u64,
        /// What.
        update: CaseUpdate,
        /// The note, action or finding (1 to [`NOTE_MAX`] bytes; for an
        /// assignment, the text the read model shows).
        text: RiskText,
        /// Who.
        operator: OperatorId,
    },
}

/// An AML rule's settings, as operators set them.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RuleSettings {
    /// The rule's name (lowercase letters and underscores).
    pub rule: RiskText,
    /// Off: it raises nothing.
    pub enabled: bool,
    /// Its window, ms (at most [`WINDOW_MS_MAX`]).
    pub window_ms: u64,
    /// The count it needs (1 to [`COUNT_MAX`]).
    pub count_min: u32,
    /// Its percentage (0 to 100).
    pub percent: u32,
    /// Its amounts, positive, one per currency (at most [`AMOUNTS_MAX`]).
    pub amounts: Vec<(Currency, Amount)>,
}

/// What the risk domain can be asked to do.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Command {
    /// Opens or changes a case; refused with
    /// [`Rejection::InvalidCase`] when a size or length is out of bounds.
    Case(CaseCommand),
    /// Sets an AML rule; refused with [`Rejection::InvalidRiskRule`]
    /// when a setting is out of bounds.
    SetRule {
        /// The settings.
        settings: Box<RuleSettings>,
        /// Who set them.
        operator: OperatorId,
    },
}

impl Command {
    /// The player the command is about (an opening names one).
    pub fn player(&self) -> Option<PlayerId> {
        match self {
            Command::Case(CaseCommand::Open { player, .. }) => Some(*player),
            _ => None,
        }
    }

    /// A short stable name, for logs, metrics and journal filters.
    pub fn kind(&self) -> &'static str {
        match self {
            Command::Case(CaseCommand::Open { .. }) => "risk_case_open",
            Command::Case(CaseCommand::Update { .. }) => "risk_case_update",
            Command::SetRule { .. } => "risk_rule",
        }
    }

    /// Checks the command's sizes, lengths and ranges.
    pub fn validate(&self) -> Result<(), Rejection> {
        match self {
            Command::Case(CaseCommand::Open { alerts, summary, .. }) => {
                let ascending = alerts.windows(2).all(|pair| pair[0] < pair[1]);
                let sized = (1..=CASE_ALERTS_MAX).contains(&alerts.len()) && alerts.first().is_some_and(|a| *a > 0);
                if !ascending || !sized || !summary.check(SUMMARY_MAX) {
                    return Err(Rejection::InvalidCase);
                }
            }
            Command::Case(CaseCommand::Update { case, text, .. }) => {
                if *case == 0 || !text.check(NOTE_MAX) {
                    return Err(Rejection::InvalidCase);
                }
            }
            Command::SetRule { settings, .. } => settings.validate()?,
        }
        Ok(())
    }
}

impl RuleSettings {
    /// Checks the settings' ranges (which rules have a window is the read
    /// model's to know; the gateway checks it).
    pub fn validate(&self) -> Result<(), Rejection> {
        let name_ok = self.rule.0.len() <= RULE_NAME_MAX
            && !self.rule.0.is_empty()
            && self.rule.0.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
        let currencies_unique = self
            .amounts
            .iter()
            .enumerate()
            .all(|(i, (c, _))| self.amounts[..i].iter().all(|(other, _)| other != c));
        let fits = name_ok
            && self.window_ms <= WINDOW_MS_MAX
            && (1..=COUNT_MAX).contains(&self.count_min)
            && self.percent <= 100
            && self.amounts.len() <= AMOUNTS_MAX
            && self.amounts.iter().all(|(_, amount)| amount.is_positive())
            && currencies_unique;
        if fits { Ok(()) } else { Err(Rejection::InvalidRiskRule) }
    }
}

impl Ledger {
    /// Applies one of the domain's commands: checks it, keeps nothing.
    pub(super) fn apply_risk(&mut self, ctx: Ctx, command: &Command) -> Applied {
        if let Err(rejection) = command.validate() {
            return rejected(rejection);
        }
        match command {
            Command::Case(CaseCommand::Open { .. }) => (Outcome::CaseOpened { case: ctx.seq }, Detail::Plain),
            _ => (Outcome::Accepted, Detail::Plain),
        }
    }
}

#[cfg(test)]
mod tests;
