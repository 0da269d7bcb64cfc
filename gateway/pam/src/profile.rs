//! A player's profile: its fields, their validation (clear 400s before
//! anything is stored), the normalized forms the blind indexes are made
//! of, and the minimum age of each jurisdiction (from its profile).
//!
//! The profile is what gets sealed: it is serialized to JSON and never
//! leaves the gateway in clear.

use edge::error::ApiError;
use engine::Jurisdiction;
use engine::players::{AgeBand, JurisdictionProfile, JurisdictionProfiles};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Longest name, address line or city, in characters.
const TEXT_MAX: usize = 200;
/// Longest email address (RFC 5321's path limit).
const EMAIL_MAX: usize = 254;
/// Longest affiliate tracking code.
const AFFILIATE_MAX: usize = 64;

/// A postal address.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Address {
    /// Street and number.
    pub line: String,
    /// City.
    pub city: String,
    /// Postcode (letters, digits, spaces, hyphens).
    pub postcode: String,
}

/// Marketing consents, per channel.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Consents {
    /// By email.
    pub email: bool,
    /// By SMS.
    pub sms: bool,
    /// By phone.
    pub phone: bool,
    /// By post.
    pub post: bool,
    /// By push notification to the player's device (absent: no; profiles
    /// sealed before push existed have none).
    #[serde(default)]
    pub push: bool,
}

/// The personal data of a player: sealed under the player's data key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Full name.
    pub name: String,
    /// Email address.
    pub email: String,
    /// Phone number, international format (`+` and 8 to 15 digits; spaces,
    /// hyphens and parentheses are ignored).
    pub phone: String,
    /// Date of birth, `YYYY-MM-DD`.
    pub date_of_birth: String,
    /// Postal address.
    pub address: Address,
    /// Country of residence, ISO 3166-1 alpha-2 (`GB`).
    pub country: String,
    /// Preferred language, BCP 47 (`en`, `en-GB`).
    pub language: String,
    /// Marketing consents per channel.
    pub marketing: Consents,
    /// The affiliate's tracking code, if the player came through one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affiliate_code: Option<String>,
    /// The registration token of the player's device for push
    /// notifications (Firebase Cloud Messaging), set by the front end
    /// through `PUT /operator/v1/players/{player}/push-token`: device
    /// data, sealed and erased with the rest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub push_token: Option<String>,
}

/// A change of marketing consents: each channel given replaces the stored
/// one, each absent keeps it (so a client that predates a channel, such as
/// `push`, does not withdraw it by leaving it out).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentsPatch {
    /// By email.
    pub email: Option<bool>,
    /// By SMS.
    pub sms: Option<bool>,
    /// By phone.
    pub phone: Option<bool>,
    /// By post.
    pub post: Option<bool>,
    /// By push notification.
    pub push: Option<bool>,
}

impl ConsentsPatch {
    /// `consents` with the channels given in place of its own.
    pub fn apply(self, consents: Consents) -> Consents {
        Consents {
            email: self.email.unwrap_or(consents.email),
            sms: self.sms.unwrap_or(consents.sms),
            phone: self.phone.unwrap_or(consents.phone),
            post: self.post.unwrap_or(consents.post),
            push: self.push.unwrap_or(consents.push),
        }
    }

    /// The consents of a player who has none yet: the four original
    /// channels must be given; push, absent, is no.
    fn complete(self) -> Result<Consents, ApiError> {
        let missing = |channel: &str| {
            invalid(
                &format!("marketing.{channel}"),
                "required: the player has no profile yet, so give every channel",
            )
        };
        Ok(Consents {
            email: self.email.ok_or_else(|| missing("email"))?,
            sms: self.sms.ok_or_else(|| missing("sms"))?,
            phone: self.phone.ok_or_else(|| missing("phone"))?,
            post: self.post.ok_or_else(|| missing("post"))?,
            push: self.push.unwrap_or(false),
        })
    }
}

/// A profile change: the fields given replace the stored ones.
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfilePatch {
    /// Full name.
    pub name: Option<String>,
    /// Email address.
    pub email: Option<String>,
    /// Phone number.
    pub phone: Option<String>,
    /// Date of birth, `YYYY-MM-DD`.
    pub date_of_birth: Option<String>,
    /// Postal address (all three fields).
    pub address: Option<Address>,
    /// Country of residence.
    pub country: Option<String>,
    /// Preferred language.
    pub language: Option<String>,
    /// Marketing consents: the channels given change, the others stay.
    pub marketing: Option<ConsentsPatch>,
    /// The affiliate's tracking code.
    pub affiliate_code: Option<String>,
}

impl ProfilePatch {
    /// `profile` with the patch's fields in place of its own.
    pub fn apply(self, profile: Profile) -> Profile {
        Profile {
            name: self.name.unwrap_or(profile.name),
            email: self.email.unwrap_or(profile.email),
            phone: self.phone.unwrap_or(profile.phone),
            date_of_birth: self.date_of_birth.unwrap_or(profile.date_of_birth),
            address: self.address.unwrap_or(profile.address),
            country: self.country.unwrap_or(profile.country),
            language: self.language.unwrap_or(profile.language),
            marketing: self
                .marketing
                .map_or(profile.marketing, |patch| patch.apply(profile.marketing)),
            affiliate_code: self.affiliate_code.or(profile.affiliate_code),
            push_token: profile.push_token,
        }
    }

    /// The patch as a whole profile, for a player who has none yet: every
    /// required field must be given.
    pub fn complete(self) -> Result<Profile, ApiError> {
        let missing = |field: &str| invalid(field, "required: the player has no profile yet, so give every field");
        Ok(Profile {
            name: self.name.ok_or_else(|| missing("name"))?,
            email: self.email.ok_or_else(|| missing("email"))?,
            phone: self.phone.ok_or_else(|| missing("phone"))?,
            date_of_birth: self.date_of_birth.ok_or_else(|| missing("date_of_birth"))?,
            address: self.address.ok_or_else(|| missing("address"))?,
            country: self.country.ok_or_else(|| missing("country"))?,
            language: self.language.ok_or_else(|| missing("language"))?,
            marketing: self.marketing.ok_or_else(|| missing("marketing"))?.complete()?,
            affiliate_code: self.affiliate_code,
            push_token: None,
        })
    }

    /// True if the patch changes nothing.
    pub fn is_empty(&self) -> bool {
        let ProfilePatch {
            name,
            email,
            phone,
            date_of_birth,
            address,
            country,
            language,
            marketing,
            affiliate_code,
        } = self;
        name.is_none()
            && email.is_none()
            && phone.is_none()
            && date_of_birth.is_none()
            && address.is_none()
            && country.is_none()
            && language.is_none()
            && marketing.is_none()
            && affiliate_code.is_none()
    }
}

/// What the blind indexes are made of: the normalized email, and the
/// normalized name, date of birth and postcode.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Normalized {
    /// Trimmed, lower case.
    pub email: String,
    /// `name|date of birth|postcode`: the name lower case with single
    /// spaces, the postcode upper case without spaces or hyphens.
    pub identity: String,
}

fn invalid(field: &str, what: &str) -> ApiError {
    ApiError::bad_request("invalid_request", format!("{field}: {what}"))
}

impl Profile {
    /// Checks every field and the player's age on `today` against
    /// `minimum`, the minimum age of the profile of `jurisdiction` (see
    /// [`minimum_age`]); returns the profile with its fields trimmed and
    /// the normalized forms for the blind indexes.
    /// (`None`: a player registered before jurisdictions were recorded in
    /// the read model: the default profile's minimum age).
    pub fn validate(
        mut self,
        jurisdiction: Option<Jurisdiction>,
        minimum: u32,
        today: Date,
    ) -> Result<(Profile, Normalized), ApiError> {
        self.name = text("name", &self.name, TEXT_MAX)?;
        self.email = email(&self.email)?;
        self.phone = phone(&self.phone)?;
        let born = Date::parse(&self.date_of_birth).ok_or_else(|| invalid("date_of_birth", "a date YYYY-MM-DD"))?;
        if born > today {
            return Err(invalid("date_of_birth", "in the future"));
        }
        if born.age_on(today) < minimum {
            return Err(ApiError::new(
                axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                "under_age",
                format!(
                    "players in {} must be at least {minimum} years old",
                    jurisdiction.map_or_else(|| "this jurisdiction".into(), |j| j.to_string())
                ),
            ));
        }
        self.address.line = text("address.line", &self.address.line, TEXT_MAX)?;
        self.address.city = text("address.city", &self.address.city, TEXT_MAX)?;
        self.address.postcode = postcode(&self.address.postcode)?;
        if self.country.len() != 2 || !self.country.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(invalid("country", "two upper-case letters (ISO 3166-1 alpha-2)"));
        }
        if !language_tag(&self.language) {
            return Err(invalid("language", "a language tag such as en or en-GB"));
        }
        if let Some(token) = &self.push_token
            && !push_token(token)
        {
            return Err(invalid("push_token", "1 to 1024 letters, digits or - _ : ."));
        }
        if let Some(code) = &self.affiliate_code {
            let valid = !code.is_empty() && code.len() <= AFFILIATE_MAX && code.bytes().all(|b| b.is_ascii_graphic());
            if !valid {
                return Err(invalid("affiliate_code", "1 to 64 printable ASCII characters"));
            }
        }
        let name = self
            .name
            .to_lowercase()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        let postcode: String = self
            .address
            .postcode
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_uppercase();
        let normalized = Normalized {
            email: self.email.to_lowercase(),
            identity: format!("{name}|{}|{postcode}", born),
        };
        Ok((self, normalized))
    }
}

/// The minimum age of players in `jurisdiction` at `now_ms`: that of its
/// jurisdiction profile in force (the ledger's, journaled; the default
/// profile's for a jurisdiction without one, or for `None`).
pub fn minimum_age(profiles: &JurisdictionProfiles, jurisdiction: Option<Jurisdiction>, now_ms: u64) -> u32 {
    let years = match jurisdiction {
        Some(jurisdiction) => profiles.in_force(jurisdiction, now_ms).minimum_age_years,
        None => profiles
            .versions(None)
            .and_then(|v| v.in_force(now_ms))
            .map_or(JurisdictionProfile::UNRESTRICTED.minimum_age_years, |v| {
                v.profile.minimum_age_years
            }),
    };
    u32::from(years)
}

/// A player's age band on `today` under `profile`, from the date of birth.
pub fn age_band(born: Date, today: Date, profile: &JurisdictionProfile) -> AgeBand {
    let young_until = u32::from(profile.young_adult_until_age_years);
    if young_until > 0 && born.age_on(today) < young_until {
        AgeBand::YoungAdult
    } else {
        AgeBand::Adult
    }
}

fn text(field: &str, value: &str, max: usize) -> Result<String, ApiError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(invalid(field, "required"));
    }
    if value.chars().count() > max {
        return Err(invalid(field, &format!("at most {max} characters")));
    }
    if value.chars().any(char::is_control) {
        return Err(invalid(field, "no control characters"));
    }
    Ok(value.to_owned())
}

fn email(value: &str) -> Result<String, ApiError> {
    let value = value.trim();
    let bad = || invalid("email", "an address such as name@example.com");
    if value.len() > EMAIL_MAX {
        return Err(bad());
    }
    let (local, domain) = value.split_once('@').ok_or_else(bad)?;
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && local
            .bytes()
            .all(|b| b.is_ascii_graphic() && !b"@\"(),:;<>[\\]".contains(&b))
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..");
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && labels.iter().all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    if !local_ok || !domain_ok {
        return Err(bad());
    }
    Ok(value.to_owned())
}

fn phone(value: &str) -> Result<String, ApiError> {
    let compact: String = value.chars().filter(|c| !" -()".contains(*c)).collect();
    let digits = compact.strip_prefix('+').unwrap_or("");
    if !(8..=15).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid("phone", "international format: + and 8 to 15 digits"));
    }
    Ok(compact)
}

/// Longest push registration token (FCM's are about 160 characters).
const PUSH_TOKEN_MAX: usize = 1024;

/// Whether `value` can be a device's push registration token.
pub fn push_token(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= PUSH_TOKEN_MAX
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_:.".contains(&b))
}

fn postcode(value: &str) -> Result<String, ApiError> {
    let value = value.trim();
    let alphanumerics = value.chars().filter(char::is_ascii_alphanumeric).count();
    let valid = (2..=10).contains(&alphanumerics)
        && value.len() <= 16
        && value.chars().all(|c| c.is_ascii_alphanumeric() || c == ' ' || c == '-');
    if !valid {
        return Err(invalid(
            "address.postcode",
            "2 to 10 letters or digits (spaces and hyphens allowed)",
        ));
    }
    Ok(value.to_owned())
}

fn language_tag(value: &str) -> bool {
    let mut parts = value.split('-');
    let primary = parts.next().unwrap_or("");
    let primary_ok = (2..=3).contains(&primary.len()) && primary.bytes().all(|b| b.is_ascii_lowercase());
    primary_ok
        && value.len() <= 35
        && parts.all(|part| (2..=8).contains(&part.len()) && part.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// A calendar date (proleptic Gregorian).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Date {
    year: i32,
    month: u32,
    day: u32,
}

impl Date {
    /// Parses `YYYY-MM-DD` (a real day: leap years counted).
    pub fn parse(text: &str) -> Option<Date> {
        let bytes = text.as_bytes();
        if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
            return None;
        }
        let number = |range: std::ops::Range<usize>| -> Option<u32> {
            let part = text.get(range)?;
            part.bytes().all(|b| b.is_ascii_digit()).then(|| part.parse().ok())?
        };
        let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
        let date = Date {
            year: i32::try_from(year).ok()?,
            month,
            day,
        };
        ((1..=12).contains(&month) && (1..=date.days_in_month()).contains(&day) && year >= 1900).then_some(date)
    }

    /// The year.
    pub fn year(&self) -> i32 {
        self.year
    }

    /// The UTC date of `ms` since the epoch (Howard Hinnant's civil-from-days).
    pub fn from_epoch_ms(ms: u64) -> Date {
        let days = (ms / 86_400_000) as i64 + 719_468;
        let era = days.div_euclid(146_097);
        let day_of_era = days.rem_euclid(146_097);
        let year_of_era = (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
        let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
        let shifted_month = (5 * day_of_year + 2) / 153;
        let day = (day_of_year - (153 * shifted_month + 2) / 5 + 1) as u32;
        let month = if shifted_month < 10 {
            shifted_month + 3
        } else {
            shifted_month - 9
        } as u32;
        let year = (year_of_era + era * 400 + i64::from(month <= 2)) as i32;
        Date { year, month, day }
    }

    /// Days from 1970-01-01 to this date (Howard Hinnant's days-from-civil).
    pub fn days_since_epoch(&self) -> i64 {
        let year = i64::from(self.year) - i64::from(self.month <= 2);
        let era = year.div_euclid(400);
        let year_of_era = year.rem_euclid(400);
        let month = i64::from(self.month);
        let day_of_year = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + i64::from(self.day) - 1;
        let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
        era * 146_097 + day_of_era - 719_468
    }

    fn days_in_month(&self) -> u32 {
        let leap = (self.year % 4 == 0 && self.year % 100 != 0) || self.year % 400 == 0;
        match self.month {
            2 if leap => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        }
    }

    /// Whole years from this date to `today` (a birthday on 29 February
    /// comes on 1 March in other years).
    pub fn age_on(&self, today: Date) -> u32 {
        let years = today.year - self.year - i32::from((today.month, today.day) < (self.month, self.day));
        u32::try_from(years).unwrap_or(0)
    }
}

impl std::fmt::Display for Date {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_date(text: &str, expect: Option<&str>) {
        assert_eq!(Date::parse(text).map(|d| d.to_string()).as_deref(), expect, "{text}");
    }

    #[test]
    fn dates_parse_only_real_days() {
        check_date("2000-02-29", Some("2000-02-29"));
        check_date("1900-02-29", None);
        check_date("2023-04-31", None);
        check_date("2023-13-01", None);
        check_date("2023-1-01", None);
        check_date("+023-01-01", None);
        check_date("1899-12-31", None);
    }

    #[test]
    fn the_epoch_day_and_ages_are_computed_in_utc() {
        assert_eq!(Date::from_epoch_ms(0).to_string(), "1970-01-01");
        assert_eq!(Date::from_epoch_ms(951_782_400_000).to_string(), "2000-02-29");
        assert_eq!(Date::from_epoch_ms(1_796_083_200_000).to_string(), "2026-12-01");
        let born = Date::parse("2008-12-02").unwrap();
        assert_eq!(born.age_on(Date::parse("2026-12-01").unwrap()), 17);
        assert_eq!(born.age_on(Date::parse("2026-12-02").unwrap()), 18);
        for ms in [0, 951_782_400_000, 1_796_083_200_000] {
            assert_eq!(Date::from_epoch_ms(ms).days_since_epoch(), (ms / 86_400_000) as i64);
        }
        assert_eq!(Date::parse("1969-12-31").unwrap_or(born).days_since_epoch(), -1);
    }

    #[test]
    fn emails_phones_postcodes_and_languages() {
        for good in ["a@b.co", "first.last+tag@sub.example.org"] {
            assert!(email(good).is_ok(), "{good}");
        }
        for bad in [
            "", "a", "a@b", "@b.co", "a@.co", "a@b..co", "a b@c.de", "a@b.c_o", ".a@b.co",
        ] {
            assert!(email(bad).is_err(), "{bad}");
        }
        assert_eq!(phone("+44 (20) 7946-0000").unwrap(), "+442079460000");
        assert!(phone("020 7946 0000").is_err() && phone("+12").is_err());
        assert!(push_token("bk3RNwTe3H0:CI2k_HHwgIpoDKCIZvvDMExUdFQ3P1-x.y") && !push_token("") && !push_token("a b"));
        assert!(!push_token(&"a".repeat(PUSH_TOKEN_MAX + 1)));
        assert!(postcode("SW1A 1AA").is_ok() && postcode("!").is_err() && postcode("").is_err());
        assert!(language_tag("en") && language_tag("en-GB") && !language_tag("EN") && !language_tag("e"));
    }
}
