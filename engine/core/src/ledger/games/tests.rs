//! Unit tests of the catalogue's own rules (the bet path's scenarios are
//! in `engine/core/tests/commands/games.rs`).

use super::*;
use crate::ids::{ProviderCode, Title};

fn game(code: &str) -> Game {
    Game {
        aggregator: SourceId(2),
        code: GameCode::new(code).unwrap(),
        provider: ProviderCode::new("studio").unwrap(),
        name: Title::new("A Game").unwrap(),
        kind: GameType::Slot,
        volatility: Volatility::High,
        rtp_variants_bp: vec![9_400, 9_600],
        rtp_default_bp: 9_600,
        rtp_by_jurisdiction: vec![(Jurisdiction::new("GB").unwrap(), 9_400)],
        limits: vec![BetLimit {
            currency: Currency::EUR,
            min: Amount::from_minor(10),
            max: Amount::from_minor(10_000),
        }],
        jurisdictions: vec![Jurisdiction::new("MT").unwrap(), Jurisdiction::new("GB").unwrap()],
        enabled: true,
    }
}

#[test]
fn a_record_is_checked_part_by_part() {
    let check = |change: fn(&mut Game), expect: Result<(), CatalogueFault>| {
        let mut g = game("g");
        change(&mut g);
        assert_eq!(check_record(&g), expect);
    };
    check(|_| {}, Ok(()));
    check(|g| g.rtp_variants_bp.clear(), Err(CatalogueFault::ListLength));
    check(|g| g.jurisdictions.clear(), Err(CatalogueFault::ListLength));
    check(|g| g.limits.clear(), Err(CatalogueFault::ListLength));
    check(|g| g.rtp_variants_bp.push(9_400), Err(CatalogueFault::Duplicate));
    check(
        |g| g.jurisdictions.push(g.jurisdictions[0]),
        Err(CatalogueFault::Duplicate),
    );
    check(|g| g.limits.push(g.limits[0]), Err(CatalogueFault::Duplicate));
    check(|g| g.rtp_default_bp = 9_500, Err(CatalogueFault::Rtp));
    check(|g| g.rtp_by_jurisdiction[0].1 = 9_500, Err(CatalogueFault::Rtp));
    check(|g| g.rtp_variants_bp.push(10_001), Err(CatalogueFault::Rtp));
    check(|g| g.rtp_variants_bp.push(0), Err(CatalogueFault::Rtp));
    check(|g| g.limits[0].min = Amount::ZERO, Err(CatalogueFault::Limits));
    check(|g| g.limits[0].max = Amount::from_minor(9), Err(CatalogueFault::Limits));
}

#[test]
fn the_configured_rtp_is_the_jurisdictions_or_the_default() {
    let g = game("g");
    assert_eq!(g.rtp_bp(Jurisdiction::new("GB").unwrap()), 9_400);
    assert_eq!(g.rtp_bp(Jurisdiction::new("MT").unwrap()), 9_600);
}

#[test]
fn lookups_find_games_by_aggregator_and_code_and_the_image_round_trips() {
    let mut catalogue = Catalogue::default();
    catalogue.providers.push(Provider {
        code: ProviderCode::new("studio").unwrap(),
        name: Title::new("Studio").unwrap(),
        aggregators: vec![SourceId(2), SourceId(3)],
    });
    for code in ["b", "a", "c"] {
        catalogue.put(game(code));
    }
    let mut other = game("a");
    other.aggregator = SourceId(3);
    catalogue.put(other);
    let mut replaced = game("b");
    replaced.enabled = false;
    catalogue.put(replaced);
    assert_eq!(catalogue.games_len(), 4);
    assert!(!catalogue.game(SourceId(2), "b").unwrap().enabled);
    assert!(catalogue.game(SourceId(3), "a").is_some());
    assert!(catalogue.game(SourceId(3), "b").is_none());
    let order: Vec<(u32, &str)> = catalogue
        .games()
        .iter()
        .map(|g| (g.aggregator.0, g.code.as_str()))
        .collect();
    assert_eq!(order, [(2, "a"), (2, "b"), (2, "c"), (3, "a")]);

    let mut bytes = Vec::new();
    catalogue.encode(&mut bytes);
    let decoded = Catalogue::decode(&mut Reader::new(&bytes)).unwrap();
    assert_eq!(decoded.providers(), catalogue.providers());
    assert_eq!(decoded.games(), catalogue.games());
    let mut again = Vec::new();
    decoded.encode(&mut again);
    assert_eq!(again, bytes);
}

#[test]
fn an_image_with_a_game_its_provider_does_not_carry_is_refused() {
    let provider = Provider {
        code: ProviderCode::new("studio").unwrap(),
        name: Title::new("Studio").unwrap(),
        aggregators: vec![SourceId(3)],
    };
    assert!(Catalogue::from_parts(vec![provider.clone()], vec![game("a")]).is_none());
    let mut carried = game("a");
    carried.aggregator = SourceId(3);
    assert!(Catalogue::from_parts(vec![provider.clone()], vec![carried.clone(), carried.clone()]).is_none());
    assert!(Catalogue::from_parts(vec![provider], vec![carried]).is_some());
}

#[test]
fn an_empty_catalogue_checks_nothing_and_a_full_one_checks_in_order() {
    let mut catalogue = Catalogue::default();
    let code = GameCode::new("a").unwrap();
    let (mt, se) = (Jurisdiction::new("MT").unwrap(), Jurisdiction::new("SE").unwrap());
    let stake = Amount::from_minor(100);
    assert_eq!(
        catalogue.check_bet(SourceId(2), &code, Currency::EUR, stake, se),
        Ok(())
    );
    catalogue.put(game("a"));
    let check = |c: &Catalogue, source, code: &str, currency, minor, j| {
        c.check_bet(
            source,
            &GameCode::new(code).unwrap(),
            currency,
            Amount::from_minor(minor),
            j,
        )
    };
    let refused = |why| Err(Rejection::GameRefused(why));
    let outside = Err(Rejection::StakeOutsideGameLimits {
        min: Amount::from_minor(10),
        max: Amount::from_minor(10_000),
    });
    assert_eq!(check(&catalogue, SourceId(2), "a", Currency::EUR, 100, mt), Ok(()));
    assert_eq!(check(&catalogue, SourceId(2), "a", Currency::EUR, 10, mt), Ok(()));
    assert_eq!(check(&catalogue, SourceId(2), "a", Currency::EUR, 10_000, mt), Ok(()));
    assert_eq!(check(&catalogue, SourceId(2), "a", Currency::EUR, 9, mt), outside);
    assert_eq!(check(&catalogue, SourceId(2), "a", Currency::EUR, 10_001, mt), outside);
    assert_eq!(
        check(&catalogue, SourceId(2), "a", Currency::USD, 100, mt),
        refused(GameRefusal::CurrencyNotOffered)
    );
    assert_eq!(
        check(&catalogue, SourceId(2), "a", Currency::EUR, 100, se),
        refused(GameRefusal::JurisdictionNotAllowed)
    );
    assert_eq!(
        check(&catalogue, SourceId(3), "a", Currency::EUR, 100, mt),
        refused(GameRefusal::Unknown)
    );
    assert_eq!(
        check(&catalogue, SourceId(2), "z", Currency::EUR, 100, mt),
        refused(GameRefusal::Unknown)
    );
    catalogue.games[0].enabled = false;
    assert_eq!(
        check(&catalogue, SourceId(2), "a", Currency::EUR, 100, mt),
        refused(GameRefusal::Disabled)
    );
}
