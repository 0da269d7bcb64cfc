//! Outcomes: what applying a command produced.
//!
//! Business rejections are values, not errors: a refused bet is an
//! [`Outcome::Rejected`] with a specific [`Rejection`], recorded like any
//! other outcome so that a retry gets exactly the same answer.
//!
//! Unlike commands, outcomes and rejections are not split by domain: a
//! single bet can be refused by the players domain (blocked, KYC), by
//! responsible gambling (a limit), by the wallet (funds) or by gaming (the
//! round), and callers map every [`Rejection`] to one answer (an HTTP
//! status, a Hub88 status) in one place. One shared enum keeps those maps
//! exhaustive without a domain wrapper around each variant.

use crate::command::{KycLevel, LimitKind, Role};
use crate::ids::{JackpotCode, OperatorId, PlayerId, SourceId};
use crate::ledger::bonus::{BonusGranted, BonusList};
use crate::ledger::rg::{RgStatus, SessionMove};
use crate::money::{Amount, Currency};

/// The result of one command.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// A player was registered.
    Registered {
        /// The new player's id.
        player: PlayerId,
    },
    /// A non-monetary change took effect at once.
    Accepted,
    /// A limit increase or removal will take effect after the cooling-off.
    Scheduled {
        /// When it takes effect, ms since the epoch.
        effective_at_ms: u64,
    },
    /// Money moved (or was reserved); balances are after the movement.
    Moved(Receipt),
    /// A wallet's balances (query).
    Balance(Balances),
    /// What became of an earlier request (query).
    Transaction(Box<TxSummary>),
    /// Refused; nothing changed (except for the tombstone a rollback of an
    /// unknown bet leaves, see [`Rejection::UnknownTransaction`]).
    Rejected(Rejection),
    /// An operator account was created.
    OperatorCreated {
        /// Its id (who did it, in later commands).
        operator: OperatorId,
        /// The source its own requests carry.
        source: SourceId,
    },
    /// An aggregator was registered.
    AggregatorCreated {
        /// The source its requests carry.
        aggregator: SourceId,
    },
    /// A wallet command inside a game session was refused, as
    /// [`Outcome::Rejected`], with the session wallet's balances at that
    /// moment (recorded, so a retry shows the same ones).
    RejectedInSession {
        /// Why.
        rejection: Rejection,
        /// The session wallet's balances.
        balances: Balances,
    },
    /// A KYC document was recorded (or the one with its number changed).
    KycDocumentRecorded {
        /// Its number in the player's list, from 1.
        document: u32,
    },
    /// A provider's verdict changed nothing: it was about an earlier check,
    /// or a verdict as recent was applied already (a duplicate, or a stale
    /// event arriving late).
    KycEventIgnored {
        /// The player's level, unchanged.
        level: KycLevel,
    },
    /// An operator's role or token changed
    /// ([`crate::access::Command::SetOperatorRole`], `DisableOperator`,
    /// `RotateOperatorToken`). It records the role before, so the journal
    /// alone tells the audit trail what changed.
    OperatorChanged {
        /// The operator's role before the change.
        role_before: Role,
        /// The sequence number of the change: a retry returns this outcome
        /// again under another sequence number, which read copies
        /// ([`crate::ledger::Access::follow`]) must not apply twice.
        seq: u64,
    },
    /// A login was recorded; `blocked` says why the account may not play
    /// now (closed, suspended, self-excluded, timed out), if it may not.
    LoginRecorded {
        /// The block in force at the login, if any.
        blocked: Option<BlockReason>,
    },
    /// A player's responsible-gambling state (query [`crate::Query::Rg`]).
    Rg(Box<RgStatus>),
    /// Money moved inside a game session whose player has reality checks:
    /// [`Outcome::Moved`] with where the session stands (elapsed time, net
    /// position, when the next check is due), which the wallet's reply
    /// carries. Without reality checks a session's movement is `Moved`.
    MovedInSession(Box<SessionMove>),
    /// A bet on a game covered by a jackpot pool that had reached its
    /// must-drop cap: the stake was taken, its contribution added, and the
    /// pool's whole balance paid to the bettor's cash. The receipt covers
    /// both movements.
    JackpotDropped(Box<JackpotPayout>),
    /// A jackpot pool paid a player (an operator's award, or an
    /// aggregator's jackpot win on a covered game): the receipt is the
    /// wallet's movement, `paid` the pool's part of it.
    JackpotPaid(Box<JackpotPayout>),
    /// A bonus was granted ([`crate::bonus::Command::GrantQueued`]): its
    /// serial, whether it is active or where it waits, and the receipt.
    BonusGranted(Box<BonusGranted>),
    /// A wallet's bonuses, the active one then the queue (query
    /// [`crate::Query::Bonuses`]).
    Bonuses(Box<BonusList>),
    /// A player's withdrawal holds after a hold was placed or lifted
    /// ([`crate::payments::Command::HoldWithdrawals`],
    /// [`crate::payments::Command::ReleaseWithdrawals`]): while any
    /// remains, no withdrawal of the player is approved.
    WithdrawalHolds {
        /// How many holds the player has now (0: withdrawals flow).
        holds: u32,
    },
    /// A case was opened (`risk::CaseCommand::Open`).
    CaseOpened {
        /// Its id: the sequence number of the record that opened it.
        case: u64,
    },
    /// A ticket was opened (`support::Command::OpenTicket`).
    TicketOpened {
        /// Its id: the sequence number of the record that opened it.
        ticket: u64,
    },
    /// A note was added on a player (`support::Command::AddNote`).
    NoteAdded {
        /// Its id: the sequence number of its record.
        note: u64,
    },
    /// A problem-gambling marker alert was raised
    /// (`analytics::Command::RaiseMarkerAlert`).
    MarkerAlertRaised {
        /// Its id: the sequence number of the record that raised it.
        alert: u64,
    },
    /// An intervention was sent to a player (`analytics::Command::Intervene`).
    InterventionIssued {
        /// Its id: the sequence number of the record that sent it.
        intervention: u64,
    },
}

impl Outcome {
    /// True unless the command was rejected.
    pub fn is_ok(&self) -> bool {
        self.rejection().is_none()
    }

    /// The receipt of a money movement ([`Outcome::Moved`] or
    /// [`Outcome::MovedInSession`], and the jackpot outcomes).
    pub fn receipt(&self) -> Option<&Receipt> {
        match self {
            Outcome::Moved(receipt) => Some(receipt),
            Outcome::MovedInSession(session_move) => Some(&session_move.receipt),
            Outcome::JackpotDropped(payout) | Outcome::JackpotPaid(payout) => Some(&payout.receipt),
            Outcome::BonusGranted(granted) => Some(&granted.receipt),
            _ => None,
        }
    }

    /// The rejection, if any.
    pub fn rejection(&self) -> Option<&Rejection> {
        match self {
            Outcome::Rejected(rejection) | Outcome::RejectedInSession { rejection, .. } => Some(rejection),
            _ => None,
        }
    }
}

/// A jackpot pool's payout.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct JackpotPayout {
    /// The winner's wallet movement (for a drop, the bet's too).
    pub receipt: Receipt,
    /// The pool.
    pub pool: JackpotCode,
    /// What the pool paid (an aggregator's jackpot win above the pool's
    /// balance is paid by the operator beyond it).
    pub paid: Amount,
    /// What the operator's seed funding put back into the pool after it.
    pub reseed: Amount,
}

/// Proof of a money movement.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Receipt {
    /// The sequence number that moved the money (the transaction id).
    pub seq: u64,
    /// Signed change applied to the cash balance.
    pub cash_delta: Amount,
    /// Signed change applied to the bonus balance.
    pub bonus_delta: Amount,
    /// Balances after the movement.
    pub balances: Balances,
}

/// One wallet's balances.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Balances {
    /// The wallet's currency.
    pub currency: Currency,
    /// Withdrawable money.
    pub cash: Amount,
    /// Bonus money, playable but not withdrawable until converted.
    pub bonus: Amount,
    /// Cash held for pending withdrawals.
    pub reserved: Amount,
    /// Loyalty points (not money).
    pub loyalty_points: u64,
}

/// Where an earlier request stands.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TxSummary {
    /// Sequence number it was applied at.
    pub seq: u64,
    /// Time it was applied at, ms since the epoch.
    pub time_ms: u64,
    /// Its current state.
    pub state: TxState,
    /// The outcome it got.
    pub outcome: Outcome,
}

/// The life-cycle state of a recorded request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TxState {
    /// Applied and final (or rejected).
    Done,
    /// A bet that was later rolled back.
    RolledBack,
    /// A bet id that was rolled back before the bet arrived.
    Tombstone,
    /// A deposit or withdrawal, in the given state.
    Payment(PaymentState),
}

/// States of deposits and withdrawals.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PaymentState {
    /// Deposit started, funds not yet received.
    Initiated,
    /// Deposit funds received.
    Confirmed,
    /// Deposit failed.
    Failed,
    /// Withdrawal requested; amount reserved.
    Requested,
    /// Withdrawal approved; still reserved.
    Approved,
    /// Withdrawal rejected; reserve released.
    Rejected,
    /// Withdrawal paid out.
    Completed,
}

impl PaymentState {
    /// True for the states of a deposit, false for those of a withdrawal.
    pub fn is_deposit(self) -> bool {
        matches!(
            self,
            PaymentState::Initiated | PaymentState::Confirmed | PaymentState::Failed
        )
    }

    /// True once no further transition is possible.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            PaymentState::Confirmed | PaymentState::Failed | PaymentState::Rejected | PaymentState::Completed
        )
    }
}

/// Why a player may not do something right now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BlockReason {
    /// Suspended by the operator.
    Suspended,
    /// Account closed.
    Closed,
    /// Self-excluded until the given time.
    SelfExcluded {
        /// End of the exclusion, ms since the epoch.
        until_ms: u64,
    },
    /// On a time-out until the given time.
    TimedOut {
        /// End of the time-out, ms since the epoch.
        until_ms: u64,
    },
}

/// A limit in the ledger that was hit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Capacity {
    /// `Config::players_max`.
    Players,
    /// `Config::payments_open_max`.
    OpenPayments,
    /// `Config::bonus_contributions_max`.
    BonusContributions,
    /// `Config::operators_max`.
    Operators,
    /// `Config::aggregators_max`.
    Aggregators,
    /// `Config::sessions_max` (sessions still within their retention).
    Sessions,
    /// `players::PROFILE_VERSIONS_MAX`: a jurisdiction's profile versions,
    /// every one still in force or scheduled.
    ProfileVersions,
    /// `games::GAMES_MAX` games or `games::PROVIDERS_MAX` providers in the
    /// catalogue.
    Games,
    /// Jackpot pools ([`crate::ledger::jackpots::POOLS_MAX`]).
    JackpotPools,
    /// A player's withdrawal holds
    /// ([`crate::ledger::payments::WITHDRAWAL_HOLDS_MAX`]).
    WithdrawalHolds,
}

/// Every reason the ledger refuses a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Rejection {
    /// The request id was used before with a different payload.
    Conflict,
    /// No such player.
    UnknownPlayer,
    /// The player holds no wallet in that currency.
    CurrencyMismatch {
        /// The currency asked for.
        currency: Currency,
    },
    /// The player may not do this now.
    PlayerBlocked(BlockReason),
    /// The jurisdiction requires verified KYC first.
    KycRequired {
        /// The player's current level.
        level: KycLevel,
    },
    /// Not enough money.
    InsufficientFunds {
        /// What could have been spent (cash + bonus for bets, cash otherwise).
        available: Amount,
    },
    /// A responsible-gambling limit would be exceeded.
    LimitExceeded {
        /// Which limit.
        limit: LimitKind,
        /// What is left of it in the current window.
        remaining: Amount,
    },
    /// Zero or negative where a positive amount is required (or zero adjustment).
    InvalidAmount,
    /// A balance or total would overflow 64 bits.
    Overflow,
    /// The round is unknown or already closed.
    UnknownRound,
    /// The round belongs to another player.
    RoundPlayerMismatch,
    /// No such transaction. For a rollback, the bet id is remembered so that
    /// the bet, if it arrives late, is refused with [`Rejection::BetRolledBack`].
    UnknownTransaction,
    /// The bet's id was rolled back before the bet arrived.
    BetRolledBack,
    /// The bet was already rolled back.
    AlreadyRolledBack,
    /// The referenced transaction is not of the kind the command needs.
    WrongTransactionKind,
    /// The referenced payment is not in a state that allows this.
    WrongPaymentState {
        /// Its current state.
        state: PaymentState,
    },
    /// A time that must lie in the future does not.
    TimeNotInFuture,
    /// A bonus is already active on this wallet.
    BonusAlreadyActive,
    /// No active bonus on this wallet.
    NoActiveBonus,
    /// The bonus has not expired yet.
    BonusNotExpired,
    /// A contribution percentage above 100.
    InvalidContribution,
    /// A configured capacity of the ledger is exhausted.
    CapacityReached(Capacity),
    /// No such operator.
    UnknownOperator,
    /// The operator's role does not allow this (or, for
    /// [`crate::OperatorId::SYSTEM`], operators exist already).
    NotPermitted,
    /// The name is already taken.
    NameTaken,
    /// The token digest is already in use.
    TokenTaken,
    /// No such aggregator.
    UnknownAggregator,
    /// No such game session (never issued, or past its retention).
    UnknownSession,
    /// The game session ended: bets are refused.
    SessionExpired {
        /// When it ended, ms since the epoch.
        expired_at_ms: u64,
    },
    /// The session belongs to another aggregator, player or currency, or
    /// the command is not a wallet command.
    SessionMismatch,
    /// Another player has the same email, or the same name, date of birth
    /// and postcode (by their blind indexes).
    DuplicatePlayer {
        /// Which of the two matched.
        matched: DuplicateOf,
    },
    /// The player was erased: the profile and status can no longer change.
    PlayerErased,
    /// The profile's data key seals another player's profile.
    ProfileKeyInUse,
    /// Another player has a document with this number.
    KycDocumentTaken,
    /// A document cannot be verified past its expiry date.
    KycDocumentExpired,
    /// The player has as many documents as the ledger keeps
    /// (`players::DOCUMENTS_PER_PLAYER_MAX`).
    KycDocumentsFull,
    /// An operator may not disable themselves.
    SelfDisable,
    /// The change would leave no enabled admin.
    LastAdmin,
    /// The stake is above the jurisdiction's cap for the player's age band.
    StakeCapExceeded {
        /// The cap.
        cap: Amount,
    },
    /// The player's confirmed deposits reached the jurisdiction's
    /// due-diligence threshold: no deposit or bet until a compliance
    /// operator records due diligence.
    DueDiligenceRequired,
    /// The bonus's wagering requirement is above the jurisdiction's cap.
    WageringCapExceeded {
        /// The cap, as a multiple of the bonus.
        cap_x: u32,
    },
    /// A self-exclusion shorter than the jurisdiction's minimum.
    SelfExclusionTooShort {
        /// The minimum, in days.
        minimum_days: u32,
    },
    /// A reality check is due and not yet acknowledged: bets wait for the
    /// front end's acknowledgement (wins and rollbacks still land).
    RealityCheckDue {
        /// When it became due, ms since the epoch.
        due_at_ms: u64,
    },
    /// The play session has lasted as long as the player's session time
    /// limit: bets are refused until the next login.
    SessionTimeLimitReached {
        /// The limit, ms.
        limit_ms: u64,
    },
    /// No play session is open (nothing to acknowledge).
    NoPlaySession,
    /// A reality-check interval or session time limit outside 1 minute to
    /// 24 hours.
    InvalidDuration,
    /// An FX rate prices a currency in itself, or is not positive.
    InvalidFxRate,
    /// A payment method's reference looks like a card number (13 to 19
    /// digits passing the Luhn check): only tokenized references are kept.
    CardNumberAsReference,
    /// The player's withdrawals are held (an AML case is open on them, or
    /// compliance held them): no approval, first, second or single, until
    /// every hold is lifted.
    WithdrawalHeld {
        /// How many holds the player has.
        holds: u32,
    },
    /// The player has no withdrawal hold under this name.
    UnknownWithdrawalHold,
    /// A case command out of bounds: no alerts or too many, unsorted or
    /// repeated, a blank or too long summary, note or finding.
    InvalidCase,
    /// An AML rule's settings out of range (name, window, count, percent,
    /// amounts).
    InvalidRiskRule,
    /// A ticket command out of bounds: a blank or too long subject or
    /// external reference, ticket 0.
    InvalidTicket,
    /// A ticket message out of bounds: blank or too long text, a blank or
    /// too long external author.
    InvalidTicketMessage,
    /// A note on a player out of bounds: blank or too long text.
    InvalidNote,
    /// A marker alert out of bounds: a score or points outside 1–100, no
    /// markers or a repeated one, a blank or too long summary, no alert to
    /// close.
    InvalidMarkerAlert,
    /// An intervention out of bounds: a blank or too long message, or an
    /// answer naming no intervention.
    InvalidIntervention,
    /// An affiliate, commission plan, brand or lobby breaks its rules (a
    /// share or fee over 100 %, a negative CPA, a list over its limit).
    InvalidMarketing,
    /// A segment out of bounds: too many rules, an empty list, a window
    /// or a range out of order.
    InvalidSegment,
    /// A campaign out of bounds: a control group above 90 %, or nothing
    /// to send (no offer and no channel).
    InvalidCampaign,
    /// A free-rounds award out of bounds: no rounds or too many, a stake
    /// not positive, no games, a game twice or too many, an expiry not
    /// after the award; or negative winnings.
    InvalidFreeRounds,
    /// A settlement file's differences exceed what one import may carry.
    ReconciliationTooLarge {
        /// The most one import carries.
        max: u32,
    },
    /// A withdrawal's second approval does not name an accepted first
    /// approval of the same withdrawal by another operator (four eyes).
    FourEyesRequired,
    /// The player's jurisdiction profile does not let a player take back a
    /// withdrawal (UK RTS 14B).
    WithdrawalReversalForbidden,
    /// The deposit is not stale yet: it may expire from this time on.
    DepositNotExpired {
        /// When it may expire, ms since the epoch.
        expires_at_ms: u64,
    },
    /// The catalogue refuses the bet's game (once it holds a game, every
    /// bet's game must be in it): why.
    GameRefused(GameRefusal),
    /// The stake is outside the game's limits for the bet's currency.
    StakeOutsideGameLimits {
        /// The smallest stake the game takes in that currency.
        min: Amount,
        /// The largest.
        max: Amount,
    },
    /// A catalogue command's record is invalid: which part.
    InvalidCatalogueEntry(CatalogueFault),
    /// No jackpot pool of this code.
    UnknownJackpot,
    /// A jackpot pool's record is refused.
    InvalidJackpot(JackpotFault),
    /// The pool holds nothing to award.
    JackpotEmpty,
    /// The wallet's bonus queue is full: a bonus is active and `max` wait
    /// behind it.
    BonusQueueFull {
        /// The most bonuses that may wait.
        max: u32,
    },
    /// The stake is above the max bet of the active bonus.
    BonusMaxBetExceeded {
        /// The largest stake allowed while that bonus is active.
        max: Amount,
    },
    /// No bonus of this serial is active or queued on the wallet.
    UnknownBonus {
        /// The serial asked for.
        serial: u32,
    },
}

/// What is wrong with a jackpot pool's record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum JackpotFault {
    /// Another pool has this code.
    CodeTaken,
    /// No game, or more than a pool covers.
    ListLength,
    /// A game listed twice.
    Duplicate,
    /// Contribution outside 1 to 1,000 basis points.
    Contribution,
    /// A negative seed.
    Seed,
    /// A must-drop cap not above the seed.
    MustDrop,
    /// A game the catalogue does not hold (once it holds any).
    UnknownGame,
    /// A game another pool covers in the same currency.
    Overlap,
}

/// Why the catalogue refuses a bet's game.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GameRefusal {
    /// No game of that code from the bet's aggregator (also answers an
    /// enable or disable of an unknown game).
    Unknown,
    /// The game is disabled.
    Disabled,
    /// The player's jurisdiction is not among the game's allowed ones.
    JurisdictionNotAllowed,
    /// The game has no bet limits in the bet's currency: not offered in it.
    CurrencyNotOffered,
}

/// What is wrong with a provider or game record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CatalogueFault {
    /// The game names a provider the catalogue does not hold.
    UnknownProvider,
    /// The game's aggregator is not one of its provider's aggregators.
    AggregatorNotCarrying,
    /// A list is empty that must not be (a provider's aggregators, a game's
    /// RTP variants, bet limits or allowed jurisdictions), or longer than
    /// its bound.
    ListLength,
    /// The same aggregator, RTP variant, currency or jurisdiction twice.
    Duplicate,
    /// An RTP outside 1..=10,000 basis points, or a configured RTP (the
    /// default or a jurisdiction's) that is not one of the variants.
    Rtp,
    /// A bet limit whose minimum is not positive or exceeds its maximum.
    Limits,
}

/// What a duplicate player matched on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DuplicateOf {
    /// The email address.
    Email,
    /// Name, date of birth and postcode together.
    Identity,
}
