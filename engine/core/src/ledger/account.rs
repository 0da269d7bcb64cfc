//! Players and their wallets: the per-account record every money domain
//! works on.
//!
//! One record per player holds the players domain's account data, each
//! wallet's balances, and, inside the wallet, the responsible-gambling
//! limits and the bonus state. A bet reads the account status, the limits
//! and the bonus and moves the balances in one place: splitting the record
//! by domain would add a lookup per domain to every bet and win, the hot
//! path, for no change in behaviour. The domains own the rules; this file
//! owns the layout.

use smallvec::SmallVec;

use crate::codec::{Decode, DecodeError, Encode, Reader, Sink, codec_struct};

use super::players::{AgeBand, DueDiligence, JurisdictionProfile};
use super::rg::limits::Limits;
use super::rg::session::{PlaySession, PromptDates, RgSettings};
use crate::command::{AccountStatus, KycLevel};
use crate::ids::{GameCode, Jurisdiction};
use crate::money::{Amount, Currency};
use crate::outcome::{Balances, BlockReason, Rejection};

/// One account.
#[derive(Clone, Debug)]
pub(crate) struct Player {
    pub(crate) status: AccountStatus,
    pub(crate) kyc: KycLevel,
    pub(crate) jurisdiction: Jurisdiction,
    pub(crate) currency: Currency,
    pub(crate) self_excluded_until_ms: u64,
    pub(crate) timed_out_until_ms: u64,
    /// Most players hold one currency: keep it inline.
    pub(crate) wallets: SmallVec<[Wallet; 1]>,
    /// For the stake caps of the jurisdiction's profile.
    pub(crate) age_band: AgeBand,
    /// Confirmed deposits counted against the profile's due-diligence
    /// threshold (`None`: no deposit confirmed yet; boxed: most bets only
    /// test it for `None`).
    pub(crate) due_diligence: Option<Box<DueDiligence>>,
    /// The open play session (`rg/session.rs`): inline, every bet and win
    /// touches it.
    pub(crate) session: PlaySession,
    /// The player's own reality-check interval and session time limit, and
    /// the state only they need (`None`: never set any, as most players).
    pub(crate) rg: Option<Box<RgSettings>>,
    /// The dates the deposit-limit prompts are reckoned from (`None`: a
    /// player of an older snapshot with none recorded since).
    pub(crate) prompts: Option<Box<PromptDates>>,
}

/// What a player is trying to do, for the status checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Activity {
    Bet,
    Deposit,
    Withdraw,
    /// Receiving a bonus is marketing: refused to blocked players too.
    ReceiveBonus,
}

impl Player {
    pub(crate) fn new(currency: Currency, jurisdiction: Jurisdiction) -> Player {
        Player {
            session: PlaySession::default(),
            rg: None,
            prompts: None,
            status: AccountStatus::Active,
            kyc: KycLevel::None,
            jurisdiction,
            currency,
            self_excluded_until_ms: 0,
            timed_out_until_ms: 0,
            wallets: SmallVec::from_buf([Wallet::new(currency)]),
            age_band: AgeBand::Unknown,
            due_diligence: None,
        }
    }

    /// Why the player may not play at `now_ms`, if blocked: the operator's
    /// status first, then self-exclusion, then a time-out (KYC is not a
    /// block: a player logs in to complete it).
    pub(crate) fn login_block(&self, now_ms: u64) -> Option<BlockReason> {
        match self.status {
            AccountStatus::Suspended => Some(BlockReason::Suspended),
            AccountStatus::Closed => Some(BlockReason::Closed),
            AccountStatus::Active if self.self_excluded_until_ms > now_ms => Some(BlockReason::SelfExcluded {
                until_ms: self.self_excluded_until_ms,
            }),
            AccountStatus::Active if self.timed_out_until_ms > now_ms => Some(BlockReason::TimedOut {
                until_ms: self.timed_out_until_ms,
            }),
            AccountStatus::Active => None,
        }
    }

    /// Whether the player may do `activity` at `now_ms` under `profile`
    /// (its KYC gates and due-diligence threshold).
    ///
    /// Owed money (wins, refunds, confirmed deposits) is never blocked:
    /// those paths do not call this.
    pub(crate) fn check(
        &self,
        activity: Activity,
        profile: &JurisdictionProfile,
        now_ms: u64,
    ) -> Result<(), Rejection> {
        let rules = profile.kyc;
        let blocked = |reason| Err(Rejection::PlayerBlocked(reason));
        match (self.status, activity) {
            (AccountStatus::Suspended, _) => return blocked(BlockReason::Suspended),
            (AccountStatus::Closed, Activity::Withdraw) | (AccountStatus::Active, _) => {}
            (AccountStatus::Closed, _) => return blocked(BlockReason::Closed),
        }
        if activity != Activity::Withdraw {
            if self.self_excluded_until_ms > now_ms {
                return blocked(BlockReason::SelfExcluded {
                    until_ms: self.self_excluded_until_ms,
                });
            }
            if self.timed_out_until_ms > now_ms {
                return blocked(BlockReason::TimedOut {
                    until_ms: self.timed_out_until_ms,
                });
            }
        }
        let kyc_needed = match activity {
            Activity::Bet => rules.kyc_before_bet,
            Activity::Deposit => rules.kyc_before_deposit,
            Activity::Withdraw => rules.kyc_before_withdrawal,
            Activity::ReceiveBonus => false,
        };
        if kyc_needed && self.kyc != KycLevel::Verified {
            return Err(Rejection::KycRequired { level: self.kyc });
        }
        let money_in = matches!(activity, Activity::Bet | Activity::Deposit);
        if money_in && self.due_diligence.as_deref().is_some_and(|d| d.required(profile)) {
            return Err(Rejection::DueDiligenceRequired);
        }
        Ok(())
    }

    pub(crate) fn wallet(&self, currency: Currency) -> Option<&Wallet> {
        self.wallets.iter().find(|w| w.currency == currency)
    }

    pub(crate) fn wallet_mut(&mut self, currency: Currency) -> Result<&mut Wallet, Rejection> {
        self.wallets
            .iter_mut()
            .find(|w| w.currency == currency)
            .ok_or(Rejection::CurrencyMismatch { currency })
    }

    /// The wallet in `currency`, opened empty if the player has none yet.
    pub(crate) fn wallet_or_open(&mut self, currency: Currency) -> &mut Wallet {
        let position = match self.wallets.iter().position(|w| w.currency == currency) {
            Some(position) => position,
            None => {
                self.wallets.push(Wallet::new(currency));
                self.wallets.len() - 1
            }
        };
        &mut self.wallets[position]
    }
}

/// One currency's money of one player.
#[derive(Clone, Debug)]
pub(crate) struct Wallet {
    pub(crate) currency: Currency,
    pub(crate) cash: Amount,
    pub(crate) bonus: Amount,
    pub(crate) reserved: Amount,
    pub(crate) loyalty_points: u64,
    /// Serial of the most recent bonus granted (0: none yet).
    pub(crate) bonus_serial: u32,
    /// Which of the last 64 bonuses were converted to cash: bit `k` stands
    /// for serial `bonus_serial - k`. Older bonuses count as forfeited.
    pub(crate) converted_bits: u64,
    pub(crate) active_bonus: Option<Box<ActiveBonus>>,
    pub(crate) limits: Option<Box<Limits>>,
    /// Bonuses granted while one was active, in grant order, each waiting
    /// for the one before it to end (`None`: none waiting, as most
    /// wallets; boxed to keep the wallet small). Their money is not in
    /// `bonus`: it is granted when each becomes active.
    #[allow(
        clippy::box_collection,
        reason = "one pointer in every wallet, where a bare Vec would take three words in the many without a queue"
    )]
    pub(crate) queued: Option<Box<Vec<QueuedBonus>>>,
}

impl Wallet {
    pub(crate) fn new(currency: Currency) -> Wallet {
        Wallet {
            currency,
            cash: Amount::ZERO,
            bonus: Amount::ZERO,
            reserved: Amount::ZERO,
            loyalty_points: 0,
            bonus_serial: 0,
            converted_bits: 0,
            active_bonus: None,
            limits: None,
            queued: None,
        }
    }

    pub(crate) fn balances(&self) -> Balances {
        Balances {
            currency: self.currency,
            cash: self.cash,
            bonus: self.bonus,
            reserved: self.reserved,
            loyalty_points: self.loyalty_points,
        }
    }

    /// Takes the active bonus away with its balance; returns the forfeited amount.
    pub(crate) fn drop_bonus(&mut self) -> Amount {
        self.active_bonus = None;
        std::mem::replace(&mut self.bonus, Amount::ZERO)
    }

    /// Converts the active bonus to cash, up to its cap (and up to what cash
    /// can hold); returns the forfeited rest.
    pub(crate) fn convert_bonus(&mut self) -> Amount {
        let Some(bonus) = self.active_bonus.take() else {
            return Amount::ZERO;
        };
        let headroom = Amount::MAX.checked_sub(self.cash).unwrap_or(Amount::ZERO);
        let converted = self.bonus.min(bonus.conversion_cap).min(headroom).max(Amount::ZERO);
        let forfeited = Amount::from_minor(self.bonus.minor() - converted.minor());
        self.cash = Amount::from_minor(self.cash.minor() + converted.minor());
        self.bonus = Amount::ZERO;
        self.mark_converted(bonus.serial);
        forfeited
    }

    fn mark_converted(&mut self, serial: u32) {
        if let Some(bit) = self.bonus_serial.checked_sub(serial).filter(|&k| k < 64) {
            self.converted_bits |= 1 << bit;
        }
    }

    fn was_converted(&self, serial: u32) -> bool {
        self.bonus_serial
            .checked_sub(serial)
            .is_some_and(|k| k < 64 && self.converted_bits & (1 << k) != 0)
    }

    /// Starts a new bonus serial (its converted bit starts clear).
    pub(crate) fn next_bonus_serial(&mut self) -> u32 {
        self.bonus_serial += 1;
        self.converted_bits <<= 1;
        self.bonus_serial
    }

    /// The active bonus, unless it has expired by `now_ms`.
    pub(crate) fn live_bonus(&self, now_ms: u64) -> Option<&ActiveBonus> {
        self.active_bonus.as_deref().filter(|b| b.expires_at_ms > now_ms)
    }

    /// Bonus money that can still be spent at `now_ms` (none once expired).
    pub(crate) fn spendable_bonus(&self, now_ms: u64) -> Amount {
        if self.live_bonus(now_ms).is_some() {
            self.bonus
        } else {
            Amount::ZERO
        }
    }

    /// Forfeits the active bonus if it has expired by `now_ms`; returns the
    /// amount forfeited. Called only once a command is sure to succeed.
    pub(crate) fn expire_if_due(&mut self, now_ms: u64) -> Amount {
        if self.active_bonus.is_some() && self.live_bonus(now_ms).is_none() {
            self.drop_bonus()
        } else {
            Amount::ZERO
        }
    }

    /// How many bonuses wait behind the active one.
    pub(crate) fn queued_len(&self) -> usize {
        self.queued.as_deref().map_or(0, Vec::len)
    }

    /// Appends a bonus to the queue behind the active one.
    pub(crate) fn enqueue(&mut self, bonus: QueuedBonus) {
        self.queued.get_or_insert_with(Default::default).push(bonus);
    }

    /// Takes bonus `serial` out of the queue; whether it was there.
    pub(crate) fn dequeue(&mut self, serial: u32) -> bool {
        let Some(queue) = self.queued.as_deref_mut() else {
            return false;
        };
        let Some(position) = queue.iter().position(|q| q.bonus.serial == serial) else {
            return false;
        };
        queue.remove(position);
        if queue.is_empty() {
            self.queued = None;
        }
        true
    }

    /// Once no bonus is active, makes the next queued one active: its money
    /// is granted now (a queued bonus whose own expiry has passed lapses
    /// unpaid; one without wagering converts at once, and the next one
    /// follows). Called after a command has moved the wallet's money, so
    /// that balances computed before it stay right. Returns the money
    /// granted and the money forfeited by capped conversions.
    pub(crate) fn promote(&mut self, now_ms: u64) -> Promoted {
        let mut promoted = Promoted::default();
        while self.active_bonus.is_none() {
            let Some(queue) = self.queued.as_deref_mut() else {
                break;
            };
            let next = queue.remove(0);
            if queue.is_empty() {
                self.queued = None;
            }
            if next.bonus.expires_at_ms <= now_ms {
                continue;
            }
            debug_assert_eq!(self.bonus, Amount::ZERO, "bonus money without an active bonus");
            let Some(bonus) = self.bonus.checked_add(next.amount) else {
                // Unreachable: the bonus balance is zero here.
                continue;
            };
            self.bonus = bonus;
            promoted.granted = Amount::from_minor(promoted.granted.minor().saturating_add(next.amount.minor()));
            let converts_now = next.bonus.wagering_required <= Amount::ZERO;
            self.active_bonus = Some(next.bonus);
            if converts_now {
                let forfeited = self.convert_bonus();
                promoted.forfeited = Amount::from_minor(promoted.forfeited.minor().saturating_add(forfeited.minor()));
            }
        }
        promoted
    }

    /// Serial of the live bonus at `now_ms`, 0 if none.
    pub(crate) fn live_serial(&self, now_ms: u64) -> u32 {
        self.live_bonus(now_ms).map_or(0, |b| b.serial)
    }

    /// Where money that came from bonus `serial` goes back to at `now_ms`.
    pub(crate) fn bonus_route(&self, serial: u32, now_ms: u64) -> BonusRoute {
        if serial != 0 && self.live_serial(now_ms) == serial {
            BonusRoute::Bonus
        } else if serial != 0 && self.was_converted(serial) {
            BonusRoute::Cash
        } else {
            BonusRoute::Forfeit
        }
    }
}

/// What [`Wallet::promote`] did to the money flows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Promoted {
    /// Bonus money granted by the bonuses made active.
    pub(crate) granted: Amount,
    /// Bonus money forfeited by their capped conversions.
    pub(crate) forfeited: Amount,
}

/// A bonus granted while another was active, waiting for its turn.
#[derive(Clone, Debug)]
pub(crate) struct QueuedBonus {
    /// The bonus money it grants when it becomes active.
    pub(crate) amount: Amount,
    /// The bonus as it will be when active (nothing wagered yet).
    pub(crate) bonus: Box<ActiveBonus>,
}

/// Where the bonus-funded share of a win or refund lands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BonusRoute {
    /// The bonus that funded it is still active: back into bonus money.
    Bonus,
    /// That bonus was converted: the share follows it into cash.
    Cash,
    /// That bonus was forfeited or expired: the share is forfeited too.
    Forfeit,
}

/// A granted bonus still being wagered.
#[derive(Clone, Debug)]
pub(crate) struct ActiveBonus {
    pub(crate) serial: u32,
    pub(crate) wagering_required: Amount,
    pub(crate) wagered: Amount,
    pub(crate) conversion_cap: Amount,
    pub(crate) expires_at_ms: u64,
    pub(crate) contributions: Box<[(GameCode, u8)]>,
    pub(crate) default_contribution_pct: u8,
    /// The largest stake a bet may have while this bonus is active
    /// (`None`: no cap). Not in the wallet's encoding (format 11's shape):
    /// snapshot format 12 appends it (`BonusExtras`).
    pub(crate) max_bet: Option<Amount>,
}

impl ActiveBonus {
    /// The share of a stake on `game` that counts toward wagering.
    pub(crate) fn contribution(&self, game: &GameCode, stake: Amount) -> Amount {
        let pct = self
            .contributions
            .iter()
            .find(|(code, _)| code == game)
            .map_or(self.default_contribution_pct, |&(_, pct)| pct);
        // pct <= 100, so the result never exceeds the stake.
        stake.mul_div_floor(i64::from(pct), 100).unwrap_or(Amount::ZERO)
    }
}

// The per-player record's part of the snapshot image (see `crate::codec`:
// append fields, never reorder); the limits encode in `rg/limits/`. The age
// band and the due-diligence state are not in it: snapshot format 7
// appends them at the end of the image (`players::Compliance`), and the RG
// session record came with format 8, appended after them (`image.rs`), so
// the earlier formats still decode as they were written.
impl Encode for Player {
    fn encode<S: Sink>(&self, out: &mut S) {
        self.status.encode(out);
        self.kyc.encode(out);
        self.jurisdiction.encode(out);
        self.currency.encode(out);
        self.self_excluded_until_ms.encode(out);
        self.timed_out_until_ms.encode(out);
        self.wallets.encode(out);
    }
}

impl Decode for Player {
    fn decode(input: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Player {
            status: Decode::decode(input)?,
            kyc: Decode::decode(input)?,
            jurisdiction: Decode::decode(input)?,
            currency: Decode::decode(input)?,
            self_excluded_until_ms: Decode::decode(input)?,
            timed_out_until_ms: Decode::decode(input)?,
            wallets: Decode::decode(input)?,
            age_band: AgeBand::Unknown,
            due_diligence: None,
            session: PlaySession::default(),
            rg: None,
            prompts: None,
        })
    }
}
// The wallet as format 11 wrote it; the queued bonuses are not in it:
// snapshot format 12 appends them (`BonusExtras`).
impl Encode for Wallet {
    fn encode<S: Sink>(&self, out: &mut S) {
        self.currency.encode(out);
        self.cash.encode(out);
        self.bonus.encode(out);
        self.reserved.encode(out);
        self.loyalty_points.encode(out);
        self.bonus_serial.encode(out);
        self.converted_bits.encode(out);
        self.active_bonus.encode(out);
        self.limits.encode(out);
    }
}

impl Decode for Wallet {
    fn decode(input: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Wallet {
            currency: Decode::decode(input)?,
            cash: Decode::decode(input)?,
            bonus: Decode::decode(input)?,
            reserved: Decode::decode(input)?,
            loyalty_points: Decode::decode(input)?,
            bonus_serial: Decode::decode(input)?,
            converted_bits: Decode::decode(input)?,
            active_bonus: Decode::decode(input)?,
            limits: Decode::decode(input)?,
            queued: None,
        })
    }
}

/// A wallet's bonus state that snapshot format 11 had no place for: the
/// active bonus's max bet and the queued bonuses. Format 12 appends one
/// for each wallet that has either, in player then currency order.
#[derive(Clone, Debug)]
pub(crate) struct BonusExtras {
    pub(crate) player: crate::ids::PlayerId,
    pub(crate) currency: Currency,
    pub(crate) active_max_bet: Option<Amount>,
    pub(crate) queued: Vec<QueuedBonus>,
}

codec_struct!(BonusExtras {
    player,
    currency,
    active_max_bet,
    queued
});
// The active bonus as format 11 wrote it; the max bet is not in it (see
// `BonusExtras`).
impl Encode for ActiveBonus {
    fn encode<S: Sink>(&self, out: &mut S) {
        self.serial.encode(out);
        self.wagering_required.encode(out);
        self.wagered.encode(out);
        self.conversion_cap.encode(out);
        self.expires_at_ms.encode(out);
        self.contributions.encode(out);
        self.default_contribution_pct.encode(out);
    }
}

impl Decode for ActiveBonus {
    fn decode(input: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(ActiveBonus {
            serial: Decode::decode(input)?,
            wagering_required: Decode::decode(input)?,
            wagered: Decode::decode(input)?,
            conversion_cap: Decode::decode(input)?,
            expires_at_ms: Decode::decode(input)?,
            contributions: Decode::decode(input)?,
            default_contribution_pct: Decode::decode(input)?,
            max_bet: None,
        })
    }
}

// A queued bonus in snapshot format 12's `BonusExtras`: its amount, the
// bonus in the active bonus's encoding, then its max bet.
impl Encode for QueuedBonus {
    fn encode<S: Sink>(&self, out: &mut S) {
        self.amount.encode(out);
        self.bonus.encode(out);
        self.bonus.max_bet.encode(out);
    }
}

impl Decode for QueuedBonus {
    fn decode(input: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let amount = Decode::decode(input)?;
        let mut bonus: Box<ActiveBonus> = Decode::decode(input)?;
        bonus.max_bet = Decode::decode(input)?;
        Ok(QueuedBonus { amount, bonus })
    }
}
