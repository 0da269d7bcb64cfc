//! Responsible gambling's play session: reality checks (due, refused bets,
//! acknowledgement, net position), the session time limit (reached, held
//! until the next login, its cooling-off), and the deposit-limit prompts.

use engine_core::players::{AgentFamily, Browser, LoginContext, Os};
use engine_core::rg::{LimitPrompt, PromptReason, RealityCheck, RgStatus};
use engine_core::{BlindIndex, players, rg};

use super::*;

const MINUTE: u64 = 60_000;

fn context() -> LoginContext {
    LoginContext {
        device: BlindIndex([1; 16]),
        ip: BlindIndex([2; 16]),
        agent: AgentFamily {
            browser: Browser::Firefox,
            os: Os::Linux,
        },
    }
}

fn login_cmd(player: PlayerId) -> Command {
    Command::Players(players::Command::RecordLogin {
        player,
        context: context(),
    })
}

fn logout_cmd(player: PlayerId) -> Command {
    Command::Players(players::Command::RecordLogout {
        player,
        context: context(),
    })
}

fn interval_cmd(player: PlayerId, interval_ms: Option<u64>) -> Command {
    Command::Rg(rg::Command::SetRealityCheckInterval { player, interval_ms })
}

fn ack_cmd(player: PlayerId) -> Command {
    Command::Rg(rg::Command::AcknowledgeRealityCheck { player })
}

fn session_limit_cmd(player: PlayerId, limit_ms: Option<u64>) -> Command {
    Command::Rg(rg::Command::SetSessionTimeLimit { player, limit_ms })
}

fn review_cmd(player: PlayerId) -> Command {
    Command::Rg(rg::Command::RecordLimitReview { player })
}

fn status(h: &Harness, player: PlayerId) -> RgStatus {
    h.ledger.rg_status(player, h.now).unwrap()
}

/// A funded player who logged in at `h.now`, with a reality check every
/// 30 minutes.
fn player_with_checks(h: &mut Harness) -> PlayerId {
    let p = h.register();
    h.fund(p, 10_000);
    check(h.run(OPS, interval_cmd(p, Some(30 * MINUTE))), Outcome::Accepted);
    check(h.run(OPS, login_cmd(p)), Outcome::LoginRecorded { blocked: None });
    p
}

/// Asserts that a refusal changed nothing: balances, flows and RG state.
fn refused_unchanged(h: &mut Harness, command: Command, rejection: Rejection, player: PlayerId) {
    let money = h.money();
    let before = status(h, player);
    check_rejected(h.run(GAME, command), rejection);
    assert_eq!(h.money(), money);
    assert_eq!(status(h, player), before);
}

#[test]
fn a_reality_check_falls_due_an_interval_after_login_and_refuses_bets_until_acknowledged() {
    let mut h = Harness::new();
    let p = player_with_checks(&mut h);
    let started = h.now;
    assert!(h.bet("b1", p, 10_00, "r1").is_ok());
    h.advance(30 * MINUTE - 1);
    assert!(h.bet("b2", p, 5_00, "r2").is_ok());
    h.advance(1);
    let due = Rejection::RealityCheckDue {
        due_at_ms: started + 30 * MINUTE,
    };
    refused_unchanged(&mut h, bet_cmd(p, 1_00, "r3"), due, p);
    let seen = status(&h, p);
    assert_eq!(
        seen.reality_check,
        Some(RealityCheck {
            interval_ms: 30 * MINUTE,
            session_started_ms: started,
            elapsed_ms: 30 * MINUTE,
            due_at_ms: started + 30 * MINUTE,
            due: true,
            net_position: amt(-15_00),
            currency: EUR,
        })
    );
    assert_eq!(seen.bets_refused, Some(due));
    // Still refused later, until the front end reports the acknowledgement.
    h.advance(10 * MINUTE);
    refused_unchanged(&mut h, bet_cmd(p, 1_00, "r3"), due, p);
    check(h.run(OPS, ack_cmd(p)), Outcome::Accepted);
    assert!(h.bet("b3", p, 1_00, "r3").is_ok());
    // The next one is an interval after the acknowledgement.
    let acknowledged = h.now;
    h.advance(30 * MINUTE);
    check_rejected(
        h.run(GAME, bet_cmd(p, 1_00, "r4")),
        Rejection::RealityCheckDue {
            due_at_ms: acknowledged + 30 * MINUTE,
        },
    );
}

#[test]
fn wins_and_rollbacks_land_while_bets_wait_and_count_in_the_net_position() {
    let mut h = Harness::new();
    let p = player_with_checks(&mut h);
    assert!(h.bet("b1", p, 10_00, "r1").is_ok());
    assert!(h.bet("b2", p, 4_00, "r2").is_ok());
    h.advance(31 * MINUTE);
    check_rejected(
        h.run(GAME, bet_cmd(p, 1_00, "r3")),
        Rejection::RealityCheckDue {
            due_at_ms: T0 + 30 * MINUTE,
        },
    );
    // Owed money is never blocked.
    assert!(h.win(p, 25_00, "r1").is_ok());
    assert!(h.rollback(p, "b2").is_ok());
    assert!(h.ledger.balances(p, EUR).is_ok());
    let seen = status(&h, p);
    assert_eq!(seen.net_position, amt(-10_00 - 4_00 + 25_00 + 4_00));
    assert_eq!(seen.reality_check.map(|c| c.net_position), Some(amt(15_00)));
}

#[test]
fn without_a_login_the_first_bet_opens_the_session_and_a_new_login_starts_afresh() {
    let mut h = Harness::new();
    let p = h.register();
    h.fund(p, 10_000);
    check(h.run(OPS, interval_cmd(p, Some(20 * MINUTE))), Outcome::Accepted);
    assert_eq!(status(&h, p).session_started_ms, None);
    // A win without a session opens none.
    h.advance(MINUTE);
    let first_bet = h.now;
    assert!(h.bet("b1", p, 3_00, "r1").is_ok());
    let seen = status(&h, p);
    assert_eq!(seen.session_started_ms, Some(first_bet));
    assert_eq!(seen.net_position, amt(-3_00));
    h.advance(20 * MINUTE);
    check_rejected(
        h.run(GAME, bet_cmd(p, 1_00, "r2")),
        Rejection::RealityCheckDue {
            due_at_ms: first_bet + 20 * MINUTE,
        },
    );
    // A login starts a new session: nothing is due, the position is zero.
    check(h.run(OPS, login_cmd(p)), Outcome::LoginRecorded { blocked: None });
    let seen = status(&h, p);
    assert_eq!((seen.session_started_ms, seen.net_position), (Some(h.now), amt(0)));
    assert!(h.bet("b2", p, 1_00, "r2").is_ok());
    // A logout ends it; nothing is left to acknowledge.
    check(h.run(OPS, logout_cmd(p)), Outcome::Accepted);
    assert_eq!(status(&h, p).session_started_ms, None);
    assert_eq!(status(&h, p).reality_check, None);
    check_rejected(h.run(OPS, ack_cmd(p)), Rejection::NoPlaySession);
}

#[test]
fn without_an_interval_nothing_is_ever_due() {
    let mut h = Harness::new();
    let p = h.register();
    h.fund(p, 10_000);
    check(h.run(OPS, login_cmd(p)), Outcome::LoginRecorded { blocked: None });
    h.advance(DAY - 1);
    assert!(h.bet("b1", p, 1_00, "r1").is_ok());
    let seen = status(&h, p);
    assert_eq!((seen.reality_check_interval_ms, seen.reality_check), (None, None));
    // Setting one applies to the open session at once; removing it too.
    check(h.run(OPS, interval_cmd(p, Some(MINUTE))), Outcome::Accepted);
    check_rejected(
        h.run(GAME, bet_cmd(p, 1_00, "r2")),
        Rejection::RealityCheckDue { due_at_ms: T0 + MINUTE },
    );
    check(h.run(OPS, interval_cmd(p, None)), Outcome::Accepted);
    assert!(h.bet("b2", p, 1_00, "r2").is_ok());
}

#[test]
fn intervals_and_session_limits_outside_a_minute_to_a_day_are_refused_and_change_nothing() {
    let mut h = Harness::new();
    let p = h.register();
    let before = status(&h, p);
    for bad in [0, MINUTE - 1, DAY + 1, u64::MAX] {
        check_rejected(h.run(OPS, interval_cmd(p, Some(bad))), Rejection::InvalidDuration);
        check_rejected(h.run(OPS, session_limit_cmd(p, Some(bad))), Rejection::InvalidDuration);
    }
    assert_eq!(status(&h, p), before);
    for command in [
        interval_cmd(NOBODY, Some(MINUTE)),
        ack_cmd(NOBODY),
        session_limit_cmd(NOBODY, Some(MINUTE)),
        review_cmd(NOBODY),
    ] {
        check_rejected(h.run(OPS, command), Rejection::UnknownPlayer);
    }
    assert_eq!(h.ledger.rg_status(NOBODY, h.now).unwrap_err(), Rejection::UnknownPlayer);
    for edge in [MINUTE, DAY] {
        check(h.run(OPS, interval_cmd(p, Some(edge))), Outcome::Accepted);
    }
}

#[test]
fn a_session_that_reached_its_time_limit_refuses_bets_until_the_next_login() {
    let mut h = Harness::new();
    let p = h.register();
    h.fund(p, 10_000);
    check(h.run(OPS, session_limit_cmd(p, Some(60 * MINUTE))), Outcome::Accepted);
    check(h.run(OPS, login_cmd(p)), Outcome::LoginRecorded { blocked: None });
    h.advance(60 * MINUTE - 1);
    assert!(h.bet("b1", p, 2_00, "r1").is_ok());
    h.advance(1);
    let reached = Rejection::SessionTimeLimitReached { limit_ms: 60 * MINUTE };
    refused_unchanged(&mut h, bet_cmd(p, 1_00, "r2"), reached, p);
    // The win of the open round still lands.
    assert!(h.win(p, 3_00, "r1").is_ok());
    // Logging out does not lift it (a bet would otherwise open a new session) ...
    check(h.run(OPS, logout_cmd(p)), Outcome::Accepted);
    h.advance(MINUTE);
    check_rejected(h.run(GAME, bet_cmd(p, 1_00, "r2")), reached);
    assert_eq!(status(&h, p).bets_refused, Some(reached));
    // ... the next login does.
    check(h.run(OPS, login_cmd(p)), Outcome::LoginRecorded { blocked: None });
    assert!(h.bet("b2", p, 1_00, "r2").is_ok());
    assert_eq!(status(&h, p).bets_refused, None);
}

#[test]
fn a_shorter_session_limit_applies_at_once_and_a_longer_one_after_the_cooling_off() {
    let mut h = Harness::new();
    let p = h.register();
    h.fund(p, 10_000);
    check(h.run(OPS, login_cmd(p)), Outcome::LoginRecorded { blocked: None });
    check(h.run(OPS, session_limit_cmd(p, Some(120 * MINUTE))), Outcome::Accepted);
    h.advance(45 * MINUTE);
    check(h.run(OPS, session_limit_cmd(p, Some(30 * MINUTE))), Outcome::Accepted);
    let reached = Rejection::SessionTimeLimitReached { limit_ms: 30 * MINUTE };
    check_rejected(h.run(GAME, bet_cmd(p, 1_00, "r1")), reached);
    // Raising it waits the limits' cooling-off (a day by default).
    let effective_at_ms = h.now + DAY;
    check(
        h.run(OPS, session_limit_cmd(p, Some(180 * MINUTE))),
        Outcome::Scheduled { effective_at_ms },
    );
    let seen = status(&h, p);
    assert_eq!(seen.session_limit_ms, Some(30 * MINUTE));
    assert_eq!(seen.session_limit_pending, Some((Some(180 * MINUTE), effective_at_ms)));
    check_rejected(h.run(GAME, bet_cmd(p, 1_00, "r1")), reached);
    // Removing it is a loosening too; the cooling-off restarts.
    h.at(effective_at_ms - 1);
    check(h.run(OPS, login_cmd(p)), Outcome::LoginRecorded { blocked: None });
    assert!(h.bet("b1", p, 1_00, "r1").is_ok());
    check(
        h.run(OPS, session_limit_cmd(p, None)),
        Outcome::Scheduled {
            effective_at_ms: h.now + DAY,
        },
    );
    assert_eq!(status(&h, p).session_limit_ms, Some(30 * MINUTE));
    h.advance(DAY);
    let seen = status(&h, p);
    assert_eq!((seen.session_limit_ms, seen.session_limit_pending), (None, None));
    assert!(h.bet("b2", p, 1_00, "r2").is_ok());
}

#[test]
fn limit_prompts_come_at_registration_first_deposit_and_every_six_months() {
    let mut h = Harness::new();
    let registered = h.now;
    let p = h.register();
    let prompt = |reason, due_since_ms| Some(LimitPrompt { reason, due_since_ms });
    let seen = status(&h, p);
    assert_eq!(seen.registered_ms, Some(registered));
    assert_eq!(seen.limit_prompt, prompt(PromptReason::Registration, registered));
    // Answered at registration.
    h.advance(HOUR);
    check(h.run(OPS, review_cmd(p)), Outcome::Accepted);
    assert_eq!(status(&h, p).limit_prompt, None);
    // The first deposit prompts again; a later one does not move the date.
    h.advance(HOUR);
    let first = h.now;
    h.fund(p, 10_00);
    h.advance(HOUR);
    h.fund(p, 10_00);
    let seen = status(&h, p);
    assert_eq!(seen.first_deposit_ms, Some(first));
    assert_eq!(seen.limit_prompt, prompt(PromptReason::FirstDeposit, first));
    // Setting a deposit limit answers it.
    let day = limit(LimitMetric::Deposit, LimitPeriod::Day);
    check(h.run(OPS, limit_cmd(p, day, Some(50_000))), Outcome::Accepted);
    let reviewed = h.now;
    assert_eq!(status(&h, p).limit_prompt, None);
    assert_eq!(status(&h, p).limit_review_ms, Some(reviewed));
    // Six months on, a review is due.
    let due = reviewed + rg::LIMIT_REVIEW_AFTER_MS;
    h.at(due - 1);
    assert_eq!(status(&h, p).limit_prompt, None);
    h.at(due);
    assert_eq!(status(&h, p).limit_prompt, prompt(PromptReason::Review, due));
    check(h.run(OPS, review_cmd(p)), Outcome::Accepted);
    assert_eq!(status(&h, p).limit_prompt, None);
}

#[test]
fn the_rg_read_names_limits_exclusions_and_pending_changes() {
    let mut h = Harness::new();
    let p = h.register();
    let day = limit(LimitMetric::Wager, LimitPeriod::Day);
    check(h.run(OPS, limit_cmd(p, day, Some(10_000))), Outcome::Accepted);
    let effective_at_ms = h.now + DAY;
    check(
        h.run(OPS, limit_cmd(p, day, Some(20_000))),
        Outcome::Scheduled { effective_at_ms },
    );
    let until_ms = h.now + 7 * DAY;
    check(h.run(OPS, Exclusion::TimeOut.command(p, until_ms)), Outcome::Accepted);
    let seen = status(&h, p);
    assert_eq!(seen.timed_out_until_ms, until_ms);
    assert_eq!(seen.self_excluded_until_ms, 0);
    assert_eq!(
        seen.limits,
        vec![rg::LimitStatus {
            currency: EUR,
            kind: day,
            amount: Some(amt(10_000)),
            pending: Some((Some(amt(20_000)), effective_at_ms)),
        }]
    );
    // Read as of the change's time, it is in force (without being promoted).
    let later = h.ledger.rg_status(p, effective_at_ms).unwrap();
    assert_eq!(later.limits[0].amount, Some(amt(20_000)));
    assert_eq!(later.limits[0].pending, None);
    // Reads change nothing.
    assert_eq!(status(&h, p), seen);
    let query = Command::Query(Query::Rg {
        player: p,
        at_ms: h.now,
    });
    check(h.run(OPS, query), Outcome::Rg(Box::new(seen)));
}

#[test]
fn the_session_state_replays_to_the_same_refusals() {
    let mut h = Harness::new();
    let p = player_with_checks(&mut h);
    check(h.run(OPS, session_limit_cmd(p, Some(40 * MINUTE))), Outcome::Accepted);
    assert!(h.bet("b1", p, 1_00, "r1").is_ok());
    h.advance(30 * MINUTE);
    check_rejected(
        h.run(GAME, bet_cmd(p, 1_00, "r2")),
        Rejection::RealityCheckDue {
            due_at_ms: T0 + 30 * MINUTE,
        },
    );
    check(h.run(OPS, ack_cmd(p)), Outcome::Accepted);
    h.advance(10 * MINUTE);
    check_rejected(
        h.run(GAME, bet_cmd(p, 1_00, "r2")),
        Rejection::SessionTimeLimitReached { limit_ms: 40 * MINUTE },
    );
    let replayed = h.replay();
    assert_eq!(replayed.rg_status(p, h.now).unwrap(), status(&h, p));
}

/// Malta's profile from now: reality checks every hour for everyone, and
/// (if `idle_end_min` is not 0) sessions that end when idle that long.
fn session_rules_cmd(idle_end_min: u32) -> Command {
    Command::Players(players::Command::SetJurisdictionProfile {
        jurisdiction: Some(engine_core::Jurisdiction::new("MT").unwrap()),
        profile: Box::new(players::JurisdictionProfile {
            reality_check_interval_min: 60,
            play_sessions: players::PlaySessionRules {
                reality_check_by_default: true,
                idle_end_min,
            },
            ..players::JurisdictionProfile::UNRESTRICTED
        }),
        effective_from_ms: None,
        operator: OperatorId(4),
    })
}

#[test]
fn a_profile_gives_its_interval_to_every_player_without_one_reckoned_from_when_it_took_effect() {
    let mut h = Harness::new();
    let p = h.register();
    h.fund(p, 10_000);
    // A session open for hours before the profile: nothing was due then,
    // and the profile reckons nothing before it took effect.
    assert!(h.bet("b1", p, 1_00, "r1").is_ok());
    h.advance(3 * 60 * MINUTE);
    let effective = h.now;
    check(h.run(OPS, session_rules_cmd(0)), Outcome::Accepted);
    assert!(h.bet("b2", p, 1_00, "r2").is_ok());
    let seen = status(&h, p);
    assert_eq!(seen.reality_check_interval_ms, Some(60 * MINUTE));
    assert_eq!(seen.reality_check.map(|c| c.due_at_ms), Some(effective + 60 * MINUTE));
    h.advance(60 * MINUTE);
    let due = Rejection::RealityCheckDue {
        due_at_ms: effective + 60 * MINUTE,
    };
    refused_unchanged(&mut h, bet_cmd(p, 1_00, "r3"), due, p);
    check(h.run(OPS, ack_cmd(p)), Outcome::Accepted);
    assert!(h.bet("b3", p, 1_00, "r3").is_ok());
    // A player's own interval wins over the profile's.
    let q = h.register();
    h.fund(q, 10_000);
    check(h.run(OPS, interval_cmd(q, Some(20 * MINUTE))), Outcome::Accepted);
    let first_bet = h.now;
    assert!(h.bet("b4", q, 1_00, "r4").is_ok());
    h.advance(20 * MINUTE);
    check_rejected(
        h.run(GAME, bet_cmd(q, 1_00, "r5")),
        Rejection::RealityCheckDue {
            due_at_ms: first_bet + 20 * MINUTE,
        },
    );
    // Other jurisdictions keep none.
    let r = h.register_in(EUR, "SE");
    assert_eq!(status(&h, r).reality_check_interval_ms, None);
    let replayed = h.replay();
    for player in [p, q, r] {
        assert_eq!(replayed.rg_status(player, h.now).unwrap(), status(&h, player));
    }
}

#[test]
fn a_profile_set_before_play_session_rules_existed_gives_no_interval() {
    let mut h = Harness::new();
    // The command of journals written before the rules (tag 47), with the
    // interval field every profile had: it was never a default, and
    // replaying such a journal must refuse nothing new.
    let before = Command::Players(players::Command::SetJurisdictionProfileV1 {
        jurisdiction: Some(engine_core::Jurisdiction::new("MT").unwrap()),
        profile: players::ProfileV1(Box::new(players::JurisdictionProfile::UNRESTRICTED)),
        effective_from_ms: None,
        operator: OperatorId(4),
    });
    check(h.run(OPS, before), Outcome::Accepted);
    let p = h.register();
    h.fund(p, 10_000);
    assert!(h.bet("b1", p, 1_00, "r1").is_ok());
    h.advance(DAY);
    assert!(h.bet("b2", p, 1_00, "r2").is_ok());
    let seen = status(&h, p);
    assert_eq!((seen.reality_check_interval_ms, seen.reality_check), (None, None));
}

#[test]
fn an_idle_session_ends_and_the_next_bet_opens_a_new_one() {
    let mut h = Harness::new();
    check(h.run(OPS, session_rules_cmd(30)), Outcome::Accepted);
    let p = h.register();
    h.fund(p, 10_000);
    let started = h.now;
    assert!(h.bet("b1", p, 2_00, "r1").is_ok());
    // Activity keeps it open: a bet or a win within 30 minutes of the last.
    h.advance(29 * MINUTE);
    assert!(h.win(p, 50, "r1").is_ok());
    h.advance(29 * MINUTE);
    assert!(h.bet("b2", p, 1_00, "r2").is_ok());
    assert_eq!(status(&h, p).session_started_ms, Some(started));
    assert_eq!(status(&h, p).net_position, amt(-2_00 + 50 - 1_00));
    // 30 idle minutes end it: nothing is due, nothing to acknowledge, and
    // a late win lands without reopening it.
    h.advance(30 * MINUTE);
    let seen = status(&h, p);
    assert_eq!((seen.session_started_ms, seen.reality_check), (None, None));
    assert_eq!(seen.net_position, amt(0));
    check_rejected(h.run(OPS, ack_cmd(p)), Rejection::NoPlaySession);
    assert!(h.win(p, 1_00, "r2").is_ok());
    assert_eq!(status(&h, p).session_started_ms, None);
    // The next bet opens a new session, checked an hour from its start.
    let restarted = h.now;
    assert!(h.bet("b3", p, 1_00, "r3").is_ok());
    let seen = status(&h, p);
    assert_eq!(seen.session_started_ms, Some(restarted));
    assert_eq!(seen.net_position, amt(-1_00));
    assert_eq!(seen.reality_check.map(|c| c.due_at_ms), Some(restarted + 60 * MINUTE));
    let replayed = h.replay();
    assert_eq!(replayed.rg_status(p, h.now).unwrap(), status(&h, p));
}

#[test]
fn a_session_that_reached_its_time_limit_before_going_idle_stays_held_until_login() {
    let mut h = Harness::new();
    check(h.run(OPS, session_rules_cmd(30)), Outcome::Accepted);
    let p = h.register();
    h.fund(p, 10_000);
    check(h.run(OPS, session_limit_cmd(p, Some(40 * MINUTE))), Outcome::Accepted);
    let started = h.now;
    assert!(h.bet("b1", p, 1_00, "r1").is_ok());
    h.advance(20 * MINUTE);
    assert!(h.bet("b2", p, 1_00, "r2").is_ok());
    h.advance(20 * MINUTE);
    let held = Rejection::SessionTimeLimitReached { limit_ms: 40 * MINUTE };
    refused_unchanged(&mut h, bet_cmd(p, 1_00, "r3"), held, p);
    // Going idle does not lift it: the session ended past its limit.
    h.advance(2 * 60 * MINUTE);
    refused_unchanged(&mut h, bet_cmd(p, 1_00, "r3"), held, p);
    check(h.run(OPS, login_cmd(p)), Outcome::LoginRecorded { blocked: None });
    assert!(h.bet("b3", p, 1_00, "r3").is_ok());
    assert!(status(&h, p).session_started_ms > Some(started));
    // A session that went idle before its limit ends without a hold.
    let q = h.register();
    h.fund(q, 10_000);
    check(h.run(OPS, session_limit_cmd(q, Some(40 * MINUTE))), Outcome::Accepted);
    assert!(h.bet("b4", q, 1_00, "r4").is_ok());
    h.advance(35 * MINUTE);
    assert!(h.bet("b5", q, 1_00, "r5").is_ok());
    check(h.run(OPS, logout_cmd(q)), Outcome::Accepted);
    assert!(h.bet("b6", q, 1_00, "r6").is_ok());
}
