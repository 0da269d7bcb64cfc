//! The wire vocabulary shared by the APIs: decimal amounts in a currency's
//! unit (parsed exactly, never through a float), currency codes, bounded
//! ids, and the translation of engine rejections into HTTP errors with
//! stable codes.
//!
//! Everything here is a pure function of its input, so a reply rendered
//! from a recorded outcome is the same bytes every time.

use axum::http::StatusCode;
use engine::command::{LimitMetric, LimitPeriod, RoundRef};
use engine::outcome::{BlockReason, Capacity, CatalogueFault, DuplicateOf, GameRefusal, JackpotFault};
use engine::{Amount, Balances, Currency, ExtId, GameCode, MoneyError, Rejection, RoundId};

use crate::error::ApiError;

/// A currency by its code.
pub fn currency(code: &str) -> Result<Currency, ApiError> {
    Currency::from_code(code)
        .ok_or_else(|| ApiError::bad_request("unknown_currency", format!("unknown currency {code:?}")))
}

/// What an amount may be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sign {
    /// Strictly above zero (stakes, deposits).
    Positive,
    /// Zero or above (wins, limits).
    NonNegative,
}

/// Parses a decimal amount of `currency`, exactly.
pub fn amount(text: &str, currency: Currency, sign: Sign, field: &str) -> Result<Amount, ApiError> {
    let parsed = Amount::parse(text, currency).map_err(|error| money_error(error, field))?;
    match sign {
        Sign::Positive if !parsed.is_positive() => Err(money_error(MoneyError::NotPositive, field)),
        Sign::NonNegative if parsed.is_negative() => Err(ApiError::bad_request(
            "invalid_amount",
            format!("{field} must not be negative"),
        )),
        _ => Ok(parsed),
    }
}

fn money_error(error: MoneyError, field: &str) -> ApiError {
    let code = match error {
        MoneyError::Syntax | MoneyError::NotPositive => "invalid_amount",
        MoneyError::TooManyDecimals { .. } => "too_many_decimals",
        MoneyError::Overflow => "amount_overflow",
        MoneyError::UnknownCurrency => "unknown_currency",
    };
    ApiError::bad_request(code, format!("{field}: {error}"))
}

/// An amount as decimal text with exactly the currency's decimals.
pub fn money(amount: Amount, currency: Currency) -> String {
    amount.to_decimal(currency).to_string()
}

/// A page size from `?limit=`: `default` when absent, refused outside
/// 1..=`max` (every paginated read answers the same error).
pub fn page_limit(limit: Option<usize>, default: usize, max: usize) -> Result<usize, ApiError> {
    let limit = limit.unwrap_or(default);
    if !(1..=max).contains(&limit) {
        return Err(ApiError::bad_request(
            "invalid_request",
            format!("limit must be 1 to {max}"),
        ));
    }
    Ok(limit)
}

/// A bounded external id.
pub fn ext_id(text: &str, field: &str) -> Result<ExtId, ApiError> {
    ExtId::new(text).map_err(|error| ApiError::bad_request("invalid_request", format!("{field}: {error}")))
}

/// A round id.
pub fn round_id(text: &str) -> Result<RoundId, ApiError> {
    RoundId::new(text).map_err(|error| ApiError::bad_request("invalid_request", format!("round_id: {error}")))
}

/// A game code.
pub fn game_code(text: &str) -> Result<GameCode, ApiError> {
    GameCode::new(text).map_err(|error| ApiError::bad_request("invalid_request", format!("game: {error}")))
}

/// A round reference from its `round_id` and `game` fields.
pub fn round(round_id: &str, game: &str) -> Result<RoundRef, ApiError> {
    Ok(RoundRef {
        id: self::round_id(round_id)?,
        game: game_code(game)?,
    })
}

/// Cash and bonus of a wallet, as decimal text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Money {
    /// Currency code.
    pub currency: &'static str,
    /// Cash balance.
    pub cash: String,
    /// Bonus balance.
    pub bonus: String,
}

impl Money {
    /// The text form of a wallet's balances.
    pub fn of(balances: &Balances) -> Money {
        Money {
            currency: balances.currency.code(),
            cash: money(balances.cash, balances.currency),
            bonus: money(balances.bonus, balances.currency),
        }
    }
}

/// Where a play session stands on its reality checks (UKGC RTS 13), as
/// the wallet replies and the RG read show it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct RealityCheckReply {
    /// Whether a check is due: bets are refused (`reality_check_due`) until
    /// the front end reports that the player acknowledged it.
    pub due: bool,
    /// When the check is (or was) due, ms since the epoch.
    pub due_at_ms: u64,
    /// How long the play session has lasted, ms.
    pub elapsed_ms: u64,
    /// The interval between checks, ms.
    pub interval_ms: u64,
    /// When the play session started (login, or the first bet without one), ms since the epoch.
    pub session_started_ms: u64,
    /// Wins minus stakes since the session started, decimal (negative: a loss).
    pub net_position: String,
    /// The currency of `net_position` (the player's base currency).
    pub currency: &'static str,
}

impl RealityCheckReply {
    /// The reply form of the ledger's reality check.
    pub fn of(check: &engine::rg::RealityCheck) -> RealityCheckReply {
        RealityCheckReply {
            due: check.due,
            due_at_ms: check.due_at_ms,
            elapsed_ms: check.elapsed_ms,
            interval_ms: check.interval_ms,
            session_started_ms: check.session_started_ms,
            net_position: money(check.net_position, check.currency),
            currency: check.currency.code(),
        }
    }
}

/// The HTTP error for an engine rejection. `currency` prints the amounts a
/// rejection carries.
pub fn rejection(rejection: &Rejection, currency: Currency) -> ApiError {
    let (status, code, message) = describe(rejection, currency);
    ApiError::new(status, code, message)
}

fn describe(rejection: &Rejection, currency: Currency) -> (StatusCode, &'static str, String) {
    use StatusCode as S;
    let show = |amount: Amount| format!("{} {}", money(amount, currency), currency.code());
    match *rejection {
        Rejection::Conflict => (
            S::CONFLICT,
            "conflict",
            "this id was used before with a different request".into(),
        ),
        Rejection::UnknownPlayer => (S::NOT_FOUND, "unknown_player", "no such player".into()),
        Rejection::CurrencyMismatch { currency } => (
            S::UNPROCESSABLE_ENTITY,
            "currency_mismatch",
            format!("the wallet or session does not hold {}", currency.code()),
        ),
        Rejection::PlayerBlocked(reason) => (S::FORBIDDEN, "player_blocked", blocked(reason)),
        Rejection::KycRequired { level } => (
            S::FORBIDDEN,
            "kyc_required",
            format!("verified KYC is required (the player's level is {level:?})"),
        ),
        Rejection::InsufficientFunds { available } => (
            S::UNPROCESSABLE_ENTITY,
            "insufficient_funds",
            format!("insufficient funds: {} available", show(available)),
        ),
        Rejection::LimitExceeded { limit, remaining } => (
            S::FORBIDDEN,
            "limit_exceeded",
            format!(
                "the {} {} limit would be exceeded: {} left",
                period_name(limit.period),
                metric_name(limit.metric),
                show(remaining)
            ),
        ),
        Rejection::InvalidAmount => (
            S::BAD_REQUEST,
            "invalid_amount",
            "the amount is not allowed here".into(),
        ),
        Rejection::Overflow => (
            S::UNPROCESSABLE_ENTITY,
            "overflow",
            "a balance or total would overflow".into(),
        ),
        Rejection::UnknownRound => (S::NOT_FOUND, "unknown_round", "the round is unknown or closed".into()),
        Rejection::RoundPlayerMismatch => (
            S::CONFLICT,
            "round_player_mismatch",
            "the round belongs to another player".into(),
        ),
        Rejection::UnknownTransaction => (S::NOT_FOUND, "unknown_transaction", "no such transaction".into()),
        Rejection::BetRolledBack => (
            S::CONFLICT,
            "bet_rolled_back",
            "the bet was rolled back (or its rollback came first)".into(),
        ),
        Rejection::AlreadyRolledBack => (
            S::CONFLICT,
            "already_rolled_back",
            "the bet was already rolled back".into(),
        ),
        Rejection::WrongTransactionKind => (
            S::CONFLICT,
            "wrong_transaction_kind",
            "the referenced transaction is of another kind".into(),
        ),
        Rejection::WrongPaymentState { state } => {
            (S::CONFLICT, "wrong_payment_state", format!("the payment is {state:?}"))
        }
        Rejection::TimeNotInFuture => (
            S::BAD_REQUEST,
            "time_not_in_future",
            "the time must lie in the future".into(),
        ),
        Rejection::BonusAlreadyActive => (S::CONFLICT, "bonus_already_active", "a bonus is already active".into()),
        Rejection::NoActiveBonus => (S::CONFLICT, "no_active_bonus", "no bonus is active".into()),
        Rejection::BonusNotExpired => (S::CONFLICT, "bonus_not_expired", "the bonus has not expired".into()),
        Rejection::BonusQueueFull { max } => (
            S::CONFLICT,
            "bonus_queue_full",
            format!("{max} bonuses already wait behind the active one"),
        ),
        Rejection::BonusMaxBetExceeded { max } => (
            S::FORBIDDEN,
            "bonus_max_bet_exceeded",
            format!("the active bonus allows stakes up to {}", show(max)),
        ),
        Rejection::UnknownBonus { serial } => (
            S::NOT_FOUND,
            "unknown_bonus",
            format!("no bonus {serial} is active or queued on this wallet"),
        ),
        Rejection::InvalidContribution => (
            S::BAD_REQUEST,
            "invalid_contribution",
            "a contribution is above 100 %".into(),
        ),
        Rejection::CapacityReached(capacity) => (
            S::SERVICE_UNAVAILABLE,
            "capacity_reached",
            format!("the ledger holds no more {}", capacity_name(capacity)),
        ),
        Rejection::UnknownOperator => (S::FORBIDDEN, "unknown_operator", "no such operator".into()),
        Rejection::NotPermitted => (
            S::FORBIDDEN,
            "forbidden",
            "the operator's role does not allow this".into(),
        ),
        Rejection::NameTaken => (S::CONFLICT, "name_taken", "the name is already taken".into()),
        Rejection::TokenTaken => (S::CONFLICT, "token_taken", "the token is already in use".into()),
        Rejection::UnknownAggregator => (S::NOT_FOUND, "unknown_aggregator", "no such aggregator".into()),
        Rejection::UnknownSession => (S::UNAUTHORIZED, "unknown_token", "unknown game-launch token".into()),
        Rejection::SessionExpired { expired_at_ms } => (
            S::UNAUTHORIZED,
            "session_expired",
            format!("the game session ended at {expired_at_ms} ms"),
        ),
        Rejection::SessionMismatch => (
            S::FORBIDDEN,
            "session_mismatch",
            "the game session belongs to another aggregator or player".into(),
        ),
        Rejection::DuplicatePlayer { matched } => (
            S::CONFLICT,
            "duplicate_player",
            match matched {
                DuplicateOf::Email => "a player with this email is already registered".into(),
                DuplicateOf::Identity => {
                    "a player with this name, date of birth and postcode is already registered".into()
                }
            },
        ),
        Rejection::PlayerErased => (S::GONE, "player_erased", "the player's profile was erased".into()),
        Rejection::SelfDisable => (
            S::CONFLICT,
            "cannot_disable_self",
            "an operator cannot disable themselves".into(),
        ),
        Rejection::LastAdmin => (
            S::CONFLICT,
            "last_admin",
            "the change would leave no enabled admin".into(),
        ),
        Rejection::RealityCheckDue { due_at_ms } => (
            S::FORBIDDEN,
            "reality_check_due",
            format!("a reality check is due since {due_at_ms} ms: bets wait until the player acknowledges it"),
        ),
        Rejection::SessionTimeLimitReached { limit_ms } => (
            S::FORBIDDEN,
            "session_time_limit_reached",
            format!("the play session reached the player's {limit_ms} ms limit: bets wait for the next login"),
        ),
        Rejection::NoPlaySession => (
            S::CONFLICT,
            "no_play_session",
            "the player has no play session open: there is no reality check to acknowledge".into(),
        ),
        Rejection::InvalidDuration => (
            S::BAD_REQUEST,
            "invalid_duration",
            "a reality-check interval or session time limit is 1 minute to 24 hours".into(),
        ),
        Rejection::InvalidFxRate => (
            S::BAD_REQUEST,
            "invalid_fx_rate",
            "an FX rate is positive and prices one currency in another".into(),
        ),
        Rejection::CardNumberAsReference => (
            S::UNPROCESSABLE_ENTITY,
            "card_number_refused",
            "a payment method's reference must be a token, the last four digits or an address, never a card number"
                .into(),
        ),
        Rejection::InvalidCase => (
            S::BAD_REQUEST,
            "invalid_case",
            "a case takes 1 to 100 alerts, a summary of 1 to 500 bytes and notes of 1 to 4000 bytes of text".into(),
        ),
        Rejection::InvalidMarketing => (
            S::BAD_REQUEST,
            "invalid_marketing",
            "shares and fees are 0 to 10000 basis points, CPA amounts not negative, and lists within their limits"
                .into(),
        ),
        Rejection::InvalidRiskRule => (
            S::BAD_REQUEST,
            "invalid_rule",
            "a rule's window is at most 366 days, its count 1 to 10000, its percent 0 to 100, its amounts positive"
                .into(),
        ),
        Rejection::InvalidTicket => (
            S::BAD_REQUEST,
            "invalid_ticket",
            "a ticket's subject is 1 to 200 bytes of text and its external id 1 to 64".into(),
        ),
        Rejection::InvalidTicketMessage => (
            S::BAD_REQUEST,
            "invalid_message",
            "a ticket message is 1 to 8000 bytes of text and an external author 1 to 64".into(),
        ),
        Rejection::InvalidNote => (
            S::BAD_REQUEST,
            "invalid_note",
            "a note is 1 to 4000 bytes of text, no control characters but line breaks".into(),
        ),
        Rejection::InvalidMarkerAlert => (
            S::BAD_REQUEST,
            "invalid_marker_alert",
            "a marker alert has a score of 1 to 100, distinct markers of 1 to 100 points and a summary of 1 to 1000 bytes of text"
                .into(),
        ),
        Rejection::InvalidIntervention => (
            S::BAD_REQUEST,
            "invalid_intervention",
            "an intervention's message is 1 to 1000 bytes of text; an answer names an intervention".into(),
        ),
        Rejection::InvalidSegment => (
            S::BAD_REQUEST,
            "invalid_segment",
            "a segment has at most 32 rules, each list 1 to 32 values, windows of 1 to 3660 days and ranges in order"
                .into(),
        ),
        Rejection::InvalidCampaign => (
            S::BAD_REQUEST,
            "invalid_campaign",
            "a campaign's control group is at most 90 % and it sends something: an offer, a message, or both".into(),
        ),
        Rejection::InvalidFreeRounds => (
            S::BAD_REQUEST,
            "invalid_free_rounds",
            "free rounds are 1 to 10,000 rounds at a positive stake on 1 to 256 distinct games, expiring after the award; winnings are not negative".into(),
        ),
        Rejection::ReconciliationTooLarge { max } => (
            S::PAYLOAD_TOO_LARGE,
            "reconciliation_too_large",
            format!("a settlement file may differ from the ledger in at most {max} rows per import"),
        ),
        Rejection::WithdrawalHeld { holds } => (
            S::CONFLICT,
            "withdrawal_held",
            format!(
                "the player's withdrawals are held ({holds} hold(s): an AML case is open on the player, or compliance held them) until every hold is lifted"
            ),
        ),
        Rejection::UnknownWithdrawalHold => (
            S::NOT_FOUND,
            "unknown_withdrawal_hold",
            "the player has no withdrawal hold under this name".into(),
        ),
        Rejection::FourEyesRequired => (
            S::CONFLICT,
            "four_eyes_required",
            "this withdrawal needs a second approval by another operator than the first".into(),
        ),
        Rejection::WithdrawalReversalForbidden => (
            S::FORBIDDEN,
            "withdrawal_reversal_forbidden",
            "the player's jurisdiction does not let a player take back a withdrawal".into(),
        ),
        Rejection::DepositNotExpired { expires_at_ms } => (
            S::CONFLICT,
            "deposit_not_expired",
            format!("the deposit may expire from {expires_at_ms} ms on"),
        ),
        Rejection::ProfileKeyInUse => (
            S::CONFLICT,
            "conflict",
            "the profile's data key belongs to another player (an Idempotency-Key reused after its retention?)".into(),
        ),
        Rejection::KycDocumentTaken => (
            S::CONFLICT,
            "kyc_document_taken",
            "another player has a document with this number".into(),
        ),
        Rejection::KycDocumentExpired => (
            S::UNPROCESSABLE_ENTITY,
            "kyc_document_expired",
            "a document past its expiry date cannot be verified".into(),
        ),
        Rejection::KycDocumentsFull => (
            S::CONFLICT,
            "kyc_documents_full",
            "the player has as many documents as are kept".into(),
        ),
        Rejection::StakeCapExceeded { cap } => (
            S::FORBIDDEN,
            "stake_cap_exceeded",
            format!("the jurisdiction caps a stake at {} for this player", show(cap)),
        ),
        Rejection::DueDiligenceRequired => (
            S::FORBIDDEN,
            "due_diligence_required",
            "the player's deposits reached the due-diligence threshold: no deposit or bet until due diligence is recorded"
                .into(),
        ),
        Rejection::WageringCapExceeded { cap_x } => (
            S::UNPROCESSABLE_ENTITY,
            "wagering_cap_exceeded",
            format!("the jurisdiction caps bonus wagering at {cap_x} times the bonus"),
        ),
        Rejection::SelfExclusionTooShort { minimum_days } => (
            S::UNPROCESSABLE_ENTITY,
            "self_exclusion_too_short",
            format!("the jurisdiction's shortest self-exclusion is {minimum_days} days"),
        ),
        Rejection::GameRefused(refusal) => game_refused(refusal),
        Rejection::StakeOutsideGameLimits { min, max } => (
            S::FORBIDDEN,
            "stake_outside_game_limits",
            format!("the game takes stakes from {} to {} in this currency", show(min), show(max)),
        ),
        Rejection::InvalidCatalogueEntry(fault) => (
            S::UNPROCESSABLE_ENTITY,
            "invalid_catalogue_entry",
            catalogue_fault(fault).into(),
        ),
        Rejection::UnknownJackpot => (S::NOT_FOUND, "unknown_jackpot", "no jackpot pool has this code".into()),
        Rejection::InvalidJackpot(JackpotFault::CodeTaken) => (
            S::CONFLICT,
            "jackpot_exists",
            "a jackpot pool with this code exists".into(),
        ),
        Rejection::InvalidJackpot(fault) => (S::UNPROCESSABLE_ENTITY, "invalid_jackpot", jackpot_fault(fault).into()),
        Rejection::JackpotEmpty => (
            S::CONFLICT,
            "jackpot_empty",
            "the jackpot pool holds nothing to award".into(),
        ),
    }
}

fn jackpot_fault(fault: JackpotFault) -> &'static str {
    match fault {
        JackpotFault::CodeTaken => "a jackpot pool with this code exists",
        JackpotFault::ListLength => "a pool covers 1 to 10000 games",
        JackpotFault::Duplicate => "a game is listed twice",
        JackpotFault::Contribution => "the contribution is outside 1 to 1000 basis points",
        JackpotFault::Seed => "the seed is negative",
        JackpotFault::MustDrop => "the must-drop cap is not above the seed",
        JackpotFault::UnknownGame => "a game is not in the catalogue",
        JackpotFault::Overlap => "a game is covered by another pool in this currency",
    }
}

/// The code and message of a bet the catalogue refuses (an enable or
/// disable of an unknown game is `unknown_game` too, 404).
fn game_refused(refusal: GameRefusal) -> (StatusCode, &'static str, String) {
    match refusal {
        GameRefusal::Unknown => (
            StatusCode::NOT_FOUND,
            "unknown_game",
            "the catalogue holds no game of this code from this aggregator".into(),
        ),
        GameRefusal::Disabled => (StatusCode::FORBIDDEN, "game_disabled", "the game is disabled".into()),
        GameRefusal::JurisdictionNotAllowed => (
            StatusCode::FORBIDDEN,
            "game_not_allowed_in_jurisdiction",
            "the game may not be played in the player's jurisdiction".into(),
        ),
        GameRefusal::CurrencyNotOffered => (
            StatusCode::FORBIDDEN,
            "game_currency_not_offered",
            "the game has no bet limits in this currency".into(),
        ),
    }
}

fn catalogue_fault(fault: CatalogueFault) -> &'static str {
    match fault {
        CatalogueFault::UnknownProvider => "the game's provider is not in the catalogue",
        CatalogueFault::AggregatorNotCarrying => {
            "the aggregator does not carry this provider (or still carries one of its games)"
        }
        CatalogueFault::ListLength => {
            "a list is empty or too long (aggregators, RTP variants, bet limits, allowed jurisdictions)"
        }
        CatalogueFault::Duplicate => "an aggregator, RTP variant, currency or jurisdiction is listed twice",
        CatalogueFault::Rtp => {
            "an RTP is outside 1 to 10000 basis points, or a configured RTP is not one of the variants"
        }
        CatalogueFault::Limits => "a bet limit's minimum is not positive or exceeds its maximum",
    }
}

fn blocked(reason: BlockReason) -> String {
    match reason {
        BlockReason::Suspended => "the account is suspended".into(),
        BlockReason::Closed => "the account is closed".into(),
        BlockReason::SelfExcluded { until_ms } => format!("the player is self-excluded until {until_ms} ms"),
        BlockReason::TimedOut { until_ms } => format!("the player is on a time-out until {until_ms} ms"),
    }
}

/// Wire name of a limit metric.
pub fn metric_name(metric: LimitMetric) -> &'static str {
    match metric {
        LimitMetric::Deposit => "deposit",
        LimitMetric::Loss => "loss",
        LimitMetric::Wager => "wager",
    }
}

/// Wire name of a limit period.
pub fn period_name(period: LimitPeriod) -> &'static str {
    match period {
        LimitPeriod::Day => "day",
        LimitPeriod::Week => "week",
        LimitPeriod::Month => "month",
    }
}

fn capacity_name(capacity: Capacity) -> &'static str {
    match capacity {
        Capacity::Players => "players",
        Capacity::OpenPayments => "open payments",
        Capacity::BonusContributions => "bonus contributions",
        Capacity::Operators => "operators",
        Capacity::Aggregators => "aggregators",
        Capacity::Sessions => "game sessions",
        Capacity::ProfileVersions => "profile versions of the jurisdiction",
        Capacity::Games => "games or game providers",
        Capacity::JackpotPools => "jackpot pools",
        Capacity::WithdrawalHolds => "withdrawal holds of the player",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_parse_exactly_or_are_refused_with_a_code() {
        let eur = Currency::EUR;
        assert_eq!(
            amount("12.5", eur, Sign::Positive, "amount"),
            Ok(Amount::from_minor(1250))
        );
        assert_eq!(amount("0", eur, Sign::NonNegative, "amount"), Ok(Amount::ZERO));
        let code = |text: &str, sign| amount(text, eur, sign, "amount").unwrap_err().code;
        assert_eq!(code("0", Sign::Positive), "invalid_amount");
        assert_eq!(code("-1", Sign::Positive), "invalid_amount");
        assert_eq!(code("-1", Sign::NonNegative), "invalid_amount");
        assert_eq!(code("1.005", Sign::Positive), "too_many_decimals");
        assert_eq!(code("99999999999999999999", Sign::Positive), "amount_overflow");
        assert_eq!(code("1e3", Sign::Positive), "invalid_amount");
        assert_eq!(money(Amount::from_minor(1250), eur), "12.50");
        assert_eq!(money(Amount::from_minor(5), Currency::JPY), "5");
        assert_eq!(currency("XYZ").unwrap_err().code, "unknown_currency");
    }
}
