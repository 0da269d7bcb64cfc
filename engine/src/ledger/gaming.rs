//! Gaming commands: bets, wins, rollbacks and rounds.
//!
//! Bets spend cash first, then bonus money. A round remembers how its stakes
//! were funded, and its wins follow that split: the bonus-funded share goes
//! back to the bonus that funded it (or to cash if that bonus was converted
//! since, or is forfeited if it was forfeited or expired).

use super::account::{Activity, BonusRoute};
use super::store::{BetDetail, Detail, Round, TxRecord};
use super::{Applied, Ctx, Ledger, player_index, rejected};
use crate::command::{Bet, LimitMetric, RoundRef, Win, WinKind};
use crate::ids::{ExtId, PlayerId};
use crate::money::Amount;
use crate::outcome::{Outcome, Rejection};

const BET_METRICS: [LimitMetric; 2] = [LimitMetric::Wager, LimitMetric::Loss];

/// Splits a share that came from bonus money by where it must go.
/// Returns (to cash, to bonus, forfeited).
fn route_share(route: BonusRoute, share: Amount) -> (Amount, Amount, Amount) {
    match route {
        BonusRoute::Bonus => (Amount::ZERO, share, Amount::ZERO),
        BonusRoute::Cash => (share, Amount::ZERO, Amount::ZERO),
        BonusRoute::Forfeit => (Amount::ZERO, Amount::ZERO, share),
    }
}

fn add(a: Amount, b: Amount) -> Result<Amount, Rejection> {
    a.checked_add(b).ok_or(Rejection::Overflow)
}

impl Ledger {
    pub(super) fn bet(&mut self, ctx: Ctx, bet: &Bet) -> Applied {
        if !bet.amount.is_positive() {
            return rejected(Rejection::InvalidAmount);
        }
        let rules = check!(self.rules_for(bet.player));
        let player = check!(self.player(bet.player));
        check!(player.check(Activity::Bet, rules, ctx.time_ms));
        check!(
            player
                .wallet(bet.currency)
                .ok_or(Rejection::CurrencyMismatch { currency: bet.currency })
        );
        self.expire_due_bonus(bet.player, bet.currency, ctx.time_ms);

        let index = check!(owner_index(bet.player));
        let round_key = self.fingerprints.round(ctx.source, &bet.round);
        let round = self.rounds.get(round_key);
        if round.is_some_and(|r| r.player != index) {
            return rejected(Rejection::RoundPlayerMismatch);
        }
        let (round_cash, round_bonus, round_serial) =
            round.map_or((Amount::ZERO, Amount::ZERO, 0), |r| (r.cash, r.bonus, r.bonus_serial));

        let wallet = check!(self.player_mut(bet.player).and_then(|p| p.wallet_mut(bet.currency)));
        let cash_part = wallet.cash.min(bet.amount);
        let bonus_part = Amount::from_minor(bet.amount.minor() - cash_part.minor());
        if bonus_part > wallet.bonus {
            let available = wallet.cash.checked_add(wallet.bonus).unwrap_or(Amount::MAX);
            return rejected(Rejection::InsufficientFunds { available });
        }
        if let Some(limits) = wallet.limits.as_deref_mut() {
            limits.promote(ctx.time_ms);
            if let Err((limit, remaining)) = limits.check(&BET_METRICS, bet.amount, ctx.time_ms) {
                return rejected(Rejection::LimitExceeded { limit, remaining });
            }
        }
        let round_cash = check!(add(round_cash, cash_part));
        let round_bonus = check!(add(round_bonus, bonus_part));

        // Validated: from here on nothing can fail.
        let before = wallet.balances();
        wallet.cash = Amount::from_minor(wallet.cash.minor() - cash_part.minor());
        wallet.bonus = Amount::from_minor(wallet.bonus.minor() - bonus_part.minor());
        wallet.loyalty_points += loyalty_points(cash_part, bet.currency.exponent());
        if let Some(limits) = wallet.limits.as_deref_mut() {
            for metric in BET_METRICS {
                limits.record(metric, ctx.time_ms, bet.amount.minor());
            }
        }
        let bonus_serial = wallet.active_serial().unwrap_or(0);
        let (wagering_credit, forfeited) = wager(wallet, &bet.round, bet.amount);
        let flows = self.flows_mut(bet.currency);
        flows.bets += i128::from(bet.amount.minor());
        flows.bonus_forfeited += i128::from(forfeited.minor());

        let funded_by = if bonus_part.is_positive() {
            bonus_serial
        } else {
            round_serial
        };
        let round = Round {
            player: index,
            cash: round_cash,
            bonus: round_bonus,
            bonus_serial: funded_by,
            opened_ms: ctx.time_ms,
        };
        match self.rounds.get_mut(round_key) {
            Some(open) => {
                *open = Round {
                    opened_ms: open.opened_ms,
                    ..round
                }
            }
            None => self.rounds.open(round_key, round),
        }
        if bet.close_round {
            self.rounds.close(round_key);
        }
        let detail = BetDetail {
            player: index,
            currency: bet.currency,
            bonus_serial,
            cash: cash_part,
            bonus: bonus_part,
            wagering_credit,
            round: round_key,
            rolled_back: false,
        };
        (self.receipt(ctx, bet.player, before), Detail::Bet(detail))
    }

    pub(super) fn win(&mut self, ctx: Ctx, win: &Win) -> Applied {
        if win.amount.is_negative() {
            return rejected(Rejection::InvalidAmount);
        }
        let index = check!(owner_index(win.player));
        check!(self.player(win.player).and_then(|p| {
            p.wallet(win.currency)
                .ok_or(Rejection::CurrencyMismatch { currency: win.currency })
        }));
        self.expire_due_bonus(win.player, win.currency, ctx.time_ms);

        let round_key = self.fingerprints.round(ctx.source, &win.round);
        let round = self.rounds.get(round_key);
        match round {
            None if win.kind == WinKind::Regular => return rejected(Rejection::UnknownRound),
            Some(r) if r.player != index => return rejected(Rejection::RoundPlayerMismatch),
            _ => {}
        }
        let (bonus_share, serial) = match round {
            Some(r) if r.cash.minor() + r.bonus.minor() > 0 => {
                let share = i128::from(win.amount.minor()) * i128::from(r.bonus.minor())
                    / (i128::from(r.cash.minor()) + i128::from(r.bonus.minor()));
                (Amount::from_minor(share as i64), r.bonus_serial)
            }
            _ => (Amount::ZERO, 0),
        };
        let cash_share = Amount::from_minor(win.amount.minor() - bonus_share.minor());

        let wallet = check!(self.player_mut(win.player).and_then(|p| p.wallet_mut(win.currency)));
        let (to_cash, to_bonus, forfeited) = route_share(wallet.bonus_route(serial), bonus_share);
        let cash = check!(add(wallet.cash, cash_share).and_then(|c| add(c, to_cash)));
        let bonus = check!(add(wallet.bonus, to_bonus));

        let before = wallet.balances();
        wallet.cash = cash;
        wallet.bonus = bonus;
        if let Some(limits) = wallet.limits.as_deref_mut() {
            limits.record(LimitMetric::Loss, ctx.time_ms, -win.amount.minor());
        }
        let flows = self.flows_mut(win.currency);
        flows.wins += i128::from(win.amount.minor());
        flows.bonus_forfeited += i128::from(forfeited.minor());
        if win.close_round {
            self.rounds.close(round_key);
        }
        (self.receipt(ctx, win.player, before), Detail::Plain)
    }

    pub(super) fn rollback(&mut self, ctx: Ctx, id: PlayerId, bet_id: &ExtId) -> Applied {
        let index = check!(owner_index(id));
        check!(self.player(id));
        let bet_key = self.fingerprints.request(ctx.source, bet_id);
        if bet_key == ctx.key {
            return rejected(Rejection::WrongTransactionKind);
        }
        let Some(record) = self.txs.get(bet_key) else {
            // Remember the id so that the bet, should it arrive late, is refused.
            let outcome = Outcome::Rejected(Rejection::BetRolledBack);
            let tombstone = TxRecord {
                key: bet_key,
                payload: 0,
                seq: ctx.seq,
                time_ms: ctx.time_ms,
                outcome,
                detail: Detail::Tombstone,
            };
            self.txs.insert(tombstone);
            return rejected(Rejection::UnknownTransaction);
        };
        let (bet, bet_ms) = match &record.detail {
            Detail::Bet(bet) if bet.player != index => {
                return rejected(Rejection::UnknownTransaction);
            }
            Detail::Bet(bet) if bet.rolled_back => return rejected(Rejection::AlreadyRolledBack),
            Detail::Bet(bet) => (bet.clone(), record.time_ms),
            Detail::Tombstone => return rejected(Rejection::UnknownTransaction),
            // A refused bet moved no money: there is nothing to roll back.
            Detail::Plain if !record.outcome.is_ok() => {
                return rejected(Rejection::UnknownTransaction);
            }
            Detail::Plain | Detail::Payment(_) => return rejected(Rejection::WrongTransactionKind),
        };
        self.expire_due_bonus(id, bet.currency, ctx.time_ms);

        let wallet = check!(self.player_mut(id).and_then(|p| p.wallet_mut(bet.currency)));
        let (to_cash, to_bonus, forfeited) = route_share(wallet.bonus_route(bet.bonus_serial), bet.bonus);
        let cash = check!(add(wallet.cash, bet.cash).and_then(|c| add(c, to_cash)));
        let bonus = check!(add(wallet.bonus, to_bonus));

        let before = wallet.balances();
        wallet.cash = cash;
        wallet.bonus = bonus;
        wallet.loyalty_points = wallet
            .loyalty_points
            .saturating_sub(loyalty_points(bet.cash, bet.currency.exponent()));
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
                limits.take_back(metric, bet_ms, stake);
            }
        }
        let flows = self.flows_mut(bet.currency);
        flows.rollbacks += i128::from(stake);
        flows.bonus_forfeited += i128::from(forfeited.minor());
        if let Some(round) = self.rounds.get_mut(bet.round) {
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
        }) = self.txs.get_mut(bet_key)
        {
            bet.rolled_back = true;
        }
        (self.receipt(ctx, id, before), Detail::Plain)
    }

    pub(super) fn end_round(&mut self, ctx: Ctx, id: PlayerId, round: &RoundRef) -> Applied {
        let index = check!(owner_index(id));
        check!(self.player(id));
        let key = self.fingerprints.round(ctx.source, round);
        match self.rounds.get(key) {
            None => rejected(Rejection::UnknownRound),
            Some(r) if r.player != index => rejected(Rejection::RoundPlayerMismatch),
            Some(_) => {
                self.rounds.close(key);
                (Outcome::Accepted, Detail::Plain)
            }
        }
    }
}

/// The dense index the ledger stores for a player (ids start at 1).
fn owner_index(id: PlayerId) -> Result<u32, Rejection> {
    player_index(id)
        .and_then(|i| u32::try_from(i).ok())
        .ok_or(Rejection::UnknownPlayer)
}

/// One loyalty point per whole currency unit staked from cash.
fn loyalty_points(cash: Amount, exponent: u32) -> u64 {
    (cash.minor() / 10_i64.pow(exponent)).unsigned_abs()
}

/// Counts a stake toward the active bonus's wagering and converts the bonus
/// when the requirement is met. Returns (credit counted, amount forfeited
/// by a capped conversion).
fn wager(wallet: &mut super::account::Wallet, round: &RoundRef, stake: Amount) -> (Amount, Amount) {
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
