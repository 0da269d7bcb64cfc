//! The payments domain's commands: deposits, withdrawals and operator
//! adjustments.

use crate::command::TxRef;
use crate::ids::{OperatorId, PlayerId, Reason};
use crate::money::{Amount, Currency};

/// What the payments domain can be asked to do.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Command {
    /// A payment provider started a deposit; it counts against deposit limits.
    DepositInitiate {
        /// The player.
        player: PlayerId,
        /// Currency of the deposit.
        currency: Currency,
        /// Amount, positive.
        amount: Amount,
    },
    /// The provider confirmed an initiated deposit: the cash lands.
    DepositConfirm {
        /// The initiating request.
        deposit: TxRef,
    },
    /// The provider reported an initiated deposit failed.
    DepositFail {
        /// The initiating request.
        deposit: TxRef,
    },
    /// A deposit that is initiated and confirmed in one step: an operator
    /// funding a player by hand, or a provider that confirms synchronously.
    /// It passes the checks of [`Command::DepositInitiate`] and lands like
    /// [`Command::DepositConfirm`], or changes nothing.
    Deposit {
        /// The player.
        player: PlayerId,
        /// Currency of the deposit.
        currency: Currency,
        /// Amount, positive.
        amount: Amount,
    },
    /// The player asks to withdraw: the amount moves from cash to reserved.
    WithdrawalRequest {
        /// The player.
        player: PlayerId,
        /// Currency of the withdrawal.
        currency: Currency,
        /// Amount, positive.
        amount: Amount,
    },
    /// Finance approves a requested withdrawal (stays reserved).
    WithdrawalApprove {
        /// The requesting request.
        withdrawal: TxRef,
    },
    /// Finance rejects a withdrawal: the reserve is released back to cash.
    WithdrawalReject {
        /// The requesting request.
        withdrawal: TxRef,
    },
    /// The payout went out: the reserve leaves the ledger.
    WithdrawalComplete {
        /// The requesting request.
        withdrawal: TxRef,
    },
    /// A manual correction of a cash balance, with who and why.
    Adjust {
        /// The player.
        player: PlayerId,
        /// The wallet's currency.
        currency: Currency,
        /// Signed change to cash, not zero.
        amount: Amount,
        /// Why.
        reason: Reason,
        /// Who.
        operator: OperatorId,
    },
}

impl Command {
    /// The player the command is about; settlements name their payment instead.
    pub fn player(&self) -> Option<PlayerId> {
        match self {
            Command::DepositInitiate { player, .. }
            | Command::Deposit { player, .. }
            | Command::WithdrawalRequest { player, .. }
            | Command::Adjust { player, .. } => Some(*player),
            Command::DepositConfirm { .. }
            | Command::DepositFail { .. }
            | Command::WithdrawalApprove { .. }
            | Command::WithdrawalReject { .. }
            | Command::WithdrawalComplete { .. } => None,
        }
    }

    /// A short stable name, for logs, metrics and journal filters.
    pub fn kind(&self) -> &'static str {
        match self {
            Command::DepositInitiate { .. } => "deposit_initiate",
            Command::DepositConfirm { .. } => "deposit_confirm",
            Command::DepositFail { .. } => "deposit_fail",
            Command::Deposit { .. } => "deposit",
            Command::WithdrawalRequest { .. } => "withdrawal_request",
            Command::WithdrawalApprove { .. } => "withdrawal_approve",
            Command::WithdrawalReject { .. } => "withdrawal_reject",
            Command::WithdrawalComplete { .. } => "withdrawal_complete",
            Command::Adjust { .. } => "adjust",
        }
    }
}
