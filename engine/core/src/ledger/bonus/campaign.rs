//! Segments and campaigns: who marketing targets, and with what.
//!
//! Like the bonus templates, the ledger keeps none of it. A segment is a
//! set of rules over player attributes and behaviour, a campaign sends an
//! offer to a segment over a channel; both are journaled
//! ([`super::Command::SetSegment`], [`super::Command::SetCampaign`]) so the
//! read model, which keeps them and works membership out of its
//! projections, is rebuilt from the journal. So is each campaign's
//! targeting of players ([`super::Command::CampaignTargets`], the control
//! group and the suppressed included) and each send ([`super::Command::CampaignSent`]): the
//! delivery outbox is derived from them, so nothing is lost or sent twice
//! across a restart.

use crate::ids::{BonusCode, Jurisdiction, Title};
use crate::ledger::games::GameType;
use crate::money::{Amount, Currency};
use crate::outcome::Rejection;

/// Most rules a segment combines (both groups together), and most values
/// (countries, game types, tiers) one rule lists.
pub const SEGMENT_RULES_MAX: usize = 32;
/// The longest window a rule looks back over, days.
pub const SEGMENT_WINDOW_DAYS_MAX: u32 = 3660;
/// The largest control group, percent of the segment.
pub const CONTROL_PCT_MAX: u8 = 90;
/// Most players one [`super::Command::CampaignTargets`] records.
pub const TARGETS_PER_COMMAND_MAX: usize = 1000;

/// What a campaign does for a player it considered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TargetKind {
    /// Owed the offer and the message.
    Target,
    /// In the control group: nothing.
    Control,
    /// Suppressed (responsible gambling, consent, risk) or not a member
    /// when a trigger fired: nothing.
    Skipped,
}

/// What a player's responsible-gambling history must be (players excluded
/// or timed out now are never targeted, whatever the segment says).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RgFilter {
    /// Never self-excluded nor timed out.
    NeverRestricted,
    /// Self-excluded or timed out before, not now.
    PreviouslyRestricted,
}

/// One condition on a player.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum SegmentRule {
    /// Country of residence (from the profile) is one of these.
    Country {
        /// ISO 3166-1 alpha-2 codes.
        countries: Vec<Jurisdiction>,
    },
    /// Age in whole years, from the profile's date of birth, within the
    /// bounds (inclusive).
    AgeBetween {
        /// Youngest.
        min_years: u16,
        /// Oldest.
        max_years: u16,
    },
    /// Deposits in `currency` over the last `window_days`: a total within
    /// the bounds and at least `min_count` of them.
    Deposits {
        /// The wallet's currency.
        currency: Currency,
        /// How far back, days.
        window_days: u32,
        /// Smallest total.
        min_total: Amount,
        /// Largest total (`None`: no bound).
        max_total: Option<Amount>,
        /// Fewest deposits.
        min_count: u32,
    },
    /// Gross gaming revenue (stakes less prizes) from the player in
    /// `currency` over the last `window_days`, within the bounds.
    Ggr {
        /// The wallet's currency.
        currency: Currency,
        /// How far back, days.
        window_days: u32,
        /// Smallest GGR (may be negative: the player won; `None`: no
        /// bound).
        min: Option<Amount>,
        /// Largest GGR (`None`: no bound).
        max: Option<Amount>,
    },
    /// Days since the player's last money movement, within the bounds
    /// (a player who never moved money has none and does not match).
    LastActivity {
        /// Fewest days.
        min_days: u32,
        /// Most days (`None`: no bound).
        max_days: Option<u32>,
    },
    /// Played a game of one of these types over the last `window_days`.
    GameTypes {
        /// The types (any of them).
        types: Vec<GameType>,
        /// How far back, days.
        window_days: u32,
    },
    /// The VIP tier is one of these (`none_too`: or no tier).
    VipTier {
        /// Tier codes.
        tiers: Vec<BonusCode>,
        /// Whether players without a tier match too.
        none_too: bool,
    },
    /// The responsible-gambling history.
    RgStatus {
        /// Which.
        status: RgFilter,
    },
}

impl SegmentRule {
    fn valid(&self) -> bool {
        let window = |days: u32| (1..=SEGMENT_WINDOW_DAYS_MAX).contains(&days);
        match self {
            SegmentRule::Country { countries } => (1..=SEGMENT_RULES_MAX).contains(&countries.len()),
            SegmentRule::AgeBetween { min_years, max_years } => min_years <= max_years && *max_years <= 150,
            SegmentRule::Deposits {
                window_days,
                min_total,
                max_total,
                ..
            } => window(*window_days) && !min_total.is_negative() && max_total.is_none_or(|max| max >= *min_total),
            SegmentRule::Ggr {
                window_days, min, max, ..
            } => window(*window_days) && !matches!((min, max), (Some(min), Some(max)) if max < min),
            SegmentRule::LastActivity { min_days, max_days } => {
                *min_days <= SEGMENT_WINDOW_DAYS_MAX && max_days.is_none_or(|max| max >= *min_days)
            }
            SegmentRule::GameTypes { types, window_days } => {
                window(*window_days) && (1..=GameType::ALL.len()).contains(&types.len())
            }
            SegmentRule::VipTier { tiers, none_too } => {
                tiers.len() <= SEGMENT_RULES_MAX && (*none_too || !tiers.is_empty())
            }
            SegmentRule::RgStatus { .. } => true,
        }
    }
}

/// A rule-based set of players: every rule of `all`, and at least one of
/// `any` when it lists some.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Segment {
    /// Its code, unique; setting a code again replaces the segment.
    pub code: BonusCode,
    /// Display name.
    pub name: Title,
    /// Rules every member keeps.
    pub all: Vec<SegmentRule>,
    /// Rules of which a member keeps at least one (empty: no such group).
    pub any: Vec<SegmentRule>,
}

impl Segment {
    /// Checks its bounds: at most [`SEGMENT_RULES_MAX`] rules, each in
    /// range.
    pub fn validate(&self) -> Result<(), Rejection> {
        let rules = self.all.len() + self.any.len();
        if rules > SEGMENT_RULES_MAX || !self.all.iter().chain(&self.any).all(SegmentRule::valid) {
            return Err(Rejection::InvalidSegment);
        }
        Ok(())
    }
}

/// How a campaign reaches a player.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Channel {
    /// No message: the offer alone (a scheduled or triggered bonus).
    None,
    /// By email.
    Email,
    /// By SMS.
    Sms,
    /// By push notification.
    Push,
}

impl Channel {
    /// The channel's stable lower-case name.
    pub const fn name(self) -> &'static str {
        match self {
            Channel::None => "none",
            Channel::Email => "email",
            Channel::Sms => "sms",
            Channel::Push => "push",
        }
    }
}

/// When a campaign targets players.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CampaignStart {
    /// Once, the segment's members at that time (ms since the epoch).
    At {
        /// When.
        at_ms: u64,
    },
    /// Each member who makes a deposit while it is enabled.
    OnDeposit,
    /// Each player who registers while it is enabled and is a member then.
    OnRegistration,
}

/// An offer sent to a segment.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Campaign {
    /// Its code, unique; setting a code again replaces the campaign (the
    /// players it already targeted stay targeted).
    pub code: BonusCode,
    /// Display name.
    pub name: Title,
    /// The segment's code.
    pub segment: BonusCode,
    /// The bonus template granted to each target (`None`: a message only).
    pub offer: Option<BonusCode>,
    /// How the message goes out.
    pub channel: Channel,
    /// The message.
    pub message: Title,
    /// When it targets players.
    pub start: CampaignStart,
    /// The share of the segment held back as the control group, percent
    /// (chosen by a hash of the campaign and the player; it gets nothing).
    pub control_pct: u8,
    /// Whether it runs.
    pub enabled: bool,
}

impl Campaign {
    /// Checks its bounds: a control group of at most [`CONTROL_PCT_MAX`]
    /// percent, and something to send (an offer, a channel, or both).
    pub fn validate(&self) -> Result<(), Rejection> {
        if self.control_pct > CONTROL_PCT_MAX || (self.channel == Channel::None && self.offer.is_none()) {
            return Err(Rejection::InvalidCampaign);
        }
        Ok(())
    }
}

/// Whether `player` is in `campaign`'s control group of `control_pct`
/// percent: the same answer on every node and after every restart (an
/// FNV-1a hash of the code and the player id, not a random draw).
pub fn in_control_group(campaign: &str, player: u64, control_pct: u8) -> bool {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in campaign.bytes().chain([0]).chain(player.to_le_bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash % 100 < u64::from(control_pct)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segment(all: Vec<SegmentRule>) -> Segment {
        Segment {
            code: BonusCode::new("s").unwrap(),
            name: Title::new("S").unwrap(),
            all,
            any: Vec::new(),
        }
    }

    #[test]
    fn segment_bounds() {
        let eur = Currency::from_code("EUR").unwrap();
        assert_eq!(segment(vec![]).validate(), Ok(()));
        let deposits = |min: i64, max: Option<i64>, window_days| SegmentRule::Deposits {
            currency: eur,
            window_days,
            min_total: Amount::from_minor(min),
            max_total: max.map(Amount::from_minor),
            min_count: 1,
        };
        assert_eq!(segment(vec![deposits(0, Some(10), 30)]).validate(), Ok(()));
        for bad in [deposits(-1, None, 30), deposits(10, Some(5), 30), deposits(0, None, 0)] {
            assert_eq!(segment(vec![bad]).validate(), Err(Rejection::InvalidSegment));
        }
        let ages = SegmentRule::AgeBetween {
            min_years: 30,
            max_years: 20,
        };
        assert_eq!(segment(vec![ages]).validate(), Err(Rejection::InvalidSegment));
        let none = SegmentRule::Country { countries: vec![] };
        assert_eq!(segment(vec![none]).validate(), Err(Rejection::InvalidSegment));
        let many = vec![
            SegmentRule::RgStatus {
                status: RgFilter::NeverRestricted
            };
            SEGMENT_RULES_MAX + 1
        ];
        assert_eq!(segment(many).validate(), Err(Rejection::InvalidSegment));
    }

    #[test]
    fn control_group_is_stable_and_near_its_share() {
        let held = (1..=10_000).filter(|&p| in_control_group("spring", p, 20)).count();
        assert!((1_700..=2_300).contains(&held), "{held}");
        assert_eq!(in_control_group("spring", 7, 20), in_control_group("spring", 7, 20));
        assert!(!(1..=1000).any(|p| in_control_group("spring", p, 0)));
    }
}
