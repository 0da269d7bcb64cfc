//! Jurisdiction profiles: effective dates, stake caps by age band, the
//! due-diligence block and its release, the wagering cap, the
//! self-exclusion minimum, deposit-limit defaults, and the old KYC-gates
//! command on top of profiles.

use super::*;
use engine_core::players::{
    AgeBand, Command as PlayersCommand, CurrencyAmount, DepositLimitDefault, JurisdictionProfile, StakeCap,
};

fn mt() -> Option<Jurisdiction> {
    Some(Jurisdiction::new("MT").unwrap())
}

fn profile_cmd(jurisdiction: Option<Jurisdiction>, profile: JurisdictionProfile, from: Option<u64>) -> Command {
    Command::Players(PlayersCommand::SetJurisdictionProfile {
        jurisdiction,
        profile: Box::new(profile),
        effective_from_ms: from,
        operator: OperatorId(4),
    })
}

/// EUR stakes capped at 5.00, 2.00 for young adults.
fn capped() -> JurisdictionProfile {
    JurisdictionProfile {
        young_adult_until_age_years: 25,
        stake_caps: vec![StakeCap {
            currency: EUR,
            adult: amt(500),
            young_adult: amt(200),
        }],
        ..JurisdictionProfile::UNRESTRICTED
    }
}

fn band_cmd(player: PlayerId, band: AgeBand) -> Command {
    Command::Players(PlayersCommand::SetAgeBand {
        player,
        band,
        operator: OperatorId(4),
    })
}

fn due_diligence_cmd(player: PlayerId) -> Command {
    Command::Players(PlayersCommand::RecordDueDiligence {
        player,
        reason: Reason::new("source of funds: payslips, case 118").unwrap(),
        operator: OperatorId(4),
    })
}

#[test]
fn stakes_above_the_cap_of_the_players_age_band_are_refused_and_change_nothing() {
    let mut h = Harness::new();
    check(h.run(OPS, profile_cmd(mt(), capped(), None)), Outcome::Accepted);
    let young = h.register();
    let adult = h.register();
    check(h.run(OPS, band_cmd(adult, AgeBand::Adult)), Outcome::Accepted);
    h.fund(young, 10_000);
    h.fund(adult, 10_000);
    // An unknown band is treated as a young adult's: the lower cap.
    let money = h.money();
    let cap = Rejection::StakeCapExceeded { cap: amt(200) };
    check_rejected(h.bet("b-1", young, 201, "r-1"), cap);
    assert_eq!(h.money(), money);
    assert!(h.bet("b-2", young, 200, "r-1").is_ok());
    check_rejected(
        h.bet("b-3", adult, 501, "r-2"),
        Rejection::StakeCapExceeded { cap: amt(500) },
    );
    assert!(h.bet("b-4", adult, 500, "r-2").is_ok());
    // The young adult's birthday came: the gateway journals the band.
    check(h.run(OPS, band_cmd(young, AgeBand::Adult)), Outcome::Accepted);
    assert!(h.bet("b-5", young, 500, "r-3").is_ok());
    // Other currencies have no cap in this profile.
    assert_eq!(
        h.ledger
            .profile_in_force(mt().unwrap(), h.now)
            .stake_cap(USD, AgeBand::Adult),
        None
    );
}

#[test]
fn a_version_takes_effect_at_its_date_and_back_dating_is_refused() {
    let mut h = Harness::new();
    let player = h.register();
    h.fund(player, 10_000);
    let from = T0 + DAY;
    check(
        h.run(OPS, profile_cmd(mt(), capped(), Some(from))),
        Outcome::Scheduled { effective_at_ms: from },
    );
    let money = h.money();
    check_rejected(
        h.run(OPS, profile_cmd(mt(), capped(), Some(T0 - 1))),
        Rejection::TimeNotInFuture,
    );
    assert_eq!(h.money(), money);
    let versions = h.ledger.jurisdiction_profiles().versions(mt()).unwrap();
    assert_eq!(versions.all().len(), 1);
    assert_eq!(versions.scheduled(h.now).count(), 1);
    // Before the date: the unrestricted profile; from it: the caps.
    assert!(h.bet("b-1", player, 1_000, "r-1").is_ok());
    h.at(from - 1);
    assert!(h.bet("b-2", player, 1_000, "r-1").is_ok());
    h.at(from);
    check_rejected(
        h.bet("b-3", player, 1_000, "r-1"),
        Rejection::StakeCapExceeded { cap: amt(200) },
    );
    // A later version replaces it from its own date.
    let later = JurisdictionProfile {
        stake_caps: Vec::new(),
        ..capped()
    };
    check(
        h.run(OPS, profile_cmd(mt(), later, Some(from + DAY))),
        Outcome::Scheduled {
            effective_at_ms: from + DAY,
        },
    );
    h.at(from + DAY);
    assert!(h.bet("b-4", player, 1_000, "r-1").is_ok());
    // The history is kept, and replay gives the same ledger.
    assert_eq!(h.ledger.jurisdiction_profiles().versions(mt()).unwrap().all().len(), 2);
    let replayed = h.replay();
    assert_eq!(replayed.digest(), h.ledger.digest());
    assert_eq!(replayed.jurisdiction_profiles(), h.ledger.jurisdiction_profiles());
}

#[test]
fn players_of_a_jurisdiction_without_a_profile_get_the_default_one() {
    let mut h = Harness::new();
    check(h.run(OPS, profile_cmd(None, capped(), None)), Outcome::Accepted);
    let player = h.register_in(EUR, "DE");
    h.fund(player, 10_000);
    check_rejected(
        h.bet("b-1", player, 300, "r-1"),
        Rejection::StakeCapExceeded { cap: amt(200) },
    );
    // Malta gets a profile of its own: the default no longer applies there.
    check(
        h.run(OPS, profile_cmd(mt(), JurisdictionProfile::UNRESTRICTED, None)),
        Outcome::Accepted,
    );
    let maltese = h.register();
    h.fund(maltese, 10_000);
    assert!(h.bet("b-2", maltese, 300, "r-2").is_ok());
}

#[test]
fn past_the_due_diligence_threshold_deposits_and_bets_wait_for_due_diligence() {
    let mut h = Harness::new();
    let aml = JurisdictionProfile {
        due_diligence_thresholds: vec![CurrencyAmount {
            currency: EUR,
            amount: amt(200_000),
        }],
        ..JurisdictionProfile::UNRESTRICTED
    };
    check(h.run(OPS, profile_cmd(mt(), aml, None)), Outcome::Accepted);
    let player = h.register();
    h.fund(player, 150_000);
    assert!(h.bet("b-1", player, 100, "r-1").is_ok());
    // Initiated below the threshold, this deposit is confirmed past it:
    // owed money lands, and from then on nothing more comes in.
    let pending = h.fresh_id("dep");
    assert!(h.apply(PSP, &pending, deposit_cmd(player, 60_000)).is_ok());
    assert!(h.run(PSP, confirm_cmd(&pending)).is_ok());
    let money = h.money();
    check_rejected(h.run(PSP, deposit_cmd(player, 100)), Rejection::DueDiligenceRequired);
    check_rejected(h.bet("b-2", player, 100, "r-1"), Rejection::DueDiligenceRequired);
    assert_eq!(h.money(), money);
    // Withdrawals stay open: the player's money is theirs.
    assert!(h.run(PSP, withdraw_cmd(player, 100)).is_ok());
    check(h.run(OPS, due_diligence_cmd(player)), Outcome::Accepted);
    assert!(h.bet("b-3", player, 100, "r-1").is_ok());
    h.fund(player, 100);
    let (_, state) = h.ledger.compliance(player).unwrap();
    let state = state.unwrap();
    assert_eq!(state.deposited(EUR), amt(210_100));
    assert_eq!(state.recorded.as_ref().map(|r| r.by), Some(OperatorId(4)));
    check_rejected(h.run(OPS, due_diligence_cmd(NOBODY)), Rejection::UnknownPlayer);
}

#[test]
fn a_bonus_wagering_above_the_cap_is_refused() {
    let mut h = Harness::new();
    let capped = JurisdictionProfile {
        bonus_wagering_cap_x: Some(10),
        ..JurisdictionProfile::UNRESTRICTED
    };
    check(h.run(OPS, profile_cmd(mt(), capped, None)), Outcome::Accepted);
    let player = h.register();
    let money = h.money();
    check_rejected(
        h.grant(grant(player, 1_000, 10_001, 1_000)),
        Rejection::WageringCapExceeded { cap_x: 10 },
    );
    assert_eq!(h.money(), money);
    assert!(h.grant(grant(player, 1_000, 10_000, 1_000)).is_ok());
}

#[test]
fn a_self_exclusion_shorter_than_the_minimum_is_refused_time_outs_are_not() {
    let mut h = Harness::new();
    let minimum = JurisdictionProfile {
        self_exclusion_min_days: 181,
        ..JurisdictionProfile::UNRESTRICTED
    };
    check(h.run(OPS, profile_cmd(mt(), minimum, None)), Outcome::Accepted);
    let player = h.register();
    check_rejected(
        h.run(OPS, Exclusion::SelfExclude.command(player, T0 + 180 * DAY)),
        Rejection::SelfExclusionTooShort { minimum_days: 181 },
    );
    assert_eq!(Exclusion::SelfExclude.until(&h, player), 0);
    check(
        h.run(OPS, Exclusion::TimeOut.command(player, T0 + DAY)),
        Outcome::Accepted,
    );
    check(
        h.run(OPS, Exclusion::SelfExclude.command(player, T0 + 181 * DAY)),
        Outcome::Accepted,
    );
    assert_eq!(Exclusion::SelfExclude.until(&h, player), T0 + 181 * DAY);
}

#[test]
fn new_players_wallets_start_with_the_profiles_deposit_limits() {
    let mut h = Harness::new();
    let defaults = JurisdictionProfile {
        deposit_limit_defaults: vec![DepositLimitDefault {
            currency: EUR,
            day: Some(amt(50_000)),
            week: None,
            month: Some(amt(100_000)),
        }],
        ..JurisdictionProfile::UNRESTRICTED
    };
    let before = h.register();
    check(h.run(OPS, profile_cmd(mt(), defaults, None)), Outcome::Accepted);
    let player = h.register();
    let dollars = h.register_in(USD, "MT");
    let day = limit(LimitMetric::Deposit, LimitPeriod::Day);
    let month = limit(LimitMetric::Deposit, LimitPeriod::Month);
    assert_eq!(
        h.ledger.limits_in_force(player, EUR, h.now),
        vec![(day, amt(50_000)), (month, amt(100_000))]
    );
    assert_eq!(h.ledger.limits_in_force(before, EUR, h.now), vec![]);
    assert_eq!(h.ledger.limits_in_force(dollars, USD, h.now), vec![]);
    check_rejected(
        h.run(PSP, deposit_cmd(player, 50_001)),
        Rejection::LimitExceeded {
            limit: day,
            remaining: amt(50_000),
        },
    );
}

#[test]
fn the_old_kyc_gates_command_sets_the_gates_of_the_profile_in_force() {
    let mut h = Harness::new();
    check(h.run(OPS, profile_cmd(mt(), capped(), None)), Outcome::Accepted);
    h.advance(HOUR);
    let gates = JurisdictionRules {
        kyc_before_bet: true,
        ..JurisdictionRules::default()
    };
    check(h.run(OPS, rules_cmd("MT", gates)), Outcome::Accepted);
    let in_force = h.ledger.profile_in_force(mt().unwrap(), h.now);
    assert_eq!(in_force.kyc, gates);
    assert_eq!(in_force.stake_caps, capped().stake_caps);
    let versions = h.ledger.jurisdiction_profiles().versions(mt()).unwrap();
    assert_eq!(versions.all().len(), 2);
    assert_eq!(versions.all()[1].set_by, OperatorId::SYSTEM);
}

#[test]
fn invalid_profiles_and_erased_players_bands_are_refused() {
    let mut h = Harness::new();
    let negative = JurisdictionProfile {
        stake_caps: vec![StakeCap {
            currency: EUR,
            adult: amt(-1),
            young_adult: amt(-2),
        }],
        ..JurisdictionProfile::UNRESTRICTED
    };
    check_rejected(h.run(OPS, profile_cmd(mt(), negative, None)), Rejection::InvalidAmount);
    assert!(h.ledger.jurisdiction_profiles().versions(mt()).is_none());
    check_rejected(h.run(OPS, band_cmd(NOBODY, AgeBand::Adult)), Rejection::UnknownPlayer);
}
