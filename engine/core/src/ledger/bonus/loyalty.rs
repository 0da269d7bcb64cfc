//! Loyalty and VIP settings: the accrual rates per game type, the
//! redemption rate of points into bonus money, the VIP tiers with their
//! thresholds, review period and benefits; and the promotion rules per
//! jurisdiction (the mixed-product ban).
//!
//! Like the bonus templates, the ledger keeps none of it: the settings are
//! journaled ([`super::Command::SetLoyalty`], [`super::Command::SetVipTier`],
//! [`super::Command::SetPromotionRules`]) so that the read model, which keeps
//! them and works the points out of its history of bets, is rebuilt from the
//! journal like every other table. Points are not ledger money: a
//! redemption ([`super::Command::RedeemPoints`]) is a bonus grant that
//! records the points it spent, and the gateway refuses one that spends
//! more than the read model counts (serialized per player there).

use crate::ids::{BonusCode, Title};
use crate::ledger::games::GameType;
use crate::money::{Amount, Currency};
use crate::outcome::Rejection;

/// Most VIP tiers a configuration lists.
pub const VIP_TIERS_MAX: usize = 16;
/// Largest accrual rate, milli-points per whole unit of stake (1,000
/// points per unit).
pub const RATE_MILLI_MAX: u32 = 1_000_000;

/// One VIP tier: what reaches it and what it gives.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct VipTier {
    /// Its code, unique in the configuration.
    pub code: BonusCode,
    /// Display name.
    pub name: Title,
    /// Points earned in a review period that reach it.
    pub min_points: u64,
    /// Stake in the configuration's currency over a review period that
    /// reaches it too (`None`: points alone).
    pub min_turnover: Option<Amount>,
    /// The cashback percent of net losses it gives, overriding the
    /// cashback template's (`None`: the template's).
    pub cashback_pct: Option<u16>,
    /// The most a player of the tier may withdraw per day (`None`: the
    /// cashier's usual rules).
    pub withdrawal_limit: Option<Amount>,
    /// Whether the tier has a personal account manager.
    pub account_manager: bool,
}

/// The loyalty programme's settings.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct LoyaltyConfig {
    /// Milli-points earned per whole unit of stake (1 EUR, 1 JPY …), per
    /// game type, each type at most once.
    pub rates: Vec<(GameType, u32)>,
    /// Milli-points per unit of stake on games not in the catalogue.
    pub default_rate_milli: u32,
    /// The currency of redemptions and of the turnover thresholds.
    pub currency: Currency,
    /// How many points buy `redeem_amount` of bonus money.
    pub redeem_points: u64,
    /// The bonus money `redeem_points` buy.
    pub redeem_amount: Amount,
    /// Wagering requirement of the bonus a redemption grants, a multiple
    /// of it (the player's jurisdiction may cap it lower).
    pub redeem_wagering_x: u32,
    /// Days until a redeemed bonus expires unconverted.
    pub redeem_expiry_days: u32,
    /// Length of a VIP review period, days (periods start at the epoch).
    pub review_days: u16,
    /// The tiers, lowest first: a player gets the highest one reached.
    pub tiers: Vec<VipTier>,
}

impl LoyaltyConfig {
    /// Checks the rules a configuration must keep.
    pub fn validate(&self) -> Result<(), Rejection> {
        let mut types: Vec<GameType> = self.rates.iter().map(|(kind, _)| *kind).collect();
        types.sort();
        types.dedup();
        let rates_ok = types.len() == self.rates.len()
            && self.rates.iter().all(|(_, rate)| *rate <= RATE_MILLI_MAX)
            && self.default_rate_milli <= RATE_MILLI_MAX;
        let redeem_ok = self.redeem_points >= 1
            && self.redeem_amount.is_positive()
            && self.redeem_wagering_x <= super::TEMPLATE_WAGERING_X_MAX
            && self.redeem_expiry_days >= 1
            && self.review_days >= 1;
        if !rates_ok || !redeem_ok {
            return Err(Rejection::InvalidAmount);
        }
        if self.tiers.len() > VIP_TIERS_MAX {
            return Err(Rejection::InvalidAmount);
        }
        let mut codes: Vec<&str> = self.tiers.iter().map(|t| t.code.as_str()).collect();
        codes.sort_unstable();
        codes.dedup();
        let ascending = self.tiers.windows(2).all(|w| w[0].min_points < w[1].min_points);
        let tiers_ok = codes.len() == self.tiers.len()
            && ascending
            && self.tiers.iter().all(|t| {
                t.min_turnover.is_none_or(Amount::is_positive)
                    && t.cashback_pct.is_none_or(|pct| (1..=100).contains(&pct))
                    && t.withdrawal_limit.is_none_or(Amount::is_positive)
            });
        if !tiers_ok {
            return Err(Rejection::InvalidAmount);
        }
        Ok(())
    }

    /// The rate of `kind` (`None`: a game not in the catalogue), milli-points
    /// per whole unit of stake.
    pub fn rate_milli(&self, kind: Option<GameType>) -> u32 {
        kind.and_then(|kind| self.rates.iter().find(|(k, _)| *k == kind).map(|(_, rate)| *rate))
            .unwrap_or(self.default_rate_milli)
    }

    /// The bonus money `points` buy (rounded down).
    pub fn redemption_amount(&self, points: u64) -> Amount {
        let minor = i128::from(points) * i128::from(self.redeem_amount.minor()) / i128::from(self.redeem_points);
        i64::try_from(minor).map_or(Amount::MAX, Amount::from_minor)
    }

    /// The tier reached with `points` and `turnover` in a review period:
    /// the highest whose points or turnover threshold is met.
    pub fn tier_for(&self, points: u64, turnover: Amount) -> Option<&VipTier> {
        self.tiers
            .iter()
            .rev()
            .find(|t| points >= t.min_points || t.min_turnover.is_some_and(|min| turnover >= min))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tier(code: &str, min_points: u64) -> VipTier {
        VipTier {
            code: BonusCode::new(code).unwrap(),
            name: Title::new(code).unwrap(),
            min_points,
            min_turnover: None,
            cashback_pct: Some(10),
            withdrawal_limit: None,
            account_manager: false,
        }
    }

    fn config() -> LoyaltyConfig {
        LoyaltyConfig {
            rates: vec![(GameType::Slot, 1_000), (GameType::Table, 200)],
            default_rate_milli: 100,
            currency: Currency::EUR,
            redeem_points: 100,
            redeem_amount: Amount::from_minor(150),
            redeem_wagering_x: 1,
            redeem_expiry_days: 30,
            review_days: 30,
            tiers: vec![tier("silver", 100), tier("gold", 1_000)],
        }
    }

    #[test]
    fn rates_redemptions_and_tiers_follow_the_configuration() {
        let c = config();
        assert_eq!(c.validate(), Ok(()));
        assert_eq!(c.rate_milli(Some(GameType::Slot)), 1_000);
        assert_eq!(c.rate_milli(Some(GameType::Live)), 100);
        assert_eq!(c.rate_milli(None), 100);
        assert_eq!(c.redemption_amount(100), Amount::from_minor(150));
        assert_eq!(c.redemption_amount(33), Amount::from_minor(49));
        assert_eq!(c.tier_for(99, Amount::ZERO), None);
        assert_eq!(c.tier_for(100, Amount::ZERO).unwrap().code.as_str(), "silver");
        assert_eq!(c.tier_for(5_000, Amount::ZERO).unwrap().code.as_str(), "gold");
    }

    #[test]
    fn bad_configurations_are_refused() {
        let spoiled = |spoil: fn(&mut LoyaltyConfig)| {
            let mut c = config();
            spoil(&mut c);
            c.validate()
        };
        let bad = Err(Rejection::InvalidAmount);
        assert_eq!(spoiled(|c| c.rates.push((GameType::Slot, 5))), bad);
        assert_eq!(spoiled(|c| c.redeem_points = 0), bad);
        assert_eq!(spoiled(|c| c.redeem_amount = Amount::ZERO), bad);
        assert_eq!(spoiled(|c| c.review_days = 0), bad);
        assert_eq!(spoiled(|c| c.tiers.reverse()), bad);
        assert_eq!(spoiled(|c| c.tiers[0].cashback_pct = Some(101)), bad);
        assert_eq!(spoiled(|c| c.default_rate_milli = RATE_MILLI_MAX + 1), bad);
    }
}
