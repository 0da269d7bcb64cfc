//! What holds across domains: owed money lands whatever blocks the player,
//! idempotency, unknown players and foreign currencies, queries and digests.

use super::*;

// ---------------------------------------------------------------------------
// Owed money lands whatever blocks the player
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, Debug)]
enum Blocker {
    Suspend,
    Close,
    SelfExclude,
    TimeOut,
    LossLimit,
    WagerLimit,
}

/// Applies the blocker; returns what a new bet is refused with.
fn impose(h: &mut Harness, p: PlayerId, blocker: Blocker) -> Rejection {
    let until = h.now + DAY;
    let (command, refusal) = match blocker {
        Blocker::Suspend => (status_cmd(p, AccountStatus::Suspended), blocked(BlockReason::Suspended)),
        Blocker::Close => (status_cmd(p, AccountStatus::Closed), blocked(BlockReason::Closed)),
        Blocker::SelfExclude => (
            Exclusion::SelfExclude.command(p, until),
            Exclusion::SelfExclude.reason(until),
        ),
        Blocker::TimeOut => (Exclusion::TimeOut.command(p, until), Exclusion::TimeOut.reason(until)),
        Blocker::LossLimit => zero_limit(p, LimitMetric::Loss),
        Blocker::WagerLimit => zero_limit(p, LimitMetric::Wager),
    };
    check(h.run(OPS, command), Outcome::Accepted);
    refusal
}

fn zero_limit(p: PlayerId, metric: LimitMetric) -> (Command, Rejection) {
    let kind = limit(metric, LimitPeriod::Day);
    let refusal = Rejection::LimitExceeded {
        limit: kind,
        remaining: amt(0),
    };
    (limit_cmd(p, kind, Some(0)), refusal)
}

#[test]
fn wins_rollbacks_and_confirmations_land_despite_blocks_and_limits() {
    use Blocker::*;
    for blocker in [Suspend, Close, SelfExclude, TimeOut, LossLimit, WagerLimit] {
        let mut h = Harness::new();
        let p = h.register();
        h.fund(p, 1000);
        let late = h.fresh_id("late");
        check(
            h.apply(PSP, &late, deposit_cmd(p, 250)),
            h.moved(0, 0, bal(1000, 0, 0, 0)),
        );
        check(h.bet("b1", p, 300, "r1"), h.moved(-300, 0, bal(700, 0, 0, 3)));
        check(h.bet("b2", p, 200, "r2"), h.moved(-200, 0, bal(500, 0, 0, 5)));
        let refusal = impose(&mut h, p, blocker);
        check_rejected(h.bet("b3", p, 100, "r3"), refusal);
        let won = h.win(p, 450, "r1");
        assert_eq!(won, h.moved(450, 0, bal(950, 0, 0, 5)), "{blocker:?}");
        let refunded = h.rollback(p, "b2");
        assert_eq!(refunded, h.moved(200, 0, bal(1150, 0, 0, 3)), "{blocker:?}");
        let confirmed = h.run(PSP, confirm_cmd(&late));
        assert_eq!(confirmed, h.moved(250, 0, bal(1400, 0, 0, 3)), "{blocker:?}");
        let jackpot = h.run(GAME, win_cmd(p, 50, "none", WinKind::Jackpot));
        assert_eq!(jackpot, h.moved(50, 0, bal(1450, 0, 0, 3)), "{blocker:?}");
        check_rejected(h.bet("b4", p, 100, "r3"), refusal);
    }
}

// ---------------------------------------------------------------------------
// Idempotency
// ---------------------------------------------------------------------------

#[test]
fn an_identical_retry_returns_the_identical_outcome_and_changes_nothing() {
    let mut h = Harness::new();
    let p = h.register();
    h.fund(p, 1000);
    h.bet("b0", p, 100, "r0");
    let cases: Vec<(SourceId, &str, Command)> = vec![
        (OPS, "adj", adjust_cmd(p, EUR, 100)),
        (GAME, "b1", bet_cmd(p, 100, "r1")),
        (GAME, "w1", win_cmd(p, 50, "r1", WinKind::Regular)),
        (GAME, "rb0", rollback_cmd(p, "b0")),
        (GAME, "rb-ghost", rollback_cmd(p, "ghost")),
        (PSP, "d1", deposit_cmd(p, 200)),
        (PSP, "c1", confirm_cmd("d1")),
        (PSP, "wd1", withdraw_cmd(p, 100)),
        (
            OPS,
            "g1",
            Command::Bonus(engine_core::bonus::Command::Grant(grant(p, 300, 1000, 300))),
        ),
        (GAME, "too-much", bet_cmd(p, 1_000_000, "r2")),
        (
            OPS,
            "lim",
            limit_cmd(p, limit(LimitMetric::Loss, LimitPeriod::Week), Some(5000)),
        ),
        (OPS, "reg", register_cmd(EUR, "MT")),
        (OPS, "ex", Exclusion::SelfExclude.command(p, T0 + DAY)),
    ];
    for (source, id, command) in cases {
        let first = h.apply(source, id, command.clone());
        let (digest, money) = (h.ledger.digest(), h.money());
        let remembered = h.ledger.remembered_len();
        let retried = h.apply(source, id, command);
        assert_eq!(retried, first, "retry of {id}");
        assert_eq!(h.ledger.digest(), digest, "retry of {id} changed the digest");
        assert_eq!(h.money(), money, "retry of {id} moved money");
        assert_eq!(h.ledger.remembered_len(), remembered, "{id}");
    }
    assert_eq!(h.ledger.players_len(), 2);
}

#[test]
fn a_retried_rejection_stays_rejected_even_when_it_would_now_pass() {
    let mut h = Harness::new();
    let p = h.register();
    h.fund(p, 100);
    let short = Rejection::InsufficientFunds { available: amt(100) };
    check_rejected(h.bet("b1", p, 500, "r1"), short);
    h.fund(p, 1000);
    check_rejected(h.bet("b1", p, 500, "r1"), short);
    assert_eq!(h.balances(p), bal(1100, 0, 0, 0));
    // A fresh id is a new request.
    check(h.bet("b2", p, 500, "r1"), h.moved(-500, 0, bal(600, 0, 0, 5)));
}

#[test]
fn the_same_id_with_another_payload_is_a_conflict() {
    let mut h = Harness::new();
    let p = h.register();
    h.fund(p, 1000);
    let first = h.bet("b1", p, 100, "r1");
    check(first.clone(), h.moved(-100, 0, bal(900, 0, 0, 1)));
    let (digest, money) = (h.ledger.digest(), h.money());
    check_rejected(h.bet("b1", p, 200, "r1"), Rejection::Conflict);
    check_rejected(h.apply(GAME, "b1", adjust_cmd(p, EUR, 5)), Rejection::Conflict);
    assert_eq!((h.ledger.digest(), h.money()), (digest, money));
    // The original is untouched, and ids are scoped by source.
    check(h.bet("b1", p, 100, "r1"), first);
    let elsewhere = h.apply(SourceId(9), "b1", bet_cmd(p, 200, "r1"));
    check(elsewhere, h.moved(-200, 0, bal(700, 0, 0, 3)));
}

#[test]
fn query_transaction_reports_each_state() {
    let mut h = Harness::new();
    let p = h.register();
    h.fund(p, 1000);
    let adjusted = h.apply(OPS, "a1", adjust_cmd(p, EUR, 10));
    let expected = TxSummary {
        seq: h.seq,
        time_ms: h.now,
        state: TxState::Done,
        outcome: adjusted,
    };
    h.advance(5_000);
    let query = Command::Query(Query::Transaction { tx: tx(OPS, "a1") });
    check(h.run(OPS, query), Outcome::Transaction(Box::new(expected)));
    h.bet("b1", p, 100, "r1");
    assert_eq!(h.state(GAME, "b1"), Some(TxState::Done));
    h.rollback(p, "b1");
    assert_eq!(h.state(GAME, "b1"), Some(TxState::RolledBack));
    h.apply(PSP, "d1", deposit_cmd(p, 10));
    let deposit = |state| Some(TxState::Payment(state));
    assert_eq!(h.state(PSP, "d1"), deposit(PaymentState::Initiated));
    h.run(PSP, confirm_cmd("d1"));
    assert_eq!(h.state(PSP, "d1"), deposit(PaymentState::Confirmed));
    h.rollback(p, "ghost");
    assert_eq!(h.state(GAME, "ghost"), Some(TxState::Tombstone));
    let unknown = Command::Query(Query::Transaction { tx: tx(OPS, "never") });
    check_rejected(h.run(OPS, unknown), Rejection::UnknownTransaction);
}

#[test]
fn retention_forgets_old_ids_but_never_an_open_deposit() {
    let mut h = Harness::with(Config {
        idempotency_len_max: 4,
        ..Config::default()
    });
    let p = h.register();
    check(h.apply(PSP, "d1", deposit_cmd(p, 500)), h.moved(0, 0, bal(0, 0, 0, 0)));
    check(
        h.apply(OPS, "a1", adjust_cmd(p, EUR, 100)),
        h.moved(100, 0, bal(100, 0, 0, 0)),
    );
    for n in 2..=5 {
        h.apply(OPS, &format!("a{n}"), adjust_cmd(p, EUR, 1));
    }
    assert_eq!(h.balances(p), bal(104, 0, 0, 0));
    assert_eq!(h.summary(OPS, "a1"), None);
    assert_eq!(h.ledger.remembered_len(), 5);
    // Forgotten: the retry is applied as a new request.
    check(
        h.apply(OPS, "a1", adjust_cmd(p, EUR, 100)),
        h.moved(100, 0, bal(204, 0, 0, 0)),
    );
    let open = Some(TxState::Payment(PaymentState::Initiated));
    assert_eq!(h.state(PSP, "d1"), open);
    check(h.run(PSP, confirm_cmd("d1")), h.moved(500, 0, bal(704, 0, 0, 0)));
    let flows = Flows {
        deposits: 500,
        adjustments: 204,
        ..Flows::default()
    };
    assert_eq!(h.flows(), flows);
}

#[test]
fn retention_forgets_ids_older_than_the_age_limit() {
    let mut h = Harness::new();
    let p = h.register();
    let first = h.apply(OPS, "a1", adjust_cmd(p, EUR, 100));
    check(first.clone(), h.moved(100, 0, bal(100, 0, 0, 0)));
    h.advance(30 * DAY);
    check(h.apply(OPS, "a1", adjust_cmd(p, EUR, 100)), first);
    h.advance(1);
    check(h.run(OPS, adjust_cmd(p, EUR, 1)), h.moved(1, 0, bal(101, 0, 0, 0)));
    assert_eq!(h.summary(OPS, "a1"), None);
    let again = h.apply(OPS, "a1", adjust_cmd(p, EUR, 100));
    check(again, h.moved(100, 0, bal(201, 0, 0, 0)));
}

// ---------------------------------------------------------------------------
// Unknown players, foreign currencies, bad amounts across commands
// ---------------------------------------------------------------------------

fn per_player_commands(p: PlayerId, currency: Currency) -> Vec<Command> {
    let wager_day = limit(LimitMetric::Wager, LimitPeriod::Day);
    vec![
        Command::Rg(engine_core::rg::Command::SetLimit {
            player: p,
            currency,
            limit: wager_day,
            amount: Some(amt(100)),
        }),
        Command::Payments(engine_core::payments::Command::WithdrawalRequest {
            player: p,
            currency,
            amount: amt(100),
        }),
        Command::Gaming(engine_core::gaming::Command::Bet(Bet {
            player: p,
            currency,
            amount: amt(100),
            round: round("r1"),
            close_round: false,
        })),
        Command::Gaming(engine_core::gaming::Command::Win(Win {
            player: p,
            currency,
            amount: amt(100),
            round: round("r1"),
            kind: WinKind::Jackpot,
            close_round: false,
            bet: None,
        })),
        adjust_cmd(p, currency, -1),
        Command::Bonus(engine_core::bonus::Command::Forfeit { player: p, currency }),
        Command::Bonus(engine_core::bonus::Command::Expire { player: p, currency }),
        Command::Query(Query::Balance { player: p, currency }),
    ]
}

fn account_commands(p: PlayerId) -> Vec<Command> {
    vec![
        status_cmd(p, AccountStatus::Closed),
        Exclusion::SelfExclude.command(p, T0 + DAY),
        Exclusion::TimeOut.command(p, T0 + DAY),
        kyc_cmd(p, KycLevel::Verified),
        deposit_cmd(p, 100),
        rollback_cmd(p, "b1"),
        end_round_cmd(p, "r1"),
        adjust_cmd(p, EUR, 100),
        Command::Bonus(engine_core::bonus::Command::Grant(grant(p, 100, 100, 100))),
    ]
}

#[test]
fn every_player_command_refuses_an_unknown_player() {
    let mut h = Harness::new();
    let p = h.register();
    h.fund(p, 1000);
    h.bet("b1", p, 100, "r1");
    let money = h.money();
    for nobody in [PlayerId(0), PlayerId(2), NOBODY] {
        let mut commands = per_player_commands(nobody, EUR);
        commands.extend(account_commands(nobody));
        for command in commands {
            let kind = command.kind();
            let outcome = h.run(GAME, command);
            assert_eq!(outcome, Outcome::Rejected(Rejection::UnknownPlayer), "{kind}");
        }
    }
    assert_eq!(h.money(), money);
    assert_eq!(h.state(GAME, "b1"), Some(TxState::Done));
}

#[test]
fn wallet_commands_refuse_a_currency_the_player_does_not_hold() {
    let mut h = Harness::new();
    let p = h.register();
    h.fund(p, 1000);
    let money = h.money();
    for command in per_player_commands(p, USD) {
        let kind = command.kind();
        let outcome = h.run(GAME, command);
        let mismatch = Rejection::CurrencyMismatch { currency: USD };
        assert_eq!(outcome, Outcome::Rejected(mismatch), "{kind}");
    }
    assert_eq!(h.money(), money);
}

#[test]
fn amounts_must_be_positive_where_money_moves() {
    let mut h = Harness::new();
    let p = h.register();
    h.fund(p, 1000);
    let money = h.money();
    let commands = [
        bet_cmd(p, 0, "r1"),
        bet_cmd(p, -1, "r1"),
        win_cmd(p, -1, "r1", WinKind::Jackpot),
        deposit_cmd(p, 0),
        deposit_cmd(p, -1),
        withdraw_cmd(p, 0),
        withdraw_cmd(p, -1),
        adjust_cmd(p, EUR, 0),
        limit_cmd(p, limit(LimitMetric::Loss, LimitPeriod::Month), Some(-1)),
        Command::Bonus(engine_core::bonus::Command::Grant(grant(p, 0, 100, 100))),
    ];
    for command in commands {
        let kind = command.kind();
        let outcome = h.run(GAME, command);
        assert_eq!(outcome, Outcome::Rejected(Rejection::InvalidAmount), "{kind}");
    }
    assert_eq!(h.money(), money);
}

// ---------------------------------------------------------------------------
// Queries and digests
// ---------------------------------------------------------------------------

#[test]
fn queries_are_read_only_and_not_deduplicated() {
    let mut h = Harness::new();
    let p = h.register();
    let dep = h.fund(p, 1000);
    let (digest, remembered) = (h.ledger.digest(), h.ledger.remembered_len());
    let balance = Command::Query(Query::Balance {
        player: p,
        currency: EUR,
    });
    check(
        h.apply(GAME, "q1", balance.clone()),
        Outcome::Balance(bal(1000, 0, 0, 0)),
    );
    check(h.apply(GAME, "q1", balance), Outcome::Balance(bal(1000, 0, 0, 0)));
    let query = Command::Query(Query::Transaction { tx: tx(PSP, &dep) });
    let Outcome::Transaction(summary) = h.apply(GAME, "q1", query) else {
        panic!("no transaction summary");
    };
    assert_eq!(summary.state, TxState::Payment(PaymentState::Confirmed));
    let unknown = Command::Query(Query::Balance {
        player: NOBODY,
        currency: EUR,
    });
    check_rejected(h.apply(GAME, "q1", unknown), Rejection::UnknownPlayer);
    assert_eq!(h.ledger.digest(), digest, "a query changed the digest");
    assert_eq!(h.ledger.remembered_len(), remembered);
    assert_eq!(h.summary(GAME, "q1"), None);
    // The id was never taken.
    check(
        h.apply(GAME, "q1", adjust_cmd(p, EUR, 1)),
        h.moved(1, 0, bal(1001, 0, 0, 0)),
    );
}

/// A short history touching most commands.
fn history(h: &mut Harness, stake: i64) {
    let p = h.register();
    h.fund(p, 1000);
    h.grant(grant(p, 500, 2000, 500));
    h.bet("b1", p, stake, "r1");
    h.win(p, 250, "r1");
    h.bet("b2", p, 100, "r2");
    h.rollback(p, "b2");
    h.rollback(p, "ghost");
    h.advance(HOUR);
    h.apply(PSP, "w1", withdraw_cmd(p, 100));
    h.run(PSP, approve_cmd("w1"));
    h.run(PSP, complete_cmd("w1"));
    h.run(OPS, adjust_cmd(p, EUR, -5));
}

#[test]
fn the_same_envelopes_give_the_same_digest_and_outcomes() {
    let mut h = Harness::new();
    history(&mut h, 300);
    let mut replayed = Ledger::new(Config::default());
    let mut live = Ledger::new(Config::default());
    for envelope in &h.log {
        assert_eq!(replayed.apply(envelope), live.apply(envelope), "seq {}", envelope.seq);
    }
    assert_eq!(replayed.digest(), h.ledger.digest());
    assert_eq!(h.replay().digest(), h.ledger.digest());
    assert_eq!(replayed.flows(EUR), h.flows());
    assert_eq!(replayed.balances(PlayerId(1), EUR), Ok(h.balances(PlayerId(1))));
}

#[test]
fn a_different_history_gives_a_different_digest() {
    let (mut a, mut b) = (Harness::new(), Harness::new());
    history(&mut a, 300);
    history(&mut b, 301);
    assert_ne!(a.ledger.digest(), b.ledger.digest());
    let (mut c, mut d) = (Harness::new(), Harness::new());
    history(&mut c, 300);
    history(&mut d, 300);
    assert_eq!(c.ledger.digest(), d.ledger.digest());
    // A rejected command is part of the history too.
    d.run(GAME, bet_cmd(PlayerId(1), 0, "r9"));
    assert_ne!(c.ledger.digest(), d.ledger.digest());
}

#[test]
fn requests_printed_by_a_producer_are_admitted_and_applied_as_the_ledger_would() {
    let mut h = Harness::new();
    let p = h.register();
    h.fund(p, 1000);
    // A twin fed the same envelopes the sequencer's way: fingerprints made
    // ahead by the printer, then admitted and applied without hashing.
    let mut twin = h.replay();
    let printer = twin.printer();
    let cases: Vec<(SourceId, &str, Command)> = vec![
        (GAME, "b1", bet_cmd(p, 100, "r1")),
        (GAME, "b1", bet_cmd(p, 100, "r1")), // retry
        (GAME, "b1", bet_cmd(p, 200, "r1")), // conflict
        (GAME, "w1", win_cmd(p, 50, "r1", WinKind::Regular)),
        (GAME, "rb-early", rollback_cmd(p, "b2")),
        (GAME, "b2", bet_cmd(p, 100, "r2")), // rolled back before it came
        (OPS, "adj", adjust_cmd(p, EUR, -5)),
    ];
    for (source, id, command) in cases {
        let request = Request {
            source,
            id: ext(id),
            command: command.clone(),
        };
        let prints = printer.prints(&request);
        let expected = h.apply(source, id, command);
        let envelope = Envelope {
            seq: h.seq,
            time_ms: h.now,
            request,
        };
        let outcome = match twin.admit_printed(&envelope.request, prints) {
            Admission::Fresh(fresh) => twin.apply_fresh(&envelope, fresh),
            Admission::Answered(outcome) => outcome,
        };
        assert_eq!(outcome, expected, "{id}");
        assert_eq!(twin.digest(), h.ledger.digest(), "{id}");
    }
}
