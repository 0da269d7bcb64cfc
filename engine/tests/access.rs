//! The access commands: operators, aggregators, game sessions, and wallet
//! commands inside a session. Exact outcomes, no state change on refusal,
//! replay determinism, and the gateway's read copy (`Access::follow`)
//! agreeing with the ledger's own state.

use engine::command::{
    Bet, Command, Envelope, LimitKind, LimitMetric, LimitPeriod, Request, Role, RoundRef, Win, WinKind,
};
use engine::ledger::Access;
use engine::outcome::{BlockReason, Capacity};
use engine::{
    AggregatorCredential, Amount, Balances, Config, Currency, ExtId, GameCode, HashKey, Jurisdiction, Ledger, Name,
    OperatorId, Outcome, PlayerId, Receipt, Rejection, RoundId, RsaPublicKeyDer, Secret, SourceId, TokenHash,
};
use engine::{access, gaming, payments, players, rg};

const T0: u64 = 1_750_000_000_000;
const MINUTE: u64 = 60_000;
const EUR: Currency = Currency::EUR;
const SYSTEM: SourceId = SourceId(0);
const ADMIN: OperatorId = OperatorId(1);
/// Sources are handed out in creation order: the admin's, the aggregator's, the support's.
const ADMIN_SOURCE: SourceId = SourceId(1);
const GAME: SourceId = SourceId(2);
const SUPPORT: OperatorId = OperatorId(2);
const PLAYER: PlayerId = PlayerId(1);

struct Harness {
    ledger: Ledger,
    /// The gateway's read copy, fed every committed envelope and outcome.
    copy: Access,
    config: Config,
    seq: u64,
    now: u64,
    log: Vec<Envelope>,
}

impl Harness {
    fn new(config: Config) -> Harness {
        Harness {
            ledger: Ledger::new(config.clone()),
            copy: Access::default(),
            config,
            seq: 0,
            now: T0,
            log: Vec::new(),
        }
    }

    fn apply(&mut self, source: SourceId, id: &str, command: Command) -> Outcome {
        self.seq += 1;
        let envelope = Envelope {
            seq: self.seq,
            time_ms: self.now,
            request: Request {
                source,
                id: ExtId::new(id).unwrap(),
                command,
            },
        };
        let outcome = self.ledger.apply(&envelope);
        self.copy.follow(&self.config, &envelope, &outcome);
        assert_eq!(&self.copy, self.ledger.access(), "read copy after seq {}", self.seq);
        assert_eq!(self.ledger.check_conservation(), Ok(()));
        self.log.push(envelope);
        outcome
    }

    /// An admin, an aggregator, a support operator and a player with 100.00 EUR.
    fn set_up() -> Harness {
        let mut h = Harness::new(Config::default());
        let created = h.apply(
            SYSTEM,
            "boot",
            create_operator(1, Role::Admin, "root", OperatorId::SYSTEM),
        );
        assert_eq!(
            created,
            Outcome::OperatorCreated {
                operator: ADMIN,
                source: ADMIN_SOURCE
            }
        );
        let aggregator = h.apply(ADMIN_SOURCE, "agg-1", create_aggregator("acme", ADMIN));
        assert_eq!(aggregator, Outcome::AggregatorCreated { aggregator: GAME });
        let support = h.apply(ADMIN_SOURCE, "op-2", create_operator(2, Role::Support, "sam", ADMIN));
        assert_eq!(
            support,
            Outcome::OperatorCreated {
                operator: SUPPORT,
                source: SourceId(3)
            }
        );
        let registered = h.apply(ADMIN_SOURCE, "reg-1", register());
        assert_eq!(registered, Outcome::Registered { player: PLAYER });
        assert!(h.apply(ADMIN_SOURCE, "dep-1", deposit(10_000)).is_ok());
        let dep = TxRefOf(ADMIN_SOURCE, "dep-1");
        assert!(h.apply(ADMIN_SOURCE, "dep-1-ok", dep.confirm()).is_ok());
        h
    }

    fn balances(&self) -> Balances {
        self.ledger.balances(PLAYER, EUR).unwrap()
    }

    fn issue(&mut self, id: &str, token: u8, expires_at_ms: u64) -> Outcome {
        self.apply(SourceId(3), id, issue(token, expires_at_ms))
    }

    fn replay(&self) -> Ledger {
        let mut ledger = Ledger::new(self.config.clone());
        for envelope in &self.log {
            ledger.apply(envelope);
        }
        ledger
    }
}

struct TxRefOf(SourceId, &'static str);

impl TxRefOf {
    fn confirm(&self) -> Command {
        Command::Payments(payments::Command::DepositConfirm {
            deposit: engine::TxRef {
                source: self.0,
                id: ExtId::new(self.1).unwrap(),
            },
        })
    }
}

fn hash(n: u8) -> TokenHash {
    TokenHash([n; 32])
}

fn name(text: &str) -> Name {
    Name::new(text).unwrap()
}

fn create_operator(token: u8, role: Role, who: &str, by: OperatorId) -> Command {
    Command::Access(access::Command::CreateOperator {
        token: hash(token),
        role,
        name: name(who),
        operator: by,
    })
}

fn create_aggregator(who: &str, by: OperatorId) -> Command {
    Command::Access(access::Command::CreateAggregator {
        name: name(who),
        credential: AggregatorCredential::Hmac(Secret([7; 32])),
        operator: by,
    })
}

fn register() -> Command {
    Command::Players(players::Command::RegisterPlayer {
        currency: EUR,
        jurisdiction: Jurisdiction::new("MT").unwrap(),
    })
}

fn deposit(minor: i64) -> Command {
    Command::Payments(payments::Command::DepositInitiate {
        player: PLAYER,
        currency: EUR,
        amount: Amount::from_minor(minor),
    })
}

fn issue(token: u8, expires_at_ms: u64) -> Command {
    Command::Access(access::Command::IssueSession {
        token: hash(100 + token),
        player: PLAYER,
        currency: EUR,
        aggregator: GAME,
        expires_at_ms,
        operator: SUPPORT,
    })
}

fn round() -> RoundRef {
    RoundRef {
        id: RoundId::new("r-1").unwrap(),
        game: GameCode::new("slots").unwrap(),
    }
}

fn in_session(token: u8, command: Command) -> Command {
    Command::InSession {
        token: hash(100 + token),
        command: Box::new(command),
    }
}

fn bet(minor: i64, currency: Currency) -> Command {
    Command::from(Bet {
        player: PLAYER,
        currency,
        amount: Amount::from_minor(minor),
        round: round(),
        close_round: false,
    })
}

fn win(minor: i64) -> Command {
    Command::from(Win {
        player: PLAYER,
        currency: EUR,
        amount: Amount::from_minor(minor),
        round: round(),
        kind: WinKind::Regular,
        close_round: false,
        bet: None,
    })
}

fn eur(cash: i64) -> Balances {
    Balances {
        currency: EUR,
        cash: Amount::from_minor(cash),
        bonus: Amount::ZERO,
        reserved: Amount::ZERO,
        loyalty_points: 0,
    }
}

fn moved(seq: u64, delta: i64, cash: i64, loyalty_points: u64) -> Outcome {
    Outcome::Moved(Receipt {
        seq,
        cash_delta: Amount::from_minor(delta),
        bonus_delta: Amount::ZERO,
        balances: Balances {
            loyalty_points,
            ..eur(cash)
        },
    })
}

fn refused(rejection: Rejection, cash: i64, loyalty_points: u64) -> Outcome {
    Outcome::RejectedInSession {
        rejection,
        balances: Balances {
            loyalty_points,
            ..eur(cash)
        },
    }
}

#[test]
fn operators_and_aggregators_get_ids_and_sources_in_creation_order() {
    let h = Harness::set_up();
    let access = h.ledger.access();
    let (id, root) = access.operator_by_token(&hash(1)).unwrap();
    assert_eq!(
        (id, root.role, root.source, root.created_by),
        (ADMIN, Role::Admin, ADMIN_SOURCE, OperatorId::SYSTEM)
    );
    let (id, sam) = access.operator_by_token(&hash(2)).unwrap();
    assert_eq!(
        (id, sam.role, sam.source, sam.created_by),
        (SUPPORT, Role::Support, SourceId(3), ADMIN)
    );
    let acme = access.aggregator(GAME).unwrap();
    assert_eq!(
        (acme.name.as_str(), &acme.credential, acme.created_by),
        ("acme", &AggregatorCredential::Hmac(Secret([7; 32])), ADMIN)
    );
    assert!(
        access.aggregator(ADMIN_SOURCE).is_none(),
        "an operator's source is no aggregator"
    );
    assert!(access.operator_by_token(&hash(3)).is_none());
    assert_eq!((access.operators_len(), access.aggregators_len()), (2, 1));
}

#[test]
fn only_the_first_operator_is_created_by_the_system_and_later_ones_by_admins() {
    let mut h = Harness::set_up();
    let seq = h.ledger.last_seq();
    let cases = [
        (
            create_operator(9, Role::Admin, "eve", OperatorId::SYSTEM),
            Rejection::NotPermitted,
        ),
        (create_operator(9, Role::Admin, "eve", SUPPORT), Rejection::NotPermitted),
        (
            create_operator(9, Role::Admin, "eve", OperatorId(42)),
            Rejection::UnknownOperator,
        ),
        (create_operator(1, Role::Finance, "fred", ADMIN), Rejection::TokenTaken),
        (create_operator(9, Role::Finance, "sam", ADMIN), Rejection::NameTaken),
        (create_aggregator("acme", ADMIN), Rejection::NameTaken),
        (create_aggregator("other", SUPPORT), Rejection::NotPermitted),
    ];
    let before = h.ledger.access().clone();
    for (n, (command, rejection)) in cases.into_iter().enumerate() {
        let outcome = h.apply(ADMIN_SOURCE, &format!("bad-{n}"), command);
        assert_eq!(outcome, Outcome::Rejected(rejection), "case {n}");
    }
    assert_eq!(h.ledger.access(), &before, "refusals change no access state");
    assert_eq!(h.ledger.last_seq(), seq + 7);
}

#[test]
fn a_retried_creation_returns_the_original_outcome_and_creates_nothing() {
    let mut h = Harness::set_up();
    let again = h.apply(ADMIN_SOURCE, "agg-1", create_aggregator("acme", ADMIN));
    assert_eq!(again, Outcome::AggregatorCreated { aggregator: GAME });
    let conflict = h.apply(ADMIN_SOURCE, "agg-1", create_aggregator("acme-2", ADMIN));
    assert_eq!(conflict, Outcome::Rejected(Rejection::Conflict));
    assert_eq!(h.ledger.access().aggregators_len(), 1);
}

#[test]
fn capacities_bound_operators_and_aggregators() {
    let mut h = Harness::new(Config {
        operators_max: 1,
        aggregators_max: 1,
        ..Config::default()
    });
    h.apply(
        SYSTEM,
        "boot",
        create_operator(1, Role::Admin, "root", OperatorId::SYSTEM),
    );
    let more = h.apply(ADMIN_SOURCE, "op-2", create_operator(2, Role::Support, "sam", ADMIN));
    assert_eq!(more, Outcome::Rejected(Rejection::CapacityReached(Capacity::Operators)));
    h.apply(ADMIN_SOURCE, "agg-1", create_aggregator("acme", ADMIN));
    let more = h.apply(ADMIN_SOURCE, "agg-2", create_aggregator("zeta", ADMIN));
    assert_eq!(
        more,
        Outcome::Rejected(Rejection::CapacityReached(Capacity::Aggregators))
    );
}

#[test]
fn issuing_a_session_checks_operator_aggregator_wallet_time_and_token() {
    let mut h = Harness::set_up();
    let with = |f: fn(&mut Command)| {
        let mut command = issue(1, T0 + MINUTE);
        f(&mut command);
        command
    };
    let cases: [(Command, Rejection); 6] = [
        (with(|c| set(c, |s| s.5 = OperatorId(42))), Rejection::UnknownOperator),
        (with(|c| set(c, |s| s.3 = ADMIN_SOURCE)), Rejection::UnknownAggregator),
        (with(|c| set(c, |s| s.1 = PlayerId(9))), Rejection::UnknownPlayer),
        (
            with(|c| set(c, |s| s.2 = Currency::USD)),
            Rejection::CurrencyMismatch {
                currency: Currency::USD,
            },
        ),
        (with(|c| set(c, |s| s.4 = T0)), Rejection::TimeNotInFuture),
        (issue(1, T0 + MINUTE), Rejection::TokenTaken),
    ];
    assert_eq!(h.issue("s-ok", 1, T0 + MINUTE), Outcome::Accepted);
    for (n, (command, rejection)) in cases.into_iter().enumerate() {
        assert_eq!(
            h.apply(SourceId(3), &format!("s-{n}"), command),
            Outcome::Rejected(rejection),
            "case {n}"
        );
    }
    let session = h.ledger.access().session(&hash(101)).copied().unwrap();
    assert_eq!(
        (session.player, session.currency, session.aggregator),
        (PLAYER, EUR, GAME)
    );
    assert_eq!(
        (
            session.expires_at_ms,
            session.issued_by,
            h.ledger.access().sessions_len()
        ),
        (T0 + MINUTE, SUPPORT, 1)
    );
}

/// Edits the fields of an `IssueSession` as a tuple (token, player, currency, aggregator, expiry, operator).
fn set(command: &mut Command, f: impl FnOnce(&mut (TokenHash, PlayerId, Currency, SourceId, u64, OperatorId))) {
    let Command::Access(access::Command::IssueSession {
        token,
        player,
        currency,
        aggregator,
        expires_at_ms,
        operator,
    }) = command
    else {
        panic!("not an issue");
    };
    let mut fields = (*token, *player, *currency, *aggregator, *expires_at_ms, *operator);
    f(&mut fields);
    (*token, *player, *currency, *aggregator, *expires_at_ms, *operator) = fields;
}

#[test]
fn a_session_round_bet_win_rollback_and_end() {
    let mut h = Harness::set_up();
    h.issue("s-1", 1, T0 + MINUTE);
    let seq = h.ledger.last_seq();
    assert_eq!(
        h.apply(GAME, "b-1", in_session(1, bet(1_000, EUR))),
        moved(seq + 1, -1_000, 9_000, 10)
    );
    assert_eq!(
        h.apply(GAME, "w-1", in_session(1, win(2_500))),
        moved(seq + 2, 2_500, 11_500, 10)
    );
    assert_eq!(
        h.apply(GAME, "b-2", in_session(1, bet(500, EUR))),
        moved(seq + 3, -500, 11_000, 15)
    );
    let rollback = Command::Gaming(gaming::Command::Rollback {
        player: PLAYER,
        bet: ExtId::new("b-2").unwrap(),
    });
    assert_eq!(
        h.apply(GAME, "rb-2", in_session(1, rollback)),
        moved(seq + 4, 500, 11_500, 10)
    );
    let end = Command::Gaming(gaming::Command::EndRound {
        player: PLAYER,
        round: round(),
    });
    let ended = Outcome::Balance(Balances {
        loyalty_points: 10,
        ..eur(11_500)
    });
    assert_eq!(h.apply(GAME, "end-1", in_session(1, end.clone())), ended);
    // Identical retries get the recorded outcomes; a changed payload is a conflict.
    assert_eq!(
        h.apply(GAME, "b-1", in_session(1, bet(1_000, EUR))),
        moved(seq + 1, -1_000, 9_000, 10)
    );
    assert_eq!(h.apply(GAME, "end-1", in_session(1, end)), ended);
    assert_eq!(
        h.apply(GAME, "b-1", in_session(1, bet(1_001, EUR))),
        Outcome::Rejected(Rejection::Conflict)
    );
    assert_eq!(h.balances().cash, Amount::from_minor(11_500));
}

#[test]
fn after_expiry_bets_are_refused_but_wins_and_rollbacks_land() {
    let mut h = Harness::set_up();
    h.issue("s-1", 1, T0 + MINUTE);
    h.apply(GAME, "b-1", in_session(1, bet(1_000, EUR)));
    h.apply(GAME, "b-2", in_session(1, bet(2_000, EUR)));
    h.now = T0 + MINUTE;
    let expired = Rejection::SessionExpired {
        expired_at_ms: T0 + MINUTE,
    };
    assert_eq!(
        h.apply(GAME, "b-3", in_session(1, bet(100, EUR))),
        refused(expired, 7_000, 30)
    );
    let seq = h.ledger.last_seq();
    assert_eq!(
        h.apply(GAME, "w-1", in_session(1, win(300))),
        moved(seq + 1, 300, 7_300, 30)
    );
    let rollback = Command::Gaming(gaming::Command::Rollback {
        player: PLAYER,
        bet: ExtId::new("b-2").unwrap(),
    });
    assert_eq!(
        h.apply(GAME, "rb-2", in_session(1, rollback)),
        moved(seq + 2, 2_000, 9_300, 10)
    );
    // A retry of the bet placed before expiry still gets its original receipt.
    assert_eq!(
        h.apply(GAME, "b-1", in_session(1, bet(1_000, EUR))),
        moved(8, -1_000, 9_000, 10)
    );
}

#[test]
fn limits_and_self_exclusion_block_bets_in_a_session_but_not_wins() {
    let mut h = Harness::set_up();
    h.issue("s-1", 1, T0 + 60 * MINUTE);
    let limit = LimitKind {
        metric: LimitMetric::Wager,
        period: LimitPeriod::Day,
    };
    let set_limit = Command::Rg(rg::Command::SetLimit {
        player: PLAYER,
        currency: EUR,
        limit,
        amount: Some(Amount::from_minor(1_500)),
    });
    assert_eq!(h.apply(SourceId(3), "lim-1", set_limit), Outcome::Accepted);
    h.apply(GAME, "b-1", in_session(1, bet(1_000, EUR)));
    let exceeded = Rejection::LimitExceeded {
        limit,
        remaining: Amount::from_minor(500),
    };
    assert_eq!(
        h.apply(GAME, "b-2", in_session(1, bet(600, EUR))),
        refused(exceeded, 9_000, 10)
    );
    let exclude = Command::Rg(rg::Command::SelfExclude {
        player: PLAYER,
        until_ms: T0 + 1_000 * MINUTE,
    });
    assert_eq!(h.apply(SourceId(3), "excl-1", exclude), Outcome::Accepted);
    let blocked = Rejection::PlayerBlocked(BlockReason::SelfExcluded {
        until_ms: T0 + 1_000 * MINUTE,
    });
    assert_eq!(
        h.apply(GAME, "b-3", in_session(1, bet(100, EUR))),
        refused(blocked, 9_000, 10)
    );
    let seq = h.ledger.last_seq();
    assert_eq!(
        h.apply(GAME, "w-1", in_session(1, win(4_000))),
        moved(seq + 1, 4_000, 13_000, 10)
    );
}

#[test]
fn a_session_serves_only_its_aggregator_player_currency_and_wallet_commands() {
    let mut h = Harness::set_up();
    h.issue("s-1", 1, T0 + MINUTE);
    h.apply(ADMIN_SOURCE, "agg-2", create_aggregator("zeta", ADMIN));
    let other_player = Command::from(Bet {
        player: PlayerId(2),
        ..match bet(100, EUR) {
            Command::Gaming(gaming::Command::Bet(bet)) => bet,
            _ => unreachable!(),
        }
    });
    let cases = [
        (
            SourceId(4),
            in_session(1, bet(100, EUR)),
            Outcome::Rejected(Rejection::SessionMismatch),
        ),
        (
            GAME,
            in_session(1, other_player),
            Outcome::Rejected(Rejection::SessionMismatch),
        ),
        (
            GAME,
            in_session(1, deposit(100)),
            Outcome::Rejected(Rejection::SessionMismatch),
        ),
        (
            GAME,
            in_session(1, in_session(1, bet(100, EUR))),
            Outcome::Rejected(Rejection::SessionMismatch),
        ),
        (
            GAME,
            in_session(2, bet(100, EUR)),
            Outcome::Rejected(Rejection::UnknownSession),
        ),
        (
            GAME,
            in_session(1, bet(100, Currency::USD)),
            refused(
                Rejection::CurrencyMismatch {
                    currency: Currency::USD,
                },
                10_000,
                0,
            ),
        ),
    ];
    let digest_flows = h.ledger.flows(EUR);
    for (n, (source, command, expected)) in cases.into_iter().enumerate() {
        assert_eq!(h.apply(source, &format!("x-{n}"), command), expected, "case {n}");
    }
    assert_eq!(h.ledger.flows(EUR), digest_flows);
    assert_eq!(h.balances(), eur(10_000));
}

#[test]
fn a_rollback_before_its_bet_in_a_session_refuses_the_late_bet() {
    let mut h = Harness::set_up();
    h.issue("s-1", 1, T0 + MINUTE);
    let rollback = Command::Gaming(gaming::Command::Rollback {
        player: PLAYER,
        bet: ExtId::new("b-late").unwrap(),
    });
    assert_eq!(
        h.apply(GAME, "rb-1", in_session(1, rollback)),
        refused(Rejection::UnknownTransaction, 10_000, 0)
    );
    assert_eq!(
        h.apply(GAME, "b-late", in_session(1, bet(100, EUR))),
        Outcome::Rejected(Rejection::BetRolledBack)
    );
    assert_eq!(h.balances(), eur(10_000));
}

#[test]
fn expired_sessions_are_forgotten_after_their_retention_and_capacity_holds() {
    let mut h = Harness::new(Config {
        sessions_max: 2,
        session_retention_ms: 10 * MINUTE,
        ..Config::default()
    });
    let boot = create_operator(1, Role::Admin, "root", OperatorId::SYSTEM);
    h.apply(SYSTEM, "boot", boot);
    h.apply(ADMIN_SOURCE, "agg-1", create_aggregator("acme", ADMIN));
    h.apply(ADMIN_SOURCE, "op-2", create_operator(2, Role::Support, "sam", ADMIN));
    h.apply(ADMIN_SOURCE, "reg-1", register());
    assert_eq!(h.issue("s-1", 1, T0 + MINUTE), Outcome::Accepted);
    assert_eq!(h.issue("s-2", 2, T0 + 5 * MINUTE), Outcome::Accepted);
    let full = Outcome::Rejected(Rejection::CapacityReached(Capacity::Sessions));
    assert_eq!(h.issue("s-3", 3, T0 + 20 * MINUTE), full);
    // Session 1 expired at T0 + 1 min; retained until T0 + 11 min.
    h.now = T0 + 11 * MINUTE;
    assert_eq!(h.issue("s-4", 4, T0 + 20 * MINUTE), Outcome::Accepted);
    assert!(h.ledger.access().session(&hash(101)).is_none());
    assert!(h.ledger.access().session(&hash(102)).is_some());
    let late_win = h.apply(GAME, "w-1", in_session(1, win(100)));
    assert_eq!(late_win, Outcome::Rejected(Rejection::UnknownSession));
    // A retry of the pruned session's issue returns its outcome and adds nothing.
    assert_eq!(h.issue("s-1", 1, T0 + MINUTE), Outcome::Accepted);
    assert_eq!(h.ledger.access().sessions_len(), 2);
}

#[test]
fn replay_rebuilds_the_same_access_state_outcomes_and_digest() {
    let mut h = Harness::set_up();
    h.issue("s-1", 1, T0 + MINUTE);
    h.apply(GAME, "b-1", in_session(1, bet(1_000, EUR)));
    h.now += 2 * MINUTE;
    h.apply(GAME, "b-2", in_session(1, bet(1_000, EUR)));
    h.apply(GAME, "w-1", in_session(1, win(700)));
    let replayed = h.replay();
    assert_eq!(replayed.access(), h.ledger.access());
    assert_eq!(replayed.digest(), h.ledger.digest());
    assert_eq!(replayed.balances(PLAYER, EUR), h.ledger.balances(PLAYER, EUR));
    // And the journal record format carries the new commands and outcomes.
    for envelope in &h.log {
        let mut fresh = h.replay_until(envelope.seq);
        let outcome = fresh.apply(envelope);
        let committed = engine::sequencer::Committed {
            envelope: envelope.clone(),
            outcome,
        };
        let bytes = engine::record::encode(&committed);
        assert_eq!(engine::record::decode(&bytes).unwrap(), committed);
    }
}

fn set_role(target: OperatorId, role: Role, by: OperatorId) -> Command {
    Command::Access(access::Command::SetOperatorRole {
        target,
        role,
        operator: by,
    })
}

fn disable(target: OperatorId, by: OperatorId) -> Command {
    Command::Access(access::Command::DisableOperator { target, operator: by })
}

fn rotate(target: OperatorId, token: u8, by: OperatorId) -> Command {
    Command::Access(access::Command::RotateOperatorToken {
        target,
        token: hash(token),
        operator: by,
    })
}

fn role_of(h: &Harness, operator: OperatorId) -> Role {
    h.ledger.access().operator(operator).unwrap().role
}

#[test]
fn an_admin_changes_roles_disables_and_rotates_tokens_and_the_outcome_says_the_role_before() {
    let mut h = Harness::set_up();
    let seq = h.seq + 1;
    let changed = h.apply(ADMIN_SOURCE, "role-1", set_role(SUPPORT, Role::Finance, ADMIN));
    assert_eq!(
        changed,
        Outcome::OperatorChanged {
            role_before: Role::Support,
            seq
        }
    );
    assert_eq!(role_of(&h, SUPPORT), Role::Finance);

    let rotated = h.apply(ADMIN_SOURCE, "rot-1", rotate(SUPPORT, 9, ADMIN));
    assert_eq!(
        rotated,
        Outcome::OperatorChanged {
            role_before: Role::Finance,
            seq: seq + 1
        }
    );
    assert_eq!(
        h.ledger.access().operator_by_token(&hash(2)),
        None,
        "the old token is gone"
    );
    assert_eq!(h.ledger.access().operator_by_token(&hash(9)).unwrap().0, SUPPORT);

    let disabled = h.apply(ADMIN_SOURCE, "dis-1", disable(SUPPORT, ADMIN));
    assert_eq!(
        disabled,
        Outcome::OperatorChanged {
            role_before: Role::Finance,
            seq: seq + 2
        }
    );
    assert_eq!(role_of(&h, SUPPORT), Role::Disabled);
    // Its token still names it (the gateway refuses it by its role).
    assert_eq!(h.ledger.access().operator_by_token(&hash(9)).unwrap().0, SUPPORT);
    // A disabled operator manages nothing, not even as a former admin.
    let by_disabled = h.apply(SourceId(3), "x-1", create_operator(30, Role::Support, "eve", SUPPORT));
    assert_eq!(by_disabled, Outcome::Rejected(Rejection::NotPermitted));
    // Given a role again, it is enabled with it.
    let enabled = h.apply(ADMIN_SOURCE, "role-2", set_role(SUPPORT, Role::Support, ADMIN));
    assert_eq!(
        enabled,
        Outcome::OperatorChanged {
            role_before: Role::Disabled,
            seq: seq + 4
        }
    );
    assert_eq!(role_of(&h, SUPPORT), Role::Support);
}

#[test]
fn operator_changes_are_refused_without_changing_anything() {
    let mut h = Harness::set_up();
    let before = h.ledger.access().clone();
    let digest_before = h.ledger.balances(PLAYER, EUR);
    let cases = [
        // Nobody disables themselves.
        (disable(ADMIN, ADMIN), Rejection::SelfDisable),
        (set_role(ADMIN, Role::Disabled, ADMIN), Rejection::SelfDisable),
        // The only admin stays an admin.
        (set_role(ADMIN, Role::Support, ADMIN), Rejection::LastAdmin),
        // Only admins manage operators; the system never does once one exists.
        (set_role(ADMIN, Role::ReadOnly, SUPPORT), Rejection::NotPermitted),
        (disable(ADMIN, SUPPORT), Rejection::NotPermitted),
        (rotate(ADMIN, 40, SUPPORT), Rejection::NotPermitted),
        (
            set_role(SUPPORT, Role::Admin, OperatorId::SYSTEM),
            Rejection::NotPermitted,
        ),
        (
            set_role(SUPPORT, Role::Admin, OperatorId(9)),
            Rejection::UnknownOperator,
        ),
        // The target must exist.
        (set_role(OperatorId(9), Role::Admin, ADMIN), Rejection::UnknownOperator),
        (disable(OperatorId(9), ADMIN), Rejection::UnknownOperator),
        (rotate(OperatorId(9), 41, ADMIN), Rejection::UnknownOperator),
        // A new token must be new.
        (rotate(SUPPORT, 1, ADMIN), Rejection::TokenTaken),
        (rotate(SUPPORT, 2, ADMIN), Rejection::TokenTaken),
    ];
    let seq = h.seq;
    for (n, (command, rejection)) in cases.into_iter().enumerate() {
        let outcome = h.apply(ADMIN_SOURCE, &format!("bad-{n}"), command);
        assert_eq!(outcome, Outcome::Rejected(rejection), "case {n}");
    }
    assert_eq!(h.ledger.access(), &before, "refusals change no access state");
    assert_eq!(h.ledger.balances(PLAYER, EUR), digest_before);
    assert_eq!(h.ledger.last_seq(), seq + 13);
}

#[test]
fn the_last_enabled_admin_stays_but_one_of_two_may_go() {
    let mut h = Harness::set_up();
    let second = h.apply(ADMIN_SOURCE, "op-3", create_operator(3, Role::Admin, "ada", ADMIN));
    let Outcome::OperatorCreated { operator: ada, .. } = second else {
        panic!("{second:?}")
    };
    // With two admins, one may step down or be disabled by the other.
    assert!(
        h.apply(ADMIN_SOURCE, "r-1", set_role(ADMIN, Role::Finance, ADMIN))
            .is_ok()
    );
    assert_eq!(
        h.apply(SourceId(4), "r-2", disable(ada, ada)),
        Outcome::Rejected(Rejection::SelfDisable)
    );
    // Ada is now the last admin: she cannot be demoted or disabled.
    assert_eq!(
        h.apply(SourceId(4), "r-3", set_role(ada, Role::ReadOnly, ada)),
        Outcome::Rejected(Rejection::LastAdmin)
    );
    assert!(h.apply(SourceId(4), "r-4", set_role(ADMIN, Role::Admin, ada)).is_ok());
    assert!(h.apply(ADMIN_SOURCE, "r-5", disable(ada, ADMIN)).is_ok());
    assert_eq!(
        h.apply(ADMIN_SOURCE, "r-6", set_role(ADMIN, Role::Support, ADMIN)),
        Outcome::Rejected(Rejection::LastAdmin),
        "a disabled admin does not count"
    );
}

#[test]
fn a_retried_change_returns_its_outcome_and_the_read_copy_does_not_apply_it_twice() {
    let mut h = Harness::set_up();
    let first = h.apply(ADMIN_SOURCE, "role-1", set_role(SUPPORT, Role::Finance, ADMIN));
    assert!(
        h.apply(ADMIN_SOURCE, "role-2", set_role(SUPPORT, Role::Support, ADMIN))
            .is_ok()
    );
    assert!(h.apply(ADMIN_SOURCE, "rot-1", rotate(SUPPORT, 9, ADMIN)).is_ok());
    assert!(h.apply(ADMIN_SOURCE, "rot-2", rotate(SUPPORT, 10, ADMIN)).is_ok());
    // Retries (the harness checks the read copy against the ledger after each).
    assert_eq!(
        h.apply(ADMIN_SOURCE, "role-1", set_role(SUPPORT, Role::Finance, ADMIN)),
        first
    );
    assert!(h.apply(ADMIN_SOURCE, "rot-1", rotate(SUPPORT, 9, ADMIN)).is_ok());
    assert_eq!(role_of(&h, SUPPORT), Role::Support);
    assert_eq!(h.ledger.access().operator_by_token(&hash(10)).unwrap().0, SUPPORT);
    assert_eq!(h.ledger.access().operator_by_token(&hash(9)), None);
    // A replay and the record format agree.
    let replayed = h.replay();
    assert_eq!(replayed.access(), h.ledger.access());
    assert_eq!(replayed.digest(), h.ledger.digest());
    for envelope in &h.log {
        let mut fresh = h.replay_until(envelope.seq);
        let outcome = fresh.apply(envelope);
        let committed = engine::sequencer::Committed {
            envelope: envelope.clone(),
            outcome,
        };
        let bytes = engine::record::encode(&committed);
        assert_eq!(engine::record::decode(&bytes).unwrap(), committed);
    }
}

impl Harness {
    /// A fresh ledger fed the envelopes before `seq`.
    fn replay_until(&self, seq: u64) -> Ledger {
        let mut ledger = Ledger::new(self.config.clone());
        for envelope in self.log.iter().take_while(|e| e.seq < seq) {
            ledger.apply(envelope);
        }
        ledger
    }
}

mod random_sessions {
    use proptest::prelude::*;

    use super::*;

    #[derive(Clone, Debug)]
    enum Op {
        Bet { minor: i64, round: u8 },
        Win { minor: i64, round: u8 },
        Rollback { bet: usize },
        Retry { of: usize },
        Advance { ms: u64 },
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (1..3_000_i64, 0..3_u8).prop_map(|(minor, round)| Op::Bet { minor, round }),
            3 => (0..4_000_i64, 0..3_u8).prop_map(|(minor, round)| Op::Win { minor, round }),
            1 => (0..40_usize).prop_map(|bet| Op::Rollback { bet }),
            2 => (0..40_usize).prop_map(|of| Op::Retry { of }),
            1 => (0..90_000_u64).prop_map(|ms| Op::Advance { ms }),
        ]
    }

    fn round_of(n: u8) -> RoundRef {
        RoundRef {
            id: RoundId::new(&format!("r-{n}")).unwrap(),
            game: GameCode::new("slots").unwrap(),
        }
    }

    proptest! {
        // 256 streams in CI; `PROPTEST_CASES` raises it.
        #![proptest_config(ProptestConfig {
            cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256),
            ..ProptestConfig::default()
        })]

        /// Random in-session play across the session's expiry: the read copy
        /// follows the ledger (checked after every command by the harness),
        /// money is conserved, every retry gets the identical outcome, and a
        /// replay reproduces the digest and the access state.
        #[test]
        fn sessions_conserve_money_replay_and_retry_exactly(ops in proptest::collection::vec(op(), 1..60)) {
            let mut h = Harness::set_up();
            h.issue("s-1", 1, T0 + 2 * MINUTE);
            let mut sent: Vec<(String, Command, Outcome)> = Vec::new();
            for (n, op) in ops.into_iter().enumerate() {
                let id = format!("t-{n}");
                let command = match op {
                    Op::Bet { minor, round } => Command::from(Bet {
                        player: PLAYER,
                        currency: EUR,
                        amount: Amount::from_minor(minor),
                        round: round_of(round),
                        close_round: false,
                    }),
                    Op::Win { minor, round } => Command::from(Win {
                        player: PLAYER,
                        currency: EUR,
                        amount: Amount::from_minor(minor),
                        round: round_of(round),
                        kind: WinKind::Regular,
                        close_round: false,
                        bet: None,
                    }),
                    Op::Rollback { bet } => Command::Gaming(gaming::Command::Rollback {
                        player: PLAYER,
                        bet: ExtId::new(&format!("t-{bet}")).unwrap(),
                    }),
                    Op::Retry { of } => {
                        if let Some((id, command, outcome)) = sent.get(of).cloned() {
                            prop_assert_eq!(h.apply(GAME, &id, in_session(1, command)), outcome);
                        }
                        continue;
                    }
                    Op::Advance { ms } => {
                        h.now += ms;
                        continue;
                    }
                };
                let outcome = h.apply(GAME, &id, in_session(1, command.clone()));
                if matches!(command, Command::Gaming(gaming::Command::Bet(_))) && h.now >= T0 + 2 * MINUTE {
                    prop_assert!(
                        matches!(outcome.rejection(), Some(Rejection::SessionExpired { .. } | Rejection::BetRolledBack)),
                        "a bet after expiry: {outcome:?}"
                    );
                }
                sent.push((id, command, outcome));
            }
            let replayed = h.replay();
            prop_assert_eq!(replayed.digest(), h.ledger.digest());
            prop_assert_eq!(replayed.access(), h.ledger.access());
        }
    }
}

#[test]
fn rsa_and_hash_aggregator_keys_survive_journal_replay_and_a_snapshot() {
    use engine::durable::{SnapshotPolicy, recover, replay_from_genesis, take_snapshot};
    use engine::sequencer::{CommitSink, Committed};

    let dir = tempfile::tempdir().unwrap();
    let config = Config::default();
    let der: Vec<u8> = (0..=255_u8).cycle().take(294).collect();
    let rsa = AggregatorCredential::RsaPublicKey(RsaPublicKeyDer::new(&der).unwrap());
    let hash_key = AggregatorCredential::HashKey(HashKey::new("testKey").unwrap());
    let recovered = recover(dir.path(), config.clone(), journal::JournalConfig::default()).unwrap();
    let (mut ledger, mut sink) = (recovered.ledger, recovered.sink);
    let commands = [
        (
            SYSTEM,
            "boot",
            create_operator(1, Role::Admin, "root", OperatorId::SYSTEM),
        ),
        (
            ADMIN_SOURCE,
            "agg-rsa",
            Command::Access(access::Command::CreateAggregator {
                name: name("hub88"),
                credential: rsa.clone(),
                operator: ADMIN,
            }),
        ),
        (ADMIN_SOURCE, "agg-hmac", create_aggregator("acme", ADMIN)),
        (
            ADMIN_SOURCE,
            "agg-pragmatic",
            Command::Access(access::Command::CreateAggregator {
                name: name("pragmatic"),
                credential: hash_key.clone(),
                operator: ADMIN,
            }),
        ),
    ];
    for (seq, (source, id, command)) in (1..).zip(commands) {
        let envelope = Envelope {
            seq,
            time_ms: T0 + seq,
            request: Request {
                source,
                id: ExtId::new(id).unwrap(),
                command,
            },
        };
        let outcome = ledger.apply(&envelope);
        assert!(outcome.is_ok(), "{outcome:?}");
        sink.commit(&[Committed { envelope, outcome }]).unwrap();
    }
    drop(sink);
    assert_eq!(ledger.access().aggregator(GAME).unwrap().credential, rsa);

    let (replayed, _) = replay_from_genesis(dir.path(), config.clone()).unwrap();
    assert_eq!(replayed.access(), ledger.access());
    assert_eq!(replayed.digest(), ledger.digest());
    let taken = take_snapshot(dir.path(), config.clone(), None, SnapshotPolicy::default())
        .unwrap()
        .expect("a snapshot of four commands");
    let (restored, _, _) = engine::snapshot::load(&taken.info.path, &config).unwrap();
    assert_eq!(restored.access(), ledger.access());
    assert_eq!(restored.access().aggregator(GAME).unwrap().credential, rsa);
    assert_eq!(
        restored.access().aggregator(SourceId(3)).unwrap().credential,
        AggregatorCredential::Hmac(Secret([7; 32]))
    );
    assert_eq!(restored.access().aggregator(SourceId(4)).unwrap().credential, hash_key);
}

fn set_credential(target: OperatorId, by: OperatorId) -> Command {
    Command::Access(access::Command::SetOperatorCredential {
        target,
        password_hash: engine::PasswordHash::new("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g").unwrap(),
        totp_secret: Secret([3; 32]),
        operator: by,
    })
}

/// The same with the TOTP secret sealed (command tag 77): the ledger treats
/// it alike and never opens it.
fn set_sealed_credential(target: OperatorId, by: OperatorId) -> Command {
    let sealed = players::SealedProfile::new(engine::KeyId([0; 16]), 2, [5; 12], &[6; 48]).unwrap();
    Command::Access(access::Command::SetOperatorSealedCredential {
        target,
        password_hash: engine::PasswordHash::new("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g").unwrap(),
        totp_secret: sealed,
        operator: by,
    })
}

#[test]
fn sealed_credentials_are_checked_like_clear_ones_and_round_trip_through_the_codec() {
    let mut h = Harness::set_up();
    let before = h.ledger.access().clone();
    let command = set_sealed_credential(SUPPORT, ADMIN);
    let bytes = engine::codec::to_bytes(&command);
    assert_eq!(bytes[..2], 77_u16.to_le_bytes());
    assert_eq!(engine::codec::from_bytes::<Command>(&bytes).unwrap(), command);
    assert_eq!(h.apply(ADMIN_SOURCE, "sealed-1", command), Outcome::Accepted);
    assert_eq!(
        h.apply(SourceId(3), "sealed-2", set_sealed_credential(SUPPORT, SUPPORT)),
        Outcome::Accepted
    );
    assert_eq!(
        h.apply(SourceId(3), "sealed-3", set_sealed_credential(ADMIN, SUPPORT)),
        Outcome::Rejected(Rejection::NotPermitted)
    );
    assert_eq!(
        h.apply(ADMIN_SOURCE, "sealed-4", set_sealed_credential(OperatorId(9), ADMIN)),
        Outcome::Rejected(Rejection::UnknownOperator)
    );
    assert_eq!(h.ledger.access(), &before, "the ledger keeps no credential");
    assert_eq!(h.replay().digest(), h.ledger.digest());
}

#[test]
fn credentials_are_set_by_an_admin_or_the_operator_themself_and_change_no_state() {
    let mut h = Harness::set_up();
    let before = h.ledger.access().clone();
    assert_eq!(
        h.apply(ADMIN_SOURCE, "cred-1", set_credential(SUPPORT, ADMIN)),
        Outcome::Accepted
    );
    assert_eq!(
        h.apply(SourceId(3), "cred-2", set_credential(SUPPORT, SUPPORT)),
        Outcome::Accepted
    );
    assert_eq!(
        h.apply(ADMIN_SOURCE, "cred-3", set_credential(ADMIN, ADMIN)),
        Outcome::Accepted
    );
    let cases = [
        // Only an admin sets another operator's credential.
        (set_credential(ADMIN, SUPPORT), Rejection::NotPermitted),
        (set_credential(SUPPORT, OperatorId::SYSTEM), Rejection::UnknownOperator),
        (set_credential(SUPPORT, OperatorId(9)), Rejection::UnknownOperator),
        (set_credential(OperatorId(9), ADMIN), Rejection::UnknownOperator),
    ];
    for (n, (command, rejection)) in cases.into_iter().enumerate() {
        let outcome = h.apply(SourceId(3), &format!("bad-cred-{n}"), command);
        assert_eq!(outcome, Outcome::Rejected(rejection), "case {n}");
    }
    // A disabled operator sets not even their own.
    assert!(h.apply(ADMIN_SOURCE, "dis-1", disable(SUPPORT, ADMIN)).is_ok());
    let disabled = h.apply(SourceId(3), "cred-4", set_credential(SUPPORT, SUPPORT));
    assert_eq!(disabled, Outcome::Rejected(Rejection::NotPermitted));
    // The ledger keeps no credential: only the role changed since.
    let mut expected = before;
    expected.follow(
        &h.config,
        h.log.iter().rev().nth(1).unwrap(),
        &Outcome::OperatorChanged {
            role_before: Role::Support,
            seq: h.seq - 1,
        },
    );
    assert_eq!(h.ledger.access(), &expected);
    assert_eq!(h.replay().digest(), h.ledger.digest());
}
