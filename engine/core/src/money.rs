//! Money: integer minor units of an ISO 4217 currency.
//!
//! Inside the engine an amount is an [`Amount`] (an `i64` count of the
//! currency's minor unit) and never a float. Decimal text is parsed and
//! printed only at the edges, through `rust_decimal`, and parsing refuses
//! anything it would have to round: excess decimals, overflow, signs or
//! exponents the caller did not allow.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;

/// A count of minor units (cents, satoshis, yen …) of some currency.
///
/// Arithmetic is checked: every operation that can overflow returns `Option`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Amount(i64);

impl Amount {
    /// Zero minor units.
    pub const ZERO: Amount = Amount(0);
    /// The largest representable amount.
    pub const MAX: Amount = Amount(i64::MAX);

    /// Wraps a raw count of minor units.
    pub const fn from_minor(minor: i64) -> Amount {
        Amount(minor)
    }

    /// The raw count of minor units.
    pub const fn minor(self) -> i64 {
        self.0
    }

    /// `self + other`, or `None` on overflow.
    pub fn checked_add(self, other: Amount) -> Option<Amount> {
        self.0.checked_add(other.0).map(Amount)
    }

    /// `self - other`, or `None` on overflow.
    pub fn checked_sub(self, other: Amount) -> Option<Amount> {
        self.0.checked_sub(other.0).map(Amount)
    }

    /// `-self`, or `None` for `i64::MIN`.
    pub fn checked_neg(self) -> Option<Amount> {
        self.0.checked_neg().map(Amount)
    }

    /// True for amounts strictly above zero.
    pub const fn is_positive(self) -> bool {
        self.0 > 0
    }

    /// True for amounts strictly below zero.
    pub const fn is_negative(self) -> bool {
        self.0 < 0
    }

    /// The smaller of two amounts.
    pub fn min(self, other: Amount) -> Amount {
        Amount(self.0.min(other.0))
    }

    /// The larger of two amounts.
    pub fn max(self, other: Amount) -> Amount {
        Amount(self.0.max(other.0))
    }

    /// `self * numerator / denominator`, rounded toward zero, computed in
    /// 128 bits so the intermediate product cannot overflow.
    ///
    /// Returns `None` when `denominator` is zero or the result does not fit.
    pub fn mul_div_floor(self, numerator: i64, denominator: i64) -> Option<Amount> {
        if denominator == 0 {
            return None;
        }
        let wide = i128::from(self.0) * i128::from(numerator) / i128::from(denominator);
        i64::try_from(wide).ok().map(Amount)
    }

    /// Parses decimal text in the currency's major unit ("12.50" EUR → 1250).
    ///
    /// Accepts an optional leading `-`, digits and at most one `.`; refuses
    /// exponents, `+`, whitespace, more decimals than the currency has, and
    /// values that do not fit an `i64` of minor units.
    pub fn parse(text: &str, currency: Currency) -> Result<Amount, MoneyError> {
        check_decimal_syntax(text)?;
        let value = Decimal::from_str(text).map_err(|_| MoneyError::Overflow)?;
        Amount::from_decimal(value, currency)
    }

    /// Like [`Amount::parse`], but the amount must be strictly positive.
    pub fn parse_positive(text: &str, currency: Currency) -> Result<Amount, MoneyError> {
        let amount = Amount::parse(text, currency)?;
        if amount.is_positive() {
            Ok(amount)
        } else {
            Err(MoneyError::NotPositive)
        }
    }

    /// Converts an exact decimal in major units to minor units.
    pub fn from_decimal(value: Decimal, currency: Currency) -> Result<Amount, MoneyError> {
        let exponent = currency.exponent();
        let normalized = value.normalize();
        if normalized.scale() > exponent {
            return Err(MoneyError::TooManyDecimals {
                currency,
                allowed: exponent,
            });
        }
        let scaled = normalized
            .checked_mul(Decimal::from(10_i64.pow(exponent)))
            .ok_or(MoneyError::Overflow)?;
        let minor = i64::try_from(scaled.trunc()).map_err(|_| MoneyError::Overflow)?;
        Ok(Amount(minor))
    }

    /// Converts an integer counted in `1 / 10^scale` of the major unit (the
    /// unit some aggregator contracts use, e.g. scale 5) to minor units,
    /// refusing values that are not a whole number of minor units.
    pub fn from_scaled(value: i64, scale: u32, currency: Currency) -> Result<Amount, MoneyError> {
        let exponent = currency.exponent();
        let factor = |digits: u32| 10_i64.checked_pow(digits).ok_or(MoneyError::Overflow);
        if scale >= exponent {
            let divisor = factor(scale - exponent)?;
            if value % divisor != 0 {
                return Err(MoneyError::TooManyDecimals {
                    currency,
                    allowed: exponent,
                });
            }
            Ok(Amount(value / divisor))
        } else {
            value
                .checked_mul(factor(exponent - scale)?)
                .map(Amount)
                .ok_or(MoneyError::Overflow)
        }
    }

    /// The amount as an exact decimal of major units, with exactly the
    /// currency's number of decimals ("12.50", "1000", "0.00010000").
    pub fn to_decimal(self, currency: Currency) -> Decimal {
        Decimal::new(self.0, currency.exponent())
    }

    /// The amount counted in `1 / 10^scale` of the major unit, or `None` if
    /// that would overflow or lose precision.
    pub fn to_scaled(self, scale: u32, currency: Currency) -> Option<i64> {
        let exponent = currency.exponent();
        if scale >= exponent {
            self.0.checked_mul(10_i64.checked_pow(scale - exponent)?)
        } else {
            let divisor = 10_i64.checked_pow(exponent - scale)?;
            (self.0 % divisor == 0).then_some(self.0 / divisor)
        }
    }
}

/// A 128-bit sum of minor units (lifetime totals, which may exceed an
/// [`Amount`]) as decimal text in major units, without losing a digit.
pub fn wide_decimal(minor: i128, currency: Currency) -> String {
    let exponent = currency.exponent();
    let scale = 10_u128.pow(exponent);
    let sign = if minor < 0 { "-" } else { "" };
    let (whole, fraction) = (minor.unsigned_abs() / scale, minor.unsigned_abs() % scale);
    if exponent == 0 {
        format!("{sign}{whole}")
    } else {
        format!("{sign}{whole}.{fraction:0width$}", width = exponent as usize)
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

fn check_decimal_syntax(text: &str) -> Result<(), MoneyError> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    let (whole, fraction) = match digits.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (digits, None),
    };
    let all_digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    let fraction_ok = fraction.is_none_or(all_digits);
    if all_digits(whole) && fraction_ok {
        Ok(())
    } else {
        Err(MoneyError::Syntax)
    }
}

/// Why a text or number could not become an [`Amount`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// Not of the form `-?digits(.digits)?`.
    #[error("amount must be a plain decimal number such as \"12.50\"")]
    Syntax,
    /// More decimals than the currency's minor unit allows.
    #[error("{currency} allows at most {allowed} decimals")]
    TooManyDecimals {
        /// The currency the amount was given in.
        currency: Currency,
        /// Its ISO 4217 exponent.
        allowed: u32,
    },
    /// Does not fit 64-bit minor units.
    #[error("amount is too large")]
    Overflow,
    /// Zero or negative where only a positive amount makes sense.
    #[error("amount must be greater than zero")]
    NotPositive,
    /// Not a currency this ledger knows.
    #[error("unknown currency code")]
    UnknownCurrency,
}

macro_rules! currencies {
    ($($variant:ident = $exponent:literal, $name:literal;)*) => {
        /// The currencies the ledger holds, each with its ISO 4217 exponent.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[repr(u8)]
        pub enum Currency {
            $(
                #[doc = $name]
                $variant,
            )*
        }

        impl Currency {
            /// Every supported currency, in declaration order.
            pub const ALL: &'static [Currency] = &[$(Currency::$variant),*];

            /// Number of decimals of the minor unit (EUR 2, JPY 0, BTC 8).
            pub const fn exponent(self) -> u32 {
                match self {
                    $(Currency::$variant => $exponent,)*
                }
            }

            /// The ISO 4217 (or, for crypto, the customary) code.
            pub const fn code(self) -> &'static str {
                match self {
                    $(Currency::$variant => stringify!($variant),)*
                }
            }

            /// Looks a currency up by its code (exact, upper case).
            pub fn from_code(code: &str) -> Option<Currency> {
                match code {
                    $(stringify!($variant) => Some(Currency::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

currencies! {
    EUR = 2, "Euro";
    USD = 2, "US dollar";
    GBP = 2, "Pound sterling";
    SEK = 2, "Swedish krona";
    NOK = 2, "Norwegian krone";
    DKK = 2, "Danish krone";
    CHF = 2, "Swiss franc";
    PLN = 2, "Polish zloty";
    CAD = 2, "Canadian dollar";
    AUD = 2, "Australian dollar";
    NZD = 2, "New Zealand dollar";
    BRL = 2, "Brazilian real";
    MXN = 2, "Mexican peso";
    INR = 2, "Indian rupee";
    JPY = 0, "Japanese yen";
    BTC = 8, "Bitcoin (satoshi minor unit)";
    USDT = 6, "Tether USD";
}

impl Currency {
    /// Position in [`Currency::ALL`], for per-currency arrays.
    pub const fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Currency {
    type Err = MoneyError;

    fn from_str(code: &str) -> Result<Currency, MoneyError> {
        Currency::from_code(code).ok_or(MoneyError::UnknownCurrency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_parse(text: &str, currency: Currency, expect: Result<i64, MoneyError>) {
        assert_eq!(
            Amount::parse(text, currency).map(Amount::minor),
            expect,
            "{text} {currency}"
        );
    }

    #[test]
    fn wide_sums_print_in_major_units_without_losing_digits() {
        assert_eq!(wide_decimal(-12_345, Currency::EUR), "-123.45");
        assert_eq!(wide_decimal(5, Currency::EUR), "0.05");
        assert_eq!(wide_decimal(1_000, Currency::JPY), "1000");
        assert_eq!(
            wide_decimal(i128::from(i64::MAX) * 4, Currency::BTC),
            "368934881474.19103228"
        );
    }

    #[test]
    fn parses_exact_amounts() {
        check_parse("12.50", Currency::EUR, Ok(1250));
        check_parse("12.5", Currency::EUR, Ok(1250));
        check_parse("12", Currency::EUR, Ok(1200));
        check_parse("0.01", Currency::USD, Ok(1));
        check_parse("1000", Currency::JPY, Ok(1000));
        check_parse("0.00000001", Currency::BTC, Ok(1));
        check_parse("1.000001", Currency::USDT, Ok(1_000_001));
        check_parse("-3.20", Currency::GBP, Ok(-320));
        check_parse("12.500000", Currency::EUR, Ok(1250));
    }

    #[test]
    fn refuses_what_it_would_round() {
        let eur = Currency::EUR;
        check_parse(
            "0.001",
            eur,
            Err(MoneyError::TooManyDecimals {
                currency: eur,
                allowed: 2,
            }),
        );
        let jpy = Currency::JPY;
        check_parse(
            "1.5",
            jpy,
            Err(MoneyError::TooManyDecimals {
                currency: jpy,
                allowed: 0,
            }),
        );
        let btc = Currency::BTC;
        check_parse(
            "0.000000001",
            btc,
            Err(MoneyError::TooManyDecimals {
                currency: btc,
                allowed: 8,
            }),
        );
        check_parse("92233720368547758.08", eur, Err(MoneyError::Overflow));
        check_parse("99999999999999999999999999999999", eur, Err(MoneyError::Overflow));
    }

    #[test]
    fn refuses_malformed_text() {
        for text in [
            "", "-", ".", "1.", ".5", "+1", " 1", "1 ", "1e3", "1,5", "0x10", "1.2.3", "--1", "NaN",
        ] {
            check_parse(text, Currency::EUR, Err(MoneyError::Syntax));
        }
    }

    #[test]
    fn positive_parse_refuses_zero_and_negative() {
        assert_eq!(Amount::parse_positive("0", Currency::EUR), Err(MoneyError::NotPositive));
        assert_eq!(
            Amount::parse_positive("-1", Currency::EUR),
            Err(MoneyError::NotPositive)
        );
        assert_eq!(Amount::parse_positive("0.01", Currency::EUR), Ok(Amount::from_minor(1)));
    }

    #[test]
    fn prints_with_the_currency_exponent() {
        assert_eq!(Amount::from_minor(1250).to_decimal(Currency::EUR).to_string(), "12.50");
        assert_eq!(Amount::from_minor(1000).to_decimal(Currency::JPY).to_string(), "1000");
        assert_eq!(
            Amount::from_minor(1).to_decimal(Currency::BTC).to_string(),
            "0.00000001"
        );
        assert_eq!(Amount::from_minor(-5).to_decimal(Currency::EUR).to_string(), "-0.05");
    }

    #[test]
    fn scaled_units_convert_exactly() {
        // Hub88-style units of 1/100,000.
        assert_eq!(
            Amount::from_scaled(1_250_000, 5, Currency::EUR),
            Ok(Amount::from_minor(1250))
        );
        assert!(Amount::from_scaled(1_250_001, 5, Currency::EUR).is_err());
        assert_eq!(Amount::from_scaled(1, 5, Currency::BTC), Ok(Amount::from_minor(1000)));
        assert_eq!(
            Amount::from_scaled(i64::MAX, 5, Currency::BTC),
            Err(MoneyError::Overflow)
        );
        assert_eq!(Amount::from_minor(1250).to_scaled(5, Currency::EUR), Some(1_250_000));
        assert_eq!(Amount::from_minor(1001).to_scaled(5, Currency::BTC), None);
    }

    #[test]
    fn currency_codes_round_trip() {
        for &currency in Currency::ALL {
            assert_eq!(Currency::from_code(currency.code()), Some(currency));
            assert_eq!(Currency::ALL[currency.index()], currency);
        }
        assert_eq!(Currency::JPY.exponent(), 0);
        assert_eq!(Currency::BTC.exponent(), 8);
        assert_eq!(Currency::USDT.exponent(), 6);
        assert_eq!("XXX".parse::<Currency>(), Err(MoneyError::UnknownCurrency));
    }

    #[test]
    fn mul_div_uses_wide_arithmetic() {
        let big = Amount::from_minor(i64::MAX / 2);
        assert_eq!(big.mul_div_floor(2, 2), Some(big));
        assert_eq!(Amount::from_minor(10).mul_div_floor(1, 3), Some(Amount::from_minor(3)));
        assert_eq!(Amount::from_minor(10).mul_div_floor(1, 0), None);
    }
}
