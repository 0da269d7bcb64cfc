//! Bonus templates: the offers operators define once and grant from
//! (deposit match, no-deposit, cashback, free spins), with their rules.
//!
//! A template is journaled ([`super::Command::SetTemplate`]) so that the
//! read model, which keeps the templates, is rebuilt from the journal like
//! every other table; the ledger checks it and keeps nothing of it (a grant
//! carries every rule it needs), as with the FX rates.

use crate::ids::{BonusCode, GameCode, Title};
use crate::money::{Amount, Currency};
use crate::outcome::Rejection;

/// Most games a free-spins template names, and most per-game
/// contributions a template lists.
pub const TEMPLATE_GAMES_MAX: usize = 256;
/// The largest wagering multiple a template may ask (before any
/// jurisdiction's cap lowers it).
pub const TEMPLATE_WAGERING_X_MAX: u32 = 200;

/// What a template grants.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum TemplateKind {
    /// A share of a deposit, up to a cap, for deposits of at least a
    /// minimum.
    DepositMatch {
        /// Percent of the deposit (1 to 1000).
        percent: u16,
        /// The most it grants.
        cap: Amount,
        /// The smallest deposit it matches.
        min_deposit: Amount,
    },
    /// A fixed amount, no deposit needed.
    NoDeposit {
        /// What it grants.
        amount: Amount,
    },
    /// A share of a player's net losses over a period.
    Cashback {
        /// Percent of the net losses (1 to 100).
        percent: u16,
        /// The period the losses are counted over, days.
        period_days: u16,
    },
    /// Free rounds on some games, recorded here and credited as a bonus
    /// from their wins.
    FreeSpins {
        /// How many rounds.
        count: u32,
        /// The stake of each round.
        bet_value: Amount,
        /// The games they are played on.
        games: Vec<GameCode>,
    },
}

impl TemplateKind {
    /// A short stable name, for the API and the read model.
    pub fn name(&self) -> &'static str {
        match self {
            TemplateKind::DepositMatch { .. } => "deposit_match",
            TemplateKind::NoDeposit { .. } => "no_deposit",
            TemplateKind::Cashback { .. } => "cashback",
            TemplateKind::FreeSpins { .. } => "free_spins",
        }
    }
}

/// A bonus offer and its rules.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct BonusTemplate {
    /// Its code, unique; setting a code again replaces the template.
    pub code: BonusCode,
    /// Display name.
    pub name: Title,
    /// What it grants.
    pub kind: TemplateKind,
    /// The currency of its amounts and of the bonuses it grants.
    pub currency: Currency,
    /// Wagering requirement, as a multiple of the bonus (the player's
    /// jurisdiction may cap it lower).
    pub wagering_x: u32,
    /// Contribution to wagering, in percent of the stake, per game.
    pub contributions: Vec<(GameCode, u8)>,
    /// Contribution, in percent, of games not listed.
    pub default_contribution_pct: u8,
    /// The largest stake while the bonus is active (`None`: no cap).
    pub max_bet: Option<Amount>,
    /// Days from the grant until an unconverted bonus expires.
    pub expiry_days: u32,
    /// Most cash a conversion yields (`None`: the whole bonus).
    pub conversion_cap: Option<Amount>,
    /// Granted without an operator: a deposit match on each confirmed
    /// deposit, a no-deposit bonus at registration.
    pub automatic: bool,
    /// The code a player claims it with (`None`: not claimable by code).
    pub claim_code: Option<BonusCode>,
    /// Whether it spans products (casino and sports, say): refused where
    /// the jurisdiction bans mixed-product promotions.
    pub mixed_product: bool,
    /// Whether it may be granted now.
    pub enabled: bool,
}

impl BonusTemplate {
    /// Checks the rules a template must keep; the refusal names none of
    /// them by field (the gateway checks fields first and names them).
    pub fn validate(&self) -> Result<(), Rejection> {
        let non_negative = |amount: Amount| !amount.is_negative();
        let amounts_ok = match &self.kind {
            TemplateKind::DepositMatch {
                percent,
                cap,
                min_deposit,
            } => (1..=1000).contains(percent) && cap.is_positive() && non_negative(*min_deposit),
            TemplateKind::NoDeposit { amount } => amount.is_positive(),
            TemplateKind::Cashback { percent, period_days } => (1..=100).contains(percent) && *period_days >= 1,
            TemplateKind::FreeSpins {
                count,
                bet_value,
                games,
            } => *count >= 1 && bet_value.is_positive() && !games.is_empty() && games.len() <= TEMPLATE_GAMES_MAX,
        };
        let rules_ok = self.wagering_x <= TEMPLATE_WAGERING_X_MAX
            && self.expiry_days >= 1
            && self.max_bet.is_none_or(Amount::is_positive)
            && self.conversion_cap.is_none_or(non_negative);
        if !amounts_ok || !rules_ok {
            return Err(Rejection::InvalidAmount);
        }
        if self.contributions.len() > TEMPLATE_GAMES_MAX {
            return Err(Rejection::InvalidContribution);
        }
        if self.default_contribution_pct > 100 || self.contributions.iter().any(|&(_, pct)| pct > 100) {
            return Err(Rejection::InvalidContribution);
        }
        Ok(())
    }
}
