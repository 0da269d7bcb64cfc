//! Evolution's One Wallet wire: the request bodies (JSON, unknown fields
//! ignored), the statuses, exact decimal amounts and the JSON replies.
//!
//! Amounts are JSON numbers with decimals (`5.50`); they are read from
//! their exact text (`RawValue`) and parsed by `Amount::parse`, so no float
//! touches them, and printed exactly ([`crate::contracts::json`]).

use engine::{Amount, Balances, Currency};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::contracts::json::Json;

/// The statuses this wallet answers with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Done.
    Ok,
    /// The outcome is unknown (busy, stopping, in doubt): Evolution retransmits.
    TemporaryError,
    /// `authToken` missing or wrong, or the path names no Evolution aggregator.
    InvalidTokenId,
    /// `sid` unknown, another aggregator's or player's, or expired (`check`, `debit`).
    InvalidSid,
    /// Suspended, closed, self-excluded, timed out, KYC or a limit.
    AccountLocked,
    /// Not enough money for the debit.
    InsufficientFunds,
    /// A credit or cancel of a debit we never took.
    BetDoesNotExist,
    /// A second settlement (credit or cancel) of a bet, or a debit after its cancel.
    BetAlreadySettled,
    /// A malformed body, a missing or bad field, another currency; a game
    /// the catalogue refuses, or a stake outside its limits.
    InvalidParameter,
    /// Anything else.
    UnknownError,
}

impl Status {
    /// The status as Evolution spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::TemporaryError => "TEMPORARY_ERROR",
            Status::InvalidTokenId => "INVALID_TOKEN_ID",
            Status::InvalidSid => "INVALID_SID",
            Status::AccountLocked => "ACCOUNT_LOCKED",
            Status::InsufficientFunds => "INSUFFICIENT_FUNDS",
            Status::BetDoesNotExist => "BET_DOES_NOT_EXIST",
            Status::BetAlreadySettled => "BET_ALREADY_SETTLED",
            Status::InvalidParameter => "INVALID_PARAMETER",
            Status::UnknownError => "UNKNOWN_ERROR",
        }
    }
}

/// The query every call carries.
#[derive(Deserialize)]
pub struct Auth {
    /// The static token agreed with Evolution.
    #[serde(rename = "authToken")]
    pub auth_token: Option<String>,
}

/// Every call's body: the fields the calls share and, per call, the
/// transaction it carries. Fields we do not know are ignored.
#[derive(Deserialize)]
pub struct Request {
    /// The session id: our game-launch token.
    pub sid: String,
    /// Our id of the player (`player-<id>`).
    #[serde(rename = "userId")]
    pub user_id: String,
    /// Evolution's id of this request, echoed.
    pub uuid: String,
    /// The wallet's currency (money calls and `balance`).
    pub currency: Option<String>,
    /// The game round (`id`) and game type (`type`).
    pub game: Option<Game>,
    /// `debit`, `credit`, `cancel`.
    pub transaction: Option<Transaction>,
    /// `promo_payout`.
    #[serde(rename = "promoTransaction")]
    pub promo_transaction: Option<PromoTransaction>,
}

/// The game a call is about.
#[derive(Deserialize)]
pub struct Game {
    /// The game round's id.
    pub id: Option<String>,
    /// The game type (`blackjack`, `roulette` …).
    #[serde(rename = "type")]
    pub kind: Option<String>,
}

/// A debit, credit or cancel.
#[derive(Deserialize)]
pub struct Transaction {
    /// This transaction's id.
    pub id: String,
    /// The bet it belongs to: a debit's own, a credit's or cancel's debit.
    #[serde(rename = "refId")]
    pub ref_id: String,
    /// Major units, a JSON number, read from its text.
    pub amount: Box<RawValue>,
}

/// A promotional payout.
#[derive(Deserialize)]
pub struct PromoTransaction {
    /// Its kind (`FreeRoundPlayableSpent`, `JackpotWin` …).
    #[serde(rename = "type")]
    pub kind: String,
    /// Its id: the idempotency key.
    pub id: String,
    /// Major units, a JSON number, read from its text.
    pub amount: Box<RawValue>,
}

/// Parses a body; anything malformed, or a known field of the wrong type or
/// missing, is `INVALID_PARAMETER`.
pub fn decode(body: &[u8]) -> Result<Request, Status> {
    serde_json::from_slice(body).map_err(|_| Status::InvalidParameter)
}

/// The `uuid` of a body that may not parse, to echo in a refusal.
pub fn uuid_of(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    value.get("uuid")?.as_str().map(str::to_owned)
}

/// An amount from its JSON number text, exactly: a string, an exponent,
/// more decimals than the currency has, or a sign the call does not allow
/// is `INVALID_PARAMETER`.
pub fn amount(raw: &RawValue, currency: Currency, positive: bool) -> Result<Amount, Status> {
    let amount = Amount::parse(raw.get(), currency).map_err(|_| Status::InvalidParameter)?;
    let allowed = if positive {
        amount.is_positive()
    } else {
        !amount.is_negative()
    };
    allowed.then_some(amount).ok_or(Status::InvalidParameter)
}

/// A reply: `status`, then what is known (`sid`, `balance`, `bonus`), then
/// the request's `uuid`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reply {
    /// `check`: the session id to use (the same one).
    pub sid: Option<String>,
    /// `balance` (cash + bonus) and `bonus`.
    pub balances: Option<Balances>,
}

impl Reply {
    /// The JSON bytes of this reply with `status`, echoing `uuid`.
    pub fn render(&self, status: Status, uuid: Option<&str>) -> Vec<u8> {
        let mut json = Json::default();
        json.text("status", status.as_str());
        if let Some(sid) = &self.sid {
            json.text("sid", sid);
        }
        if let Some(balances) = &self.balances {
            let total = balances
                .cash
                .checked_add(balances.bonus)
                .unwrap_or(Amount::from_minor(i64::MAX));
            json.money("balance", total, balances.currency);
            json.money("bonus", balances.bonus, balances.currency);
        }
        if let Some(uuid) = uuid {
            json.text("uuid", uuid);
        }
        json.finish().into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(text: &str) -> Box<RawValue> {
        RawValue::from_string(text.to_owned()).unwrap()
    }

    #[test]
    fn amounts_are_read_from_their_exact_text() {
        let check = |text: &str, positive, expect: Result<i64, Status>| {
            assert_eq!(
                amount(&raw(text), Currency::EUR, positive).map(Amount::minor),
                expect,
                "{text}"
            );
        };
        check("5.50", true, Ok(550));
        check("5", true, Ok(500));
        check("0", false, Ok(0));
        check("0", true, Err(Status::InvalidParameter));
        check("0.005", true, Err(Status::InvalidParameter));
        check("-1", false, Err(Status::InvalidParameter));
        check("1e2", true, Err(Status::InvalidParameter));
        check("\"5.50\"", true, Err(Status::InvalidParameter));
        // 0.1 + 0.2 as floats is not 0.3; as text it is exact.
        check("0.30", true, Ok(30));
    }

    #[test]
    fn bodies_ignore_unknown_fields_and_replies_are_exact() {
        let body = br#"{"sid":"s","userId":"player-1","uuid":"u","new":{"x":1},
            "transaction":{"id":"D1","refId":"R1","amount":5.50,"extra":true}}"#;
        let request = decode(body).map_err(|status| status.as_str()).unwrap();
        assert_eq!(request.transaction.unwrap().amount.get(), "5.50");
        assert_eq!(
            decode(br#"{"sid":"s","uuid":"u"}"#).err(),
            Some(Status::InvalidParameter)
        );
        assert_eq!(uuid_of(br#"{"uuid":"u-1","sid":1}"#).as_deref(), Some("u-1"));
        let balances = Balances {
            currency: Currency::EUR,
            cash: Amount::from_minor(9_935),
            bonus: Amount::from_minor(100),
            reserved: Amount::ZERO,
            loyalty_points: 0,
        };
        let reply = Reply {
            sid: None,
            balances: Some(balances),
        };
        assert_eq!(
            String::from_utf8(reply.render(Status::Ok, Some("u"))).unwrap(),
            r#"{"status":"OK","balance":100.35,"bonus":1.00,"uuid":"u"}"#
        );
        assert_eq!(
            String::from_utf8(Reply::default().render(Status::InvalidSid, None)).unwrap(),
            r#"{"status":"INVALID_SID"}"#
        );
    }
}
