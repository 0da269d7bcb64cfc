//! The self-exclusion registry: the adapter to a national register such
//! as GAMSTOP, its sandbox, and the policy that decides what registration
//! and login do with its answer.
//!
//! The register sits behind [`ExclusionRegistry`]: given a person's
//! details, is this person excluded (`Y`), never excluded (`N`) or
//! previously excluded (`P`)? The one implementation,
//! [`gamstop::GamstopClient`], speaks GAMSTOP's API v2 (see `gamstop.rs`
//! for what it follows); the [`sandbox`] is a loopback server speaking the
//! same protocol, which the tests start and `croupier sandbox gamstop` runs
//! for local use.
//!
//! What the answer does ([`RegistryPolicy`]): a hit refuses a registration
//! (403 `self_excluded`, nothing journaled) and, at a login, suspends the
//! account with the reason [`REGISTRY_REASON`] before the login is
//! recorded, so the ledger refuses bets and deposits from that batch on. A
//! previous exclusion (`P`) is let through: the person chose to come back.
//! A register that cannot answer is handled per jurisdiction: fail-closed
//! (the default, and the only safe choice for the UK, where an excluded
//! person must not be let in) refuses with 503; fail-open jurisdictions go
//! on and say the register was unavailable. Only players of the checked
//! jurisdictions are sent to the register at all (GAMSTOP covers Great
//! Britain): nobody else's personal data leaves the server.
//!
//! The personal details sent are read from the sealed profile and never
//! logged; the log keeps the register's own reference (`X-Unique-Id`).

pub mod gamstop;
pub mod sandbox;
pub mod screening;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use engine::Jurisdiction;

use crate::profile::Profile;

/// The account-status reason a registry hit at login records.
pub const REGISTRY_REASON: &str = "registry: self-excluded at the national self-exclusion register";

/// A registry call in flight.
pub type RegistryFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, RegistryError>> + Send + 'a>>;

/// What the register is asked about: the person's details as GAMSTOP
/// takes them.
#[derive(Clone, PartialEq, Eq)]
pub struct PersonDetails {
    /// Given name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// `YYYY-MM-DD`.
    pub date_of_birth: String,
    /// Email address.
    pub email: String,
    /// Postcode, as given.
    pub postcode: String,
    /// Phone number: UK numbers in the national form (`07700900461`),
    /// others as `+` and digits.
    pub mobile: String,
}

// Personal data: never printed, even in a debug line.
impl std::fmt::Debug for PersonDetails {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PersonDetails(..)")
    }
}

impl PersonDetails {
    /// The details of a (validated) profile. The profile holds one full
    /// name: its first word is the given name and its last the family name
    /// (middle names are not asked for); a one-word name is both.
    pub fn of(profile: &Profile) -> PersonDetails {
        let mut words = profile.name.split_whitespace();
        let first = words.next().unwrap_or_default().to_owned();
        let last = words.next_back().map_or_else(|| first.clone(), str::to_owned);
        PersonDetails {
            first_name: first,
            last_name: last,
            date_of_birth: profile.date_of_birth.clone(),
            email: profile.email.trim().to_owned(),
            postcode: profile.address.postcode.trim().to_owned(),
            mobile: national_mobile(&profile.phone),
        }
    }
}

/// A phone number as GAMSTOP's examples write it: a UK number (`+44`) in
/// the national form with its leading 0, any other as `+` and its digits.
pub fn national_mobile(phone: &str) -> String {
    let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
    match digits.strip_prefix("44") {
        Some(national) if phone.trim_start().starts_with('+') => format!("0{national}"),
        _ if phone.trim_start().starts_with('+') => format!("+{digits}"),
        _ => digits,
    }
}

/// The register's answer about a person (`X-Exclusion`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exclusion {
    /// `Y`: excluded now.
    Excluded,
    /// `N`: not found.
    NotExcluded,
    /// `P`: excluded before, the exclusion has ended.
    PreviouslyExcluded,
}

impl Exclusion {
    /// The protocol's letter.
    pub fn letter(self) -> &'static str {
        match self {
            Exclusion::Excluded => "Y",
            Exclusion::NotExcluded => "N",
            Exclusion::PreviouslyExcluded => "P",
        }
    }

    /// The answer a letter stands for.
    pub fn from_letter(letter: &str) -> Option<Exclusion> {
        match letter {
            "Y" => Some(Exclusion::Excluded),
            "N" => Some(Exclusion::NotExcluded),
            "P" => Some(Exclusion::PreviouslyExcluded),
            _ => None,
        }
    }
}

/// The register's answer to one check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistryAnswer {
    /// Excluded or not.
    pub exclusion: Exclusion,
    /// The register's reference of this check (`X-Unique-Id`), which its
    /// support asks for.
    pub reference: String,
}

/// One person of a batch check, with the caller's id for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchEntry {
    /// The caller's id (`correlationId`), echoed in the answer.
    pub correlation_id: String,
    /// Who.
    pub person: PersonDetails,
}

/// The register's answer about one person of a batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchAnswer {
    /// The caller's id of the person.
    pub correlation_id: String,
    /// Excluded or not.
    pub exclusion: Exclusion,
    /// The register's reference of this person's check (`msRequestId`).
    pub reference: String,
}

/// Why the register gave no answer.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// It could not be reached or did not answer in time.
    #[error("the self-exclusion register is unreachable: {0}")]
    Unreachable(String),
    /// It refused the request (a wrong key, a missing field).
    #[error("the self-exclusion register answered {status}: {body}")]
    Refused {
        /// Its HTTP status.
        status: u16,
        /// Its answer.
        body: String,
    },
    /// Too many requests: it asks to wait.
    #[error("the self-exclusion register is rate limiting us (retry after {retry_after_s:?} s)")]
    RateLimited {
        /// Its `Retry-After`, if it gave one.
        retry_after_s: Option<u64>,
    },
    /// Its answer is not what its protocol says.
    #[error("the self-exclusion register's answer is malformed: {0}")]
    Malformed(String),
}

/// A national self-exclusion register.
pub trait ExclusionRegistry: Send + Sync {
    /// Is this person excluded?
    fn check<'a>(&'a self, person: &'a PersonDetails) -> RegistryFuture<'a, RegistryAnswer>;

    /// Checks many people in one request (the register's batch endpoint),
    /// for periodic re-checks of the whole player base.
    fn check_batch<'a>(&'a self, people: &'a [BatchEntry]) -> RegistryFuture<'a, Vec<BatchAnswer>>;
}

/// Who is checked, and what an unreachable register means.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RegistryPolicy {
    /// The jurisdictions whose players are checked (GAMSTOP: `GB`).
    pub jurisdictions: Vec<Jurisdiction>,
    /// The checked jurisdictions where an unreachable register lets a
    /// registration or login go on (fail-open); everywhere else it is
    /// refused (fail-closed).
    pub fail_open: Vec<Jurisdiction>,
}

impl RegistryPolicy {
    /// True if players of `jurisdiction` are checked.
    pub fn checks(&self, jurisdiction: Option<Jurisdiction>) -> bool {
        jurisdiction.is_some_and(|j| self.jurisdictions.contains(&j))
    }

    /// True if an unreachable register lets players of `jurisdiction` in.
    pub fn fails_open(&self, jurisdiction: Option<Jurisdiction>) -> bool {
        jurisdiction.is_some_and(|j| self.fail_open.contains(&j))
    }
}

/// The register and its policy, as the server set them up at start-up.
#[derive(Clone)]
pub struct RegistryHandle {
    /// The register.
    pub registry: Arc<dyn ExclusionRegistry>,
    /// Who is checked, and how a failure is handled.
    pub policy: RegistryPolicy,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::{Address, Consents};

    fn profile(name: &str, phone: &str) -> Profile {
        Profile {
            name: name.into(),
            email: " ada@example.org ".into(),
            phone: phone.into(),
            date_of_birth: "1990-05-17".into(),
            address: Address {
                line: "1 Lane".into(),
                city: "York".into(),
                postcode: "YO1 7HH".into(),
            },
            country: "GB".into(),
            language: "en".into(),
            marketing: Consents::default(),
            affiliate_code: None,
            push_token: None,
        }
    }

    #[test]
    fn details_take_the_first_and_last_names_and_the_national_mobile() {
        let details = PersonDetails::of(&profile("Ada  Augusta King", "+44 7700 900461"));
        assert_eq!(
            (details.first_name.as_str(), details.last_name.as_str()),
            ("Ada", "King")
        );
        assert_eq!(details.mobile, "07700900461");
        assert_eq!(details.email, "ada@example.org");
        assert_eq!(details.postcode, "YO1 7HH");
        let one = PersonDetails::of(&profile("Cher", "+1 (202) 555-0101"));
        assert_eq!((one.first_name.as_str(), one.last_name.as_str()), ("Cher", "Cher"));
        assert_eq!(one.mobile, "+12025550101");
        assert_eq!(format!("{one:?}"), "PersonDetails(..)");
    }

    #[test]
    fn letters_round_trip_and_others_are_refused() {
        for exclusion in [
            Exclusion::Excluded,
            Exclusion::NotExcluded,
            Exclusion::PreviouslyExcluded,
        ] {
            assert_eq!(Exclusion::from_letter(exclusion.letter()), Some(exclusion));
        }
        assert_eq!(Exclusion::from_letter("y"), None);
        assert_eq!(Exclusion::from_letter(""), None);
    }

    #[test]
    fn only_named_jurisdictions_are_checked_and_failing_open_is_opt_in() {
        let gb = Jurisdiction::new("GB").ok();
        let mt = Jurisdiction::new("MT").ok();
        let policy = RegistryPolicy {
            jurisdictions: vec![gb.unwrap(), mt.unwrap()],
            fail_open: vec![mt.unwrap()],
        };
        assert!(policy.checks(gb) && policy.checks(mt));
        assert!(!policy.checks(Jurisdiction::new("DE").ok()) && !policy.checks(None));
        assert!(!policy.fails_open(gb) && policy.fails_open(mt) && !policy.fails_open(None));
    }
}
