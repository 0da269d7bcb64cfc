//! Live game performance (issue 14's monitoring): per game, currency,
//! licensing jurisdiction and UTC hour, what the game took and paid, how
//! many rounds and bets, how many bets the ledger refused (and why), and
//! which players staked, folded in as the projection applies each record.
//!
//! It runs after [`crate::history`], so a money movement's figures are
//! read back from its `movements` row ([`crate::figures`]) rather than
//! derived a second time: the monitoring and the reports cannot disagree.
//! A refused bet moves nothing and has no movement: it is counted from the
//! command and its rejection.
//!
//! The table keeps the sums a statistical test needs besides the money:
//! the sum of the squared stakes (net of rollbacks), so that the variance
//! of the prizes a fair game pays is `σ² · Σ s²` for a per-unit-stake
//! standard deviation σ (the gateway takes σ from the game's volatility
//! class, [`rtp_test`]). The jurisdiction is kept because the configured
//! RTP is per jurisdiction: the expected prizes are the stakes of each
//! jurisdiction times its configured RTP.
//!
//! Everything is bucketed by hour, so a period's figures are sums over at
//! most a few hundred rows per game, and a day's dashboard reads little.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use engine::command::Command;
use engine::games::{Catalogue, Game};
use engine::outcome::Rejection;
use engine::sequencer::Committed;
use engine::{Currency, Jurisdiction, PlayerId, SourceId, gaming};
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use crate::{Moved, ReadModelError};

/// An hour count as SQLite's integer (hours past `i64::MAX` are as far
/// as anything goes). Local rather than `history`'s: `store` names this
/// module's migration, and `history` names `store`.
fn clamp(value: u64) -> i64 {
    value.min(i64::MAX as u64) as i64
}

/// An hour in ms.
pub const HOUR_MS: u64 = 3_600_000;

/// The jurisdiction column of a player the read model has no jurisdiction
/// for (registered before the profiles view): the game's default RTP.
pub const UNKNOWN_JURISDICTION: &str = "";

/// The schema migration of the monitoring tables (appended to
/// `store::MIGRATIONS`; a file made before it is rebuilt, so the figures
/// start at the first record). `game_hours` sums, per aggregator, game,
/// currency, jurisdiction and hour: rounds (a bet opening a round the
/// player had not staked in), bets (accepted), refused bets, stakes net of
/// rollbacks and their bonus share, prizes (jackpot payouts included, and
/// apart in `jackpot`) and their cash share, bonus converted, and the sum
/// of squared stakes (REAL: it is a statistic and outgrows 64 bits).
/// `game_players` holds who staked in a game in an hour (unique players
/// over any period of hours); `game_refusals` the refused bets by reason.
pub(crate) const MIGRATION: &str = "CREATE TABLE game_hours (
        source INTEGER NOT NULL,
        game TEXT NOT NULL,
        currency TEXT NOT NULL,
        jurisdiction TEXT NOT NULL,
        hour INTEGER NOT NULL,
        rounds INTEGER NOT NULL DEFAULT 0,
        bets INTEGER NOT NULL DEFAULT 0,
        refused INTEGER NOT NULL DEFAULT 0,
        stake INTEGER NOT NULL DEFAULT 0,
        bonus_stake INTEGER NOT NULL DEFAULT 0,
        prize INTEGER NOT NULL DEFAULT 0,
        cash_prize INTEGER NOT NULL DEFAULT 0,
        jackpot INTEGER NOT NULL DEFAULT 0,
        converted INTEGER NOT NULL DEFAULT 0,
        stake_sq REAL NOT NULL DEFAULT 0,
        PRIMARY KEY (source, game, currency, jurisdiction, hour)
    ) WITHOUT ROWID;
    CREATE INDEX game_hours_by_hour ON game_hours (hour);
    CREATE TABLE game_players (
        source INTEGER NOT NULL,
        game TEXT NOT NULL,
        hour INTEGER NOT NULL,
        player INTEGER NOT NULL,
        PRIMARY KEY (source, game, hour, player)
    ) WITHOUT ROWID;
    CREATE TABLE game_refusals (
        source INTEGER NOT NULL,
        game TEXT NOT NULL,
        hour INTEGER NOT NULL,
        reason TEXT NOT NULL,
        count INTEGER NOT NULL,
        PRIMARY KEY (source, game, hour, reason)
    ) WITHOUT ROWID;";

/// One movement's contribution to a game's hour.
#[derive(Default)]
struct Delta {
    rounds: i64,
    bets: i64,
    refused: i64,
    stake: i64,
    bonus_stake: i64,
    prize: i64,
    cash_prize: i64,
    jackpot: i64,
    converted: i64,
    stake_sq: f64,
}

impl Delta {
    fn add(&mut self, d: &Delta) {
        self.rounds += d.rounds;
        self.bets += d.bets;
        self.refused += d.refused;
        self.stake += d.stake;
        self.bonus_stake += d.bonus_stake;
        self.prize += d.prize;
        self.cash_prize += d.cash_prize;
        self.jackpot += d.jackpot;
        self.converted += d.converted;
        self.stake_sq += d.stake_sq;
    }
}

/// A `game_hours` row's key: source, game, currency, jurisdiction, hour.
type HourKey = (u32, String, String, String, i64);

/// What a projection transaction adds to the monitoring tables, kept in
/// memory and written once at its end ([`Pending::write`], before the
/// commit): a busy game's hour is one upsert a transaction instead of one
/// a bet. Nothing in the projection reads these tables, and readers see
/// only committed transactions.
#[derive(Default)]
pub(crate) struct Pending {
    hours: BTreeMap<HourKey, Delta>,
    /// `game_players` rows: source, game, hour, player.
    players: BTreeSet<(u32, String, i64, i64)>,
    /// `game_refusals` counts by source, game, hour and reason.
    refusals: BTreeMap<(u32, String, i64, String), i64>,
    /// Players' jurisdictions read so far: set at registration and never
    /// changed, so a row once read holds for the transaction (a player not
    /// registered yet is not remembered: a later record may register him).
    jurisdictions: HashMap<i64, String>,
}

impl Pending {
    /// The jurisdiction `player` plays under.
    fn jurisdiction_of(&mut self, tx: &Transaction<'_>, player: i64) -> Result<String, ReadModelError> {
        if let Some(known) = self.jurisdictions.get(&player) {
            return Ok(known.clone());
        }
        let found: Option<Option<String>> = tx
            .prepare_cached("SELECT jurisdiction FROM profiles WHERE player = ?1")?
            .query_row(params![player], |row| row.get(0))
            .optional()?;
        match found.flatten() {
            Some(jurisdiction) => {
                self.jurisdictions.insert(player, jurisdiction.clone());
                Ok(jurisdiction)
            }
            None => Ok(UNKNOWN_JURISDICTION.to_owned()),
        }
    }

    fn add(&mut self, source: SourceId, game: &str, currency: &str, jurisdiction: String, hour: u64, d: &Delta) {
        let key = (
            source.0,
            game.to_owned(),
            currency.to_owned(),
            jurisdiction,
            clamp(hour),
        );
        self.hours.entry(key).or_default().add(d);
    }

    /// Adds what the transaction gathered to the tables, and forgets it.
    pub(crate) fn write(&mut self, tx: &Transaction<'_>) -> Result<(), ReadModelError> {
        let mut hours = tx.prepare_cached(
            "INSERT INTO game_hours (source, game, currency, jurisdiction, hour, rounds, bets, refused, stake,
                 bonus_stake, prize, cash_prize, jackpot, converted, stake_sq)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)
             ON CONFLICT (source, game, currency, jurisdiction, hour) DO UPDATE SET
                 rounds = rounds + excluded.rounds, bets = bets + excluded.bets, refused = refused + excluded.refused,
                 stake = stake + excluded.stake, bonus_stake = bonus_stake + excluded.bonus_stake,
                 prize = prize + excluded.prize, cash_prize = cash_prize + excluded.cash_prize,
                 jackpot = jackpot + excluded.jackpot, converted = converted + excluded.converted,
                 stake_sq = stake_sq + excluded.stake_sq",
        )?;
        for ((source, game, currency, jurisdiction, hour), d) in std::mem::take(&mut self.hours) {
            hours.execute(params![
                source,
                game,
                currency,
                jurisdiction,
                hour,
                d.rounds,
                d.bets,
                d.refused,
                d.stake,
                d.bonus_stake,
                d.prize,
                d.cash_prize,
                d.jackpot,
                d.converted,
                d.stake_sq,
            ])?;
        }
        let mut players = tx.prepare_cached(
            "INSERT OR IGNORE INTO game_players (source, game, hour, player) VALUES (?1, ?2, ?3, ?4)",
        )?;
        for (source, game, hour, player) in std::mem::take(&mut self.players) {
            players.execute(params![source, game, hour, player])?;
        }
        let mut refusals = tx.prepare_cached(
            "INSERT INTO game_refusals (source, game, hour, reason, count) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (source, game, hour, reason) DO UPDATE SET count = count + excluded.count",
        )?;
        for ((source, game, hour, reason), count) in std::mem::take(&mut self.refusals) {
            refusals.execute(params![source, game, hour, reason, count])?;
        }
        Ok(())
    }
}

/// Folds one committed record into the monitoring tables, with the
/// movement the history projection made of it.
pub(crate) fn apply(
    tx: &Transaction<'_>,
    committed: &Committed,
    time_ms: u64,
    moved: Option<&Moved>,
    pending: &mut Pending,
) -> Result<(), ReadModelError> {
    let request = &committed.envelope.request;
    let command = request.command.unwrapped();
    if !matches!(command, Command::Gaming(_)) {
        return Ok(());
    }
    if let (Command::Gaming(gaming::Command::Bet(bet)), Some(rejection)) = (command, committed.outcome.rejection()) {
        return refused(tx, request.source, bet, rejection, time_ms, pending);
    }
    let Some(moved) = moved else {
        return Ok(());
    };
    let Some((round, game)) = &moved.round else {
        return Ok(());
    };
    let seq = committed.envelope.seq;
    let f = &moved.figures;
    let bet = moved.kind == "bet";
    let new_round = bet && !round_seen(tx, moved.player, request.source, round, seq)?;
    // A rollback's stake is minus its bet's: its square comes off.
    let stake_sq = (f.stake as f64) * (f.stake as f64) * (f.stake.signum() as f64);
    let delta = Delta {
        rounds: i64::from(new_round),
        bets: i64::from(bet),
        stake: f.stake,
        bonus_stake: f.bonus_stake,
        prize: f.prize,
        cash_prize: f.cash_prize,
        jackpot: f.jackpot,
        converted: f.converted,
        stake_sq,
        ..Delta::default()
    };
    let hour = time_ms / HOUR_MS;
    let jurisdiction = pending.jurisdiction_of(tx, moved.player)?;
    pending.add(request.source, game, moved.currency, jurisdiction, hour, &delta);
    if bet {
        pending
            .players
            .insert((request.source.0, game.clone(), clamp(hour), moved.player));
    }
    Ok(())
}

/// Whether `player` staked in `round` at `source` before `seq`.
fn round_seen(
    tx: &Transaction<'_>,
    player: i64,
    source: SourceId,
    round: &str,
    seq: u64,
) -> Result<bool, ReadModelError> {
    Ok(tx
        .prepare_cached(
            "SELECT 1 FROM movements WHERE player = ?1 AND source = ?2 AND round = ?3 AND seq < ?4 AND kind = 'bet' LIMIT 1",
        )?
        .query_row(params![player, source.0, round, seq as i64], |_| Ok(()))
        .optional()?
        .is_some())
}

fn refused(
    tx: &Transaction<'_>,
    source: SourceId,
    bet: &gaming::Bet,
    rejection: &Rejection,
    time_ms: u64,
    pending: &mut Pending,
) -> Result<(), ReadModelError> {
    let hour = time_ms / HOUR_MS;
    let game = bet.round.game.as_str();
    let jurisdiction = pending.jurisdiction_of(tx, bet.player.0 as i64)?;
    let delta = Delta {
        refused: 1,
        ..Delta::default()
    };
    pending.add(source, game, bet.currency.code(), jurisdiction, hour, &delta);
    *pending
        .refusals
        .entry((source.0, game.to_owned(), clamp(hour), reason(rejection)))
        .or_default() += 1;
    Ok(())
}

/// A rejection's name: its variant and, for a variant wrapping another
/// (`GameRefused(Disabled)`, `PlayerBlocked(SelfExcluded)`), the inner
/// one, never the amounts or values it carries: a bounded set.
pub fn reason(rejection: &Rejection) -> String {
    let debug = format!("{rejection:?}");
    let head = debug.split([' ', '{']).next().unwrap_or_default();
    let names: Vec<&str> = head
        .split(['(', ')'])
        .take_while(|part| part.starts_with(|c: char| c.is_ascii_uppercase()))
        .take(2)
        .collect();
    match names.as_slice() {
        [outer, inner] => format!("{outer}({inner})"),
        [outer] => (*outer).to_owned(),
        _ => "Other".to_owned(),
    }
}

/// A game's sums in one currency and jurisdiction, over a period (or one
/// hour of it). Minor units.
#[derive(Clone, Debug, PartialEq)]
pub struct GameSum {
    /// The aggregator whose code the game is.
    pub source: SourceId,
    /// The game's code at that aggregator.
    pub game: String,
    /// The wallets' currency.
    pub currency: Option<Currency>,
    /// The players' licensing jurisdiction ([`UNKNOWN_JURISDICTION`] if
    /// the read model has none).
    pub jurisdiction: String,
    /// The hour (since the epoch) for an hourly row; `None` for a period's.
    pub hour: Option<u64>,
    /// Rounds opened (a player's first bet in a round).
    pub rounds: u64,
    /// Bets accepted (rollbacks not subtracted).
    pub bets: u64,
    /// Bets refused by the ledger.
    pub refused: u64,
    /// Stakes net of rollbacks, cash and bonus money.
    pub stake: i64,
    /// Their bonus-funded share.
    pub bonus_stake: i64,
    /// Prizes (wins, jackpot payouts).
    pub prize: i64,
    /// Their share credited to cash.
    pub cash_prize: i64,
    /// Paid by jackpot pools (part of `prize`).
    pub jackpot: i64,
    /// Bonus money converted to cash by the game's movements.
    pub converted: i64,
    /// Σ stake² (net of rollbacks).
    pub stake_sq: f64,
}

impl Default for GameSum {
    fn default() -> GameSum {
        GameSum {
            source: SourceId(0),
            game: String::new(),
            currency: None,
            jurisdiction: String::new(),
            hour: None,
            rounds: 0,
            bets: 0,
            refused: 0,
            stake: 0,
            bonus_stake: 0,
            prize: 0,
            cash_prize: 0,
            jackpot: 0,
            converted: 0,
            stake_sq: 0.0,
        }
    }
}

impl GameSum {
    /// GGR as the reports define it: cash stakes less cash prizes.
    pub fn ggr(&self) -> i64 {
        (self.stake - self.bonus_stake) - self.cash_prize
    }

    /// Adds `other`'s sums (same game, or not: the caller decides).
    pub fn add(&mut self, other: &GameSum) {
        self.rounds += other.rounds;
        self.bets += other.bets;
        self.refused += other.refused;
        self.stake += other.stake;
        self.bonus_stake += other.bonus_stake;
        self.prize += other.prize;
        self.cash_prize += other.cash_prize;
        self.jackpot += other.jackpot;
        self.converted += other.converted;
        self.stake_sq += other.stake_sq;
    }
}

const SUMS: &str = "SUM(rounds), SUM(bets), SUM(refused), SUM(stake), SUM(bonus_stake), SUM(prize), SUM(cash_prize),
    SUM(jackpot), SUM(converted), SUM(stake_sq)";

fn sum_row(row: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<GameSum> {
    Ok(GameSum {
        rounds: row.get::<_, i64>(at)? as u64,
        bets: row.get::<_, i64>(at + 1)? as u64,
        refused: row.get::<_, i64>(at + 2)? as u64,
        stake: row.get(at + 3)?,
        bonus_stake: row.get(at + 4)?,
        prize: row.get(at + 5)?,
        cash_prize: row.get(at + 6)?,
        jackpot: row.get(at + 7)?,
        converted: row.get(at + 8)?,
        stake_sq: row.get(at + 9)?,
        ..GameSum::default()
    })
}

/// Every game's sums per currency and jurisdiction over the hours
/// `[from_hour, to_hour)`, by aggregator, game, currency, jurisdiction.
pub fn games(connection: &Connection, from_hour: u64, to_hour: u64) -> Result<Vec<GameSum>, ReadModelError> {
    let sql = format!(
        "SELECT source, game, currency, jurisdiction, {SUMS} FROM game_hours WHERE hour >= ?1 AND hour < ?2
         GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4"
    );
    let mut statement = connection.prepare_cached(&sql)?;
    let rows = statement.query_map(params![clamp(from_hour), clamp(to_hour)], |row| {
        let mut sum = sum_row(row, 4)?;
        sum.source = SourceId(row.get(0)?);
        sum.game = row.get(1)?;
        sum.currency = Currency::from_code(&row.get::<_, String>(2)?);
        sum.jurisdiction = row.get(3)?;
        Ok(sum)
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// One game's sums per hour and currency over `[from_hour, to_hour)`
/// (jurisdictions added up), by hour then currency.
pub fn game_hours(
    connection: &Connection,
    source: SourceId,
    game: &str,
    from_hour: u64,
    to_hour: u64,
) -> Result<Vec<GameSum>, ReadModelError> {
    let sql = format!(
        "SELECT hour, currency, {SUMS} FROM game_hours
         WHERE source = ?1 AND game = ?2 AND hour >= ?3 AND hour < ?4 GROUP BY 1, 2 ORDER BY 1, 2"
    );
    let mut statement = connection.prepare_cached(&sql)?;
    let rows = statement.query_map(params![source.0, game, clamp(from_hour), clamp(to_hour)], |row| {
        let mut sum = sum_row(row, 2)?;
        sum.source = source;
        sum.game = game.to_owned();
        sum.hour = Some(row.get::<_, i64>(0)? as u64);
        sum.currency = Currency::from_code(&row.get::<_, String>(1)?);
        Ok(sum)
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Players who staked in any of `games` (aggregator, code) in the hours
/// `[from_hour, to_hour)`, each once.
pub fn unique_players(
    connection: &Connection,
    games: &[(SourceId, String)],
    from_hour: u64,
    to_hour: u64,
) -> Result<u64, ReadModelError> {
    let mut players = std::collections::HashSet::<PlayerId>::new();
    let mut statement = connection.prepare_cached(
        "SELECT DISTINCT player FROM game_players WHERE source = ?1 AND game = ?2 AND hour >= ?3 AND hour < ?4",
    )?;
    for (source, game) in games {
        let rows = statement.query_map(params![source.0, game, clamp(from_hour), clamp(to_hour)], |row| {
            row.get::<_, i64>(0)
        })?;
        for player in rows {
            players.insert(PlayerId(player? as u64));
        }
    }
    Ok(players.len() as u64)
}

/// The refused bets of a game (or of every game, `None`) by reason over
/// `[from_hour, to_hour)`: (aggregator, game, reason, count).
pub fn refusals(
    connection: &Connection,
    game: Option<(SourceId, &str)>,
    from_hour: u64,
    to_hour: u64,
) -> Result<Vec<(SourceId, String, String, u64)>, ReadModelError> {
    let mut statement = connection.prepare_cached(
        "SELECT source, game, reason, SUM(count) FROM game_refusals
         WHERE hour >= ?1 AND hour < ?2 AND (?3 IS NULL OR (source = ?3 AND game = ?4))
         GROUP BY 1, 2, 3 ORDER BY 1, 2, 4 DESC, 3",
    )?;
    let (source, code) = game.map(|(s, g)| (Some(s.0), Some(g))).unwrap_or((None, None));
    let rows = statement.query_map(params![clamp(from_hour), clamp(to_hour), source, code], |row| {
        Ok((
            SourceId(row.get(0)?),
            row.get::<_, String>(1)?,
            row.get::<_, String>(2)?,
            row.get::<_, i64>(3)? as u64,
        ))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The RTP test: whether the prizes a game paid differ from what its
/// configured RTP makes expected by more than chance explains, for the
/// volume played.
///
/// Under the null hypothesis (the game pays its configured RTP), each bet
/// of stake `s` pays a prize with mean `rtp · s` and standard deviation
/// `σ · s`, where σ is the per-unit-stake standard deviation of the game's
/// volatility class. Bets are independent, so the prizes of `n` bets sum to
/// a normal variable (central limit, hence the minimum volume) with mean
/// `E = Σ rtp_j · S_j` (each jurisdiction's stakes at its configured RTP)
/// and variance `σ² · Σ s²`. The statistic is `z = (P − E) / (σ·√Σs²)`,
/// with `P` the prizes the game paid (jackpot payouts excluded: the pools
/// are not the game's RTP). `|z| > Z_ALERT` (3.29: two-sided p < 0.001) on at
/// least `MIN_BETS` bets is an alert.
pub mod rtp_test {
    /// Two-sided threshold: |z| above it happens by chance once in 1,000
    /// checks of a fair game.
    pub const Z_ALERT: f64 = 3.29;
    /// Fewer bets say nothing reliable (the normal approximation of a
    /// skewed prize distribution needs volume).
    pub const MIN_BETS: u64 = 200;

    /// The per-unit-stake standard deviation assumed for a volatility
    /// class (by [`engine::games::Volatility::name`]): typical of slots
    /// of that class (low ≈ 3–5, medium ≈ 7–10, high ≈ 12–20, very high
    /// beyond); unrated games (tables, live) at 5, above even-money
    /// roulette (≈ 1) and below a straight-up bet (≈ 5.8), so that a
    /// table game is never flagged on luck.
    pub fn sigma(volatility: &str) -> f64 {
        match volatility {
            "low" => 4.0,
            "medium" => 8.0,
            "high" => 15.0,
            "very-high" => 25.0,
            _ => 5.0,
        }
    }

    /// The variance of a fair game's prizes for bets whose squared stakes
    /// sum to `stake_sq`, at `sigma`.
    pub fn variance(stake_sq: f64, sigma: f64) -> f64 {
        sigma * sigma * stake_sq.max(0.0)
    }

    /// The statistic of `prizes` against `expected` at `variance` (games
    /// added up add their variances); `None` without any stake.
    pub fn z(prizes: i64, expected: f64, variance: f64) -> Option<f64> {
        let deviation = variance.max(0.0).sqrt();
        (deviation > 0.0).then(|| (prizes as f64 - expected) / deviation)
    }

    /// Whether `z` over `bets` bets raises the alert.
    pub fn alert(z: Option<f64>, bets: u64) -> bool {
        bets >= MIN_BETS && z.is_some_and(|z| z.abs() > Z_ALERT)
    }
}

/// A game's (or several games') figures in one currency, with what the RTP
/// test needs.
#[derive(Clone, Debug, PartialEq)]
pub struct CurrencyTotals {
    /// The currency.
    pub currency: Currency,
    /// The sums.
    pub sum: GameSum,
    /// The prizes the configured RTP makes expected (each jurisdiction's
    /// stakes at its RTP); `None` if a game is not in the catalogue.
    pub expected: Option<f64>,
    /// The variance of a fair game's prizes ([`rtp_test::variance`]; games
    /// added up add theirs).
    pub variance: f64,
}

impl CurrencyTotals {
    /// Prizes the game's RTP answers for: jackpot payouts are the pools'.
    pub fn paid(&self) -> i64 {
        self.sum.prize - self.sum.jackpot
    }

    /// Paid / turnover, `None` without turnover.
    pub fn rtp_actual(&self) -> Option<f64> {
        (self.sum.stake > 0).then(|| self.paid() as f64 / self.sum.stake as f64)
    }

    /// Expected / turnover.
    pub fn rtp_configured(&self) -> Option<f64> {
        self.expected
            .filter(|_| self.sum.stake > 0)
            .map(|e| e / self.sum.stake as f64)
    }

    /// The RTP test's statistic.
    pub fn z(&self) -> Option<f64> {
        self.expected.and_then(|e| rtp_test::z(self.paid(), e, self.variance))
    }

    /// Whether the RTP test raises the alert.
    pub fn alert(&self) -> bool {
        rtp_test::alert(self.z(), self.sum.bets)
    }

    fn add(&mut self, other: &CurrencyTotals) {
        self.sum.add(&other.sum);
        self.expected = self.expected.zip(other.expected).map(|(a, b)| a + b);
        self.variance += other.variance;
    }
}

/// One game's figures over a period, per currency.
#[derive(Clone, Debug, PartialEq)]
pub struct GameTotals {
    /// The aggregator.
    pub source: SourceId,
    /// The game's code there.
    pub code: String,
    /// The catalogue's record, if it holds the game.
    pub game: Option<Game>,
    /// Per currency, by code.
    pub currencies: Vec<CurrencyTotals>,
}

impl GameTotals {
    /// The volatility class's name (`unrated` outside the catalogue).
    pub fn volatility(&self) -> &'static str {
        self.game.as_ref().map_or("unrated", |g| g.volatility.name())
    }

    /// Rounds, bets and refusals over every currency.
    pub fn counts(&self) -> (u64, u64, u64) {
        self.currencies.iter().fold((0, 0, 0), |(r, b, f), c| {
            (r + c.sum.rounds, b + c.sum.bets, f + c.sum.refused)
        })
    }

    /// refused / (bets + refused).
    pub fn refusal_rate(&self) -> f64 {
        let (_, bets, refused) = self.counts();
        rate(refused, bets + refused)
    }

    /// Whether any currency's RTP test raises the alert.
    pub fn alert(&self) -> bool {
        self.currencies.iter().any(CurrencyTotals::alert)
    }
}

/// `part / whole`, 0 when there is no whole.
pub fn rate(part: u64, whole: u64) -> f64 {
    if whole == 0 { 0.0 } else { part as f64 / whole as f64 }
}

/// The expected prizes of `sum` under `game`'s RTP configured for the
/// sum's jurisdiction (the default one for an unknown jurisdiction).
fn expected(game: &Game, sum: &GameSum) -> f64 {
    let rtp_bp = match Jurisdiction::new(&sum.jurisdiction) {
        Ok(jurisdiction) => game.rtp_bp(jurisdiction),
        Err(_) => game.rtp_default_bp,
    };
    sum.stake as f64 * f64::from(rtp_bp) / 10_000.0
}

/// The rows of [`games`] folded per game (by aggregator and code) and
/// currency, with the catalogue's record and the RTP test's terms.
pub fn by_game(catalogue: &Catalogue, rows: &[GameSum]) -> Vec<GameTotals> {
    let mut games: std::collections::BTreeMap<(u32, &str), GameTotals> = std::collections::BTreeMap::new();
    for row in rows {
        let Some(currency) = row.currency else { continue };
        let totals = games
            .entry((row.source.0, row.game.as_str()))
            .or_insert_with(|| GameTotals {
                source: row.source,
                code: row.game.clone(),
                game: catalogue.game(row.source, &row.game).cloned(),
                currencies: Vec::new(),
            });
        let sigma = rtp_test::sigma(totals.volatility());
        let part = CurrencyTotals {
            currency,
            sum: row.clone(),
            expected: totals.game.as_ref().map(|g| expected(g, row)),
            variance: rtp_test::variance(row.stake_sq, sigma),
        };
        match totals.currencies.iter_mut().find(|c| c.currency == currency) {
            Some(existing) => existing.add(&part),
            None => totals.currencies.push(part),
        }
    }
    let mut games: Vec<GameTotals> = games.into_values().collect();
    for game in &mut games {
        game.currencies.sort_by_key(|c| c.currency.code());
    }
    games
}

/// The games of one provider folded per currency (the RTP test over all
/// of them, each game at its own volatility).
pub fn provider_totals<'a>(games: impl IntoIterator<Item = &'a GameTotals>) -> Vec<CurrencyTotals> {
    let mut currencies: Vec<CurrencyTotals> = Vec::new();
    for game in games {
        for part in &game.currencies {
            match currencies.iter_mut().find(|c| c.currency == part.currency) {
                Some(existing) => existing.add(part),
                None => currencies.push(part.clone()),
            }
        }
    }
    currencies.sort_by_key(|c| c.currency.code());
    currencies
}

#[cfg(test)]
mod tests {
    use engine::outcome::{GameRefusal, Rejection};
    use engine::{Amount, Currency};

    #[test]
    fn reasons_name_the_variant_and_never_the_values() {
        let check = |rejection: Rejection, expect: &str| assert_eq!(super::reason(&rejection), expect);
        check(Rejection::GameRefused(GameRefusal::Disabled), "GameRefused(Disabled)");
        check(
            Rejection::InsufficientFunds {
                available: Amount::from_minor(5),
            },
            "InsufficientFunds",
        );
        check(
            Rejection::CurrencyMismatch {
                currency: Currency::EUR,
            },
            "CurrencyMismatch",
        );
        check(Rejection::UnknownPlayer, "UnknownPlayer");
    }
}
