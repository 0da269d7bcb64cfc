//! Several bonuses per wallet: the queue behind the active one, its order,
//! activation when the active one ends (conversion, forfeit, expiry), the
//! max bet while a bonus is active, and the queue through a snapshot image.

use engine_core::bonus::{BONUS_QUEUE_MAX, BonusGranted, BonusList, BonusStatus, Command as BonusCommand};
use engine_core::codec::Encode;
use engine_core::ledger::IMAGE_FORMAT_WITHDRAWAL_HOLDS;
use engine_core::ledger::LedgerImage;

use super::*;

impl Harness {
    /// Grants through the queue (tag 78) with an optional max bet.
    fn queue(&mut self, grant: BonusGrant, max_bet: Option<i64>) -> Outcome {
        let max_bet = max_bet.map(amt);
        self.run(OPS, Command::Bonus(BonusCommand::GrantQueued { grant, max_bet }))
    }

    /// The serials of the EUR wallet's bonuses, active first.
    fn serials(&self, player: PlayerId) -> Vec<(u32, u32, i64)> {
        let list = self.ledger.bonuses(player, EUR).expect("EUR wallet");
        list.bonuses
            .iter()
            .map(|b| (b.serial, b.position, b.amount.minor()))
            .collect()
    }

    fn forfeit(&mut self, player: PlayerId, serial: Option<u32>) -> Outcome {
        self.run(
            OPS,
            Command::Bonus(BonusCommand::ForfeitBonus {
                player,
                currency: EUR,
                serial,
            }),
        )
    }
}

/// The outcome of a queued grant applied last.
fn granted(h: &Harness, serial: u32, position: u32, cash: i64, bonus_delta: i64, after: Balances) -> Outcome {
    Outcome::BonusGranted(Box::new(BonusGranted {
        receipt: Receipt {
            seq: h.seq,
            cash_delta: amt(cash),
            bonus_delta: amt(bonus_delta),
            balances: after,
        },
        serial,
        position,
    }))
}

#[test]
fn grants_while_one_is_active_queue_in_grant_order() {
    let mut h = Harness::new();
    let p = h.register();
    let first = h.queue(grant(p, 500, 1000, 500), None);
    check(first, granted(&h, 1, 0, 0, 500, bal(0, 500, 0, 0)));
    let second = h.queue(grant(p, 300, 600, 300), Some(50));
    check(second, granted(&h, 2, 1, 0, 0, bal(0, 500, 0, 0)));
    let third = h.queue(grant(p, 200, 0, 200), None);
    check(third, granted(&h, 3, 2, 0, 0, bal(0, 500, 0, 0)));
    assert_eq!(h.serials(p), vec![(1, 0, 500), (2, 1, 300), (3, 2, 200)]);
    // A queued bonus is a promise: only the active one's money is granted.
    assert_eq!(h.flows().bonus_granted, 500);
    let list = h.ledger.bonuses(p, EUR).unwrap();
    let second = &list.bonuses[1];
    assert_eq!(
        *second,
        BonusStatus {
            serial: 2,
            position: 1,
            amount: amt(300),
            wagering_required: amt(600),
            wagered: amt(0),
            conversion_cap: amt(300),
            expires_at_ms: T0 + 30 * DAY,
            max_bet: Some(amt(50)),
        }
    );
    // The query answers the same list.
    let query = h.run(
        OPS,
        Command::Query(Query::Bonuses {
            player: p,
            currency: EUR,
        }),
    );
    check(query, Outcome::Bonuses(Box::new(list)));
    // The command of tag 20 keeps its journaled meaning: one at a time.
    check_rejected(h.grant(grant(p, 100, 0, 100)), Rejection::BonusAlreadyActive);
}

#[test]
fn conversion_activates_the_next_bonus_and_wagering_counts_toward_it_alone() {
    let mut h = Harness::new();
    let p = h.register();
    h.fund(p, 500);
    h.queue(grant(p, 500, 800, 400), None);
    h.queue(grant(p, 300, 600, 1000), None);
    // 500 cash + 300 bonus: 800 wagered converts the first's 200 left; the
    // second becomes active with its 300.
    check(h.bet("b1", p, 800, "r1"), h.moved(-300, -200, bal(200, 300, 0, 5)));
    assert_eq!(h.serials(p), vec![(2, 0, 300)]);
    let flows = h.flows();
    assert_eq!((flows.bonus_granted, flows.bonus_forfeited), (800, 0));
    // The stake that converted the first does not count toward the second.
    assert_eq!(h.ledger.bonuses(p, EUR).unwrap().bonuses[0].wagered, amt(0));
    // The first bonus's share of its round's win follows it into cash,
    // not into the second bonus.
    check(h.win(p, 80, "r1"), h.moved(80, 0, bal(280, 300, 0, 5)));
    // The second's share goes back into the second.
    check(h.bet("b2", p, 580, "r2"), h.moved(-280, -300, bal(0, 0, 0, 7)));
    assert_eq!(h.ledger.bonuses(p, EUR).unwrap().bonuses[0].wagered, amt(580));
    check(h.win(p, 100, "r2"), h.moved(49, 51, bal(49, 51, 0, 7)));
    assert_eq!(h.replay().digest(), h.ledger.digest());
}

#[test]
fn a_bonus_without_wagering_converts_on_activation_and_lets_the_next_in() {
    let mut h = Harness::new();
    let p = h.register();
    h.queue(grant(p, 500, 1000, 500), None);
    h.queue(grant(p, 200, 0, 150), None);
    h.queue(grant(p, 100, 300, 100), None);
    // Forfeiting the first activates the second, which converts at once
    // (150 to cash, 50 forfeited), and the third becomes active.
    check(h.forfeit(p, None), h.moved(150, -400, bal(150, 100, 0, 0)));
    assert_eq!(h.serials(p), vec![(3, 0, 100)]);
    let flows = h.flows();
    assert_eq!((flows.bonus_granted, flows.bonus_forfeited), (800, 550));
}

#[test]
fn forfeit_names_the_active_bonus_or_a_queued_one() {
    let mut h = Harness::new();
    let p = h.register();
    h.queue(grant(p, 500, 1000, 500), None);
    h.queue(grant(p, 300, 600, 300), None);
    h.queue(grant(p, 200, 400, 200), None);
    check_rejected(h.forfeit(p, Some(9)), Rejection::UnknownBonus { serial: 9 });
    // A queued one leaves the queue; no money moves.
    check(h.forfeit(p, Some(2)), h.moved(0, 0, bal(0, 500, 0, 0)));
    assert_eq!(h.serials(p), vec![(1, 0, 500), (3, 1, 200)]);
    check_rejected(h.forfeit(p, Some(2)), Rejection::UnknownBonus { serial: 2 });
    // The active one by serial: the next becomes active.
    check(h.forfeit(p, Some(1)), h.moved(0, -300, bal(0, 200, 0, 0)));
    assert_eq!(h.serials(p), vec![(3, 0, 200)]);
    check(h.forfeit(p, None), h.moved(0, -200, bal(0, 0, 0, 0)));
    check_rejected(h.forfeit(p, None), Rejection::NoActiveBonus);
    check_rejected(h.forfeit(NOBODY, None), Rejection::UnknownPlayer);
    let flows = h.flows();
    assert_eq!((flows.bonus_granted, flows.bonus_forfeited), (700, 700));
}

#[test]
fn each_bonus_keeps_its_own_expiry_and_lapses_unpaid_while_queued() {
    let mut h = Harness::new();
    let p = h.register();
    let expiring = |minor, days| BonusGrant {
        expires_at_ms: T0 + days * DAY,
        ..grant(p, minor, minor * 2, minor)
    };
    h.queue(expiring(500, 10), None);
    h.queue(expiring(300, 5), None); // lapses while the first is active
    h.queue(expiring(200, 20), None);
    h.at(T0 + 6 * DAY);
    check_rejected(h.run(OPS, expire_cmd(p)), Rejection::BonusNotExpired);
    // The list still shows the lapsed one until the active one ends.
    assert_eq!(h.serials(p).len(), 3);
    h.at(T0 + 11 * DAY);
    check(h.run(OPS, expire_cmd(p)), h.moved(0, -300, bal(0, 200, 0, 0)));
    assert_eq!(h.serials(p), vec![(3, 0, 200)]);
    let list = h.ledger.bonuses(p, EUR).unwrap();
    assert_eq!(list.bonuses[0].expires_at_ms, T0 + 20 * DAY);
    let flows = h.flows();
    assert_eq!((flows.bonus_granted, flows.bonus_forfeited), (700, 500));
    // A grant after the active one expired, unswept, takes its place.
    h.at(T0 + 21 * DAY);
    h.queue(expiring(100, 40), None);
    assert_eq!(h.serials(p), vec![(4, 0, 100)]);
    let flows = h.flows();
    assert_eq!((flows.bonus_granted, flows.bonus_forfeited), (800, 700));
}

#[test]
fn the_queue_is_bounded() {
    let mut h = Harness::new();
    let p = h.register();
    for _ in 0..=BONUS_QUEUE_MAX {
        assert!(h.queue(grant(p, 100, 200, 100), None).is_ok());
    }
    assert_eq!(h.serials(p).len(), BONUS_QUEUE_MAX + 1);
    let full = Rejection::BonusQueueFull {
        max: BONUS_QUEUE_MAX as u32,
    };
    check_rejected(h.queue(grant(p, 100, 200, 100), None), full);
    assert_eq!(h.serials(p).len(), BONUS_QUEUE_MAX + 1);
    // Room again once one leaves.
    check(h.forfeit(p, None), h.moved(0, 0, bal(0, 100, 0, 0)));
    assert!(h.queue(grant(p, 100, 200, 100), None).is_ok());
    // A grant's own checks come first.
    check_rejected(h.queue(grant(p, 0, 200, 100), None), Rejection::InvalidAmount);
    check_rejected(h.queue(grant(p, 100, 200, 100), Some(0)), Rejection::InvalidAmount);
}

#[test]
fn the_max_bet_holds_while_its_bonus_is_active() {
    let mut h = Harness::new();
    let p = h.register();
    h.fund(p, 10_000);
    h.queue(grant(p, 500, 100_000, 500), Some(200));
    h.queue(grant(p, 300, 100_000, 300), None);
    let refused = Rejection::BonusMaxBetExceeded { max: amt(200) };
    // Refused even from cash: the rule is about the stake while wagering.
    check_rejected(h.bet("b1", p, 201, "r1"), refused);
    assert_eq!(h.balances(p), bal(10_000, 500, 0, 0));
    check(h.bet("b2", p, 200, "r1"), h.moved(-200, 0, bal(9800, 500, 0, 2)));
    // The next bonus has no max bet.
    h.forfeit(p, None);
    check(h.bet("b3", p, 5000, "r2"), h.moved(-5000, 0, bal(4800, 300, 0, 52)));
}

#[test]
fn queues_and_max_bets_survive_a_snapshot_image() {
    let mut h = Harness::new();
    let p = h.register();
    let q = h.register();
    h.queue(grant(p, 500, 1000, 500), Some(200));
    h.queue(grant(p, 300, 600, 300), Some(100));
    h.queue(grant(q, 200, 400, 200), None);
    h.queue(grant(q, 100, 0, 100), None);
    let lists: Vec<BonusList> = [p, q].iter().map(|&id| h.ledger.bonuses(id, EUR).unwrap()).collect();
    let ledger = std::mem::replace(&mut h.ledger, Ledger::new(h.config.clone()));
    let digest = ledger.digest();
    let mut bytes = Vec::new();
    ledger.into_image().encode(&mut bytes);
    let image = LedgerImage::decode_format(&bytes, IMAGE_FORMAT_WITHDRAWAL_HOLDS).unwrap();
    h.ledger = Ledger::from_image(image, &h.config).unwrap();
    assert_eq!(h.ledger.digest(), digest);
    let restored: Vec<BonusList> = [p, q].iter().map(|&id| h.ledger.bonuses(id, EUR).unwrap()).collect();
    assert_eq!(restored, lists);
    // The restored max bet still refuses.
    h.fund(p, 1000);
    check_rejected(
        h.bet("b1", p, 201, "r1"),
        Rejection::BonusMaxBetExceeded { max: amt(200) },
    );
}

#[test]
fn templates_are_checked_and_the_ledger_keeps_nothing_of_them() {
    use engine_core::bonus::{BonusTemplate, TemplateKind};
    use engine_core::{BonusCode, Title};
    let mut h = Harness::new();
    let p = h.register();
    let template = BonusTemplate {
        code: BonusCode::new("welcome").unwrap(),
        name: Title::new("Welcome").unwrap(),
        kind: TemplateKind::DepositMatch {
            percent: 100,
            cap: amt(10_000),
            min_deposit: amt(1_000),
        },
        currency: EUR,
        wagering_x: 30,
        contributions: vec![(game("roulette"), 10)],
        default_contribution_pct: 100,
        max_bet: Some(amt(500)),
        expiry_days: 30,
        conversion_cap: None,
        automatic: true,
        claim_code: Some(BonusCode::new("WELCOME").unwrap()),
        mixed_product: false,
        enabled: true,
    };
    let set = |t: BonusTemplate| {
        Command::Bonus(BonusCommand::SetTemplate {
            template: Box::new(t),
            operator: OperatorId(1),
        })
    };
    let before = h.money();
    check(h.run(OPS, set(template.clone())), Outcome::Accepted);
    type Spoil = (fn(&mut BonusTemplate), Rejection);
    let spoiled: [Spoil; 7] = [
        (
            |t| {
                t.kind = TemplateKind::DepositMatch {
                    percent: 0,
                    cap: amt(1),
                    min_deposit: amt(0),
                }
            },
            Rejection::InvalidAmount,
        ),
        (
            |t| t.kind = TemplateKind::NoDeposit { amount: amt(0) },
            Rejection::InvalidAmount,
        ),
        (
            |t| {
                t.kind = TemplateKind::FreeSpins {
                    count: 10,
                    bet_value: amt(20),
                    games: Vec::new(),
                }
            },
            Rejection::InvalidAmount,
        ),
        (
            |t| {
                t.kind = TemplateKind::Cashback {
                    percent: 101,
                    period_days: 7,
                }
            },
            Rejection::InvalidAmount,
        ),
        (|t| t.wagering_x = 201, Rejection::InvalidAmount),
        (|t| t.expiry_days = 0, Rejection::InvalidAmount),
        (|t| t.default_contribution_pct = 101, Rejection::InvalidContribution),
    ];
    for (spoil, rejection) in spoiled {
        let mut bad = template.clone();
        spoil(&mut bad);
        check_rejected(h.run(OPS, set(bad)), rejection);
    }
    assert_eq!(h.money(), before, "no money moves");
    assert_eq!(h.serials(p), vec![]);
}

/// A redemption of loyalty points (tag 93) is a queued grant: the bonus is
/// granted or queued as by tag 78; one spending no points, or for an
/// unknown player, is refused and moves nothing. The loyalty settings, tier
/// changes and promotion rules are recorded, not kept.
#[test]
fn a_redemption_is_a_queued_grant_and_loyalty_records_keep_nothing() {
    use engine_core::bonus::{LoyaltyConfig, VipTier};
    use engine_core::games::GameType;
    use engine_core::{BonusCode, Jurisdiction, Title};
    let mut h = Harness::new();
    let p = h.register();
    let redeem = |grant: BonusGrant, points: u64| {
        Command::Bonus(BonusCommand::RedeemPoints {
            grant: Box::new(grant),
            max_bet: None,
            points,
        })
    };
    let before = h.money();
    check_rejected(h.run(OPS, redeem(grant(p, 100, 100, 100), 0)), Rejection::InvalidAmount);
    check_rejected(
        h.run(OPS, redeem(grant(PlayerId(99), 100, 100, 100), 100)),
        Rejection::UnknownPlayer,
    );
    assert_eq!(h.money(), before, "a refused redemption moves nothing");
    let first = h.run(OPS, redeem(grant(p, 100, 100, 100), 100));
    check(first, granted(&h, 1, 0, 0, 100, bal(0, 100, 0, 0)));
    let second = h.run(OPS, redeem(grant(p, 50, 50, 50), 50));
    check(second, granted(&h, 2, 1, 0, 0, bal(0, 100, 0, 0)));
    assert_eq!(h.serials(p), vec![(1, 0, 100), (2, 1, 50)]);

    let tier = VipTier {
        code: BonusCode::new("gold").unwrap(),
        name: Title::new("Gold").unwrap(),
        min_points: 100,
        min_turnover: None,
        cashback_pct: Some(20),
        withdrawal_limit: None,
        account_manager: true,
    };
    let config = LoyaltyConfig {
        rates: vec![(GameType::Slot, 1_000)],
        default_rate_milli: 500,
        currency: EUR,
        redeem_points: 100,
        redeem_amount: amt(100),
        redeem_wagering_x: 1,
        redeem_expiry_days: 30,
        review_days: 30,
        tiers: vec![tier],
    };
    let set = |config: LoyaltyConfig| {
        Command::Bonus(BonusCommand::SetLoyalty {
            config: Box::new(config),
            operator: OperatorId(1),
        })
    };
    let before = h.money();
    check(h.run(OPS, set(config.clone())), Outcome::Accepted);
    let bad = LoyaltyConfig {
        redeem_points: 0,
        ..config
    };
    check_rejected(h.run(OPS, set(bad)), Rejection::InvalidAmount);
    let tier = |player| {
        Command::Bonus(BonusCommand::SetVipTier {
            player,
            tier: BonusCode::new("gold").ok(),
            period: 7,
            operator: OperatorId::SYSTEM,
        })
    };
    check(h.run(OPS, tier(p)), Outcome::Accepted);
    check_rejected(h.run(OPS, tier(PlayerId(99))), Rejection::UnknownPlayer);
    let rules = Command::Bonus(BonusCommand::SetPromotionRules {
        jurisdiction: Jurisdiction::new("GB").ok(),
        mixed_product_banned: true,
        operator: OperatorId(1),
    });
    check(h.run(OPS, rules), Outcome::Accepted);
    assert_eq!(h.money(), before, "no money moves");
}

/// Free rounds through the aggregator are recorded, not kept: the award is
/// checked (bounds, expiry after now, the player) and each state change
/// too; no money moves.
#[test]
fn free_rounds_awards_and_their_states_are_checked_and_move_nothing() {
    use engine_core::bonus::{FreeRoundsAward, FreeRoundsState};
    use engine_core::{BonusCode, GameCode};
    let mut h = Harness::new();
    let p = h.register();
    let now = h.now;
    let award = |player, rounds, expires_at_ms| {
        Command::Bonus(BonusCommand::FreeRoundsAwarded {
            award: Box::new(FreeRoundsAward {
                player,
                template: BonusCode::new("spins").unwrap(),
                code: BonusCode::new("cr-1").unwrap(),
                aggregator: SourceId(2),
                currency: EUR,
                rounds,
                bet_value: amt(20),
                games: vec![GameCode::new("vs20olympgate").unwrap()],
                expires_at_ms,
            }),
            operator: OperatorId(1),
        })
    };
    let settled = |player, state| {
        Command::Bonus(BonusCommand::FreeRoundsSettled {
            player,
            code: BonusCode::new("cr-1").unwrap(),
            state,
            attempts: 1,
            operator: OperatorId::SYSTEM,
        })
    };
    let before = h.money();
    check(h.run(OPS, award(p, 10, now + 5_000)), Outcome::Accepted);
    check_rejected(h.run(OPS, award(p, 0, now + 5_000)), Rejection::InvalidFreeRounds);
    check_rejected(h.run(OPS, award(p, 10, now)), Rejection::InvalidFreeRounds);
    check_rejected(
        h.run(OPS, award(PlayerId(99), 10, now + 5_000)),
        Rejection::UnknownPlayer,
    );
    check(h.run(OPS, settled(p, FreeRoundsState::Confirmed)), Outcome::Accepted);
    let won = |minor| FreeRoundsState::Won { winnings: amt(minor) };
    check(h.run(OPS, settled(p, won(340))), Outcome::Accepted);
    check_rejected(h.run(OPS, settled(p, won(-1))), Rejection::InvalidFreeRounds);
    check_rejected(
        h.run(OPS, settled(PlayerId(99), FreeRoundsState::Cancelled)),
        Rejection::UnknownPlayer,
    );
    assert_eq!(h.money(), before, "no money moves");
}
