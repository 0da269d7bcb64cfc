//! Unit-style tests of every command and of every rejection the ledger can
//! produce, one scenario per test, driven through a small hermetic harness.
//!
//! The [`Harness`] stamps strictly increasing sequence numbers and a time it
//! controls, keeps the envelopes it applied (for replay) and checks the
//! conservation law after every command and again when a scenario ends.
//! Every assertion compares concrete values: exact outcomes (receipts with
//! their deltas and balances, rejections with their fields), balances and
//! money flows.
//!
//! The harness and the command builders live here; the scenarios are grouped
//! by the ledger's domains (`players`, `payments`, `limits`, `gaming`,
//! `bonus`, `games`, `jackpots`), with what holds across them in `across`. Access commands
//! (operators, aggregators, sessions) are in `engine/tests/access.rs`, which
//! also goes through the runtime's record codec and snapshots.

use engine_core::command::{
    AccountStatus, Bet, BonusGrant, Command, Envelope, JurisdictionRules, KycLevel, LimitKind, LimitMetric,
    LimitPeriod, Query, Request, RoundRef, TxRef, Win, WinKind,
};
use engine_core::outcome::{BlockReason, Capacity, PaymentState, TxState, TxSummary};
use engine_core::{
    Admission, Amount, Balances, Config, Currency, ExtId, Flows, GameCode, Jurisdiction, Ledger, OperatorId, Outcome,
    PlayerId, Reason, Receipt, Rejection, RoundId, SourceId,
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
        self.run(OPS, Command::Bonus(engine_core::bonus::Command::Grant(grant)))
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
    Command::Players(engine_core::players::Command::RegisterPlayer {
        currency,
        jurisdiction: Jurisdiction::new(jurisdiction).expect("valid jurisdiction"),
    })
}

fn rules_cmd(jurisdiction: &str, rules: JurisdictionRules) -> Command {
    Command::Players(engine_core::players::Command::SetJurisdictionRules {
        jurisdiction: Jurisdiction::new(jurisdiction).expect("valid jurisdiction"),
        rules,
    })
}

fn status_cmd(player: PlayerId, status: AccountStatus) -> Command {
    Command::Players(engine_core::players::Command::SetAccountStatus {
        player,
        status,
        operator: OperatorId(7),
    })
}

fn kyc_cmd(player: PlayerId, level: KycLevel) -> Command {
    Command::Players(engine_core::players::Command::SetKyc { player, level })
}

fn limit(metric: LimitMetric, period: LimitPeriod) -> LimitKind {
    LimitKind { metric, period }
}

fn limit_cmd(player: PlayerId, kind: LimitKind, minor: Option<i64>) -> Command {
    Command::Rg(engine_core::rg::Command::SetLimit {
        player,
        currency: EUR,
        limit: kind,
        amount: minor.map(amt),
    })
}

fn deposit_cmd(player: PlayerId, minor: i64) -> Command {
    Command::Payments(engine_core::payments::Command::DepositInitiate {
        player,
        currency: EUR,
        amount: amt(minor),
    })
}

fn confirm_cmd(id: &str) -> Command {
    Command::Payments(engine_core::payments::Command::DepositConfirm { deposit: tx(PSP, id) })
}

fn fail_cmd(id: &str) -> Command {
    Command::Payments(engine_core::payments::Command::DepositFail { deposit: tx(PSP, id) })
}

fn withdraw_cmd(player: PlayerId, minor: i64) -> Command {
    Command::Payments(engine_core::payments::Command::WithdrawalRequest {
        player,
        currency: EUR,
        amount: amt(minor),
    })
}

fn approve_cmd(id: &str) -> Command {
    Command::Payments(engine_core::payments::Command::WithdrawalApprove {
        withdrawal: tx(PSP, id),
    })
}

fn reject_cmd(id: &str) -> Command {
    Command::Payments(engine_core::payments::Command::WithdrawalReject {
        withdrawal: tx(PSP, id),
    })
}

fn complete_cmd(id: &str) -> Command {
    Command::Payments(engine_core::payments::Command::WithdrawalComplete {
        withdrawal: tx(PSP, id),
    })
}

fn bet_cmd(player: PlayerId, minor: i64, round_id: &str) -> Command {
    bet_on(player, minor, round(round_id), false)
}

fn bet_on(player: PlayerId, minor: i64, round: RoundRef, close_round: bool) -> Command {
    Command::Gaming(engine_core::gaming::Command::Bet(Bet {
        player,
        currency: EUR,
        amount: amt(minor),
        round,
        close_round,
    }))
}

fn win_cmd(player: PlayerId, minor: i64, round_id: &str, kind: WinKind) -> Command {
    win_on(player, minor, round(round_id), kind, false)
}

fn win_on(player: PlayerId, minor: i64, round: RoundRef, kind: WinKind, close: bool) -> Command {
    Command::Gaming(engine_core::gaming::Command::Win(Win {
        player,
        currency: EUR,
        amount: amt(minor),
        round,
        kind,
        close_round: close,
        bet: None,
    }))
}

fn rollback_cmd(player: PlayerId, bet: &str) -> Command {
    Command::Gaming(engine_core::gaming::Command::Rollback { player, bet: ext(bet) })
}

fn end_round_cmd(player: PlayerId, round_id: &str) -> Command {
    Command::Gaming(engine_core::gaming::Command::EndRound {
        player,
        round: round(round_id),
    })
}

fn adjust_cmd(player: PlayerId, currency: Currency, minor: i64) -> Command {
    Command::Payments(engine_core::payments::Command::Adjust {
        player,
        currency,
        amount: amt(minor),
        reason: Reason::new("goodwill correction").expect("valid reason"),
        operator: OperatorId(7),
    })
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
    Command::Bonus(engine_core::bonus::Command::Forfeit { player, currency: EUR })
}

fn expire_cmd(player: PlayerId) -> Command {
    Command::Bonus(engine_core::bonus::Command::Expire { player, currency: EUR })
}

fn blocked(reason: BlockReason) -> Rejection {
    Rejection::PlayerBlocked(reason)
}

/// The two exclusions a player can take, self-exclusion and time-out.
#[derive(Clone, Copy, Debug)]
enum Exclusion {
    SelfExclude,
    TimeOut,
}

impl Exclusion {
    fn command(self, player: PlayerId, until_ms: u64) -> Command {
        match self {
            Exclusion::SelfExclude => Command::Rg(engine_core::rg::Command::SelfExclude { player, until_ms }),
            Exclusion::TimeOut => Command::Rg(engine_core::rg::Command::TimeOut { player, until_ms }),
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

mod across;
mod bonus;
mod bonus_queue;
mod games;
mod gaming;
mod jackpots;
mod jurisdictions;
mod limits;
mod payments;
mod players;
mod rg;
mod withdrawal_holds;
