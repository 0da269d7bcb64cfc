//! Unit-style tests of every command and of every rejection the ledger can
//! produce, one scenario per test, driven through a small hermetic harness.
//!
//! The [`Harness`] stamps strictly increasing sequence numbers and a time it
//! controls, keeps the envelopes it applied (for replay) and checks the
//! conservation law after every command and again when a scenario ends.
//! Every assertion compares concrete values: exact outcomes (receipts with
//! their deltas and balances, rejections with their fields), balances and
//! money flows.

use engine_core::command::{
    AccountStatus, Bet, BonusGrant, Command, Envelope, JurisdictionRules, KycLevel, LimitKind, LimitMetric,
    LimitPeriod, Request, RoundRef, TxRef, Win, WinKind,
};
use engine_core::outcome::{BlockReason, Capacity, PaymentState, TxState, TxSummary};
use engine_core::{
    Amount, Balances, Config, Currency, ExtId, Flows, GameCode, Jurisdiction, Ledger, OperatorId, Outcome, PlayerId,
    Reason, Receipt, Rejection, RoundId, SourceId,
};

const HOUR: u64 = 3_600_000;
const DAY: u64 = 24 * HOUR;
/// Start of every scenario (400 s into an hour, about 15 h into a day).
const T0: u64 = 1_750_000_000_000;
const EUR: Currency = Currency::EUR;
const USD: Currency = Currency::USD;
/// The game aggregator.
const GAME: SourceId = SourceId(1);
/// The payment provider.
const PSP: SourceId = SourceId(2);
/// The operator back office.
const OPS: SourceId = SourceId(3);
/// A player id no scenario registers.
const NOBODY: PlayerId = PlayerId(99);

// ---------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------

/// A ledger with a sequencer stand-in: increasing seq, controllable time.
struct Harness {
    ledger: Ledger,
    config: Config,
    seq: u64,
    now: u64,
    ids: u64,
    log: Vec<Envelope>,
}

impl Harness {
    fn new() -> Harness {
        Harness::with(Config::default())
    }

    fn with(config: Config) -> Harness {
        Harness {
            ledger: Ledger::new(config.clone()),
            config,
            seq: 0,
            now: T0,
            ids: 0,
            log: Vec::new(),
        }
    }

    /// Applies `command` from `source` under request id `id`.
    fn apply(&mut self, source: SourceId, id: &str, command: Command) -> Outcome {
        self.seq += 1;
        let request = Request {
            source,
            id: ext(id),
            command,
        };
        let envelope = Envelope {
            seq: self.seq,
            time_ms: self.now,
            request,
        };
        let outcome = self.ledger.apply(&envelope);
        self.log.push(envelope);
        let conservation = self.ledger.check_conservation();
        assert_eq!(conservation, Ok(()), "after seq {}", self.seq);
        outcome
    }

    /// Applies `command` under a fresh request id.
    fn run(&mut self, source: SourceId, command: Command) -> Outcome {
        let id = self.fresh_id("auto");
        self.apply(source, &id, command)
    }

    fn fresh_id(&mut self, prefix: &str) -> String {
        self.ids += 1;
        format!("{prefix}-{}", self.ids)
    }

    fn advance(&mut self, ms: u64) {
        self.now += ms;
    }

    fn at(&mut self, time_ms: u64) {
        assert!(time_ms >= self.now, "time never goes back");
        self.now = time_ms;
    }

    /// Registers a EUR player in Malta.
    fn register(&mut self) -> PlayerId {
        self.register_in(EUR, "MT")
    }

    fn register_in(&mut self, currency: Currency, jurisdiction: &str) -> PlayerId {
        match self.run(OPS, register_cmd(currency, jurisdiction)) {
            Outcome::Registered { player } => player,
            other => panic!("registration refused: {other:?}"),
        }
    }

    /// Deposits `minor` EUR and confirms it; returns the deposit's id (PSP).
    fn fund(&mut self, player: PlayerId, minor: i64) -> String {
        let id = self.fresh_id("dep");
        let before = self.balances(player);
        let initiated = self.apply(PSP, &id, deposit_cmd(player, minor));
        check(initiated, self.moved(0, 0, before));
        let confirmed = self.run(PSP, confirm_cmd(&id));
        let after = Balances {
            cash: amt(before.cash.minor() + minor),
            ..before
        };
        check(confirmed, self.moved(minor, 0, after));
        id
    }

    /// A bet of `minor` EUR on round `round` (game "slots"), from GAME.
    fn bet(&mut self, id: &str, player: PlayerId, minor: i64, round: &str) -> Outcome {
        self.apply(GAME, id, bet_cmd(player, minor, round))
    }

    /// A regular win of `minor` EUR on round `round`, from GAME.
    fn win(&mut self, player: PlayerId, minor: i64, round: &str) -> Outcome {
        self.run(GAME, win_cmd(player, minor, round, WinKind::Regular))
    }

    /// Rolls back GAME's bet `bet`.
    fn rollback(&mut self, player: PlayerId, bet: &str) -> Outcome {
        self.run(GAME, rollback_cmd(player, bet))
    }

    fn grant(&mut self, grant: BonusGrant) -> Outcome {
        self.run(OPS, Command::BonusGrant(grant))
    }

    fn balances(&self, player: PlayerId) -> Balances {
        self.ledger.balances(player, EUR).expect("EUR wallet")
    }

    fn flows(&self) -> Flows {
        self.ledger.flows(EUR)
    }

    /// Every wallet of every player and the flows of every currency used.
    fn money(&self) -> (Vec<Vec<Balances>>, Vec<(Currency, Flows)>) {
        let players = (1..=self.ledger.players_len() as u64)
            .map(|id| self.ledger.player_info(PlayerId(id)).unwrap().wallets)
            .collect();
        let flows = Currency::ALL
            .iter()
            .map(|&c| (c, self.ledger.flows(c)))
            .filter(|(_, flows)| *flows != Flows::default())
            .collect();
        (players, flows)
    }

    /// The receipt the command applied last should have produced.
    fn moved(&self, cash_delta: i64, bonus_delta: i64, after: Balances) -> Outcome {
        Outcome::Moved(Receipt {
            seq: self.seq,
            cash_delta: amt(cash_delta),
            bonus_delta: amt(bonus_delta),
            balances: after,
        })
    }

    fn summary(&self, source: SourceId, id: &str) -> Option<TxSummary> {
        self.ledger.transaction(&tx(source, id))
    }

    fn state(&self, source: SourceId, id: &str) -> Option<TxState> {
        self.summary(source, id).map(|s| s.state)
    }

    /// A fresh ledger fed every envelope this one saw.
    fn replay(&self) -> Ledger {
        let mut ledger = Ledger::new(self.config.clone());
        for envelope in &self.log {
            ledger.apply(envelope);
        }
        ledger
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            assert_eq!(self.ledger.check_conservation(), Ok(()), "end of scenario");
        }
    }
}

#[track_caller]
fn check(actual: Outcome, expected: Outcome) {
    assert_eq!(actual, expected);
}

#[track_caller]
fn check_rejected(actual: Outcome, rejection: Rejection) {
    assert_eq!(actual, Outcome::Rejected(rejection));
}

// ---------------------------------------------------------------------------
// Builders
// ---------------------------------------------------------------------------

fn ext(id: &str) -> ExtId {
    ExtId::new(id).expect("valid id")
}

fn tx(source: SourceId, id: &str) -> TxRef {
    TxRef { source, id: ext(id) }
}

fn amt(minor: i64) -> Amount {
    Amount::from_minor(minor)
}

fn game(code: &str) -> GameCode {
    GameCode::new(code).expect("valid game")
}

fn round(id: &str) -> RoundRef {
    round_of(id, "slots")
}

fn round_of(id: &str, code: &str) -> RoundRef {
    RoundRef {
        id: RoundId::new(id).expect("valid round"),
        game: game(code),
    }
}

/// EUR balances: cash, bonus, reserved, loyalty points.
fn bal(cash: i64, bonus: i64, reserved: i64, points: u64) -> Balances {
    bal_in(EUR, cash, bonus, reserved, points)
}

fn bal_in(currency: Currency, cash: i64, bonus: i64, reserved: i64, points: u64) -> Balances {
    Balances {
        currency,
        cash: amt(cash),
        bonus: amt(bonus),
        reserved: amt(reserved),
        loyalty_points: points,
    }
}

fn register_cmd(currency: Currency, jurisdiction: &str) -> Command {
    Command::RegisterPlayer {
        currency,
        jurisdiction: Jurisdiction::new(jurisdiction).expect("valid jurisdiction"),
    }
}

fn rules_cmd(jurisdiction: &str, rules: JurisdictionRules) -> Command {
    Command::SetJurisdictionRules {
        jurisdiction: Jurisdiction::new(jurisdiction).expect("valid jurisdiction"),
        rules,
    }
}

fn status_cmd(player: PlayerId, status: AccountStatus) -> Command {
    Command::SetAccountStatus {
        player,
        status,
        operator: OperatorId(7),
    }
}

fn kyc_cmd(player: PlayerId, level: KycLevel) -> Command {
    Command::SetKyc { player, level }
}

fn limit(metric: LimitMetric, period: LimitPeriod) -> LimitKind {
    LimitKind { metric, period }
}

fn limit_cmd(player: PlayerId, kind: LimitKind, minor: Option<i64>) -> Command {
    Command::SetLimit {
        player,
        currency: EUR,
        limit: kind,
        amount: minor.map(amt),
    }
}

fn deposit_cmd(player: PlayerId, minor: i64) -> Command {
    Command::DepositInitiate {
        player,
        currency: EUR,
        amount: amt(minor),
    }
}

fn confirm_cmd(id: &str) -> Command {
    Command::DepositConfirm { deposit: tx(PSP, id) }
}

fn fail_cmd(id: &str) -> Command {
    Command::DepositFail { deposit: tx(PSP, id) }
}

fn withdraw_cmd(player: PlayerId, minor: i64) -> Command {
    Command::WithdrawalRequest {
        player,
        currency: EUR,
        amount: amt(minor),
    }
}

fn approve_cmd(id: &str) -> Command {
    Command::WithdrawalApprove {
        withdrawal: tx(PSP, id),
    }
}

fn reject_cmd(id: &str) -> Command {
    Command::WithdrawalReject {
        withdrawal: tx(PSP, id),
    }
}

fn complete_cmd(id: &str) -> Command {
    Command::WithdrawalComplete {
        withdrawal: tx(PSP, id),
    }
}

fn bet_cmd(player: PlayerId, minor: i64, round_id: &str) -> Command {
    bet_on(player, minor, round(round_id), false)
}

fn bet_on(player: PlayerId, minor: i64, round: RoundRef, close_round: bool) -> Command {
    Command::Bet(Bet {
        player,
        currency: EUR,
        amount: amt(minor),
        round,
        close_round,
    })
}

fn win_cmd(player: PlayerId, minor: i64, round_id: &str, kind: WinKind) -> Command {
    win_on(player, minor, round(round_id), kind, false)
}

fn win_on(player: PlayerId, minor: i64, round: RoundRef, kind: WinKind, close: bool) -> Command {
    Command::Win(Win {
        player,
        currency: EUR,
        amount: amt(minor),
        round,
        kind,
        close_round: close,
        bet: None,
    })
}

fn rollback_cmd(player: PlayerId, bet: &str) -> Command {
    Command::Rollback { player, bet: ext(bet) }
}

fn end_round_cmd(player: PlayerId, round_id: &str) -> Command {
    Command::EndRound {
        player,
        round: round(round_id),
    }
}

fn adjust_cmd(player: PlayerId, currency: Currency, minor: i64) -> Command {
    Command::Adjust {
        player,
        currency,
        amount: amt(minor),
        reason: Reason::new("goodwill correction").expect("valid reason"),
        operator: OperatorId(7),
    }
}

/// A EUR bonus: 100 % contribution everywhere, expiring after 30 days.
fn grant(player: PlayerId, minor: i64, wagering: i64, cap: i64) -> BonusGrant {
    BonusGrant {
        player,
        currency: EUR,
        amount: amt(minor),
        wagering: amt(wagering),
        contributions: Vec::new(),
        default_contribution_pct: 100,
        conversion_cap: amt(cap),
        expires_at_ms: T0 + 30 * DAY,
    }
}

fn forfeit_cmd(player: PlayerId) -> Command {
    Command::BonusForfeit { player, currency: EUR }
}

fn expire_cmd(player: PlayerId) -> Command {
    Command::BonusExpire { player, currency: EUR }
}

fn blocked(reason: BlockReason) -> Rejection {
    Rejection::PlayerBlocked(reason)
}

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

#[derive(Clone, Copy, Debug)]
enum Exclusion {
    SelfExclude,
    TimeOut,
}

impl Exclusion {
    fn command(self, player: PlayerId, until_ms: u64) -> Command {
        match self {
            Exclusion::SelfExclude => Command::SelfExclude { player, until_ms },
            Exclusion::TimeOut => Command::TimeOut { player, until_ms },
        }
    }

    fn reason(self, until_ms: u64) -> Rejection {
        blocked(match self {
            Exclusion::SelfExclude => BlockReason::SelfExcluded { until_ms },
            Exclusion::TimeOut => BlockReason::TimedOut { until_ms },
        })
    }

    fn until(self, h: &Harness, player: PlayerId) -> u64 {
        let info = h.ledger.player_info(player).unwrap();
        match self {
            Exclusion::SelfExclude => info.self_excluded_until_ms,
            Exclusion::TimeOut => info.timed_out_until_ms,
        }
    }
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
// Owed money lands whatever blocks the player
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, Debug)]
enum Blocker {
    Suspend,
    Close,
    SelfExclude,
    TimeOut,
    LossLimit,
    WagerLimit,
}

/// Applies the blocker; returns what a new bet is refused with.
fn impose(h: &mut Harness, p: PlayerId, blocker: Blocker) -> Rejection {
    let until = h.now + DAY;
    let (command, refusal) = match blocker {
        Blocker::Suspend => (status_cmd(p, AccountStatus::Suspended), blocked(BlockReason::Suspended)),
        Blocker::Close => (status_cmd(p, AccountStatus::Closed), blocked(BlockReason::Closed)),
        Blocker::SelfExclude => (
            Exclusion::SelfExclude.command(p, until),
            Exclusion::SelfExclude.reason(until),
        ),
        Blocker::TimeOut => (Exclusion::TimeOut.command(p, until), Exclusion::TimeOut.reason(until)),
        Blocker::LossLimit => zero_limit(p, LimitMetric::Loss),
        Blocker::WagerLimit => zero_limit(p, LimitMetric::Wager),
    };
    check(h.run(OPS, command), Outcome::Accepted);
    refusal
}

fn zero_limit(p: PlayerId, metric: LimitMetric) -> (Command, Rejection) {
    let kind = limit(metric, LimitPeriod::Day);
    let refusal = Rejection::LimitExceeded {
        limit: kind,
        remaining: amt(0),
    };
    (limit_cmd(p, kind, Some(0)), refusal)
}

#[test]
fn wins_rollbacks_and_confirmations_land_despite_blocks_and_limits() {
    use Blocker::*;
    for blocker in [Suspend, Close, SelfExclude, TimeOut, LossLimit, WagerLimit] {
        let mut h = Harness::new();
        let p = h.register();
        h.fund(p, 1000);
        let late = h.fresh_id("late");
        check(
            h.apply(PSP, &late, deposit_cmd(p, 250)),
            h.moved(0, 0, bal(1000, 0, 0, 0)),
        );
        check(h.bet("b1", p, 300, "r1"), h.moved(-300, 0, bal(700, 0, 0, 3)));
        check(h.bet("b2", p, 200, "r2"), h.moved(-200, 0, bal(500, 0, 0, 5)));
        let refusal = impose(&mut h, p, blocker);
        check_rejected(h.bet("b3", p, 100, "r3"), refusal);
        let won = h.win(p, 450, "r1");
        assert_eq!(won, h.moved(450, 0, bal(950, 0, 0, 5)), "{blocker:?}");
        let refunded = h.rollback(p, "b2");
        assert_eq!(refunded, h.moved(200, 0, bal(1150, 0, 0, 3)), "{blocker:?}");
        let confirmed = h.run(PSP, confirm_cmd(&late));
        assert_eq!(confirmed, h.moved(250, 0, bal(1400, 0, 0, 3)), "{blocker:?}");
        let jackpot = h.run(GAME, win_cmd(p, 50, "none", WinKind::Jackpot));
        assert_eq!(jackpot, h.moved(50, 0, bal(1450, 0, 0, 3)), "{blocker:?}");
        check_rejected(h.bet("b4", p, 100, "r3"), refusal);
    }
}

// ---------------------------------------------------------------------------
// Deposits
// ---------------------------------------------------------------------------

#[test]
fn deposit_confirm_credits_cash_once() {
    let mut h = Harness::new();
    let p = h.register();
    check(h.apply(PSP, "d1", deposit_cmd(p, 700)), h.moved(0, 0, bal(0, 0, 0, 0)));
    let initiated = Some(TxState::Payment(PaymentState::Initiated));
    assert_eq!(h.state(PSP, "d1"), initiated);
    assert_eq!(h.flows(), Flows::default());
    check(h.run(PSP, confirm_cmd("d1")), h.moved(700, 0, bal(700, 0, 0, 0)));
    let confirmed = PaymentState::Confirmed;
    assert_eq!(h.state(PSP, "d1"), Some(TxState::Payment(confirmed)));
    let wrong = Rejection::WrongPaymentState { state: confirmed };
    check_rejected(h.run(PSP, confirm_cmd("d1")), wrong);
    check_rejected(h.run(PSP, fail_cmd("d1")), wrong);
    assert_eq!(h.balances(p), bal(700, 0, 0, 0));
    let flows = Flows {
        deposits: 700,
        ..Flows::default()
    };
    assert_eq!(h.flows(), flows);
}

#[test]
fn deposit_fail_credits_nothing() {
    let mut h = Harness::new();
    let p = h.register();
    check(h.apply(PSP, "d1", deposit_cmd(p, 700)), h.moved(0, 0, bal(0, 0, 0, 0)));
    check(h.run(PSP, fail_cmd("d1")), h.moved(0, 0, bal(0, 0, 0, 0)));
    let failed = PaymentState::Failed;
    assert_eq!(h.state(PSP, "d1"), Some(TxState::Payment(failed)));
    let wrong = Rejection::WrongPaymentState { state: failed };
    check_rejected(h.run(PSP, confirm_cmd("d1")), wrong);
    check_rejected(h.run(PSP, fail_cmd("d1")), wrong);
    assert_eq!(h.balances(p), bal(0, 0, 0, 0));
    assert_eq!(h.flows(), Flows::default());
}

/// A settlement command (`confirm`, `fail`, `approve`, `reject`, `complete`)
/// referring to request `id` of `source`.
fn settle_cmd(action: &str, source: SourceId, id: &str) -> Command {
    let (deposit, withdrawal) = (tx(source, id), tx(source, id));
    match action {
        "confirm" => Command::DepositConfirm { deposit },
        "fail" => Command::DepositFail { deposit },
        "approve" => Command::WithdrawalApprove { withdrawal },
        "reject" => Command::WithdrawalReject { withdrawal },
        "complete" => Command::WithdrawalComplete { withdrawal },
        other => panic!("no settlement {other}"),
    }
}

#[test]
fn payment_references_must_name_a_payment_of_the_right_kind() {
    let mut h = Harness::new();
    let p = h.register();
    h.fund(p, 1000);
    h.apply(PSP, "d1", deposit_cmd(p, 100));
    h.apply(PSP, "w1", withdraw_cmd(p, 100));
    h.apply(PSP, "adj", adjust_cmd(p, EUR, 5));
    let money = h.money();
    let (unknown, wrong) = (Rejection::UnknownTransaction, Rejection::WrongTransactionKind);
    let cases = [
        ("confirm", PSP, "nope", unknown),
        ("fail", PSP, "nope", unknown),
        ("confirm", GAME, "d1", unknown), // ids are scoped by source
        ("confirm", PSP, "w1", wrong),
        ("fail", PSP, "adj", wrong),
        ("approve", PSP, "d1", wrong),
        ("reject", PSP, "d1", wrong),
        ("complete", PSP, "nope", unknown),
        ("complete", PSP, "d1", wrong),
        ("reject", PSP, "adj", wrong),
    ];
    for (action, source, id, rejection) in cases {
        let outcome = h.run(PSP, settle_cmd(action, source, id));
        assert_eq!(outcome, Outcome::Rejected(rejection), "{action} {id}");
    }
    assert_eq!(h.money(), money);
}

#[test]
fn open_payments_are_capped_by_payments_open_max() {
    let mut h = Harness::with(Config {
        payments_open_max: 2,
        ..Config::default()
    });
    let p = h.register();
    h.fund(p, 1000);
    h.apply(PSP, "d1", deposit_cmd(p, 100));
    h.apply(PSP, "w1", withdraw_cmd(p, 100));
    let full = Rejection::CapacityReached(Capacity::OpenPayments);
    check_rejected(h.run(PSP, deposit_cmd(p, 100)), full);
    check_rejected(h.run(PSP, withdraw_cmd(p, 100)), full);
    check(h.run(PSP, confirm_cmd("d1")), h.moved(100, 0, bal(1000, 0, 100, 0)));
    let outcome = h.run(PSP, withdraw_cmd(p, 100));
    check(outcome, h.moved(-100, 0, bal(900, 0, 200, 0)));
}

// ---------------------------------------------------------------------------
// Deposit limits
// ---------------------------------------------------------------------------

#[test]
fn deposit_limits_count_initiated_deposits_over_their_window() {
    let cases = [
        (LimitPeriod::Day, 23 * HOUR, 26 * HOUR),
        (LimitPeriod::Week, 6 * DAY, 9 * DAY),
        (LimitPeriod::Month, 29 * DAY, 32 * DAY),
    ];
    for (period, inside, outside) in cases {
        let mut h = Harness::new();
        let p = h.register();
        let kind = limit(LimitMetric::Deposit, period);
        check(h.run(OPS, limit_cmd(p, kind, Some(1000))), Outcome::Accepted);
        check(h.run(PSP, deposit_cmd(p, 600)), h.moved(0, 0, bal(0, 0, 0, 0)));
        let hit = Rejection::LimitExceeded {
            limit: kind,
            remaining: amt(400),
        };
        check_rejected(h.run(PSP, deposit_cmd(p, 500)), hit);
        h.at(T0 + inside);
        check_rejected(h.run(PSP, deposit_cmd(p, 500)), hit);
        h.at(T0 + outside);
        let outcome = h.run(PSP, deposit_cmd(p, 500));
        assert_eq!(outcome, h.moved(0, 0, bal(0, 0, 0, 0)), "{period:?}");
        assert_eq!(h.ledger.limits_in_force(p, EUR, h.now), vec![(kind, amt(1000))]);
    }
}

#[test]
fn deposit_limit_decrease_is_immediate_and_increase_waits_the_cooling_off() {
    let mut h = Harness::new();
    let p = h.register();
    let day = limit(LimitMetric::Deposit, LimitPeriod::Day);
    check(h.run(OPS, limit_cmd(p, day, Some(1000))), Outcome::Accepted);
    check(h.run(OPS, limit_cmd(p, day, Some(500))), Outcome::Accepted);
    let hit = Rejection::LimitExceeded {
        limit: day,
        remaining: amt(500),
    };
    check_rejected(h.run(PSP, deposit_cmd(p, 600)), hit);
    let effective_at_ms = h.now + DAY;
    let scheduled = Outcome::Scheduled { effective_at_ms };
    check(h.run(OPS, limit_cmd(p, day, Some(2000))), scheduled);
    check_rejected(h.run(PSP, deposit_cmd(p, 600)), hit);
    assert_eq!(h.ledger.limits_in_force(p, EUR, h.now), vec![(day, amt(500))]);
    h.at(effective_at_ms - 1);
    check_rejected(h.run(PSP, deposit_cmd(p, 600)), hit);
    h.at(effective_at_ms);
    check(h.run(PSP, deposit_cmd(p, 600)), h.moved(0, 0, bal(0, 0, 0, 0)));
    assert_eq!(h.ledger.limits_in_force(p, EUR, h.now), vec![(day, amt(2000))]);
    // Removing a limit is a loosening too.
    let removal = Outcome::Scheduled {
        effective_at_ms: h.now + DAY,
    };
    check(h.run(OPS, limit_cmd(p, day, None)), removal);
    assert_eq!(h.ledger.limits_in_force(p, EUR, h.now), vec![(day, amt(2000))]);
    h.advance(DAY);
    assert_eq!(h.ledger.limits_in_force(p, EUR, h.now), Vec::new());
}

#[test]
fn a_failed_deposit_frees_limit_room_and_a_confirmed_one_keeps_counting() {
    let mut h = Harness::new();
    let p = h.register();
    let day = limit(LimitMetric::Deposit, LimitPeriod::Day);
    check(h.run(OPS, limit_cmd(p, day, Some(1000))), Outcome::Accepted);
    h.apply(PSP, "d1", deposit_cmd(p, 800));
    let hit = |remaining| Rejection::LimitExceeded {
        limit: day,
        remaining: amt(remaining),
    };
    check_rejected(h.run(PSP, deposit_cmd(p, 300)), hit(200));
    h.advance(HOUR);
    check(h.run(PSP, fail_cmd("d1")), h.moved(0, 0, bal(0, 0, 0, 0)));
    check(h.apply(PSP, "d2", deposit_cmd(p, 300)), h.moved(0, 0, bal(0, 0, 0, 0)));
    check(h.run(PSP, confirm_cmd("d2")), h.moved(300, 0, bal(300, 0, 0, 0)));
    check_rejected(h.run(PSP, deposit_cmd(p, 800)), hit(700));
}

#[test]
fn set_limit_validates_its_amount_player_and_wallet() {
    let mut h = Harness::new();
    let p = h.register();
    let day = limit(LimitMetric::Wager, LimitPeriod::Day);
    check_rejected(h.run(OPS, limit_cmd(p, day, Some(-1))), Rejection::InvalidAmount);
    let usd = Command::SetLimit {
        player: p,
        currency: USD,
        limit: day,
        amount: Some(amt(10)),
    };
    check_rejected(h.run(OPS, usd), Rejection::CurrencyMismatch { currency: USD });
    assert_eq!(h.ledger.limits_in_force(p, EUR, h.now), Vec::new());
    check(h.run(OPS, limit_cmd(p, day, Some(0))), Outcome::Accepted);
    assert_eq!(h.ledger.limits_in_force(p, EUR, h.now), vec![(day, amt(0))]);
}

// ---------------------------------------------------------------------------
// Withdrawals
// ---------------------------------------------------------------------------

#[test]
fn withdrawal_reserves_then_leaves_the_ledger_on_completion() {
    let mut h = Harness::new();
    let p = h.register();
    h.fund(p, 1000);
    check(
        h.apply(PSP, "w1", withdraw_cmd(p, 400)),
        h.moved(-400, 0, bal(600, 0, 400, 0)),
    );
    assert_eq!(h.state(PSP, "w1"), Some(TxState::Payment(PaymentState::Requested)));
    check(h.run(PSP, approve_cmd("w1")), h.moved(0, 0, bal(600, 0, 400, 0)));
    assert_eq!(h.state(PSP, "w1"), Some(TxState::Payment(PaymentState::Approved)));
    let approved = Rejection::WrongPaymentState {
        state: PaymentState::Approved,
    };
    check_rejected(h.run(PSP, approve_cmd("w1")), approved);
    check(h.run(PSP, complete_cmd("w1")), h.moved(0, 0, bal(600, 0, 0, 0)));
    let completed = PaymentState::Completed;
    assert_eq!(h.state(PSP, "w1"), Some(TxState::Payment(completed)));
    for again in [complete_cmd("w1"), reject_cmd("w1"), approve_cmd("w1")] {
        check_rejected(h.run(PSP, again), Rejection::WrongPaymentState { state: completed });
    }
    let flows = Flows {
        deposits: 1000,
        withdrawals: 400,
        ..Flows::default()
    };
    assert_eq!(h.flows(), flows);
    assert_eq!(h.balances(p), bal(600, 0, 0, 0));
}

#[test]
fn withdrawal_reject_releases_the_reserve_before_or_after_approval() {
    for approve_first in [false, true] {
        let mut h = Harness::new();
        let p = h.register();
        h.fund(p, 1000);
        check(
            h.apply(PSP, "w1", withdraw_cmd(p, 400)),
            h.moved(-400, 0, bal(600, 0, 400, 0)),
        );
        if approve_first {
            check(h.run(PSP, approve_cmd("w1")), h.moved(0, 0, bal(600, 0, 400, 0)));
        }
        check(h.run(PSP, reject_cmd("w1")), h.moved(400, 0, bal(1000, 0, 0, 0)));
        let rejected = PaymentState::Rejected;
        assert_eq!(h.state(PSP, "w1"), Some(TxState::Payment(rejected)));
        let wrong = Rejection::WrongPaymentState { state: rejected };
        check_rejected(h.run(PSP, complete_cmd("w1")), wrong);
        let flows = Flows {
            deposits: 1000,
            ..Flows::default()
        };
        assert_eq!(h.flows(), flows);
    }
}

#[test]
fn withdrawal_complete_without_approval_is_wrong_payment_state() {
    let mut h = Harness::new();
    let p = h.register();
    h.fund(p, 1000);
    h.apply(PSP, "w1", withdraw_cmd(p, 400));
    let requested = Rejection::WrongPaymentState {
        state: PaymentState::Requested,
    };
    check_rejected(h.run(PSP, complete_cmd("w1")), requested);
    assert_eq!(h.balances(p), bal(600, 0, 400, 0));
    assert_eq!(h.flows().withdrawals, 0);
}

#[test]
fn withdrawals_spend_only_unreserved_cash() {
    let mut h = Harness::new();
    let p = h.register();
    h.fund(p, 300);
    check(
        h.grant(grant(p, 500, 10_000, 500)),
        h.moved(0, 500, bal(300, 500, 0, 0)),
    );
    let short = |available| Rejection::InsufficientFunds {
        available: amt(available),
    };
    check_rejected(h.run(PSP, withdraw_cmd(p, 301)), short(300));
    check(h.run(PSP, withdraw_cmd(p, 300)), h.moved(-300, 0, bal(0, 500, 300, 0)));
    check_rejected(h.run(PSP, withdraw_cmd(p, 1)), short(0));
    for minor in [0, -5] {
        check_rejected(h.run(PSP, withdraw_cmd(p, minor)), Rejection::InvalidAmount);
    }
    assert_eq!(h.balances(p), bal(0, 500, 300, 0));
}

// ---------------------------------------------------------------------------
// Bets
// ---------------------------------------------------------------------------

#[test]
fn bets_spend_cash_first_then_bonus() {
    let mut h = Harness::new();
    let p = h.register();
    h.fund(p, 300);
    check(
        h.grant(grant(p, 500, 1_000_000, 500)),
        h.moved(0, 500, bal(300, 500, 0, 0)),
    );
    check(h.bet("b1", p, 200, "r1"), h.moved(-200, 0, bal(100, 500, 0, 2)));
    check(h.bet("b2", p, 300, "r1"), h.moved(-100, -200, bal(0, 300, 0, 3)));
    let short = Rejection::InsufficientFunds { available: amt(300) };
    check_rejected(h.bet("b3", p, 301, "r1"), short);
    let flows = Flows {
        deposits: 300,
        bets: 500,
        bonus_granted: 500,
        ..Flows::default()
    };
    assert_eq!(h.flows(), flows);
}

#[test]
fn bets_are_refused_for_bad_amounts_players_currencies_and_funds() {
    let mut h = Harness::new();
    let p = h.register();
    h.fund(p, 1000);
    let money = h.money();
    let usd = Command::Bet(Bet {
        currency: USD,
        ..bet_of(p, 100)
    });
    let cases = [
        ("zero", bet_cmd(p, 0, "r1"), Rejection::InvalidAmount),
        ("negative", bet_cmd(p, -5, "r1"), Rejection::InvalidAmount),
        ("currency", usd, Rejection::CurrencyMismatch { currency: USD }),
        ("unknown", bet_cmd(NOBODY, 100, "r1"), Rejection::UnknownPlayer),
        ("player 0", bet_cmd(PlayerId(0), 100, "r1"), Rejection::UnknownPlayer),
        (
            "too much",
            bet_cmd(p, 1001, "r1"),
            Rejection::InsufficientFunds { available: amt(1000) },
        ),
    ];
    for (name, command, rejection) in cases {
        assert_eq!(h.run(GAME, command), Outcome::Rejected(rejection), "{name}");
    }
    assert_eq!(h.money(), money);
    assert_eq!(h.ledger.open_rounds_len(), 0);
}

fn bet_of(player: PlayerId, minor: i64) -> Bet {
    match bet_cmd(player, minor, "r1") {
        Command::Bet(bet) => bet,
        _ => unreachable!(),
    }
}

#[test]
fn wager_limit_counts_stakes_and_a_rollback_gives_the_room_back() {
    let mut h = Harness::new();
    let p = h.register();
    h.fund(p, 3000);
    let day = limit(LimitMetric::Wager, LimitPeriod::Day);
    check(h.run(OPS, limit_cmd(p, day, Some(1000))), Outcome::Accepted);
    check(h.bet("b1", p, 600, "r1"), h.moved(-600, 0, bal(2400, 0, 0, 6)));
    let hit = Rejection::LimitExceeded {
        limit: day,
        remaining: amt(400),
    };
    check_rejected(h.bet("b2", p, 500, "r1"), hit);
    // Wins do not give wager room back.
    check(h.win(p, 600, "r1"), h.moved(600, 0, bal(3000, 0, 0, 6)));
    check_rejected(h.bet("b3", p, 500, "r1"), hit);
    check(h.rollback(p, "b1"), h.moved(600, 0, bal(3600, 0, 0, 0)));
    check(h.bet("b4", p, 1000, "r1"), h.moved(-1000, 0, bal(2600, 0, 0, 10)));
}

#[test]
fn loss_limit_counts_stakes_minus_wins() {
    let mut h = Harness::new();
    let p = h.register();
    h.fund(p, 1000);
    let day = limit(LimitMetric::Loss, LimitPeriod::Day);
    check(h.run(OPS, limit_cmd(p, day, Some(500))), Outcome::Accepted);
    check(h.bet("b1", p, 400, "r1"), h.moved(-400, 0, bal(600, 0, 0, 4)));
    check(h.win(p, 300, "r1"), h.moved(300, 0, bal(900, 0, 0, 4)));
    let hit = Rejection::LimitExceeded {
        limit: day,
        remaining: amt(400),
    };
    check_rejected(h.bet("b2", p, 450, "r1"), hit);
    check(h.bet("b3", p, 400, "r1"), h.moved(-400, 0, bal(500, 0, 0, 8)));
    let spent = Rejection::LimitExceeded {
        limit: day,
        remaining: amt(0),
    };
    check_rejected(h.bet("b4", p, 1, "r1"), spent);
}

#[test]
fn the_first_limit_a_bet_would_break_is_named() {
    let mut h = Harness::new();
    let p = h.register();
    h.fund(p, 1000);
    let wager_week = limit(LimitMetric::Wager, LimitPeriod::Week);
    let loss_day = limit(LimitMetric::Loss, LimitPeriod::Day);
    check(h.run(OPS, limit_cmd(p, wager_week, Some(300))), Outcome::Accepted);
    check(h.run(OPS, limit_cmd(p, loss_day, Some(200))), Outcome::Accepted);
    let wager = Rejection::LimitExceeded {
        limit: wager_week,
        remaining: amt(300),
    };
    check_rejected(h.bet("b1", p, 301, "r1"), wager);
    let loss = Rejection::LimitExceeded {
        limit: loss_day,
        remaining: amt(200),
    };
    check_rejected(h.bet("b2", p, 250, "r1"), loss);
    check(h.bet("b3", p, 200, "r1"), h.moved(-200, 0, bal(800, 0, 0, 2)));
}

#[test]
fn a_round_belongs_to_the_player_who_opened_it() {
    let mut h = Harness::new();
    let (p1, p2) = (h.register(), h.register());
    h.fund(p1, 1000);
    h.fund(p2, 1000);
    check(h.bet("b1", p1, 100, "r1"), h.moved(-100, 0, bal(900, 0, 0, 1)));
    let money = h.money();
    let mismatch = Rejection::RoundPlayerMismatch;
    check_rejected(h.bet("b2", p2, 100, "r1"), mismatch);
    check_rejected(h.win(p2, 100, "r1"), mismatch);
    let jackpot = win_cmd(p2, 100, "r1", WinKind::Jackpot);
    check_rejected(h.run(GAME, jackpot), mismatch);
    check_rejected(h.run(GAME, end_round_cmd(p2, "r1")), mismatch);
    assert_eq!(h.money(), money);
    // The same round id in another game, or from another source, is another round.
    let other_game = bet_on(p2, 100, round_of("r1", "roulette"), false);
    check(h.run(GAME, other_game), h.moved(-100, 0, bal(900, 0, 0, 1)));
    let other_source = bet_cmd(p2, 100, "r1");
    check(h.run(SourceId(9), other_source), h.moved(-100, 0, bal(800, 0, 0, 2)));
    assert_eq!(h.ledger.open_rounds_len(), 3);
}

// ---------------------------------------------------------------------------
// Wins and rounds
// ---------------------------------------------------------------------------

#[test]
fn a_win_follows_the_cash_bonus_split_of_its_round() {
    let mut h = Harness::new();
    let p = h.register();
    h.fund(p, 100);
    h.grant(grant(p, 1000, 1_000_000, 1000));
    check(h.bet("b1", p, 300, "r1"), h.moved(-100, -200, bal(0, 800, 0, 1)));
    check(h.win(p, 600, "r1"), h.moved(200, 400, bal(200, 1200, 0, 1)));
    // A second win on the same round splits the same way (2/3 bonus).
    check(h.win(p, 31, "r1"), h.moved(11, 20, bal(211, 1220, 0, 1)));
    let flows = Flows {
        deposits: 100,
        bets: 300,
        wins: 631,
        bonus_granted: 1000,
        ..Flows::default()
    };
    assert_eq!(h.flows(), flows);
}

#[test]
fn only_jackpot_and_promotional_wins_may_come_without_a_round() {
    let cases = [
        (WinKind::Regular, false),
        (WinKind::Jackpot, true),
        (WinKind::Promotional, true),
    ];
    for (kind, credited) in cases {
        let mut h = Harness::new();
        let p = h.register();
        h.grant(grant(p, 500, 1_000_000, 500));
        let outcome = h.run(GAME, win_cmd(p, 700, "never-opened", kind));
        let expected = if credited {
            h.moved(700, 0, bal(700, 500, 0, 0))
        } else {
            Outcome::Rejected(Rejection::UnknownRound)
        };
        assert_eq!(outcome, expected, "{kind:?}");
        let wins = if credited { 700 } else { 0 };
        assert_eq!(h.flows().wins, wins, "{kind:?}");
    }
}

#[test]
fn a_zero_win_is_recorded_and_a_negative_one_refused() {
    let mut h = Harness::new();
    let p = h.register();
    h.fund(p, 1000);
    h.bet("b1", p, 100, "r1");
    check(h.win(p, 0, "r1"), h.moved(0, 0, bal(900, 0, 0, 1)));
    check_rejected(h.win(p, -1, "r1"), Rejection::InvalidAmount);
    let usd = Command::Win(Win {
        currency: USD,
        amount: amt(10),
        round: round("r1"),
        kind: WinKind::Regular,
        close_round: false,
        bet: None,
        player: p,
    });
    check_rejected(h.run(GAME, usd), Rejection::CurrencyMismatch { currency: USD });
    assert_eq!(h.flows().wins, 0);
}

#[derive(Clone, Copy, Debug)]
enum Closer {
    Bet,
    Win,
    EndRound,
}

fn close_round(h: &mut Harness, p: PlayerId, closer: Closer) {
    let command = match closer {
        Closer::Bet => bet_on(p, 100, round("r1"), true),
        Closer::Win => win_on(p, 100, round("r1"), WinKind::Regular, true),
        Closer::EndRound => end_round_cmd(p, "r1"),
    };
    let outcome = h.run(GAME, command);
    let expected = match closer {
        Closer::Bet => h.moved(-100, 0, bal(800, 0, 0, 2)),
        Closer::Win => h.moved(100, 0, bal(1000, 0, 0, 1)),
        Closer::EndRound => Outcome::Accepted,
    };
    assert_eq!(outcome, expected, "{closer:?}");
}

#[test]
fn a_closed_round_refuses_further_regular_wins() {
    for closer in [Closer::Bet, Closer::Win, Closer::EndRound] {
        let mut h = Harness::new();
        let p = h.register();
        h.fund(p, 1000);
        h.bet("b1", p, 100, "r1");
        assert_eq!(h.ledger.open_rounds_len(), 1);
        close_round(&mut h, p, closer);
        assert_eq!(h.ledger.open_rounds_len(), 0, "{closer:?}");
        let before = h.balances(p);
        check_rejected(h.win(p, 50, "r1"), Rejection::UnknownRound);
        check_rejected(h.run(GAME, end_round_cmd(p, "r1")), Rejection::UnknownRound);
        assert_eq!(h.balances(p), before);
        // A jackpot may still pay on it: all of it to cash.
        let jackpot = h.run(GAME, win_cmd(p, 10, "r1", WinKind::Jackpot));
        let after = Balances {
            cash: amt(before.cash.minor() + 10),
            ..before
        };
        check(jackpot, h.moved(10, 0, after));
    }
}

#[test]
fn end_round_needs_a_known_player_and_an_open_round() {
    let mut h = Harness::new();
    let p = h.register();
    h.fund(p, 1000);
    check_rejected(h.run(GAME, end_round_cmd(p, "r1")), Rejection::UnknownRound);
    h.bet("b1", p, 100, "r1");
    check_rejected(h.run(GAME, end_round_cmd(NOBODY, "r1")), Rejection::UnknownPlayer);
    check(h.run(GAME, end_round_cmd(p, "r1")), Outcome::Accepted);
    assert_eq!(h.ledger.open_rounds_len(), 0);
    // Betting on it again opens it again.
    check(h.bet("b2", p, 100, "r1"), h.moved(-100, 0, bal(800, 0, 0, 2)));
    check(h.win(p, 300, "r1"), h.moved(300, 0, bal(1100, 0, 0, 2)));
}

// ---------------------------------------------------------------------------
// Rollbacks
// ---------------------------------------------------------------------------

#[test]
fn a_rollback_refunds_the_split_once() {
    let mut h = Harness::new();
    let p = h.register();
    h.fund(p, 100);
    h.grant(grant(p, 1000, 1_000_000, 1000));
    check(h.bet("b1", p, 300, "r1"), h.moved(-100, -200, bal(0, 800, 0, 1)));
    check(h.rollback(p, "b1"), h.moved(100, 200, bal(100, 1000, 0, 0)));
    assert_eq!(h.state(GAME, "b1"), Some(TxState::RolledBack));
    check_rejected(h.rollback(p, "b1"), Rejection::AlreadyRolledBack);
    let flows = Flows {
        deposits: 100,
        bets: 300,
        rollbacks: 300,
        bonus_granted: 1000,
        ..Flows::default()
    };
    assert_eq!(h.flows(), flows);
    assert_eq!(h.balances(p), bal(100, 1000, 0, 0));
}

#[test]
fn a_rollback_before_its_bet_leaves_a_tombstone_that_refuses_the_bet() {
    let mut h = Harness::new();
    let p = h.register();
    h.fund(p, 1000);
    check_rejected(h.rollback(p, "b9"), Rejection::UnknownTransaction);
    let tombstone = h.summary(GAME, "b9").expect("tombstone remembered");
    assert_eq!(tombstone.state, TxState::Tombstone);
    assert_eq!(tombstone.outcome, Outcome::Rejected(Rejection::BetRolledBack));
    let money = h.money();
    check_rejected(h.bet("b9", p, 100, "r1"), Rejection::BetRolledBack);
    check_rejected(h.bet("b9", p, 100, "r1"), Rejection::BetRolledBack);
    check_rejected(h.rollback(p, "b9"), Rejection::UnknownTransaction);
    assert_eq!(h.money(), money);
    assert_eq!(h.ledger.open_rounds_len(), 0);
    // The id is taken: anything else under it conflicts.
    let win = win_cmd(p, 5, "r1", WinKind::Jackpot);
    check_rejected(h.apply(GAME, "b9", win), Rejection::Conflict);
}

/// A win that names the bet it pays.
fn win_paying(player: PlayerId, minor: i64, round_id: &str, bet: &str) -> Command {
    let Command::Win(win) = win_cmd(player, minor, round_id, WinKind::Regular) else {
        unreachable!("win_cmd makes a win")
    };
    Command::Win(Win {
        bet: Some(ext(bet)),
        ..win
    })
}

#[test]
fn a_win_naming_its_bet_pays_only_a_live_bet_of_its_player() {
    let mut h = Harness::new();
    let (p, other) = (h.register(), h.register());
    h.fund(p, 1000);
    h.fund(other, 1000);
    check(h.bet("b1", p, 100, "r1"), h.moved(-100, 0, bal(900, 0, 0, 1)));
    check(h.rollback(p, "b1"), h.moved(100, 0, bal(1000, 0, 0, 0)));
    check_rejected(h.rollback(p, "b-late"), Rejection::UnknownTransaction);
    let short = Rejection::InsufficientFunds { available: amt(1000) };
    check_rejected(h.bet("b-refused", p, 5000, "r1"), short);
    check(h.bet("b-other", other, 100, "r9"), h.moved(-100, 0, bal(900, 0, 0, 1)));
    check(h.bet("b2", p, 100, "r1"), h.moved(-100, 0, bal(900, 0, 0, 1)));
    let money = h.money();
    let refusals = [
        ("w-rolled-back", "b1", Rejection::BetRolledBack),
        ("w-tombstone", "b-late", Rejection::BetRolledBack),
        ("w-never", "b-never", Rejection::UnknownTransaction),
        ("w-refused", "b-refused", Rejection::UnknownTransaction),
        ("w-other", "b-other", Rejection::UnknownTransaction),
        ("w-itself", "w-itself", Rejection::WrongTransactionKind),
    ];
    for (id, bet, rejection) in refusals {
        check_rejected(h.apply(GAME, id, win_paying(p, 500, "r1", bet)), rejection);
    }
    assert_eq!(h.money(), money, "refused wins change nothing");
    check(
        h.apply(GAME, "w2", win_paying(p, 500, "r1", "b2")),
        h.moved(500, 0, bal(1400, 0, 0, 1)),
    );
    // The bet named is part of the payload: the same id naming another bet conflicts.
    check_rejected(h.apply(GAME, "w2", win_paying(p, 500, "r1", "b1")), Rejection::Conflict);
}

#[test]
fn rolling_back_a_refused_bet_is_unknown_transaction() {
    let mut h = Harness::new();
    let p = h.register();
    h.fund(p, 100);
    let short = Rejection::InsufficientFunds { available: amt(100) };
    check_rejected(h.bet("b1", p, 500, "r1"), short);
    check_rejected(h.rollback(p, "b1"), Rejection::UnknownTransaction);
    assert_eq!(h.state(GAME, "b1"), Some(TxState::Done));
    // No tombstone: the retried bet gets its original answer.
    check_rejected(h.bet("b1", p, 500, "r1"), short);
    assert_eq!(h.balances(p), bal(100, 0, 0, 0));
    assert_eq!(h.flows().rollbacks, 0);
}

#[test]
fn only_bets_can_be_rolled_back_and_only_by_their_player() {
    let mut h = Harness::new();
    let (p1, p2) = (h.register(), h.register());
    h.fund(p1, 1000);
    h.bet("b1", p1, 100, "r1");
    h.apply(GAME, "w1", win_cmd(p1, 50, "r1", WinKind::Regular));
    h.apply(GAME, "adj", adjust_cmd(p1, EUR, 5));
    let dep = h.fund(p1, 10);
    let money = h.money();
    let kind = Rejection::WrongTransactionKind;
    check_rejected(h.rollback(p1, "w1"), kind);
    check_rejected(h.rollback(p1, "adj"), kind);
    check_rejected(h.run(PSP, rollback_cmd(p1, &dep)), kind);
    check_rejected(h.apply(GAME, "self", rollback_cmd(p1, "self")), kind);
    check_rejected(h.rollback(p2, "b1"), Rejection::UnknownTransaction);
    check_rejected(h.rollback(NOBODY, "b1"), Rejection::UnknownPlayer);
    assert_eq!(h.money(), money);
    // The bet is intact: its own player can still roll it back.
    check(h.rollback(p1, "b1"), h.moved(100, 0, bal(1065, 0, 0, 0)));
}

#[test]
fn a_rollback_still_refunds_after_its_round_closed() {
    let mut h = Harness::new();
    let p = h.register();
    h.fund(p, 1000);
    h.run(GAME, bet_on(p, 100, round("r1"), false));
    h.apply(GAME, "b2", bet_on(p, 200, round("r1"), true));
    assert_eq!(h.ledger.open_rounds_len(), 0);
    check(h.rollback(p, "b2"), h.moved(200, 0, bal(900, 0, 0, 1)));
}

// ---------------------------------------------------------------------------
// Idempotency
// ---------------------------------------------------------------------------

#[test]
fn an_identical_retry_returns_the_identical_outcome_and_changes_nothing() {
    let mut h = Harness::new();
    let p = h.register();
    h.fund(p, 1000);
    h.bet("b0", p, 100, "r0");
    let cases: Vec<(SourceId, &str, Command)> = vec![
        (OPS, "adj", adjust_cmd(p, EUR, 100)),
        (GAME, "b1", bet_cmd(p, 100, "r1")),
        (GAME, "w1", win_cmd(p, 50, "r1", WinKind::Regular)),
        (GAME, "rb0", rollback_cmd(p, "b0")),
        (GAME, "rb-ghost", rollback_cmd(p, "ghost")),
        (PSP, "d1", deposit_cmd(p, 200)),
        (PSP, "c1", confirm_cmd("d1")),
        (PSP, "wd1", withdraw_cmd(p, 100)),
        (OPS, "g1", Command::BonusGrant(grant(p, 300, 1000, 300))),
        (GAME, "too-much", bet_cmd(p, 1_000_000, "r2")),
        (
            OPS,
            "lim",
            limit_cmd(p, limit(LimitMetric::Loss, LimitPeriod::Week), Some(5000)),
        ),
        (OPS, "reg", register_cmd(EUR, "MT")),
        (OPS, "ex", Exclusion::SelfExclude.command(p, T0 + DAY)),
    ];
    for (source, id, command) in cases {
        let first = h.apply(source, id, command.clone());
        let (digest, money) = (h.ledger.digest(), h.money());
        let remembered = h.ledger.remembered_len();
        let retried = h.apply(source, id, command);
        assert_eq!(retried, first, "retry of {id}");
        assert_eq!(h.ledger.digest(), digest, "retry of {id} changed the digest");
        assert_eq!(h.money(), money, "retry of {id} moved money");
        assert_eq!(h.ledger.remembered_len(), remembered, "{id}");
    }
    assert_eq!(h.ledger.players_len(), 2);
}

#[test]
fn a_retried_rejection_stays_rejected_even_when_it_would_now_pass() {
    let mut h = Harness::new();
    let p = h.register();
    h.fund(p, 100);
    let short = Rejection::InsufficientFunds { available: amt(100) };
    check_rejected(h.bet("b1", p, 500, "r1"), short);
    h.fund(p, 1000);
    check_rejected(h.bet("b1", p, 500, "r1"), short);
    assert_eq!(h.balances(p), bal(1100, 0, 0, 0));
    // A fresh id is a new request.
    check(h.bet("b2", p, 500, "r1"), h.moved(-500, 0, bal(600, 0, 0, 5)));
}

#[test]
fn the_same_id_with_another_payload_is_a_conflict() {
    let mut h = Harness::new();
    let p = h.register();
    h.fund(p, 1000);
    let first = h.bet("b1", p, 100, "r1");
    check(first.clone(), h.moved(-100, 0, bal(900, 0, 0, 1)));
    let (digest, money) = (h.ledger.digest(), h.money());
    check_rejected(h.bet("b1", p, 200, "r1"), Rejection::Conflict);
    check_rejected(h.apply(GAME, "b1", adjust_cmd(p, EUR, 5)), Rejection::Conflict);
    assert_eq!((h.ledger.digest(), h.money()), (digest, money));
    // The original is untouched, and ids are scoped by source.
    check(h.bet("b1", p, 100, "r1"), first);
    let elsewhere = h.apply(SourceId(9), "b1", bet_cmd(p, 200, "r1"));
    check(elsewhere, h.moved(-200, 0, bal(700, 0, 0, 3)));
}

#[test]
fn query_transaction_reports_each_state() {
    let mut h = Harness::new();
    let p = h.register();
    h.fund(p, 1000);
    let adjusted = h.apply(OPS, "a1", adjust_cmd(p, EUR, 10));
    let expected = TxSummary {
        seq: h.seq,
        time_ms: h.now,
        state: TxState::Done,
        outcome: adjusted,
    };
    h.advance(5_000);
    let query = Command::QueryTransaction { tx: tx(OPS, "a1") };
    check(h.run(OPS, query), Outcome::Transaction(Box::new(expected)));
    h.bet("b1", p, 100, "r1");
    assert_eq!(h.state(GAME, "b1"), Some(TxState::Done));
    h.rollback(p, "b1");
    assert_eq!(h.state(GAME, "b1"), Some(TxState::RolledBack));
    h.apply(PSP, "d1", deposit_cmd(p, 10));
    let deposit = |state| Some(TxState::Payment(state));
    assert_eq!(h.state(PSP, "d1"), deposit(PaymentState::Initiated));
    h.run(PSP, confirm_cmd("d1"));
    assert_eq!(h.state(PSP, "d1"), deposit(PaymentState::Confirmed));
    h.rollback(p, "ghost");
    assert_eq!(h.state(GAME, "ghost"), Some(TxState::Tombstone));
    let unknown = Command::QueryTransaction { tx: tx(OPS, "never") };
    check_rejected(h.run(OPS, unknown), Rejection::UnknownTransaction);
}

#[test]
fn retention_forgets_old_ids_but_never_an_open_deposit() {
    let mut h = Harness::with(Config {
        idempotency_len_max: 4,
        ..Config::default()
    });
    let p = h.register();
    check(h.apply(PSP, "d1", deposit_cmd(p, 500)), h.moved(0, 0, bal(0, 0, 0, 0)));
    check(
        h.apply(OPS, "a1", adjust_cmd(p, EUR, 100)),
        h.moved(100, 0, bal(100, 0, 0, 0)),
    );
    for n in 2..=5 {
        h.apply(OPS, &format!("a{n}"), adjust_cmd(p, EUR, 1));
    }
    assert_eq!(h.balances(p), bal(104, 0, 0, 0));
    assert_eq!(h.summary(OPS, "a1"), None);
    assert_eq!(h.ledger.remembered_len(), 5);
    // Forgotten: the retry is applied as a new request.
    check(
        h.apply(OPS, "a1", adjust_cmd(p, EUR, 100)),
        h.moved(100, 0, bal(204, 0, 0, 0)),
    );
    let open = Some(TxState::Payment(PaymentState::Initiated));
    assert_eq!(h.state(PSP, "d1"), open);
    check(h.run(PSP, confirm_cmd("d1")), h.moved(500, 0, bal(704, 0, 0, 0)));
    let flows = Flows {
        deposits: 500,
        adjustments: 204,
        ..Flows::default()
    };
    assert_eq!(h.flows(), flows);
}

#[test]
fn retention_forgets_ids_older_than_the_age_limit() {
    let mut h = Harness::new();
    let p = h.register();
    let first = h.apply(OPS, "a1", adjust_cmd(p, EUR, 100));
    check(first.clone(), h.moved(100, 0, bal(100, 0, 0, 0)));
    h.advance(30 * DAY);
    check(h.apply(OPS, "a1", adjust_cmd(p, EUR, 100)), first);
    h.advance(1);
    check(h.run(OPS, adjust_cmd(p, EUR, 1)), h.moved(1, 0, bal(101, 0, 0, 0)));
    assert_eq!(h.summary(OPS, "a1"), None);
    let again = h.apply(OPS, "a1", adjust_cmd(p, EUR, 100));
    check(again, h.moved(100, 0, bal(201, 0, 0, 0)));
}

// ---------------------------------------------------------------------------
// Adjustments and overflow
// ---------------------------------------------------------------------------

#[test]
fn adjustments_correct_cash_within_what_is_there() {
    let mut h = Harness::new();
    let p = h.register();
    check(h.run(OPS, adjust_cmd(p, EUR, 500)), h.moved(500, 0, bal(500, 0, 0, 0)));
    check(
        h.run(OPS, adjust_cmd(p, EUR, -200)),
        h.moved(-200, 0, bal(300, 0, 0, 0)),
    );
    let short = Rejection::InsufficientFunds { available: amt(300) };
    check_rejected(h.run(OPS, adjust_cmd(p, EUR, -301)), short);
    check_rejected(h.run(OPS, adjust_cmd(p, EUR, 0)), Rejection::InvalidAmount);
    let no_usd = Rejection::CurrencyMismatch { currency: USD };
    check_rejected(h.run(OPS, adjust_cmd(p, USD, -1)), no_usd);
    check_rejected(h.run(OPS, adjust_cmd(NOBODY, EUR, 1)), Rejection::UnknownPlayer);
    let usd = h.run(OPS, adjust_cmd(p, USD, 70));
    let receipt = Receipt {
        seq: h.seq,
        cash_delta: amt(70),
        bonus_delta: amt(0),
        balances: bal_in(USD, 70, 0, 0, 0),
    };
    check(usd, Outcome::Moved(receipt));
    let wallets = h.ledger.player_info(p).unwrap().wallets;
    assert_eq!(wallets, vec![bal(300, 0, 0, 0), bal_in(USD, 70, 0, 0, 0)]);
    assert_eq!(h.flows().adjustments, 300);
    assert_eq!(h.ledger.flows(USD).adjustments, 70);
}

#[test]
fn adjustments_are_not_blocked_by_account_status() {
    let mut h = Harness::new();
    let p = h.register();
    check(h.run(OPS, status_cmd(p, AccountStatus::Suspended)), Outcome::Accepted);
    check(h.run(OPS, adjust_cmd(p, EUR, 50)), h.moved(50, 0, bal(50, 0, 0, 0)));
}

#[test]
fn balances_that_would_overflow_are_refused() {
    let mut h = Harness::new();
    let p = h.register();
    let max = i64::MAX;
    check(h.run(OPS, adjust_cmd(p, EUR, max)), h.moved(max, 0, bal(max, 0, 0, 0)));
    check_rejected(h.run(OPS, adjust_cmd(p, EUR, 1)), Rejection::Overflow);
    let jackpot = win_cmd(p, 1, "none", WinKind::Jackpot);
    check_rejected(h.run(GAME, jackpot), Rejection::Overflow);
    h.apply(PSP, "d1", deposit_cmd(p, 1));
    check_rejected(h.run(PSP, confirm_cmd("d1")), Rejection::Overflow);
    let open = Some(TxState::Payment(PaymentState::Initiated));
    assert_eq!(h.state(PSP, "d1"), open);
    check(h.run(PSP, fail_cmd("d1")), h.moved(0, 0, bal(max, 0, 0, 0)));
    assert_eq!(h.flows().deposits, 0);
}

/// Issue #9 item 4: an instant deposit is one command, so a refusal (here
/// an overflow) leaves no open deposit behind, as initiate + confirm did.
#[test]
fn an_instant_deposit_lands_whole_or_changes_nothing() {
    let mut h = Harness::new();
    let p = h.register();
    let instant = |minor| Command::Deposit {
        player: p,
        currency: EUR,
        amount: amt(minor),
    };
    let day = limit(LimitMetric::Deposit, LimitPeriod::Day);
    check(h.run(OPS, limit_cmd(p, day, Some(500))), Outcome::Accepted);
    check(h.apply(OPS, "i1", instant(300)), h.moved(300, 0, bal(300, 0, 0, 0)));
    assert_eq!(h.state(OPS, "i1"), Some(TxState::Payment(PaymentState::Confirmed)));
    assert_eq!(h.flows().deposits, 300);
    check_rejected(h.apply(OPS, "i2", instant(i64::MAX)), Rejection::Overflow);
    assert_eq!(h.state(OPS, "i2"), Some(TxState::Done), "refused, not left open");
    check_rejected(h.apply(OPS, "i3", instant(0)), Rejection::InvalidAmount);
    let hit = Rejection::LimitExceeded {
        limit: day,
        remaining: amt(200),
    };
    check_rejected(h.apply(OPS, "i4", instant(201)), hit);
    check(h.apply(OPS, "i5", instant(200)), h.moved(200, 0, bal(500, 0, 0, 0)));
    check(h.run(OPS, status_cmd(p, AccountStatus::Suspended)), Outcome::Accepted);
    check_rejected(h.apply(OPS, "i6", instant(1)), blocked(BlockReason::Suspended));
    assert_eq!((h.balances(p), h.flows().deposits), (bal(500, 0, 0, 0), 500));
    assert_eq!(h.replay().digest(), h.ledger.digest());
}

#[test]
fn a_win_on_a_round_whose_stakes_sum_past_i64_does_not_panic() {
    let mut h = Harness::new();
    let p = h.register();
    let max = i64::MAX;
    h.run(OPS, adjust_cmd(p, EUR, max));
    let bonus = BonusGrant {
        default_contribution_pct: 0,
        ..grant(p, 10, 1000, 10)
    };
    h.grant(bonus);
    let points = (max / 100) as u64;
    check(h.bet("b1", p, max, "r1"), h.moved(-max, 0, bal(0, 10, 0, points)));
    check(h.bet("b2", p, 1, "r1"), h.moved(0, -1, bal(0, 9, 0, points)));
    // Bonus share: 2 * 1 / (MAX + 1) rounds to 0, so all of it is cash.
    check(h.win(p, 2, "r1"), h.moved(2, 0, bal(2, 9, 0, points)));
}

// ---------------------------------------------------------------------------
// Bonuses
// ---------------------------------------------------------------------------

/// Ways to spoil a valid grant, and the refusal each earns.
type Spoil = (&'static str, fn(&mut BonusGrant), Rejection);

const SPOILED_GRANTS: [Spoil; 8] = [
    ("zero amount", |g| g.amount = amt(0), Rejection::InvalidAmount),
    ("negative amount", |g| g.amount = amt(-1), Rejection::InvalidAmount),
    ("negative wagering", |g| g.wagering = amt(-1), Rejection::InvalidAmount),
    ("negative cap", |g| g.conversion_cap = amt(-1), Rejection::InvalidAmount),
    (
        "default pct",
        |g| g.default_contribution_pct = 101,
        Rejection::InvalidContribution,
    ),
    (
        "game pct",
        |g| g.contributions[1].1 = 101,
        Rejection::InvalidContribution,
    ),
    ("expiry now", |g| g.expires_at_ms = T0, Rejection::TimeNotInFuture),
    ("unknown player", |g| g.player = NOBODY, Rejection::UnknownPlayer),
];

#[test]
fn bonus_grants_are_validated() {
    let mut h = Harness::with(Config {
        bonus_contributions_max: 2,
        ..Config::default()
    });
    let p = h.register();
    let base = BonusGrant {
        contributions: vec![(game("slots"), 100), (game("table"), 10)],
        ..grant(p, 500, 1000, 500)
    };
    for (name, spoil, rejection) in SPOILED_GRANTS {
        let mut bonus = base.clone();
        spoil(&mut bonus);
        assert_eq!(h.grant(bonus), Outcome::Rejected(rejection), "{name}");
    }
    let mut many = base.clone();
    many.contributions.push((game("keno"), 5));
    let full = Rejection::CapacityReached(Capacity::BonusContributions);
    check_rejected(h.grant(many), full);
    assert_eq!(h.balances(p), bal(0, 0, 0, 0));
    assert_eq!(h.flows(), Flows::default());
    check(h.grant(base.clone()), h.moved(0, 500, bal(0, 500, 0, 0)));
    check_rejected(h.grant(base), Rejection::BonusAlreadyActive);
    assert_eq!(h.flows().bonus_granted, 500);
}

#[test]
fn bonuses_are_refused_to_blocked_players_and_open_a_wallet() {
    let mut h = Harness::new();
    let (p1, p2) = (h.register(), h.register());
    check(h.run(OPS, status_cmd(p1, AccountStatus::Suspended)), Outcome::Accepted);
    check_rejected(h.grant(grant(p1, 500, 0, 500)), blocked(BlockReason::Suspended));
    let usd = BonusGrant {
        currency: USD,
        ..grant(p2, 500, 1000, 500)
    };
    let receipt = Receipt {
        seq: h.seq + 1,
        cash_delta: amt(0),
        bonus_delta: amt(500),
        balances: bal_in(USD, 0, 500, 0, 0),
    };
    check(h.grant(usd), Outcome::Moved(receipt));
}

#[test]
fn wagering_progress_follows_game_contributions_and_converts_up_to_the_cap() {
    let mut h = Harness::new();
    let p = h.register();
    h.fund(p, 5000);
    let bonus = BonusGrant {
        contributions: vec![(game("slots"), 100), (game("table"), 10)],
        default_contribution_pct: 50,
        ..grant(p, 1000, 2000, 500)
    };
    check(h.grant(bonus), h.moved(0, 1000, bal(5000, 1000, 0, 0)));
    let mut on = |id: &str, minor, code| h.run(GAME, bet_on(p, minor, round_of(id, code), false));
    let table = on("r1", 1000, "table"); // counts 100
    let slots = on("r2", 1000, "slots"); // 1100
    let keno = on("r3", 1000, "keno"); // 1600
    let last = on("r4", 800, "slots"); // 2400: converts 500 of 1000
    let seq = h.seq;
    let receipt = |s, dc, db, after| {
        Outcome::Moved(Receipt {
            seq: s,
            cash_delta: amt(dc),
            bonus_delta: amt(db),
            balances: after,
        })
    };
    check(table, receipt(seq - 3, -1000, 0, bal(4000, 1000, 0, 10)));
    check(slots, receipt(seq - 2, -1000, 0, bal(3000, 1000, 0, 20)));
    check(keno, receipt(seq - 1, -1000, 0, bal(2000, 1000, 0, 30)));
    check(last, receipt(seq, -300, -1000, bal(1700, 0, 0, 38)));
    let flows = Flows {
        deposits: 5000,
        bets: 3800,
        bonus_granted: 1000,
        bonus_forfeited: 500,
        ..Flows::default()
    };
    assert_eq!(h.flows(), flows);
    check(
        h.grant(grant(p, 100, 1000, 100)),
        h.moved(0, 100, bal(1700, 100, 0, 38)),
    );
}

#[test]
fn zero_wagering_converts_at_once_up_to_the_cap() {
    let mut h = Harness::new();
    let p = h.register();
    check(h.grant(grant(p, 1000, 0, 600)), h.moved(600, 0, bal(600, 0, 0, 0)));
    let flows = Flows {
        bonus_granted: 1000,
        bonus_forfeited: 400,
        ..Flows::default()
    };
    assert_eq!(h.flows(), flows);
    check(h.grant(grant(p, 200, 0, 600)), h.moved(200, 0, bal(800, 0, 0, 0)));
    check_rejected(h.run(OPS, forfeit_cmd(p)), Rejection::NoActiveBonus);
}

#[test]
fn a_rollback_takes_its_wagering_credit_back() {
    let mut h = Harness::new();
    let p = h.register();
    h.fund(p, 1000);
    h.grant(grant(p, 500, 500, 10_000));
    check(h.bet("b1", p, 300, "r1"), h.moved(-300, 0, bal(700, 500, 0, 3)));
    check(h.rollback(p, "b1"), h.moved(300, 0, bal(1000, 500, 0, 0)));
    check(h.bet("b2", p, 300, "r2"), h.moved(-300, 0, bal(700, 500, 0, 3)));
    check(h.bet("b3", p, 300, "r3"), h.moved(200, -500, bal(900, 0, 0, 6)));
}

#[test]
fn forfeit_takes_the_active_bonus_away() {
    let mut h = Harness::new();
    let p = h.register();
    h.fund(p, 100);
    check_rejected(h.run(OPS, forfeit_cmd(p)), Rejection::NoActiveBonus);
    h.grant(grant(p, 500, 1000, 500));
    check(h.run(OPS, forfeit_cmd(p)), h.moved(0, -500, bal(100, 0, 0, 0)));
    check_rejected(h.run(OPS, forfeit_cmd(p)), Rejection::NoActiveBonus);
    let usd = Command::BonusForfeit {
        player: p,
        currency: USD,
    };
    check_rejected(h.run(OPS, usd), Rejection::CurrencyMismatch { currency: USD });
    let flows = Flows {
        deposits: 100,
        bonus_granted: 500,
        bonus_forfeited: 500,
        ..Flows::default()
    };
    assert_eq!(h.flows(), flows);
}

#[test]
fn bonus_expire_forfeits_only_once_the_expiry_passed() {
    let mut h = Harness::new();
    let p = h.register();
    let expires = T0 + DAY;
    let bonus = BonusGrant {
        expires_at_ms: expires,
        ..grant(p, 500, 1000, 500)
    };
    h.grant(bonus);
    check_rejected(h.run(OPS, expire_cmd(p)), Rejection::BonusNotExpired);
    h.at(expires - 1);
    check_rejected(h.run(OPS, expire_cmd(p)), Rejection::BonusNotExpired);
    h.at(expires);
    check(h.run(OPS, expire_cmd(p)), h.moved(0, -500, bal(0, 0, 0, 0)));
    check_rejected(h.run(OPS, expire_cmd(p)), Rejection::NoActiveBonus);
    assert_eq!(h.flows().bonus_forfeited, 500);
}

fn expiring_bonus(h: &mut Harness) -> PlayerId {
    let p = h.register();
    h.fund(p, 100);
    let bonus = BonusGrant {
        expires_at_ms: T0 + DAY,
        ..grant(p, 500, 1000, 500)
    };
    check(h.grant(bonus), h.moved(0, 500, bal(100, 500, 0, 0)));
    h.at(T0 + DAY);
    p
}

#[test]
fn a_bet_after_expiry_lazily_forfeits_the_bonus() {
    let mut h = Harness::new();
    let p = expiring_bonus(&mut h);
    let short = Rejection::InsufficientFunds { available: amt(100) };
    check_rejected(h.bet("b1", p, 101, "r1"), short);
    h.bet("b2", p, 100, "r1");
    assert_eq!(h.balances(p), bal(0, 0, 0, 1));
    assert_eq!(h.flows().bonus_forfeited, 500);
    check_rejected(h.run(OPS, expire_cmd(p)), Rejection::NoActiveBonus);
}

#[test]
fn the_receipt_of_a_lazy_expiry_includes_the_forfeited_bonus() {
    let mut h = Harness::new();
    let p = expiring_bonus(&mut h);
    // Before: cash 100, bonus 500. After: cash 0, bonus 0.
    check(h.bet("b1", p, 100, "r1"), h.moved(-100, -500, bal(0, 0, 0, 1)));
}

/// Commands refused after the bonus expired, with their refusal.
fn refused_after_expiry(p: PlayerId) -> Vec<(Command, Rejection)> {
    let short = Rejection::InsufficientFunds { available: amt(100) };
    vec![
        (bet_cmd(p, 101, "r1"), short),
        (bet_cmd(p, 10, "theirs"), Rejection::RoundPlayerMismatch),
        (win_cmd(p, 10, "none", WinKind::Regular), Rejection::UnknownRound),
        (
            win_cmd(p, 10, "theirs", WinKind::Jackpot),
            Rejection::RoundPlayerMismatch,
        ),
    ]
}

#[test]
fn a_refused_bet_or_win_after_expiry_changes_nothing() {
    let mut changed = Vec::new();
    for case in 0..refused_after_expiry(PlayerId(1)).len() {
        let mut h = Harness::new();
        let p = expiring_bonus(&mut h);
        let other = h.register();
        h.fund(other, 100);
        h.bet("theirs", other, 10, "theirs");
        let money = h.money();
        let (command, rejection) = refused_after_expiry(p).swap_remove(case);
        let name = format!("{} -> {rejection:?}", command.kind());
        check_rejected(h.run(GAME, command), rejection);
        if h.money() != money {
            changed.push(name);
        }
    }
    assert_eq!(changed, Vec::<String>::new(), "refusals that changed money");
}

#[test]
fn a_grant_after_expiry_replaces_the_expired_bonus() {
    let mut h = Harness::new();
    let p = expiring_bonus(&mut h);
    h.grant(grant(p, 300, 1000, 300));
    assert_eq!(h.balances(p), bal(100, 300, 0, 0));
    let flows = Flows {
        deposits: 100,
        bonus_granted: 800,
        bonus_forfeited: 500,
        ..Flows::default()
    };
    assert_eq!(h.flows(), flows);
}

#[derive(Clone, Copy, Debug)]
enum Fate {
    Active,
    Converted,
    Forfeited,
    Expired,
}

/// Moves the bonus that funded round r1 to its `fate`.
fn decide(h: &mut Harness, p: PlayerId, fate: Fate) {
    match fate {
        Fate::Active => {}
        Fate::Converted => {
            let converted = h.bet("b2", p, 200, "r2");
            check(converted, h.moved(600, -800, bal(600, 0, 0, 1)));
        }
        Fate::Forfeited => {
            check(h.run(OPS, forfeit_cmd(p)), h.moved(0, -800, bal(0, 0, 0, 1)));
        }
        Fate::Expired => h.at(T0 + DAY),
    }
}

#[test]
fn a_win_on_a_bonus_funded_round_follows_what_became_of_that_bonus() {
    use Fate::*;
    // (fate, cash after, bonus after, forfeited in total)
    let cases = [
        (Active, 200, 1200, 0),
        (Converted, 1200, 0, 0),
        (Forfeited, 200, 0, 1200),
        (Expired, 200, 0, 1200),
    ];
    for (fate, cash, bonus, forfeited) in cases {
        let mut h = Harness::new();
        let p = h.register();
        h.fund(p, 100);
        let bonus_grant = BonusGrant {
            expires_at_ms: T0 + DAY,
            ..grant(p, 1000, 500, 100_000)
        };
        h.grant(bonus_grant);
        check(h.bet("b1", p, 300, "r1"), h.moved(-100, -200, bal(0, 800, 0, 1)));
        decide(&mut h, p, fate);
        h.win(p, 600, "r1");
        assert_eq!(h.balances(p), bal(cash, bonus, 0, 1), "{fate:?}");
        assert_eq!(h.flows().bonus_forfeited, forfeited, "{fate:?}");
        assert_eq!(h.flows().wins, 600, "{fate:?}");
    }
}

#[test]
fn a_win_on_a_round_of_an_earlier_converted_bonus_goes_to_cash() {
    let mut h = Harness::new();
    let p = h.register();
    check(h.grant(grant(p, 100, 150, 10_000)), h.moved(0, 100, bal(0, 100, 0, 0)));
    check(h.bet("b1", p, 100, "r1"), h.moved(0, -100, bal(0, 0, 0, 0)));
    h.run(OPS, adjust_cmd(p, EUR, 100));
    // Wagering reaches 150: bonus 1 converts (nothing left of it).
    check(h.bet("b2", p, 50, "r2"), h.moved(-50, 0, bal(50, 0, 0, 0)));
    // Bonus 2 converts at once.
    check(h.grant(grant(p, 10, 0, 10_000)), h.moved(10, 0, bal(60, 0, 0, 0)));
    // Round r1 was funded by bonus 1, which was converted: the win is cash.
    check(h.win(p, 200, "r1"), h.moved(200, 0, bal(260, 0, 0, 0)));
    assert_eq!(h.flows().bonus_forfeited, 0);
}

#[test]
fn a_rollback_of_a_bonus_funded_bet_follows_what_became_of_that_bonus() {
    use Fate::*;
    // (fate, cash after, bonus after, forfeited in total)
    let cases = [
        (Active, 100, 1000, 0),
        (Converted, 900, 0, 0),
        (Forfeited, 100, 0, 1000),
        (Expired, 100, 0, 1000),
    ];
    for (fate, cash, bonus, forfeited) in cases {
        let mut h = Harness::new();
        let p = h.register();
        h.fund(p, 100);
        let bonus_grant = BonusGrant {
            expires_at_ms: T0 + DAY,
            ..grant(p, 1000, 500, 100_000)
        };
        h.grant(bonus_grant);
        check(h.bet("b1", p, 300, "r1"), h.moved(-100, -200, bal(0, 800, 0, 1)));
        decide(&mut h, p, fate);
        h.rollback(p, "b1");
        assert_eq!(h.balances(p), bal(cash, bonus, 0, 0), "{fate:?}");
        assert_eq!(h.flows().bonus_forfeited, forfeited, "{fate:?}");
        assert_eq!(h.flows().rollbacks, 300, "{fate:?}");
    }
}

// ---------------------------------------------------------------------------
// Unknown players, foreign currencies, bad amounts across commands
// ---------------------------------------------------------------------------

fn per_player_commands(p: PlayerId, currency: Currency) -> Vec<Command> {
    let wager_day = limit(LimitMetric::Wager, LimitPeriod::Day);
    vec![
        Command::SetLimit {
            player: p,
            currency,
            limit: wager_day,
            amount: Some(amt(100)),
        },
        Command::WithdrawalRequest {
            player: p,
            currency,
            amount: amt(100),
        },
        Command::Bet(Bet {
            player: p,
            currency,
            amount: amt(100),
            round: round("r1"),
            close_round: false,
        }),
        Command::Win(Win {
            player: p,
            currency,
            amount: amt(100),
            round: round("r1"),
            kind: WinKind::Jackpot,
            close_round: false,
            bet: None,
        }),
        adjust_cmd(p, currency, -1),
        Command::BonusForfeit { player: p, currency },
        Command::BonusExpire { player: p, currency },
        Command::QueryBalance { player: p, currency },
    ]
}

fn account_commands(p: PlayerId) -> Vec<Command> {
    vec![
        status_cmd(p, AccountStatus::Closed),
        Exclusion::SelfExclude.command(p, T0 + DAY),
        Exclusion::TimeOut.command(p, T0 + DAY),
        kyc_cmd(p, KycLevel::Verified),
        deposit_cmd(p, 100),
        rollback_cmd(p, "b1"),
        end_round_cmd(p, "r1"),
        adjust_cmd(p, EUR, 100),
        Command::BonusGrant(grant(p, 100, 100, 100)),
    ]
}

#[test]
fn every_player_command_refuses_an_unknown_player() {
    let mut h = Harness::new();
    let p = h.register();
    h.fund(p, 1000);
    h.bet("b1", p, 100, "r1");
    let money = h.money();
    for nobody in [PlayerId(0), PlayerId(2), NOBODY] {
        let mut commands = per_player_commands(nobody, EUR);
        commands.extend(account_commands(nobody));
        for command in commands {
            let kind = command.kind();
            let outcome = h.run(GAME, command);
            assert_eq!(outcome, Outcome::Rejected(Rejection::UnknownPlayer), "{kind}");
        }
    }
    assert_eq!(h.money(), money);
    assert_eq!(h.state(GAME, "b1"), Some(TxState::Done));
}

#[test]
fn wallet_commands_refuse_a_currency_the_player_does_not_hold() {
    let mut h = Harness::new();
    let p = h.register();
    h.fund(p, 1000);
    let money = h.money();
    for command in per_player_commands(p, USD) {
        let kind = command.kind();
        let outcome = h.run(GAME, command);
        let mismatch = Rejection::CurrencyMismatch { currency: USD };
        assert_eq!(outcome, Outcome::Rejected(mismatch), "{kind}");
    }
    assert_eq!(h.money(), money);
}

#[test]
fn amounts_must_be_positive_where_money_moves() {
    let mut h = Harness::new();
    let p = h.register();
    h.fund(p, 1000);
    let money = h.money();
    let commands = [
        bet_cmd(p, 0, "r1"),
        bet_cmd(p, -1, "r1"),
        win_cmd(p, -1, "r1", WinKind::Jackpot),
        deposit_cmd(p, 0),
        deposit_cmd(p, -1),
        withdraw_cmd(p, 0),
        withdraw_cmd(p, -1),
        adjust_cmd(p, EUR, 0),
        limit_cmd(p, limit(LimitMetric::Loss, LimitPeriod::Month), Some(-1)),
        Command::BonusGrant(grant(p, 0, 100, 100)),
    ];
    for command in commands {
        let kind = command.kind();
        let outcome = h.run(GAME, command);
        assert_eq!(outcome, Outcome::Rejected(Rejection::InvalidAmount), "{kind}");
    }
    assert_eq!(h.money(), money);
}

// ---------------------------------------------------------------------------
// Queries and digests
// ---------------------------------------------------------------------------

#[test]
fn queries_are_read_only_and_not_deduplicated() {
    let mut h = Harness::new();
    let p = h.register();
    let dep = h.fund(p, 1000);
    let (digest, remembered) = (h.ledger.digest(), h.ledger.remembered_len());
    let balance = Command::QueryBalance {
        player: p,
        currency: EUR,
    };
    check(
        h.apply(GAME, "q1", balance.clone()),
        Outcome::Balance(bal(1000, 0, 0, 0)),
    );
    check(h.apply(GAME, "q1", balance), Outcome::Balance(bal(1000, 0, 0, 0)));
    let query = Command::QueryTransaction { tx: tx(PSP, &dep) };
    let Outcome::Transaction(summary) = h.apply(GAME, "q1", query) else {
        panic!("no transaction summary");
    };
    assert_eq!(summary.state, TxState::Payment(PaymentState::Confirmed));
    let unknown = Command::QueryBalance {
        player: NOBODY,
        currency: EUR,
    };
    check_rejected(h.apply(GAME, "q1", unknown), Rejection::UnknownPlayer);
    assert_eq!(h.ledger.digest(), digest, "a query changed the digest");
    assert_eq!(h.ledger.remembered_len(), remembered);
    assert_eq!(h.summary(GAME, "q1"), None);
    // The id was never taken.
    check(
        h.apply(GAME, "q1", adjust_cmd(p, EUR, 1)),
        h.moved(1, 0, bal(1001, 0, 0, 0)),
    );
}

/// A short history touching most commands.
fn history(h: &mut Harness, stake: i64) {
    let p = h.register();
    h.fund(p, 1000);
    h.grant(grant(p, 500, 2000, 500));
    h.bet("b1", p, stake, "r1");
    h.win(p, 250, "r1");
    h.bet("b2", p, 100, "r2");
    h.rollback(p, "b2");
    h.rollback(p, "ghost");
    h.advance(HOUR);
    h.apply(PSP, "w1", withdraw_cmd(p, 100));
    h.run(PSP, approve_cmd("w1"));
    h.run(PSP, complete_cmd("w1"));
    h.run(OPS, adjust_cmd(p, EUR, -5));
}

#[test]
fn the_same_envelopes_give_the_same_digest_and_outcomes() {
    let mut h = Harness::new();
    history(&mut h, 300);
    let mut replayed = Ledger::new(Config::default());
    let mut live = Ledger::new(Config::default());
    for envelope in &h.log {
        assert_eq!(replayed.apply(envelope), live.apply(envelope), "seq {}", envelope.seq);
    }
    assert_eq!(replayed.digest(), h.ledger.digest());
    assert_eq!(h.replay().digest(), h.ledger.digest());
    assert_eq!(replayed.flows(EUR), h.flows());
    assert_eq!(replayed.balances(PlayerId(1), EUR), Ok(h.balances(PlayerId(1))));
}

#[test]
fn a_different_history_gives_a_different_digest() {
    let (mut a, mut b) = (Harness::new(), Harness::new());
    history(&mut a, 300);
    history(&mut b, 301);
    assert_ne!(a.ledger.digest(), b.ledger.digest());
    let (mut c, mut d) = (Harness::new(), Harness::new());
    history(&mut c, 300);
    history(&mut d, 300);
    assert_eq!(c.ledger.digest(), d.ledger.digest());
    // A rejected command is part of the history too.
    d.run(GAME, bet_cmd(PlayerId(1), 0, "r9"));
    assert_ne!(c.ledger.digest(), d.ledger.digest());
}

// ---------------------------------------------------------------------------
// Limits must not be loosened by amounts counted before they existed
// ---------------------------------------------------------------------------

#[test]
fn rolling_back_a_bet_from_before_the_wager_limit_does_not_add_room() {
    let mut h = Harness::new();
    let p = h.register();
    h.fund(p, 1000);
    check(h.bet("b1", p, 500, "r1"), h.moved(-500, 0, bal(500, 0, 0, 5)));
    let day = limit(LimitMetric::Wager, LimitPeriod::Day);
    check(h.run(OPS, limit_cmd(p, day, Some(100))), Outcome::Accepted);
    check(h.bet("b2", p, 100, "r2"), h.moved(-100, 0, bal(400, 0, 0, 6)));
    check(h.rollback(p, "b1"), h.moved(500, 0, bal(900, 0, 0, 1)));
    let spent = Rejection::LimitExceeded {
        limit: day,
        remaining: amt(0),
    };
    check_rejected(h.bet("b3", p, 100, "r3"), spent);
}

#[test]
fn failing_a_deposit_from_before_the_deposit_limit_does_not_add_room() {
    let mut h = Harness::new();
    let p = h.register();
    h.apply(PSP, "d1", deposit_cmd(p, 800));
    let day = limit(LimitMetric::Deposit, LimitPeriod::Day);
    check(h.run(OPS, limit_cmd(p, day, Some(1000))), Outcome::Accepted);
    check(h.apply(PSP, "d2", deposit_cmd(p, 1000)), h.moved(0, 0, bal(0, 0, 0, 0)));
    check(h.run(PSP, fail_cmd("d1")), h.moved(0, 0, bal(0, 0, 0, 0)));
    let spent = Rejection::LimitExceeded {
        limit: day,
        remaining: amt(0),
    };
    check_rejected(h.run(PSP, deposit_cmd(p, 500)), spent);
}
