//! Pragmatic Play's wire: form-encoded parameters, their MD5 hash, decimal
//! amounts in major units, the error codes and the JSON replies.
//!
//! Everything here is a pure function of its input. Amounts are parsed
//! exactly (`Amount::parse`: no floats, no more decimals than the currency
//! has) and printed exactly ([`crate::contracts::json`]).

use std::borrow::Cow;

use engine::{Amount, Balances, Currency, HashKey, Jurisdiction};

use crate::contracts::json::Json;

/// Pragmatic Play's error codes, those this wallet answers with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// 0: done.
    Success,
    /// 1: not enough money for the bet.
    InsufficientBalance,
    /// 2: `userId` names no player of ours (case-sensitive).
    PlayerNotFound,
    /// 3: the player may not bet (KYC required; the bet's refund came first;
    /// the game is not offered in the player's jurisdiction or currency).
    BetNotAllowed,
    /// 4: unknown, foreign or expired token, or a token of another player.
    AuthenticationFailed,
    /// 5: the hash is missing or wrong, or the path names no Pragmatic partner.
    InvalidHash,
    /// 6: the player is suspended, closed, self-excluded or timed out.
    PlayerFrozen,
    /// 7: a parameter is missing, repeated or malformed.
    BadParameters,
    /// 8: the game id is not a valid game code, or the catalogue has no
    /// such game from this partner, or has it disabled.
    GameNotFound,
    /// 50: a responsible-gambling limit (wager, loss, deposit) was reached.
    BetLimit,
    /// 100: the outcome is unknown (busy, stopping, commit in doubt): retry.
    InternalRetry,
    /// 120: the request cannot be applied and retrying will not help.
    InternalNoRetry,
    /// 130: the round could not be ended.
    EndRound,
    /// 210: a reality check is due; the bet waits for the player to
    /// acknowledge it (Pragmatic Play's "reality check warning").
    RealityCheck,
    /// 310: the stake is outside the game's limits in the bet's currency.
    BetOutsideGameLimits,
}

impl Error {
    /// The numeric code.
    pub fn code(self) -> u16 {
        match self {
            Error::Success => 0,
            Error::InsufficientBalance => 1,
            Error::PlayerNotFound => 2,
            Error::BetNotAllowed => 3,
            Error::AuthenticationFailed => 4,
            Error::InvalidHash => 5,
            Error::PlayerFrozen => 6,
            Error::BadParameters => 7,
            Error::GameNotFound => 8,
            Error::BetLimit => 50,
            Error::InternalRetry => 100,
            Error::InternalNoRetry => 120,
            Error::EndRound => 130,
            Error::RealityCheck => 210,
            Error::BetOutsideGameLimits => 310,
        }
    }

    /// The `description` sent with it.
    pub fn description(self) -> &'static str {
        match self {
            Error::Success => "Success",
            Error::InsufficientBalance => "Insufficient balance",
            Error::PlayerNotFound => "Player not found",
            Error::BetNotAllowed => "Bet is not allowed",
            Error::AuthenticationFailed => "Player authentication failed",
            Error::InvalidHash => "Invalid hash code",
            Error::PlayerFrozen => "Player is frozen",
            Error::BadParameters => "Bad parameters",
            Error::GameNotFound => "Game is not found or disabled",
            Error::BetLimit => "Bet limit has been reached",
            Error::InternalRetry => "Internal server error, retry",
            Error::InternalNoRetry => "Internal server error",
            Error::EndRound => "Internal server error on endRound",
            Error::RealityCheck => "Reality check warning",
            Error::BetOutsideGameLimits => "Bet is outside the game's limits",
        }
    }
}

/// A request's parameters, as posted (percent-decoded, in their order).
#[derive(Debug)]
pub struct Params<'a>(Vec<(Cow<'a, str>, Cow<'a, str>)>);

impl<'a> Params<'a> {
    /// Parses a form body. A parameter given twice is refused: which one
    /// the hash covered would be a guess.
    pub fn parse(body: &'a [u8]) -> Result<Params<'a>, Error> {
        let pairs: Vec<_> = form_urlencoded::parse(body).collect();
        let mut keys: Vec<&str> = pairs.iter().map(|(key, _)| key.as_ref()).collect();
        keys.sort_unstable();
        if keys.windows(2).any(|pair| pair[0] == pair[1]) {
            return Err(Error::BadParameters);
        }
        Ok(Params(pairs))
    }

    /// A parameter, if given (empty counts as not given).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(name, _)| name == key)
            .map(|(_, value)| value.as_ref())
            .filter(|value| !value.is_empty())
    }

    /// A parameter the documentation marks required.
    pub fn required(&self, key: &str) -> Result<&str, Error> {
        self.get(key).ok_or(Error::BadParameters)
    }

    /// Whether `hash` is the MD5, in hex, of every other parameter as
    /// `key=value` sorted by key and joined with `&`, followed by `key`.
    /// Parameters we do not read are hashed too: the partner signed them.
    pub fn hash_matches(&self, key: &HashKey) -> bool {
        let Some(given) = self.get("hash") else {
            return false;
        };
        protocol::pragmatic::hash_matches(self.0.iter().map(|(k, v)| (k.as_ref(), v.as_ref())), given, key)
    }
}

/// Pragmatic Play's hash of `params` (its `hash` parameter left out), lower
/// case hex: the one every Pragmatic Play API shares.
pub use protocol::pragmatic::hash;

/// What an amount may be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sign {
    /// Zero or more (stakes of free rounds, wins, which may be zero).
    NonNegative,
    /// Any sign (adjustments).
    Any,
}

/// A decimal amount in major units (`"10.50"`), exactly: more decimals
/// than the currency has, another notation, or a negative amount where
/// none is allowed is bad parameters.
pub fn amount(text: &str, currency: Currency, sign: Sign) -> Result<Amount, Error> {
    let amount = Amount::parse(text, currency).map_err(|_| Error::BadParameters)?;
    match sign {
        Sign::NonNegative if amount.is_negative() => Err(Error::BadParameters),
        _ => Ok(amount),
    }
}

/// A JSON reply: the fields known for this answer, then `error` and
/// `description`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reply {
    /// `userId`: our name of the player.
    pub user_id: Option<String>,
    /// `token`: the game-launch token, echoed by `authenticate`.
    pub token: Option<String>,
    /// `currency`, `cash`, `bonus` (and, for `balance`, `totalBalance`).
    pub balances: Option<Balances>,
    /// `totalBalance` beside them (the balance call's answer).
    pub total: bool,
    /// `transactionId`: the ledger's sequence number of the movement.
    pub transaction_id: Option<u64>,
    /// `usedPromo`: the part of a bet paid from bonus money.
    pub used_promo: Option<Amount>,
    /// `country`: the player's jurisdiction (`authenticate`).
    pub country: Option<Jurisdiction>,
    /// `gamesBalances`: the same balances for each game asked about.
    pub games: Vec<String>,
}

impl Reply {
    /// The JSON bytes of this reply with `error`.
    pub fn render(&self, error: Error) -> Vec<u8> {
        let mut json = Json::default();
        if let Some(user_id) = &self.user_id {
            json.text("userId", user_id);
        }
        if let Some(token) = &self.token {
            json.text("token", token);
        }
        if let Some(balances) = &self.balances {
            json.text("currency", balances.currency.code());
            json.money("cash", balances.cash, balances.currency);
            json.money("bonus", balances.bonus, balances.currency);
            if self.total {
                json.money("totalBalance", spendable(balances), balances.currency);
            }
        }
        if let Some(id) = self.transaction_id {
            json.raw("transactionId", &id.to_string());
        }
        if let (Some(used), Some(balances)) = (self.used_promo, &self.balances) {
            json.money("usedPromo", used, balances.currency);
        }
        if let Some(country) = &self.country {
            json.text("country", country.as_str());
        }
        if let (false, Some(balances)) = (self.games.is_empty(), &self.balances) {
            json.raw("gamesBalances", &games(&self.games, balances));
        }
        json.raw("error", &error.code().to_string());
        json.text("description", error.description());
        json.finish().into_bytes()
    }
}

/// `[{gameID, cash, bonus}, …]`: the one wallet, for each game asked about.
fn games(games: &[String], balances: &Balances) -> String {
    let entries: Vec<String> = games
        .iter()
        .map(|game| {
            let mut entry = Json::default();
            entry.text("gameID", game);
            entry.money("cash", balances.cash, balances.currency);
            entry.money("bonus", balances.bonus, balances.currency);
            entry.finish()
        })
        .collect();
    format!("[{}]", entries.join(","))
}

/// Cash + bonus, saturated (it is shown, never spent).
fn spendable(balances: &Balances) -> Amount {
    balances
        .cash
        .checked_add(balances.bonus)
        .unwrap_or(Amount::from_minor(i64::MAX))
}

#[cfg(test)]
mod tests {
    use md5::{Digest, Md5};

    use super::*;

    fn key() -> HashKey {
        HashKey::new("testKey").unwrap()
    }

    #[test]
    fn the_hash_is_md5_of_the_sorted_parameters_then_the_key() {
        // By hand: sorted, joined, the key appended, MD5 in hex.
        let text = "amount=10.00&providerId=PragmaticPlay&userId=player-1testKey";
        let expected = hex::encode(Md5::digest(text.as_bytes()));
        let params = [
            ("userId", "player-1"),
            ("amount", "10.00"),
            ("providerId", "PragmaticPlay"),
        ];
        assert_eq!(hash(params.into_iter(), &key()), expected);
        let body = format!("userId=player-1&amount=10.00&providerId=PragmaticPlay&hash={expected}");
        assert!(Params::parse(body.as_bytes()).unwrap().hash_matches(&key()));
        let upper = body.replace(&expected, &expected.to_uppercase());
        assert!(Params::parse(upper.as_bytes()).unwrap().hash_matches(&key()));
        // Any change to a value, an extra parameter, or another key breaks it.
        for forged in [
            body.replace("10.00", "100.00"),
            format!("{body}&extra=1"),
            body.replace(&expected, ""),
            body.replace(&format!("&hash={expected}"), ""),
        ] {
            assert!(
                !Params::parse(forged.as_bytes()).unwrap().hash_matches(&key()),
                "{forged}"
            );
        }
        let other = HashKey::new("otherKey").unwrap();
        assert!(!Params::parse(body.as_bytes()).unwrap().hash_matches(&other));
    }

    #[test]
    fn parameters_are_decoded_and_repeats_refused() {
        let params = Params::parse(b"roundDetails=spin%20x%263&userId=Player-1&empty=").unwrap();
        assert_eq!(params.get("roundDetails"), Some("spin x&3"));
        assert_eq!(params.get("userId"), Some("Player-1"));
        assert_eq!(params.get("userid"), None, "names are case-sensitive");
        assert_eq!(params.required("empty"), Err(Error::BadParameters));
        assert_eq!(params.required("missing"), Err(Error::BadParameters));
        assert_eq!(Params::parse(b"a=1&b=2&a=1").map(|_| ()), Err(Error::BadParameters));
    }

    #[test]
    fn amounts_are_exact_decimals_in_major_units() {
        let check = |text: &str, currency, sign, expect: Result<i64, Error>| {
            assert_eq!(amount(text, currency, sign).map(Amount::minor), expect, "{text}");
        };
        check("10.50", Currency::EUR, Sign::NonNegative, Ok(1050));
        check("10", Currency::EUR, Sign::NonNegative, Ok(1000));
        check("0.00", Currency::EUR, Sign::NonNegative, Ok(0));
        check("0.001", Currency::EUR, Sign::NonNegative, Err(Error::BadParameters));
        check("1.5", Currency::JPY, Sign::NonNegative, Err(Error::BadParameters));
        check("-1.00", Currency::EUR, Sign::NonNegative, Err(Error::BadParameters));
        check("-1.00", Currency::EUR, Sign::Any, Ok(-100));
        check("0.00000001", Currency::BTC, Sign::NonNegative, Ok(1));
        for bad in ["1e3", "", "ten", "1,00", "99999999999999999999.00"] {
            check(bad, Currency::EUR, Sign::Any, Err(Error::BadParameters));
        }
    }

    #[test]
    fn replies_print_money_exactly_and_escape_text() {
        let balances = Balances {
            currency: Currency::EUR,
            cash: Amount::from_minor(9_750),
            bonus: Amount::from_minor(5),
            reserved: Amount::ZERO,
            loyalty_points: 0,
        };
        let reply = Reply {
            transaction_id: Some(7),
            used_promo: Some(Amount::ZERO),
            balances: Some(balances),
            ..Reply::default()
        };
        assert_eq!(
            String::from_utf8(reply.render(Error::Success)).unwrap(),
            r#"{"currency":"EUR","cash":97.50,"bonus":0.05,"transactionId":7,"usedPromo":0.00,"error":0,"description":"Success"}"#
        );
        let games = Reply {
            balances: Some(balances),
            games: vec!["vs20\"x".into(), "vs25".into()],
            ..Reply::default()
        };
        assert_eq!(
            String::from_utf8(games.render(Error::Success)).unwrap(),
            r#"{"currency":"EUR","cash":97.50,"bonus":0.05,"gamesBalances":[{"gameID":"vs20\"x","cash":97.50,"bonus":0.05},{"gameID":"vs25","cash":97.50,"bonus":0.05}],"error":0,"description":"Success"}"#
        );
        assert_eq!(
            String::from_utf8(Reply::default().render(Error::InvalidHash)).unwrap(),
            r#"{"error":5,"description":"Invalid hash code"}"#
        );
    }
}
