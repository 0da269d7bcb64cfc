//! The affiliate commission report and the cohort retention report: both
//! are built per player from the read model (`readmodel::marketing`),
//! not from the period sums the other reports add up.
//!
//! **Commission**, per affiliate with a plan, for one calendar month (UTC),
//! in the plan's currency (the referred players' activity in other
//! currencies earns nothing):
//!
//! - GGR and bonus cost are the reports' own (`build`): cash stakes net of
//!   rollbacks − prizes credited to cash; bonus money converted to cash.
//! - admin fee = ⌊positive GGR × `admin_fee_bp` / 10,000⌋.
//! - NGR = GGR − bonus cost − admin fee.
//! - carried in: the negative balance carried from earlier months (plans
//!   with negative carry-over; 0 otherwise). The months are worked out in
//!   order from the first month any referred player played.
//! - revenue share = ⌊(NGR + carried in) × `revenue_share_bp` / 10,000⌋ when
//!   that sum is positive, else 0; carried out = that sum when negative and
//!   the plan carries over, else 0.
//! - CPA = `cpa_amount` × the referred players whose first deposit (their
//!   earliest confirmed one, in the plan's currency) was started in the
//!   month and is at least `cpa_threshold`.
//! - commission = revenue share + CPA.
//!
//! A plan is applied as it stands when the report is made (a changed plan
//! changes past months' figures too).

use std::collections::BTreeMap;

use engine::marketing::CommissionPlan;
use engine::{Currency, PlayerId};
use readmodel::ReadModelError;
use readmodel::marketing::{self as view, Activity};
use readmodel::reports::DAY_MS;
use rusqlite::Connection;
use time::{Date, Month, OffsetDateTime};

use crate::table::Table;

/// A month's figures of an affiliate's players, minor units.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MonthFigures {
    /// Cash stakes net of rollbacks.
    pub stakes: i64,
    /// Prizes credited to cash.
    pub prizes: i64,
    /// Bonus money converted to cash.
    pub bonus_cost: i64,
}

impl MonthFigures {
    /// Stakes − prizes.
    pub fn ggr(&self) -> i64 {
        self.stakes - self.prizes
    }
}

/// A month's revenue share, minor units.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MonthShare {
    /// The month's figures.
    pub figures: MonthFigures,
    /// ⌊positive GGR × admin fee⌋.
    pub admin_fee: i64,
    /// GGR − bonus cost − admin fee.
    pub ngr: i64,
    /// The negative balance carried from the months before (≤ 0).
    pub carried_in: i64,
    /// The share paid.
    pub revenue_share: i64,
    /// The negative balance carried into the next month (≤ 0).
    pub carried_out: i64,
}

fn basis_points(amount: i64, bp: u16) -> i64 {
    // i128: a month's GGR times 10,000 may pass i64 at the extremes.
    (i128::from(amount) * i128::from(bp) / 10_000) as i64
}

/// Each month's revenue share under `plan`, `months` in order (gaps
/// included, as zero months).
pub fn revenue_share(plan: &CommissionPlan, months: &[MonthFigures]) -> Vec<MonthShare> {
    let mut carried = 0i64;
    months
        .iter()
        .map(|figures| {
            let ggr = figures.ggr();
            let admin_fee = basis_points(ggr.max(0), plan.admin_fee_bp);
            let ngr = ggr - figures.bonus_cost - admin_fee;
            let base = ngr + carried;
            let share = MonthShare {
                figures: *figures,
                admin_fee,
                ngr,
                carried_in: carried,
                revenue_share: if base > 0 {
                    basis_points(base, plan.revenue_share_bp)
                } else {
                    0
                },
                carried_out: if base < 0 && plan.negative_carry_over { base } else { 0 },
            };
            carried = share.carried_out;
            share
        })
        .collect()
}

/// Months since the year 0 of the moment `time_ms` (UTC).
pub fn month_of(time_ms: u64) -> i64 {
    let at = OffsetDateTime::from_unix_timestamp((time_ms / 1000) as i64).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    i64::from(at.year()) * 12 + i64::from(u8::from(at.month())) - 1
}

/// `YYYY-MM` of a month from [`month_of`].
pub fn month_text(month: i64) -> String {
    format!("{:04}-{:02}", month.div_euclid(12), month.rem_euclid(12) + 1)
}

/// The first moment of a month from [`month_of`], ms since the epoch.
pub fn month_start_ms(month: i64) -> u64 {
    let year = month.div_euclid(12) as i32;
    let number = Month::try_from((month.rem_euclid(12) + 1) as u8).unwrap_or(Month::January);
    Date::from_calendar_date(year, number, 1)
        .map(|d| d.midnight().assume_utc().unix_timestamp().max(0) as u64 * 1000)
        .unwrap_or(0)
}

/// One affiliate's month, worked out.
#[derive(Clone, Debug)]
pub struct AffiliateMonth {
    /// The affiliate's code.
    pub affiliate: String,
    /// Its plan.
    pub plan: CommissionPlan,
    /// Players referred (ever).
    pub players: u64,
    /// Referred players whose first deposit was in the month.
    pub first_deposits: u64,
    /// Those that qualify for the CPA.
    pub qualifying: u64,
    /// The month's revenue share.
    pub share: MonthShare,
    /// Each player's figures in the month, and whether their first
    /// deposit qualified then.
    pub per_player: BTreeMap<PlayerId, (MonthFigures, bool)>,
}

impl AffiliateMonth {
    /// CPA earned.
    pub fn cpa(&self) -> i64 {
        self.plan.cpa_amount.minor().saturating_mul(self.qualifying as i64)
    }
}

/// Works out the month `[from_ms, to_ms)` for every affiliate with a
/// plan (or the one named), in code order.
pub fn affiliate_months(
    c: &Connection,
    only: Option<&str>,
    from_ms: u64,
    to_ms: u64,
) -> Result<Vec<AffiliateMonth>, ReadModelError> {
    let month = month_of(from_ms);
    let mut found = Vec::new();
    for affiliate in view::affiliates(c)? {
        let code = affiliate.value.code.as_str();
        if only.is_some_and(|o| o != code) {
            continue;
        }
        let Some(plan_code) = &affiliate.value.plan else {
            continue;
        };
        let Some(plan) = view::plan(c, plan_code.as_str())? else {
            continue;
        };
        let plan = plan.value;
        let players = view::affiliate_players(c, code)?;
        let mut months: BTreeMap<i64, MonthFigures> = BTreeMap::new();
        let mut per_player = BTreeMap::new();
        let (mut first_deposits, mut qualifying) = (0, 0);
        for &player in &players {
            let mut mine = MonthFigures::default();
            for day in view::play_days(c, player, plan.currency.code(), to_ms)? {
                let at = month_of(day.day * DAY_MS);
                let entry = months.entry(at).or_default();
                entry.stakes += day.stakes;
                entry.prizes += day.prizes;
                entry.bonus_cost += day.bonus_cost;
                if at == month {
                    mine.stakes += day.stakes;
                    mine.prizes += day.prizes;
                    mine.bonus_cost += day.bonus_cost;
                }
            }
            let mut qualifies = false;
            if let Some(first) = view::first_deposit(c, player)?
                && first.created_ms >= from_ms
                && first.created_ms < to_ms
                && first.currency == plan.currency.code()
            {
                first_deposits += 1;
                qualifies = plan.cpa_amount.is_positive() && first.amount_minor >= plan.cpa_threshold.minor();
                qualifying += u64::from(qualifies);
            }
            if mine != MonthFigures::default() || qualifies {
                per_player.insert(player, (mine, qualifies));
            }
        }
        let first_month = months.keys().next().copied().unwrap_or(month).min(month);
        let series: Vec<MonthFigures> = (first_month..=month)
            .map(|m| months.get(&m).copied().unwrap_or_default())
            .collect();
        let share = revenue_share(&plan, &series).pop().unwrap_or_default();
        found.push(AffiliateMonth {
            affiliate: code.to_owned(),
            plan,
            players: players.len() as u64,
            first_deposits,
            qualifying,
            share,
            per_player,
        });
    }
    Ok(found)
}

/// The commission report's tables.
pub fn commission_tables(months: &[AffiliateMonth]) -> Vec<Table> {
    let mut summary = Table::new(
        "commission",
        "Affiliate commission for the month",
        &["affiliate", "plan"],
        &["players", "first_deposits", "cpa_qualifying"],
        &[
            "stakes",
            "prizes",
            "ggr",
            "bonus_cost",
            "admin_fee",
            "ngr",
            "carried_in",
            "revenue_share",
            "cpa",
            "commission",
            "carried_out",
        ],
    );
    let mut players = Table::new(
        "commission_players",
        "Referred players' figures for the month",
        &["affiliate", "player"],
        &["cpa_qualifying"],
        &["stakes", "prizes", "ggr", "bonus_cost"],
    );
    for m in months {
        let s = &m.share;
        let f = &s.figures;
        let currency: Currency = m.plan.currency;
        summary.add(
            vec![m.affiliate.clone(), m.plan.code.to_string()],
            currency,
            &[m.players, m.first_deposits, m.qualifying],
            &[
                f.stakes,
                f.prizes,
                f.ggr(),
                f.bonus_cost,
                s.admin_fee,
                s.ngr,
                s.carried_in,
                s.revenue_share,
                m.cpa(),
                s.revenue_share.saturating_add(m.cpa()),
                s.carried_out,
            ],
        );
        for (player, (figures, qualifies)) in &m.per_player {
            players.add(
                vec![m.affiliate.clone(), player.0.to_string()],
                currency,
                &[u64::from(*qualifies)],
                &[figures.stakes, figures.prizes, figures.ggr(), figures.bonus_cost],
            );
        }
    }
    vec![summary, players]
}

/// How the commission figures are defined.
pub const COMMISSION_DEFINITIONS: &[(&str, &str)] = &[
    (
        "period",
        "One calendar month (UTC); each affiliate with a commission plan, in the plan's currency (referred players' activity in other currencies earns nothing). The plan is applied as it stands when the report is made.",
    ),
    ("players", "Players attributed to the affiliate at registration (ever)."),
    (
        "admin_fee",
        "⌊positive GGR × the plan's admin fee (basis points) / 10,000⌋.",
    ),
    ("ngr", "GGR − bonus cost − admin fee."),
    (
        "carried_in",
        "The negative NGR carried from earlier months under a plan with negative carry-over (0 otherwise), worked out month by month from the first month a referred player played.",
    ),
    (
        "revenue_share",
        "⌊(NGR + carried in) × the plan's revenue share (basis points) / 10,000⌋ when positive, else 0.",
    ),
    (
        "carried_out",
        "NGR + carried in, when negative and the plan carries over; else 0.",
    ),
    (
        "first_deposits",
        "Referred players whose first deposit (their earliest confirmed one, charged back since or not) was started in the month, in the plan's currency.",
    ),
    (
        "cpa",
        "The plan's CPA amount × the first deposits of at least the plan's threshold (none if the CPA amount is 0).",
    ),
    ("commission", "revenue share + CPA."),
];

/// The cohort retention table: players registered in the period, by
/// registration month (and base currency), and for each month since
/// (0: the registration month) up to `until_ms`, how many placed at least
/// one bet, and that share of the cohort in basis points.
pub fn cohort_table(activity: &[Activity], until_ms: u64) -> Table {
    let mut table = Table::new(
        "cohort_retention",
        "Registration-month cohorts: players active (a bet) in each month since",
        &["cohort", "months_since"],
        &["cohort_players", "active_players", "active_share_bp"],
        &[],
    );
    let last = month_of(until_ms.saturating_sub(1));
    // (cohort month, currency) → (players, active per months since)
    let mut cohorts: BTreeMap<(i64, String), (u64, BTreeMap<i64, u64>)> = BTreeMap::new();
    for player in activity {
        let cohort = month_of(player.registered_at_ms);
        let entry = cohorts.entry((cohort, player.currency.clone())).or_default();
        entry.0 += 1;
        let mut months: Vec<i64> = player.bet_days.iter().map(|d| month_of(d * DAY_MS)).collect();
        months.dedup();
        for month in months {
            if month >= cohort && month <= last {
                *entry.1.entry(month - cohort).or_default() += 1;
            }
        }
    }
    for ((cohort, code), (players, active)) in cohorts {
        let Some(currency) = Currency::from_code(&code) else {
            continue;
        };
        for since in 0..=(last - cohort).max(0) {
            let count = active.get(&since).copied().unwrap_or(0);
            let share = count * 10_000 / players.max(1);
            table.add(
                vec![month_text(cohort), format!("{since:03}")],
                currency,
                &[players, count, share],
                &[],
            );
        }
    }
    table
}

/// How the cohort figures are defined.
pub const COHORT_DEFINITIONS: &[(&str, &str)] = &[
    (
        "cohort",
        "The month (UTC) players registered in; players registered in the report's period, split by their base currency.",
    ),
    (
        "months_since",
        "Months after the registration month (000: the registration month itself), up to the current month.",
    ),
    (
        "active_players",
        "Players of the cohort with at least one bet in that month.",
    ),
    (
        "active_share_bp",
        "active players × 10,000 / cohort players, rounded down (basis points: 10,000 = 100 %).",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;
    use engine::{Amount, BonusCode, Title};

    fn plan(carry_over: bool) -> CommissionPlan {
        CommissionPlan {
            code: BonusCode::new("p").unwrap(),
            name: Title::new("P").unwrap(),
            currency: Currency::EUR,
            revenue_share_bp: 3_000,
            admin_fee_bp: 500,
            negative_carry_over: carry_over,
            cpa_amount: Amount::ZERO,
            cpa_threshold: Amount::ZERO,
        }
    }

    fn month(stakes: i64, prizes: i64, bonus_cost: i64) -> MonthFigures {
        MonthFigures {
            stakes,
            prizes,
            bonus_cost,
        }
    }

    #[test]
    fn a_negative_month_is_carried_only_where_the_plan_says() {
        // GGR 100.01: fee ⌊5.0005⌋ = 5.00, NGR 95.01, share ⌊28.503⌋ = 28.50.
        // Then −50.00, then 80.00 (fee 4.00, NGR 76.00).
        let months = [month(10_001, 0, 0), month(0, 5_000, 0), month(8_000, 0, 0)];
        let carried = revenue_share(&plan(true), &months);
        let shares: Vec<(i64, i64, i64, i64)> = carried
            .iter()
            .map(|m| (m.admin_fee, m.carried_in, m.revenue_share, m.carried_out))
            .collect();
        assert_eq!(shares, [(500, 0, 2_850, 0), (0, 0, 0, -5_000), (400, -5_000, 780, 0)]);
        let plain = revenue_share(&plan(false), &months);
        assert_eq!(plain[2].carried_in, 0);
        assert_eq!(plain[2].revenue_share, 2_280);
        assert_eq!(plain[1].carried_out, 0);
    }

    #[test]
    fn months_are_counted_in_utc_calendar_months() {
        let january = month_of(1_767_225_600_000);
        assert_eq!(month_text(january), "2026-01");
        assert_eq!(month_start_ms(january), 1_767_225_600_000);
        assert_eq!(month_of(month_start_ms(january + 1) - 1), january);
        assert_eq!(month_text(january + 12), "2027-01");
    }
}
