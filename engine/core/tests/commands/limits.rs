//! Responsible gambling: deposit limits and limit changes (wager and loss
//! limits on bets are in `gaming`).

use super::*;

// ---------------------------------------------------------------------------
// Deposit limits
// ---------------------------------------------------------------------------

#[test]
fn deposit_limits_count_initiated_deposits_over_their_window() {
    let cases = [
        (LimitPeriod::Day, 23 * HOUR, 26 * HOUR),
        (LimitPeriod::Week, 6 * DAY, 9 * DAY),
        (LimitPeriod::Month, 29 * DAY, 32 * DAY),
    ];
    for (period, inside, outside) in cases {
        let mut h = Harness::new();
        let p = h.register();
        let kind = limit(LimitMetric::Deposit, period);
        check(h.run(OPS, limit_cmd(p, kind, Some(1000))), Outcome::Accepted);
        check(h.run(PSP, deposit_cmd(p, 600)), h.moved(0, 0, bal(0, 0, 0, 0)));
        let hit = Rejection::LimitExceeded {
            limit: kind,
            remaining: amt(400),
        };
        check_rejected(h.run(PSP, deposit_cmd(p, 500)), hit);
        h.at(T0 + inside);
        check_rejected(h.run(PSP, deposit_cmd(p, 500)), hit);
        h.at(T0 + outside);
        let outcome = h.run(PSP, deposit_cmd(p, 500));
        assert_eq!(outcome, h.moved(0, 0, bal(0, 0, 0, 0)), "{period:?}");
        assert_eq!(h.ledger.limits_in_force(p, EUR, h.now), vec![(kind, amt(1000))]);
    }
}

#[test]
fn deposit_limit_decrease_is_immediate_and_increase_waits_the_cooling_off() {
    let mut h = Harness::new();
    let p = h.register();
    let day = limit(LimitMetric::Deposit, LimitPeriod::Day);
    check(h.run(OPS, limit_cmd(p, day, Some(1000))), Outcome::Accepted);
    check(h.run(OPS, limit_cmd(p, day, Some(500))), Outcome::Accepted);
    let hit = Rejection::LimitExceeded {
        limit: day,
        remaining: amt(500),
    };
    check_rejected(h.run(PSP, deposit_cmd(p, 600)), hit);
    let effective_at_ms = h.now + DAY;
    let scheduled = Outcome::Scheduled { effective_at_ms };
    check(h.run(OPS, limit_cmd(p, day, Some(2000))), scheduled);
    check_rejected(h.run(PSP, deposit_cmd(p, 600)), hit);
    assert_eq!(h.ledger.limits_in_force(p, EUR, h.now), vec![(day, amt(500))]);
    h.at(effective_at_ms - 1);
    check_rejected(h.run(PSP, deposit_cmd(p, 600)), hit);
    h.at(effective_at_ms);
    check(h.run(PSP, deposit_cmd(p, 600)), h.moved(0, 0, bal(0, 0, 0, 0)));
    assert_eq!(h.ledger.limits_in_force(p, EUR, h.now), vec![(day, amt(2000))]);
    // Removing a limit is a loosening too.
    let removal = Outcome::Scheduled {
        effective_at_ms: h.now + DAY,
    };
    check(h.run(OPS, limit_cmd(p, day, None)), removal);
    assert_eq!(h.ledger.limits_in_force(p, EUR, h.now), vec![(day, amt(2000))]);
    h.advance(DAY);
    assert_eq!(h.ledger.limits_in_force(p, EUR, h.now), Vec::new());
}

#[test]
fn a_failed_deposit_frees_limit_room_and_a_confirmed_one_keeps_counting() {
    let mut h = Harness::new();
    let p = h.register();
    let day = limit(LimitMetric::Deposit, LimitPeriod::Day);
    check(h.run(OPS, limit_cmd(p, day, Some(1000))), Outcome::Accepted);
    h.apply(PSP, "d1", deposit_cmd(p, 800));
    let hit = |remaining| Rejection::LimitExceeded {
        limit: day,
        remaining: amt(remaining),
    };
    check_rejected(h.run(PSP, deposit_cmd(p, 300)), hit(200));
    h.advance(HOUR);
    check(h.run(PSP, fail_cmd("d1")), h.moved(0, 0, bal(0, 0, 0, 0)));
    check(h.apply(PSP, "d2", deposit_cmd(p, 300)), h.moved(0, 0, bal(0, 0, 0, 0)));
    check(h.run(PSP, confirm_cmd("d2")), h.moved(300, 0, bal(300, 0, 0, 0)));
    check_rejected(h.run(PSP, deposit_cmd(p, 800)), hit(700));
}

#[test]
fn set_limit_validates_its_amount_player_and_wallet() {
    let mut h = Harness::new();
    let p = h.register();
    let day = limit(LimitMetric::Wager, LimitPeriod::Day);
    check_rejected(h.run(OPS, limit_cmd(p, day, Some(-1))), Rejection::InvalidAmount);
    let usd = Command::Rg(engine_core::rg::Command::SetLimit {
        player: p,
        currency: USD,
        limit: day,
        amount: Some(amt(10)),
    });
    check_rejected(h.run(OPS, usd), Rejection::CurrencyMismatch { currency: USD });
    assert_eq!(h.ledger.limits_in_force(p, EUR, h.now), Vec::new());
    check(h.run(OPS, limit_cmd(p, day, Some(0))), Outcome::Accepted);
    assert_eq!(h.ledger.limits_in_force(p, EUR, h.now), vec![(day, amt(0))]);
}

// ---------------------------------------------------------------------------
// Limits must not be loosened by amounts counted before they existed
// ---------------------------------------------------------------------------

#[test]
fn rolling_back_a_bet_from_before_the_wager_limit_does_not_add_room() {
    let mut h = Harness::new();
    let p = h.register();
    h.fund(p, 1000);
    check(h.bet("b1", p, 500, "r1"), h.moved(-500, 0, bal(500, 0, 0, 5)));
    let day = limit(LimitMetric::Wager, LimitPeriod::Day);
    check(h.run(OPS, limit_cmd(p, day, Some(100))), Outcome::Accepted);
    check(h.bet("b2", p, 100, "r2"), h.moved(-100, 0, bal(400, 0, 0, 6)));
    check(h.rollback(p, "b1"), h.moved(500, 0, bal(900, 0, 0, 1)));
    let spent = Rejection::LimitExceeded {
        limit: day,
        remaining: amt(0),
    };
    check_rejected(h.bet("b3", p, 100, "r3"), spent);
}

#[test]
fn failing_a_deposit_from_before_the_deposit_limit_does_not_add_room() {
    let mut h = Harness::new();
    let p = h.register();
    h.apply(PSP, "d1", deposit_cmd(p, 800));
    let day = limit(LimitMetric::Deposit, LimitPeriod::Day);
    check(h.run(OPS, limit_cmd(p, day, Some(1000))), Outcome::Accepted);
    check(h.apply(PSP, "d2", deposit_cmd(p, 1000)), h.moved(0, 0, bal(0, 0, 0, 0)));
    check(h.run(PSP, fail_cmd("d1")), h.moved(0, 0, bal(0, 0, 0, 0)));
    let spent = Rejection::LimitExceeded {
        limit: day,
        remaining: amt(0),
    };
    check_rejected(h.run(PSP, deposit_cmd(p, 500)), spent);
}
