//! Each report's tables from the read model's sums ([`readmodel::reports`]),
//! the players' countries and the game catalogue.
//!
//! The figures are the same everywhere (each report's definitions repeat
//! the ones it shows), per currency, over movements stamped in the period:
//!
//! - **stakes**: cash stakes, net of rollbacks: each bet's stake less its
//!   bonus-funded share (bets spend cash first, then bonus money), and a
//!   rollback subtracts the stake of the bet it undoes, in the period the
//!   rollback happens (a closed period's figures never change).
//!   Bonus-money stakes are not stakes: the customer could not have had
//!   that money as cash.
//! - **prizes**: what was credited to cash: wins (their cash share: a win
//!   on a round staked partly with bonus money credits that share back to
//!   the bonus, which is no prize) and jackpot payouts (pool drops and
//!   awards). Bonus money converted to cash is not a prize: it is a bonus
//!   cost (below).
//! - **GGY / GGR** = stakes − prizes.
//! - **bonus cost**: bonus money converted into cash (wagering met, a
//!   grant without wagering, or a rolled-back bet's bonus share refunded
//!   as cash because its bonus converted since), in the period of the
//!   conversion.
//! - **NGR** = GGR − bonus cost. Jackpot contributions are not deducted:
//!   the pools' payouts are already prizes, and deducting the
//!   contributions too would count the same money twice.
//! - **deposits**: deposits started in the period that were confirmed
//!   (including those charged back since, whose chargebacks are shown
//!   apart); **withdrawals**: those started in the period, by state.
//! - **active customers**: players with at least one bet in the period.
//! - **GB customers**: players whose profile's country is GB (players
//!   without a profile: by their licensing jurisdiction).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use engine::{Currency, PlayerId};
use readmodel::reports::{GamingSum, PaymentSum, WalletAt};

use crate::table::Table;

/// What a report needs to know of a player.
#[derive(Clone, Debug, Default)]
pub struct PlayerInfo {
    /// Country (ISO 3166-1 alpha-2), or the jurisdiction without a profile,
    /// or `unknown`.
    pub country: String,
    /// Date of birth, `YYYY-MM-DD`, if the profile holds it.
    pub birth_date: Option<String>,
    /// The affiliate's tracking code, if any.
    pub affiliate: Option<String>,
}

/// A game's type and provider, from the catalogue.
#[derive(Clone, Debug)]
pub struct GameInfo {
    /// `slot`, `table`, `live`, `crash`, `other`.
    pub kind: String,
    /// The provider's code.
    pub provider: String,
}

/// Everything a report is built from.
pub struct Inputs {
    /// Movements' figures summed.
    pub gaming: Vec<GamingSum>,
    /// Payments summed.
    pub payments: Vec<PaymentSum>,
    /// Wallets at the end of the period (the MGA reports).
    pub wallets: Vec<WalletAt>,
    /// Open bets' stakes at the end of the period, per currency.
    pub open_bets: Vec<(Currency, i64)>,
    /// Jackpot pools' balances per currency (now).
    pub jackpot_funds: Vec<(Currency, i64)>,
    /// Every player named above.
    pub players: HashMap<PlayerId, PlayerInfo>,
    /// The catalogue's games by (aggregator, code).
    pub games: HashMap<(u32, String), GameInfo>,
}

const UNKNOWN: &str = "unknown";

impl Inputs {
    fn player(&self, player: PlayerId) -> PlayerInfo {
        self.players.get(&player).cloned().unwrap_or_else(|| PlayerInfo {
            country: UNKNOWN.into(),
            ..PlayerInfo::default()
        })
    }

    fn game(&self, sum: &GamingSum) -> Option<&GameInfo> {
        let (source, code) = sum.game.as_ref()?;
        self.games.get(&(source.0, code.clone()))
    }

    fn kind(&self, sum: &GamingSum) -> String {
        match (&sum.game, self.game(sum)) {
            (_, Some(game)) => game.kind.clone(),
            (Some(_), None) => "uncatalogued".into(),
            (None, None) => "none".into(),
        }
    }

    fn segment(&self, player: PlayerId) -> &'static str {
        if self.player(player).country == "GB" {
            "gb"
        } else {
            "non_gb"
        }
    }
}

/// The UKGC product of a catalogue game type.
fn product(kind: &str) -> &'static str {
    match kind {
        "slot" => "casino_slots",
        "table" => "casino_table",
        "live" => "live_casino",
        _ => "other",
    }
}

/// Gaming figures of a group: counts (bets, players) and money (stakes,
/// prizes, GGR, bonus cost, NGR, jackpot paid, bonus stakes, bonus prizes).
#[derive(Default)]
struct Group {
    bets: u64,
    players: BTreeSet<PlayerId>,
    stake: i64,
    bonus_stake: i64,
    prize: i64,
    cash_prize: i64,
    converted: i64,
    jackpot: i64,
}

impl Group {
    fn add(&mut self, sum: &GamingSum) {
        self.bets += sum.bets;
        if sum.bets > 0 {
            self.players.insert(sum.player);
        }
        self.stake += sum.stake;
        self.bonus_stake += sum.bonus_stake;
        self.prize += sum.prize;
        self.cash_prize += sum.cash_prize;
        self.converted += sum.converted;
        self.jackpot += sum.jackpot;
    }

    fn cash_stakes(&self) -> i64 {
        self.stake - self.bonus_stake
    }

    fn ggr(&self) -> i64 {
        self.cash_stakes() - self.cash_prize
    }
}

/// Groups the gaming sums by `key` (None: left out) and currency.
fn groups(
    inputs: &Inputs,
    key: impl Fn(&GamingSum) -> Option<Vec<String>>,
) -> BTreeMap<(Vec<String>, &'static str), (Currency, Group)> {
    let mut groups: BTreeMap<(Vec<String>, &'static str), (Currency, Group)> = BTreeMap::new();
    for sum in &inputs.gaming {
        let Some(key) = key(sum) else { continue };
        groups
            .entry((key, sum.currency.code()))
            .or_insert_with(|| (sum.currency, Group::default()))
            .1
            .add(sum);
    }
    groups
}

const GGR_COUNTS: &[&str] = &["bets", "players"];
const GGR_MONEY: &[&str] = &["stakes", "prizes", "ggr", "bonus_cost", "ngr", "jackpot_paid"];

fn ggr_table(
    name: &'static str,
    title: &'static str,
    keys: &'static [&'static str],
    inputs: &Inputs,
    key: impl Fn(&GamingSum) -> Option<Vec<String>>,
) -> Table {
    let mut table = Table::new(name, title, keys, GGR_COUNTS, GGR_MONEY);
    for ((key, _), (currency, g)) in groups(inputs, key) {
        let ggr = g.ggr();
        table.add(
            key,
            currency,
            &[g.bets, g.players.len() as u64],
            &[
                g.cash_stakes(),
                g.cash_prize,
                ggr,
                g.converted,
                ggr - g.converted,
                g.jackpot,
            ],
        );
    }
    table
}

/// Definitions the gaming tables share.
const GAMING_DEFINITIONS: &[(&str, &str)] = &[
    (
        "stakes",
        "Cash stakes net of rollbacks: each bet's stake less its bonus-money share (bets spend cash first, then bonus); a rollback subtracts the stake of the bet it undoes, in the period it happens. Bonus-money stakes are not stakes (the customer could not have had them as cash).",
    ),
    (
        "prizes",
        "Prizes credited to cash: wins (their cash share; a win's bonus-funded share goes back to the bonus and is no prize) and jackpot payouts. Bonus money converted to cash is not a prize but a bonus cost.",
    ),
    ("ggy / ggr", "stakes − prizes."),
    (
        "bonus_cost",
        "Bonus money converted into cash (wagering requirement met, a grant without one, or a rolled-back bet's bonus share refunded as cash because its bonus converted since), in the period of the conversion.",
    ),
    (
        "ngr",
        "ggr − bonus_cost. Jackpot contributions are not deducted: pool payouts are already prizes.",
    ),
    ("jackpot_paid", "The part of prizes paid from jackpot pools."),
    ("bets", "Bets placed (rollbacks not subtracted)."),
    (
        "players / active_customers",
        "Players with at least one bet in the period.",
    ),
    (
        "customers gb / non_gb",
        "GB: the player's profile country is GB (without a profile: the licensing jurisdiction).",
    ),
    (
        "native / converted",
        "native: in the wallet's currency. converted: each currency's sum converted into the reporting currency at the rate in force at the end of the period, rounded down to the minor unit, then added.",
    ),
];

/// The UK Gambling Commission's quarterly return figures.
pub fn ukgc(inputs: &Inputs) -> Vec<Table> {
    let mut by_product = Table::new(
        "ggy_by_product",
        "Gross gambling yield by product, GB and non-GB customers",
        &["product", "customers"],
        &["active_customers", "bets"],
        &["stakes", "prizes", "ggy", "bonus_stakes", "bonus_prizes"],
    );
    for ((key, _), (currency, g)) in groups(inputs, |sum| {
        Some(vec![
            product(&inputs.kind(sum)).to_owned(),
            inputs.segment(sum.player).to_owned(),
        ])
    }) {
        by_product.add(
            key,
            currency,
            &[g.players.len() as u64, g.bets],
            &[
                g.cash_stakes(),
                g.cash_prize,
                g.ggr(),
                g.bonus_stake,
                g.prize - g.cash_prize,
            ],
        );
    }
    let mut customers = Table::new(
        "customers",
        "Active and depositing customers",
        &["customers"],
        &["active_customers", "depositing_customers"],
        &[],
    );
    for ((key, _), (currency, g)) in groups(inputs, |sum| Some(vec![inputs.segment(sum.player).to_owned()])) {
        customers.add(key, currency, &[g.players.len() as u64, 0], &[]);
    }
    let mut depositors: BTreeMap<(&str, Currency), BTreeSet<PlayerId>> = BTreeMap::new();
    let mut deposits = Table::new(
        "deposits",
        "Deposits by customers",
        &["customers"],
        &["count"],
        &["deposits", "charged_back"],
    );
    for p in confirmed_deposits(inputs) {
        let segment = inputs.segment(p.player);
        depositors.entry((segment, p.currency)).or_default().insert(p.player);
        deposits.add(
            vec![segment.into()],
            p.currency,
            &[p.count],
            &[p.amount, p.charged_back],
        );
    }
    for ((segment, currency), players) in depositors {
        customers.add(vec![segment.into()], currency, &[0, players.len() as u64], &[]);
    }
    let mut tables = vec![by_product, customers, deposits];
    tables.iter_mut().for_each(Table::sort);
    tables
}

/// The UKGC report's definitions.
pub const UKGC_DEFINITIONS: &[(&str, &str)] = &[
    (
        "product",
        "From the catalogue's game type: slot → casino_slots, table → casino_table, live → live_casino; crash, other, games not in the catalogue and jackpot awards → other.",
    ),
    (
        "bonus_stakes / bonus_prizes",
        "Stakes paid and prizes credited in bonus money: shown, not counted in ggy.",
    ),
    (
        "deposits",
        "Deposits started in the period and confirmed (those charged back since included; their chargebacks apart).",
    ),
    ("depositing_customers", "Players with at least one such deposit."),
];

fn confirmed_deposits(inputs: &Inputs) -> impl Iterator<Item = &PaymentSum> {
    inputs
        .payments
        .iter()
        .filter(|p| p.kind == "deposit" && matches!(p.state.as_str(), "confirmed" | "charged_back"))
}

/// GGR and NGR by day, game, provider, country and affiliate; payments by
/// provider; bonus cost.
pub fn business(inputs: &Inputs) -> Vec<Table> {
    let day = |sum: &GamingSum| Some(vec![crate::period::day_of(sum.day * readmodel::reports::DAY_MS)]);
    let mut tables = vec![
        ggr_table("ggr_by_day", "GGR and NGR by day (UTC)", &["day"], inputs, day),
        ggr_table(
            "ggr_by_game",
            "GGR and NGR by game",
            &["aggregator", "game", "provider", "type"],
            inputs,
            |sum| {
                let (source, code) = sum.game.as_ref()?;
                let game = inputs.game(sum);
                Some(vec![
                    source.0.to_string(),
                    code.clone(),
                    game.map_or(UNKNOWN.into(), |g| g.provider.clone()),
                    inputs.kind(sum),
                ])
            },
        ),
        ggr_table(
            "ggr_by_provider",
            "GGR and NGR by provider",
            &["provider"],
            inputs,
            |sum| {
                Some(vec![match (&sum.game, inputs.game(sum)) {
                    (_, Some(game)) => game.provider.clone(),
                    (Some(_), None) => UNKNOWN.into(),
                    (None, None) => "none".into(),
                }])
            },
        ),
        ggr_table(
            "ggr_by_country",
            "GGR and NGR by country",
            &["country"],
            inputs,
            |sum| Some(vec![inputs.player(sum.player).country]),
        ),
        ggr_table(
            "ggr_by_affiliate",
            "GGR and NGR by affiliate",
            &["affiliate"],
            inputs,
            |sum| {
                Some(vec![
                    inputs.player(sum.player).affiliate.unwrap_or_else(|| "none".into()),
                ])
            },
        ),
    ];
    let mut payments = Table::new(
        "payments_by_provider",
        "Deposits and withdrawals by provider and state",
        &["kind", "provider", "state"],
        &["payments"],
        &["amount", "charged_back"],
    );
    for p in &inputs.payments {
        payments.add(
            vec![p.kind.clone(), p.provider.clone(), p.state.clone()],
            p.currency,
            &[p.count],
            &[p.amount, p.charged_back],
        );
    }
    tables.push(payments);
    let mut bonus = Table::new(
        "bonus_cost",
        "Bonus money granted, staked, won and converted",
        &[],
        &[],
        &["bonus_granted", "bonus_stakes", "bonus_prizes", "bonus_cost"],
    );
    for sum in &inputs.gaming {
        bonus.add(
            Vec::new(),
            sum.currency,
            &[],
            &[
                sum.bonus_granted,
                sum.bonus_stake,
                sum.prize - sum.cash_prize,
                sum.converted,
            ],
        );
    }
    tables.push(bonus);
    tables.iter_mut().for_each(Table::sort);
    tables
}

/// The business report's definitions.
pub const BUSINESS_DEFINITIONS: &[(&str, &str)] = &[
    (
        "payments_by_provider",
        "Deposits and withdrawals started in the period, by provider (manual: an operator's one-step deposit; none: no provider recorded yet) and their state now.",
    ),
    ("bonus_granted", "Bonus money granted in the period."),
    (
        "bonus_stakes / bonus_prizes",
        "Stakes paid with bonus money; prizes credited back to bonus money.",
    ),
];

/// The MGA's monthly tax report: wagers, bonuses and winnings per game type.
pub fn mga_tax(inputs: &Inputs) -> Vec<Table> {
    let mut table = Table::new(
        "tax_by_game_type",
        "Wagers, bonuses and winnings by game type",
        &["game_type"],
        &["bets"],
        &[
            "wagers",
            "bonus_wagers",
            "winnings",
            "cash_winnings",
            "bonuses",
            "revenue",
        ],
    );
    for ((key, _), (currency, g)) in groups(inputs, |sum| Some(vec![inputs.kind(sum)])) {
        table.add(
            key,
            currency,
            &[g.bets],
            &[
                g.stake,
                g.bonus_stake,
                g.prize,
                g.cash_prize,
                g.converted,
                g.ggr() - g.converted,
            ],
        );
    }
    table.sort();
    vec![table]
}

/// The MGA tax report's definitions.
pub const MGA_TAX_DEFINITIONS: &[(&str, &str)] = &[
    (
        "game_type",
        "The catalogue's type (slot, table, live, crash, other); uncatalogued: a game not in the catalogue; none: movements outside a game (jackpot awards, bonus grants converted at once).",
    ),
    ("wagers", "Every stake net of rollbacks, cash and bonus money."),
    ("bonus_wagers", "The part of wagers paid with bonus money."),
    ("winnings", "Every win and jackpot payout, cash and bonus money."),
    ("cash_winnings", "The part of winnings credited to cash."),
    ("bonuses", "Bonus money converted into cash (the bonus cost)."),
    ("revenue", "wagers − bonus_wagers − cash_winnings − bonuses."),
];

/// The MGA's monthly player-funds report: what the operator holds for
/// players at the end of the month.
pub fn mga_funds(inputs: &Inputs) -> Vec<Table> {
    let mut table = Table::new(
        "player_funds",
        "Player funds at the end of the period",
        &[],
        &["wallets"],
        &[
            "cash",
            "bonus",
            "reserved",
            "pending_withdrawals",
            "open_bets",
            "player_funds",
            "jackpot_funds",
        ],
    );
    for wallet in &inputs.wallets {
        let Some(b) = wallet.balances else { continue };
        let (cash, bonus, reserved) = (b.cash.minor(), b.bonus.minor(), b.reserved.minor());
        table.add(
            Vec::new(),
            b.currency,
            &[1],
            &[
                cash,
                bonus,
                reserved,
                wallet.pending_withdrawals,
                0,
                cash + bonus + reserved,
                0,
            ],
        );
    }
    for &(currency, open) in &inputs.open_bets {
        table.add(Vec::new(), currency, &[0], &[0, 0, 0, 0, open, 0, 0]);
    }
    for &(currency, funds) in &inputs.jackpot_funds {
        table.add(Vec::new(), currency, &[0], &[0, 0, 0, 0, 0, 0, funds]);
    }
    table.sort();
    vec![table]
}

/// The player-funds report's definitions.
pub const MGA_FUNDS_DEFINITIONS: &[(&str, &str)] = &[
    (
        "cash / bonus / reserved",
        "Every wallet's balances after its last movement before the end of the period.",
    ),
    (
        "reserved",
        "Cash held for withdrawals requested and not yet completed, rejected or reversed.",
    ),
    (
        "pending_withdrawals",
        "Withdrawals requested before the end of the period and not final then (the cashier's amounts; equal to reserved).",
    ),
    (
        "open_bets",
        "Stakes of rounds with no win or rollback by the end of the period whose last movement was within its last day (a lost round is not journaled as ended, so older unsettled rounds count as lost).",
    ),
    ("player_funds", "cash + bonus + reserved."),
    (
        "jackpot_funds",
        "The jackpot pools' balances when the report is generated (the read model keeps no history of pool balances).",
    ),
];

/// The MGA's player-data export, one line per wallet.
pub fn mga_players(inputs: &Inputs) -> Vec<Table> {
    let mut table = Table::new(
        "player_data",
        "Player data",
        &["player", "registration_country", "date_of_birth", "last_login"],
        &["bets_in_month"],
        &["month_end_balance", "pending_transfers"],
    );
    for wallet in &inputs.wallets {
        let Some(b) = wallet.balances else { continue };
        let info = inputs.player(wallet.player);
        let last_login = wallet.last_login_ms.map(rfc3339).unwrap_or_default();
        table.add(
            vec![
                wallet.player.0.to_string(),
                info.country,
                info.birth_date.unwrap_or_default(),
                last_login,
            ],
            b.currency,
            &[wallet.bets_in_period],
            &[b.cash.minor() + b.bonus.minor(), wallet.pending_withdrawals],
        );
    }
    vec![table]
}

/// The player-data export's definitions.
pub const MGA_PLAYERS_DEFINITIONS: &[(&str, &str)] = &[
    (
        "registration_country",
        "The profile's country (without a profile: the licensing jurisdiction; erased: unknown).",
    ),
    (
        "last_login",
        "The start of the last login session before the end of the period, RFC 3339.",
    ),
    ("bets_in_month", "Bets placed in the period."),
    (
        "month_end_balance",
        "cash + bonus after the wallet's last movement before the end of the period.",
    ),
    (
        "pending_transfers",
        "Withdrawals requested and not final at the end of the period.",
    ),
];

fn rfc3339(time_ms: u64) -> String {
    use time::format_description::well_known::Rfc3339;
    i128::from(time_ms)
        .checked_mul(1_000_000)
        .and_then(|nanos| time::OffsetDateTime::from_unix_timestamp_nanos(nanos).ok())
        .and_then(|at| at.format(&Rfc3339).ok())
        .unwrap_or_default()
}

/// The definitions a report shows: its own, then the gaming ones.
pub fn definitions(name: &str) -> &'static [(&'static str, &'static str)] {
    match name {
        "ukgc-quarterly" => UKGC_DEFINITIONS,
        "business" => BUSINESS_DEFINITIONS,
        "mga-tax" => MGA_TAX_DEFINITIONS,
        "mga-player-funds" => MGA_FUNDS_DEFINITIONS,
        "mga-player-data" => MGA_PLAYERS_DEFINITIONS,
        _ => &[],
    }
}

/// The gaming definitions every report with gaming figures adds.
pub fn gaming_definitions() -> &'static [(&'static str, &'static str)] {
    GAMING_DEFINITIONS
}

/// The RG interventions report's definitions.
pub const RG_DEFINITIONS: &[(&str, &str)] = &[
    (
        "interventions",
        "Interventions sent to players in the period (reality checks, limit prompts, time-out suggestions; by compliance or suggested by the marker worker), by kind and the player's answer (pending: none yet), in the player's wallet currency.",
    ),
    (
        "marker_alerts",
        "Problem-gambling marker alerts raised in the period, by their state now (open, closed by compliance).",
    ),
    (
        "markers",
        "Alerts raised in the period that name each marker (an alert names every marker it found).",
    ),
];

/// The RG interventions report: interventions per kind and outcome, marker
/// alerts per state, markers per kind.
pub fn rg_interventions(counts: &readmodel::analytics::InterventionCounts) -> Vec<Table> {
    let mut interventions = Table::new(
        "interventions",
        "Interventions by kind and answer",
        &["kind", "answer"],
        &["interventions"],
        &[],
    );
    for (kind, answer, currency, n) in &counts.interventions {
        if let Some(currency) = Currency::from_code(currency) {
            interventions.add(vec![kind.clone(), answer.clone()], currency, &[*n], &[]);
        }
    }
    let mut alerts = Table::new("marker_alerts", "Marker alerts by state", &["state"], &["alerts"], &[]);
    for (state, currency, n) in &counts.alerts {
        if let Some(currency) = Currency::from_code(currency) {
            alerts.add(vec![state.clone()], currency, &[*n], &[]);
        }
    }
    let mut markers = Table::new("markers", "Alerts naming each marker", &["marker"], &["alerts"], &[]);
    for (marker, currency, n) in &counts.markers {
        if let Some(currency) = Currency::from_code(currency) {
            markers.add(vec![marker.clone()], currency, &[*n], &[]);
        }
    }
    let mut tables = vec![interventions, alerts, markers];
    for table in &mut tables {
        table.sort();
    }
    tables
}
