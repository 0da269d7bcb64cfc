//! A JSON object written field by field, for partner replies whose amounts
//! are JSON numbers with decimals (Pragmatic Play, Evolution): serde_json
//! would carry such a number as an `f64`, so money is printed here from its
//! exact decimal instead.

use engine::{Amount, Currency};

/// A JSON object being written; [`Json::finish`] closes it.
#[derive(Default)]
pub struct Json(String);

impl Json {
    fn key(&mut self, key: &str) {
        self.0.push(if self.0.is_empty() { '{' } else { ',' });
        self.0.push('"');
        self.0.push_str(key);
        self.0.push_str("\":");
    }

    /// A value already in JSON syntax (our own integers, decimals, arrays).
    pub fn raw(&mut self, key: &str, value: &str) {
        self.key(key);
        self.0.push_str(value);
    }

    /// A string, escaped (it may come from the request: a token, a game id).
    pub fn text(&mut self, key: &str, value: &str) {
        self.raw(key, &serde_json::Value::from(value).to_string());
    }

    /// An amount as a JSON number in major units, exactly (`97.50`).
    pub fn money(&mut self, key: &str, amount: Amount, currency: Currency) {
        self.raw(key, &amount.to_decimal(currency).to_string());
    }

    /// The object's text.
    pub fn finish(mut self) -> String {
        if self.0.is_empty() {
            self.0.push('{');
        }
        self.0.push('}');
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_written_in_order_with_exact_money_and_escaped_text() {
        let mut json = Json::default();
        json.text("id", "a\"b");
        json.money("cash", Amount::from_minor(9_750), Currency::EUR);
        json.money("yen", Amount::from_minor(5), Currency::JPY);
        json.raw("error", "0");
        assert_eq!(json.finish(), r#"{"id":"a\"b","cash":97.50,"yen":5,"error":0}"#);
        assert_eq!(Json::default().finish(), "{}");
    }
}
