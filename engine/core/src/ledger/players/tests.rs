//! Unit tests of the players domain's state: registration up to the
//! capacity, jurisdiction rules at one time replaced in place, unknown players;
//! profiles: duplicates by either blind index, erasure, status reasons.

use super::*;
use crate::codec::{from_bytes, to_bytes};
use crate::ids::{BlindIndex, KeyId, SourceId};
use crate::ledger::store::Key;
use crate::outcome::{BlockReason, DuplicateOf};

fn ctx() -> Ctx {
    Ctx {
        seq: 1,
        time_ms: 1_000,
        source: SourceId(1),
        key: Key(0, 0),
    }
}

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
    state.apply(&ctx(), &command, config).0
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
        assert_eq!(state.apply(&ctx(), &command, &config).0, Outcome::Accepted);
        let (_, profile) = state.with_profile(PlayerId(1), ctx().time_ms).expect("registered");
        assert_eq!(profile.kyc, rules);
    }
    // Set at the same time, each version replaced the one before.
    let versions = state.jurisdictions.versions(Some(jurisdiction)).expect("a profile");
    assert_eq!(versions.all().len(), 1);
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
            state.apply(&ctx(), &command, &config).0,
            Outcome::Rejected(Rejection::UnknownPlayer)
        );
    }
}

fn sealed(byte: u8) -> SealedProfile {
    SealedProfile::new(KeyId([byte; 16]), 1, [byte; 12], &[byte; 40]).expect("bounded")
}

fn indexes(email: u8, identity: u8) -> ProfileIndexes {
    ProfileIndexes {
        email: BlindIndex([email; 16]),
        identity: BlindIndex([identity; 16]),
    }
}

fn register_profiled(state: &mut PlayersState, indexes: ProfileIndexes) -> Outcome {
    let command = Command::RegisterProfiled {
        currency: Currency::EUR,
        jurisdiction: Jurisdiction::new("GB").expect("valid code"),
        profile: Box::new(sealed(indexes.email.0[0] * 16 + indexes.identity.0[0])),
        indexes,
        operator: OperatorId(1),
    };
    state.apply(&ctx(), &command, &config(10)).0
}

fn reason(text: &str) -> Reason {
    Reason::new(text).expect("valid reason")
}

#[test]
fn a_second_player_with_either_index_is_refused_and_changes_nothing() {
    let mut state = PlayersState::default();
    assert_eq!(
        register_profiled(&mut state, indexes(1, 1)),
        Outcome::Registered { player: PlayerId(1) }
    );
    let duplicate = |matched| Outcome::Rejected(Rejection::DuplicatePlayer { matched });
    assert_eq!(
        register_profiled(&mut state, indexes(1, 2)),
        duplicate(DuplicateOf::Email)
    );
    assert_eq!(
        register_profiled(&mut state, indexes(2, 1)),
        duplicate(DuplicateOf::Identity)
    );
    assert_eq!(state.len(), 1);
    assert_eq!(
        register_profiled(&mut state, indexes(2, 2)),
        Outcome::Registered { player: PlayerId(2) }
    );
    // A player may keep its own indexes, not take another's.
    let update = |player: u64, indexes| Command::UpdateProfile {
        player: PlayerId(player),
        profile: Box::new(sealed(100 + player as u8)),
        indexes,
        operator: OperatorId(3),
    };
    assert_eq!(
        state.apply(&ctx(), &update(1, indexes(1, 3)), &config(10)).0,
        Outcome::Accepted
    );
    assert_eq!(
        state.apply(&ctx(), &update(2, indexes(1, 2)), &config(10)).0,
        duplicate(DuplicateOf::Email)
    );
    // The old identity index of player 1 was released by its update.
    assert_eq!(
        state.apply(&ctx(), &update(2, indexes(2, 1)), &config(10)).0,
        Outcome::Accepted
    );
    let record = state.profiles.get(PlayerId(1)).expect("a record");
    assert_eq!(record.profile_by, Some(OperatorId(3)));
    assert_eq!(record.sealed.as_ref().map(|s| s.profile.clone()), Some(sealed(101)));
    // Nor another's data key.
    assert_eq!(
        state.apply(&ctx(), &update(1, indexes(7, 7)).clone(), &config(10)).0,
        Outcome::Accepted
    );
    let stolen_key = Command::UpdateProfile {
        player: PlayerId(2),
        profile: Box::new(sealed(101)),
        indexes: indexes(8, 8),
        operator: OperatorId(3),
    };
    assert_eq!(
        state.apply(&ctx(), &stolen_key, &config(10)).0,
        Outcome::Rejected(Rejection::ProfileKeyInUse)
    );
}

#[test]
fn erasure_drops_the_profile_and_indexes_closes_the_account_and_is_final() {
    let mut state = PlayersState::default();
    register_profiled(&mut state, indexes(1, 1));
    let erase = Command::ErasePlayer {
        player: PlayerId(1),
        reason: reason("GDPR art. 17 request #7"),
        operator: OperatorId(2),
    };
    assert_eq!(state.apply(&ctx(), &erase, &config(10)).0, Outcome::Accepted);
    let record = state.profiles.get(PlayerId(1)).expect("a record");
    assert!(record.is_erased() && record.sealed.is_none());
    assert_eq!(state.profiles.live_keys().count(), 0);
    assert_eq!(state.get(PlayerId(1)).map(|p| p.status), Ok(AccountStatus::Closed));
    // The indexes are free again: the same person may register anew.
    assert_eq!(
        register_profiled(&mut state, indexes(1, 1)),
        Outcome::Registered { player: PlayerId(2) }
    );
    let erased = Outcome::Rejected(Rejection::PlayerErased);
    let status = Command::SetStatus {
        player: PlayerId(1),
        status: AccountStatus::Active,
        reason: reason("reopen"),
        operator: OperatorId(2),
    };
    let update = Command::UpdateProfile {
        player: PlayerId(1),
        profile: Box::new(sealed(5)),
        indexes: indexes(5, 5),
        operator: OperatorId(2),
    };
    for command in [erase, status, update] {
        assert_eq!(
            state.apply(&ctx(), &command, &config(10)).0,
            erased,
            "{}",
            command.kind()
        );
    }
    assert_eq!(state.get(PlayerId(1)).map(|p| p.status), Ok(AccountStatus::Closed));
}

#[test]
fn a_status_keeps_its_reason_and_who_set_it() {
    let mut state = PlayersState::default();
    register(&mut state, &config(10));
    let command = Command::SetStatus {
        player: PlayerId(1),
        status: AccountStatus::Suspended,
        reason: reason("chargeback under review"),
        operator: OperatorId(4),
    };
    assert_eq!(state.apply(&ctx(), &command, &config(10)).0, Outcome::Accepted);
    let record = state.profiles.get(PlayerId(1)).expect("a record");
    assert_eq!(record.status_reason, Some(reason("chargeback under review")));
    assert_eq!(record.status_by, Some(OperatorId(4)));
    assert!(record.sealed.is_none());
    assert_eq!(state.get(PlayerId(1)).map(|p| p.status), Ok(AccountStatus::Suspended));
}

#[test]
fn profiles_round_trip_and_a_repeated_index_is_refused() {
    let mut state = PlayersState::default();
    register_profiled(&mut state, indexes(1, 1));
    register_profiled(&mut state, indexes(2, 2));
    let bytes = to_bytes(&state.profiles);
    let decoded: Profiles = from_bytes(&bytes).expect("decodes");
    assert_eq!(to_bytes(&decoded), bytes);
    let probe = |p: &Profiles| p.check_profile(PlayerId(3), &sealed(34), &indexes(3, 3));
    assert_eq!(probe(&decoded), Err(Rejection::ProfileKeyInUse));
    assert_eq!(probe(&decoded), probe(&state.profiles));
    // Player 2's email index overwritten with player 1's.
    let mut records: Vec<(PlayerId, ProfileRecord)> = from_bytes(&bytes).expect("decodes");
    if let Some(sealed) = records[1].1.sealed.as_mut() {
        sealed.indexes.email = BlindIndex([1; 16]);
    }
    assert!(from_bytes::<Profiles>(&to_bytes(&records)).is_err());
}

fn document(number: u8) -> KycDocument {
    KycDocument {
        kind: DocumentKind::IdCard,
        issuing_country: Jurisdiction::new("MT").expect("valid code"),
        number: BlindIndex([number; 16]),
        expires_on_day: Some(30_000),
        provider_ref: None,
        status: DocumentStatus::Pending,
        reason: Some(reason("awaiting the back side")),
    }
}

fn login_context() -> LoginContext {
    LoginContext {
        device: BlindIndex([7; 16]),
        ip: BlindIndex([8; 16]),
        agent: AgentFamily {
            browser: Browser::Safari,
            os: Os::Ios,
        },
    }
}

#[test]
fn kyc_records_round_trip_and_a_document_of_two_players_is_refused() {
    let mut state = PlayersState::default();
    register(&mut state, &config(10));
    register(&mut state, &config(10));
    for (player, number) in [(1, 1), (2, 2)] {
        let command = Command::RecordKycDocument {
            player: PlayerId(player),
            document: Box::new(document(number)),
            source: KycSource::Operator(OperatorId(4)),
        };
        let outcome = state.apply(&ctx(), &command, &config(10)).0;
        assert_eq!(outcome, Outcome::KycDocumentRecorded { document: 1 });
    }
    let bytes = to_bytes(&state.kyc);
    let decoded: Kyc = from_bytes(&bytes).expect("decodes");
    assert_eq!(to_bytes(&decoded), bytes);
    assert_eq!(
        decoded.check_document(PlayerId(2), &document(1), 0),
        Err(Rejection::KycDocumentTaken)
    );
    // Player 2's document given player 1's number.
    let mut records: Vec<(PlayerId, KycRecord)> = from_bytes(&bytes).expect("decodes");
    records[1].1.documents[0].document.number = BlindIndex([1; 16]);
    assert!(from_bytes::<Kyc>(&to_bytes(&records)).is_err());
}

#[test]
fn a_login_is_recorded_with_the_block_in_force_and_refused_only_when_erased() {
    let config = config(10);
    let mut state = PlayersState::default();
    register(&mut state, &config);
    let player = PlayerId(1);
    let login = Command::RecordLogin {
        player,
        context: login_context(),
    };
    let logout = Command::RecordLogout {
        player,
        context: login_context(),
    };
    assert_eq!(
        state.apply(&ctx(), &login, &config).0,
        Outcome::LoginRecorded { blocked: None }
    );
    assert_eq!(state.apply(&ctx(), &logout, &config).0, Outcome::Accepted);
    // Self-excluded until after now: still recorded, with the reason.
    if let Ok(account) = state.get_mut(player) {
        account.self_excluded_until_ms = 5_000;
    }
    assert_eq!(
        state.apply(&ctx(), &login, &config).0,
        Outcome::LoginRecorded {
            blocked: Some(BlockReason::SelfExcluded { until_ms: 5_000 })
        }
    );
    // The operator's status comes first.
    let close = Command::SetStatus {
        player,
        status: AccountStatus::Closed,
        reason: reason("player asked"),
        operator: OperatorId(1),
    };
    state.apply(&ctx(), &close, &config);
    assert_eq!(
        state.apply(&ctx(), &login, &config).0,
        Outcome::LoginRecorded {
            blocked: Some(BlockReason::Closed)
        }
    );
    let erase = Command::ErasePlayer {
        player,
        reason: reason("erasure request 1"),
        operator: OperatorId(1),
    };
    assert_eq!(state.apply(&ctx(), &erase, &config).0, Outcome::Accepted);
    assert_eq!(
        state.apply(&ctx(), &login, &config).0,
        Outcome::Rejected(Rejection::PlayerErased)
    );
    let stranger = Command::RecordLogin {
        player: PlayerId(9),
        context: login_context(),
    };
    assert_eq!(
        state.apply(&ctx(), &stranger, &config).0,
        Outcome::Rejected(Rejection::UnknownPlayer)
    );
    let stranger = Command::RecordLogout {
        player: PlayerId(9),
        context: login_context(),
    };
    assert_eq!(
        state.apply(&ctx(), &stranger, &config).0,
        Outcome::Rejected(Rejection::UnknownPlayer)
    );
}
