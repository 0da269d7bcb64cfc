//! Unit tests of the players domain's state: registration up to the
//! capacity, jurisdiction rules replaced in place, unknown players.

use super::*;

fn config(players_max: u32) -> Config {
    Config {
        players_max,
        ..Config::default()
    }
}

fn register(state: &mut PlayersState, config: &Config) -> Outcome {
    let command = Command::RegisterPlayer {
        currency: Currency::EUR,
        jurisdiction: Jurisdiction::new("MT").expect("valid code"),
    };
    state.apply(&command, config).0
}

#[test]
fn players_get_dense_ids_up_to_the_capacity() {
    let config = config(2);
    let mut state = PlayersState::default();
    assert_eq!(
        register(&mut state, &config),
        Outcome::Registered { player: PlayerId(1) }
    );
    assert_eq!(
        register(&mut state, &config),
        Outcome::Registered { player: PlayerId(2) }
    );
    assert_eq!(
        register(&mut state, &config),
        Outcome::Rejected(Rejection::CapacityReached(Capacity::Players))
    );
    assert_eq!(state.len(), 2);
    assert!(state.get(PlayerId(0)).is_err() && state.get(PlayerId(3)).is_err());
}

#[test]
fn jurisdiction_rules_are_replaced_not_repeated() {
    let config = config(10);
    let mut state = PlayersState::default();
    register(&mut state, &config);
    let jurisdiction = Jurisdiction::new("MT").expect("valid code");
    for kyc_before_bet in [true, false, true] {
        let rules = JurisdictionRules {
            kyc_before_bet,
            ..JurisdictionRules::default()
        };
        let command = Command::SetJurisdictionRules { jurisdiction, rules };
        assert_eq!(state.apply(&command, &config).0, Outcome::Accepted);
        assert_eq!(state.rules_for(PlayerId(1)), Ok(rules));
    }
    assert_eq!(state.jurisdictions.len(), 1);
}

#[test]
fn status_and_kyc_of_an_unknown_player_are_refused() {
    let config = config(10);
    let mut state = PlayersState::default();
    let unknown = PlayerId(7);
    let status = Command::SetAccountStatus {
        player: unknown,
        status: AccountStatus::Suspended,
        operator: crate::ids::OperatorId::SYSTEM,
    };
    let kyc = Command::SetKyc {
        player: unknown,
        level: KycLevel::Verified,
    };
    for command in [status, kyc] {
        assert_eq!(
            state.apply(&command, &config).0,
            Outcome::Rejected(Rejection::UnknownPlayer)
        );
    }
}
