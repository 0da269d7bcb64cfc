//! Players: registration, jurisdictions, KYC, account status, exclusions.

use super::*;

// ---------------------------------------------------------------------------
// Registration, jurisdictions, KYC
// ---------------------------------------------------------------------------

#[test]
fn register_numbers_players_from_one_with_an_empty_base_wallet() {
    let mut h = Harness::new();
    for expected in 1..=3 {
        check(
            h.run(OPS, register_cmd(EUR, "MT")),
            Outcome::Registered {
                player: PlayerId(expected),
            },
        );
    }
    check(
        h.run(OPS, register_cmd(USD, "GB")),
        Outcome::Registered { player: PlayerId(4) },
    );
    let info = h.ledger.player_info(PlayerId(4)).unwrap();
    assert_eq!(info.status, AccountStatus::Active);
    assert_eq!(info.kyc, KycLevel::None);
    assert_eq!(info.jurisdiction.as_str(), "GB");
    assert_eq!(info.wallets, vec![bal_in(USD, 0, 0, 0, 0)]);
    assert_eq!(h.balances(PlayerId(1)), bal(0, 0, 0, 0));
    assert_eq!(h.ledger.players_len(), 4);
}

#[test]
fn register_beyond_players_max_is_capacity_reached() {
    let mut h = Harness::with(Config {
        players_max: 2,
        ..Config::default()
    });
    assert_eq!(h.register(), PlayerId(1));
    assert_eq!(h.register(), PlayerId(2));
    let refused = Rejection::CapacityReached(Capacity::Players);
    check_rejected(h.apply(OPS, "reg-3", register_cmd(EUR, "MT")), refused);
    check_rejected(h.apply(OPS, "reg-3", register_cmd(EUR, "MT")), refused);
    assert_eq!(h.ledger.players_len(), 2);
    assert_eq!(h.ledger.balances(PlayerId(3), EUR), Err(Rejection::UnknownPlayer));
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Act {
    Bet,
    Deposit,
    Withdraw,
}

const ACTS: [Act; 3] = [Act::Bet, Act::Deposit, Act::Withdraw];

/// Tries 100 EUR of `act`.
fn attempt(h: &mut Harness, player: PlayerId, act: Act) -> Outcome {
    match act {
        Act::Bet => h.run(GAME, bet_cmd(player, 100, "r-act")),
        Act::Deposit => h.run(PSP, deposit_cmd(player, 100)),
        Act::Withdraw => h.run(PSP, withdraw_cmd(player, 100)),
    }
}

/// What `attempt` yields on a wallet holding exactly 1000 cash.
fn attempt_ok(h: &Harness, act: Act) -> Outcome {
    match act {
        Act::Bet => h.moved(-100, 0, bal(900, 0, 0, 1)),
        Act::Deposit => h.moved(0, 0, bal(1000, 0, 0, 0)),
        Act::Withdraw => h.moved(-100, 0, bal(900, 0, 100, 0)),
    }
}

fn kyc_rules(act: Act) -> JurisdictionRules {
    JurisdictionRules {
        kyc_before_deposit: act == Act::Deposit,
        kyc_before_bet: act == Act::Bet,
        kyc_before_withdrawal: act == Act::Withdraw,
    }
}

#[test]
fn kyc_rules_gate_exactly_the_activity_they_name() {
    for gated in ACTS {
        for act in ACTS {
            let mut h = Harness::new();
            let p = h.register_in(EUR, "SE");
            h.fund(p, 1000);
            check(h.run(OPS, rules_cmd("SE", kyc_rules(gated))), Outcome::Accepted);
            let outcome = attempt(&mut h, p, act);
            if act == gated {
                let level = KycLevel::None;
                assert_eq!(outcome, Outcome::Rejected(Rejection::KycRequired { level }));
            } else {
                assert_eq!(outcome, attempt_ok(&h, act), "{gated:?} gates {act:?}");
            }
        }
    }
}

#[test]
fn kyc_required_reports_the_level_until_verified() {
    let all = JurisdictionRules {
        kyc_before_deposit: true,
        kyc_before_bet: true,
        kyc_before_withdrawal: true,
    };
    for act in ACTS {
        let mut h = Harness::new();
        let p = h.register_in(EUR, "SE");
        h.fund(p, 1000);
        check(h.run(OPS, rules_cmd("SE", all)), Outcome::Accepted);
        for level in [KycLevel::None, KycLevel::Pending, KycLevel::Rejected] {
            check(h.run(OPS, kyc_cmd(p, level)), Outcome::Accepted);
            let refused = Rejection::KycRequired { level };
            check_rejected(attempt(&mut h, p, act), refused);
        }
        check(h.run(OPS, kyc_cmd(p, KycLevel::Verified)), Outcome::Accepted);
        let outcome = attempt(&mut h, p, act);
        assert_eq!(outcome, attempt_ok(&h, act), "{act:?}");
        assert_eq!(h.ledger.player_info(p).unwrap().kyc, KycLevel::Verified);
    }
}

#[test]
fn kyc_rules_apply_only_to_their_own_jurisdiction() {
    let mut h = Harness::new();
    let swede = h.register_in(EUR, "SE");
    let maltese = h.register_in(EUR, "MT");
    let rules = kyc_rules(Act::Deposit);
    check(h.run(OPS, rules_cmd("SE", rules)), Outcome::Accepted);
    let level = KycLevel::None;
    check_rejected(h.run(PSP, deposit_cmd(swede, 100)), Rejection::KycRequired { level });
    let outcome = h.run(PSP, deposit_cmd(maltese, 100));
    check(outcome, h.moved(0, 0, bal(0, 0, 0, 0)));
    // Replacing the rules lifts the requirement.
    let none = JurisdictionRules::default();
    check(h.run(OPS, rules_cmd("SE", none)), Outcome::Accepted);
    let outcome = h.run(PSP, deposit_cmd(swede, 100));
    check(outcome, h.moved(0, 0, bal(0, 0, 0, 0)));
}

// ---------------------------------------------------------------------------
// Account status, self-exclusion, time-outs
// ---------------------------------------------------------------------------

#[test]
fn account_status_decides_bets_deposits_and_withdrawals() {
    use AccountStatus::{Active, Closed, Suspended};
    let cases = [
        (Active, Act::Bet, None),
        (Active, Act::Deposit, None),
        (Active, Act::Withdraw, None),
        (Suspended, Act::Bet, Some(BlockReason::Suspended)),
        (Suspended, Act::Deposit, Some(BlockReason::Suspended)),
        (Suspended, Act::Withdraw, Some(BlockReason::Suspended)),
        (Closed, Act::Bet, Some(BlockReason::Closed)),
        (Closed, Act::Deposit, Some(BlockReason::Closed)),
        (Closed, Act::Withdraw, None),
    ];
    for (status, act, block) in cases {
        let mut h = Harness::new();
        let p = h.register();
        h.fund(p, 1000);
        check(h.run(OPS, status_cmd(p, status)), Outcome::Accepted);
        let outcome = attempt(&mut h, p, act);
        let expected = match block {
            None => attempt_ok(&h, act),
            Some(reason) => Outcome::Rejected(blocked(reason)),
        };
        assert_eq!(outcome, expected, "{status:?} {act:?}");
        assert_eq!(h.ledger.player_info(p).unwrap().status, status);
    }
}

#[test]
fn reactivating_a_suspended_account_unblocks_it() {
    let mut h = Harness::new();
    let p = h.register();
    h.fund(p, 1000);
    check(h.run(OPS, status_cmd(p, AccountStatus::Suspended)), Outcome::Accepted);
    check_rejected(attempt(&mut h, p, Act::Bet), blocked(BlockReason::Suspended));
    check(h.run(OPS, status_cmd(p, AccountStatus::Active)), Outcome::Accepted);
    let outcome = attempt(&mut h, p, Act::Bet);
    check(outcome, attempt_ok(&h, Act::Bet));
}

const EXCLUSIONS: [Exclusion; 2] = [Exclusion::SelfExclude, Exclusion::TimeOut];

#[test]
fn exclusions_block_bets_deposits_and_bonuses_until_they_end() {
    for exclusion in EXCLUSIONS {
        let mut h = Harness::new();
        let p = h.register();
        h.fund(p, 1000);
        let until = T0 + 10 * DAY;
        check(h.run(OPS, exclusion.command(p, until)), Outcome::Accepted);
        check_rejected(attempt(&mut h, p, Act::Bet), exclusion.reason(until));
        check_rejected(attempt(&mut h, p, Act::Deposit), exclusion.reason(until));
        check_rejected(h.grant(grant(p, 500, 0, 500)), exclusion.reason(until));
        // Withdrawing one's own money stays possible.
        let outcome = attempt(&mut h, p, Act::Withdraw);
        check(outcome, attempt_ok(&h, Act::Withdraw));
        h.at(until - 1);
        check_rejected(attempt(&mut h, p, Act::Bet), exclusion.reason(until));
        h.at(until);
        let outcome = attempt(&mut h, p, Act::Bet);
        check(outcome, h.moved(-100, 0, bal(800, 0, 100, 1)));
        let outcome = attempt(&mut h, p, Act::Deposit);
        check(outcome, h.moved(0, 0, bal(800, 0, 100, 1)));
    }
}

#[test]
fn exclusions_extend_but_never_shorten() {
    for exclusion in EXCLUSIONS {
        let mut h = Harness::new();
        let p = h.register();
        h.fund(p, 1000);
        let (long, short, longer) = (T0 + 10 * DAY, T0 + 5 * DAY, T0 + 20 * DAY);
        check(h.run(OPS, exclusion.command(p, long)), Outcome::Accepted);
        check(h.run(OPS, exclusion.command(p, short)), Outcome::Accepted);
        assert_eq!(exclusion.until(&h, p), long, "{exclusion:?} was shortened");
        h.at(short + 1);
        check_rejected(attempt(&mut h, p, Act::Bet), exclusion.reason(long));
        check(h.run(OPS, exclusion.command(p, longer)), Outcome::Accepted);
        assert_eq!(exclusion.until(&h, p), longer);
        h.at(long);
        check_rejected(attempt(&mut h, p, Act::Bet), exclusion.reason(longer));
    }
}

#[test]
fn times_that_must_lie_ahead_are_time_not_in_future() {
    let mut h = Harness::new();
    let p = h.register();
    let now = h.now;
    for exclusion in EXCLUSIONS {
        for until in [now, now - 1, 0] {
            let outcome = h.run(OPS, exclusion.command(p, until));
            check_rejected(outcome, Rejection::TimeNotInFuture);
        }
        assert_eq!(exclusion.until(&h, p), 0);
    }
    let expired = BonusGrant {
        expires_at_ms: now,
        ..grant(p, 500, 1000, 500)
    };
    check_rejected(h.grant(expired), Rejection::TimeNotInFuture);
    assert_eq!(h.balances(p), bal(0, 0, 0, 0));
}

// ---------------------------------------------------------------------------
// Profiles, status with a reason, erasure
// ---------------------------------------------------------------------------

fn profiled_cmd(key: u8, email: u8, identity: u8) -> Command {
    use engine_core::players::{ProfileIndexes, SealedProfile};
    use engine_core::{BlindIndex, KeyId};
    Command::Players(engine_core::players::Command::RegisterProfiled {
        currency: EUR,
        jurisdiction: Jurisdiction::new("GB").unwrap(),
        profile: Box::new(SealedProfile::new(KeyId([key; 16]), 1, [key; 12], &[key; 32]).unwrap()),
        indexes: ProfileIndexes {
            email: BlindIndex([email; 16]),
            identity: BlindIndex([identity; 16]),
        },
        operator: OperatorId(1),
    })
}

#[test]
fn a_duplicate_registration_is_refused_retried_alike_and_replays() {
    let mut h = Harness::new();
    check(
        h.apply(OPS, "reg-a", profiled_cmd(1, 1, 1)),
        Outcome::Registered { player: PlayerId(1) },
    );
    let duplicate = Rejection::DuplicatePlayer {
        matched: engine_core::outcome::DuplicateOf::Email,
    };
    check_rejected(h.apply(OPS, "reg-b", profiled_cmd(2, 1, 2)), duplicate);
    // A retry gets the recorded refusal; the same id with another payload conflicts.
    check_rejected(h.apply(OPS, "reg-b", profiled_cmd(2, 1, 2)), duplicate);
    check_rejected(h.apply(OPS, "reg-b", profiled_cmd(3, 3, 3)), Rejection::Conflict);
    assert_eq!(h.ledger.players_len(), 1);
    let replayed = h.replay();
    assert_eq!(replayed.digest(), h.ledger.digest());
    assert_eq!(replayed.profile_keys(), h.ledger.profile_keys());
}

#[test]
fn an_erased_player_is_closed_for_bets_and_deposits_but_may_withdraw() {
    let mut h = Harness::new();
    check(
        h.apply(OPS, "reg-a", profiled_cmd(1, 1, 1)),
        Outcome::Registered { player: PlayerId(1) },
    );
    let p = PlayerId(1);
    h.fund(p, 1000);
    let erase = Command::Players(engine_core::players::Command::ErasePlayer {
        player: p,
        reason: Reason::new("erasure request").unwrap(),
        operator: OperatorId(1),
    });
    check(h.run(OPS, erase.clone()), Outcome::Accepted);
    check_rejected(h.run(OPS, erase), Rejection::PlayerErased);
    for act in [Act::Bet, Act::Deposit] {
        check_rejected(attempt(&mut h, p, act), Rejection::PlayerBlocked(BlockReason::Closed));
    }
    check(attempt(&mut h, p, Act::Withdraw), attempt_ok(&h, Act::Withdraw));
    assert!(h.ledger.profile_keys().is_empty());
    assert!(h.ledger.profile(p).unwrap().unwrap().is_erased());
}

// ---------------------------------------------------------------------------
// KYC: levels with reasons, provider checks and verdicts, documents
// ---------------------------------------------------------------------------

mod kyc {
    use engine_core::players::{DocumentKind, DocumentStatus, KycDocument, KycSource};
    use engine_core::{BlindIndex, players};

    use super::*;

    const COMPLIANCE: OperatorId = OperatorId(4);

    fn all_gates() -> JurisdictionRules {
        JurisdictionRules {
            kyc_before_deposit: true,
            kyc_before_bet: true,
            kyc_before_withdrawal: true,
        }
    }

    fn start(player: PlayerId, check: &str) -> Command {
        players::Command::StartKycCheck {
            player,
            check: ext(check),
            operator: COMPLIANCE,
        }
        .into()
    }

    fn decide(player: PlayerId, level: KycLevel, why: &str) -> Command {
        players::Command::SetKycLevel {
            player,
            level,
            reason: Reason::new(why).unwrap(),
            operator: COMPLIANCE,
        }
        .into()
    }

    fn verdict(player: PlayerId, check: &str, event_ms: u64, level: KycLevel) -> Command {
        players::Command::ApplyKycVerdict {
            player,
            check: ext(check),
            event_ms,
            level,
            reason: Reason::new("provider verdict").unwrap(),
        }
        .into()
    }

    fn passport(number: u8, status: DocumentStatus, expires_on_day: Option<u32>) -> KycDocument {
        KycDocument {
            kind: DocumentKind::Passport,
            issuing_country: Jurisdiction::new("GB").unwrap(),
            number: BlindIndex([number; 16]),
            expires_on_day,
            provider_ref: Some(ext("doc-1")),
            status,
            reason: None,
        }
    }

    fn record(player: PlayerId, document: KycDocument) -> Command {
        players::Command::RecordKycDocument {
            player,
            document: Box::new(document),
            source: KycSource::Operator(COMPLIANCE),
        }
        .into()
    }

    fn gated_player(h: &mut Harness) -> PlayerId {
        let p = h.register_in(EUR, "SE");
        h.fund(p, 1000);
        check(h.run(OPS, rules_cmd("SE", all_gates())), Outcome::Accepted);
        p
    }

    #[test]
    fn a_decision_with_its_reason_opens_every_gate_and_a_rejection_closes_them() {
        for act in ACTS {
            let mut h = Harness::new();
            let p = gated_player(&mut h);
            check(
                h.run(OPS, decide(p, KycLevel::Verified, "documents checked")),
                Outcome::Accepted,
            );
            assert_eq!(attempt(&mut h, p, act), attempt_ok(&h, act), "{act:?}");
            let record = h.ledger.kyc(p).unwrap().expect("a record");
            assert_eq!(record.reason.as_ref().map(Reason::as_str), Some("documents checked"));
            assert_eq!(record.by, Some(KycSource::Operator(COMPLIANCE)));
            check(
                h.run(OPS, decide(p, KycLevel::Rejected, "forged document")),
                Outcome::Accepted,
            );
            let level = KycLevel::Rejected;
            check_rejected(attempt(&mut h, p, act), Rejection::KycRequired { level });
        }
    }

    #[test]
    fn a_check_makes_the_player_pending_and_only_its_newer_verdicts_count() {
        let mut h = Harness::new();
        let p = gated_player(&mut h);
        check(h.run(OPS, start(p, "app-1")), Outcome::Accepted);
        assert_eq!(h.ledger.player_info(p).unwrap().kyc, KycLevel::Pending);
        let level = KycLevel::Pending;
        check_rejected(attempt(&mut h, p, Act::Bet), Rejection::KycRequired { level });
        // A verdict on another check, or none newer than the last, is ignored.
        let other = h.run(OPS, verdict(p, "app-0", T0 + 5, KycLevel::Verified));
        check(other, Outcome::KycEventIgnored { level });
        check(
            h.run(OPS, verdict(p, "app-1", T0 + 10, KycLevel::Verified)),
            Outcome::Accepted,
        );
        assert_eq!(attempt(&mut h, p, Act::Bet), attempt_ok(&h, Act::Bet));
        let stale = h.run(OPS, verdict(p, "app-1", T0 + 9, KycLevel::Pending));
        let level = KycLevel::Verified;
        check(stale, Outcome::KycEventIgnored { level });
        let duplicate = h.run(OPS, verdict(p, "app-1", T0 + 10, KycLevel::Rejected));
        check(duplicate, Outcome::KycEventIgnored { level });
        let record = h.ledger.kyc(p).unwrap().unwrap();
        assert_eq!(record.check.as_ref().unwrap().last_event_ms, T0 + 10);
        assert_eq!(record.by, Some(KycSource::Provider { check: ext("app-1") }));
        // A new check of a verified player leaves it verified until decided.
        check(h.run(OPS, start(p, "app-2")), Outcome::Accepted);
        assert_eq!(h.ledger.player_info(p).unwrap().kyc, KycLevel::Verified);
        check(
            h.run(OPS, verdict(p, "app-1", T0 + 20, KycLevel::Rejected)),
            Outcome::KycEventIgnored { level },
        );
        check(
            h.run(OPS, verdict(p, "app-2", T0 + 1, KycLevel::Rejected)),
            Outcome::Accepted,
        );
        assert_eq!(h.ledger.player_info(p).unwrap().kyc, KycLevel::Rejected);
        assert_eq!(h.replay().kyc(p).unwrap(), h.ledger.kyc(p).unwrap());
    }

    #[test]
    fn documents_are_recorded_changed_and_refused_when_taken_expired_or_too_many() {
        let mut h = Harness::new();
        let p = h.register();
        let q = h.register();
        let today = (T0 / DAY) as u32;
        let pending = passport(1, DocumentStatus::Pending, Some(today + 365));
        check(
            h.run(OPS, record(p, pending.clone())),
            Outcome::KycDocumentRecorded { document: 1 },
        );
        let mut verified = pending.clone();
        verified.status = DocumentStatus::Verified;
        check(
            h.run(OPS, record(p, verified.clone())),
            Outcome::KycDocumentRecorded { document: 1 },
        );
        let documents = &h.ledger.kyc(p).unwrap().unwrap().documents;
        assert_eq!(
            (documents.len(), documents[0].document.status),
            (1, DocumentStatus::Verified)
        );
        // The same number is another player's: refused.
        check_rejected(h.run(OPS, record(q, pending.clone())), Rejection::KycDocumentTaken);
        // Verified past its expiry: refused; recorded as expired: fine.
        let old = passport(2, DocumentStatus::Verified, Some(today - 1));
        check_rejected(h.run(OPS, record(p, old.clone())), Rejection::KycDocumentExpired);
        let expired = KycDocument {
            status: DocumentStatus::Expired,
            ..old
        };
        check(
            h.run(OPS, record(p, expired)),
            Outcome::KycDocumentRecorded { document: 2 },
        );
        // Unknown players, and a list that is full.
        check_rejected(h.run(OPS, record(NOBODY, pending)), Rejection::UnknownPlayer);
        for n in 3..=players::DOCUMENTS_PER_PLAYER_MAX as u8 {
            let document = passport(n, DocumentStatus::Pending, None);
            let number = u32::from(n);
            check(
                h.run(OPS, record(p, document)),
                Outcome::KycDocumentRecorded { document: number },
            );
        }
        let one_more = passport(200, DocumentStatus::Pending, None);
        check_rejected(h.run(OPS, record(p, one_more)), Rejection::KycDocumentsFull);
        assert_eq!(h.replay().kyc(p).unwrap(), h.ledger.kyc(p).unwrap());
    }

    #[test]
    fn kyc_commands_on_unknown_or_erased_players_are_refused() {
        let mut h = Harness::new();
        for command in [
            start(NOBODY, "app-1"),
            decide(NOBODY, KycLevel::Verified, "x"),
            verdict(NOBODY, "app-1", T0, KycLevel::Verified),
        ] {
            check_rejected(h.run(OPS, command), Rejection::UnknownPlayer);
        }
        let p = h.register();
        check(h.run(OPS, start(p, "app-1")), Outcome::Accepted);
        let erase = players::Command::ErasePlayer {
            player: p,
            reason: Reason::new("request 1").unwrap(),
            operator: COMPLIANCE,
        };
        check(h.run(OPS, erase.into()), Outcome::Accepted);
        for command in [
            start(p, "app-2"),
            decide(p, KycLevel::Verified, "x"),
            verdict(p, "app-1", T0 + 1, KycLevel::Verified),
            record(p, passport(9, DocumentStatus::Pending, None)),
        ] {
            check_rejected(h.run(OPS, command), Rejection::PlayerErased);
        }
        assert_eq!(h.ledger.player_info(p).unwrap().kyc, KycLevel::Pending);
    }
}
