//! Payments: deposits, withdrawals, operator adjustments.

use super::*;

// ---------------------------------------------------------------------------
// Deposits
// ---------------------------------------------------------------------------

#[test]
fn deposit_confirm_credits_cash_once() {
    let mut h = Harness::new();
    let p = h.register();
    check(h.apply(PSP, "d1", deposit_cmd(p, 700)), h.moved(0, 0, bal(0, 0, 0, 0)));
    let initiated = Some(TxState::Payment(PaymentState::Initiated));
    assert_eq!(h.state(PSP, "d1"), initiated);
    assert_eq!(h.flows(), Flows::default());
    check(h.run(PSP, confirm_cmd("d1")), h.moved(700, 0, bal(700, 0, 0, 0)));
    let confirmed = PaymentState::Confirmed;
    assert_eq!(h.state(PSP, "d1"), Some(TxState::Payment(confirmed)));
    let wrong = Rejection::WrongPaymentState { state: confirmed };
    check_rejected(h.run(PSP, confirm_cmd("d1")), wrong);
    check_rejected(h.run(PSP, fail_cmd("d1")), wrong);
    assert_eq!(h.balances(p), bal(700, 0, 0, 0));
    let flows = Flows {
        deposits: 700,
        ..Flows::default()
    };
    assert_eq!(h.flows(), flows);
}

#[test]
fn deposit_fail_credits_nothing() {
    let mut h = Harness::new();
    let p = h.register();
    check(h.apply(PSP, "d1", deposit_cmd(p, 700)), h.moved(0, 0, bal(0, 0, 0, 0)));
    check(h.run(PSP, fail_cmd("d1")), h.moved(0, 0, bal(0, 0, 0, 0)));
    let failed = PaymentState::Failed;
    assert_eq!(h.state(PSP, "d1"), Some(TxState::Payment(failed)));
    let wrong = Rejection::WrongPaymentState { state: failed };
    check_rejected(h.run(PSP, confirm_cmd("d1")), wrong);
    check_rejected(h.run(PSP, fail_cmd("d1")), wrong);
    assert_eq!(h.balances(p), bal(0, 0, 0, 0));
    assert_eq!(h.flows(), Flows::default());
}

/// A settlement command (`confirm`, `fail`, `approve`, `reject`, `complete`)
/// referring to request `id` of `source`.
fn settle_cmd(action: &str, source: SourceId, id: &str) -> Command {
    let (deposit, withdrawal) = (tx(source, id), tx(source, id));
    match action {
        "confirm" => Command::Payments(engine_core::payments::Command::DepositConfirm { deposit }),
        "fail" => Command::Payments(engine_core::payments::Command::DepositFail { deposit }),
        "approve" => Command::Payments(engine_core::payments::Command::WithdrawalApprove { withdrawal }),
        "reject" => Command::Payments(engine_core::payments::Command::WithdrawalReject { withdrawal }),
        "complete" => Command::Payments(engine_core::payments::Command::WithdrawalComplete { withdrawal }),
        other => panic!("no settlement {other}"),
    }
}

#[test]
fn payment_references_must_name_a_payment_of_the_right_kind() {
    let mut h = Harness::new();
    let p = h.register();
    h.fund(p, 1000);
    h.apply(PSP, "d1", deposit_cmd(p, 100));
    h.apply(PSP, "w1", withdraw_cmd(p, 100));
    h.apply(PSP, "adj", adjust_cmd(p, EUR, 5));
    let money = h.money();
    let (unknown, wrong) = (Rejection::UnknownTransaction, Rejection::WrongTransactionKind);
    let cases = [
        ("confirm", PSP, "nope", unknown),
        ("fail", PSP, "nope", unknown),
        ("confirm", GAME, "d1", unknown), // ids are scoped by source
        ("confirm", PSP, "w1", wrong),
        ("fail", PSP, "adj", wrong),
        ("approve", PSP, "d1", wrong),
        ("reject", PSP, "d1", wrong),
        ("complete", PSP, "nope", unknown),
        ("complete", PSP, "d1", wrong),
        ("reject", PSP, "adj", wrong),
    ];
    for (action, source, id, rejection) in cases {
        let outcome = h.run(PSP, settle_cmd(action, source, id));
        assert_eq!(outcome, Outcome::Rejected(rejection), "{action} {id}");
    }
    assert_eq!(h.money(), money);
}

#[test]
fn open_payments_are_capped_by_payments_open_max() {
    let mut h = Harness::with(Config {
        payments_open_max: 2,
        ..Config::default()
    });
    let p = h.register();
    h.fund(p, 1000);
    h.apply(PSP, "d1", deposit_cmd(p, 100));
    h.apply(PSP, "w1", withdraw_cmd(p, 100));
    let full = Rejection::CapacityReached(Capacity::OpenPayments);
    check_rejected(h.run(PSP, deposit_cmd(p, 100)), full);
    check_rejected(h.run(PSP, withdraw_cmd(p, 100)), full);
    check(h.run(PSP, confirm_cmd("d1")), h.moved(100, 0, bal(1000, 0, 100, 0)));
    let outcome = h.run(PSP, withdraw_cmd(p, 100));
    check(outcome, h.moved(-100, 0, bal(900, 0, 200, 0)));
}

// ---------------------------------------------------------------------------
// Withdrawals
// ---------------------------------------------------------------------------

#[test]
fn withdrawal_reserves_then_leaves_the_ledger_on_completion() {
    let mut h = Harness::new();
    let p = h.register();
    h.fund(p, 1000);
    check(
        h.apply(PSP, "w1", withdraw_cmd(p, 400)),
        h.moved(-400, 0, bal(600, 0, 400, 0)),
    );
    assert_eq!(h.state(PSP, "w1"), Some(TxState::Payment(PaymentState::Requested)));
    check(h.run(PSP, approve_cmd("w1")), h.moved(0, 0, bal(600, 0, 400, 0)));
    assert_eq!(h.state(PSP, "w1"), Some(TxState::Payment(PaymentState::Approved)));
    let approved = Rejection::WrongPaymentState {
        state: PaymentState::Approved,
    };
    check_rejected(h.run(PSP, approve_cmd("w1")), approved);
    check(h.run(PSP, complete_cmd("w1")), h.moved(0, 0, bal(600, 0, 0, 0)));
    let completed = PaymentState::Completed;
    assert_eq!(h.state(PSP, "w1"), Some(TxState::Payment(completed)));
    for again in [complete_cmd("w1"), reject_cmd("w1"), approve_cmd("w1")] {
        check_rejected(h.run(PSP, again), Rejection::WrongPaymentState { state: completed });
    }
    let flows = Flows {
        deposits: 1000,
        withdrawals: 400,
        ..Flows::default()
    };
    assert_eq!(h.flows(), flows);
    assert_eq!(h.balances(p), bal(600, 0, 0, 0));
}

#[test]
fn withdrawal_reject_releases_the_reserve_before_or_after_approval() {
    for approve_first in [false, true] {
        let mut h = Harness::new();
        let p = h.register();
        h.fund(p, 1000);
        check(
            h.apply(PSP, "w1", withdraw_cmd(p, 400)),
            h.moved(-400, 0, bal(600, 0, 400, 0)),
        );
        if approve_first {
            check(h.run(PSP, approve_cmd("w1")), h.moved(0, 0, bal(600, 0, 400, 0)));
        }
        check(h.run(PSP, reject_cmd("w1")), h.moved(400, 0, bal(1000, 0, 0, 0)));
        let rejected = PaymentState::Rejected;
        assert_eq!(h.state(PSP, "w1"), Some(TxState::Payment(rejected)));
        let wrong = Rejection::WrongPaymentState { state: rejected };
        check_rejected(h.run(PSP, complete_cmd("w1")), wrong);
        let flows = Flows {
            deposits: 1000,
            ..Flows::default()
        };
        assert_eq!(h.flows(), flows);
    }
}

#[test]
fn withdrawal_complete_without_approval_is_wrong_payment_state() {
    let mut h = Harness::new();
    let p = h.register();
    h.fund(p, 1000);
    h.apply(PSP, "w1", withdraw_cmd(p, 400));
    let requested = Rejection::WrongPaymentState {
        state: PaymentState::Requested,
    };
    check_rejected(h.run(PSP, complete_cmd("w1")), requested);
    assert_eq!(h.balances(p), bal(600, 0, 400, 0));
    assert_eq!(h.flows().withdrawals, 0);
}

#[test]
fn withdrawals_spend_only_unreserved_cash() {
    let mut h = Harness::new();
    let p = h.register();
    h.fund(p, 300);
    check(
        h.grant(grant(p, 500, 10_000, 500)),
        h.moved(0, 500, bal(300, 500, 0, 0)),
    );
    let short = |available| Rejection::InsufficientFunds {
        available: amt(available),
    };
    check_rejected(h.run(PSP, withdraw_cmd(p, 301)), short(300));
    check(h.run(PSP, withdraw_cmd(p, 300)), h.moved(-300, 0, bal(0, 500, 300, 0)));
    check_rejected(h.run(PSP, withdraw_cmd(p, 1)), short(0));
    for minor in [0, -5] {
        check_rejected(h.run(PSP, withdraw_cmd(p, minor)), Rejection::InvalidAmount);
    }
    assert_eq!(h.balances(p), bal(0, 500, 300, 0));
}

// ---------------------------------------------------------------------------
// Adjustments and overflow
// ---------------------------------------------------------------------------

#[test]
fn adjustments_correct_cash_within_what_is_there() {
    let mut h = Harness::new();
    let p = h.register();
    check(h.run(OPS, adjust_cmd(p, EUR, 500)), h.moved(500, 0, bal(500, 0, 0, 0)));
    check(
        h.run(OPS, adjust_cmd(p, EUR, -200)),
        h.moved(-200, 0, bal(300, 0, 0, 0)),
    );
    let short = Rejection::InsufficientFunds { available: amt(300) };
    check_rejected(h.run(OPS, adjust_cmd(p, EUR, -301)), short);
    check_rejected(h.run(OPS, adjust_cmd(p, EUR, 0)), Rejection::InvalidAmount);
    let no_usd = Rejection::CurrencyMismatch { currency: USD };
    check_rejected(h.run(OPS, adjust_cmd(p, USD, -1)), no_usd);
    check_rejected(h.run(OPS, adjust_cmd(NOBODY, EUR, 1)), Rejection::UnknownPlayer);
    let usd = h.run(OPS, adjust_cmd(p, USD, 70));
    let receipt = Receipt {
        seq: h.seq,
        cash_delta: amt(70),
        bonus_delta: amt(0),
        balances: bal_in(USD, 70, 0, 0, 0),
    };
    check(usd, Outcome::Moved(receipt));
    let wallets = h.ledger.player_info(p).unwrap().wallets;
    assert_eq!(wallets, vec![bal(300, 0, 0, 0), bal_in(USD, 70, 0, 0, 0)]);
    assert_eq!(h.flows().adjustments, 300);
    assert_eq!(h.ledger.flows(USD).adjustments, 70);
}

#[test]
fn adjustments_are_not_blocked_by_account_status() {
    let mut h = Harness::new();
    let p = h.register();
    check(h.run(OPS, status_cmd(p, AccountStatus::Suspended)), Outcome::Accepted);
    check(h.run(OPS, adjust_cmd(p, EUR, 50)), h.moved(50, 0, bal(50, 0, 0, 0)));
}

#[test]
fn balances_that_would_overflow_are_refused() {
    let mut h = Harness::new();
    let p = h.register();
    let max = i64::MAX;
    check(h.run(OPS, adjust_cmd(p, EUR, max)), h.moved(max, 0, bal(max, 0, 0, 0)));
    check_rejected(h.run(OPS, adjust_cmd(p, EUR, 1)), Rejection::Overflow);
    let jackpot = win_cmd(p, 1, "none", WinKind::Jackpot);
    check_rejected(h.run(GAME, jackpot), Rejection::Overflow);
    h.apply(PSP, "d1", deposit_cmd(p, 1));
    check_rejected(h.run(PSP, confirm_cmd("d1")), Rejection::Overflow);
    let open = Some(TxState::Payment(PaymentState::Initiated));
    assert_eq!(h.state(PSP, "d1"), open);
    check(h.run(PSP, fail_cmd("d1")), h.moved(0, 0, bal(max, 0, 0, 0)));
    assert_eq!(h.flows().deposits, 0);
}

/// Issue #9 item 4: an instant deposit is one command, so a refusal (here
/// an overflow) leaves no open deposit behind, as initiate + confirm did.
#[test]
fn an_instant_deposit_lands_whole_or_changes_nothing() {
    let mut h = Harness::new();
    let p = h.register();
    let instant = |minor| {
        Command::Payments(engine_core::payments::Command::Deposit {
            player: p,
            currency: EUR,
            amount: amt(minor),
        })
    };
    check(h.apply(OPS, "i1", instant(300)), h.moved(300, 0, bal(300, 0, 0, 0)));
    assert_eq!(h.state(OPS, "i1"), Some(TxState::Payment(PaymentState::Confirmed)));
    assert_eq!(h.flows().deposits, 300);
    check_rejected(h.apply(OPS, "i2", instant(i64::MAX)), Rejection::Overflow);
    assert_eq!(h.state(OPS, "i2"), Some(TxState::Done), "refused, not left open");
    check_rejected(h.apply(OPS, "i3", instant(0)), Rejection::InvalidAmount);
    let day = limit(LimitMetric::Deposit, LimitPeriod::Day);
    check(h.run(OPS, limit_cmd(p, day, Some(500))), Outcome::Accepted);
    let hit = Rejection::LimitExceeded {
        limit: day,
        remaining: amt(500),
    };
    check_rejected(h.apply(OPS, "i4", instant(501)), hit);
    check(h.apply(OPS, "i5", instant(500)), h.moved(500, 0, bal(800, 0, 0, 0)));
    check(h.run(OPS, status_cmd(p, AccountStatus::Suspended)), Outcome::Accepted);
    check_rejected(h.apply(OPS, "i6", instant(1)), blocked(BlockReason::Suspended));
    assert_eq!((h.balances(p), h.flows().deposits), (bal(800, 0, 0, 0), 800));
    assert_eq!(h.replay().digest(), h.ledger.digest());
}

#[test]
fn a_win_on_a_round_whose_stakes_sum_past_i64_does_not_panic() {
    let mut h = Harness::new();
    let p = h.register();
    let max = i64::MAX;
    h.run(OPS, adjust_cmd(p, EUR, max));
    let bonus = BonusGrant {
        default_contribution_pct: 0,
        ..grant(p, 10, 1000, 10)
    };
    h.grant(bonus);
    let points = (max / 100) as u64;
    check(h.bet("b1", p, max, "r1"), h.moved(-max, 0, bal(0, 10, 0, points)));
    check(h.bet("b2", p, 1, "r1"), h.moved(0, -1, bal(0, 9, 0, points)));
    // Bonus share: 2 * 1 / (MAX + 1) rounds to 0, so all of it is cash.
    check(h.win(p, 2, "r1"), h.moved(2, 0, bal(2, 9, 0, points)));
}

// ---------------------------------------------------------------------------
// The cashier: expiry, chargebacks, references, four eyes, reversals
// ---------------------------------------------------------------------------

use engine_core::payments::Command as Payments;

fn expire_deposit_cmd(id: &str, after_ms: u64) -> Command {
    Command::Payments(Payments::DepositExpire {
        deposit: tx(PSP, id),
        after_ms,
    })
}

fn chargeback_cmd(id: &str, minor: i64) -> Command {
    Command::Payments(Payments::DepositChargeback {
        deposit: tx(PSP, id),
        amount: amt(minor),
    })
}

fn first_approval_cmd(id: &str) -> Command {
    Command::Payments(Payments::WithdrawalFirstApproval {
        withdrawal: tx(PSP, id),
    })
}

fn second_approval_cmd(id: &str, first: (SourceId, &str)) -> Command {
    Command::Payments(Payments::WithdrawalApproveSecond {
        withdrawal: tx(PSP, id),
        first: tx(first.0, first.1),
    })
}

fn reverse_cmd(id: &str, player: PlayerId) -> Command {
    Command::Payments(Payments::WithdrawalReverse {
        withdrawal: tx(PSP, id),
        player,
    })
}

#[test]
fn a_deposit_expires_only_once_stale_by_journaled_time_and_gives_back_its_limit_use() {
    let mut h = Harness::new();
    let p = h.register();
    let kind = limit(LimitMetric::Deposit, LimitPeriod::Day);
    h.run(OPS, limit_cmd(p, kind, Some(1000)));
    h.apply(PSP, "d1", deposit_cmd(p, 1000));
    let spent = Rejection::LimitExceeded {
        limit: kind,
        remaining: amt(0),
    };
    check_rejected(h.run(PSP, deposit_cmd(p, 1)), spent);
    h.advance(HOUR - 1);
    let early = Rejection::DepositNotExpired {
        expires_at_ms: T0 + HOUR,
    };
    check_rejected(h.run(PSP, expire_deposit_cmd("d1", HOUR)), early);
    assert_eq!(h.state(PSP, "d1"), Some(TxState::Payment(PaymentState::Initiated)));
    h.advance(1);
    check(
        h.run(PSP, expire_deposit_cmd("d1", HOUR)),
        h.moved(0, 0, bal(0, 0, 0, 0)),
    );
    let failed = PaymentState::Failed;
    assert_eq!(h.state(PSP, "d1"), Some(TxState::Payment(failed)));
    // A late success changes nothing; the limit is free again.
    check_rejected(
        h.run(PSP, confirm_cmd("d1")),
        Rejection::WrongPaymentState { state: failed },
    );
    check(h.apply(PSP, "d2", deposit_cmd(p, 1000)), h.moved(0, 0, bal(0, 0, 0, 0)));
    assert_eq!(h.flows(), Flows::default());
}

#[test]
fn a_chargeback_takes_back_at_most_the_deposit_and_never_below_zero_cash() {
    let mut h = Harness::new();
    let p = h.register();
    let d = h.fund(p, 1000);
    h.apply(GAME, "b1", bet_cmd(p, 700, "r1"));
    // Half the deposit disputed while 300 is left: 300 is taken, 200 is short.
    check(h.run(PSP, chargeback_cmd(&d, 500)), h.moved(-300, 0, bal(0, 0, 0, 7)));
    let flows = Flows {
        deposits: 700,
        bets: 700,
        ..Flows::default()
    };
    assert_eq!(h.flows(), flows);
    // What is left to dispute is the other 500, not more.
    check_rejected(h.run(PSP, chargeback_cmd(&d, 501)), Rejection::InvalidAmount);
    h.fund(p, 200);
    check(h.run(PSP, chargeback_cmd(&d, 500)), h.moved(-200, 0, bal(0, 0, 0, 7)));
    check_rejected(h.run(PSP, chargeback_cmd(&d, 1)), Rejection::InvalidAmount);
    // Only confirmed deposits are charged back.
    h.apply(PSP, "open", deposit_cmd(p, 100));
    let initiated = Rejection::WrongPaymentState {
        state: PaymentState::Initiated,
    };
    check_rejected(h.run(PSP, chargeback_cmd("open", 100)), initiated);
    check_rejected(h.run(PSP, chargeback_cmd("nope", 100)), Rejection::UnknownTransaction);
    check_rejected(h.run(PSP, chargeback_cmd("open", 0)), Rejection::InvalidAmount);
}

#[test]
fn a_provider_reference_is_recorded_for_an_open_payment_only() {
    let mut h = Harness::new();
    let p = h.register();
    h.apply(PSP, "d1", deposit_cmd(p, 100));
    h.apply(PSP, "adj", adjust_cmd(p, EUR, 5));
    let reference = |id: &str| {
        Command::Payments(Payments::PaymentReference {
            payment: tx(PSP, id),
            provider: ext("stripe"),
            reference: ext("pi_1"),
        })
    };
    let money = h.money();
    check(h.run(PSP, reference("d1")), Outcome::Accepted);
    assert_eq!(h.money(), money);
    h.run(PSP, confirm_cmd("d1"));
    let confirmed = Rejection::WrongPaymentState {
        state: PaymentState::Confirmed,
    };
    check_rejected(h.run(PSP, reference("d1")), confirmed);
    check_rejected(h.run(PSP, reference("nope")), Rejection::UnknownTransaction);
    check_rejected(h.run(PSP, reference("adj")), Rejection::WrongTransactionKind);
    h.apply(PSP, "w1", withdraw_cmd(p, 100));
    check(h.run(PSP, reference("w1")), Outcome::Accepted);
}

#[test]
fn four_eyes_needs_an_accepted_first_approval_of_the_same_withdrawal_by_another_source() {
    const FINANCE_B: SourceId = SourceId(7);
    let mut h = Harness::new();
    let p = h.register();
    h.fund(p, 1000);
    h.apply(PSP, "w1", withdraw_cmd(p, 400));
    h.apply(PSP, "w2", withdraw_cmd(p, 100));
    let money = h.money();
    // No first approval, one of another withdrawal, or one by the same source.
    check_rejected(
        h.run(FINANCE_B, second_approval_cmd("w1", (OPS, "a1"))),
        Rejection::FourEyesRequired,
    );
    check(h.apply(OPS, "a2", first_approval_cmd("w2")), Outcome::Accepted);
    check_rejected(
        h.run(FINANCE_B, second_approval_cmd("w1", (OPS, "a2"))),
        Rejection::FourEyesRequired,
    );
    check(h.apply(OPS, "a1", first_approval_cmd("w1")), Outcome::Accepted);
    check_rejected(
        h.run(OPS, second_approval_cmd("w1", (OPS, "a1"))),
        Rejection::FourEyesRequired,
    );
    assert_eq!(h.money(), money);
    assert_eq!(h.state(PSP, "w1"), Some(TxState::Payment(PaymentState::Requested)));
    check(
        h.run(FINANCE_B, second_approval_cmd("w1", (OPS, "a1"))),
        h.moved(0, 0, bal(500, 0, 500, 0)),
    );
    assert_eq!(h.state(PSP, "w1"), Some(TxState::Payment(PaymentState::Approved)));
    // A refused first approval counts for nothing.
    let approved = Rejection::WrongPaymentState {
        state: PaymentState::Approved,
    };
    check_rejected(h.apply(OPS, "a3", first_approval_cmd("w1")), approved);
    check(h.run(PSP, complete_cmd("w1")), h.moved(0, 0, bal(500, 0, 100, 0)));
}

#[test]
fn a_player_takes_back_a_withdrawal_only_where_the_jurisdiction_allows_it() {
    use engine_core::players::{Command as PlayersCommand, JurisdictionProfile};
    let mut h = Harness::new();
    let no_reversal = JurisdictionProfile {
        withdrawal_reversal_allowed: false,
        ..JurisdictionProfile::UNRESTRICTED
    };
    h.run(
        OPS,
        Command::Players(PlayersCommand::SetJurisdictionProfile {
            jurisdiction: Some(Jurisdiction::new("GB").unwrap()),
            profile: Box::new(no_reversal),
            effective_from_ms: None,
            operator: OperatorId(4),
        }),
    );
    let uk = h.register_in(EUR, "GB");
    let mt = h.register();
    for p in [uk, mt] {
        h.fund(p, 1000);
    }
    h.apply(PSP, "uk", withdraw_cmd(uk, 400));
    h.apply(PSP, "mt", withdraw_cmd(mt, 400));
    check_rejected(
        h.run(OPS, reverse_cmd("uk", uk)),
        Rejection::WithdrawalReversalForbidden,
    );
    assert_eq!(h.ledger.balances(uk, EUR), Ok(bal(600, 0, 400, 0)));
    check_rejected(h.run(OPS, reverse_cmd("mt", uk)), Rejection::WrongTransactionKind);
    check(h.run(OPS, reverse_cmd("mt", mt)), h.moved(400, 0, bal(1000, 0, 0, 0)));
    let rejected = Rejection::WrongPaymentState {
        state: PaymentState::Rejected,
    };
    check_rejected(h.run(OPS, reverse_cmd("mt", mt)), rejected);
}

// ---------------------------------------------------------------------------
// Payment methods
// ---------------------------------------------------------------------------

fn method_cmd(player: PlayerId, method: &str, reference: &str) -> Command {
    Command::Payments(engine_core::payments::Command::AddPaymentMethod {
        player,
        method: ext(method),
        kind: engine_core::payments::PaymentMethodKind::Card,
        reference: ext(reference),
        holder: engine_core::payments::HolderMatch::Mismatch,
        operator: OperatorId(1),
    })
}

#[test]
fn payment_methods_need_a_player_and_a_token_never_a_card_number() {
    let mut h = Harness::new();
    let p = h.register();
    check(
        h.apply(PSP, "m1", method_cmd(p, "visa", "pm_card_visa")),
        Outcome::Accepted,
    );
    check(h.apply(PSP, "m2", method_cmd(p, "last4", "4242")), Outcome::Accepted);
    check_rejected(
        h.apply(PSP, "m3", method_cmd(PlayerId(99), "x", "pm_x")),
        Rejection::UnknownPlayer,
    );
    for pan in ["4111111111111111", "4111-1111-1111-1111", "378282246310005"] {
        check_rejected(
            h.apply(PSP, pan, method_cmd(p, "pan", pan)),
            Rejection::CardNumberAsReference,
        );
    }
    // Nothing moved, and a state change needs the player too.
    assert_eq!(h.balances(p), bal(0, 0, 0, 0));
    let disable = |player| {
        Command::Payments(engine_core::payments::Command::SetPaymentMethodState {
            player,
            method: ext("visa"),
            state: engine_core::payments::PaymentMethodState::Disabled,
            reason: engine_core::ids::Reason::new("lost").unwrap(),
            operator: OperatorId(1),
        })
    };
    check(h.apply(PSP, "s1", disable(p)), Outcome::Accepted);
    check_rejected(h.apply(PSP, "s2", disable(PlayerId(99))), Rejection::UnknownPlayer);
}

#[test]
fn a_payment_names_its_method_while_it_is_open() {
    let mut h = Harness::new();
    let p = h.register();
    let use_cmd = |id: &str| {
        Command::Payments(engine_core::payments::Command::PaymentMethodUse {
            payment: tx(PSP, id),
            method: ext("visa"),
        })
    };
    check(h.apply(PSP, "d1", deposit_cmd(p, 700)), h.moved(0, 0, bal(0, 0, 0, 0)));
    check(h.apply(PSP, "u1", use_cmd("d1")), Outcome::Accepted);
    check_rejected(h.apply(PSP, "u2", use_cmd("nope")), Rejection::UnknownTransaction);
    check(h.run(PSP, confirm_cmd("d1")), h.moved(700, 0, bal(700, 0, 0, 0)));
    let wrong = Rejection::WrongPaymentState {
        state: PaymentState::Confirmed,
    };
    check_rejected(h.apply(PSP, "u3", use_cmd("d1")), wrong);
}

#[test]
fn a_checked_confirmation_passes_the_initiations_gates_again_or_changes_nothing() {
    let mut h = Harness::new();
    let p = h.register();
    let checked =
        |id: &str| Command::Payments(engine_core::payments::Command::DepositConfirmChecked { deposit: tx(PSP, id) });
    check(h.apply(PSP, "d1", deposit_cmd(p, 700)), h.moved(0, 0, bal(0, 0, 0, 0)));
    // Suspended since the initiation: refused, the deposit still open.
    check(h.run(OPS, status_cmd(p, AccountStatus::Suspended)), Outcome::Accepted);
    check_rejected(
        h.run(PSP, checked("d1")),
        Rejection::PlayerBlocked(BlockReason::Suspended),
    );
    assert_eq!(h.state(PSP, "d1"), Some(TxState::Payment(PaymentState::Initiated)));
    assert_eq!(h.balances(p), bal(0, 0, 0, 0));
    // Reopened: it lands, once.
    check(h.run(OPS, status_cmd(p, AccountStatus::Active)), Outcome::Accepted);
    check(h.run(PSP, checked("d1")), h.moved(700, 0, bal(700, 0, 0, 0)));
    let wrong = Rejection::WrongPaymentState {
        state: PaymentState::Confirmed,
    };
    check_rejected(h.run(PSP, checked("d1")), wrong);

    // A daily limit lowered below what is counted (a decrease is at once).
    let daily = limit(LimitMetric::Deposit, LimitPeriod::Day);
    check(h.run(OPS, limit_cmd(p, daily, Some(2_000))), Outcome::Accepted);
    check(
        h.apply(PSP, "d2", deposit_cmd(p, 500)),
        h.moved(0, 0, bal(700, 0, 0, 0)),
    );
    check(h.run(OPS, limit_cmd(p, daily, Some(300))), Outcome::Accepted);
    check_rejected(
        h.run(PSP, checked("d2")),
        Rejection::LimitExceeded {
            limit: daily,
            remaining: Amount::ZERO,
        },
    );
    // The unchecked confirmation still lands (journals before tag 88).
    check(h.run(PSP, confirm_cmd("d2")), h.moved(500, 0, bal(1_200, 0, 0, 0)));
}
