//! The players domain's commands (account life-cycle, KYC, jurisdiction
//! rules) and the account types they carry.

use crate::ids::{Jurisdiction, OperatorId, PlayerId};
use crate::money::Currency;

/// What the players domain (PAM) can be asked to do.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Command {
    /// Opens an account with a wallet in its base currency.
    RegisterPlayer {
        /// Base currency; its wallet is created at once.
        currency: Currency,
        /// Where the player is licensed.
        jurisdiction: Jurisdiction,
    },
    /// Sets what a jurisdiction demands before money moves.
    SetJurisdictionRules {
        /// The jurisdiction the rules apply to.
        jurisdiction: Jurisdiction,
        /// The rules.
        rules: JurisdictionRules,
    },
    /// Operator decision on an account: active, suspended, closed.
    SetAccountStatus {
        /// The player.
        player: PlayerId,
        /// The new status.
        status: AccountStatus,
        /// Who decided.
        operator: OperatorId,
    },
    /// Records a KYC decision.
    SetKyc {
        /// The player.
        player: PlayerId,
        /// The new level.
        level: KycLevel,
    },
}

impl Command {
    /// The player the command is about, if it names one.
    pub fn player(&self) -> Option<PlayerId> {
        match self {
            Command::SetAccountStatus { player, .. } | Command::SetKyc { player, .. } => Some(*player),
            Command::RegisterPlayer { .. } | Command::SetJurisdictionRules { .. } => None,
        }
    }

    /// A short stable name, for logs, metrics and journal filters.
    pub fn kind(&self) -> &'static str {
        match self {
            Command::RegisterPlayer { .. } => "register_player",
            Command::SetJurisdictionRules { .. } => "set_jurisdiction_rules",
            Command::SetAccountStatus { .. } => "set_account_status",
            Command::SetKyc { .. } => "set_kyc",
        }
    }
}

/// Operator-decided account status. Self-exclusion and time-outs are
/// separate, time-bounded blocks (the responsible-gambling domain's).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AccountStatus {
    /// May play.
    Active,
    /// Frozen by the operator: no bets, deposits or withdrawals.
    Suspended,
    /// Closed: no bets or deposits; owed money still lands and can be withdrawn.
    Closed,
}

/// Where a player's identity verification stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KycLevel {
    /// Nothing submitted.
    None,
    /// Submitted, not decided.
    Pending,
    /// Verified.
    Verified,
    /// Refused.
    Rejected,
}

/// What a jurisdiction requires before money moves.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct JurisdictionRules {
    /// Verified KYC before any deposit.
    pub kyc_before_deposit: bool,
    /// Verified KYC before any bet.
    pub kyc_before_bet: bool,
    /// Verified KYC before any withdrawal.
    pub kyc_before_withdrawal: bool,
}
