//! Unit tests of the pools' own rules (the ledger's scenarios, with
//! conservation across every movement, are in
//! `engine/core/tests/commands/jackpots.rs`).

use super::*;
use crate::codec::Encode;
use crate::ids::{GameCode, Title};

fn pool(code: &str, games: &[&str]) -> Pool {
    Pool {
        code: JackpotCode::new(code).unwrap(),
        name: Title::new("Mega").unwrap(),
        currency: Currency::EUR,
        games: games
            .iter()
            .map(|g| CoveredGame {
                aggregator: SourceId(2),
                code: GameCode::new(g).unwrap(),
            })
            .collect(),
        contribution_bp: 100,
        seed: Amount::from_minor(1_000),
        must_drop: Some(Amount::from_minor(1_200)),
    }
}

#[test]
fn a_record_is_checked_part_by_part() {
    let check = |change: fn(&mut Pool), expect: Result<(), JackpotFault>| {
        let mut p = pool("p", &["a", "b"]);
        change(&mut p);
        assert_eq!(check_record(&p), expect);
    };
    check(|_| {}, Ok(()));
    check(|p| p.games.clear(), Err(JackpotFault::ListLength));
    check(|p| p.games.push(p.games[0].clone()), Err(JackpotFault::Duplicate));
    check(|p| p.contribution_bp = 0, Err(JackpotFault::Contribution));
    check(|p| p.contribution_bp = 1_001, Err(JackpotFault::Contribution));
    check(|p| p.seed = Amount::from_minor(-1), Err(JackpotFault::Seed));
    check(
        |p| p.must_drop = Some(Amount::from_minor(1_000)),
        Err(JackpotFault::MustDrop),
    );
    check(|p| p.must_drop = None, Ok(()));
}

#[test]
fn a_contribution_is_the_stakes_share_rounded_down() {
    let p = pool("p", &["a"]);
    assert_eq!(contribution_of(&p, Amount::from_minor(199)), Amount::from_minor(1));
    assert_eq!(contribution_of(&p, Amount::from_minor(99)), Amount::ZERO);
    assert_eq!(contribution_of(&p, Amount::MAX), Amount::from_minor(i64::MAX / 100));
}

#[test]
fn bets_find_their_pool_by_source_code_and_currency() {
    let mut jackpots = Jackpots::default();
    jackpots.create(pool("p", &["a", "b"]));
    let mut usd = pool("q", &["a"]);
    usd.currency = Currency::USD;
    jackpots.create(usd);
    assert_eq!(jackpots.covering(SourceId(2), "b", Currency::EUR), Some(0));
    assert_eq!(jackpots.covering(SourceId(2), "a", Currency::USD), Some(1));
    assert_eq!(jackpots.covering(SourceId(3), "a", Currency::EUR), None);
    assert_eq!(jackpots.covering(SourceId(2), "c", Currency::EUR), None);
    assert_eq!(jackpots.covering(SourceId(2), "a", Currency::GBP), None);
    let flows = jackpots.flows(Currency::EUR);
    assert_eq!(flows.seeded, 1_000);
    assert_eq!(jackpots.balance_total(Currency::EUR), flows.expected_pools());
}

#[test]
fn the_cap_drops_on_the_bet_after_it_is_reached() {
    let mut jackpots = Jackpots::default();
    jackpots.create(pool("p", &["a"]));
    let stake = Amount::from_minor(10_000); // contributes 100
    let plan = |j: &Jackpots| {
        j.plan_contribution(SourceId(2), "a", Currency::EUR, stake)
            .unwrap()
            .unwrap()
    };
    for _ in 0..2 {
        let c = plan(&jackpots);
        assert_eq!((c.amount, c.drop), (Amount::from_minor(100), None));
        jackpots.contribute(c.slot, c.amount);
    }
    // 1,200 reached: the next bet contributes, then wins 1,300.
    let c = plan(&jackpots);
    assert_eq!(c.drop, Some(Amount::from_minor(1_300)));
    jackpots.contribute(c.slot, c.amount);
    let reseed = jackpots.pay(c.slot, c.drop.unwrap(), PlayerId(7), 9, 99);
    assert_eq!(reseed, Amount::from_minor(1_000));
    let state = &jackpots.pools()[0];
    assert_eq!(
        (state.balance, state.wins, state.contributed),
        (Amount::from_minor(1_000), 1, 300)
    );
    assert_eq!(state.last_win.unwrap().amount, Amount::from_minor(1_300));
    let flows = jackpots.flows(Currency::EUR);
    assert_eq!((flows.contributed, flows.seeded, flows.paid), (300, 2_000, 1_300));
    assert_eq!(jackpots.balance_total(Currency::EUR), flows.expected_pools());
}

#[test]
fn a_partial_payout_is_topped_up_to_the_seed() {
    let mut jackpots = Jackpots::default();
    jackpots.create(pool("p", &["a"]));
    jackpots.contribute(0, Amount::from_minor(150));
    assert_eq!(
        jackpots.pay(0, Amount::from_minor(100), PlayerId(1), 1, 1),
        Amount::ZERO
    );
    assert_eq!(jackpots.balance(0), Amount::from_minor(1_050));
    assert_eq!(
        jackpots.pay(0, Amount::from_minor(1_000), PlayerId(1), 2, 2),
        Amount::from_minor(950)
    );
    assert_eq!(jackpots.balance(0), Amount::from_minor(1_000));
}

#[test]
fn the_image_round_trips_and_refuses_overlaps() {
    let mut jackpots = Jackpots::default();
    jackpots.create(pool("p", &["a", "b"]));
    jackpots.create(pool("q", &["c"]));
    jackpots.contribute(1, Amount::from_minor(5));
    let mut bytes = Vec::new();
    jackpots.encode(&mut bytes);
    let back = Jackpots::decode(&mut Reader::new(&bytes)).unwrap();
    assert_eq!(back.pools(), jackpots.pools());
    assert_eq!(back.flows(Currency::EUR), jackpots.flows(Currency::EUR));
    assert_eq!(back.covering(SourceId(2), "c", Currency::EUR), Some(1));

    let overlapping = vec![jackpots.pools()[0].clone(), {
        let mut state = jackpots.pools()[1].clone();
        state.pool.games.push(state.pool.games[0].clone());
        state.pool.games[1].code = GameCode::new("a").unwrap();
        state
    }];
    assert!(Jackpots::from_parts(overlapping, jackpots.flows.to_vec()).is_none());
}
