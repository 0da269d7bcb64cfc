//! Withdrawal holds: while a player has one (an AML case open on them),
//! the ledger refuses every approval of their withdrawals in the same step
//! as the money would move; requests, rejections and completions of what
//! was approved before still go through; holds are named, so one case's
//! resolution leaves another's hold in place; and they survive a snapshot
//! image and a replay.

use engine_core::codec::Encode;
use engine_core::ledger::{IMAGE_FORMAT_WITHDRAWAL_HOLDS, LedgerImage};
use engine_core::payments::{Command as Payments, WITHDRAWAL_HOLDS_MAX};

use super::*;

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

fn hold_cmd(player: PlayerId, hold: &str) -> Command {
    Command::Payments(Payments::HoldWithdrawals {
        player,
        hold: ext(hold),
        reason: Reason::new("aml case").unwrap(),
        operator: OperatorId(1),
    })
}

fn release_cmd(player: PlayerId, hold: &str) -> Command {
    Command::Payments(Payments::ReleaseWithdrawals {
        player,
        hold: ext(hold),
        reason: Reason::new("case resolved").unwrap(),
        operator: OperatorId(1),
    })
}

fn holds(n: u32) -> Outcome {
    Outcome::WithdrawalHolds { holds: n }
}

#[test]
fn a_held_player_s_withdrawals_are_requested_but_not_approved_until_every_hold_is_lifted() {
    const FINANCE_B: SourceId = SourceId(7);
    let mut h = Harness::new();
    let p = h.register();
    let other = h.register();
    h.fund(p, 1000);
    h.fund(other, 1000);
    h.apply(PSP, "w1", withdraw_cmd(p, 300));
    check(h.run(OPS, hold_cmd(p, "case-1")), holds(1));
    check(h.run(OPS, hold_cmd(p, "case-2")), holds(2));
    assert_eq!(h.ledger.withdrawal_holds(p), [ext("case-1"), ext("case-2")]);
    // A request is still taken: the amount is reserved meanwhile.
    check(
        h.apply(PSP, "w2", withdraw_cmd(p, 200)),
        h.moved(-200, 0, bal(500, 0, 500, 0)),
    );
    let money = h.money();
    let held = Rejection::WithdrawalHeld { holds: 2 };
    check_rejected(h.run(PSP, approve_cmd("w1")), held);
    check_rejected(h.apply(OPS, "a1", first_approval_cmd("w1")), held);
    assert_eq!(h.money(), money);
    assert_eq!(h.state(PSP, "w1"), Some(TxState::Payment(PaymentState::Requested)));
    // Another player's withdrawals flow.
    h.apply(PSP, "w3", withdraw_cmd(other, 100));
    check(h.run(PSP, approve_cmd("w3")), h.moved(0, 0, bal(900, 0, 100, 0)));
    // One case resolved: the other still holds.
    check(h.run(OPS, release_cmd(p, "case-1")), holds(1));
    check_rejected(h.run(PSP, approve_cmd("w1")), Rejection::WithdrawalHeld { holds: 1 });
    check(h.run(OPS, release_cmd(p, "case-2")), holds(0));
    assert!(h.ledger.withdrawal_holds(p).is_empty());
    check(h.run(PSP, approve_cmd("w1")), h.moved(0, 0, bal(500, 0, 500, 0)));
    assert_eq!(h.state(PSP, "w1"), Some(TxState::Payment(PaymentState::Approved)));
    // Four eyes: a first approval given before a hold does not carry the
    // second past it.
    check(h.apply(OPS, "a2", first_approval_cmd("w2")), Outcome::Accepted);
    check(h.run(OPS, hold_cmd(p, "case-3")), holds(1));
    check_rejected(
        h.run(FINANCE_B, second_approval_cmd("w2", (OPS, "a2"))),
        Rejection::WithdrawalHeld { holds: 1 },
    );
    // What was approved before the hold completes; a held request can be
    // rejected (the reserve returns).
    check(h.run(PSP, complete_cmd("w1")), h.moved(0, 0, bal(500, 0, 200, 0)));
    check(h.run(PSP, reject_cmd("w2")), h.moved(200, 0, bal(700, 0, 0, 0)));
    assert_eq!(h.replay().digest(), h.ledger.digest());
}

#[test]
fn holds_are_named_placed_once_bounded_and_refused_for_nobody() {
    let mut h = Harness::new();
    let p = h.register();
    check(h.run(OPS, hold_cmd(p, "case-1")), holds(1));
    // The same hold again (a retry after a restart) changes nothing.
    check(h.run(OPS, hold_cmd(p, "case-1")), holds(1));
    check_rejected(h.run(OPS, release_cmd(p, "case-9")), Rejection::UnknownWithdrawalHold);
    check_rejected(h.run(OPS, hold_cmd(NOBODY, "case-1")), Rejection::UnknownPlayer);
    check_rejected(h.run(OPS, release_cmd(NOBODY, "case-1")), Rejection::UnknownPlayer);
    check(h.run(OPS, release_cmd(p, "case-1")), holds(0));
    check_rejected(h.run(OPS, release_cmd(p, "case-1")), Rejection::UnknownWithdrawalHold);
    for n in 0..WITHDRAWAL_HOLDS_MAX {
        check(h.run(OPS, hold_cmd(p, &format!("h-{n}"))), holds(n as u32 + 1));
    }
    check_rejected(
        h.run(OPS, hold_cmd(p, "one-more")),
        Rejection::CapacityReached(Capacity::WithdrawalHolds),
    );
    assert_eq!(h.ledger.withdrawal_holds(p).len(), WITHDRAWAL_HOLDS_MAX);
}

#[test]
fn holds_survive_a_snapshot_image_and_still_refuse() {
    let mut h = Harness::new();
    let p = h.register();
    let q = h.register();
    h.fund(p, 1000);
    h.apply(PSP, "w1", withdraw_cmd(p, 300));
    h.run(OPS, hold_cmd(q, "case-7"));
    h.run(OPS, hold_cmd(p, "case-4"));
    h.run(OPS, hold_cmd(p, "compliance-1"));
    let ledger = std::mem::replace(&mut h.ledger, Ledger::new(h.config.clone()));
    let digest = ledger.digest();
    let mut bytes = Vec::new();
    ledger.into_image().encode(&mut bytes);
    let image = LedgerImage::decode_format(&bytes, IMAGE_FORMAT_WITHDRAWAL_HOLDS).unwrap();
    h.ledger = Ledger::from_image(image, &h.config).unwrap();
    assert_eq!(h.ledger.digest(), digest);
    assert_eq!(h.ledger.withdrawal_holds(p), [ext("case-4"), ext("compliance-1")]);
    assert_eq!(h.ledger.withdrawal_holds(q), [ext("case-7")]);
    check_rejected(h.run(PSP, approve_cmd("w1")), Rejection::WithdrawalHeld { holds: 2 });
    check(h.run(OPS, release_cmd(p, "case-4")), holds(1));
    check(h.run(OPS, release_cmd(p, "compliance-1")), holds(0));
    check(h.run(PSP, approve_cmd("w1")), h.moved(0, 0, bal(700, 0, 300, 0)));
}
