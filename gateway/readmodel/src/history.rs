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

use engine::codec;
use engine::command::Command;
use engine::outcome::{Balances, Outcome, Rejection};
use engine::sequencer::Committed;
use engine::{Amount, Currency, ExtId, Ledger, PlayerId, SourceId, TxRef};
use engine::{gaming, payments, players};
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use crate::ReadModelError;

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
}

/// Applies one committed record. `time_ms` is the ledger's clock before it
/// (the ledger never lets time go back); returns the clock after.
pub(crate) fn apply(tx: &Transaction<'_>, committed: &Committed, time_ms: u64) -> Result<u64, ReadModelError> {
    let envelope = &committed.envelope;
    let request = &envelope.request;
    let command = request.command.unwrapped();
    let outcome = &committed.outcome;
    let seq = envelope.seq;
    let time_ms = time_ms.max(envelope.time_ms);
    let ok = outcome.is_ok();

    if let (
        Command::Players(
            players::Command::RegisterPlayer { currency, .. } | players::Command::RegisterProfiled { currency, .. },
        ),
        Outcome::Registered { player },
    ) = (command, outcome)
    {
        tx.prepare_cached("INSERT OR REPLACE INTO players (player, currency) VALUES (?1, ?2)")?
            .execute(params![player.0 as i64, currency.code()])?;
        tx.prepare_cached(
            "INSERT OR REPLACE INTO balances (player, currency, cash, bonus, reserved, loyalty_points, seq)
             VALUES (?1, ?2, 0, 0, 0, 0, ?3)",
        )?
        .execute(params![player.0 as i64, currency.code(), seq as i64])?;
    }

    // The payment a follow-up moves on, and its new state.
    let follow_up = match command {
        Command::Payments(payments::Command::DepositConfirm { deposit }) => Some((deposit, "confirmed")),
        Command::Payments(payments::Command::DepositFail { deposit }) => Some((deposit, "failed")),
        Command::Payments(payments::Command::WithdrawalApprove { withdrawal }) => Some((withdrawal, "approved")),
        Command::Payments(payments::Command::WithdrawalReject { withdrawal }) => Some((withdrawal, "rejected")),
        Command::Payments(payments::Command::WithdrawalComplete { withdrawal }) => Some((withdrawal, "completed")),
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

    if let (Outcome::Moved(receipt), Some(player)) = (outcome, player) {
        let b = &receipt.balances;
        tx.prepare_cached(
            "INSERT OR REPLACE INTO movements (seq, player, currency, kind, source, ext_id, time_ms,
                 cash_delta, bonus_delta, cash, bonus, reserved)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
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
        ])?;
        upsert_balances(tx, player, b, seq)?;
    }
    crate::profiles::apply(tx, committed)?;
    crate::kyc::apply(tx, committed)?;
    Ok(time_ms)
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

fn set_state(tx: &Transaction<'_>, source: SourceId, id: &ExtId, state: &str) -> Result<(), ReadModelError> {
    tx.prepare_cached("UPDATE transactions SET state = ?3 WHERE source = ?1 AND ext_id = ?2")?
        .execute(params![source.0, id.as_str(), state])?;
    Ok(())
}

fn payment_player(tx: &Transaction<'_>, payment: &TxRef) -> Result<Option<PlayerId>, ReadModelError> {
    Ok(find(tx, payment.source, &payment.id)?.and_then(|view| view.player))
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

/// A player's movements after `after_seq`, oldest first, at most `limit`,
/// in one currency or all.
pub fn movements(
    connection: &Connection,
    player: PlayerId,
    currency: Option<Currency>,
    after_seq: u64,
    limit: usize,
) -> Result<Vec<Movement>, ReadModelError> {
    let mut statement = connection.prepare_cached(
        "SELECT seq, time_ms, currency, kind, source, ext_id, cash_delta, bonus_delta, cash, bonus, reserved
         FROM movements
         WHERE player = ?1 AND seq > ?2 AND (?3 IS NULL OR currency = ?3)
         ORDER BY seq LIMIT ?4",
    )?;
    let rows = statement.query_map(
        params![
            player.0 as i64,
            after_seq as i64,
            currency.map(Currency::code),
            limit as i64
        ],
        |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, i64>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, String>(3)?,
                row.get::<_, u32>(4)?,
                row.get::<_, String>(5)?,
                [
                    row.get::<_, i64>(6)?,
                    row.get::<_, i64>(7)?,
                    row.get::<_, i64>(8)?,
                    row.get::<_, i64>(9)?,
                    row.get::<_, i64>(10)?,
                ],
            ))
        },
    )?;
    let mut movements = Vec::new();
    for row in rows {
        let (seq, time_ms, currency, kind, source, id, [cash_delta, bonus_delta, cash, bonus, reserved]) = row?;
        let currency =
            Currency::from_code(&currency).ok_or_else(|| ReadModelError::Damaged(format!("currency {currency}")))?;
        movements.push(Movement {
            seq: seq as u64,
            time_ms: time_ms as u64,
            currency,
            kind,
            source: SourceId(source),
            id,
            cash_delta: Amount::from_minor(cash_delta),
            bonus_delta: Amount::from_minor(bonus_delta),
            balances: Balances {
                currency,
                cash: Amount::from_minor(cash),
                bonus: Amount::from_minor(bonus),
                reserved: Amount::from_minor(reserved),
                loyalty_points: 0,
            },
        });
    }
    Ok(movements)
}
