//! The report probe's loader: a month of play written straight into a
//! fresh read-model file, rows shaped as the projection writes them.
//!
//! - **players, profiles, balances**: every player registered before the
//!   month (6 %: in it, shortly before their first play), a wallet in the
//!   currency of their country (GB → GBP, SE → SEK, NO → NOK, CA → CAD,
//!   NZ → NZD, else EUR), licensed in GB or MT; the profile sealed under
//!   a data key of the PAM vault (64 keys shared by all players: the
//!   directory still reads a key file and opens a profile per player) with
//!   the plain country and birth year filled as the backfill leaves them;
//!   the balance row after the wallet's last movement.
//! - **movements**: 70 % of players play, in 1–5 sessions each (weights
//!   1–8, ×10 for 3 % heavy players), spread over the month at random and
//!   interleaved 64 at a time, one game per session; each round is a bet
//!   and a win (40 % pay 0.5–4.3× the stake, the others a win of 0), one in
//!   a thousand rolled back instead, one in a thousand left without a win.
//!   Each movement carries its balances after and the report figures of
//!   `readmodel::figures` (cash only: no bonus money, so stake = cash
//!   stake and prize = cash prize). Time never goes back along `seq`.
//! - **cashier payments**: a deposit (through stripe, trustly or paysafe)
//!   before a player's first bet and whenever the cash would not cover the
//!   stake, one in twenty after a failed attempt; at a session's end a
//!   quarter of players with cash withdraw half of it (80 % completed, 8 %
//!   rejected, 12 % still requested at the month's end, held in
//!   `reserved`).
//! - **login sessions**: one per session, at its start.
//! - **RG**: an intervention after one session in 150, a marker alert after
//!   one in 400.
//! - **marketing**: five affiliates with tracking codes under two
//!   commission plans; 20 % of players attributed (their profile names the
//!   tracking code).
//!
//! Not written, because no report reads them: the transactions table (a
//! row per request), monitoring, audit, login identifiers, KYC. A file the
//! projection wrote would be larger by those.

use std::collections::{BTreeMap, VecDeque};
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use engine::codec::to_bytes;
use engine::games::GameType;
use engine::marketing::{Affiliate, AffiliateStatus, CommissionPlan};
use engine::{Amount, BonusCode, Currency, ExtId, SourceId, Title};
use pam::profile::{Address, Consents, Profile};
use pam::vault::{DataKey, Vault};
use readmodel::store::{self, Checkpoint};
use rusqlite::{Statement, Transaction, params};

use croupier_benches::segments::{birth_year_of, country_of, mix};

/// Sessions played at once: each step moves the next one by a round.
const CONCURRENT_SESSIONS: usize = 64;
/// Data keys the profiles are sealed under.
const DATA_KEYS: usize = 64;
/// The cashier's source (deposits, withdrawals).
const CASHIER_SOURCE: u32 = 1;
const DAY_MS: u64 = 86_400_000;
const PROVIDERS: &[&str] = &["stripe", "trustly", "paysafe"];
const AFFILIATES: usize = 5;
/// The loader's SQLite page cache, KiB (negative: SQLite's unit).
const LOAD_CACHE_KIB: i64 = -6 * 1024 * 1024;

/// A catalogue game: aggregator (source), code, provider, type, stakes
/// (minor units of EUR; ×10 in SEK and NOK).
pub struct GameDef {
    pub source: u32,
    pub code: &'static str,
    pub provider: &'static str,
    pub kind: GameType,
    pub stake_min: i64,
    pub stake_max: i64,
}

const fn game(source: u32, code: &'static str, provider: &'static str, kind: GameType, min: i64, max: i64) -> GameDef {
    GameDef {
        source,
        code,
        provider,
        kind,
        stake_min: min,
        stake_max: max,
    }
}

/// The catalogue, in the order a session's pick walks it (weights below).
pub const GAMES: &[GameDef] = &[
    game(2, "vs20olympgate", "pragmatic", GameType::Slot, 20, 500),
    game(2, "vs20sugarrush", "pragmatic", GameType::Slot, 20, 500),
    game(2, "vs10bbbonanza", "pragmatic", GameType::Slot, 10, 250),
    game(2, "vs20fruitsw", "pragmatic", GameType::Slot, 20, 500),
    game(2, "starburst", "netent", GameType::Slot, 10, 200),
    game(2, "gonzos-quest", "netent", GameType::Slot, 20, 300),
    game(2, "dead-or-alive-2", "netent", GameType::Slot, 10, 200),
    game(2, "book-of-dead", "playngo", GameType::Slot, 10, 500),
    game(2, "reactoonz", "playngo", GameType::Slot, 20, 400),
    game(2, "wanted-dead", "hacksaw", GameType::Slot, 20, 500),
    game(2, "chaos-crew", "hacksaw", GameType::Slot, 10, 300),
    game(2, "european-roulette", "netent", GameType::Table, 100, 2_000),
    game(2, "blackjack-classic", "netent", GameType::Table, 100, 2_500),
    game(3, "lightning-roulette", "evolution", GameType::Live, 20, 2_500),
    game(3, "crazy-time", "evolution", GameType::Live, 10, 1_000),
    game(3, "live-blackjack", "evolution", GameType::Live, 500, 5_000),
    game(3, "aviator", "spribe", GameType::Crash, 10, 1_000),
];

/// A session's game: slots 75 %, live 12 %, tables 8 %, crash 5 %.
fn pick_game(h: u64) -> u16 {
    let p = h % 100;
    let (first, len) = match p {
        0..75 => (0, 11),
        75..87 => (13, 3),
        87..95 => (11, 2),
        _ => (16, 1),
    };
    (first + (h >> 8) % len) as u16
}

/// The licensing jurisdiction and currency of a country.
pub fn wallet_of(country: &str) -> (&'static str, Currency) {
    let currency = match country {
        "GB" => Currency::GBP,
        "SE" => Currency::SEK,
        "NO" => Currency::NOK,
        "CA" => Currency::CAD,
        "NZ" => Currency::NZD,
        _ => Currency::EUR,
    };
    (if country == "GB" { "GB" } else { "MT" }, currency)
}

fn scale(currency: Currency) -> i64 {
    if matches!(currency, Currency::SEK | Currency::NOK) {
        10
    } else {
        1
    }
}

/// What was loaded, per currency: what the reports must add up to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Bets placed.
    pub bets: u64,
    /// Stakes net of rollbacks.
    pub stakes: i64,
    /// Wins paid.
    pub prizes: i64,
    /// Confirmed deposits: count and amount.
    pub deposits: (u64, i64),
    /// Withdrawals requested: count and amount.
    pub withdrawals: (u64, i64),
    /// Cash and reserved of every wallet at the end.
    pub cash: i64,
    /// Reserved for withdrawals still requested.
    pub reserved: i64,
    /// Wallets.
    pub wallets: u64,
}

/// What a load wrote.
#[derive(Debug, Default)]
pub struct Loaded {
    pub by_currency: BTreeMap<Currency, Tally>,
    pub movements: u64,
    pub logins: u64,
    pub interventions: u64,
    pub marker_alerts: u64,
    pub last_seq: u64,
    pub took: Duration,
}

/// A player's wallet while the month is played.
#[derive(Clone, Copy, Default)]
struct Wallet {
    cash: i64,
    reserved: i64,
    last_seq: u64,
    first_ms: u64,
}

#[derive(Clone, Copy)]
struct Session {
    key: u64,
    player: u32,
    game: u16,
    rounds: u32,
}

/// Each active player's rounds, summing to `rounds`, split into sessions,
/// in a random order (their order in the month).
fn sessions(players: u64, rounds: u64) -> Result<Vec<Session>> {
    let weight = |p: u64| {
        // Not `mix(p)`: that picks the country, and who plays must not
        // depend on it.
        let h = mix(p ^ 0xac71);
        if h % 100 >= 70 {
            return 0;
        }
        let w = 1 + (h >> 8) % 8;
        if (h >> 20) % 100 < 3 { w * 10 } else { w }
    };
    let total: u64 = (1..=players).map(weight).sum();
    ensure!(total > 0, "no player of {players} plays: load more players");
    let mut per_player: Vec<u64> = (1..=players)
        .map(|p| (u128::from(rounds) * u128::from(weight(p)) / u128::from(total.max(1))) as u64)
        .collect();
    let mut left = rounds - per_player.iter().sum::<u64>();
    let mut p = 0;
    while left > 0 {
        if weight(p as u64 + 1) > 0 {
            per_player[p] += 1;
            left -= 1;
        }
        p = (p + 1) % per_player.len();
    }
    let mut sessions = Vec::new();
    for (i, &n) in per_player.iter().enumerate() {
        let player = i as u64 + 1;
        let h = mix(player ^ 0x5e55);
        let count = n.min(1 + (h >> 32) % 5);
        for s in 0..count {
            let share = n / count + u64::from(s < n % count);
            sessions.push(Session {
                key: mix(player << 8 | s),
                player: player as u32,
                game: pick_game(mix(h ^ s)),
                rounds: share as u32,
            });
        }
    }
    sessions.sort_unstable_by_key(|s| s.key);
    Ok(sessions)
}

/// The prepared inserts of one load.
struct Rows<'t> {
    movement: Statement<'t>,
    payment: Statement<'t>,
    login: Statement<'t>,
    intervention: Statement<'t>,
    alert: Statement<'t>,
}

impl<'t> Rows<'t> {
    fn new(tx: &'t Transaction<'_>) -> Result<Rows<'t>> {
        Ok(Rows {
            movement: tx.prepare(
                "INSERT INTO movements (seq, player, currency, kind, source, ext_id, time_ms,
                     cash_delta, bonus_delta, cash, bonus, reserved, round, game,
                     stake, bonus_stake, prize, cash_prize, converted, jackpot, granted)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 0, ?9, 0, ?10, ?11, ?12, ?13, 0, ?14, ?14, 0, 0, 0)",
            )?,
            payment: tx.prepare(
                "INSERT INTO cashier_payments (source, ext_id, kind, player, currency, amount_minor, state,
                     provider, reference, created_ms, updated_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10)",
            )?,
            login: tx.prepare(
                "INSERT INTO login_sessions (seq, player, device, ip, browser, os, start_ms)
                 VALUES (?1, ?2, ?3, ?4, 'chrome', 'windows', ?5)",
            )?,
            intervention: tx.prepare(
                "INSERT INTO interventions (id, player, kind, message, alert, operator, time_ms, answer, answered_ms)
                 VALUES (?1, ?2, ?3, 'probe', NULL, 1, ?4, ?5, ?6)",
            )?,
            alert: tx.prepare(
                "INSERT INTO marker_alerts (id, player, score, markers, summary, as_of_seq, time_ms, state)
                 VALUES (?1, ?2, ?3, ?4, 'probe', ?1, ?5, ?6)",
            )?,
        })
    }
}

/// A movement: its kind, source and id, the money it moved, its round.
struct Move<'a> {
    kind: &'a str,
    source: u32,
    id: String,
    cash_delta: i64,
    reserved_delta: i64,
    round: Option<(&'a str, String)>,
    stake: i64,
    prize: i64,
}

/// The month being written: the clock, the sequence, the wallets.
struct Month<'t> {
    rows: Rows<'t>,
    seq: u64,
    now_ms: u64,
    wallets: Vec<Wallet>,
    currencies: Vec<Currency>,
    loaded: Loaded,
}

impl Month<'_> {
    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    fn tally(&mut self, player: u32) -> &mut Tally {
        let currency = self.currencies[player as usize - 1];
        self.loaded.by_currency.entry(currency).or_default()
    }

    fn movement(&mut self, player: u32, m: Move<'_>) -> Result<()> {
        let seq = self.next_seq();
        let currency = self.currencies[player as usize - 1];
        let wallet = &mut self.wallets[player as usize - 1];
        wallet.cash += m.cash_delta;
        wallet.reserved += m.reserved_delta;
        wallet.last_seq = seq;
        if wallet.first_ms == 0 {
            wallet.first_ms = self.now_ms;
        }
        assert!(wallet.cash >= 0 && wallet.reserved >= 0, "player {player} overdrawn");
        let (game, round) = m.round.map_or((None, None), |(g, r)| (Some(g), Some(r)));
        self.rows.movement.execute(params![
            seq as i64,
            i64::from(player),
            currency.code(),
            m.kind,
            m.source,
            m.id,
            self.now_ms as i64,
            m.cash_delta,
            wallet.cash,
            wallet.reserved,
            round,
            game,
            m.stake,
            m.prize,
        ])?;
        self.loaded.movements += 1;
        Ok(())
    }

    /// A deposit of at least `need` (one in twenty after a failed attempt).
    fn deposit(&mut self, player: u32, need: i64) -> Result<()> {
        let currency = self.currencies[player as usize - 1];
        let h = mix(self.seq ^ 0xde90);
        let provider = match h % 10 {
            0..5 => PROVIDERS[0],
            5..8 => PROVIDERS[1],
            _ => PROVIDERS[2],
        };
        let amount = (2_000 + (h >> 8) % 8_000) as i64 * scale(currency);
        let amount = amount.max(need * 10);
        if (h >> 24).is_multiple_of(20) {
            let failed = self.next_seq();
            self.payment(player, "deposit", &format!("d{failed}"), amount, "failed", provider)?;
            self.seq += 1; // the failure's record
        }
        let initiated = self.next_seq();
        self.payment(
            player,
            "deposit",
            &format!("d{initiated}"),
            amount,
            "confirmed",
            provider,
        )?;
        self.seq += 1; // the provider's reference
        let t = self.tally(player);
        t.deposits.0 += 1;
        t.deposits.1 += amount;
        self.movement(
            player,
            Move {
                kind: "deposit_confirm",
                source: CASHIER_SOURCE,
                id: format!("dc{initiated}"),
                cash_delta: amount,
                reserved_delta: 0,
                round: None,
                stake: 0,
                prize: 0,
            },
        )
    }

    fn payment(&mut self, player: u32, kind: &str, id: &str, amount: i64, state: &str, provider: &str) -> Result<()> {
        let currency = self.currencies[player as usize - 1];
        self.rows.payment.execute(params![
            CASHIER_SOURCE,
            id,
            kind,
            i64::from(player),
            currency.code(),
            amount,
            state,
            provider,
            format!("ref-{id}"),
            self.now_ms as i64,
        ])?;
        Ok(())
    }

    /// One round of `game`: a bet, then a win (or a rollback, or nothing).
    fn round(&mut self, player: u32, game: &GameDef, n: u64) -> Result<()> {
        let currency = self.currencies[player as usize - 1];
        let h = mix(n ^ 0x40a4d);
        let stake = (game.stake_min + (h % (game.stake_max - game.stake_min + 1) as u64) as i64) * scale(currency);
        if self.wallets[player as usize - 1].cash < stake {
            self.deposit(player, stake)?;
        }
        let round = format!("r{n}");
        self.movement(
            player,
            Move {
                kind: "bet",
                source: game.source,
                id: format!("b{n}"),
                cash_delta: -stake,
                reserved_delta: 0,
                round: Some((game.code, round.clone())),
                stake,
                prize: 0,
            },
        )?;
        let t = self.tally(player);
        t.bets += 1;
        t.stakes += stake;
        let (kind, id, cash_delta, stake_figure, prize) = match (h >> 16) % 1000 {
            0 => ("rollback", format!("rb{n}"), stake, -stake, 0),
            1 => return Ok(()),
            _ if (h >> 32) % 100 < 40 => {
                let prize = stake * (50 + ((h >> 40) % 380) as i64) / 100;
                ("win", format!("w{n}"), prize, 0, prize)
            }
            _ => ("win", format!("w{n}"), 0, 0, 0),
        };
        let t = self.tally(player);
        t.stakes += stake_figure;
        t.prizes += prize;
        self.movement(
            player,
            Move {
                kind,
                source: game.source,
                id,
                cash_delta,
                reserved_delta: 0,
                round: Some((game.code, round)),
                stake: stake_figure,
                prize,
            },
        )
    }
}

impl Month<'_> {
    /// A session's start: the login.
    fn login(&mut self, player: u32) -> Result<()> {
        let seq = self.next_seq();
        let device = mix(u64::from(player) ^ 0xd3).to_le_bytes().repeat(2);
        let ip = mix(u64::from(player) ^ 0x1b).to_le_bytes().repeat(2);
        self.rows
            .login
            .execute(params![seq as i64, i64::from(player), device, ip, self.now_ms as i64])?;
        self.loaded.logins += 1;
        Ok(())
    }

    /// A session's end: perhaps a withdrawal, an intervention, an alert.
    fn session_end(&mut self, player: u32) -> Result<()> {
        let currency = self.currencies[player as usize - 1];
        let h = mix(self.seq ^ 0xe4d);
        let cash = self.wallets[player as usize - 1].cash;
        if cash >= 5_000 * scale(currency) && h % 100 < 25 {
            self.withdraw(player, cash / 2, h >> 8)?;
        }
        let now = self.now_ms as i64;
        if (h >> 20).is_multiple_of(150) {
            let id = self.next_seq();
            let kinds = ["reality_check", "limit_prompt", "time_out_suggestion"];
            let answers = [None, Some("acknowledged"), Some("accepted"), Some("declined")];
            let answer = answers[((h >> 28) % 4) as usize];
            self.rows.intervention.execute(params![
                id as i64,
                i64::from(player),
                kinds[((h >> 24) % 3) as usize],
                now,
                answer,
                answer.map(|_| now),
            ])?;
            self.loaded.interventions += 1;
        }
        if (h >> 32).is_multiple_of(400) {
            let id = self.next_seq();
            let markers = ["loss_chasing:20,night_play:15", "rising_deposits:25", "night_play:10"];
            let state = if (h >> 40).is_multiple_of(3) { "closed" } else { "open" };
            self.rows.alert.execute(params![
                id as i64,
                i64::from(player),
                30 + ((h >> 44) % 40) as i64,
                markers[((h >> 48) % 3) as usize],
                now,
                state,
            ])?;
            self.loaded.marker_alerts += 1;
        }
        Ok(())
    }

    /// A withdrawal request, then its completion or rejection (or nothing
    /// yet: still requested at the end of the month).
    fn withdraw(&mut self, player: u32, amount: i64, h: u64) -> Result<()> {
        let requested = self.seq + 1;
        let id = format!("w{requested}");
        let state = match h % 100 {
            0..80 => "completed",
            80..88 => "rejected",
            _ => "requested",
        };
        let provider = PROVIDERS[((h >> 8) % 2) as usize];
        let money = |kind, id, cash_delta, reserved_delta| Move {
            kind,
            source: CASHIER_SOURCE,
            id,
            cash_delta,
            reserved_delta,
            round: None,
            stake: 0,
            prize: 0,
        };
        self.movement(player, money("withdrawal_request", id.clone(), -amount, amount))?;
        self.payment(player, "withdrawal", &id, amount, state, provider)?;
        let t = self.tally(player);
        t.withdrawals.0 += 1;
        t.withdrawals.1 += amount;
        match state {
            "completed" => {
                self.seq += 1; // the approval
                self.movement(
                    player,
                    money("withdrawal_complete", format!("wc{requested}"), 0, -amount),
                )
            }
            "rejected" => self.movement(
                player,
                money("withdrawal_reject", format!("wr{requested}"), amount, -amount),
            ),
            _ => Ok(()),
        }
    }
}

/// What a load is asked for.
pub struct Shape {
    pub players: u64,
    pub rounds: u64,
    pub from_ms: u64,
    pub to_ms: u64,
}

/// Writes the month into a fresh read-model file in `dir` (which must not
/// hold one), with the vault's keys beside it.
pub fn load(dir: &Path, shape: &Shape) -> Result<Loaded> {
    let started = Instant::now();
    let path = store::path(dir);
    ensure!(!path.exists(), "{} exists already", path.display());
    ensure!(
        shape.players > 0 && shape.players < u64::from(u32::MAX),
        "players: 1 to 2^32 - 2"
    );
    let vault = Vault::open(dir, None).context("the PAM vault")?;
    let mut connection = store::open(&path).context("the read model")?;
    // The loader's own page cache (the schema is untouched): the indexes
    // by player take inserts all over their pages.
    connection.pragma_update(None, "cache_size", LOAD_CACHE_KIB)?;
    let tx = connection.transaction()?;
    let Played {
        seq,
        now_ms,
        wallets,
        currencies,
        mut loaded,
    } = play(&tx, shape)?;
    players(&tx, &vault, shape, &wallets, &currencies, &mut loaded)?;
    marketing(&tx, shape.from_ms)?;
    // The projection keeps these as each movement lands; written directly,
    // they are summed once at the end.
    readmodel::summaries::rebuild(&tx)?;
    let checkpoint = Checkpoint {
        seq,
        time_ms: now_ms,
        history_from_seq: 1,
    };
    store::set_checkpoint(&tx, checkpoint)?;
    tx.commit()?;
    store::close(connection)?;
    loaded.last_seq = seq;
    loaded.took = started.elapsed();
    Ok(loaded)
}

/// What the month left: the last sequence number and time, the wallets.
struct Played {
    seq: u64,
    now_ms: u64,
    wallets: Vec<Wallet>,
    currencies: Vec<Currency>,
    loaded: Loaded,
}

/// Plays the month into `tx`.
fn play(tx: &Transaction<'_>, shape: &Shape) -> Result<Played> {
    let currencies: Vec<Currency> = (1..=shape.players).map(|p| wallet_of(country_of(mix(p))).1).collect();
    let mut month = Month {
        rows: Rows::new(tx)?,
        seq: 0,
        now_ms: shape.from_ms,
        wallets: vec![Wallet::default(); shape.players as usize],
        currencies,
        loaded: Loaded::default(),
    };
    sessions_in_turn(&mut month, shape)?;
    Ok(Played {
        seq: month.seq,
        now_ms: month.now_ms,
        wallets: month.wallets,
        currencies: month.currencies,
        loaded: month.loaded,
    })
}

/// The month's sessions, `CONCURRENT_SESSIONS` at a time, a round each in
/// turn; the clock moves with the rounds played.
fn sessions_in_turn(month: &mut Month<'_>, shape: &Shape) -> Result<()> {
    let span = (shape.to_ms - shape.from_ms).saturating_sub(60_000).max(1);
    let mut waiting = sessions(shape.players, shape.rounds)?.into_iter();
    let mut playing: VecDeque<(Session, u32)> = waiting.by_ref().take(CONCURRENT_SESSIONS).map(|s| (s, 0)).collect();
    let mut played = 0u64;
    while let Some((session, done)) = playing.pop_front() {
        month.now_ms = shape.from_ms + (u128::from(played) * u128::from(span) / u128::from(shape.rounds)) as u64;
        if done == 0 {
            month.login(session.player)?;
        }
        month.round(session.player, &GAMES[session.game as usize], played)?;
        played += 1;
        if done + 1 < session.rounds {
            playing.push_back((session, done + 1));
            continue;
        }
        month.session_end(session.player)?;
        if let Some(next) = waiting.next() {
            playing.push_back((next, 0));
        }
    }
    ensure!(played == shape.rounds, "played {played} of {} rounds", shape.rounds);
    Ok(())
}

/// Players, their profiles (sealed), wallets and attributions.
fn players(
    tx: &Transaction<'_>,
    vault: &Vault,
    shape: &Shape,
    wallets: &[Wallet],
    currencies: &[Currency],
    loaded: &mut Loaded,
) -> Result<()> {
    let keys: Vec<DataKey> = (0..DATA_KEYS)
        .map(|i| {
            let request = ExtId::new(&format!("report-probe-key-{i}")).expect("a short id");
            vault.key_or_create(vault.request_key_id(SourceId(CASHIER_SOURCE), &request))
        })
        .collect::<Result<_, _>>()?;
    let mut player_row = tx.prepare("INSERT INTO players (player, currency) VALUES (?1, ?2)")?;
    let mut balance = tx.prepare(
        "INSERT INTO balances (player, currency, cash, bonus, reserved, loyalty_points, seq)
         VALUES (?1, ?2, ?3, 0, ?4, 0, ?5)",
    )?;
    let mut profile_row = tx.prepare(
        "INSERT INTO profiles (player, jurisdiction, status, profile, profile_by, registered_at_ms, country,
             birth_year, attributes_pending)
         VALUES (?1, ?2, 'active', ?3, 1, ?4, ?5, ?6, 0)",
    )?;
    let mut attribution = tx.prepare(
        "INSERT INTO attributions (player, brand, affiliate, tracking, seq, time_ms)
         VALUES (?1, 'default', ?2, ?3, 0, ?4)",
    )?;
    for (i, wallet) in wallets.iter().enumerate() {
        let player = i as u64 + 1;
        let h = mix(player);
        let country = country_of(h);
        let (jurisdiction, currency) = wallet_of(country);
        debug_assert_eq!(currency, currencies[i]);
        let registered_ms = match (mix(h ^ 7) % 100 < 6, wallet.first_ms) {
            (true, 0) => shape.from_ms + mix(h ^ 8) % (shape.to_ms - shape.from_ms),
            (true, first) => first.saturating_sub(mix(h ^ 8) % 21_600_000).max(shape.from_ms),
            (false, _) => shape.from_ms - (1 + mix(h ^ 8) % 365) * DAY_MS,
        };
        let affiliate = (mix(h ^ 9) % 100 < 20).then(|| 1 + mix(h ^ 10) % AFFILIATES as u64);
        let tracking = affiliate.map(|a| format!("trk{a}"));
        let profile = profile_of(player, country, tracking.clone());
        let sealed = keys[i % DATA_KEYS].seal(&serde_json::to_vec(&profile)?)?;
        player_row.execute(params![player as i64, currency.code()])?;
        balance.execute(params![
            player as i64,
            currency.code(),
            wallet.cash,
            wallet.reserved,
            wallet.last_seq as i64
        ])?;
        profile_row.execute(params![
            player as i64,
            jurisdiction,
            to_bytes(&sealed),
            registered_ms as i64,
            country,
            birth_year_of(h),
        ])?;
        if let Some(a) = affiliate {
            attribution.execute(params![
                player as i64,
                format!("aff{a}"),
                tracking,
                registered_ms as i64
            ])?;
        }
        let t = loaded.by_currency.entry(currency).or_default();
        t.cash += wallet.cash;
        t.reserved += wallet.reserved;
        t.wallets += 1;
    }
    Ok(())
}

fn profile_of(player: u64, country: &str, affiliate_code: Option<String>) -> Profile {
    let h = mix(player);
    Profile {
        name: format!("Probe Player {player}"),
        email: format!("player{player}@probe.example"),
        phone: format!("+44 7700 {:06}", player % 1_000_000),
        date_of_birth: format!(
            "{}-{:02}-{:02}",
            birth_year_of(h),
            1 + (h >> 8) % 12,
            1 + (h >> 16) % 28
        ),
        address: Address {
            line: format!("{} Probe Street", 1 + player % 200),
            city: "Valletta".into(),
            postcode: format!("VLT {:04}", player % 10_000),
        },
        country: country.into(),
        language: "en".into(),
        marketing: Consents {
            email: h.is_multiple_of(2),
            ..Consents::default()
        },
        affiliate_code,
        push_token: None,
    }
}

/// Five affiliates with a tracking code each, under two plans.
fn marketing(tx: &Transaction<'_>, from_ms: u64) -> Result<()> {
    let code = |text: &str| BonusCode::new(text).expect("a short code");
    let title = |text: &str| Title::new(text).expect("a short title");
    let set_ms = (from_ms - 400 * DAY_MS) as i64;
    for (n, currency, share_bp) in [(1, Currency::EUR, 3_000u16), (2, Currency::GBP, 2_500)] {
        let plan = CommissionPlan {
            code: code(&format!("plan{n}")),
            name: title(&format!("Plan {n}")),
            currency,
            revenue_share_bp: share_bp,
            admin_fee_bp: 1_000,
            negative_carry_over: true,
            cpa_amount: Amount::from_minor(10_000),
            cpa_threshold: Amount::from_minor(2_000),
        };
        tx.execute(
            "INSERT INTO commission_plans (code, plan, set_by_source, seq, set_ms) VALUES (?1, ?2, 1, 0, ?3)",
            params![format!("plan{n}"), to_bytes(&plan), set_ms],
        )?;
    }
    for a in 1..=AFFILIATES {
        let plan = format!("plan{}", 1 + a % 2);
        let affiliate = Affiliate {
            code: code(&format!("aff{a}")),
            name: title(&format!("Affiliate {a}")),
            contact: title(&format!("affiliate{a}@probe.example")),
            status: AffiliateStatus::Active,
            tracking_codes: vec![code(&format!("trk{a}"))],
            plan: Some(code(&plan)),
        };
        tx.execute(
            "INSERT INTO affiliates (code, status, plan, affiliate, set_by_source, seq, set_ms)
             VALUES (?1, ?2, ?3, ?4, 1, 0, ?5)",
            params![
                format!("aff{a}"),
                affiliate.status.name(),
                plan,
                to_bytes(&affiliate),
                set_ms
            ],
        )?;
        tx.execute(
            "INSERT INTO affiliate_tracking (tracking, affiliate) VALUES (?1, ?2)",
            params![format!("trk{a}"), format!("aff{a}")],
        )?;
    }
    Ok(())
}
