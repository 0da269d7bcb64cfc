//! The payments domain's commands: deposits, withdrawals, operator
//! adjustments and players' payment methods.

use crate::command::TxRef;
use crate::ids::{ExtId, OperatorId, PlayerId, Reason};
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
    /// An initiated deposit nobody settled in time fails: refused unless the
    /// envelope's time is at least `after_ms` past the initiation (journaled
    /// time, so a replay decides the same). Its deposit-limit use is taken
    /// back, as for [`Command::DepositFail`].
    DepositExpire {
        /// The initiating request.
        deposit: TxRef,
        /// How long an initiated deposit may stay open, ms.
        after_ms: u64,
    },
    /// A confirmed deposit was disputed and the provider took the money
    /// back (a chargeback): up to `amount` leaves the player's cash, never
    /// more than there is; the rest is the operator's loss, reported by
    /// the outcome's balances (and the read model) as the shortfall. The
    /// deposit must still be in the request memory.
    DepositChargeback {
        /// The deposit disputed.
        deposit: TxRef,
        /// The amount charged back, positive, at most the deposit's.
        amount: Amount,
    },
    /// Records which provider handles an open deposit or withdrawal and
    /// under which reference (the provider's payment or payout id), so that
    /// its webhooks, status reads and cancellation can be matched from the
    /// journal alone.
    PaymentReference {
        /// The initiating or requesting request.
        payment: TxRef,
        /// The provider's name (`stripe`).
        provider: ExtId,
        /// The provider's reference of the payment.
        reference: ExtId,
    },
    /// The first of two approvals of a withdrawal above the four-eyes
    /// amount: nothing moves; [`Command::WithdrawalApproveSecond`] names it.
    WithdrawalFirstApproval {
        /// The requesting request.
        withdrawal: TxRef,
    },
    /// The second approval of a withdrawal under four eyes: `first` must be
    /// a [`Command::WithdrawalFirstApproval`] of the same withdrawal that
    /// was accepted, sent from another source (another operator). Then as
    /// [`Command::WithdrawalApprove`].
    WithdrawalApproveSecond {
        /// The requesting request.
        withdrawal: TxRef,
        /// The first approval's request.
        first: TxRef,
    },
    /// The player takes back a withdrawal not yet approved: the reserve
    /// returns to cash, where the player's jurisdiction profile allows it
    /// (UK RTS 14B does not).
    WithdrawalReverse {
        /// The requesting request.
        withdrawal: TxRef,
        /// The player asking (must be the withdrawal's).
        player: PlayerId,
    },
    /// A provider's settlement file compared with the ledger: the
    /// differences it showed, for operators to resolve. It changes no
    /// money (nothing is ever corrected automatically); the ledger checks
    /// its shape and keeps nothing: the queue is the read model's.
    ReconciliationImport {
        /// The provider whose file it is.
        provider: ExtId,
        /// The file's name: a digest of its bytes, so importing the same
        /// file again is the same request.
        file: ExtId,
        /// Rows that matched the ledger.
        matched: u32,
        /// The differences, at most [`RECONCILIATION_ITEMS_MAX`].
        items: Vec<ReconciliationItem>,
    },
    /// An operator resolves one difference of an imported file, with why.
    /// The read side checks that the difference exists and is open.
    ReconciliationResolve {
        /// The provider whose file it is.
        provider: ExtId,
        /// The file (its digest).
        file: ExtId,
        /// The provider's reference of the difference.
        reference: ExtId,
        /// Why it is resolved (what was done outside the ledger, or why
        /// nothing needs doing).
        reason: Reason,
        /// Who.
        operator: OperatorId,
    },
    /// An operator sets the rate of `base` in `quote` from a moment on
    /// (journaled history; a later setting for the same moment wins). The
    /// ledger checks it and keeps nothing: the read side converts with it
    /// (reporting, cross-currency AML thresholds).
    SetFxRate {
        /// The currency priced.
        base: Currency,
        /// The currency it is priced in.
        quote: Currency,
        /// Units of `quote` per unit of `base`, times [`FX_RATE_SCALE`];
        /// positive.
        rate_scaled: i64,
        /// From when it is in force, ms since the epoch.
        effective_at_ms: u64,
        /// Who.
        operator: OperatorId,
    },
    /// An operator records a payment method of a player: a card, e-wallet,
    /// bank account or crypto address, by a tokenized reference only (the
    /// provider's token, the last four digits, a wallet address), never a
    /// card number ([`looks_like_card_number`] is refused). The ledger
    /// checks the player exists and the reference's shape and keeps
    /// nothing: the methods are the read model's.
    AddPaymentMethod {
        /// The player.
        player: PlayerId,
        /// The method's id, chosen by the caller, unique per player.
        method: ExtId,
        /// What it is.
        kind: PaymentMethodKind,
        /// The tokenized reference.
        reference: ExtId,
        /// How the holder's name compared with the player's profile (the
        /// gateway compares; the name itself is never journaled).
        holder: HolderMatch,
        /// Who.
        operator: OperatorId,
    },
    /// An operator disables, enables again or removes a payment method.
    /// The read side checks the method exists and the change is allowed
    /// (a removed method stays removed).
    SetPaymentMethodState {
        /// The player.
        player: PlayerId,
        /// The method's id.
        method: ExtId,
        /// Its new state.
        state: PaymentMethodState,
        /// Why.
        reason: Reason,
        /// Who.
        operator: OperatorId,
    },
    /// A deposit or withdrawal names the payment method it uses (the read
    /// side checked it is the player's and active). Like
    /// [`Command::PaymentReference`], the payment must still be open.
    PaymentMethodUse {
        /// The initiating or requesting request.
        payment: TxRef,
        /// The method's id.
        method: ExtId,
    },
    /// The provider confirmed an initiated deposit, and the gates checked
    /// at its initiation are checked again now: the account may still
    /// deposit (status, exclusions, KYC gates, due diligence) and no
    /// deposit limit is exceeded (a decrease since the initiation takes
    /// effect at once). Then as [`Command::DepositConfirm`]; otherwise it
    /// is refused with the gate's rejection and changes nothing: the
    /// deposit stays open in the ledger and the read side holds it for
    /// review (the money is at the provider, neither credited nor lost).
    DepositConfirmChecked {
        /// The initiating request.
        deposit: TxRef,
    },
    /// Holds the player's withdrawals under the name `hold` (an AML case,
    /// `case-<id>`, or compliance's own): while the player has any hold, the
    /// ledger refuses every approval of their withdrawals (first, second,
    /// single) with [`crate::outcome::Rejection::WithdrawalHeld`], in the
    /// same step as the money would move. Requests are still taken (the
    /// amount is reserved, so it cannot be played or moved meanwhile);
    /// rejection, reversal and completion of a withdrawal approved before
    /// are not held. Placing a hold the player already has under that name
    /// changes nothing (a retry after a restart). At most
    /// [`WITHDRAWAL_HOLDS_MAX`] holds per player.
    HoldWithdrawals {
        /// The player.
        player: PlayerId,
        /// The hold's name: `case-<id>` for an AML case.
        hold: ExtId,
        /// Why.
        reason: Reason,
        /// Who.
        operator: OperatorId,
    },
    /// Lifts the player's hold named `hold`; the withdrawals flow again
    /// once no other hold remains (another open case keeps them held).
    ReleaseWithdrawals {
        /// The player.
        player: PlayerId,
        /// The hold's name, as placed.
        hold: ExtId,
        /// Why.
        reason: Reason,
        /// Who.
        operator: OperatorId,
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

/// What a payment method is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PaymentMethodKind {
    /// A payment card, by the provider's token or its last four digits.
    Card,
    /// An e-wallet account, by the wallet provider's reference.
    EWallet,
    /// A bank account, by a tokenized reference.
    Bank,
    /// A crypto wallet, by its address (payouts go there).
    Crypto,
}

impl PaymentMethodKind {
    /// Its stable name.
    pub fn name(self) -> &'static str {
        match self {
            PaymentMethodKind::Card => "card",
            PaymentMethodKind::EWallet => "ewallet",
            PaymentMethodKind::Bank => "bank",
            PaymentMethodKind::Crypto => "crypto",
        }
    }

    /// The kind named `name`.
    pub fn from_name(name: &str) -> Option<PaymentMethodKind> {
        [Self::Card, Self::EWallet, Self::Bank, Self::Crypto]
            .into_iter()
            .find(|kind| kind.name() == name)
    }
}

/// How a payment method's holder name compared with the player's profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HolderMatch {
    /// The same name.
    Matches,
    /// Another name: a third-party method (a risk signal).
    Mismatch,
    /// Not compared: no holder name given, or no profile to compare with.
    Unchecked,
}

impl HolderMatch {
    /// Its stable name.
    pub fn name(self) -> &'static str {
        match self {
            HolderMatch::Matches => "matches",
            HolderMatch::Mismatch => "mismatch",
            HolderMatch::Unchecked => "unchecked",
        }
    }
}

/// Where a payment method stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PaymentMethodState {
    /// Usable.
    Active,
    /// Not usable until enabled again.
    Disabled,
    /// Gone for good (kept for the history).
    Removed,
}

impl PaymentMethodState {
    /// Its stable name.
    pub fn name(self) -> &'static str {
        match self {
            PaymentMethodState::Active => "active",
            PaymentMethodState::Disabled => "disabled",
            PaymentMethodState::Removed => "removed",
        }
    }
}

/// Whether `reference` is, apart from spaces and dashes, 13 to 19 digits
/// that pass the Luhn check: a primary account number, which must never be
/// stored (PCI DSS); a tokenized reference never looks like one.
pub fn looks_like_card_number(reference: &str) -> bool {
    let mut digits = Vec::with_capacity(19);
    for byte in reference.bytes() {
        match byte {
            b'0'..=b'9' if digits.len() < 20 => digits.push(u32::from(byte - b'0')),
            b'0'..=b'9' => return false,
            b' ' | b'-' => {}
            _ => return false,
        }
    }
    if !(13..=19).contains(&digits.len()) {
        return false;
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| match (i % 2, d * 2) {
            (0, _) => d,
            (_, doubled) if doubled > 9 => doubled - 9,
            (_, doubled) => doubled,
        })
        .sum();
    sum.is_multiple_of(10)
}

/// Most withdrawal holds one player may have at once (one per open AML
/// case on them, and compliance's own).
pub const WITHDRAWAL_HOLDS_MAX: usize = 32;

/// The scale of an FX rate: eight decimal places.
pub const FX_RATE_SCALE: i64 = 100_000_000;

/// Most differences one settlement file may carry.
pub const RECONCILIATION_ITEMS_MAX: usize = 10_000;

/// How a settlement file's row and the ledger's payment differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReconciliationGap {
    /// The file names a payment the ledger has not settled under this
    /// provider's reference.
    MissingInLedger,
    /// The ledger settled a payment the file does not name.
    MissingInFile,
    /// Both name it, with different amounts.
    AmountMismatch,
    /// Both name it, in different currencies.
    CurrencyMismatch,
}

/// One difference between a settlement file and the ledger.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ReconciliationItem {
    /// The provider's reference of the payment.
    pub reference: ExtId,
    /// How they differ.
    pub gap: ReconciliationGap,
    /// The file's currency (the ledger's, if the file lacks the row).
    pub file_currency: Currency,
    /// The file's amount, not negative (zero if the file lacks the row).
    pub file_amount: Amount,
    /// The ledger's currency (the file's, if the ledger lacks the payment).
    pub ledger_currency: Currency,
    /// The ledger's amount, not negative (zero if it lacks the payment).
    pub ledger_amount: Amount,
}

impl Command {
    /// The player the command is about; settlements name their payment instead.
    pub fn player(&self) -> Option<PlayerId> {
        match self {
            Command::DepositInitiate { player, .. }
            | Command::Deposit { player, .. }
            | Command::WithdrawalRequest { player, .. }
            | Command::WithdrawalReverse { player, .. }
            | Command::AddPaymentMethod { player, .. }
            | Command::SetPaymentMethodState { player, .. }
            | Command::HoldWithdrawals { player, .. }
            | Command::ReleaseWithdrawals { player, .. }
            | Command::Adjust { player, .. } => Some(*player),
            Command::DepositConfirm { .. }
            | Command::DepositFail { .. }
            | Command::WithdrawalApprove { .. }
            | Command::WithdrawalReject { .. }
            | Command::WithdrawalComplete { .. }
            | Command::DepositExpire { .. }
            | Command::DepositChargeback { .. }
            | Command::PaymentReference { .. }
            | Command::WithdrawalFirstApproval { .. }
            | Command::WithdrawalApproveSecond { .. }
            | Command::ReconciliationImport { .. }
            | Command::ReconciliationResolve { .. }
            | Command::SetFxRate { .. }
            | Command::PaymentMethodUse { .. }
            | Command::DepositConfirmChecked { .. } => None,
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
            Command::DepositExpire { .. } => "deposit_expire",
            Command::DepositChargeback { .. } => "deposit_chargeback",
            Command::PaymentReference { .. } => "payment_reference",
            Command::WithdrawalFirstApproval { .. } => "withdrawal_first_approval",
            Command::WithdrawalApproveSecond { .. } => "withdrawal_approve_second",
            Command::WithdrawalReverse { .. } => "withdrawal_reverse",
            Command::ReconciliationImport { .. } => "reconciliation_import",
            Command::ReconciliationResolve { .. } => "reconciliation_resolve",
            Command::SetFxRate { .. } => "set_fx_rate",
            Command::AddPaymentMethod { .. } => "add_payment_method",
            Command::SetPaymentMethodState { .. } => "set_payment_method_state",
            Command::PaymentMethodUse { .. } => "payment_method_use",
            // The same confirmation as far as movements and reports go.
            Command::DepositConfirmChecked { .. } => "deposit_confirm",
            Command::HoldWithdrawals { .. } => "hold_withdrawals",
            Command::ReleaseWithdrawals { .. } => "release_withdrawals",
            Command::Adjust { .. } => "adjust",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::looks_like_card_number;

    #[test]
    fn card_numbers_are_13_to_19_digits_passing_luhn() {
        for pan in [
            "4111111111111111",
            "4111 1111 1111 1111",
            "4111-1111-1111-1111",
            "378282246310005",
            "6011111111111117",
            "4222222222222",
        ] {
            assert!(looks_like_card_number(pan), "{pan}");
        }
        for token in [
            "4111111111111112",
            "4242",
            "pm_card_visa",
            "411111111111",
            "41111111111111111111",
            "0xd1cDE08A07cD25adEbEd35c3867a59228C09B606",
            "",
        ] {
            assert!(!looks_like_card_number(token), "{token}");
        }
    }
}
