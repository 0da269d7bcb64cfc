//! Each movement's report figures: the split of its money into stakes
//! (and their bonus-money share), prizes (and their cash share), bonus
//! converted to cash and jackpot payouts, derived by the history
//! projection from the command and its receipt alone, and stored beside the
//! movement so that reports ([`crate::reports`]) only add them up.

use engine::command::Command;
use engine::outcome::{Outcome, Receipt};
use engine::{bonus, gaming};

/// The schema migration that gives each movement the figures the reports
/// add up (appended to `store::MIGRATIONS`; a file made before it is
/// rebuilt, so every movement has them). Minor units, zero where they do
/// not apply:
///
/// - `stake`: a bet's whole stake; a rollback's is minus the stake of the
///   bet it undid (so sums over a period net rollbacks out);
/// - `bonus_stake`: the share of `stake` paid with bonus money (bets spend
///   cash first, then bonus), negated likewise by a rollback;
/// - `prize`: a win's amount, a jackpot's payout (a must-drop bet's, an
///   award's);
/// - `cash_prize`: the share of `prize` credited to cash (a win on a
///   bonus-funded round credits its bonus share back to the bonus);
/// - `converted`: bonus money turned into cash in the movement (a bet that
///   met the wagering requirement, a grant without one, the rollback of a
///   bet whose bonus share comes back as cash because that bonus was
///   converted since);
/// - `jackpot`: what a jackpot pool paid in the movement (part of `prize`);
/// - `granted`: bonus money a grant gave.
pub(crate) const MIGRATION: &str = "ALTER TABLE movements ADD COLUMN stake INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE movements ADD COLUMN bonus_stake INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE movements ADD COLUMN prize INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE movements ADD COLUMN cash_prize INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE movements ADD COLUMN converted INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE movements ADD COLUMN jackpot INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE movements ADD COLUMN granted INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX movements_in_time ON movements (time_ms);";

/// A movement's report figures (the columns of migration 13), minor units.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Figures {
    /// Stake (negative: a rollback's refund).
    pub stake: i64,
    /// The bonus-funded share of the stake.
    pub bonus_stake: i64,
    /// Prize (win amount or jackpot payout).
    pub prize: i64,
    /// The share of the prize credited to cash.
    pub cash_prize: i64,
    /// Bonus money converted to cash.
    pub converted: i64,
    /// Paid by a jackpot pool.
    pub jackpot: i64,
    /// Bonus money granted.
    pub granted: i64,
}

impl std::ops::AddAssign for Figures {
    fn add_assign(&mut self, other: Figures) {
        self.stake += other.stake;
        self.bonus_stake += other.bonus_stake;
        self.prize += other.prize;
        self.cash_prize += other.cash_prize;
        self.converted += other.converted;
        self.jackpot += other.jackpot;
        self.granted += other.granted;
    }
}

/// The figures of an accepted money movement, from its command and receipt
/// alone (the wallet before it is the receipt's balances minus its deltas).
/// For every bet, win and rollback the cash moved is exactly
/// `cash_prize + converted − (stake − bonus_stake)`.
/// `undone` is a rollback's bet's (stake, bonus stake), if its movement is
/// known.
pub(crate) fn of(command: &Command, outcome: &Outcome, receipt: &Receipt, undone: Option<(i64, i64)>) -> Figures {
    let pool_paid = match outcome {
        Outcome::JackpotDropped(payout) | Outcome::JackpotPaid(payout) => payout.paid.minor(),
        _ => 0,
    };
    let cash_delta = receipt.cash_delta.minor();
    match command {
        Command::Gaming(gaming::Command::Bet(bet)) => {
            let stake = bet.amount.minor();
            let cash_before = receipt.balances.cash.minor() - cash_delta;
            let cash_share = stake.min(cash_before.max(0));
            // The cash moved: the cash share out, a conversion and a
            // must-drop payout in.
            Figures {
                stake,
                bonus_stake: stake - cash_share,
                prize: pool_paid,
                cash_prize: pool_paid,
                converted: cash_delta + cash_share - pool_paid,
                jackpot: pool_paid,
                granted: 0,
            }
        }
        Command::Gaming(gaming::Command::Win(win)) => Figures {
            prize: win.amount.minor(),
            cash_prize: cash_delta,
            jackpot: pool_paid,
            ..Figures::default()
        },
        Command::Gaming(gaming::Command::Rollback { .. }) => {
            let (stake, bonus_stake) = undone.unwrap_or_default();
            // The cash share comes back to cash; a bonus share whose bonus
            // was converted since comes back as cash too: a conversion.
            Figures {
                stake: -stake,
                bonus_stake: -bonus_stake,
                converted: (cash_delta - (stake - bonus_stake)).max(0),
                ..Figures::default()
            }
        }
        Command::Jackpots(_) => Figures {
            prize: pool_paid,
            cash_prize: cash_delta,
            jackpot: pool_paid,
            ..Figures::default()
        },
        Command::Bonus(bonus::Command::Grant(grant)) => Figures {
            converted: cash_delta.max(0),
            granted: grant.amount.minor(),
            ..Figures::default()
        },
        // Active at once (position 0) it is granted now, as the ledger's
        // flows count it; queued, no money moves until it becomes active.
        // (A queued bonus that a later movement makes active is not yet
        // counted here: that movement's receipt does not say how much.)
        Command::Bonus(bonus::Command::GrantQueued { grant, .. }) => queued_grant(grant, outcome, cash_delta),
        // A loyalty redemption is such a grant.
        Command::Bonus(bonus::Command::RedeemPoints { grant, .. }) => queued_grant(grant, outcome, cash_delta),
        _ => Figures::default(),
    }
}

/// A grant that queues: counted when the ledger grants it at once.
fn queued_grant(grant: &bonus::BonusGrant, outcome: &Outcome, cash_delta: i64) -> Figures {
    match outcome {
        Outcome::BonusGranted(granted) if granted.position == 0 => Figures {
            converted: cash_delta.max(0),
            granted: grant.amount.minor(),
            ..Figures::default()
        },
        _ => Figures::default(),
    }
}
