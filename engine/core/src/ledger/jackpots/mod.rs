//! The jackpots domain: progressive pools fed by a share of each covered
//! bet's stake, won by an aggregator's jackpot-win call, an operator's
//! award or a must-drop cap.
//!
//! # Where the money goes
//!
//! A pool's balance is money the ledger holds, like a wallet's, so the
//! conservation check counts it (per currency, [`JackpotFlows`]):
//!
//! - **Contribution.** A bet on a covered game in the pool's currency
//!   spends its whole stake from the player's wallet as any bet does
//!   (`Flows::bets`); the contribution (stake × basis points, rounded
//!   down) is the operator's share of that stake moved into the pool
//!   (`contributed`). The player pays nothing extra.
//! - **Seed.** Creating a pool funds it with its seed, and after every win
//!   it is topped up to its seed again, from the operator's seed funding
//!   (`seeded`): money entering the ledger, like an adjustment.
//! - **Win.** The pool's money moves to the winner's cash (`paid`):
//!   - an operator's award pays the whole balance;
//!   - an aggregator's jackpot win (a win of kind jackpot on a covered game
//!     and currency) pays the amount the aggregator states: the pool pays
//!     up to its balance, the operator the rest as an ordinary win
//!     (`Flows::wins`);
//!   - must-drop: once the balance reached the cap, the next covered bet
//!     contributes and then wins the whole balance; its outcome
//!     ([`crate::Outcome::JackpotDropped`]) reports it. Deterministic: no
//!     randomness, the order of the journal decides.
//! - **Rollback.** A rolled-back bet gets its whole stake back from the
//!   operator (`Flows::rollbacks`); its contribution stays in the pool:
//!   the pool's money is promised to the players, may have been won
//!   since, and taking it back could undo a must-drop already reported.
//!   The operator bears it.
//!
//! So per currency: wallets = the ledger's flows + `paid`, and pools =
//! `contributed` + `seeded` − `paid`, each pool at zero or more.
//!
//! # Cost on the bet path
//!
//! Nothing while no pool exists (one emptiness test); then one hash lookup
//! a bet, keyed by its source, game code and currency without copying them.
//!
//! The pools are plain data kept in step outside the ledger too: the
//! gateway's view follows committed commands with [`Jackpots::follow`]
//! (the ledger's own arithmetic) and serves the operator API from it.

mod command;
#[cfg(test)]
mod tests;

pub use self::command::{Command, CoveredGame, Pool};

use hashbrown::HashTable;

use super::games::{Catalogue, check_operator};
use super::store::Detail;
use super::{Applied, Ctx, Ledger, rejected};
use crate::codec::{Decode, DecodeError, Encode, Reader, Sink, codec_struct, hash_bytes};
use crate::command::Envelope;
use crate::ids::{JackpotCode, PlayerId, SourceId};
use crate::money::{Amount, Currency};
use crate::outcome::{Capacity, JackpotFault, JackpotPayout, Outcome, Receipt, Rejection};

/// Most pools.
pub const POOLS_MAX: usize = 1_000;
/// Most games one pool covers.
pub const POOL_GAMES_MAX: usize = 10_000;
/// The highest contribution: 10 % of each stake, basis points.
pub const CONTRIBUTION_BP_MAX: u16 = 1_000;

/// Who won a pool last.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LastWin {
    /// The winner.
    pub player: PlayerId,
    /// What the pool paid.
    pub amount: Amount,
    /// The sequence number of the win.
    pub seq: u64,
    /// Its time, ms since the epoch.
    pub time_ms: u64,
}

/// A pool and where it stands.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PoolState {
    /// Its configuration.
    pub pool: Pool,
    /// Its money now: zero or more.
    pub balance: Amount,
    /// Every contribution it received, lifetime.
    pub contributed: i128,
    /// How often it was won.
    pub wins: u32,
    /// The last win, if any.
    pub last_win: Option<LastWin>,
}

/// Money into and out of the pools of one currency, for conservation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct JackpotFlows {
    /// Shares of stakes moved into pools.
    pub contributed: i128,
    /// Seeds and top-ups from the operator's seed funding.
    pub seeded: i128,
    /// Paid from pools to players.
    pub paid: i128,
}

impl JackpotFlows {
    /// What the pools of the currency must hold together.
    pub fn expected_pools(&self) -> i128 {
        self.contributed + self.seeded - self.paid
    }
}

/// A covered bet's share, planned before anything changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Contribution {
    pub(crate) slot: u32,
    pub(crate) amount: Amount,
    /// The pool's balance paid to the bettor after the contribution, when
    /// the pool had reached its must-drop cap.
    pub(crate) drop: Option<Amount>,
}

/// The pools, the index of the games they cover, and their flows.
#[derive(Clone, Debug, Default)]
pub struct Jackpots {
    /// In the order they were created; a slot never changes.
    pools: Vec<PoolState>,
    /// (slot, index in its games) by (aggregator, code, currency): see
    /// [`cover_hash`].
    index: HashTable<(u32, u32)>,
    flows: [JackpotFlows; Currency::ALL.len()],
}

/// The index's hash of a covered game in a currency. Bets hash the
/// borrowed code, so a lookup copies nothing.
#[inline]
fn cover_hash(aggregator: SourceId, code: &str, currency: Currency) -> u64 {
    hash_bytes(
        u64::from(aggregator.0) | ((currency.index() as u64) << 32),
        code.as_bytes(),
    )
}

impl Jackpots {
    /// No pool yet: bets are not looked up.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.pools.is_empty()
    }

    /// Every pool, in the order they were created.
    pub fn pools(&self) -> &[PoolState] {
        &self.pools
    }

    /// A pool by its code.
    pub fn pool(&self, code: &str) -> Option<&PoolState> {
        self.slot_of(code).map(|slot| &self.pools[slot])
    }

    fn slot_of(&self, code: &str) -> Option<usize> {
        self.pools.iter().position(|p| p.pool.code.as_str() == code)
    }

    /// The money flows of the pools of `currency`.
    pub fn flows(&self, currency: Currency) -> JackpotFlows {
        self.flows[currency.index()]
    }

    /// What the pools of `currency` hold together.
    pub fn balance_total(&self, currency: Currency) -> i128 {
        self.pools
            .iter()
            .filter(|p| p.pool.currency == currency)
            .map(|p| i128::from(p.balance.minor()))
            .sum()
    }

    /// The slot of the pool covering `code` from `aggregator` in `currency`.
    #[inline]
    pub(crate) fn covering(&self, aggregator: SourceId, code: &str, currency: Currency) -> Option<u32> {
        let pools = &self.pools;
        self.index
            .find(cover_hash(aggregator, code, currency), |&(slot, game)| {
                let pool = &pools[slot as usize].pool;
                let game = &pool.games[game as usize];
                pool.currency == currency && game.aggregator == aggregator && game.code.as_str() == code
            })
            .map(|&(slot, _)| slot)
    }

    /// What a stake of `stake` on `code` from `aggregator` in `currency`
    /// gives a pool, if one covers it: its contribution, and the drop if
    /// the pool had reached its cap. `Overflow` if the pool could not hold it.
    #[inline]
    pub(crate) fn plan_contribution(
        &self,
        aggregator: SourceId,
        code: &str,
        currency: Currency,
        stake: Amount,
    ) -> Result<Option<Contribution>, Rejection> {
        let Some(slot) = self.covering(aggregator, code, currency) else {
            return Ok(None);
        };
        let state = &self.pools[slot as usize];
        let amount = contribution_of(&state.pool, stake);
        let after = state.balance.checked_add(amount).ok_or(Rejection::Overflow)?;
        let drop = state.pool.must_drop.filter(|&cap| state.balance >= cap).map(|_| after);
        Ok(Some(Contribution { slot, amount, drop }))
    }

    /// Moves a planned contribution into its pool.
    pub(crate) fn contribute(&mut self, slot: u32, amount: Amount) {
        let state = &mut self.pools[slot as usize];
        state.balance = Amount::from_minor(state.balance.minor() + amount.minor());
        state.contributed += i128::from(amount.minor());
        self.flows[state.pool.currency.index()].contributed += i128::from(amount.minor());
    }

    /// Pays `paid` (at most the balance) from the pool in `slot` to
    /// `player` and tops it up to its seed; returns the top-up.
    pub(crate) fn pay(&mut self, slot: u32, paid: Amount, player: PlayerId, seq: u64, time_ms: u64) -> Amount {
        let state = &mut self.pools[slot as usize];
        debug_assert!(!paid.is_negative() && paid <= state.balance);
        let left = state.balance.minor() - paid.minor();
        let reseed = Amount::from_minor((state.pool.seed.minor() - left).max(0));
        state.balance = Amount::from_minor(left + reseed.minor());
        state.wins = state.wins.saturating_add(1);
        state.last_win = Some(LastWin {
            player,
            amount: paid,
            seq,
            time_ms,
        });
        let flows = &mut self.flows[state.pool.currency.index()];
        flows.paid += i128::from(paid.minor());
        flows.seeded += i128::from(reseed.minor());
        reseed
    }

    /// The code of the pool in `slot`.
    pub(crate) fn code(&self, slot: u32) -> &JackpotCode {
        &self.pools[slot as usize].pool.code
    }

    /// The balance of the pool in `slot`.
    pub(crate) fn balance(&self, slot: u32) -> Amount {
        self.pools[slot as usize].balance
    }

    /// Everything a new pool must pass: a fresh code, its own record's
    /// consistency, games in the catalogue (once it holds any) and covered
    /// by no other pool in its currency.
    fn check_pool(&self, pool: &Pool, catalogue: &Catalogue) -> Result<(), Rejection> {
        let fault = |fault| Err(Rejection::InvalidJackpot(fault));
        if self.slot_of(pool.code.as_str()).is_some() {
            return fault(JackpotFault::CodeTaken);
        }
        if self.pools.len() >= POOLS_MAX {
            return Err(Rejection::CapacityReached(Capacity::JackpotPools));
        }
        check_record(pool).map_err(Rejection::InvalidJackpot)?;
        let unknown = !catalogue.is_empty()
            && pool
                .games
                .iter()
                .any(|g| catalogue.game(g.aggregator, g.code.as_str()).is_none());
        if unknown {
            return fault(JackpotFault::UnknownGame);
        }
        let covered = pool
            .games
            .iter()
            .any(|g| self.covering(g.aggregator, g.code.as_str(), pool.currency).is_some());
        if covered {
            return fault(JackpotFault::Overlap);
        }
        Ok(())
    }

    /// Adds a pool [`Jackpots::check_pool`] passed, funded with its seed.
    fn create(&mut self, pool: Pool) {
        self.flows[pool.currency.index()].seeded += i128::from(pool.seed.minor());
        let state = PoolState {
            balance: pool.seed,
            pool,
            contributed: 0,
            wins: 0,
            last_win: None,
        };
        self.restore(state);
    }

    /// Adds a pool's state and indexes its games.
    fn restore(&mut self, state: PoolState) {
        let slot = self.pools.len() as u32;
        let games = state.pool.games.len() as u32;
        self.pools.push(state);
        let pools = &self.pools;
        let hash_of = |&(slot, game): &(u32, u32)| {
            let pool = &pools[slot as usize].pool;
            let game = &pool.games[game as usize];
            cover_hash(game.aggregator, game.code.as_str(), pool.currency)
        };
        for game in 0..games {
            let hash = hash_of(&(slot, game));
            self.index.insert_unique(hash, (slot, game), hash_of);
        }
    }

    /// Keeps a read copy in step with the ledger (the gateway's view):
    /// applies a committed command from its envelope and outcome alone,
    /// with the ledger's own arithmetic.
    pub fn follow(&mut self, envelope: &Envelope, outcome: &Outcome) {
        use crate::command::Command as Any;
        use crate::ledger::gaming::{Command as Gaming, WinKind};
        let (seq, time_ms) = (envelope.seq, envelope.time_ms);
        match (envelope.request.command.unwrapped(), outcome) {
            (Any::Jackpots(Command::CreatePool { pool, .. }), Outcome::Accepted) => self.create(Pool::clone(pool)),
            (Any::Jackpots(Command::Award { player, .. }), Outcome::JackpotPaid(payout)) => {
                if let Some(slot) = self.slot_of(payout.pool.as_str()) {
                    self.pay(slot as u32, payout.paid, *player, seq, time_ms);
                }
            }
            (Any::Gaming(Gaming::Bet(bet)), outcome) if outcome.is_ok() && !self.is_empty() => {
                let source = envelope.request.source;
                let Ok(Some(contribution)) =
                    self.plan_contribution(source, bet.round.game.as_str(), bet.currency, bet.amount)
                else {
                    return;
                };
                self.contribute(contribution.slot, contribution.amount);
                if let Outcome::JackpotDropped(payout) = outcome {
                    self.pay(contribution.slot, payout.paid, bet.player, seq, time_ms);
                }
            }
            (Any::Gaming(Gaming::Win(win)), Outcome::JackpotPaid(payout)) if win.kind == WinKind::Jackpot => {
                if let Some(slot) = self.slot_of(payout.pool.as_str()) {
                    self.pay(slot as u32, payout.paid, win.player, seq, time_ms);
                }
            }
            _ => {}
        }
    }

    /// The pools of a snapshot's part, checked: within the bounds, codes
    /// unique, records consistent, no game covered twice in a currency,
    /// balances not negative.
    fn from_parts(pools: Vec<PoolState>, flows: Vec<JackpotFlows>) -> Option<Jackpots> {
        if pools.len() > POOLS_MAX {
            return None;
        }
        let flows = <[JackpotFlows; Currency::ALL.len()]>::try_from(flows).ok()?;
        let mut jackpots = Jackpots {
            flows,
            ..Jackpots::default()
        };
        for state in pools {
            let fresh = jackpots.slot_of(state.pool.code.as_str()).is_none();
            let overlaps = state.pool.games.iter().any(|g| {
                jackpots
                    .covering(g.aggregator, g.code.as_str(), state.pool.currency)
                    .is_some()
            });
            if !fresh || overlaps || check_record(&state.pool).is_err() || state.balance.is_negative() {
                return None;
            }
            jackpots.restore(state);
        }
        Some(jackpots)
    }
}

/// A pool's share of `stake`: basis points rounded down.
#[inline]
fn contribution_of(pool: &Pool, stake: Amount) -> Amount {
    // bp <= 1,000 and stake fits i64: the product fits i128 and the
    // quotient is at most the stake.
    stake
        .mul_div_floor(i64::from(pool.contribution_bp), 10_000)
        .unwrap_or(Amount::ZERO)
}

/// A pool record's own consistency.
fn check_record(pool: &Pool) -> Result<(), JackpotFault> {
    if pool.games.is_empty() || pool.games.len() > POOL_GAMES_MAX {
        return Err(JackpotFault::ListLength);
    }
    let mut games: Vec<&CoveredGame> = pool.games.iter().collect();
    games.sort_unstable();
    if games.windows(2).any(|pair| pair[0] == pair[1]) {
        return Err(JackpotFault::Duplicate);
    }
    if !(1..=CONTRIBUTION_BP_MAX).contains(&pool.contribution_bp) {
        return Err(JackpotFault::Contribution);
    }
    if pool.seed.is_negative() {
        return Err(JackpotFault::Seed);
    }
    if pool.must_drop.is_some_and(|cap| cap <= pool.seed) {
        return Err(JackpotFault::MustDrop);
    }
    Ok(())
}

impl Ledger {
    /// The jackpot pools.
    pub fn jackpots(&self) -> &Jackpots {
        &self.jackpots
    }

    /// Applies one of the domain's commands: validate, then commit.
    pub(super) fn apply_jackpots(&mut self, ctx: Ctx, command: &Command) -> Applied {
        check!(check_operator(&self.access, command.operator()));
        match command {
            Command::CreatePool { pool, .. } => {
                check!(self.jackpots.check_pool(pool, &self.games));
                self.jackpots.create(Pool::clone(pool));
                (Outcome::Accepted, Detail::Plain)
            }
            Command::Award { pool, player, .. } => self.award(ctx, pool, *player),
        }
    }

    fn award(&mut self, ctx: Ctx, code: &JackpotCode, player: PlayerId) -> Applied {
        let Some(slot) = self.jackpots.slot_of(code.as_str()) else {
            return rejected(Rejection::UnknownJackpot);
        };
        let slot = slot as u32;
        let (currency, paid) = {
            let state = &self.jackpots.pools[slot as usize];
            (state.pool.currency, state.balance)
        };
        if !paid.is_positive() {
            return rejected(Rejection::JackpotEmpty);
        }
        let before = check!(self.balances(player, currency));
        if before.cash.checked_add(paid).is_none() {
            return rejected(Rejection::Overflow);
        }
        self.credit_jackpot(ctx, player, currency, paid);
        let reseed = self.jackpots.pay(slot, paid, player, ctx.seq, ctx.time_ms);
        let receipt = self.moved(ctx, player, before);
        (
            Outcome::JackpotPaid(self.payout(receipt, slot, paid, reseed)),
            Detail::Plain,
        )
    }

    /// Credits a pool's payout to a wallet validated to exist and to hold
    /// it: cash, counted against loss limits and the play session as a win.
    pub(super) fn credit_jackpot(&mut self, ctx: Ctx, player: PlayerId, currency: Currency, paid: Amount) {
        let wallet = self
            .player_mut(player)
            .and_then(|p| p.wallet_mut(currency))
            .expect("validated wallet exists");
        wallet.cash = Amount::from_minor(wallet.cash.minor() + paid.minor());
        if let Some(limits) = wallet.limits.as_deref_mut() {
            limits.record(crate::command::LimitMetric::Loss, ctx.time_ms, -paid.minor());
        }
        self.rg_count_credit(player, currency, paid, ctx.time_ms);
    }

    /// The payout record of a pool's win.
    pub(super) fn payout(&self, receipt: Receipt, slot: u32, paid: Amount, reseed: Amount) -> Box<JackpotPayout> {
        Box::new(JackpotPayout {
            receipt,
            pool: self.jackpots.code(slot).clone(),
            paid,
            reseed,
        })
    }
}

// The snapshot part (format 11 on): the pools in slot order, then the
// flows per currency.
impl Encode for Jackpots {
    fn encode<S: Sink>(&self, out: &mut S) {
        self.pools.encode(out);
        self.flows.as_slice().encode(out);
    }
}

impl Decode for Jackpots {
    fn decode(input: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let pools = Vec::<PoolState>::decode(input)?;
        let flows = Vec::<JackpotFlows>::decode(input)?;
        Jackpots::from_parts(pools, flows).ok_or(DecodeError::Invalid("Jackpots"))
    }
}

codec_struct!(CoveredGame { aggregator, code });
codec_struct!(Pool {
    code,
    name,
    currency,
    games,
    contribution_bp,
    seed,
    must_drop
});
codec_struct!(LastWin {
    player,
    amount,
    seq,
    time_ms
});
codec_struct!(PoolState {
    pool,
    balance,
    contributed,
    wins,
    last_win
});
codec_struct!(JackpotFlows {
    contributed,
    seeded,
    paid
});
