//! The games domain: the catalogue of providers and games, and the check
//! every bet passes against it.
//!
//! A provider (studio) is carried by one or more aggregators; a game is
//! keyed by its aggregator (the source its bets carry) and that
//! aggregator's code for it (the bet's [`crate::GameCode`]), and holds its
//! type, RTP variants with the one configured per jurisdiction, volatility,
//! stake limits per currency, allowed jurisdictions and enabled flag.
//!
//! The catalogue is enforced only once it holds a game: journals written
//! before it (with no catalogue command) replay exactly as they did, and a
//! casino that configures its first game opts in from that command on,
//! which the journal itself records. From then on a bet is refused when its
//! game is unknown or disabled, the player's jurisdiction is not allowed,
//! or the stake is outside the game's limits in its currency. That costs
//! one hash lookup a bet, keyed by the bet's source and code without
//! copying them.
//!
//! The catalogue is plain data kept in step outside the ledger too: the
//! gateway's view follows committed catalogue commands with
//! [`Catalogue::follow`], the ledger's own code, and serves the operator
//! API's reads from it.

mod command;

pub use self::command::{BetLimit, Command, Game, GameType, Provider, Volatility};

use hashbrown::HashTable;

use super::access::{Access, Role};
use super::{Applied, Ledger, rejected};
use crate::codec::{Decode, DecodeError, Encode, Reader, Sink, codec_enum, codec_struct, encode_len, hash_bytes};
use crate::ids::{GameCode, Jurisdiction, OperatorId, SourceId};
use crate::money::{Amount, Currency};
use crate::outcome::{Capacity, CatalogueFault, GameRefusal, Outcome, Rejection};

/// Most games in the catalogue.
pub const GAMES_MAX: usize = 100_000;
/// Most providers in the catalogue.
pub const PROVIDERS_MAX: usize = 10_000;
/// Most aggregators listed for one provider.
pub const AGGREGATORS_PER_PROVIDER_MAX: usize = 64;
/// Most RTP variants of one game.
pub const RTP_VARIANTS_MAX: usize = 16;
/// Most jurisdictions a game lists (allowed, or with a configured RTP).
pub const JURISDICTIONS_MAX: usize = 250;
/// The highest RTP, basis points (100 %).
pub const RTP_BP_MAX: u16 = 10_000;

/// Providers and games; enforced on bets once it holds a game.
#[derive(Clone, Debug, Default)]
pub struct Catalogue {
    /// Sorted by code.
    providers: Vec<Provider>,
    /// In the order they were first added (or restored).
    games: Vec<Game>,
    /// Index into `games` by (aggregator, code): see [`slot_hash`].
    index: HashTable<u32>,
}

/// The index's hash of a game key: XXH3 of the code seeded with the
/// aggregator. Bets hash the borrowed code, so a lookup copies nothing.
#[inline]
fn slot_hash(aggregator: SourceId, code: &str) -> u64 {
    hash_bytes(u64::from(aggregator.0), code.as_bytes())
}

impl Catalogue {
    /// No game yet: bets are not checked.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.games.is_empty()
    }

    /// Games in the catalogue.
    pub fn games_len(&self) -> usize {
        self.games.len()
    }

    /// A game by its aggregator and code.
    #[inline]
    pub fn game(&self, aggregator: SourceId, code: &str) -> Option<&Game> {
        let slot = self.slot(aggregator, code)?;
        self.games.get(slot)
    }

    fn slot(&self, aggregator: SourceId, code: &str) -> Option<usize> {
        let games = &self.games;
        self.index
            .find(slot_hash(aggregator, code), |&i| {
                let game = &games[i as usize];
                game.aggregator == aggregator && game.code.as_str() == code
            })
            .map(|&i| i as usize)
    }

    /// Every game, by aggregator and code.
    pub fn games(&self) -> Vec<&Game> {
        let mut games: Vec<&Game> = self.games.iter().collect();
        games.sort_unstable_by(|a, b| (a.aggregator, &a.code).cmp(&(b.aggregator, &b.code)));
        games
    }

    /// Every provider, by code.
    pub fn providers(&self) -> &[Provider] {
        &self.providers
    }

    /// A provider by its code.
    pub fn provider(&self, code: &str) -> Option<&Provider> {
        self.provider_slot(code).ok().map(|i| &self.providers[i])
    }

    fn provider_slot(&self, code: &str) -> Result<usize, usize> {
        self.providers.binary_search_by(|p| p.code.as_str().cmp(code))
    }

    /// What the catalogue says about a stake of `amount` in `currency` on
    /// game `code` from `aggregator` by a player of `jurisdiction`: nothing
    /// while it is empty; then the game must be known, enabled, allowed
    /// there and offered in the currency, and the stake within its limits.
    #[inline]
    pub fn check_bet(
        &self,
        aggregator: SourceId,
        code: &GameCode,
        currency: Currency,
        amount: Amount,
        jurisdiction: Jurisdiction,
    ) -> Result<(), Rejection> {
        if self.is_empty() {
            return Ok(());
        }
        let refused = |why| Err(Rejection::GameRefused(why));
        let Some(game) = self.game(aggregator, code.as_str()) else {
            return refused(GameRefusal::Unknown);
        };
        if !game.enabled {
            return refused(GameRefusal::Disabled);
        }
        if !game.jurisdictions.contains(&jurisdiction) {
            return refused(GameRefusal::JurisdictionNotAllowed);
        }
        let Some(limit) = game.limit(currency) else {
            return refused(GameRefusal::CurrencyNotOffered);
        };
        if amount < limit.min || amount > limit.max {
            return Err(Rejection::StakeOutsideGameLimits {
                min: limit.min,
                max: limit.max,
            });
        }
        Ok(())
    }

    /// Everything `command` must pass against this catalogue and `access`
    /// (the operator that asks, the aggregators it names).
    pub fn check(&self, command: &Command, access: &Access) -> Result<(), Rejection> {
        check_operator(access, command.operator())?;
        match command {
            Command::UpsertProvider { provider, .. } => self.check_provider(provider, access),
            Command::UpsertGame { game, .. } => self.check_game(game, access),
            Command::SetGameEnabled { aggregator, code, .. } => match self.slot(*aggregator, code.as_str()) {
                Some(_) => Ok(()),
                None => Err(Rejection::GameRefused(GameRefusal::Unknown)),
            },
        }
    }

    fn check_provider(&self, provider: &Provider, access: &Access) -> Result<(), Rejection> {
        let fault = |fault| Err(Rejection::InvalidCatalogueEntry(fault));
        let aggregators = &provider.aggregators;
        if aggregators.is_empty() || aggregators.len() > AGGREGATORS_PER_PROVIDER_MAX {
            return fault(CatalogueFault::ListLength);
        }
        if has_duplicates(aggregators) {
            return fault(CatalogueFault::Duplicate);
        }
        if aggregators.iter().any(|&source| access.aggregator(source).is_none()) {
            return Err(Rejection::UnknownAggregator);
        }
        match self.provider_slot(provider.code.as_str()) {
            Ok(_) => {
                // An aggregator still carrying one of its games stays listed.
                let dropped = self
                    .games
                    .iter()
                    .any(|g| g.provider == provider.code && !aggregators.contains(&g.aggregator));
                if dropped {
                    return fault(CatalogueFault::AggregatorNotCarrying);
                }
                Ok(())
            }
            Err(_) if self.providers.len() >= PROVIDERS_MAX => Err(Rejection::CapacityReached(Capacity::Games)),
            Err(_) => Ok(()),
        }
    }

    fn check_game(&self, game: &Game, access: &Access) -> Result<(), Rejection> {
        if access.aggregator(game.aggregator).is_none() {
            return Err(Rejection::UnknownAggregator);
        }
        let Some(provider) = self.provider(game.provider.as_str()) else {
            return Err(Rejection::InvalidCatalogueEntry(CatalogueFault::UnknownProvider));
        };
        if !provider.aggregators.contains(&game.aggregator) {
            return Err(Rejection::InvalidCatalogueEntry(CatalogueFault::AggregatorNotCarrying));
        }
        check_record(game).map_err(Rejection::InvalidCatalogueEntry)?;
        if self.slot(game.aggregator, game.code.as_str()).is_none() && self.games.len() >= GAMES_MAX {
            return Err(Rejection::CapacityReached(Capacity::Games));
        }
        Ok(())
    }

    /// Applies a command [`Catalogue::check`] passed.
    fn commit(&mut self, command: &Command) {
        match command {
            Command::UpsertProvider { provider, .. } => match self.provider_slot(provider.code.as_str()) {
                Ok(i) => self.providers[i] = provider.clone(),
                Err(i) => self.providers.insert(i, provider.clone()),
            },
            Command::UpsertGame { game, .. } => self.put(Game::clone(game)),
            Command::SetGameEnabled {
                aggregator,
                code,
                enabled,
                ..
            } => {
                if let Some(slot) = self.slot(*aggregator, code.as_str()) {
                    self.games[slot].enabled = *enabled;
                }
            }
        }
    }

    /// Adds `game`, or replaces the game of its key.
    fn put(&mut self, game: Game) {
        match self.slot(game.aggregator, game.code.as_str()) {
            Some(slot) => self.games[slot] = game,
            None => {
                let slot = self.games.len() as u32;
                let hash = slot_hash(game.aggregator, game.code.as_str());
                self.games.push(game);
                let games = &self.games;
                self.index.insert_unique(hash, slot, |&i| {
                    let g = &games[i as usize];
                    slot_hash(g.aggregator, g.code.as_str())
                });
            }
        }
    }

    /// Keeps a read copy in step with the ledger (the gateway's view):
    /// applies a committed catalogue command the ledger accepted, from its
    /// envelope and outcome alone.
    pub fn follow(&mut self, envelope: &crate::Envelope, outcome: &Outcome) {
        if let (crate::Command::Games(command), Outcome::Accepted) = (&envelope.request.command, outcome) {
            self.commit(command);
        }
    }

    /// The catalogue of a snapshot's part, checked: providers sorted and
    /// unique, games unique with their providers carrying them, within
    /// the bounds.
    fn from_parts(providers: Vec<Provider>, games: Vec<Game>) -> Option<Catalogue> {
        if providers.len() > PROVIDERS_MAX || games.len() > GAMES_MAX {
            return None;
        }
        if providers.windows(2).any(|pair| pair[0].code >= pair[1].code) {
            return None;
        }
        let mut catalogue = Catalogue {
            providers,
            games: Vec::with_capacity(games.len()),
            index: HashTable::with_capacity(games.len()),
        };
        for game in games {
            let carried = catalogue
                .provider(game.provider.as_str())
                .is_some_and(|p| p.aggregators.contains(&game.aggregator));
            let fresh = catalogue.slot(game.aggregator, game.code.as_str()).is_none();
            if !carried || !fresh || check_record(&game).is_err() {
                return None;
            }
            catalogue.put(game);
        }
        Some(catalogue)
    }
}

/// The operator must exist and be enabled (its role is the gateway's to check).
pub(super) fn check_operator(access: &Access, operator: OperatorId) -> Result<(), Rejection> {
    match access.operator(operator) {
        None => Err(Rejection::UnknownOperator),
        Some(op) if op.role == Role::Disabled => Err(Rejection::NotPermitted),
        Some(_) => Ok(()),
    }
}

/// A game record's own consistency: lists within bounds and without
/// repeats, RTPs valid and configured ones among the variants, limits
/// ordered.
fn check_record(game: &Game) -> Result<(), CatalogueFault> {
    let variants = &game.rtp_variants_bp;
    let lengths_ok = (1..=RTP_VARIANTS_MAX).contains(&variants.len())
        && (1..=Currency::ALL.len()).contains(&game.limits.len())
        && (1..=JURISDICTIONS_MAX).contains(&game.jurisdictions.len())
        && game.rtp_by_jurisdiction.len() <= JURISDICTIONS_MAX;
    if !lengths_ok {
        return Err(CatalogueFault::ListLength);
    }
    let currencies: Vec<Currency> = game.limits.iter().map(|l| l.currency).collect();
    let configured: Vec<Jurisdiction> = game.rtp_by_jurisdiction.iter().map(|(j, _)| *j).collect();
    if has_duplicates(variants)
        || has_duplicates(&currencies)
        || has_duplicates(&game.jurisdictions)
        || has_duplicates(&configured)
    {
        return Err(CatalogueFault::Duplicate);
    }
    let rtp_ok = variants.iter().all(|&rtp| (1..=RTP_BP_MAX).contains(&rtp))
        && variants.contains(&game.rtp_default_bp)
        && game.rtp_by_jurisdiction.iter().all(|(_, rtp)| variants.contains(rtp));
    if !rtp_ok {
        return Err(CatalogueFault::Rtp);
    }
    if game.limits.iter().any(|l| !l.min.is_positive() || l.min > l.max) {
        return Err(CatalogueFault::Limits);
    }
    Ok(())
}

/// Whether a short list holds a value twice (quadratic: the lists are bounded and small).
fn has_duplicates<T: PartialEq>(items: &[T]) -> bool {
    items.iter().enumerate().any(|(i, item)| items[i + 1..].contains(item))
}

impl Ledger {
    /// The catalogue.
    pub fn catalogue(&self) -> &Catalogue {
        &self.games
    }

    /// Applies one of the domain's commands: validate, then commit.
    pub(super) fn apply_games(&mut self, command: &Command) -> Applied {
        if let Err(rejection) = self.games.check(command, &self.access) {
            return rejected(rejection);
        }
        self.games.commit(command);
        (Outcome::Accepted, super::store::Detail::Plain)
    }
}

// The snapshot part (format 10 on): the providers by code, then the games
// by aggregator and code.
impl Encode for Catalogue {
    fn encode<S: Sink>(&self, out: &mut S) {
        self.providers.encode(out);
        let games = self.games();
        encode_len(games.len(), out);
        for game in games {
            game.encode(out);
        }
    }
}

impl Decode for Catalogue {
    fn decode(input: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let providers = Vec::<Provider>::decode(input)?;
        let games = Vec::<Game>::decode(input)?;
        Catalogue::from_parts(providers, games).ok_or(DecodeError::Invalid("Catalogue"))
    }
}

codec_struct!(Provider {
    code,
    name,
    aggregators
});
codec_struct!(BetLimit { currency, min, max });
codec_struct!(Game {
    aggregator,
    code,
    provider,
    name,
    kind,
    volatility,
    rtp_variants_bp,
    rtp_default_bp,
    rtp_by_jurisdiction,
    limits,
    jurisdictions,
    enabled
});
codec_enum!(GameType: u8 { 1 => Slot, 2 => Table, 3 => Live, 4 => Crash, 5 => Other });
codec_enum!(Volatility: u8 { 1 => Unrated, 2 => Low, 3 => Medium, 4 => High, 5 => VeryHigh });

#[cfg(test)]
mod tests;
