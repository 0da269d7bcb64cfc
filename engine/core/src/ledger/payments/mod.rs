//! The payments domain: deposits, withdrawals and operator adjustments.
//!
//! Its own state, [`PaymentsState`], counts the payments not yet final
//! (bounded by `Config::payments_open_max`); each open payment's details
//! are its request's record in the request memory (`../store.rs`), which
//! keeps it until it is final, and the money is in the player's wallet.

mod command;

pub use self::command::{
    Command, FX_RATE_SCALE, HolderMatch, PaymentMethodKind, PaymentMethodState, RECONCILIATION_ITEMS_MAX,
    ReconciliationGap, ReconciliationItem, WITHDRAWAL_HOLDS_MAX, looks_like_card_number,
};

use std::collections::BTreeMap;

use super::account::{Activity, Wallet};
use super::store::{Detail, PaymentDetail};
use super::{Applied, Ctx, Ledger, rejected};
use crate::codec::codec_struct;
use crate::codec::{Decode, DecodeError, Encode, Reader, Sink};
use crate::command::{LimitMetric, TxRef};
use crate::ids::{ExtId, PlayerId};
use crate::money::{Amount, Currency};
use crate::outcome::{Capacity, Outcome, PaymentState, Rejection};

/// A settlement file's differences: bounded, amounts not negative. Nothing
/// is kept and no money moves.
fn reconciliation_import(items: &[ReconciliationItem]) -> Applied {
    if items.len() > RECONCILIATION_ITEMS_MAX {
        return rejected(Rejection::ReconciliationTooLarge {
            max: RECONCILIATION_ITEMS_MAX as u32,
        });
    }
    if items
        .iter()
        .any(|i| i.file_amount.is_negative() || i.ledger_amount.is_negative())
    {
        return rejected(Rejection::InvalidAmount);
    }
    (Outcome::Accepted, Detail::Plain)
}

/// Deposits and withdrawals not yet final, and the players whose
/// withdrawals are held.
#[derive(Clone, Debug, Default)]
pub(crate) struct PaymentsState {
    open: usize,
    /// Each held player's holds, in the order placed (few players have
    /// any: a map beside the players rather than a field in each).
    holds: BTreeMap<PlayerId, Vec<ExtId>>,
}

/// One player's withdrawal holds, as the snapshot image keeps them
/// (format 13 on; none before).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WithdrawalHolds {
    /// The player.
    pub player: PlayerId,
    /// The holds' names, in the order placed; never empty.
    pub holds: Vec<ExtId>,
}

codec_struct!(WithdrawalHolds { player, holds });

impl PaymentsState {
    /// Payments not yet final.
    pub(crate) fn open_len(&self) -> usize {
        self.open
    }

    /// The held players' holds, by player id (the snapshot image's part).
    pub(crate) fn take_holds(&mut self) -> Vec<WithdrawalHolds> {
        std::mem::take(&mut self.holds)
            .into_iter()
            .map(|(player, holds)| WithdrawalHolds { player, holds })
            .collect()
    }

    /// Puts back the holds of an image: false unless they are by player id,
    /// ascending, each player's non-empty, bounded and without a repeat.
    pub(crate) fn restore_holds(&mut self, holds: Vec<WithdrawalHolds>) -> bool {
        let mut last = None;
        for entry in holds {
            let repeated = entry
                .holds
                .iter()
                .enumerate()
                .any(|(i, h)| entry.holds[..i].contains(h));
            if last.is_some_and(|l| l >= entry.player)
                || entry.holds.is_empty()
                || entry.holds.len() > WITHDRAWAL_HOLDS_MAX
                || repeated
            {
                return false;
            }
            last = Some(entry.player);
            self.holds.insert(entry.player, entry.holds);
        }
        true
    }

    /// The player's withdrawal holds, in the order placed.
    pub(crate) fn holds_of(&self, player: PlayerId) -> &[ExtId] {
        self.holds.get(&player).map_or(&[], Vec::as_slice)
    }

    /// Refused while the player has a hold.
    fn check_not_held(&self, player: PlayerId) -> Result<(), Rejection> {
        match self.holds.get(&player) {
            Some(holds) => Err(Rejection::WithdrawalHeld {
                holds: holds.len() as u32,
            }),
            None => Ok(()),
        }
    }
}

impl Ledger {
    /// Applies one of the domain's commands.
    pub(super) fn apply_payments(&mut self, ctx: Ctx, command: &Command) -> Applied {
        match command {
            Command::DepositInitiate {
                player,
                currency,
                amount,
            } => self.deposit_initiate(ctx, *player, *currency, *amount),
            Command::Deposit {
                player,
                currency,
                amount,
            } => self.deposit_instant(ctx, *player, *currency, *amount),
            Command::DepositConfirm { deposit } => self.deposit_settle(ctx, deposit, Settle::Confirm),
            Command::DepositConfirmChecked { deposit } => {
                let key = self.fingerprints.request(deposit.source, &deposit.id);
                let (payment, _) = check!(self.open_payment(key, true, &[PaymentState::Initiated]));
                check!(self.may_still_deposit(ctx, payment.player, payment.currency));
                self.deposit_settle(ctx, deposit, Settle::Confirm)
            }
            Command::DepositFail { deposit } => self.deposit_settle(ctx, deposit, Settle::Fail),
            Command::DepositExpire { deposit, after_ms } => {
                self.deposit_settle(ctx, deposit, Settle::Expire { after_ms: *after_ms })
            }
            Command::DepositChargeback { deposit, amount } => self.deposit_chargeback(ctx, deposit, *amount),
            Command::PaymentReference { payment, .. } => self.payment_reference(payment),
            Command::WithdrawalFirstApproval { withdrawal } => self.withdrawal_first_approval(withdrawal),
            Command::WithdrawalApproveSecond { withdrawal, first } => {
                self.withdrawal_approve_second(ctx, withdrawal, first)
            }
            Command::WithdrawalReverse { withdrawal, player } => self.withdrawal_reverse(ctx, withdrawal, *player),
            Command::WithdrawalRequest {
                player,
                currency,
                amount,
            } => self.withdrawal_request(ctx, *player, *currency, *amount),
            Command::WithdrawalApprove { withdrawal } => self.withdrawal_approve(ctx, withdrawal),
            Command::WithdrawalReject { withdrawal } => self.withdrawal_settle(ctx, withdrawal, false),
            Command::WithdrawalComplete { withdrawal } => self.withdrawal_settle(ctx, withdrawal, true),
            Command::Adjust {
                player,
                currency,
                amount,
                ..
            } => self.adjust(ctx, *player, *currency, *amount),
            Command::AddPaymentMethod { player, reference, .. } => {
                check!(self.player(*player));
                if looks_like_card_number(reference.as_str()) {
                    return rejected(Rejection::CardNumberAsReference);
                }
                (Outcome::Accepted, Detail::Plain)
            }
            Command::SetPaymentMethodState { player, .. } => {
                check!(self.player(*player));
                (Outcome::Accepted, Detail::Plain)
            }
            // Recorded beside an open payment, as its provider reference is.
            Command::PaymentMethodUse { payment, .. } => self.payment_reference(payment),
            Command::HoldWithdrawals { player, hold, .. } => {
                check!(self.player(*player));
                let holds = self.payments.holds.entry(*player).or_default();
                if !holds.contains(hold) {
                    if holds.len() >= WITHDRAWAL_HOLDS_MAX {
                        return rejected(Rejection::CapacityReached(Capacity::WithdrawalHolds));
                    }
                    holds.push(hold.clone());
                }
                let holds = holds.len() as u32;
                (Outcome::WithdrawalHolds { holds }, Detail::Plain)
            }
            Command::ReleaseWithdrawals { player, hold, .. } => {
                check!(self.player(*player));
                let Some(holds) = self.payments.holds.get_mut(player) else {
                    return rejected(Rejection::UnknownWithdrawalHold);
                };
                let Some(at) = holds.iter().position(|h| h == hold) else {
                    return rejected(Rejection::UnknownWithdrawalHold);
                };
                holds.remove(at);
                let left = holds.len() as u32;
                if left == 0 {
                    self.payments.holds.remove(player);
                }
                (Outcome::WithdrawalHolds { holds: left }, Detail::Plain)
            }
            Command::ReconciliationImport { items, .. } => reconciliation_import(items),
            // The read side checks the difference exists; nothing here moves.
            Command::ReconciliationResolve { .. } => (Outcome::Accepted, Detail::Plain),
            Command::SetFxRate {
                base,
                quote,
                rate_scaled,
                ..
            } => {
                if base == quote || *rate_scaled <= 0 {
                    return rejected(Rejection::InvalidFxRate);
                }
                (Outcome::Accepted, Detail::Plain)
            }
        }
    }

    fn deposit_initiate(&mut self, ctx: Ctx, id: PlayerId, currency: Currency, amount: Amount) -> Applied {
        if !amount.is_positive() {
            return rejected(Rejection::InvalidAmount);
        }
        if self.payments.open >= self.config.payments_open_max {
            return rejected(Rejection::CapacityReached(Capacity::OpenPayments));
        }
        check!(self.may_deposit(ctx, id, currency, amount));
        // Nothing can fail from here on.
        let before = self.count_deposit(ctx, id, currency, amount).balances();
        self.payments.open += 1;
        let detail = PaymentDetail {
            player: id,
            currency,
            amount,
            state: PaymentState::Initiated,
        };
        (self.receipt(ctx, id, before), Detail::Payment(detail))
    }

    /// A deposit initiated and confirmed at once: the initiation's checks,
    /// then the confirmation's, and only then any change.
    fn deposit_instant(&mut self, ctx: Ctx, id: PlayerId, currency: Currency, amount: Amount) -> Applied {
        if !amount.is_positive() {
            return rejected(Rejection::InvalidAmount);
        }
        check!(self.may_deposit(ctx, id, currency, amount));
        let cash = self.balances(id, currency).map_or(Amount::ZERO, |b| b.cash);
        let cash = check!(cash.checked_add(amount).ok_or(Rejection::Overflow));
        // Nothing can fail from here on.
        let wallet = self.count_deposit(ctx, id, currency, amount);
        let before = wallet.balances();
        wallet.cash = cash;
        self.count_confirmed(ctx, id, currency, amount);
        self.flows_mut(currency).deposits += i128::from(amount.minor());
        self.note_first_deposit(id, ctx.time_ms);
        let detail = PaymentDetail {
            player: id,
            currency,
            amount,
            state: PaymentState::Confirmed,
        };
        (self.receipt(ctx, id, before), Detail::Payment(detail))
    }

    /// Whether the player may deposit `amount` now: account, jurisdiction
    /// and deposit limits (whose pending raises are promoted first).
    fn may_deposit(&mut self, ctx: Ctx, id: PlayerId, currency: Currency, amount: Amount) -> Result<(), Rejection> {
        let (player, profile) = self.players.with_profile(id, ctx.time_ms)?;
        player.check(Activity::Deposit, profile, ctx.time_ms)?;
        let player = self.player_mut(id)?;
        if let Some(limits) = player.wallet_mut(currency).ok().and_then(|w| w.limits.as_deref_mut()) {
            limits.promote(ctx.time_ms);
            let checked = limits.check(&[LimitMetric::Deposit], amount, ctx.time_ms);
            checked.map_err(|(limit, remaining)| Rejection::LimitExceeded { limit, remaining })?;
        }
        Ok(())
    }

    /// Whether an initiated deposit may still land: the account's gates
    /// now, and no deposit limit exceeded by what is counted already (the
    /// deposit itself counted at its initiation).
    fn may_still_deposit(&mut self, ctx: Ctx, id: PlayerId, currency: Currency) -> Result<(), Rejection> {
        let (player, profile) = self.players.with_profile(id, ctx.time_ms)?;
        player.check(Activity::Deposit, profile, ctx.time_ms)?;
        let player = self.player_mut(id)?;
        if let Some(limits) = player.wallet_mut(currency).ok().and_then(|w| w.limits.as_deref_mut()) {
            limits.promote(ctx.time_ms);
            let checked = limits.exceeded(&[LimitMetric::Deposit], ctx.time_ms);
            checked.map_err(|(limit, remaining)| Rejection::LimitExceeded { limit, remaining })?;
        }
        Ok(())
    }

    /// Counts an accepted deposit against the limits, opening the wallet if
    /// needed; returns the wallet, its balances not yet changed.
    fn count_deposit(&mut self, ctx: Ctx, id: PlayerId, currency: Currency, amount: Amount) -> &mut Wallet {
        let wallet = self
            .player_mut(id)
            .expect("checked by may_deposit")
            .wallet_or_open(currency);
        if let Some(limits) = wallet.limits.as_deref_mut() {
            limits.record(LimitMetric::Deposit, ctx.time_ms, amount.minor());
        }
        wallet
    }

    /// Counts a confirmed deposit towards the due-diligence threshold, if
    /// the player's profile in force has one in its currency (a
    /// confirmation is owed money: it lands even past the threshold).
    /// Counting only under a threshold keeps the count a function of the
    /// journal alone: ledgers before profiles counted nothing, so a replay
    /// from the genesis and one from an older snapshot (which holds no
    /// counts) agree.
    fn count_confirmed(&mut self, ctx: Ctx, id: PlayerId, currency: Currency, amount: Amount) {
        let Ok((_, profile)) = self.players.with_profile(id, ctx.time_ms) else {
            return;
        };
        if profile.due_diligence_threshold(currency).is_none() {
            return;
        }
        if let Ok(player) = self.player_mut(id) {
            player.due_diligence.get_or_insert_default().count(currency, amount);
        }
    }

    /// Records the player's first confirmed deposit (the limit prompt's
    /// second moment, LCCP 3.5).
    fn note_first_deposit(&mut self, id: PlayerId, now_ms: u64) {
        if let Ok(player) = self.player_mut(id) {
            player.prompts_mut().first_deposit_ms.get_or_insert(now_ms);
        }
    }

    /// Confirms, fails or expires an initiated deposit.
    fn deposit_settle(&mut self, ctx: Ctx, deposit: &TxRef, settle: Settle) -> Applied {
        let key = self.fingerprints.request(deposit.source, &deposit.id);
        let (payment, initiated) = check!(self.open_payment(key, true, &[PaymentState::Initiated]));
        if let Settle::Expire { after_ms } = settle {
            // Journaled times only: the initiation's and this envelope's.
            let expires_at_ms = initiated.1.saturating_add(after_ms);
            if ctx.time_ms < expires_at_ms {
                return rejected(Rejection::DepositNotExpired { expires_at_ms });
            }
        }
        let player = check!(self.player_mut(payment.player));
        let wallet = check!(player.wallet_mut(payment.currency));
        let before = wallet.balances();
        let state = if settle == Settle::Confirm {
            wallet.cash = check!(wallet.cash.checked_add(payment.amount).ok_or(Rejection::Overflow));
            self.count_confirmed(ctx, payment.player, payment.currency, payment.amount);
            self.flows_mut(payment.currency).deposits += i128::from(payment.amount.minor());
            self.note_first_deposit(payment.player, ctx.time_ms);
            PaymentState::Confirmed
        } else {
            if let Some(limits) = wallet.limits.as_deref_mut() {
                limits.take_back(LimitMetric::Deposit, initiated, payment.amount.minor());
            }
            PaymentState::Failed
        };
        self.close_payment(key, state);
        (self.receipt(ctx, payment.player, before), Detail::Plain)
    }

    /// Takes a disputed deposit's money back: up to `amount` from cash,
    /// never below zero (the shortfall is the operator's loss, visible in
    /// the receipt); the money leaves the ledger as a negative deposit.
    /// The deposit's remembered amount becomes what may still be charged
    /// back, so a second dispute of the same deposit cannot take more than
    /// it brought.
    fn deposit_chargeback(&mut self, ctx: Ctx, deposit: &TxRef, amount: Amount) -> Applied {
        if !amount.is_positive() {
            return rejected(Rejection::InvalidAmount);
        }
        let key = self.fingerprints.request(deposit.source, &deposit.id);
        let record = check!(self.requests.get(key).ok_or(Rejection::UnknownTransaction));
        let Detail::Payment(payment) = &record.detail else {
            return rejected(Rejection::WrongTransactionKind);
        };
        if !payment.state.is_deposit() {
            return rejected(Rejection::WrongTransactionKind);
        }
        if payment.state != PaymentState::Confirmed {
            return rejected(Rejection::WrongPaymentState { state: payment.state });
        }
        if amount > payment.amount {
            return rejected(Rejection::InvalidAmount);
        }
        let payment = payment.clone();
        let wallet = check!(
            self.player_mut(payment.player)
                .and_then(|p| p.wallet_mut(payment.currency))
        );
        // Nothing can fail from here on.
        let before = wallet.balances();
        let taken = amount.min(wallet.cash);
        wallet.cash = Amount::from_minor(wallet.cash.minor() - taken.minor());
        self.flows_mut(payment.currency).deposits -= i128::from(taken.minor());
        if let Some(super::store::TxRecord {
            detail: Detail::Payment(p),
            ..
        }) = self.requests.get_mut(key)
        {
            p.amount = Amount::from_minor(p.amount.minor() - amount.minor());
        }
        (self.receipt(ctx, payment.player, before), Detail::Plain)
    }

    /// A provider's reference for a payment: accepted while the payment is
    /// open; nothing in the ledger changes (the journal keeps it).
    fn payment_reference(&mut self, payment: &TxRef) -> Applied {
        let key = self.fingerprints.request(payment.source, &payment.id);
        let record = check!(self.requests.get(key).ok_or(Rejection::UnknownTransaction));
        let Detail::Payment(payment) = &record.detail else {
            return rejected(Rejection::WrongTransactionKind);
        };
        if payment.state.is_final() {
            return rejected(Rejection::WrongPaymentState { state: payment.state });
        }
        (Outcome::Accepted, Detail::Plain)
    }

    /// The first approval under four eyes: accepted for a requested
    /// withdrawal; the second approval names this request.
    fn withdrawal_first_approval(&mut self, withdrawal: &TxRef) -> Applied {
        let key = self.fingerprints.request(withdrawal.source, &withdrawal.id);
        let (payment, _) = check!(self.open_payment(key, false, &[PaymentState::Requested]));
        check!(self.payments.check_not_held(payment.player));
        (Outcome::Accepted, Detail::Plain)
    }

    /// The second approval under four eyes: the request memory must hold
    /// `first` as an accepted first approval of this very withdrawal (its
    /// payload fingerprint says which), from another source than this one.
    fn withdrawal_approve_second(&mut self, ctx: Ctx, withdrawal: &TxRef, first: &TxRef) -> Applied {
        if first.source == ctx.source {
            return rejected(Rejection::FourEyesRequired);
        }
        let expected = Command::WithdrawalFirstApproval {
            withdrawal: withdrawal.clone(),
        };
        let payload = self.fingerprints.payload(&crate::command::Command::Payments(expected));
        let first_key = self.fingerprints.request(first.source, &first.id);
        let approved_first = self
            .requests
            .get(first_key)
            .is_some_and(|record| record.payload == payload && record.outcome == Outcome::Accepted);
        if !approved_first {
            return rejected(Rejection::FourEyesRequired);
        }
        self.withdrawal_approve(ctx, withdrawal)
    }

    /// The player takes back a requested withdrawal, where the profile in
    /// force allows it.
    fn withdrawal_reverse(&mut self, ctx: Ctx, withdrawal: &TxRef, player: PlayerId) -> Applied {
        let key = self.fingerprints.request(withdrawal.source, &withdrawal.id);
        let (payment, _) = check!(self.open_payment(key, false, &[PaymentState::Requested]));
        if payment.player != player {
            return rejected(Rejection::WrongTransactionKind);
        }
        let (_, profile) = check!(self.players.with_profile(player, ctx.time_ms));
        if !profile.withdrawal_reversal_allowed {
            return rejected(Rejection::WithdrawalReversalForbidden);
        }
        self.withdrawal_settle(ctx, withdrawal, false)
    }

    fn withdrawal_request(&mut self, ctx: Ctx, id: PlayerId, currency: Currency, amount: Amount) -> Applied {
        if !amount.is_positive() {
            return rejected(Rejection::InvalidAmount);
        }
        if self.payments.open >= self.config.payments_open_max {
            return rejected(Rejection::CapacityReached(Capacity::OpenPayments));
        }
        let (player, profile) = check!(self.players.with_profile(id, ctx.time_ms));
        check!(player.check(Activity::Withdraw, profile, ctx.time_ms));
        let player = check!(self.player_mut(id));
        let wallet = check!(player.wallet_mut(currency));
        if wallet.cash < amount {
            return rejected(Rejection::InsufficientFunds { available: wallet.cash });
        }
        let reserved = check!(wallet.reserved.checked_add(amount).ok_or(Rejection::Overflow));
        let before = wallet.balances();
        wallet.cash = Amount::from_minor(wallet.cash.minor() - amount.minor());
        wallet.reserved = reserved;
        self.payments.open += 1;
        let detail = PaymentDetail {
            player: id,
            currency,
            amount,
            state: PaymentState::Requested,
        };
        (self.receipt(ctx, id, before), Detail::Payment(detail))
    }

    fn withdrawal_approve(&mut self, ctx: Ctx, withdrawal: &TxRef) -> Applied {
        let key = self.fingerprints.request(withdrawal.source, &withdrawal.id);
        let (payment, _) = check!(self.open_payment(key, false, &[PaymentState::Requested]));
        // The hold is checked in the same step as the approval: no case
        // opened between a read and this command can be missed.
        check!(self.payments.check_not_held(payment.player));
        let before = check!(self.balances(payment.player, payment.currency));
        if let Some(super::store::TxRecord {
            detail: Detail::Payment(p),
            ..
        }) = self.requests.get_mut(key)
        {
            p.state = PaymentState::Approved;
        }
        (self.receipt(ctx, payment.player, before), Detail::Plain)
    }

    /// Completes (`complete`) an approved withdrawal, or rejects a requested
    /// or approved one, releasing the reserve.
    fn withdrawal_settle(&mut self, ctx: Ctx, withdrawal: &TxRef, complete: bool) -> Applied {
        let key = self.fingerprints.request(withdrawal.source, &withdrawal.id);
        let allowed: &[PaymentState] = if complete {
            &[PaymentState::Approved]
        } else {
            &[PaymentState::Requested, PaymentState::Approved]
        };
        let (payment, _) = check!(self.open_payment(key, false, allowed));
        let wallet = check!(
            self.player_mut(payment.player)
                .and_then(|p| p.wallet_mut(payment.currency))
        );
        let before = wallet.balances();
        let reserved = check!(wallet.reserved.checked_sub(payment.amount).ok_or(Rejection::Overflow));
        assert!(!reserved.is_negative(), "reserve of an open withdrawal went negative");
        let state = if complete {
            wallet.reserved = reserved;
            self.flows_mut(payment.currency).withdrawals += i128::from(payment.amount.minor());
            PaymentState::Completed
        } else {
            wallet.cash = check!(wallet.cash.checked_add(payment.amount).ok_or(Rejection::Overflow));
            wallet.reserved = reserved;
            PaymentState::Rejected
        };
        self.close_payment(key, state);
        (self.receipt(ctx, payment.player, before), Detail::Plain)
    }

    /// The open payment under `key`, if it is a deposit (`deposit`) or a
    /// withdrawal in one of the `allowed` states; with the (seq, time) it began.
    fn open_payment(
        &self,
        key: super::store::Key,
        deposit: bool,
        allowed: &[PaymentState],
    ) -> Result<(PaymentDetail, (u64, u64)), Rejection> {
        let record = self.requests.get(key).ok_or(Rejection::UnknownTransaction)?;
        let Detail::Payment(payment) = &record.detail else {
            return Err(Rejection::WrongTransactionKind);
        };
        if payment.state.is_deposit() != deposit {
            return Err(Rejection::WrongTransactionKind);
        }
        if !allowed.contains(&payment.state) {
            return Err(Rejection::WrongPaymentState { state: payment.state });
        }
        Ok((payment.clone(), (record.seq, record.time_ms)))
    }

    fn close_payment(&mut self, key: super::store::Key, state: PaymentState) {
        debug_assert!(state.is_final());
        if let Some(super::store::TxRecord {
            detail: Detail::Payment(p),
            ..
        }) = self.requests.get_mut(key)
        {
            p.state = state;
        }
        self.requests.settle(key);
        self.payments.open -= 1;
    }

    fn adjust(&mut self, ctx: Ctx, id: PlayerId, currency: Currency, amount: Amount) -> Applied {
        if amount == Amount::ZERO {
            return rejected(Rejection::InvalidAmount);
        }
        let player = check!(self.player_mut(id));
        let cash_now = match player.wallet(currency) {
            Some(wallet) => wallet.cash,
            None if amount.is_negative() => {
                return rejected(Rejection::CurrencyMismatch { currency });
            }
            None => Amount::ZERO,
        };
        let cash = check!(cash_now.checked_add(amount).ok_or(Rejection::Overflow));
        if cash.is_negative() {
            return rejected(Rejection::InsufficientFunds { available: cash_now });
        }
        let wallet = player.wallet_or_open(currency);
        let before = wallet.balances();
        wallet.cash = cash;
        self.flows_mut(currency).adjustments += i128::from(amount.minor());
        (self.receipt(ctx, id, before), Detail::Plain)
    }
}

/// How an initiated deposit ends.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Settle {
    /// The provider received the money.
    Confirm,
    /// The provider reported a failure.
    Fail,
    /// Nobody settled it within `after_ms` of its initiation.
    Expire { after_ms: u64 },
}

// The domain's part of the snapshot image (see `crate::codec`): the count
// of open payments (a `usize` is a `u64` on the wire). The holds are a part
// of their own, after every older one (format 13, `../image.rs`).
impl Encode for PaymentsState {
    fn encode<S: Sink>(&self, out: &mut S) {
        self.open.encode(out);
    }
}

impl Decode for PaymentsState {
    fn decode(input: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(PaymentsState {
            open: Decode::decode(input)?,
            holds: BTreeMap::new(),
        })
    }
}
