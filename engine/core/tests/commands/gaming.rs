//! Gaming: bets, wins, rounds, rollbacks.

use super::*;

// ---------------------------------------------------------------------------
// Bets
// ---------------------------------------------------------------------------

#[test]
fn bets_spend_cash_first_then_bonus() {
    let mut h = Harness::new();
    let p = h.register();
    h.fund(p, 300);
    check(
        h.grant(grant(p, 500, 1_000_000, 500)),
        h.moved(0, 500, bal(300, 500, 0, 0)),
    );
    check(h.bet("b1", p, 200, "r1"), h.moved(-200, 0, bal(100, 500, 0, 2)));
    check(h.bet("b2", p, 300, "r1"), h.moved(-100, -200, bal(0, 300, 0, 3)));
    let short = Rejection::InsufficientFunds { available: amt(300) };
    check_rejected(h.bet("b3", p, 301, "r1"), short);
    let flows = Flows {
        deposits: 300,
        bets: 500,
        bonus_granted: 500,
        ..Flows::default()
    };
    assert_eq!(h.flows(), flows);
}

#[test]
fn bets_are_refused_for_bad_amounts_players_currencies_and_funds() {
    let mut h = Harness::new();
    let p = h.register();
    h.fund(p, 1000);
    let money = h.money();
    let usd = Command::Gaming(engine_core::gaming::Command::Bet(Bet {
        currency: USD,
        ..bet_of(p, 100)
    }));
    let cases = [
        ("zero", bet_cmd(p, 0, "r1"), Rejection::InvalidAmount),
        ("negative", bet_cmd(p, -5, "r1"), Rejection::InvalidAmount),
        ("currency", usd, Rejection::CurrencyMismatch { currency: USD }),
        ("unknown", bet_cmd(NOBODY, 100, "r1"), Rejection::UnknownPlayer),
        ("player 0", bet_cmd(PlayerId(0), 100, "r1"), Rejection::UnknownPlayer),
        (
            "too much",
            bet_cmd(p, 1001, "r1"),
            Rejection::InsufficientFunds { available: amt(1000) },
        ),
    ];
    for (name, command, rejection) in cases {
        assert_eq!(h.run(GAME, command), Outcome::Rejected(rejection), "{name}");
    }
    assert_eq!(h.money(), money);
    assert_eq!(h.ledger.open_rounds_len(), 0);
}

fn bet_of(player: PlayerId, minor: i64) -> Bet {
    match bet_cmd(player, minor, "r1") {
        Command::Gaming(engine_core::gaming::Command::Bet(bet)) => bet,
        _ => unreachable!(),
    }
}

#[test]
fn wager_limit_counts_stakes_and_a_rollback_gives_the_room_back() {
    let mut h = Harness::new();
    let p = h.register();
    h.fund(p, 3000);
    let day = limit(LimitMetric::Wager, LimitPeriod::Day);
    check(h.run(OPS, limit_cmd(p, day, Some(1000))), Outcome::Accepted);
    check(h.bet("b1", p, 600, "r1"), h.moved(-600, 0, bal(2400, 0, 0, 6)));
    let hit = Rejection::LimitExceeded {
        limit: day,
        remaining: amt(400),
    };
    check_rejected(h.bet("b2", p, 500, "r1"), hit);
    // Wins do not give wager room back.
    check(h.win(p, 600, "r1"), h.moved(600, 0, bal(3000, 0, 0, 6)));
    check_rejected(h.bet("b3", p, 500, "r1"), hit);
    check(h.rollback(p, "b1"), h.moved(600, 0, bal(3600, 0, 0, 0)));
    check(h.bet("b4", p, 1000, "r1"), h.moved(-1000, 0, bal(2600, 0, 0, 10)));
}

#[test]
fn loss_limit_counts_stakes_minus_wins() {
    let mut h = Harness::new();
    let p = h.register();
    h.fund(p, 1000);
    let day = limit(LimitMetric::Loss, LimitPeriod::Day);
    check(h.run(OPS, limit_cmd(p, day, Some(500))), Outcome::Accepted);
    check(h.bet("b1", p, 400, "r1"), h.moved(-400, 0, bal(600, 0, 0, 4)));
    check(h.win(p, 300, "r1"), h.moved(300, 0, bal(900, 0, 0, 4)));
    let hit = Rejection::LimitExceeded {
        limit: day,
        remaining: amt(400),
    };
    check_rejected(h.bet("b2", p, 450, "r1"), hit);
    check(h.bet("b3", p, 400, "r1"), h.moved(-400, 0, bal(500, 0, 0, 8)));
    let spent = Rejection::LimitExceeded {
        limit: day,
        remaining: amt(0),
    };
    check_rejected(h.bet("b4", p, 1, "r1"), spent);
}

#[test]
fn the_first_limit_a_bet_would_break_is_named() {
    let mut h = Harness::new();
    let p = h.register();
    h.fund(p, 1000);
    let wager_week = limit(LimitMetric::Wager, LimitPeriod::Week);
    let loss_day = limit(LimitMetric::Loss, LimitPeriod::Day);
    check(h.run(OPS, limit_cmd(p, wager_week, Some(300))), Outcome::Accepted);
    check(h.run(OPS, limit_cmd(p, loss_day, Some(200))), Outcome::Accepted);
    let wager = Rejection::LimitExceeded {
        limit: wager_week,
        remaining: amt(300),
    };
    check_rejected(h.bet("b1", p, 301, "r1"), wager);
    let loss = Rejection::LimitExceeded {
        limit: loss_day,
        remaining: amt(200),
    };
    check_rejected(h.bet("b2", p, 250, "r1"), loss);
    check(h.bet("b3", p, 200, "r1"), h.moved(-200, 0, bal(800, 0, 0, 2)));
}

#[test]
fn a_round_belongs_to_the_player_who_opened_it() {
    let mut h = Harness::new();
    let (p1, p2) = (h.register(), h.register());
    h.fund(p1, 1000);
    h.fund(p2, 1000);
    check(h.bet("b1", p1, 100, "r1"), h.moved(-100, 0, bal(900, 0, 0, 1)));
    let money = h.money();
    let mismatch = Rejection::RoundPlayerMismatch;
    check_rejected(h.bet("b2", p2, 100, "r1"), mismatch);
    check_rejected(h.win(p2, 100, "r1"), mismatch);
    let jackpot = win_cmd(p2, 100, "r1", WinKind::Jackpot);
    check_rejected(h.run(GAME, jackpot), mismatch);
    check_rejected(h.run(GAME, end_round_cmd(p2, "r1")), mismatch);
    assert_eq!(h.money(), money);
    // The same round id in another game, or from another source, is another round.
    let other_game = bet_on(p2, 100, round_of("r1", "roulette"), false);
    check(h.run(GAME, other_game), h.moved(-100, 0, bal(900, 0, 0, 1)));
    let other_source = bet_cmd(p2, 100, "r1");
    check(h.run(SourceId(9), other_source), h.moved(-100, 0, bal(800, 0, 0, 2)));
    assert_eq!(h.ledger.open_rounds_len(), 3);
}

// ---------------------------------------------------------------------------
// Wins and rounds
// ---------------------------------------------------------------------------

#[test]
fn a_win_follows_the_cash_bonus_split_of_its_round() {
    let mut h = Harness::new();
    let p = h.register();
    h.fund(p, 100);
    h.grant(grant(p, 1000, 1_000_000, 1000));
    check(h.bet("b1", p, 300, "r1"), h.moved(-100, -200, bal(0, 800, 0, 1)));
    check(h.win(p, 600, "r1"), h.moved(200, 400, bal(200, 1200, 0, 1)));
    // A second win on the same round splits the same way (2/3 bonus).
    check(h.win(p, 31, "r1"), h.moved(11, 20, bal(211, 1220, 0, 1)));
    let flows = Flows {
        deposits: 100,
        bets: 300,
        wins: 631,
        bonus_granted: 1000,
        ..Flows::default()
    };
    assert_eq!(h.flows(), flows);
}

#[test]
fn only_jackpot_and_promotional_wins_may_come_without_a_round() {
    let cases = [
        (WinKind::Regular, false),
        (WinKind::Jackpot, true),
        (WinKind::Promotional, true),
    ];
    for (kind, credited) in cases {
        let mut h = Harness::new();
        let p = h.register();
        h.grant(grant(p, 500, 1_000_000, 500));
        let outcome = h.run(GAME, win_cmd(p, 700, "never-opened", kind));
        let expected = if credited {
            h.moved(700, 0, bal(700, 500, 0, 0))
        } else {
            Outcome::Rejected(Rejection::UnknownRound)
        };
        assert_eq!(outcome, expected, "{kind:?}");
        let wins = if credited { 700 } else { 0 };
        assert_eq!(h.flows().wins, wins, "{kind:?}");
    }
}

#[test]
fn a_zero_win_is_recorded_and_a_negative_one_refused() {
    let mut h = Harness::new();
    let p = h.register();
    h.fund(p, 1000);
    h.bet("b1", p, 100, "r1");
    check(h.win(p, 0, "r1"), h.moved(0, 0, bal(900, 0, 0, 1)));
    check_rejected(h.win(p, -1, "r1"), Rejection::InvalidAmount);
    let usd = Command::Gaming(engine_core::gaming::Command::Win(Win {
        currency: USD,
        amount: amt(10),
        round: round("r1"),
        kind: WinKind::Regular,
        close_round: false,
        bet: None,
        player: p,
    }));
    check_rejected(h.run(GAME, usd), Rejection::CurrencyMismatch { currency: USD });
    assert_eq!(h.flows().wins, 0);
}

#[derive(Clone, Copy, Debug)]
enum Closer {
    Bet,
    Win,
    EndRound,
}

fn close_round(h: &mut Harness, p: PlayerId, closer: Closer) {
    let command = match closer {
        Closer::Bet => bet_on(p, 100, round("r1"), true),
        Closer::Win => win_on(p, 100, round("r1"), WinKind::Regular, true),
        Closer::EndRound => end_round_cmd(p, "r1"),
    };
    let outcome = h.run(GAME, command);
    let expected = match closer {
        Closer::Bet => h.moved(-100, 0, bal(800, 0, 0, 2)),
        Closer::Win => h.moved(100, 0, bal(1000, 0, 0, 1)),
        Closer::EndRound => Outcome::Accepted,
    };
    assert_eq!(outcome, expected, "{closer:?}");
}

#[test]
fn a_closed_round_refuses_further_regular_wins() {
    for closer in [Closer::Bet, Closer::Win, Closer::EndRound] {
        let mut h = Harness::new();
        let p = h.register();
        h.fund(p, 1000);
        h.bet("b1", p, 100, "r1");
        assert_eq!(h.ledger.open_rounds_len(), 1);
        close_round(&mut h, p, closer);
        assert_eq!(h.ledger.open_rounds_len(), 0, "{closer:?}");
        let before = h.balances(p);
        check_rejected(h.win(p, 50, "r1"), Rejection::UnknownRound);
        check_rejected(h.run(GAME, end_round_cmd(p, "r1")), Rejection::UnknownRound);
        assert_eq!(h.balances(p), before);
        // A jackpot may still pay on it: all of it to cash.
        let jackpot = h.run(GAME, win_cmd(p, 10, "r1", WinKind::Jackpot));
        let after = Balances {
            cash: amt(before.cash.minor() + 10),
            ..before
        };
        check(jackpot, h.moved(10, 0, after));
    }
}

#[test]
fn end_round_needs_a_known_player_and_an_open_round() {
    let mut h = Harness::new();
    let p = h.register();
    h.fund(p, 1000);
    check_rejected(h.run(GAME, end_round_cmd(p, "r1")), Rejection::UnknownRound);
    h.bet("b1", p, 100, "r1");
    check_rejected(h.run(GAME, end_round_cmd(NOBODY, "r1")), Rejection::UnknownPlayer);
    check(h.run(GAME, end_round_cmd(p, "r1")), Outcome::Accepted);
    assert_eq!(h.ledger.open_rounds_len(), 0);
    // Betting on it again opens it again.
    check(h.bet("b2", p, 100, "r1"), h.moved(-100, 0, bal(800, 0, 0, 2)));
    check(h.win(p, 300, "r1"), h.moved(300, 0, bal(1100, 0, 0, 2)));
}

// ---------------------------------------------------------------------------
// Rollbacks
// ---------------------------------------------------------------------------

#[test]
fn a_rollback_refunds_the_split_once() {
    let mut h = Harness::new();
    let p = h.register();
    h.fund(p, 100);
    h.grant(grant(p, 1000, 1_000_000, 1000));
    check(h.bet("b1", p, 300, "r1"), h.moved(-100, -200, bal(0, 800, 0, 1)));
    check(h.rollback(p, "b1"), h.moved(100, 200, bal(100, 1000, 0, 0)));
    assert_eq!(h.state(GAME, "b1"), Some(TxState::RolledBack));
    check_rejected(h.rollback(p, "b1"), Rejection::AlreadyRolledBack);
    let flows = Flows {
        deposits: 100,
        bets: 300,
        rollbacks: 300,
        bonus_granted: 1000,
        ..Flows::default()
    };
    assert_eq!(h.flows(), flows);
    assert_eq!(h.balances(p), bal(100, 1000, 0, 0));
}

#[test]
fn a_rollback_before_its_bet_leaves_a_tombstone_that_refuses_the_bet() {
    let mut h = Harness::new();
    let p = h.register();
    h.fund(p, 1000);
    check_rejected(h.rollback(p, "b9"), Rejection::UnknownTransaction);
    let tombstone = h.summary(GAME, "b9").expect("tombstone remembered");
    assert_eq!(tombstone.state, TxState::Tombstone);
    assert_eq!(tombstone.outcome, Outcome::Rejected(Rejection::BetRolledBack));
    let money = h.money();
    check_rejected(h.bet("b9", p, 100, "r1"), Rejection::BetRolledBack);
    check_rejected(h.bet("b9", p, 100, "r1"), Rejection::BetRolledBack);
    check_rejected(h.rollback(p, "b9"), Rejection::UnknownTransaction);
    assert_eq!(h.money(), money);
    assert_eq!(h.ledger.open_rounds_len(), 0);
    // The id is taken: anything else under it conflicts.
    let win = win_cmd(p, 5, "r1", WinKind::Jackpot);
    check_rejected(h.apply(GAME, "b9", win), Rejection::Conflict);
}

/// A win that names the bet it pays.
fn win_paying(player: PlayerId, minor: i64, round_id: &str, bet: &str) -> Command {
    let Command::Gaming(engine_core::gaming::Command::Win(win)) = win_cmd(player, minor, round_id, WinKind::Regular)
    else {
        unreachable!("win_cmd makes a win")
    };
    Command::Gaming(engine_core::gaming::Command::Win(Win {
        bet: Some(ext(bet)),
        ..win
    }))
}

#[test]
fn a_win_naming_its_bet_pays_only_a_live_bet_of_its_player() {
    let mut h = Harness::new();
    let (p, other) = (h.register(), h.register());
    h.fund(p, 1000);
    h.fund(other, 1000);
    check(h.bet("b1", p, 100, "r1"), h.moved(-100, 0, bal(900, 0, 0, 1)));
    check(h.rollback(p, "b1"), h.moved(100, 0, bal(1000, 0, 0, 0)));
    check_rejected(h.rollback(p, "b-late"), Rejection::UnknownTransaction);
    let short = Rejection::InsufficientFunds { available: amt(1000) };
    check_rejected(h.bet("b-refused", p, 5000, "r1"), short);
    check(h.bet("b-other", other, 100, "r9"), h.moved(-100, 0, bal(900, 0, 0, 1)));
    check(h.bet("b2", p, 100, "r1"), h.moved(-100, 0, bal(900, 0, 0, 1)));
    let money = h.money();
    let refusals = [
        ("w-rolled-back", "b1", Rejection::BetRolledBack),
        ("w-tombstone", "b-late", Rejection::BetRolledBack),
        ("w-never", "b-never", Rejection::UnknownTransaction),
        ("w-refused", "b-refused", Rejection::UnknownTransaction),
        ("w-other", "b-other", Rejection::UnknownTransaction),
        ("w-itself", "w-itself", Rejection::WrongTransactionKind),
    ];
    for (id, bet, rejection) in refusals {
        check_rejected(h.apply(GAME, id, win_paying(p, 500, "r1", bet)), rejection);
    }
    assert_eq!(h.money(), money, "refused wins change nothing");
    check(
        h.apply(GAME, "w2", win_paying(p, 500, "r1", "b2")),
        h.moved(500, 0, bal(1400, 0, 0, 1)),
    );
    // The bet named is part of the payload: the same id naming another bet conflicts.
    check_rejected(h.apply(GAME, "w2", win_paying(p, 500, "r1", "b1")), Rejection::Conflict);
}

#[test]
fn rolling_back_a_refused_bet_is_unknown_transaction() {
    let mut h = Harness::new();
    let p = h.register();
    h.fund(p, 100);
    let short = Rejection::InsufficientFunds { available: amt(100) };
    check_rejected(h.bet("b1", p, 500, "r1"), short);
    check_rejected(h.rollback(p, "b1"), Rejection::UnknownTransaction);
    assert_eq!(h.state(GAME, "b1"), Some(TxState::Done));
    // No tombstone: the retried bet gets its original answer.
    check_rejected(h.bet("b1", p, 500, "r1"), short);
    assert_eq!(h.balances(p), bal(100, 0, 0, 0));
    assert_eq!(h.flows().rollbacks, 0);
}

#[test]
fn only_bets_can_be_rolled_back_and_only_by_their_player() {
    let mut h = Harness::new();
    let (p1, p2) = (h.register(), h.register());
    h.fund(p1, 1000);
    h.bet("b1", p1, 100, "r1");
    h.apply(GAME, "w1", win_cmd(p1, 50, "r1", WinKind::Regular));
    h.apply(GAME, "adj", adjust_cmd(p1, EUR, 5));
    let dep = h.fund(p1, 10);
    let money = h.money();
    let kind = Rejection::WrongTransactionKind;
    check_rejected(h.rollback(p1, "w1"), kind);
    check_rejected(h.rollback(p1, "adj"), kind);
    check_rejected(h.run(PSP, rollback_cmd(p1, &dep)), kind);
    check_rejected(h.apply(GAME, "self", rollback_cmd(p1, "self")), kind);
    check_rejected(h.rollback(p2, "b1"), Rejection::UnknownTransaction);
    check_rejected(h.rollback(NOBODY, "b1"), Rejection::UnknownPlayer);
    assert_eq!(h.money(), money);
    // The bet is intact: its own player can still roll it back.
    check(h.rollback(p1, "b1"), h.moved(100, 0, bal(1065, 0, 0, 0)));
}

#[test]
fn a_rollback_still_refunds_after_its_round_closed() {
    let mut h = Harness::new();
    let p = h.register();
    h.fund(p, 1000);
    h.run(GAME, bet_on(p, 100, round("r1"), false));
    h.apply(GAME, "b2", bet_on(p, 200, round("r1"), true));
    assert_eq!(h.ledger.open_rounds_len(), 0);
    check(h.rollback(p, "b2"), h.moved(200, 0, bal(900, 0, 0, 1)));
}
