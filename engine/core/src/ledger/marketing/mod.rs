//! The marketing domain: affiliates and their commission plans, brands
//! with their lobbies, and which brand and affiliate each player belongs
//! to (issue 14, "Affiliates" and "Lobby and branding").
//!
//! Every command here is a definition the ledger checks and keeps nothing
//! of, as with the bonus templates: the read model (`readmodel::marketing`)
//! keeps them, so they are rebuilt from the journal like every other
//! table, and no snapshot grows. Money never moves here; the commission an
//! affiliate earns is worked out from the read model's movements when a
//! report asks.

use crate::ids::{BonusCode, GameCode, Jurisdiction, OperatorId, PlayerId, Reason, SourceId, Title};
use crate::ledger::store::Detail;
use crate::ledger::{Applied, Ledger, rejected};
use crate::money::{Amount, Currency};
use crate::outcome::{Outcome, Rejection};

/// Most tracking codes one affiliate has.
pub const TRACKING_CODES_MAX: usize = 64;
/// Most currencies or jurisdictions one brand lists.
pub const BRAND_LIST_MAX: usize = 64;
/// Most categories in a lobby.
pub const LOBBY_CATEGORIES_MAX: usize = 64;
/// Most games in one lobby category, and most featured games.
pub const LOBBY_GAMES_MAX: usize = 512;
/// Basis points in one whole (10,000 = 100 %).
pub const BP_ONE: u16 = 10_000;

/// Whether an affiliate's tracking codes attribute new players.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AffiliateStatus {
    /// New registrations naming its codes are attributed to it.
    Active,
    /// They are not (recorded unattributed); players already attributed
    /// stay attributed and keep earning under its plan.
    Disabled,
}

impl AffiliateStatus {
    /// A short stable name, for the API and the read model.
    pub fn name(self) -> &'static str {
        match self {
            AffiliateStatus::Active => "active",
            AffiliateStatus::Disabled => "disabled",
        }
    }
}

/// An affiliate account.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Affiliate {
    /// Its code, unique; setting a code again replaces the account.
    pub code: BonusCode,
    /// Display name.
    pub name: Title,
    /// Who to contact (an email address or a name and number).
    pub contact: Title,
    /// Whether its tracking codes attribute new players.
    pub status: AffiliateStatus,
    /// The codes its links carry (each names one affiliate; the gateway
    /// checks that).
    pub tracking_codes: Vec<BonusCode>,
    /// Its commission plan's code (`None`: it earns nothing yet).
    pub plan: Option<BonusCode>,
}

/// How an affiliate is paid, per calendar month (UTC), in the plan's
/// currency.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CommissionPlan {
    /// Its code, unique; setting a code again replaces the plan.
    pub code: BonusCode,
    /// Display name.
    pub name: Title,
    /// The currency of its amounts; only the referred players' activity
    /// in this currency counts.
    pub currency: Currency,
    /// Revenue share: basis points of the month's NGR (0 to 10,000).
    pub revenue_share_bp: u16,
    /// The admin fee deducted from positive GGR before the share, basis
    /// points (0 to 10,000).
    pub admin_fee_bp: u16,
    /// Whether a negative month's NGR is carried into the next months
    /// (offset against them before any share is paid).
    pub negative_carry_over: bool,
    /// CPA: paid once per referred player whose first deposit is at least
    /// [`Self::cpa_threshold`] (zero: no CPA).
    pub cpa_amount: Amount,
    /// The smallest first deposit that qualifies for the CPA.
    pub cpa_threshold: Amount,
}

/// A brand: one casino front the operator runs on this platform.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Brand {
    /// Its code, unique; setting a code again replaces the brand.
    pub code: BonusCode,
    /// Display name.
    pub name: Title,
    /// The currencies its players may hold (empty: any).
    pub currencies: Vec<Currency>,
    /// The jurisdictions its players may be licensed in (empty: any).
    pub jurisdictions: Vec<Jurisdiction>,
}

/// A game as a lobby names it: the catalogue's key.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct LobbyGame {
    /// The aggregator whose code it is.
    pub aggregator: SourceId,
    /// The game's code there.
    pub code: GameCode,
}

/// A lobby category: a title and its games, in display order.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct LobbyCategory {
    /// Its code (`slots`, `live`).
    pub code: BonusCode,
    /// Display name.
    pub name: Title,
    /// Its games, in order.
    pub games: Vec<LobbyGame>,
}

/// A brand's look.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Theme {
    /// The main colour (`#0a7d3b`).
    pub primary_colour: Title,
    /// The accent colour.
    pub secondary_colour: Title,
    /// Where the logo is (`https://…`).
    pub logo_url: Reason,
}

/// A brand's lobby: categories in order, featured games, theme.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Lobby {
    /// The brand.
    pub brand: BonusCode,
    /// Categories, in display order.
    pub categories: Vec<LobbyCategory>,
    /// Featured games, in order.
    pub featured: Vec<LobbyGame>,
    /// Its look.
    pub theme: Theme,
}

/// What the marketing domain can be asked to do.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Command {
    /// Sets an affiliate account (new, or replacing the one of its code).
    SetAffiliate {
        /// The account.
        affiliate: Box<Affiliate>,
        /// Who set it.
        operator: OperatorId,
    },
    /// Sets a commission plan (new, or replacing the one of its code).
    SetCommissionPlan {
        /// The plan.
        plan: Box<CommissionPlan>,
        /// Who set it.
        operator: OperatorId,
    },
    /// Records a new player's brand and affiliate, as registration found
    /// them. The ledger checks the player exists.
    AttributePlayer {
        /// The player.
        player: PlayerId,
        /// The brand (`None`: the default brand).
        brand: Option<BonusCode>,
        /// The affiliate the tracking code named (`None`: unattributed).
        affiliate: Option<BonusCode>,
        /// The tracking code the registration carried, whether or not it
        /// named an active affiliate.
        tracking: Option<BonusCode>,
        /// Who registered the player.
        operator: OperatorId,
    },
    /// Sets a brand (new, or replacing the one of its code).
    SetBrand {
        /// The brand.
        brand: Box<Brand>,
        /// Who set it.
        operator: OperatorId,
    },
    /// Sets a brand's lobby (replacing the one it had).
    SetLobby {
        /// The lobby.
        lobby: Box<Lobby>,
        /// Who set it.
        operator: OperatorId,
    },
}

impl Command {
    /// The player the command is about, if it names one.
    pub fn player(&self) -> Option<PlayerId> {
        match self {
            Command::AttributePlayer { player, .. } => Some(*player),
            _ => None,
        }
    }

    /// A short stable name, for logs, metrics and journal filters.
    pub fn kind(&self) -> &'static str {
        match self {
            Command::SetAffiliate { .. } => "affiliate",
            Command::SetCommissionPlan { .. } => "commission_plan",
            Command::AttributePlayer { .. } => "attribution",
            Command::SetBrand { .. } => "brand",
            Command::SetLobby { .. } => "lobby",
        }
    }

    /// The operator that asks.
    pub fn operator(&self) -> OperatorId {
        match self {
            Command::SetAffiliate { operator, .. }
            | Command::SetCommissionPlan { operator, .. }
            | Command::AttributePlayer { operator, .. }
            | Command::SetBrand { operator, .. }
            | Command::SetLobby { operator, .. } => *operator,
        }
    }

    /// Checks the rules a definition must keep; the refusal names none of
    /// them by field (the gateway checks fields first and names them).
    pub fn validate(&self) -> Result<(), Rejection> {
        let ok = match self {
            Command::SetAffiliate { affiliate, .. } => affiliate.tracking_codes.len() <= TRACKING_CODES_MAX,
            Command::SetCommissionPlan { plan, .. } => {
                plan.revenue_share_bp <= BP_ONE
                    && plan.admin_fee_bp <= BP_ONE
                    && !plan.cpa_amount.is_negative()
                    && !plan.cpa_threshold.is_negative()
            }
            Command::AttributePlayer { .. } => true,
            Command::SetBrand { brand, .. } => {
                brand.currencies.len() <= BRAND_LIST_MAX && brand.jurisdictions.len() <= BRAND_LIST_MAX
            }
            Command::SetLobby { lobby, .. } => {
                lobby.categories.len() <= LOBBY_CATEGORIES_MAX
                    && lobby.featured.len() <= LOBBY_GAMES_MAX
                    && lobby.categories.iter().all(|c| c.games.len() <= LOBBY_GAMES_MAX)
            }
        };
        if ok { Ok(()) } else { Err(Rejection::InvalidMarketing) }
    }
}

impl Ledger {
    /// Applies one of the domain's commands: checks it, changes nothing.
    pub(super) fn apply_marketing(&mut self, command: &Command) -> Applied {
        if let Err(rejection) = command.validate() {
            return rejected(rejection);
        }
        if let Command::AttributePlayer { player, .. } = command
            && let Err(rejection) = self.player(*player)
        {
            return rejected(rejection);
        }
        (Outcome::Accepted, Detail::Plain)
    }
}

#[cfg(test)]
mod tests;
