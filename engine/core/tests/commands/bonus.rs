//! Bonuses: grant, wagering, conversion, forfeit, expiry.

use super::*;

// ---------------------------------------------------------------------------
// Bonuses
// ---------------------------------------------------------------------------

/// Ways to spoil a valid grant, and the refusal each earns.
type Spoil = (&'static str, fn(&mut BonusGrant), Rejection);

const SPOILED_GRANTS: [Spoil; 8] = [
    ("zero amount", |g| g.amount = amt(0), Rejection::InvalidAmount),
    ("negative amount", |g| g.amount = amt(-1), Rejection::InvalidAmount),
    ("negative wagering", |g| g.wagering = amt(-1), Rejection::InvalidAmount),
    ("negative cap", |g| g.conversion_cap = amt(-1), Rejection::InvalidAmount),
    (
        "default pct",
        |g| g.default_contribution_pct = 101,
        Rejection::InvalidContribution,
    ),
    (
        "game pct",
        |g| g.contributions[1].1 = 101,
        Rejection::InvalidContribution,
    ),
    ("expiry now", |g| g.expires_at_ms = T0, Rejection::TimeNotInFuture),
    ("unknown player", |g| g.player = NOBODY, Rejection::UnknownPlayer),
];

#[test]
fn bonus_grants_are_validated() {
    let mut h = Harness::with(Config {
        bonus_contributions_max: 2,
        ..Config::default()
    });
    let p = h.register();
    let base = BonusGrant {
        contributions: vec![(game("slots"), 100), (game("table"), 10)],
        ..grant(p, 500, 1000, 500)
    };
    for (name, spoil, rejection) in SPOILED_GRANTS {
        let mut bonus = base.clone();
        spoil(&mut bonus);
        assert_eq!(h.grant(bonus), Outcome::Rejected(rejection), "{name}");
    }
    let mut many = base.clone();
    many.contributions.push((game("keno"), 5));
    let full = Rejection::CapacityReached(Capacity::BonusContributions);
    check_rejected(h.grant(many), full);
    assert_eq!(h.balances(p), bal(0, 0, 0, 0));
    assert_eq!(h.flows(), Flows::default());
    check(h.grant(base.clone()), h.moved(0, 500, bal(0, 500, 0, 0)));
    check_rejected(h.grant(base), Rejection::BonusAlreadyActive);
    assert_eq!(h.flows().bonus_granted, 500);
}

#[test]
fn bonuses_are_refused_to_blocked_players_and_open_a_wallet() {
    let mut h = Harness::new();
    let (p1, p2) = (h.register(), h.register());
    check(h.run(OPS, status_cmd(p1, AccountStatus::Suspended)), Outcome::Accepted);
    check_rejected(h.grant(grant(p1, 500, 0, 500)), blocked(BlockReason::Suspended));
    let usd = BonusGrant {
        currency: USD,
        ..grant(p2, 500, 1000, 500)
    };
    let receipt = Receipt {
        seq: h.seq + 1,
        cash_delta: amt(0),
        bonus_delta: amt(500),
        balances: bal_in(USD, 0, 500, 0, 0),
    };
    check(h.grant(usd), Outcome::Moved(receipt));
}

#[test]
fn wagering_progress_follows_game_contributions_and_converts_up_to_the_cap() {
    let mut h = Harness::new();
    let p = h.register();
    h.fund(p, 5000);
    let bonus = BonusGrant {
        contributions: vec![(game("slots"), 100), (game("table"), 10)],
        default_contribution_pct: 50,
        ..grant(p, 1000, 2000, 500)
    };
    check(h.grant(bonus), h.moved(0, 1000, bal(5000, 1000, 0, 0)));
    let mut on = |id: &str, minor, code| h.run(GAME, bet_on(p, minor, round_of(id, code), false));
    let table = on("r1", 1000, "table"); // counts 100
    let slots = on("r2", 1000, "slots"); // 1100
    let keno = on("r3", 1000, "keno"); // 1600
    let last = on("r4", 800, "slots"); // 2400: converts 500 of 1000
    let seq = h.seq;
    let receipt = |s, dc, db, after| {
        Outcome::Moved(Receipt {
            seq: s,
            cash_delta: amt(dc),
            bonus_delta: amt(db),
            balances: after,
        })
    };
    check(table, receipt(seq - 3, -1000, 0, bal(4000, 1000, 0, 10)));
    check(slots, receipt(seq - 2, -1000, 0, bal(3000, 1000, 0, 20)));
    check(keno, receipt(seq - 1, -1000, 0, bal(2000, 1000, 0, 30)));
    check(last, receipt(seq, -300, -1000, bal(1700, 0, 0, 38)));
    let flows = Flows {
        deposits: 5000,
        bets: 3800,
        bonus_granted: 1000,
        bonus_forfeited: 500,
        ..Flows::default()
    };
    assert_eq!(h.flows(), flows);
    check(
        h.grant(grant(p, 100, 1000, 100)),
        h.moved(0, 100, bal(1700, 100, 0, 38)),
    );
}

#[test]
fn zero_wagering_converts_at_once_up_to_the_cap() {
    let mut h = Harness::new();
    let p = h.register();
    check(h.grant(grant(p, 1000, 0, 600)), h.moved(600, 0, bal(600, 0, 0, 0)));
    let flows = Flows {
        bonus_granted: 1000,
        bonus_forfeited: 400,
        ..Flows::default()
    };
    assert_eq!(h.flows(), flows);
    check(h.grant(grant(p, 200, 0, 600)), h.moved(200, 0, bal(800, 0, 0, 0)));
    check_rejected(h.run(OPS, forfeit_cmd(p)), Rejection::NoActiveBonus);
}

#[test]
fn a_rollback_takes_its_wagering_credit_back() {
    let mut h = Harness::new();
    let p = h.register();
    h.fund(p, 1000);
    h.grant(grant(p, 500, 500, 10_000));
    check(h.bet("b1", p, 300, "r1"), h.moved(-300, 0, bal(700, 500, 0, 3)));
    check(h.rollback(p, "b1"), h.moved(300, 0, bal(1000, 500, 0, 0)));
    check(h.bet("b2", p, 300, "r2"), h.moved(-300, 0, bal(700, 500, 0, 3)));
    check(h.bet("b3", p, 300, "r3"), h.moved(200, -500, bal(900, 0, 0, 6)));
}

#[test]
fn forfeit_takes_the_active_bonus_away() {
    let mut h = Harness::new();
    let p = h.register();
    h.fund(p, 100);
    check_rejected(h.run(OPS, forfeit_cmd(p)), Rejection::NoActiveBonus);
    h.grant(grant(p, 500, 1000, 500));
    check(h.run(OPS, forfeit_cmd(p)), h.moved(0, -500, bal(100, 0, 0, 0)));
    check_rejected(h.run(OPS, forfeit_cmd(p)), Rejection::NoActiveBonus);
    let usd = Command::Bonus(engine_core::bonus::Command::Forfeit {
        player: p,
        currency: USD,
    });
    check_rejected(h.run(OPS, usd), Rejection::CurrencyMismatch { currency: USD });
    let flows = Flows {
        deposits: 100,
        bonus_granted: 500,
        bonus_forfeited: 500,
        ..Flows::default()
    };
    assert_eq!(h.flows(), flows);
}

#[test]
fn bonus_expire_forfeits_only_once_the_expiry_passed() {
    let mut h = Harness::new();
    let p = h.register();
    let expires = T0 + DAY;
    let bonus = BonusGrant {
        expires_at_ms: expires,
        ..grant(p, 500, 1000, 500)
    };
    h.grant(bonus);
    check_rejected(h.run(OPS, expire_cmd(p)), Rejection::BonusNotExpired);
    h.at(expires - 1);
    check_rejected(h.run(OPS, expire_cmd(p)), Rejection::BonusNotExpired);
    h.at(expires);
    check(h.run(OPS, expire_cmd(p)), h.moved(0, -500, bal(0, 0, 0, 0)));
    check_rejected(h.run(OPS, expire_cmd(p)), Rejection::NoActiveBonus);
    assert_eq!(h.flows().bonus_forfeited, 500);
}

fn expiring_bonus(h: &mut Harness) -> PlayerId {
    let p = h.register();
    h.fund(p, 100);
    let bonus = BonusGrant {
        expires_at_ms: T0 + DAY,
        ..grant(p, 500, 1000, 500)
    };
    check(h.grant(bonus), h.moved(0, 500, bal(100, 500, 0, 0)));
    h.at(T0 + DAY);
    p
}

#[test]
fn a_bet_after_expiry_lazily_forfeits_the_bonus() {
    let mut h = Harness::new();
    let p = expiring_bonus(&mut h);
    let short = Rejection::InsufficientFunds { available: amt(100) };
    check_rejected(h.bet("b1", p, 101, "r1"), short);
    h.bet("b2", p, 100, "r1");
    assert_eq!(h.balances(p), bal(0, 0, 0, 1));
    assert_eq!(h.flows().bonus_forfeited, 500);
    check_rejected(h.run(OPS, expire_cmd(p)), Rejection::NoActiveBonus);
}

#[test]
fn the_receipt_of_a_lazy_expiry_includes_the_forfeited_bonus() {
    let mut h = Harness::new();
    let p = expiring_bonus(&mut h);
    // Before: cash 100, bonus 500. After: cash 0, bonus 0.
    check(h.bet("b1", p, 100, "r1"), h.moved(-100, -500, bal(0, 0, 0, 1)));
}

/// Commands refused after the bonus expired, with their refusal.
fn refused_after_expiry(p: PlayerId) -> Vec<(Command, Rejection)> {
    let short = Rejection::InsufficientFunds { available: amt(100) };
    vec![
        (bet_cmd(p, 101, "r1"), short),
        (bet_cmd(p, 10, "theirs"), Rejection::RoundPlayerMismatch),
        (win_cmd(p, 10, "none", WinKind::Regular), Rejection::UnknownRound),
        (
            win_cmd(p, 10, "theirs", WinKind::Jackpot),
            Rejection::RoundPlayerMismatch,
        ),
    ]
}

#[test]
fn a_refused_bet_or_win_after_expiry_changes_nothing() {
    let mut changed = Vec::new();
    for case in 0..refused_after_expiry(PlayerId(1)).len() {
        let mut h = Harness::new();
        let p = expiring_bonus(&mut h);
        let other = h.register();
        h.fund(other, 100);
        h.bet("theirs", other, 10, "theirs");
        let money = h.money();
        let (command, rejection) = refused_after_expiry(p).swap_remove(case);
        let name = format!("{} -> {rejection:?}", command.kind());
        check_rejected(h.run(GAME, command), rejection);
        if h.money() != money {
            changed.push(name);
        }
    }
    assert_eq!(changed, Vec::<String>::new(), "refusals that changed money");
}

#[test]
fn a_grant_after_expiry_replaces_the_expired_bonus() {
    let mut h = Harness::new();
    let p = expiring_bonus(&mut h);
    h.grant(grant(p, 300, 1000, 300));
    assert_eq!(h.balances(p), bal(100, 300, 0, 0));
    let flows = Flows {
        deposits: 100,
        bonus_granted: 800,
        bonus_forfeited: 500,
        ..Flows::default()
    };
    assert_eq!(h.flows(), flows);
}

#[derive(Clone, Copy, Debug)]
enum Fate {
    Active,
    Converted,
    Forfeited,
    Expired,
}

/// Moves the bonus that funded round r1 to its `fate`.
fn decide(h: &mut Harness, p: PlayerId, fate: Fate) {
    match fate {
        Fate::Active => {}
        Fate::Converted => {
            let converted = h.bet("b2", p, 200, "r2");
            check(converted, h.moved(600, -800, bal(600, 0, 0, 1)));
        }
        Fate::Forfeited => {
            check(h.run(OPS, forfeit_cmd(p)), h.moved(0, -800, bal(0, 0, 0, 1)));
        }
        Fate::Expired => h.at(T0 + DAY),
    }
}

#[test]
fn a_win_on_a_bonus_funded_round_follows_what_became_of_that_bonus() {
    use Fate::*;
    // (fate, cash after, bonus after, forfeited in total)
    let cases = [
        (Active, 200, 1200, 0),
        (Converted, 1200, 0, 0),
        (Forfeited, 200, 0, 1200),
        (Expired, 200, 0, 1200),
    ];
    for (fate, cash, bonus, forfeited) in cases {
        let mut h = Harness::new();
        let p = h.register();
        h.fund(p, 100);
        let bonus_grant = BonusGrant {
            expires_at_ms: T0 + DAY,
            ..grant(p, 1000, 500, 100_000)
        };
        h.grant(bonus_grant);
        check(h.bet("b1", p, 300, "r1"), h.moved(-100, -200, bal(0, 800, 0, 1)));
        decide(&mut h, p, fate);
        h.win(p, 600, "r1");
        assert_eq!(h.balances(p), bal(cash, bonus, 0, 1), "{fate:?}");
        assert_eq!(h.flows().bonus_forfeited, forfeited, "{fate:?}");
        assert_eq!(h.flows().wins, 600, "{fate:?}");
    }
}

#[test]
fn a_win_on_a_round_of_an_earlier_converted_bonus_goes_to_cash() {
    let mut h = Harness::new();
    let p = h.register();
    check(h.grant(grant(p, 100, 150, 10_000)), h.moved(0, 100, bal(0, 100, 0, 0)));
    check(h.bet("b1", p, 100, "r1"), h.moved(0, -100, bal(0, 0, 0, 0)));
    h.run(OPS, adjust_cmd(p, EUR, 100));
    // Wagering reaches 150: bonus 1 converts (nothing left of it).
    check(h.bet("b2", p, 50, "r2"), h.moved(-50, 0, bal(50, 0, 0, 0)));
    // Bonus 2 converts at once.
    check(h.grant(grant(p, 10, 0, 10_000)), h.moved(10, 0, bal(60, 0, 0, 0)));
    // Round r1 was funded by bonus 1, which was converted: the win is cash.
    check(h.win(p, 200, "r1"), h.moved(200, 0, bal(260, 0, 0, 0)));
    assert_eq!(h.flows().bonus_forfeited, 0);
}

#[test]
fn a_rollback_of_a_bonus_funded_bet_follows_what_became_of_that_bonus() {
    use Fate::*;
    // (fate, cash after, bonus after, forfeited in total)
    let cases = [
        (Active, 100, 1000, 0),
        (Converted, 900, 0, 0),
        (Forfeited, 100, 0, 1000),
        (Expired, 100, 0, 1000),
    ];
    for (fate, cash, bonus, forfeited) in cases {
        let mut h = Harness::new();
        let p = h.register();
        h.fund(p, 100);
        let bonus_grant = BonusGrant {
            expires_at_ms: T0 + DAY,
            ..grant(p, 1000, 500, 100_000)
        };
        h.grant(bonus_grant);
        check(h.bet("b1", p, 300, "r1"), h.moved(-100, -200, bal(0, 800, 0, 1)));
        decide(&mut h, p, fate);
        h.rollback(p, "b1");
        assert_eq!(h.balances(p), bal(cash, bonus, 0, 0), "{fate:?}");
        assert_eq!(h.flows().bonus_forfeited, forfeited, "{fate:?}");
        assert_eq!(h.flows().rollbacks, 300, "{fate:?}");
    }
}
