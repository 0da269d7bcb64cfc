//! The players domain (PAM): registration, account status, KYC and
//! jurisdiction rules.
//!
//! Its state, [`PlayersState`], is every account (with its wallets) and the
//! rules of each jurisdiction. The other money domains work on the same
//! per-player record (`../account.rs`): see there why wallets are not split
//! out by domain. Its commands touch nothing but this state, so they apply
//! to it alone.

mod command;
#[cfg(test)]
mod tests;

pub use self::command::{AccountStatus, Command, JurisdictionRules, KycLevel};

use super::account::Player;
use super::store::Detail;
use super::{Applied, Config, rejected};
use crate::codec::codec_struct;
use crate::ids::{Jurisdiction, PlayerId};
use crate::money::Currency;
use crate::outcome::{Capacity, Outcome, Rejection};

/// Every account and the jurisdictions' rules.
#[derive(Clone, Debug, Default)]
pub(crate) struct PlayersState {
    /// Index = player id − 1: a player is found without a lookup table.
    players: Vec<Player>,
    /// Few (one per licence): a vector is faster than a map.
    jurisdictions: Vec<(Jurisdiction, JurisdictionRules)>,
}

/// The index of a player id in [`PlayersState`] (ids start at 1).
pub(crate) fn player_index(id: PlayerId) -> Option<usize> {
    usize::try_from(id.0).ok()?.checked_sub(1)
}

impl PlayersState {
    /// Registered players.
    pub(crate) fn len(&self) -> usize {
        self.players.len()
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &Player> {
        self.players.iter()
    }

    pub(crate) fn get(&self, id: PlayerId) -> Result<&Player, Rejection> {
        player_index(id)
            .and_then(|i| self.players.get(i))
            .ok_or(Rejection::UnknownPlayer)
    }

    pub(crate) fn get_mut(&mut self, id: PlayerId) -> Result<&mut Player, Rejection> {
        player_index(id)
            .and_then(|i| self.players.get_mut(i))
            .ok_or(Rejection::UnknownPlayer)
    }

    /// The jurisdiction rules that apply to `player`.
    pub(crate) fn rules_for(&self, player: PlayerId) -> Result<JurisdictionRules, Rejection> {
        self.get(player).map(|p| self.rules(p.jurisdiction))
    }

    fn rules(&self, jurisdiction: Jurisdiction) -> JurisdictionRules {
        self.jurisdictions
            .iter()
            .find(|(j, _)| *j == jurisdiction)
            .map_or_else(JurisdictionRules::default, |&(_, rules)| rules)
    }

    /// Applies one of the domain's commands.
    pub(crate) fn apply(&mut self, command: &Command, config: &Config) -> Applied {
        match command {
            Command::RegisterPlayer { currency, jurisdiction } => self.register(*currency, *jurisdiction, config),
            Command::SetJurisdictionRules { jurisdiction, rules } => self.set_rules(*jurisdiction, *rules),
            Command::SetAccountStatus { player, status, .. } => self.set_status(*player, *status),
            Command::SetKyc { player, level } => self.set_kyc(*player, *level),
        }
    }

    fn register(&mut self, currency: Currency, jurisdiction: Jurisdiction, config: &Config) -> Applied {
        if self.players.len() >= config.players_max as usize {
            return rejected(Rejection::CapacityReached(Capacity::Players));
        }
        self.players.push(Player::new(currency, jurisdiction));
        let player = PlayerId(self.players.len() as u64);
        (Outcome::Registered { player }, Detail::Plain)
    }

    fn set_rules(&mut self, jurisdiction: Jurisdiction, rules: JurisdictionRules) -> Applied {
        match self.jurisdictions.iter_mut().find(|(j, _)| *j == jurisdiction) {
            Some(entry) => entry.1 = rules,
            None => self.jurisdictions.push((jurisdiction, rules)),
        }
        (Outcome::Accepted, Detail::Plain)
    }

    fn set_status(&mut self, player: PlayerId, status: AccountStatus) -> Applied {
        let player = check!(self.get_mut(player));
        player.status = status;
        (Outcome::Accepted, Detail::Plain)
    }

    fn set_kyc(&mut self, player: PlayerId, level: KycLevel) -> Applied {
        let player = check!(self.get_mut(player));
        player.kyc = level;
        (Outcome::Accepted, Detail::Plain)
    }
}

// The domain's part of the snapshot image (see `crate::codec`: append
// fields, never reorder): every account, then the jurisdictions' rules.
codec_struct!(PlayersState { players, jurisdictions });
