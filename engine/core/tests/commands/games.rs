//! The game catalogue: providers and games kept by operators, and the bet
//! path's checks once the catalogue holds a game (unknown or disabled game,
//! jurisdiction not allowed, currency not offered, stake outside the
//! limits), each refusal changing nothing; a ledger without a catalogue
//! takes bets as it always did.

use super::*;
use engine_core::access::{AggregatorCredential, Command as AccessCommand, Role};
use engine_core::games::{BetLimit, Command as GamesCommand, Game, GameType, Provider, Volatility};
use engine_core::outcome::{CatalogueFault, GameRefusal};
use engine_core::{Name, ProviderCode, Secret, Title, TokenHash};

/// The admin operator (its source is 1, the aggregators' 2 and 3).
const ADMIN: OperatorId = OperatorId(1);
/// The aggregator the catalogued games come from.
const AGG: SourceId = SourceId(2);
/// Another aggregator, carrying nothing.
const OTHER_AGG: SourceId = SourceId(3);

/// An admin and two aggregators.
pub(super) fn with_access(h: &mut Harness) {
    let created = h.run(
        SourceId(0),
        Command::Access(AccessCommand::CreateOperator {
            token: TokenHash([1; 32]),
            role: Role::Admin,
            name: Name::new("admin").unwrap(),
            operator: OperatorId::SYSTEM,
        }),
    );
    assert!(created.is_ok(), "{created:?}");
    for (n, name) in [(2, "hub"), (3, "other")] {
        let created = h.run(
            SourceId(1),
            Command::Access(AccessCommand::CreateAggregator {
                name: Name::new(name).unwrap(),
                credential: AggregatorCredential::Hmac(Secret([n; 32])),
                operator: ADMIN,
            }),
        );
        check(
            created,
            Outcome::AggregatorCreated {
                aggregator: SourceId(u32::from(n)),
            },
        );
    }
}

fn mt() -> Jurisdiction {
    Jurisdiction::new("MT").unwrap()
}

fn provider(aggregators: Vec<SourceId>) -> Provider {
    Provider {
        code: ProviderCode::new("studio").unwrap(),
        name: Title::new("Studio One").unwrap(),
        aggregators,
    }
}

/// Game `code` at AGG: EUR stakes 0.10 to 50.00, Malta only.
fn slot(code: &str) -> Game {
    Game {
        aggregator: AGG,
        code: game(code),
        provider: ProviderCode::new("studio").unwrap(),
        name: Title::new("Gates of Something").unwrap(),
        kind: GameType::Slot,
        volatility: Volatility::High,
        rtp_variants_bp: vec![9_450, 9_650],
        rtp_default_bp: 9_650,
        rtp_by_jurisdiction: vec![],
        limits: vec![BetLimit {
            currency: EUR,
            min: amt(10),
            max: amt(5_000),
        }],
        jurisdictions: vec![mt()],
        enabled: true,
    }
}

fn provider_cmd(provider: Provider) -> Command {
    Command::Games(GamesCommand::UpsertProvider {
        provider,
        operator: ADMIN,
    })
}

fn game_cmd(game: Game) -> Command {
    Command::Games(GamesCommand::UpsertGame {
        game: Box::new(game),
        operator: ADMIN,
    })
}

fn enable_cmd(code: &str, enabled: bool) -> Command {
    Command::Games(GamesCommand::SetGameEnabled {
        aggregator: AGG,
        code: game(code),
        enabled,
        operator: ADMIN,
    })
}

/// A funded Maltese player, access, the provider and game "slots".
fn catalogued() -> (Harness, PlayerId) {
    let mut h = Harness::new();
    with_access(&mut h);
    let player = h.register();
    h.fund(player, 100_000);
    check(h.run(OPS, provider_cmd(provider(vec![AGG]))), Outcome::Accepted);
    check(h.run(OPS, game_cmd(slot("slots"))), Outcome::Accepted);
    (h, player)
}

#[test]
fn without_a_catalogue_any_game_takes_bets_as_before() {
    let mut h = Harness::new();
    with_access(&mut h);
    let player = h.register();
    h.fund(player, 1_000);
    check(h.run(OPS, provider_cmd(provider(vec![AGG]))), Outcome::Accepted);
    // A provider alone enforces nothing: the first game does.
    let outcome = h.apply(AGG, "b1", bet_on(player, 1, round_of("r1", "anything"), false));
    assert!(outcome.is_ok(), "{outcome:?}");
    assert!(h.ledger.catalogue().is_empty());
}

#[test]
fn a_catalogued_game_takes_stakes_within_its_limits() {
    let (mut h, player) = catalogued();
    let before = h.balances(player);
    let outcome = h.apply(AGG, "b1", bet_on(player, 10, round_of("r1", "slots"), false));
    check(
        outcome,
        h.moved(
            -10,
            0,
            Balances {
                cash: amt(before.cash.minor() - 10),
                ..before
            },
        ),
    );
    let outcome = h.apply(AGG, "b2", bet_on(player, 5_000, round_of("r1", "slots"), false));
    assert!(outcome.is_ok(), "{outcome:?}");
    let game = h.ledger.catalogue().game(AGG, "slots").unwrap();
    assert_eq!(game.rtp_bp(mt()), 9_650);
}

#[test]
fn every_refusal_of_the_catalogue_changes_nothing() {
    let (mut h, player) = catalogued();
    let se = h.register_in(EUR, "SE");
    h.fund(se, 1_000);
    let refused = |why| Rejection::GameRefused(why);
    let outside = Rejection::StakeOutsideGameLimits {
        min: amt(10),
        max: amt(5_000),
    };
    let cases: Vec<(PlayerId, Command, SourceId, Rejection)> = vec![
        (player, bet_on(player, 9, round_of("r", "slots"), false), AGG, outside),
        (
            player,
            bet_on(player, 5_001, round_of("r", "slots"), false),
            AGG,
            outside,
        ),
        (
            player,
            bet_on(player, 100, round_of("r", "nope"), false),
            AGG,
            refused(GameRefusal::Unknown),
        ),
        // The same code from another aggregator is another game.
        (
            player,
            bet_on(player, 100, round_of("r", "slots"), false),
            OTHER_AGG,
            refused(GameRefusal::Unknown),
        ),
        (
            se,
            bet_on(se, 100, round_of("r", "slots"), false),
            AGG,
            refused(GameRefusal::JurisdictionNotAllowed),
        ),
    ];
    for (n, (who, command, source, rejection)) in cases.into_iter().enumerate() {
        let money = h.money();
        let rounds = h.ledger.open_rounds_len();
        check_rejected(h.apply(source, &format!("x{n}"), command), rejection);
        assert_eq!(h.money(), money, "case {n}");
        assert_eq!(h.ledger.open_rounds_len(), rounds, "case {n}");
        assert!(h.balances(who).cash.is_positive());
    }
    // A USD wallet on a game offered only in EUR.
    let usd = h.register_in(USD, "MT");
    let usd_bet = Command::Gaming(engine_core::gaming::Command::Bet(Bet {
        player: usd,
        currency: USD,
        amount: amt(100),
        round: round_of("u", "slots"),
        close_round: false,
    }));
    check_rejected(h.apply(AGG, "usd", usd_bet), refused(GameRefusal::CurrencyNotOffered));

    check(h.run(OPS, enable_cmd("slots", false)), Outcome::Accepted);
    check_rejected(
        h.apply(AGG, "off", bet_on(player, 100, round_of("r", "slots"), false)),
        refused(GameRefusal::Disabled),
    );
    // Wins and rollbacks of a disabled game still land (owed money).
    check(h.run(OPS, enable_cmd("slots", true)), Outcome::Accepted);
    assert!(
        h.apply(AGG, "on", bet_on(player, 100, round_of("r2", "slots"), false))
            .is_ok()
    );
    check(h.run(OPS, enable_cmd("slots", false)), Outcome::Accepted);
    let win = win_on(player, 300, round_of("r2", "slots"), WinKind::Regular, true);
    assert!(h.run(AGG, win).is_ok());
    // The replayed ledger agrees.
    assert_eq!(h.replay().digest(), h.ledger.digest());
}

#[test]
fn the_configured_rtp_follows_the_jurisdiction() {
    let (mut h, _) = catalogued();
    let mut changed = slot("slots");
    changed.rtp_by_jurisdiction = vec![(mt(), 9_450)];
    changed.jurisdictions.push(Jurisdiction::new("GB").unwrap());
    check(h.run(OPS, game_cmd(changed)), Outcome::Accepted);
    let game = h.ledger.catalogue().game(AGG, "slots").unwrap();
    assert_eq!(game.rtp_bp(mt()), 9_450);
    assert_eq!(game.rtp_bp(Jurisdiction::new("GB").unwrap()), 9_650);
}

#[test]
fn invalid_catalogue_commands_are_refused_and_change_nothing() {
    let (mut h, _) = catalogued();
    let invalid = Rejection::InvalidCatalogueEntry;
    let mut orphan = slot("orphan");
    orphan.provider = ProviderCode::new("nobody").unwrap();
    let mut elsewhere = slot("elsewhere");
    elsewhere.aggregator = OTHER_AGG;
    let mut no_agg = slot("ghost");
    no_agg.aggregator = SourceId(42);
    let mut bad_rtp = slot("bad-rtp");
    bad_rtp.rtp_default_bp = 9_000;
    let mut bad_limits = slot("bad-limits");
    bad_limits.limits[0].min = amt(0);
    let mut nowhere = slot("nowhere");
    nowhere.jurisdictions.clear();
    let mut twice = slot("twice");
    twice.jurisdictions.push(mt());
    let mut by_nobody = game_cmd(slot("x"));
    if let Command::Games(GamesCommand::UpsertGame { operator, .. }) = &mut by_nobody {
        *operator = OperatorId(77);
    }
    let cases = [
        (game_cmd(orphan), invalid(CatalogueFault::UnknownProvider)),
        (game_cmd(elsewhere), invalid(CatalogueFault::AggregatorNotCarrying)),
        (game_cmd(no_agg), Rejection::UnknownAggregator),
        (game_cmd(bad_rtp), invalid(CatalogueFault::Rtp)),
        (game_cmd(bad_limits), invalid(CatalogueFault::Limits)),
        (game_cmd(nowhere), invalid(CatalogueFault::ListLength)),
        (game_cmd(twice), invalid(CatalogueFault::Duplicate)),
        (by_nobody, Rejection::UnknownOperator),
        (enable_cmd("nope", false), Rejection::GameRefused(GameRefusal::Unknown)),
        (provider_cmd(provider(vec![])), invalid(CatalogueFault::ListLength)),
        (
            provider_cmd(provider(vec![AGG, AGG])),
            invalid(CatalogueFault::Duplicate),
        ),
        (provider_cmd(provider(vec![SourceId(42)])), Rejection::UnknownAggregator),
        // "slots" is still carried by AGG: the provider cannot drop it.
        (
            provider_cmd(provider(vec![OTHER_AGG])),
            invalid(CatalogueFault::AggregatorNotCarrying),
        ),
    ];
    let digest_games = h.ledger.catalogue().games().into_iter().cloned().collect::<Vec<_>>();
    let providers = h.ledger.catalogue().providers().to_vec();
    for (command, rejection) in cases {
        check_rejected(h.run(OPS, command), rejection);
    }
    let games_after = h.ledger.catalogue().games().into_iter().cloned().collect::<Vec<_>>();
    assert_eq!(games_after, digest_games);
    assert_eq!(h.ledger.catalogue().providers(), providers.as_slice());
    // A provider may add an aggregator, and then carry games there.
    check(
        h.run(OPS, provider_cmd(provider(vec![AGG, OTHER_AGG]))),
        Outcome::Accepted,
    );
    let mut elsewhere = slot("elsewhere");
    elsewhere.aggregator = OTHER_AGG;
    check(h.run(OPS, game_cmd(elsewhere)), Outcome::Accepted);
    assert_eq!(h.ledger.catalogue().games_len(), 2);
}
