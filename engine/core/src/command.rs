//! Commands: every state change the ledger knows, as typed values.
//!
//! A [`Request`] is what a producer (gateway handler, test, tool) submits:
//! who sent it, the sender's idempotency id, and the [`Command`]. The
//! sequencer wraps it into an [`Envelope`] by stamping the sequence number and
//! the time; the ledger reads time only from there.

use crate::ids::{
    ExtId, GameCode, Jurisdiction, Name, OperatorId, PlayerId, Reason, RoundId, RsaPublicKeyDer, Secret, SourceId,
    TokenHash,
};
use crate::money::{Amount, Currency};

/// A request stamped by the sequencer: the unit the ledger applies and the
/// journal stores.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Envelope {
    /// Position in the total order, strictly increasing from 1.
    pub seq: u64,
    /// Milliseconds since the Unix epoch, never decreasing.
    pub time_ms: u64,
    /// What was asked.
    pub request: Request,
}

/// A command with its origin and idempotency id.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Request {
    /// Who sent it; scopes `id`.
    pub source: SourceId,
    /// The sender's id for this request: a retry carries the same id.
    pub id: ExtId,
    /// What to do.
    pub command: Command,
}

/// A reference to an earlier request by its origin and id.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TxRef {
    /// The source the referenced request came from.
    pub source: SourceId,
    /// Its id.
    pub id: ExtId,
}

/// Everything the ledger can be asked to do.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
// `Command` contains itself through `InSession`: the derive needs its
// bounds spelled out (as for `Outcome`).
pub enum Command {
    /// Opens an account with a wallet in its base currency.
    RegisterPlayer {
        /// Base currency; its wallet is created at once.
        currency: Currency,
        /// Where the player is licensed.
        jurisdiction: Jurisdiction,
    },
    /// Sets what a jurisdiction demands before money moves.
    SetJurisdictionRules {
        /// The jurisdiction the rules apply to.
        jurisdiction: Jurisdiction,
        /// The rules.
        rules: JurisdictionRules,
    },
    /// Operator decision on an account: active, suspended, closed.
    SetAccountStatus {
        /// The player.
        player: PlayerId,
        /// The new status.
        status: AccountStatus,
        /// Who decided.
        operator: OperatorId,
    },
    /// Player blocks themself from betting and depositing until a time.
    /// It can be extended, never shortened.
    SelfExclude {
        /// The player.
        player: PlayerId,
        /// End of the exclusion, ms since the epoch.
        until_ms: u64,
    },
    /// A short break (time-out) with the same effect as self-exclusion.
    TimeOut {
        /// The player.
        player: PlayerId,
        /// End of the time-out, ms since the epoch.
        until_ms: u64,
    },
    /// Records a KYC decision.
    SetKyc {
        /// The player.
        player: PlayerId,
        /// The new level.
        level: KycLevel,
    },
    /// Sets or removes a responsible-gambling limit on one wallet.
    /// Lowering applies at once; raising or removing after the cooling-off.
    SetLimit {
        /// The player.
        player: PlayerId,
        /// The wallet's currency.
        currency: Currency,
        /// Which limit.
        limit: LimitKind,
        /// The new maximum, or `None` to remove the limit.
        amount: Option<Amount>,
    },
    /// A payment provider started a deposit; it counts against deposit limits.
    DepositInitiate {
        /// The player.
        player: PlayerId,
        /// Currency of the deposit.
        currency: Currency,
        /// Amount, positive.
        amount: Amount,
    },
    /// The provider confirmed an initiated deposit: the cash lands.
    DepositConfirm {
        /// The initiating request.
        deposit: TxRef,
    },
    /// The provider reported an initiated deposit failed.
    DepositFail {
        /// The initiating request.
        deposit: TxRef,
    },
    /// The player asks to withdraw: the amount moves from cash to reserved.
    WithdrawalRequest {
        /// The player.
        player: PlayerId,
        /// Currency of the withdrawal.
        currency: Currency,
        /// Amount, positive.
        amount: Amount,
    },
    /// Finance approves a requested withdrawal (stays reserved).
    WithdrawalApprove {
        /// The requesting request.
        withdrawal: TxRef,
    },
    /// Finance rejects a withdrawal: the reserve is released back to cash.
    WithdrawalReject {
        /// The requesting request.
        withdrawal: TxRef,
    },
    /// The payout went out: the reserve leaves the ledger.
    WithdrawalComplete {
        /// The requesting request.
        withdrawal: TxRef,
    },
    /// A stake on a round.
    Bet(Bet),
    /// A payout on a round (or a jackpot/promotional payout).
    Win(Win),
    /// Cancels a bet (by the bet's request id, from the same source).
    Rollback {
        /// The player.
        player: PlayerId,
        /// The bet's request id.
        bet: ExtId,
    },
    /// Closes a round: no more bets or wins on it.
    EndRound {
        /// The player.
        player: PlayerId,
        /// The round.
        round: RoundRef,
    },
    /// A manual correction of a cash balance, with who and why.
    Adjust {
        /// The player.
        player: PlayerId,
        /// The wallet's currency.
        currency: Currency,
        /// Signed change to cash, not zero.
        amount: Amount,
        /// Why.
        reason: Reason,
        /// Who.
        operator: OperatorId,
    },
    /// Grants a bonus with a wagering requirement.
    BonusGrant(BonusGrant),
    /// Takes the active bonus and its balance away.
    BonusForfeit {
        /// The player.
        player: PlayerId,
        /// The wallet's currency.
        currency: Currency,
    },
    /// Forfeits the active bonus if its expiry has passed (a sweep; expiry
    /// also happens on the wallet's next money movement).
    BonusExpire {
        /// The player.
        player: PlayerId,
        /// The wallet's currency.
        currency: Currency,
    },
    /// Reads a wallet's balances. Read-only.
    QueryBalance {
        /// The player.
        player: PlayerId,
        /// The wallet's currency.
        currency: Currency,
    },
    /// Reads what became of an earlier request. Read-only.
    QueryTransaction {
        /// The request.
        tx: TxRef,
    },
    /// Creates an operator account bound to a role. Its bearer token is
    /// known to the ledger only as a digest. The first operator of an empty
    /// ledger is created by [`OperatorId::SYSTEM`]; every later one by an admin.
    CreateOperator {
        /// Digest of the operator's bearer token.
        token: TokenHash,
        /// What the operator may do.
        role: Role,
        /// Display name.
        name: Name,
        /// Who created it.
        operator: OperatorId,
    },
    /// Registers a game aggregator and the credential its requests are
    /// signed with. The aggregator gets its own [`SourceId`]. Admins only.
    CreateAggregator {
        /// Display name, unique.
        name: Name,
        /// What its signatures are checked with.
        credential: AggregatorCredential,
        /// Who created it.
        operator: OperatorId,
    },
    /// Issues a game-launch token: a session of one player, in one currency,
    /// with one aggregator, until a time.
    IssueSession {
        /// Digest of the game-launch token.
        token: TokenHash,
        /// The player.
        player: PlayerId,
        /// The wallet the session plays from.
        currency: Currency,
        /// The aggregator that may use it.
        aggregator: SourceId,
        /// End of the session, ms since the epoch. Bets are refused after
        /// it; wins, rollbacks and round ends still land.
        expires_at_ms: u64,
        /// Who issued it.
        operator: OperatorId,
    },
    /// A wallet command (bet, win, rollback or end of round) an aggregator
    /// sends within a game session. The session must belong to the sending
    /// source and name the command's player and currency; a bet also needs
    /// it unexpired. Refusals carry the wallet's balances
    /// ([`crate::Outcome::RejectedInSession`]).
    InSession {
        /// Digest of the session's game-launch token.
        token: TokenHash,
        /// The wallet command.
        command: Box<Command>,
    },
    /// A deposit that is initiated and confirmed in one step: an operator
    /// funding a player by hand, or a provider that confirms synchronously.
    /// It passes the checks of [`Command::DepositInitiate`] and lands like
    /// [`Command::DepositConfirm`], or changes nothing.
    // Appended last: archived commands keep their tags.
    Deposit {
        /// The player.
        player: PlayerId,
        /// Currency of the deposit.
        currency: Currency,
        /// Amount, positive.
        amount: Amount,
    },
}

/// What an aggregator's request signatures are checked with. Which wallet
/// contract an aggregator may speak follows from it: the native API signs
/// with HMAC, RSA contracts (Hub88) with a key pair.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum AggregatorCredential {
    /// A shared HMAC-SHA256 key (kept in the clear: verifying needs it).
    Hmac(Secret),
    /// The aggregator's RSA public key; it signs with the private half.
    RsaPublicKey(RsaPublicKeyDer),
}

/// What an operator may do. The gateway enforces it per route; the ledger
/// itself checks only that access is managed by admins.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// Everything, including operators and aggregators.
    Admin,
    /// Money: funding, payments.
    Finance,
    /// Responsible gambling: limits, exclusions.
    Compliance,
    /// Player support: players, game sessions.
    Support,
    /// Reads only.
    ReadOnly,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 5] = [
        Role::Admin,
        Role::Finance,
        Role::Compliance,
        Role::Support,
        Role::ReadOnly,
    ];

    /// The role's stable lower-case name ("admin", "read-only" …).
    pub const fn name(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Finance => "finance",
            Role::Compliance => "compliance",
            Role::Support => "support",
            Role::ReadOnly => "read-only",
        }
    }

    /// The role of a name given by [`Role::name`].
    pub fn from_name(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|role| role.name() == name)
    }
}

impl Command {
    /// The command itself, or for [`Command::InSession`] the wallet command inside.
    pub fn unwrapped(&self) -> &Command {
        match self {
            Command::InSession { command, .. } => command,
            other => other,
        }
    }

    /// Queries change nothing: the sequencer answers them without a
    /// sequence number or a journal record, and they are not deduplicated.
    pub fn is_read_only(&self) -> bool {
        matches!(self, Command::QueryBalance { .. } | Command::QueryTransaction { .. })
    }

    /// The player the command is about, if it names one (payment settlements
    /// name their payment instead).
    pub fn player(&self) -> Option<PlayerId> {
        match self {
            Command::SetAccountStatus { player, .. }
            | Command::SelfExclude { player, .. }
            | Command::TimeOut { player, .. }
            | Command::SetKyc { player, .. }
            | Command::SetLimit { player, .. }
            | Command::DepositInitiate { player, .. }
            | Command::Deposit { player, .. }
            | Command::WithdrawalRequest { player, .. }
            | Command::Rollback { player, .. }
            | Command::EndRound { player, .. }
            | Command::Adjust { player, .. }
            | Command::BonusForfeit { player, .. }
            | Command::BonusExpire { player, .. }
            | Command::QueryBalance { player, .. } => Some(*player),
            Command::Bet(bet) => Some(bet.player),
            Command::Win(win) => Some(win.player),
            Command::BonusGrant(grant) => Some(grant.player),
            Command::IssueSession { player, .. } => Some(*player),
            Command::InSession { command, .. } => command.player(),
            Command::RegisterPlayer { .. }
            | Command::CreateOperator { .. }
            | Command::CreateAggregator { .. }
            | Command::SetJurisdictionRules { .. }
            | Command::DepositConfirm { .. }
            | Command::DepositFail { .. }
            | Command::WithdrawalApprove { .. }
            | Command::WithdrawalReject { .. }
            | Command::WithdrawalComplete { .. }
            | Command::QueryTransaction { .. } => None,
        }
    }

    /// A short stable name, for logs, metrics and journal filters.
    pub fn kind(&self) -> &'static str {
        match self {
            Command::RegisterPlayer { .. } => "register_player",
            Command::SetJurisdictionRules { .. } => "set_jurisdiction_rules",
            Command::SetAccountStatus { .. } => "set_account_status",
            Command::SelfExclude { .. } => "self_exclude",
            Command::TimeOut { .. } => "time_out",
            Command::SetKyc { .. } => "set_kyc",
            Command::SetLimit { .. } => "set_limit",
            Command::DepositInitiate { .. } => "deposit_initiate",
            Command::DepositConfirm { .. } => "deposit_confirm",
            Command::DepositFail { .. } => "deposit_fail",
            Command::WithdrawalRequest { .. } => "withdrawal_request",
            Command::WithdrawalApprove { .. } => "withdrawal_approve",
            Command::WithdrawalReject { .. } => "withdrawal_reject",
            Command::WithdrawalComplete { .. } => "withdrawal_complete",
            Command::Bet(_) => "bet",
            Command::Win(_) => "win",
            Command::Rollback { .. } => "rollback",
            Command::EndRound { .. } => "end_round",
            Command::Adjust { .. } => "adjust",
            Command::BonusGrant(_) => "bonus_grant",
            Command::BonusForfeit { .. } => "bonus_forfeit",
            Command::BonusExpire { .. } => "bonus_expire",
            Command::QueryBalance { .. } => "query_balance",
            Command::QueryTransaction { .. } => "query_transaction",
            Command::CreateOperator { .. } => "create_operator",
            Command::CreateAggregator { .. } => "create_aggregator",
            Command::IssueSession { .. } => "issue_session",
            Command::Deposit { .. } => "deposit",
            // Journal filters and metrics count a bet as a bet, in a session or not.
            Command::InSession { command, .. } => command.kind(),
        }
    }
}

/// A round as the aggregator names it: rounds are keyed by
/// (source, round id, game).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RoundRef {
    /// The aggregator's round id.
    pub id: RoundId,
    /// The game played.
    pub game: GameCode,
}

/// A stake.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Bet {
    /// The player.
    pub player: PlayerId,
    /// Currency of the stake; the player must hold a wallet in it.
    pub currency: Currency,
    /// Stake, positive. Spent from cash first, then bonus.
    pub amount: Amount,
    /// The round it belongs to (opened by its first bet).
    pub round: RoundRef,
    /// Close the round after this bet.
    pub close_round: bool,
}

/// What a win pays for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WinKind {
    /// The outcome of a round: the round must be known.
    Regular,
    /// A jackpot payout: may come without a known round.
    Jackpot,
    /// A promotional payout (e.g. a tournament prize): may come without a known round.
    Promotional,
}

/// A payout.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Win {
    /// The player.
    pub player: PlayerId,
    /// Currency of the payout.
    pub currency: Currency,
    /// Payout, zero or more (a zero win just records the result).
    pub amount: Amount,
    /// The round it pays.
    pub round: RoundRef,
    /// Regular, jackpot or promotional.
    pub kind: WinKind,
    /// Close the round after this win.
    pub close_round: bool,
    /// The bet this win pays, when the aggregator names it (Hub88 does):
    /// the win is then refused if that bet is unknown, was refused, or was
    /// rolled back (or its rollback came first), so a stake refunded by a
    /// rollback is never also paid out.
    pub bet: Option<ExtId>,
}

/// A bonus offer turned into bonus money.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct BonusGrant {
    /// The player.
    pub player: PlayerId,
    /// The wallet's currency.
    pub currency: Currency,
    /// Bonus money granted, positive.
    pub amount: Amount,
    /// Total stake (after contribution) needed before conversion to cash.
    pub wagering: Amount,
    /// Contribution to wagering, in percent of the stake, per game.
    pub contributions: Vec<(GameCode, u8)>,
    /// Contribution, in percent, of games not listed.
    pub default_contribution_pct: u8,
    /// Most cash a conversion can yield; the rest of the bonus is forfeited.
    pub conversion_cap: Amount,
    /// When the bonus expires unconverted, ms since the epoch.
    pub expires_at_ms: u64,
}

/// Operator-decided account status. Self-exclusion and time-outs are
/// separate, time-bounded blocks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AccountStatus {
    /// May play.
    Active,
    /// Frozen by the operator: no bets, deposits or withdrawals.
    Suspended,
    /// Closed: no bets or deposits; owed money still lands and can be withdrawn.
    Closed,
}

/// Where a player's identity verification stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KycLevel {
    /// Nothing submitted.
    None,
    /// Submitted, not decided.
    Pending,
    /// Verified.
    Verified,
    /// Refused.
    Rejected,
}

/// What a jurisdiction requires before money moves.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct JurisdictionRules {
    /// Verified KYC before any deposit.
    pub kyc_before_deposit: bool,
    /// Verified KYC before any bet.
    pub kyc_before_bet: bool,
    /// Verified KYC before any withdrawal.
    pub kyc_before_withdrawal: bool,
}

/// What a limit counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LimitMetric {
    /// Deposits initiated (failed ones are taken back out).
    Deposit,
    /// Net loss: stakes minus wins and refunds.
    Loss,
    /// Stakes.
    Wager,
}

/// Over how long a limit counts (rolling windows ending now).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LimitPeriod {
    /// The last 24 hours.
    Day,
    /// The last 7 days.
    Week,
    /// The last 30 days.
    Month,
}

/// One responsible-gambling limit: a metric over a period.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LimitKind {
    /// What is counted.
    pub metric: LimitMetric,
    /// Over how long.
    pub period: LimitPeriod,
}
