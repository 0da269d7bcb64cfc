//! The gaming domain: bets, wins, rollbacks and rounds.
//!
//! Its own state, [`GamingState`], is the open rounds (`rounds.rs`); the
//! money is in the player's wallet and each bet's funding split in its
//! request's record (`../store.rs`), which a rollback finds it by.
//!
//! Bets spend cash first, then bonus money. A round remembers how its stakes
//! were funded, and its wins follow that split: the bonus-funded share goes
//! back to the bonus that funded it (or to cash if that bonus was converted
//! since, or is forfeited if it was forfeited or expired).
//!
//! Each handler validates into a plan and then commits it; an expired bonus
//! is forfeited only in the commit, so a refused command changes nothing.

mod command;
mod rounds;

pub use self::command::{Bet, Command, RoundRef, Win, WinKind};
pub(crate) use self::rounds::{Round, RoundParts, RoundStore};

use super::account::{Activity, BonusRoute, Wallet};
use super::jackpots::Contribution;
use super::players::player_index;
use super::rg::session::SessionRules;
use super::store::{BetDetail, Detail, Key, Retention, TxRecord};
use super::{Applied, Ctx, Ledger, rejected};
use crate::command::LimitMetric;
use crate::ids::{ExtId, PlayerId};
use crate::money::{Amount, Currency};
use crate::outcome::{Balances, Outcome, Rejection};

const BET_METRICS: [LimitMetric; 2] = [LimitMetric::Wager, LimitMetric::Loss];

/// Money coming back to a wallet (a win or a refund), already split.
#[derive(Clone, Copy, Debug)]
struct Credit {
    /// Total to cash (the cash share plus a bonus share whose bonus converted).
    cash: Amount,
    /// To the live bonus that funded it.
    bonus: Amount,
    /// A bonus share whose bonus is gone.
    forfeited: Amount,
}

impl Credit {
    /// Splits `cash_share` + `bonus_share` by where bonus `serial`'s money goes now.
    fn new(wallet: &Wallet, cash_share: Amount, bonus_share: Amount, serial: u32, now_ms: u64) -> Credit {
        let (to_cash, bonus, forfeited) = match wallet.bonus_route(serial, now_ms) {
            BonusRoute::Bonus => (Amount::ZERO, bonus_share, Amount::ZERO),
            BonusRoute::Cash => (bonus_share, Amount::ZERO, Amount::ZERO),
            BonusRoute::Forfeit => (Amount::ZERO, Amount::ZERO, bonus_share),
        };
        Credit {
            cash: Amount::from_minor(cash_share.minor().saturating_add(to_cash.minor())),
            bonus,
            forfeited,
        }
    }

    /// The balances after the credit (and after any due expiry), or
    /// `Overflow`.
    fn balances_after(&self, wallet: &Wallet, now_ms: u64) -> Result<(Amount, Amount), Rejection> {
        let cash = wallet.cash.checked_add(self.cash).ok_or(Rejection::Overflow)?;
        let bonus = wallet
            .spendable_bonus(now_ms)
            .checked_add(self.bonus)
            .ok_or(Rejection::Overflow)?;
        Ok((cash, bonus))
    }
}

/// A validated bet, ready to commit.
struct BetPlan {
    /// The play-session rules of the profile version the bet was checked
    /// against, to count it into the session by the same rules.
    session_rules: SessionRules,
    index: u32,
    round_key: Key,
    round: Round,
    cash: Amount,
    bonus: Amount,
    /// The share a jackpot pool covering the game takes, if one does.
    jackpot: Option<Contribution>,
}

/// The open rounds.
pub(crate) struct GamingState {
    pub(crate) rounds: RoundStore,
}

impl GamingState {
    pub(crate) fn new(retention: Retention) -> GamingState {
        GamingState {
            rounds: RoundStore::new(retention),
        }
    }
}

impl Ledger {
    /// Applies one of the domain's commands: bets and wins, the hot path.
    /// Called from `Ledger::execute` alone (a session's command goes
    /// through there too), so that the handlers inline into the dispatch.
    #[inline]
    pub(super) fn apply_gaming(&mut self, ctx: Ctx, command: &Command) -> Applied {
        match command {
            Command::Bet(bet) => self.bet(ctx, bet),
            Command::Win(win) => self.win(ctx, win),
            Command::Rollback { player, bet } => self.rollback(ctx, *player, bet),
            Command::EndRound { player, round } => self.end_round(ctx, *player, round),
        }
    }

    fn bet(&mut self, ctx: Ctx, bet: &Bet) -> Applied {
        let plan = check!(self.plan_bet(ctx, bet));
        let wallet = self.wallet_mut_unchecked(bet.player, bet.currency);
        let before = wallet.balances();
        let expired = wallet.expire_if_due(ctx.time_ms);
        let bonus_serial = wallet.live_serial(ctx.time_ms);
        wallet.cash = Amount::from_minor(wallet.cash.minor() - plan.cash.minor());
        wallet.bonus = Amount::from_minor(wallet.bonus.minor() - plan.bonus.minor());
        wallet.loyalty_points += loyalty_points(plan.cash, bet.currency);
        if let Some(limits) = wallet.limits.as_deref_mut() {
            for metric in BET_METRICS {
                limits.record(metric, ctx.time_ms, bet.amount.minor());
            }
        }
        let (wagering_credit, conversion_forfeit) = wager(wallet, &bet.round, bet.amount);
        // The bonus this bet converted or the expiry forfeited lets the
        // next queued one in, after the stake was counted.
        let promoted = wallet.promote(ctx.time_ms);
        self.rg_count_bet(bet.player, bet.currency, bet.amount, ctx.time_ms, &plan.session_rules);
        let flows = self.flows_mut(bet.currency);
        flows.bets += i128::from(bet.amount.minor());
        flows.bonus_forfeited += i128::from(expired.minor())
            + i128::from(conversion_forfeit.minor())
            + i128::from(promoted.forfeited.minor());
        flows.bonus_granted += i128::from(promoted.granted.minor());

        let funded_by = if plan.bonus.is_positive() {
            bonus_serial
        } else {
            plan.round.bonus_serial
        };
        let round = Round {
            bonus_serial: funded_by,
            ..plan.round
        };
        match self.gaming.rounds.get_mut(plan.round_key) {
            Some(open) => {
                *open = Round {
                    opened_ms: open.opened_ms,
                    ..round
                }
            }
            None => self.gaming.rounds.open(plan.round_key, round),
        }
        if bet.close_round {
            self.gaming.rounds.close(plan.round_key);
        }
        let outcome = match plan.jackpot {
            None => self.receipt(ctx, bet.player, before),
            Some(contribution) => self.contribute(ctx, bet, before, contribution),
        };
        let detail = BetDetail {
            player: plan.index,
            currency: bet.currency,
            bonus_serial,
            cash: plan.cash,
            bonus: plan.bonus,
            wagering_credit,
            round: plan.round_key,
            rolled_back: false,
        };
        (outcome, Detail::Bet(detail))
    }

    /// Moves a bet's planned contribution into its pool and, when the pool
    /// had reached its must-drop cap, pays the pool to the bettor: the
    /// outcome reports the drop.
    fn contribute(&mut self, ctx: Ctx, bet: &Bet, before: Balances, contribution: Contribution) -> Outcome {
        self.jackpots.contribute(contribution.slot, contribution.amount);
        let Some(paid) = contribution.drop else {
            return self.receipt(ctx, bet.player, before);
        };
        debug_assert!(paid == self.jackpots.balance(contribution.slot));
        self.credit_jackpot(ctx, bet.player, bet.currency, paid);
        let reseed = self
            .jackpots
            .pay(contribution.slot, paid, bet.player, ctx.seq, ctx.time_ms);
        let receipt = self.moved(ctx, bet.player, before);
        Outcome::JackpotDropped(self.payout(receipt, contribution.slot, paid, reseed))
    }

    /// Everything a bet must pass, in order; the round totals it will leave.
    fn plan_bet(&mut self, ctx: Ctx, bet: &Bet) -> Result<BetPlan, Rejection> {
        if !bet.amount.is_positive() {
            return Err(Rejection::InvalidAmount);
        }
        let (player, version) = self.players.with_profile_version(bet.player, ctx.time_ms)?;
        let profile = &version.profile;
        player.check(Activity::Bet, profile, ctx.time_ms)?;
        self.games.check_bet(
            ctx.source,
            &bet.round.game,
            bet.currency,
            bet.amount,
            player.jurisdiction,
        )?;
        if let Some(cap) = profile.stake_cap(bet.currency, player.age_band)
            && bet.amount > cap
        {
            return Err(Rejection::StakeCapExceeded { cap });
        }
        let session_rules = SessionRules::of(version);
        self.rg_bet_check(player, &session_rules, ctx.time_ms)?;
        let index = owner_index(bet.player)?;
        let round_key = self.fingerprints.round(ctx.source, &bet.round);
        let round = self.gaming.rounds.get(round_key).cloned();
        if round.as_ref().is_some_and(|r| r.player != index) {
            return Err(Rejection::RoundPlayerMismatch);
        }
        let round = round.unwrap_or(Round {
            player: index,
            cash: Amount::ZERO,
            bonus: Amount::ZERO,
            bonus_serial: 0,
            opened_ms: ctx.time_ms,
        });
        let wallet = self.player_mut(bet.player)?.wallet_mut(bet.currency)?;
        if let Some(max) = wallet.live_bonus(ctx.time_ms).and_then(|b| b.max_bet)
            && bet.amount > max
        {
            return Err(Rejection::BonusMaxBetExceeded { max });
        }
        let spendable_bonus = wallet.spendable_bonus(ctx.time_ms);
        let cash = wallet.cash.min(bet.amount);
        let bonus = Amount::from_minor(bet.amount.minor() - cash.minor());
        if bonus > spendable_bonus {
            let available = wallet.cash.checked_add(spendable_bonus).unwrap_or(Amount::MAX);
            return Err(Rejection::InsufficientFunds { available });
        }
        if let Some(limits) = wallet.limits.as_deref_mut() {
            limits.promote(ctx.time_ms);
            limits
                .check(&BET_METRICS, bet.amount, ctx.time_ms)
                .map_err(|(limit, remaining)| Rejection::LimitExceeded { limit, remaining })?;
        }
        let round = Round {
            cash: round.cash.checked_add(cash).ok_or(Rejection::Overflow)?,
            bonus: round.bonus.checked_add(bonus).ok_or(Rejection::Overflow)?,
            ..round
        };
        let cash_after = Amount::from_minor(wallet.cash.minor() - cash.minor());
        // A stake that completes the live bonus's wagering converts it into
        // cash (`wager`, up to the cap and the headroom) before a must-drop
        // pays the pool: the drop is checked on top of that conversion.
        let converting = match wallet.live_bonus(ctx.time_ms) {
            Some(active)
                if active
                    .wagered
                    .checked_add(active.contribution(&bet.round.game, bet.amount))
                    .is_none_or(|wagered| wagered >= active.wagering_required) =>
            {
                let headroom = Amount::MAX.checked_sub(cash_after).unwrap_or(Amount::ZERO);
                Amount::from_minor(wallet.bonus.minor() - bonus.minor())
                    .min(active.conversion_cap)
                    .min(headroom)
                    .max(Amount::ZERO)
            }
            _ => Amount::ZERO,
        };
        // One emptiness test while there is no pool.
        let jackpot = if self.jackpots.is_empty() {
            None
        } else {
            let planned =
                self.jackpots
                    .plan_contribution(ctx.source, bet.round.game.as_str(), bet.currency, bet.amount)?;
            if let Some(paid) = planned.and_then(|c| c.drop) {
                cash_after
                    .checked_add(converting)
                    .and_then(|cash| cash.checked_add(paid))
                    .ok_or(Rejection::Overflow)?;
            }
            planned
        };
        Ok(BetPlan {
            session_rules,
            index,
            round_key,
            round,
            cash,
            bonus,
            jackpot,
        })
    }

    fn win(&mut self, ctx: Ctx, win: &Win) -> Applied {
        if win.amount.is_negative() {
            return rejected(Rejection::InvalidAmount);
        }
        let index = check!(owner_index(win.player));
        let currency = win.currency;
        check!(
            self.player(win.player)
                .and_then(|p| p.wallet(currency).ok_or(Rejection::CurrencyMismatch { currency }))
        );
        let round_key = self.fingerprints.round(ctx.source, &win.round);
        let round = self.gaming.rounds.get(round_key);
        match round {
            None if win.kind == WinKind::Regular => return rejected(Rejection::UnknownRound),
            Some(r) if r.player != index => return rejected(Rejection::RoundPlayerMismatch),
            _ => {}
        }
        if let Some(bet_id) = &win.bet {
            check!(self.paid_bet(ctx, index, bet_id));
        }
        let (bonus_share, serial) = round.map_or((Amount::ZERO, 0), |r| bonus_share_of(win.amount, r));
        let cash_share = Amount::from_minor(win.amount.minor() - bonus_share.minor());
        let wallet = self.wallet_mut_unchecked(win.player, currency);
        let credit = Credit::new(wallet, cash_share, bonus_share, serial, ctx.time_ms);
        let (cash, bonus) = check!(credit.balances_after(wallet, ctx.time_ms));
        // A jackpot win on a game a pool covers is paid from the pool, up
        // to its balance; the operator pays the rest, as any win.
        let pool = match win.kind {
            WinKind::Jackpot if win.amount.is_positive() && !self.jackpots.is_empty() => {
                self.jackpots.covering(ctx.source, win.round.game.as_str(), currency)
            }
            _ => None,
        };
        let from_pool = pool.map_or(Amount::ZERO, |slot| win.amount.min(self.jackpots.balance(slot)));

        let wallet = self.wallet_mut_unchecked(win.player, currency);
        let before = wallet.balances();
        let expired = wallet.expire_if_due(ctx.time_ms);
        wallet.cash = cash;
        wallet.bonus = bonus;
        let promoted = wallet.promote(ctx.time_ms);
        if let Some(limits) = wallet.limits.as_deref_mut() {
            limits.record(LimitMetric::Loss, ctx.time_ms, -win.amount.minor());
        }
        self.rg_count_credit(win.player, currency, win.amount, ctx.time_ms);
        let flows = self.flows_mut(currency);
        flows.wins += i128::from(win.amount.minor() - from_pool.minor());
        flows.bonus_forfeited +=
            i128::from(credit.forfeited.minor()) + i128::from(expired.minor()) + i128::from(promoted.forfeited.minor());
        flows.bonus_granted += i128::from(promoted.granted.minor());
        if win.close_round {
            self.gaming.rounds.close(round_key);
        }
        let Some(slot) = pool else {
            return (self.receipt(ctx, win.player, before), Detail::Plain);
        };
        let reseed = self.jackpots.pay(slot, from_pool, win.player, ctx.seq, ctx.time_ms);
        let receipt = self.moved(ctx, win.player, before);
        (
            Outcome::JackpotPaid(self.payout(receipt, slot, from_pool, reseed)),
            Detail::Plain,
        )
    }

    fn rollback(&mut self, ctx: Ctx, id: PlayerId, bet_id: &ExtId) -> Applied {
        let (bet_key, bet, placed) = check!(self.rollback_target(ctx, id, bet_id));
        let wallet = self.wallet_mut_unchecked(id, bet.currency);
        let credit = Credit::new(wallet, bet.cash, bet.bonus, bet.bonus_serial, ctx.time_ms);
        let (cash, bonus) = check!(credit.balances_after(wallet, ctx.time_ms));

        let before = wallet.balances();
        let expired = wallet.expire_if_due(ctx.time_ms);
        wallet.cash = cash;
        wallet.bonus = bonus;
        wallet.loyalty_points = wallet
            .loyalty_points
            .saturating_sub(loyalty_points(bet.cash, bet.currency));
        if let Some(active) = wallet
            .active_bonus
            .as_deref_mut()
            .filter(|b| b.serial == bet.bonus_serial)
        {
            active.wagered = active
                .wagered
                .checked_sub(bet.wagering_credit)
                .unwrap_or(Amount::ZERO)
                .max(Amount::ZERO);
        }
        let stake = bet.cash.minor() + bet.bonus.minor();
        if let Some(limits) = wallet.limits.as_deref_mut() {
            for metric in BET_METRICS {
                limits.take_back(metric, placed, stake);
            }
        }
        let promoted = wallet.promote(ctx.time_ms);
        self.rg_count_credit(id, bet.currency, Amount::from_minor(stake), ctx.time_ms);
        let flows = self.flows_mut(bet.currency);
        flows.rollbacks += i128::from(stake);
        flows.bonus_forfeited +=
            i128::from(credit.forfeited.minor()) + i128::from(expired.minor()) + i128::from(promoted.forfeited.minor());
        flows.bonus_granted += i128::from(promoted.granted.minor());
        if let Some(round) = self.gaming.rounds.get_mut(bet.round) {
            round.cash = round
                .cash
                .checked_sub(bet.cash)
                .unwrap_or(Amount::ZERO)
                .max(Amount::ZERO);
            round.bonus = round
                .bonus
                .checked_sub(bet.bonus)
                .unwrap_or(Amount::ZERO)
                .max(Amount::ZERO);
        }
        if let Some(TxRecord {
            detail: Detail::Bet(bet),
            ..
        }) = self.requests.get_mut(bet_key)
        {
            bet.rolled_back = true;
        }
        (self.receipt(ctx, id, before), Detail::Plain)
    }

    /// Checks the bet a win names: it must have been taken from this player
    /// and not rolled back. A free-round bet recorded without a stake (a
    /// successful record that is not a bet) may be named too.
    fn paid_bet(&self, ctx: Ctx, player: u32, bet_id: &ExtId) -> Result<(), Rejection> {
        let bet_key = self.fingerprints.request(ctx.source, bet_id);
        if bet_key == ctx.key {
            return Err(Rejection::WrongTransactionKind);
        }
        let record = self.requests.get(bet_key).ok_or(Rejection::UnknownTransaction)?;
        match &record.detail {
            Detail::Bet(bet) if bet.player != player => Err(Rejection::UnknownTransaction),
            Detail::Bet(bet) if bet.rolled_back => Err(Rejection::BetRolledBack),
            Detail::Bet(_) => Ok(()),
            Detail::Tombstone => Err(Rejection::BetRolledBack),
            Detail::Plain if record.outcome.is_ok() => Ok(()),
            Detail::Plain => Err(Rejection::UnknownTransaction),
            Detail::Payment(_) => Err(Rejection::WrongTransactionKind),
        }
    }

    /// The bet a rollback refers to, with the (seq, time) it was placed at.
    /// A bet never seen gets a tombstone so that it is refused if it arrives.
    fn rollback_target(
        &mut self,
        ctx: Ctx,
        id: PlayerId,
        bet_id: &ExtId,
    ) -> Result<(Key, BetDetail, (u64, u64)), Rejection> {
        let index = owner_index(id)?;
        self.player(id)?;
        let bet_key = self.fingerprints.request(ctx.source, bet_id);
        if bet_key == ctx.key {
            return Err(Rejection::WrongTransactionKind);
        }
        let Some(record) = self.requests.get(bet_key) else {
            let outcome = Outcome::Rejected(Rejection::BetRolledBack);
            let (seq, time_ms) = (ctx.seq, ctx.time_ms);
            self.requests.insert(TxRecord {
                key: bet_key,
                payload: 0,
                seq,
                time_ms,
                outcome,
                detail: Detail::Tombstone,
            });
            return Err(Rejection::UnknownTransaction);
        };
        match &record.detail {
            Detail::Bet(bet) if bet.player != index => Err(Rejection::UnknownTransaction),
            Detail::Bet(bet) if bet.rolled_back => Err(Rejection::AlreadyRolledBack),
            Detail::Bet(bet) => Ok((bet_key, bet.clone(), (record.seq, record.time_ms))),
            Detail::Tombstone => Err(Rejection::UnknownTransaction),
            // A refused bet moved no money: there is nothing to roll back.
            Detail::Plain if !record.outcome.is_ok() => Err(Rejection::UnknownTransaction),
            Detail::Plain | Detail::Payment(_) => Err(Rejection::WrongTransactionKind),
        }
    }

    fn end_round(&mut self, ctx: Ctx, id: PlayerId, round: &RoundRef) -> Applied {
        let index = check!(owner_index(id));
        check!(self.player(id));
        let key = self.fingerprints.round(ctx.source, round);
        match self.gaming.rounds.get(key) {
            None => rejected(Rejection::UnknownRound),
            Some(r) if r.player != index => rejected(Rejection::RoundPlayerMismatch),
            Some(_) => {
                self.gaming.rounds.close(key);
                (Outcome::Accepted, Detail::Plain)
            }
        }
    }

    /// The wallet of a player and currency already validated to exist.
    fn wallet_mut_unchecked(&mut self, id: PlayerId, currency: Currency) -> &mut Wallet {
        self.player_mut(id)
            .and_then(|p| p.wallet_mut(currency))
            .expect("validated wallet exists")
    }
}

/// The bonus-funded share of `amount` by the round's funding split, and the
/// bonus serial that funded it. Computed in 128 bits: stakes may sum past i64.
fn bonus_share_of(amount: Amount, round: &Round) -> (Amount, u32) {
    let total = i128::from(round.cash.minor()) + i128::from(round.bonus.minor());
    if total <= 0 {
        return (Amount::ZERO, 0);
    }
    let share = i128::from(amount.minor()) * i128::from(round.bonus.minor()) / total;
    // share <= amount, so it fits.
    (Amount::from_minor(share as i64), round.bonus_serial)
}

/// The dense index the ledger stores for a player (ids start at 1).
fn owner_index(id: PlayerId) -> Result<u32, Rejection> {
    player_index(id)
        .and_then(|i| u32::try_from(i).ok())
        .ok_or(Rejection::UnknownPlayer)
}

/// One loyalty point per whole currency unit staked from cash.
fn loyalty_points(cash: Amount, currency: Currency) -> u64 {
    (cash.minor() / 10_i64.pow(currency.exponent())).unsigned_abs()
}

/// Counts a stake toward the active bonus's wagering and converts the bonus
/// when the requirement is met. Returns (credit counted, amount forfeited
/// by a capped conversion).
fn wager(wallet: &mut Wallet, round: &RoundRef, stake: Amount) -> (Amount, Amount) {
    let Some(active) = wallet.active_bonus.as_deref_mut() else {
        return (Amount::ZERO, Amount::ZERO);
    };
    let credit = active.contribution(&round.game, stake);
    active.wagered = active.wagered.checked_add(credit).unwrap_or(Amount::MAX);
    if active.wagered >= active.wagering_required {
        (credit, wallet.convert_bonus())
    } else {
        (credit, Amount::ZERO)
    }
}
