//! The first projection: transactions by (source, id), every movement of
//! every player's money, players and balances.
//!
//! [`apply`] folds one committed record into the tables, mirroring what the
//! ledger remembers about a request (`Ledger::transaction`): its outcome,
//! and a state that later commands move on (a bet rolled back, a deposit
//! confirmed, a withdrawal completed). Unlike the ledger, which forgets
//! requests after its idempotency retention, the tables keep everything.
//!
//! A payment's follow-ups (confirm, fail, approve, reject, complete) name
//! the payment, not the player: the player is the payment's, read from its
//! row. That is what makes deposit confirmations and withdrawal settlements
//! part of a player's history.

use std::collections::BTreeMap;

use engine::codec;
use engine::command::Command;
use engine::outcome::{Balances, Outcome, Rejection};
use engine::sequencer::Committed;
use engine::{Amount, Currency, ExtId, Ledger, PlayerId, SourceId, TxRef};
use engine::{gaming, payments, players};
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use crate::{Moved, ReadModelError};

/// What the history remembers of a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxView {
    /// Its sequence number.
    pub seq: u64,
    /// The ledger's time when it was applied, ms since the epoch.
    pub time_ms: u64,
    /// The command's kind (`bet`, `deposit_initiate` ...).
    pub kind: String,
    /// The player it concerns, if any.
    pub player: Option<PlayerId>,
    /// `done`, `rolled_back`, `tombstone`, or a payment's state
    /// (`initiated`, `confirmed`, `failed`, `requested`, `approved`,
    /// `rejected`, `completed`).
    pub state: String,
    /// The outcome it got.
    pub outcome: Outcome,
}

/// One change to a wallet (or a payment step that moved nothing).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Movement {
    /// The command's sequence number.
    pub seq: u64,
    /// The ledger's time, ms since the epoch.
    pub time_ms: u64,
    /// The wallet's currency.
    pub currency: Currency,
    /// The command's kind.
    pub kind: String,
    /// Who sent the command.
    pub source: SourceId,
    /// The command's id at that source.
    pub id: String,
    /// Cash moved (negative: taken).
    pub cash_delta: Amount,
    /// Bonus moved.
    pub bonus_delta: Amount,
    /// The wallet after the movement.
    pub balances: Balances,
    /// The game round it belongs to (bets, wins, rollbacks): the
    /// aggregator's round id and the game code. None for other movements,
    /// and for movements projected before the read model kept rounds.
    pub round: Option<(String, String)>,
}

/// Applies one committed record. `time_ms` is the ledger's clock before it
/// (the ledger never lets time go back); returns the clock after, and the
/// movement the record made, if it made one.
pub(crate) fn apply(
    tx: &Transaction<'_>,
    committed: &Committed,
    time_ms: u64,
    deferred: &mut crate::Deferred,
) -> Result<(u64, Option<Moved>), ReadModelError> {
    let envelope = &committed.envelope;
    let request = &envelope.request;
    let command = request.command.unwrapped();
    let outcome = &committed.outcome;
    let seq = envelope.seq;
    let time_ms = time_ms.max(envelope.time_ms);
    let ok = outcome.is_ok();

    if let (
        Command::Players(
            players::Command::RegisterPlayer { currency, .. }
            | players::Command::RegisterProfiled { currency, .. }
            | players::Command::RegisterAged { currency, .. },
        ),
        Outcome::Registered { player },
    ) = (command, outcome)
    {
        tx.prepare_cached("INSERT OR REPLACE INTO players (player, currency) VALUES (?1, ?2)")?
            .execute(params![player.0 as i64, currency.code()])?;
        let empty = Balances {
            currency: *currency,
            cash: Amount::ZERO,
            bonus: Amount::ZERO,
            reserved: Amount::ZERO,
            loyalty_points: 0,
        };
        deferred.balances.set(*player, &empty, seq);
    }

    // The payment a follow-up moves on, and its new state.
    let follow_up = match command {
        Command::Payments(
            payments::Command::DepositConfirm { deposit } | payments::Command::DepositConfirmChecked { deposit },
        ) => Some((deposit, "confirmed")),
        Command::Payments(payments::Command::DepositFail { deposit }) => Some((deposit, "failed")),
        Command::Payments(payments::Command::WithdrawalApprove { withdrawal }) => Some((withdrawal, "approved")),
        Command::Payments(payments::Command::WithdrawalReject { withdrawal }) => Some((withdrawal, "rejected")),
        Command::Payments(payments::Command::WithdrawalComplete { withdrawal }) => Some((withdrawal, "completed")),
        Command::Payments(payments::Command::DepositExpire { deposit, .. }) => Some((deposit, "failed")),
        // The ledger's state of a charged-back deposit stays `confirmed`
        // (the cashier view says `charged_back`).
        Command::Payments(payments::Command::DepositChargeback { deposit, .. }) => Some((deposit, "confirmed")),
        Command::Payments(payments::Command::WithdrawalApproveSecond { withdrawal, .. }) => {
            Some((withdrawal, "approved"))
        }
        Command::Payments(payments::Command::WithdrawalReverse { withdrawal, .. }) => Some((withdrawal, "rejected")),
        _ => None,
    };
    let player = match follow_up {
        Some((payment, _)) => payment_player(tx, payment)?,
        None => command.player(),
    };
    let state = match command {
        Command::Payments(payments::Command::DepositInitiate { .. }) if ok => "initiated",
        Command::Payments(payments::Command::Deposit { .. }) if ok => "confirmed",
        Command::Payments(payments::Command::WithdrawalRequest { .. }) if ok => "requested",
        _ => "done",
    };
    upsert_transaction(
        tx,
        request.source,
        &request.id,
        seq,
        time_ms,
        command.kind(),
        player,
        state,
        outcome,
    )?;

    match (command, outcome) {
        _ if follow_up.is_some() && ok => {
            if let Some((payment, state)) = follow_up {
                set_state(tx, payment.source, &payment.id, state)?;
            }
        }
        (Command::Gaming(gaming::Command::Rollback { bet, .. }), _) if ok => {
            set_state(tx, request.source, bet, "rolled_back")?
        }
        // The ledger remembers a rollback of a bet it never saw as a
        // tombstone under the bet's id: the bet, if it comes, is refused.
        (
            Command::Gaming(gaming::Command::Rollback { player, bet }),
            Outcome::Rejected(Rejection::UnknownTransaction),
        ) if *bet != request.id && find(tx, request.source, bet)?.is_none() => {
            let tombstone = Outcome::Rejected(Rejection::BetRolledBack);
            upsert_transaction(
                tx,
                request.source,
                bet,
                seq,
                time_ms,
                "bet",
                Some(*player),
                "tombstone",
                &tombstone,
            )?;
        }
        _ => {}
    }

    // In a game session with reality checks a movement is `MovedInSession`.
    let mut moved = None;
    if let (Some(receipt), Some(player)) = (outcome.receipt(), player) {
        let b = &receipt.balances;
        let (round, game) = match command {
            Command::Gaming(gaming::Command::Bet(gaming::Bet { round, .. }))
            | Command::Gaming(gaming::Command::Win(gaming::Win { round, .. })) => {
                (Some(round.id.as_str().to_owned()), Some(round.game.as_str().to_owned()))
            }
            // A rollback moves money in the round of the bet it undoes.
            Command::Gaming(gaming::Command::Rollback { bet, .. }) => bet_round(tx, request.source, bet)?.unzip(),
            _ => (None, None),
        };
        let undone = match command {
            Command::Gaming(gaming::Command::Rollback { bet, .. }) => undone_stake(tx, request.source, bet)?,
            _ => None,
        };
        let f = crate::figures::of(command, outcome, receipt, undone);
        tx.prepare_cached(
            "INSERT INTO movements (seq, player, currency, kind, source, ext_id, time_ms,
                 cash_delta, bonus_delta, cash, bonus, reserved, round, game,
                 stake, bonus_stake, prize, cash_prize, converted, jackpot, granted)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21)",
        )?
        .execute(params![
            seq as i64,
            player.0 as i64,
            b.currency.code(),
            command.kind(),
            request.source.0,
            request.id.as_str(),
            time_ms as i64,
            receipt.cash_delta.minor(),
            receipt.bonus_delta.minor(),
            b.cash.minor(),
            b.bonus.minor(),
            b.reserved.minor(),
            round,
            game,
            f.stake,
            f.bonus_stake,
            f.prize,
            f.cash_prize,
            f.converted,
            f.jackpot,
            f.granted,
        ])?;
        let movement = Moved {
            player: player.0 as i64,
            currency: b.currency.code(),
            kind: command.kind(),
            round: round.zip(game),
            cash_delta: receipt.cash_delta.minor(),
            bonus_delta: receipt.bonus_delta.minor(),
            figures: f,
        };
        deferred.sums.add(&movement, request.source, time_ms);
        deferred.balances.set(player, b, seq);
        moved = Some(movement);
    }
    crate::profiles::apply(tx, committed)?;
    crate::kyc::apply(tx, committed)?;
    crate::logins::apply(tx, committed, time_ms)?;
    crate::cashier::apply(tx, committed, time_ms)?;
    crate::methods::apply(tx, committed, time_ms)?;
    crate::risk::apply(tx, committed, time_ms, &mut deferred.rules)?;
    crate::analytics::apply(tx, committed)?;
    crate::credentials::apply(tx, committed)?;
    Ok((time_ms, moved))
}

/// The stake and its bonus share of the bet `bet` from `source`, from
/// its movement (a rollback undoes them).
fn undone_stake(tx: &Transaction<'_>, source: SourceId, bet: &ExtId) -> Result<Option<(i64, i64)>, ReadModelError> {
    let Some(view) = find(tx, source, bet)? else {
        return Ok(None);
    };
    Ok(tx
        .prepare_cached("SELECT stake, bonus_stake FROM movements WHERE seq = ?1")?
        .query_row(params![view.seq as i64], |row| {
            Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)?))
        })
        .optional()?)
}

#[allow(clippy::too_many_arguments)]
fn upsert_transaction(
    tx: &Transaction<'_>,
    source: SourceId,
    id: &ExtId,
    seq: u64,
    time_ms: u64,
    kind: &str,
    player: Option<PlayerId>,
    state: &str,
    outcome: &Outcome,
) -> Result<(), ReadModelError> {
    // A (source, id) seen again after the ledger forgot it is a new request:
    // the row is the latest one, as the ledger's lookup would be.
    tx.prepare_cached(
        "INSERT OR REPLACE INTO transactions (source, ext_id, seq, time_ms, kind, player, state, outcome)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        source.0,
        id.as_str(),
        seq as i64,
        time_ms as i64,
        kind,
        player.map(|p| p.0 as i64),
        state,
        codec::to_bytes(outcome),
    ])?;
    Ok(())
}

/// The round and game of the bet `bet` from `source`, from its movement.
fn bet_round(tx: &Transaction<'_>, source: SourceId, bet: &ExtId) -> Result<Option<(String, String)>, ReadModelError> {
    let Some(view) = find(tx, source, bet)? else {
        return Ok(None);
    };
    Ok(tx
        .prepare_cached("SELECT round, game FROM movements WHERE seq = ?1 AND round IS NOT NULL")?
        .query_row(params![view.seq as i64], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()?)
}

fn set_state(tx: &Transaction<'_>, source: SourceId, id: &ExtId, state: &str) -> Result<(), ReadModelError> {
    tx.prepare_cached("UPDATE transactions SET state = ?3 WHERE source = ?1 AND ext_id = ?2")?
        .execute(params![source.0, id.as_str(), state])?;
    Ok(())
}

fn payment_player(tx: &Transaction<'_>, payment: &TxRef) -> Result<Option<PlayerId>, ReadModelError> {
    Ok(find(tx, payment.source, &payment.id)?.and_then(|view| view.player))
}

/// The wallets a projection transaction moved, as they stand after it,
/// written once at its end ([`PendingBalances::write`], before the
/// commit): a player betting through a busy transaction is one row write
/// instead of one a movement. Nothing in the projection reads `balances`.
#[derive(Default)]
pub(crate) struct PendingBalances {
    latest: BTreeMap<(PlayerId, Currency), (Balances, u64)>,
}

impl PendingBalances {
    /// `player`'s wallet `b` after the record at `seq`.
    fn set(&mut self, player: PlayerId, b: &Balances, seq: u64) {
        self.latest.insert((player, b.currency), (*b, seq));
    }

    /// Writes the wallets the transaction moved, and forgets them.
    pub(crate) fn write(&mut self, tx: &Transaction<'_>) -> Result<(), ReadModelError> {
        for ((player, _), (b, seq)) in std::mem::take(&mut self.latest) {
            upsert_balances(tx, player, &b, seq)?;
        }
        Ok(())
    }
}

fn upsert_balances(tx: &Transaction<'_>, player: PlayerId, b: &Balances, seq: u64) -> Result<(), ReadModelError> {
    tx.prepare_cached(
        "INSERT OR REPLACE INTO balances (player, currency, cash, bonus, reserved, loyalty_points, seq)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        player.0 as i64,
        b.currency.code(),
        b.cash.minor(),
        b.bonus.minor(),
        b.reserved.minor(),
        b.loyalty_points as i64,
        seq as i64,
    ])?;
    Ok(())
}

/// Seeds players and balances from a ledger restored from a snapshot, when
/// the journal before it is gone (its segments were retired).
pub(crate) fn seed(tx: &Transaction<'_>, ledger: &Ledger) -> Result<(), ReadModelError> {
    for id in 1..=ledger.players_len() as u64 {
        let player = PlayerId(id);
        let mut registered = false;
        for &currency in Currency::ALL {
            if let Ok(balances) = ledger.balances(player, currency) {
                if !registered {
                    tx.prepare_cached("INSERT OR REPLACE INTO players (player, currency) VALUES (?1, ?2)")?
                        .execute(params![id as i64, currency.code()])?;
                    registered = true;
                }
                upsert_balances(tx, player, &balances, ledger.last_seq())?;
            }
        }
    }
    crate::profiles::seed(tx, ledger)?;
    crate::kyc::seed(tx, ledger)
}

fn find(connection: &Connection, source: SourceId, id: &ExtId) -> Result<Option<TxView>, ReadModelError> {
    let row = connection
        .prepare_cached(
            "SELECT seq, time_ms, kind, player, state, outcome FROM transactions WHERE source = ?1 AND ext_id = ?2",
        )?
        .query_row(params![source.0, id.as_str()], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, i64>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, Option<i64>>(3)?,
                row.get::<_, String>(4)?,
                row.get::<_, Vec<u8>>(5)?,
            ))
        })
        .optional()?;
    let Some((seq, time_ms, kind, player, state, outcome)) = row else {
        return Ok(None);
    };
    let outcome = codec::from_bytes::<Outcome>(&outcome).map_err(|e| ReadModelError::Damaged(e.to_string()))?;
    Ok(Some(TxView {
        seq: seq as u64,
        time_ms: time_ms as u64,
        kind,
        player: player.map(|p| PlayerId(p as u64)),
        state,
        outcome,
    }))
}

/// What the history remembers of request `id` from `source`.
pub fn transaction(connection: &Connection, tx: &TxRef) -> Result<Option<TxView>, ReadModelError> {
    find(connection, tx.source, &tx.id)
}

/// A wallet's balances, or why there is none (as the ledger would say).
pub fn balances(
    connection: &Connection,
    player: PlayerId,
    currency: Currency,
) -> Result<Result<Balances, Rejection>, ReadModelError> {
    let registered: Option<String> = connection
        .query_row(
            "SELECT currency FROM players WHERE player = ?1",
            params![player.0 as i64],
            |row| row.get(0),
        )
        .optional()?;
    if registered.is_none() {
        return Ok(Err(Rejection::UnknownPlayer));
    }
    let row = connection
        .query_row(
            "SELECT cash, bonus, reserved, loyalty_points FROM balances WHERE player = ?1 AND currency = ?2",
            params![player.0 as i64, currency.code()],
            |row| {
                Ok(Balances {
                    currency,
                    cash: Amount::from_minor(row.get(0)?),
                    bonus: Amount::from_minor(row.get(1)?),
                    reserved: Amount::from_minor(row.get(2)?),
                    loyalty_points: row.get::<_, i64>(3)? as u64,
                })
            },
        )
        .optional()?;
    Ok(row.ok_or(Rejection::CurrencyMismatch { currency }))
}

/// Whether `player` is registered.
pub fn player_exists(connection: &Connection, player: PlayerId) -> Result<bool, ReadModelError> {
    Ok(connection
        .query_row(
            "SELECT 1 FROM players WHERE player = ?1",
            params![player.0 as i64],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

/// Which of a player's movements to read: oldest first, after a sequence
/// number (paging), within a time range, in one currency or all.
#[derive(Clone, Debug, Default)]
pub struct MovementFilter {
    /// Only this wallet.
    pub currency: Option<Currency>,
    /// Only after this sequence number.
    pub after_seq: u64,
    /// Only at or after this time, ms since the epoch.
    pub from_ms: Option<u64>,
    /// Only before this time.
    pub to_ms: Option<u64>,
}

/// A player's movements after `after_seq`, oldest first, at most `limit`,
/// in one currency or all.
pub fn movements(
    connection: &Connection,
    player: PlayerId,
    currency: Option<Currency>,
    after_seq: u64,
    limit: usize,
) -> Result<Vec<Movement>, ReadModelError> {
    let filter = MovementFilter {
        currency,
        after_seq,
        ..MovementFilter::default()
    };
    movements_matching(connection, player, &filter, limit)
}

/// A player's movements that `filter` selects, oldest first, at most `limit`.
pub fn movements_matching(
    connection: &Connection,
    player: PlayerId,
    filter: &MovementFilter,
    limit: usize,
) -> Result<Vec<Movement>, ReadModelError> {
    let sql = format!(
        "SELECT {MOVEMENT_COLUMNS} FROM movements
         WHERE player = ?1 AND seq > ?2 AND (?3 IS NULL OR currency = ?3)
           AND (?4 IS NULL OR time_ms >= ?4) AND (?5 IS NULL OR time_ms < ?5)
         ORDER BY seq LIMIT ?6"
    );
    let mut statement = connection.prepare_cached(&sql)?;
    let rows = statement.query_map(
        params![
            player.0 as i64,
            clamp(filter.after_seq),
            filter.currency.map(Currency::code),
            filter.from_ms.map(clamp),
            filter.to_ms.map(clamp),
            limit as i64
        ],
        movement_row,
    )?;
    rows.map(|row| row?).collect()
}

/// A number from the wire as SQLite's integer (which is signed).
pub(crate) fn clamp(value: u64) -> i64 {
    value.min(i64::MAX as u64) as i64
}

pub(crate) const MOVEMENT_COLUMNS: &str =
    "seq, time_ms, currency, kind, source, ext_id, cash_delta, bonus_delta, cash, bonus, reserved, round, game";

/// One row of [`MOVEMENT_COLUMNS`].
pub(crate) fn movement_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Result<Movement, ReadModelError>> {
    let currency: String = row.get(2)?;
    let Some(currency) = Currency::from_code(&currency) else {
        return Ok(Err(ReadModelError::Damaged(format!("currency {currency}"))));
    };
    let amount = |i| row.get::<_, i64>(i).map(Amount::from_minor);
    let round: Option<String> = row.get(11)?;
    let game: Option<String> = row.get(12)?;
    Ok(Ok(Movement {
        seq: row.get::<_, i64>(0)? as u64,
        time_ms: row.get::<_, i64>(1)? as u64,
        currency,
        kind: row.get(3)?,
        source: SourceId(row.get(4)?),
        id: row.get(5)?,
        cash_delta: amount(6)?,
        bonus_delta: amount(7)?,
        balances: Balances {
            currency,
            cash: amount(8)?,
            bonus: amount(9)?,
            reserved: amount(10)?,
            loyalty_points: 0,
        },
        round: round.zip(game),
    }))
}

/// A wallet's balances at a past moment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BalanceAt {
    /// The balances after the last movement at or before the moment (all
    /// zero before the wallet's first movement), and that movement's
    /// sequence number (0: none).
    Known(Balances, u64),
    /// The read model's history starts after the moment (the journal before
    /// it was retired): the balances then are not known here.
    BeforeHistory,
}

/// Each of `player`'s wallets as it was at `at_ms` (after every movement
/// stamped at or before it), base currency first; None for an unknown player.
pub fn balances_at(
    connection: &Connection,
    player: PlayerId,
    at_ms: u64,
) -> Result<Option<Vec<BalanceAt>>, ReadModelError> {
    let base: Option<String> = connection
        .prepare_cached("SELECT currency FROM players WHERE player = ?1")?
        .query_row(params![player.0 as i64], |row| row.get(0))
        .optional()?;
    let Some(base) = base else { return Ok(None) };
    let mut wallets: Vec<String> = connection
        .prepare_cached("SELECT currency FROM balances WHERE player = ?1 ORDER BY currency")?
        .query_map(params![player.0 as i64], |row| row.get(0))?
        .collect::<Result<_, _>>()?;
    wallets.sort_by_key(|code| *code != base);
    let whole_history = crate::store::checkpoint(connection)?.history_from_seq <= 1;
    let sql = format!(
        "SELECT {MOVEMENT_COLUMNS} FROM movements
         WHERE player = ?1 AND currency = ?2 AND time_ms <= ?3 ORDER BY time_ms DESC, seq DESC LIMIT 1"
    );
    let mut statement = connection.prepare_cached(&sql)?;
    let mut found = Vec::new();
    for code in wallets {
        let currency = Currency::from_code(&code).ok_or_else(|| ReadModelError::Damaged(format!("currency {code}")))?;
        let last = statement
            .query_row(params![player.0 as i64, code, clamp(at_ms)], movement_row)
            .optional()?
            .transpose()?;
        found.push(match last {
            Some(movement) => BalanceAt::Known(movement.balances, movement.seq),
            None if whole_history => BalanceAt::Known(
                Balances {
                    currency,
                    cash: Amount::ZERO,
                    bonus: Amount::ZERO,
                    reserved: Amount::ZERO,
                    loyalty_points: 0,
                },
                0,
            ),
            None => BalanceAt::BeforeHistory,
        });
    }
    Ok(Some(found))
}

/// Which game rounds to read.
#[derive(Clone, Debug, Default)]
pub struct RoundFilter {
    /// Only rounds with a movement at or after this time, ms since the epoch.
    pub from_ms: Option<u64>,
    /// Only rounds with a movement before this time.
    pub to_ms: Option<u64>,
    /// Only this game.
    pub game: Option<String>,
    /// Only rounds with a movement of this kind (`bet`, `win`, `rollback`).
    pub kind: Option<String>,
    /// Only rounds whose last selected movement is before this sequence
    /// number (paging, newest first: a round is on one page only, the one
    /// its last selected movement puts it on).
    pub before_seq: u64,
}

/// A game round of one player: its movements, oldest first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoundView {
    /// The aggregator (the source that sent the round's commands).
    pub aggregator: SourceId,
    /// The aggregator's round id.
    pub round: String,
    /// The game code.
    pub game: String,
    /// The sequence number of its last movement the filter selected (the
    /// page cursor).
    pub last_seq: u64,
    /// Every movement of the round: bets, wins, rollbacks.
    pub movements: Vec<Movement>,
}

/// A player's game rounds that `filter` selects, the most recently played
/// first, at most `limit`.
pub fn rounds(
    connection: &Connection,
    player: PlayerId,
    filter: &RoundFilter,
    limit: usize,
) -> Result<Vec<RoundView>, ReadModelError> {
    let mut statement = connection.prepare_cached(
        "SELECT source, round, game, MAX(seq) AS last FROM movements
         WHERE player = ?1 AND round IS NOT NULL
           AND (?2 IS NULL OR time_ms >= ?2) AND (?3 IS NULL OR time_ms < ?3)
           AND (?4 IS NULL OR game = ?4) AND (?5 IS NULL OR kind = ?5)
         GROUP BY source, round, game HAVING last < ?6 ORDER BY last DESC LIMIT ?7",
    )?;
    let heads = statement
        .query_map(
            params![
                player.0 as i64,
                filter.from_ms.map(clamp),
                filter.to_ms.map(clamp),
                filter.game,
                filter.kind,
                clamp(filter.before_seq),
                limit as i64
            ],
            |row| {
                Ok((
                    row.get::<_, u32>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, i64>(3)?,
                ))
            },
        )?
        .collect::<Result<Vec<_>, _>>()?;
    let sql = format!(
        "SELECT {MOVEMENT_COLUMNS} FROM movements
         WHERE player = ?1 AND source = ?2 AND round = ?3 AND game = ?4 ORDER BY seq"
    );
    let mut moves = connection.prepare_cached(&sql)?;
    let mut rounds = Vec::with_capacity(heads.len());
    for (source, round, game, last) in heads {
        let movements = moves
            .query_map(params![player.0 as i64, source, round, game], movement_row)?
            .map(|row| row?)
            .collect::<Result<Vec<_>, _>>()?;
        rounds.push(RoundView {
            aggregator: SourceId(source),
            round,
            game,
            last_seq: last as u64,
            movements,
        });
    }
    Ok(rounds)
}
