//! A report's period: a quarter (`2026Q4`), a month (`2026-01`) or two
//! dates (`from`, `to`, both UTC days and both included), always turned into
//! the half-open range of ledger times `[from_ms, to_ms)`.

use time::{Date, Month, OffsetDateTime};

/// A period of whole UTC days.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Period {
    /// The first day, `YYYY-MM-DD`.
    pub first_day: String,
    /// The last day (included).
    pub last_day: String,
    /// Its start, ms since the epoch (included).
    pub from_ms: u64,
    /// Its end (excluded): the start of the day after the last.
    pub to_ms: u64,
}

impl Period {
    /// Whether the period is one whole calendar month.
    pub fn is_month(&self) -> bool {
        let month = crate::commission::month_of(self.from_ms);
        self.from_ms == crate::commission::month_start_ms(month)
            && self.to_ms == crate::commission::month_start_ms(month + 1)
    }
}

/// Why a period is refused; the message names the parameter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadPeriod(pub String);

/// The longest period a report covers: a year and a day (a leap year's
/// return fits), so a typo cannot ask for decades of movements.
pub const MAX_DAYS: i64 = 367;

fn bad(message: impl Into<String>) -> BadPeriod {
    BadPeriod(message.into())
}

/// A `YYYY-MM-DD` date.
pub fn date(text: &str, field: &str) -> Result<Date, BadPeriod> {
    let invalid = || bad(format!("{field}: a date YYYY-MM-DD (UTC)"));
    let parts: Vec<&str> = text.split('-').collect();
    let [year, month, day] = parts.as_slice() else {
        return Err(invalid());
    };
    if year.len() != 4 || month.len() != 2 || day.len() != 2 {
        return Err(invalid());
    }
    let year: i32 = year.parse().map_err(|_| invalid())?;
    let month: u8 = month.parse().map_err(|_| invalid())?;
    let day: u8 = day.parse().map_err(|_| invalid())?;
    let month = Month::try_from(month).map_err(|_| invalid())?;
    Date::from_calendar_date(year, month, day).map_err(|_| invalid())
}

fn start_ms(date: Date) -> Result<u64, BadPeriod> {
    let seconds = date.midnight().assume_utc().unix_timestamp();
    u64::try_from(seconds)
        .ok()
        .and_then(|s| s.checked_mul(1000))
        .ok_or_else(|| bad("dates before 1970 hold no movements"))
}

/// `YYYY-MM-DD` of a date.
pub fn day_text(date: Date) -> String {
    format!("{:04}-{:02}-{:02}", date.year(), date.month() as u8, date.day())
}

/// The UTC day of `time_ms`, `YYYY-MM-DD`.
pub fn day_of(time_ms: u64) -> String {
    let seconds = i64::try_from(time_ms / 1000).unwrap_or(i64::MAX);
    OffsetDateTime::from_unix_timestamp(seconds)
        .map(|at| day_text(at.date()))
        .unwrap_or_default()
}

/// The days `first` to `last`, both included.
pub fn days(first: Date, last: Date) -> Result<Period, BadPeriod> {
    if last < first {
        return Err(bad("to: not before from"));
    }
    if (last - first).whole_days() >= MAX_DAYS {
        return Err(bad(format!("a period is at most {MAX_DAYS} days")));
    }
    let after = last.next_day().ok_or_else(|| bad("to: out of range"))?;
    Ok(Period {
        first_day: day_text(first),
        last_day: day_text(last),
        from_ms: start_ms(first)?,
        to_ms: start_ms(after)?,
    })
}

/// A quarter, `YYYYQn` (`2026Q4`: October to December 2026).
pub fn quarter(text: &str) -> Result<Period, BadPeriod> {
    let invalid = || bad("quarter: YYYYQn, n from 1 to 4 (2026Q4)");
    let (year, n) = text.split_once(['Q', 'q']).ok_or_else(invalid)?;
    if year.len() != 4 || n.len() != 1 {
        return Err(invalid());
    }
    let year: i32 = year.parse().map_err(|_| invalid())?;
    let n: u8 = n.parse().map_err(|_| invalid())?;
    if !(1..=4).contains(&n) {
        return Err(invalid());
    }
    let first_month = Month::try_from(3 * (n - 1) + 1).map_err(|_| invalid())?;
    let first = Date::from_calendar_date(year, first_month, 1).map_err(|_| invalid())?;
    let last_month = Month::try_from(3 * n).map_err(|_| invalid())?;
    let last = Date::from_calendar_date(year, last_month, last_month.length(year)).map_err(|_| invalid())?;
    days(first, last)
}

/// A month, `YYYY-MM`.
pub fn month(text: &str) -> Result<Period, BadPeriod> {
    let invalid = || bad("month: YYYY-MM (2026-01)");
    let (year, month) = text.split_once('-').ok_or_else(invalid)?;
    if year.len() != 4 || month.len() != 2 {
        return Err(invalid());
    }
    let year: i32 = year.parse().map_err(|_| invalid())?;
    let month = Month::try_from(month.parse::<u8>().map_err(|_| invalid())?).map_err(|_| invalid())?;
    let first = Date::from_calendar_date(year, month, 1).map_err(|_| invalid())?;
    let last = Date::from_calendar_date(year, month, month.length(year)).map_err(|_| invalid())?;
    days(first, last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quarters_months_and_days_are_half_open_ranges_of_whole_utc_days() {
        let q4 = quarter("2026Q4").unwrap();
        assert_eq!(
            (q4.first_day.as_str(), q4.last_day.as_str()),
            ("2026-10-01", "2026-12-31")
        );
        assert_eq!(q4.from_ms, 1_790_812_800_000);
        assert_eq!(q4.to_ms, 1_798_761_600_000);
        let q1 = quarter("2026Q1").unwrap();
        assert_eq!(q1.from_ms, 1_767_225_600_000, "2026-01-01T00:00:00Z");
        assert_eq!(q1.to_ms, quarter("2026Q2").unwrap().from_ms);
        let feb = month("2028-02").unwrap();
        assert_eq!(feb.last_day, "2028-02-29");
        assert_eq!(feb.to_ms - feb.from_ms, 29 * 86_400_000);
        let one = days(date("2026-01-01", "from").unwrap(), date("2026-01-01", "to").unwrap()).unwrap();
        assert_eq!(one.to_ms - one.from_ms, 86_400_000);
        assert_eq!(day_of(one.from_ms + 86_399_999), "2026-01-01");
    }

    #[test]
    fn bad_periods_are_refused_naming_the_parameter() {
        for bad in ["2026Q5", "2026Q0", "26Q1", "2026-Q1", "2026Q", "Q4"] {
            assert!(quarter(bad).unwrap_err().0.starts_with("quarter"), "{bad}");
        }
        for bad in ["2026-13", "2026-1", "2026", "2026/01"] {
            assert!(month(bad).unwrap_err().0.starts_with("month"), "{bad}");
        }
        for bad in ["2026-02-30", "2026-1-01", "01-01-2026", "yesterday"] {
            assert!(date(bad, "from").unwrap_err().0.starts_with("from"), "{bad}");
        }
        let (a, b) = (date("2026-02-01", "from").unwrap(), date("2026-01-01", "to").unwrap());
        assert_eq!(days(a, b).unwrap_err().0, "to: not before from");
        let far = date("2028-01-01", "to").unwrap();
        assert!(days(b, far).unwrap_err().0.contains("at most"));
    }
}
