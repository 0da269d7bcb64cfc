//! Hub88's wire: request bodies, response statuses, the response, the
//! amount unit and how our players are named.
//!
//! Parsing is a tolerant reader in Hub88's own terms: fields we do not know
//! are ignored (Hub88 adds fields to its requests over time, and a wallet
//! that refuses them stops taking bets the day they appear); a body that
//! is not a JSON object or lacks a required field is
//! `RS_ERROR_WRONG_SYNTAX`, and a known field of the wrong JSON type is
//! `RS_ERROR_WRONG_TYPES`. Amounts are
//! integers in 1/100,000 of the currency ([`SCALE`]); one that is not a
//! whole number of the currency's minor units, negative, zero where a stake
//! is needed, or too large (beyond 64 bits included, however written) is
//! `RS_ERROR_WRONG_SYNTAX` (the type is right, the value is not one the
//! contract allows), and any other non-integer number is
//! `RS_ERROR_WRONG_TYPES`. Everything here is a pure function of its input.

use engine_core::{Amount, Balances, Currency, PlayerId};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Number, Value};
use utoipa::ToSchema;

/// Header of the base64 RSA-SHA256 signature, on requests and responses
/// (see [`crate::rsa_signature`]).
pub const SIGNATURE_HEADER: &str = "x-hub88-signature";

/// Hub88 amounts and balances count 1/10^5 of the currency's major unit.
pub const SCALE: u32 = 5;

/// Prefix of our players' names in Hub88 (`user`): `player-<id>`, because
/// Hub88 wants user ids of at least 4 characters.
pub const USER_PREFIX: &str = "player-";

/// A Hub88 response status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub enum Status {
    /// `RS_OK`: done (or, for a rollback of a bet we never took, nothing to undo).
    #[serde(rename = "RS_OK")]
    Ok,
    /// `RS_ERROR_UNKNOWN`: anything without a status of its own.
    #[serde(rename = "RS_ERROR_UNKNOWN")]
    Unknown,
    /// `RS_ERROR_INVALID_PARTNER`: the path names no RSA aggregator.
    #[serde(rename = "RS_ERROR_INVALID_PARTNER")]
    InvalidPartner,
    /// `RS_ERROR_INVALID_TOKEN`: unknown token, or one of another user.
    #[serde(rename = "RS_ERROR_INVALID_TOKEN")]
    InvalidToken,
    /// `RS_ERROR_INVALID_GAME`: the game code is not a valid code, or the
    /// catalogue has no such game enabled for the player.
    #[serde(rename = "RS_ERROR_INVALID_GAME")]
    InvalidGame,
    /// `RS_ERROR_WRONG_CURRENCY`: not the session's currency (or no currency we know).
    #[serde(rename = "RS_ERROR_WRONG_CURRENCY")]
    WrongCurrency,
    /// `RS_ERROR_NOT_ENOUGH_MONEY`, with the balance.
    #[serde(rename = "RS_ERROR_NOT_ENOUGH_MONEY")]
    NotEnoughMoney,
    /// `RS_ERROR_USER_DISABLED`: suspended, closed, self-excluded, timed out, or KYC missing.
    #[serde(rename = "RS_ERROR_USER_DISABLED")]
    UserDisabled,
    /// `RS_ERROR_INVALID_SIGNATURE`.
    #[serde(rename = "RS_ERROR_INVALID_SIGNATURE")]
    InvalidSignature,
    /// `RS_ERROR_TOKEN_EXPIRED`: a bet after the session ended.
    #[serde(rename = "RS_ERROR_TOKEN_EXPIRED")]
    TokenExpired,
    /// `RS_ERROR_WRONG_SYNTAX`.
    #[serde(rename = "RS_ERROR_WRONG_SYNTAX")]
    WrongSyntax,
    /// `RS_ERROR_WRONG_TYPES`.
    #[serde(rename = "RS_ERROR_WRONG_TYPES")]
    WrongTypes,
    /// `RS_ERROR_DUPLICATE_TRANSACTION`: the transaction_uuid was used with another payload.
    #[serde(rename = "RS_ERROR_DUPLICATE_TRANSACTION")]
    DuplicateTransaction,
    /// `RS_ERROR_TRANSACTION_DOES_NOT_EXIST`: a win on a round we do not know (or closed).
    #[serde(rename = "RS_ERROR_TRANSACTION_DOES_NOT_EXIST")]
    TransactionDoesNotExist,
    /// `RS_ERROR_TRANSACTION_ROLLED_BACK`: a bet whose rollback came first, or a second rollback.
    #[serde(rename = "RS_ERROR_TRANSACTION_ROLLED_BACK")]
    TransactionRolledBack,
    /// `RS_ERROR_LIMIT_REACHED`: a responsible-gambling limit, or a stake
    /// outside the game's limits.
    #[serde(rename = "RS_ERROR_LIMIT_REACHED")]
    LimitReached,
}

/// Every response body: `user`, `status`, `request_uuid`, `currency`,
/// `balance`, and for `/user/info` the player's details (`country`,
/// `jurisdiction`, `sub_partner_id`, `birth_date`, `registration_date`,
/// `affiliate_id`), each present when known.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct Reply {
    /// The user, as Hub88 names it (`player-<id>`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// The status.
    pub status: Status,
    /// The request's own `request_uuid`, echoed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_uuid: Option<String>,
    /// `/user/info` only: the player's ISO 3166-1 alpha-2 country of
    /// residence (from the profile; the licensing jurisdiction's code when
    /// there is no profile).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    /// `/user/info` only: the licensing authority the player plays under
    /// (`MGA`, `UKGC`), where the jurisdiction has a well-known one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jurisdiction: Option<&'static str>,
    /// `/user/info` only: the operator's sub-partner (brand, site) the
    /// player belongs to: its brand's code, unless it is the default brand.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub_partner_id: Option<String>,
    /// `/user/info` only: date of birth, `YYYY-MM-DD`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub birth_date: Option<String>,
    /// `/user/info` only: registration date (UTC), `YYYY-MM-DD`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registration_date: Option<String>,
    /// `/user/info` only: the affiliate's tracking code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub affiliate_id: Option<String>,
    /// Currency code of the session's wallet.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<&'static str>,
    /// Cash + bonus in 1/100,000 of the currency (rounded down where the
    /// currency has more decimals than that).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub balance: Option<i64>,
}

impl Reply {
    /// A reply with only a status and the request's id.
    pub fn status(status: Status, request_uuid: Option<String>) -> Reply {
        Reply {
            user: None,
            status,
            request_uuid,
            country: None,
            jurisdiction: None,
            birth_date: None,
            registration_date: None,
            affiliate_id: None,
            sub_partner_id: None,
            currency: None,
            balance: None,
        }
    }

    /// Adds the wallet's currency and balance.
    pub fn with_balances(self, balances: &Balances) -> Reply {
        Reply {
            currency: Some(balances.currency.code()),
            balance: Some(balance_units(balances)),
            ..self
        }
    }
}

/// `/user/info`: who a user is.
#[derive(Deserialize, ToSchema)]
pub struct UserInfoRequest {
    /// Our user id, `player-<id>`.
    pub user: String,
    /// Hub88's id of this call, echoed.
    pub request_uuid: String,
}

/// `/user/balance`: the session's wallet.
#[derive(Deserialize, ToSchema)]
pub struct BalanceRequest {
    /// Our user id.
    pub user: String,
    /// The game-launch token (may have expired).
    pub token: String,
    /// Hub88's id of this call.
    pub request_uuid: String,
    /// The game played (informational).
    pub game_code: Option<String>,
    /// Hub88's numeric game id (informational).
    pub game_id: Option<i64>,
    /// The user as the game supplier renamed it (informational).
    pub supplier_user: Option<String>,
}

/// `/transaction/bet` and `/transaction/win` (wins add the reference and `jackpot_win`).
#[derive(Deserialize, ToSchema)]
pub struct TransactionRequest {
    /// Our user id.
    pub user: String,
    /// The game-launch token (bets need it unexpired).
    pub token: String,
    /// Hub88's id of this call, echoed.
    pub request_uuid: String,
    /// The transaction's id: our idempotency key.
    pub transaction_uuid: String,
    /// For a win, the bet it pays: the win is refused if that bet is unknown
    /// or was rolled back.
    pub reference_transaction_uuid: Option<String>,
    /// The round.
    pub round: String,
    /// Close the round after this transaction.
    pub round_closed: Option<bool>,
    /// The game played.
    pub game_code: String,
    /// Hub88's numeric game id (informational).
    pub game_id: Option<i64>,
    /// Currency code; must be the session's.
    pub currency: String,
    /// Integer, 1/100,000 of the currency; a bet's is positive, a win's zero or more.
    #[schema(value_type = i64)]
    pub amount: Number,
    /// A free-round bet (no stake is taken) or its win (a promotional win).
    pub is_free: Option<bool>,
    /// A supplier promotion (Hub88, since May 2025): its bet stakes nothing,
    /// like a free round, and its win (promotional) may name no bet.
    pub is_supplier_promo: Option<bool>,
    /// A jackpot win.
    pub jackpot_win: Option<bool>,
    /// Hub88's aggregated free-bet flag (informational).
    pub is_aggregated: Option<bool>,
    /// The Hub88 reward a free round belongs to (informational).
    pub reward_uuid: Option<String>,
    /// The supplier's transaction id (informational).
    pub supplier_transaction_id: Option<String>,
    /// The user as the supplier renamed it (informational).
    pub supplier_user: Option<String>,
    /// The bet's description, e.g. "zero" at roulette (informational).
    pub bet: Option<String>,
    /// Supplier metadata (informational).
    #[schema(value_type = Option<Object>)]
    pub meta: Option<Value>,
}

/// `/transaction/rollback`: cancels a bet.
#[derive(Deserialize, ToSchema)]
// Named apart from the native API's `RollbackRequest`: components are keyed by name.
#[schema(as = Hub88RollbackRequest)]
pub struct RollbackRequest {
    /// Our user id.
    pub user: String,
    /// The game-launch token (may have expired).
    pub token: String,
    /// Hub88's id of this call, echoed.
    pub request_uuid: String,
    /// The rollback's own id: our idempotency key.
    pub transaction_uuid: String,
    /// The bet to cancel.
    pub reference_transaction_uuid: String,
    /// The bet's round (informational).
    pub round: Option<String>,
    /// Hub88's round-closed flag (informational: a rollback closes nothing).
    pub round_closed: Option<bool>,
    /// The game played (informational).
    pub game_code: Option<String>,
    /// Hub88's numeric game id (informational).
    pub game_id: Option<i64>,
    /// The supplier's transaction id (informational).
    pub supplier_transaction_id: Option<String>,
    /// The user as the supplier renamed it (informational).
    pub supplier_user: Option<String>,
    /// Supplier metadata (informational).
    #[schema(value_type = Option<Object>)]
    pub meta: Option<Value>,
}

/// Parses a body: `RS_ERROR_WRONG_SYNTAX` for anything but a JSON object
/// with the required fields, `RS_ERROR_WRONG_TYPES` for a known field of
/// the wrong type; unknown fields are ignored.
pub fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, Status> {
    let value: Value = serde_json::from_slice(body).map_err(|_| Status::WrongSyntax)?;
    if !value.is_object() {
        return Err(Status::WrongSyntax);
    }
    T::deserialize(&value).map_err(|error| shape_or_type(&error.to_string()))
}

/// serde words the errors of an object's shape (its `missing_field` and
/// `duplicate_field` errors) in fixed phrases; every other data error is a
/// value of the wrong type.
fn shape_or_type(message: &str) -> Status {
    let shape = ["missing field", "duplicate field"];
    if shape.iter().any(|phrase| message.starts_with(phrase)) {
        Status::WrongSyntax
    } else {
        Status::WrongTypes
    }
}

/// The `request_uuid` of a body that may not parse, for echoing in a refusal.
pub fn request_uuid_of(body: &[u8]) -> Option<String> {
    let value: Value = serde_json::from_slice(body).ok()?;
    value.get("request_uuid")?.as_str().map(str::to_owned)
}

/// What an amount may be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stake {
    /// Strictly positive (a bet).
    Positive,
    /// Zero or more, exactly (a free-round bet).
    NonNegative,
    /// Zero or more, rounded down to the minor unit (a win): Hub88's unit
    /// is finer than most currencies' (a crash game may pay 0.137 EUR), and
    /// refusing a payout would leave money owed to the player unpaid on
    /// every retry. The remainder below a cent is not paid.
    Payout,
}

/// An amount in 1/100,000 of `currency` as minor units: exactly, or for a
/// payout rounded down to the minor unit.
pub fn amount(number: &Number, currency: Currency, stake: Stake) -> Result<Amount, Status> {
    let Some(units) = number.as_i64() else {
        return Err(not_an_i64(number));
    };
    if units < 0 {
        return Err(Status::WrongSyntax);
    }
    let exponent = currency.exponent();
    let units = if stake == Stake::Payout && exponent < SCALE {
        units - units % 10_i64.pow(SCALE - exponent)
    } else {
        units
    };
    // Not a whole number of minor units, or too large for them.
    let amount = Amount::from_scaled(units, SCALE, currency).map_err(|_| Status::WrongSyntax)?;
    match stake {
        _ if amount.is_negative() => Err(Status::WrongSyntax),
        Stake::Positive if !amount.is_positive() => Err(Status::WrongSyntax),
        _ => Ok(amount),
    }
}

/// Why a JSON number is not an `i64`: a value beyond 64 bits, in whatever
/// notation, is a value the contract does not allow (`RS_ERROR_WRONG_SYNTAX`);
/// any other number written as a fraction or with an exponent is not an
/// integer (`RS_ERROR_WRONG_TYPES`). serde_json keeps an integer literal
/// beyond `u64` only as an `f64`, so the literal cannot tell; the magnitude can.
fn not_an_i64(number: &Number) -> Status {
    // 2^63: every f64 at least this large (either sign) is outside i64,
    // and every one this large is a whole number.
    const I64_BOUND: f64 = 9_223_372_036_854_775_808.0;
    match number.as_f64() {
        _ if number.is_u64() => Status::WrongSyntax,
        Some(value) if value.abs() >= I64_BOUND => Status::WrongSyntax,
        _ => Status::WrongTypes,
    }
}

/// Cash + bonus (what a bet can spend) in 1/100,000 of the currency:
/// rounded down for currencies with more decimals (BTC, USDT), so a player
/// is never shown more than they can stake; saturated at `i64::MAX`.
pub fn balance_units(balances: &Balances) -> i64 {
    let minor = i128::from(balances.cash.minor()) + i128::from(balances.bonus.minor());
    let exponent = balances.currency.exponent();
    let units = if exponent <= SCALE {
        minor * 10_i128.pow(SCALE - exponent)
    } else {
        minor / 10_i128.pow(exponent - SCALE)
    };
    i64::try_from(units).unwrap_or(i64::MAX)
}

/// Our player as Hub88's `user`.
pub fn user_name(player: PlayerId) -> String {
    format!("{USER_PREFIX}{player}")
}

/// The player a Hub88 `user` names, if it is one of our names (canonical:
/// no leading zeros, so one player has exactly one name).
pub fn user_player(user: &str) -> Option<PlayerId> {
    let digits = user.strip_prefix(USER_PREFIX)?;
    let canonical = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) && !digits.starts_with('0');
    canonical.then(|| digits.parse().ok().map(PlayerId)).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn number(text: &str) -> Number {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn amounts_are_exact_units_of_a_hundred_thousandth() {
        let check = |text: &str, currency, stake, expect: Result<i64, Status>| {
            assert_eq!(
                amount(&number(text), currency, stake).map(Amount::minor),
                expect,
                "{text} {currency}"
            );
        };
        check("1250000", Currency::EUR, Stake::Positive, Ok(1250));
        check("1250001", Currency::EUR, Stake::Positive, Err(Status::WrongSyntax));
        check("0", Currency::EUR, Stake::Positive, Err(Status::WrongSyntax));
        check("0", Currency::EUR, Stake::NonNegative, Ok(0));
        check("-1000", Currency::EUR, Stake::NonNegative, Err(Status::WrongSyntax));
        check("100000", Currency::JPY, Stake::Positive, Ok(1));
        check("1", Currency::BTC, Stake::Positive, Ok(1000));
        check(
            "9223372036854775807",
            Currency::BTC,
            Stake::Positive,
            Err(Status::WrongSyntax),
        );
        check(
            "9223372036854775808",
            Currency::EUR,
            Stake::Positive,
            Err(Status::WrongSyntax),
        );
        check("1.5", Currency::EUR, Stake::Positive, Err(Status::WrongTypes));
        check("1e3", Currency::EUR, Stake::Positive, Err(Status::WrongTypes));
        check("-1.5", Currency::EUR, Stake::Positive, Err(Status::WrongTypes));
        check(
            "9223372036854775807.5",
            Currency::EUR,
            Stake::Positive,
            Err(Status::WrongSyntax),
        );
        check("1.0e18", Currency::EUR, Stake::Positive, Err(Status::WrongTypes));
        // Beyond 64 bits, written any way.
        for beyond in [
            "18446744073709551616",
            "100000000000000000000",
            "-100000000000000000000",
            "-9223372036854775809",
            "1e20",
        ] {
            check(beyond, Currency::EUR, Stake::Positive, Err(Status::WrongSyntax));
        }
    }

    #[test]
    fn balances_are_cash_plus_bonus_rounded_down_to_the_unit() {
        let balances = |currency, cash, bonus| Balances {
            currency,
            cash: Amount::from_minor(cash),
            bonus: Amount::from_minor(bonus),
            reserved: Amount::from_minor(7),
            loyalty_points: 0,
        };
        assert_eq!(balance_units(&balances(Currency::EUR, 10_050, 50)), 10_100_000);
        assert_eq!(balance_units(&balances(Currency::JPY, 5, 0)), 500_000);
        assert_eq!(balance_units(&balances(Currency::BTC, 1_999, 0)), 1);
        assert_eq!(balance_units(&balances(Currency::USDT, 19, 0)), 1);
        assert_eq!(balance_units(&balances(Currency::EUR, i64::MAX, 0)), i64::MAX);
    }

    #[test]
    fn bodies_are_refused_as_syntax_or_type_errors() {
        let check = |body: &str, expect: Result<(), Status>| {
            assert_eq!(decode::<UserInfoRequest>(body.as_bytes()).map(|_| ()), expect, "{body}");
        };
        check(r#"{"user":"player-1","request_uuid":"u"}"#, Ok(()));
        check(r#"{"user":"player-1"}"#, Err(Status::WrongSyntax));
        // A tolerant reader: unknown fields, flat or nested, are ignored.
        check(r#"{"user":"player-1","request_uuid":"u","x":1}"#, Ok(()));
        check(
            r#"{"user":"player-1","request_uuid":"u","x":{"y":[1,{"z":null}]}}"#,
            Ok(()),
        );
        check(r#"{"user":1,"request_uuid":"u"}"#, Err(Status::WrongTypes));
        check(r#"{"user":"player-1","#, Err(Status::WrongSyntax));
        check(r#"["user"]"#, Err(Status::WrongSyntax));
    }

    #[test]
    fn users_are_named_canonically() {
        assert_eq!(user_name(PlayerId(42)), "player-42");
        assert_eq!(user_player("player-42"), Some(PlayerId(42)));
        for other in ["player-042", "player-", "player-0", "42", "player-4x", "Player-42"] {
            assert_eq!(user_player(other), None, "{other}");
        }
    }
}
