//! Support: tickets with their messages and changes, operators' internal
//! notes on players, and each player's timeline.
//!
//! Tickets and notes are journaled (`engine::support`) and derived here,
//! so a rebuild loses none. The ledger checks only their shape; what it
//! cannot see is checked here again: a change or message for a ticket
//! that does not exist or is closed changes nothing, and a change from an
//! external ticketing system older than the ticket's last one is skipped
//! (webhooks arrive out of order), the same on every rebuild.
//!
//! The timeline (`player_timeline`) is one row per accepted journal record
//! about a player, in journal order (the ledger's time never goes back),
//! with a kind to filter on: registration, login, payment, round, bonus,
//! rg, kyc, account, ticket, note, risk, jackpot, session. A game round is
//! one row (at its first record) whose stake and win sums grow with its
//! bets, wins and rollbacks, so a player's thousand spins do not bury the
//! rest. Its migration is in `store::REBUILT_BEFORE`: an older file is
//! rebuilt, so every timeline starts at the player's registration.

use std::collections::BTreeMap;

use engine::sequencer::Committed;
use engine::support::{self, Author, TicketChange, TicketStatus};
use engine::{Amount, Command, Currency, OperatorId, Outcome, PlayerId, TxRef, gaming, payments, players};
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use crate::{Moved, ReadModelError};

/// The outbound sync's state of each ticket (appended to
/// `store::MIGRATIONS`): the last record made here (owed to the external
/// ticketing system), the last one that system holds, and why it refused
/// the next. The outbox is the events past `sync_through` that were made
/// here (`operator` not 0), of the tickets whose `sync_last` is past it.
/// A file made before it is rebuilt (`store::REBUILT_BEFORE`), so every
/// ticket made here is owed, whenever it was opened.
pub(crate) const SYNC_MIGRATION: &str = "ALTER TABLE support_tickets ADD COLUMN sync_last INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE support_tickets ADD COLUMN sync_through INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE support_tickets ADD COLUMN sync_failure TEXT;
    CREATE INDEX support_tickets_sync_owed ON support_tickets (id)
        WHERE sync_last > sync_through AND sync_failure IS NULL;";

/// The schema migration that creates the tables (appended to
/// `store::MIGRATIONS`).
pub(crate) const MIGRATION: &str = "CREATE TABLE support_tickets (
        id INTEGER PRIMARY KEY,
        player INTEGER NOT NULL,
        subject TEXT NOT NULL,
        status TEXT NOT NULL,
        priority TEXT NOT NULL,
        assignee INTEGER,
        external TEXT UNIQUE,
        external_ms INTEGER NOT NULL DEFAULT 0,
        opened_by INTEGER NOT NULL,
        opened_ms INTEGER NOT NULL,
        updated_ms INTEGER NOT NULL
    );
    CREATE INDEX support_tickets_by_player ON support_tickets (player, id);
    CREATE INDEX support_tickets_by_status ON support_tickets (status, id);
    CREATE INDEX support_tickets_by_assignee ON support_tickets (assignee, id);
    CREATE TABLE support_ticket_events (
        seq INTEGER PRIMARY KEY,
        ticket INTEGER NOT NULL,
        time_ms INTEGER NOT NULL,
        operator INTEGER NOT NULL,
        kind TEXT NOT NULL,
        author TEXT,
        author_operator INTEGER,
        author_name TEXT,
        text TEXT NOT NULL
    );
    CREATE INDEX support_ticket_events_by_ticket ON support_ticket_events (ticket, seq);
    CREATE TABLE support_notes (
        seq INTEGER PRIMARY KEY,
        player INTEGER NOT NULL,
        operator INTEGER NOT NULL,
        time_ms INTEGER NOT NULL,
        text TEXT NOT NULL
    );
    CREATE INDEX support_notes_by_player ON support_notes (player, seq);
    CREATE TABLE player_timeline (
        player INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        time_ms INTEGER NOT NULL,
        kind TEXT NOT NULL,
        event TEXT NOT NULL,
        detail TEXT,
        operator INTEGER,
        round TEXT,
        currency TEXT,
        stake_minor INTEGER,
        win_minor INTEGER,
        last_seq INTEGER NOT NULL,
        PRIMARY KEY (player, seq)
    ) WITHOUT ROWID;
    CREATE INDEX player_timeline_rounds ON player_timeline (player, round) WHERE round IS NOT NULL;
    CREATE INDEX player_timeline_by_kind ON player_timeline (player, kind, seq);";

/// Every timeline kind, in the order the back office lists them.
pub const TIMELINE_KINDS: &[&str] = &[
    "registration",
    "login",
    "payment",
    "round",
    "bonus",
    "jackpot",
    "rg",
    "kyc",
    "account",
    "session",
    "ticket",
    "note",
    "risk",
];

/// A ticket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TicketView {
    /// Its id: the sequence number of its opening record.
    pub id: u64,
    /// The player.
    pub player: PlayerId,
    /// What it is about.
    pub subject: String,
    /// open, pending, solved, closed.
    pub status: String,
    /// low, normal, high, urgent.
    pub priority: String,
    /// The operator working it.
    pub assignee: Option<u64>,
    /// The external ticketing system's id of it.
    pub external: Option<String>,
    /// The time of its newest external change, ms (0: none).
    pub external_ms: u64,
    /// Who opened it.
    pub opened_by: u64,
    /// When, ms since the epoch.
    pub opened_ms: u64,
    /// When it last changed.
    pub updated_ms: u64,
    /// The last of its records made here (not from the external
    /// ticketing system), owed to that system (0: none).
    pub sync_last: u64,
    /// The last of its records the external ticketing system holds.
    pub sync_through: u64,
    /// Why the external system refused the next push, if it did.
    pub sync_failure: Option<String>,
}

/// One thing that happened to a ticket: its opening, a message, a change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TicketEvent {
    /// Its journal record.
    pub seq: u64,
    /// When, ms since the epoch.
    pub time_ms: u64,
    /// The operator who recorded it (0: the system, for a webhook).
    pub operator: u64,
    /// opened, message, assigned, status, priority.
    pub kind: String,
    /// A message's author: player, operator, external.
    pub author: Option<String>,
    /// An operator author's id.
    pub author_operator: Option<u64>,
    /// An external author's name.
    pub author_name: Option<String>,
    /// The message, or what changed.
    pub text: String,
}

/// A ticket with its events, oldest first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TicketFile {
    /// The ticket.
    pub ticket: TicketView,
    /// Its events.
    pub events: Vec<TicketEvent>,
}

/// Which tickets.
#[derive(Clone, Debug, Default)]
pub struct TicketFilter {
    /// Only in this status.
    pub status: Option<String>,
    /// Only assigned to this operator.
    pub assignee: Option<u64>,
    /// Only this player's.
    pub player: Option<PlayerId>,
    /// Only with this priority.
    pub priority: Option<String>,
    /// Only those with a larger id.
    pub after_id: u64,
    /// At most this many, oldest first.
    pub limit: u32,
}

/// An internal note on a player.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoteView {
    /// Its id: its record's sequence number.
    pub id: u64,
    /// The player.
    pub player: PlayerId,
    /// Who wrote it.
    pub operator: u64,
    /// When, ms since the epoch.
    pub time_ms: u64,
    /// The text.
    pub text: String,
}

/// One event on a player's timeline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimelineEntry {
    /// Its journal record (a round's: its first).
    pub seq: u64,
    /// When, ms since the epoch.
    pub time_ms: u64,
    /// Its kind ([`TIMELINE_KINDS`]).
    pub kind: String,
    /// The command's kind (`deposit`, `set_limit`, …; a round: `round`).
    pub event: String,
    /// What happened, in words.
    pub detail: Option<String>,
    /// The operator who did it, if one did.
    pub operator: Option<u64>,
    /// A round's id.
    pub round: Option<String>,
    /// A round's currency.
    pub currency: Option<String>,
    /// A round's stakes (less rollbacks), minor units.
    pub stake_minor: Option<i64>,
    /// A round's wins, minor units.
    pub win_minor: Option<i64>,
    /// The newest record it sums (the record itself but for a round).
    pub last_seq: u64,
}

/// Which timeline entries.
#[derive(Clone, Debug, Default)]
pub struct TimelineFilter {
    /// Only of these kinds (empty: all).
    pub kinds: Vec<String>,
    /// Only those after this seq (the last of the previous page).
    pub after_seq: u64,
    /// At most this many, oldest first.
    pub limit: u32,
}

/// Projects one committed record: tickets, messages, notes, the timeline.
/// `moved` is the movement the history projection made of it.
pub(crate) fn apply(
    tx: &Transaction<'_>,
    committed: &Committed,
    moved: Option<&Moved>,
    rounds: &mut PendingRounds,
) -> Result<(), ReadModelError> {
    if !committed.outcome.is_ok() {
        return Ok(());
    }
    let command = committed.envelope.request.command.unwrapped();
    if let Command::Support(command) = command {
        project_support(tx, committed, command)?;
    }
    timeline(tx, committed, command, moved, rounds)
}

fn project_support(
    tx: &Transaction<'_>,
    committed: &Committed,
    command: &support::Command,
) -> Result<(), ReadModelError> {
    let (seq, time_ms) = (committed.envelope.seq as i64, committed.envelope.time_ms as i64);
    match command {
        support::Command::OpenTicket {
            player,
            subject,
            priority,
            external,
            operator,
        } => {
            let Outcome::TicketOpened { ticket } = committed.outcome else {
                return Ok(());
            };
            // A retry is answered from the deduplication table with the
            // first opening's id: that ticket exists already.
            if ticket as i64 != seq {
                return Ok(());
            }
            let external = external.as_ref().map(|e| e.as_str());
            let taken = match external {
                Some(e) => find_external(tx, e)?.is_some(),
                None => false,
            };
            if taken {
                return Ok(());
            }
            // Made here: owed to the external ticketing system.
            let owed = if external.is_none() && *operator != OperatorId::SYSTEM {
                seq
            } else {
                0
            };
            tx.prepare_cached(
                "INSERT INTO support_tickets (id, player, subject, status, priority, external, opened_by,
                     opened_ms, updated_ms, sync_last) VALUES (?1, ?2, ?3, 'open', ?4, ?5, ?6, ?7, ?7, ?8)",
            )?
            .execute(params![
                seq,
                player.0 as i64,
                subject.as_str(),
                priority.name(),
                external,
                operator.0,
                time_ms,
                owed
            ])?;
            event(tx, committed, seq, operator.0, "opened", None, subject.as_str())
        }
        support::Command::UpdateTicket {
            ticket,
            change,
            external_ms,
            operator,
        } => {
            let Some(view) = ticket_row(tx, *ticket)? else {
                return Ok(());
            };
            let stale = *external_ms != 0 && *external_ms < view.external_ms;
            if view.status == TicketStatus::Closed.name() || stale {
                return Ok(());
            }
            let (sql, kind, text) = match change {
                TicketChange::Assign { assignee } => (
                    "UPDATE support_tickets SET assignee = ?2 WHERE id = ?1",
                    "assigned",
                    assignee.map_or_else(|| "unassigned".to_owned(), |a| format!("assigned to operator {}", a.0)),
                ),
                TicketChange::Status { status } => (
                    "UPDATE support_tickets SET status = ?2 WHERE id = ?1",
                    "status",
                    format!("status {} -> {}", view.status, status.name()),
                ),
                TicketChange::Priority { priority } => (
                    "UPDATE support_tickets SET priority = ?2 WHERE id = ?1",
                    "priority",
                    format!("priority {} -> {}", view.priority, priority.name()),
                ),
            };
            let value: rusqlite::types::Value = match change {
                TicketChange::Assign { assignee } => assignee.map_or(rusqlite::types::Value::Null, |a| a.0.into()),
                TicketChange::Status { status } => status.name().to_owned().into(),
                TicketChange::Priority { priority } => priority.name().to_owned().into(),
            };
            tx.prepare_cached(sql)?.execute(params![*ticket as i64, value])?;
            tx.prepare_cached(
                "UPDATE support_tickets SET updated_ms = ?2, external_ms = MAX(external_ms, ?3) WHERE id = ?1",
            )?
            .execute(params![*ticket as i64, time_ms, *external_ms as i64])?;
            owe(tx, *ticket, seq, *operator)?;
            event(tx, committed, *ticket as i64, operator.0, kind, None, &text)
        }
        support::Command::AddMessage {
            ticket,
            author,
            text,
            operator,
        } => {
            let Some(view) = ticket_row(tx, *ticket)? else {
                return Ok(());
            };
            if view.status == TicketStatus::Closed.name() {
                return Ok(());
            }
            tx.prepare_cached("UPDATE support_tickets SET updated_ms = ?2 WHERE id = ?1")?
                .execute(params![*ticket as i64, time_ms])?;
            owe(tx, *ticket, seq, *operator)?;
            event(
                tx,
                committed,
                *ticket as i64,
                operator.0,
                "message",
                Some(author),
                text.as_str(),
            )
        }
        support::Command::AddNote { player, text, operator } => {
            tx.prepare_cached(
                "INSERT INTO support_notes (seq, player, operator, time_ms, text) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![seq, player.0 as i64, operator.0, time_ms, text.as_str()])?;
            Ok(())
        }
        support::Command::TicketSynced {
            ticket,
            external,
            through_seq,
            failure,
        } => {
            let Some(view) = ticket_row(tx, *ticket)? else {
                return Ok(());
            };
            // The first link stays; an id another ticket holds is not taken.
            let external = match external.as_ref().map(|e| e.as_str()) {
                Some(e) if view.external.is_none() && find_external(tx, e)?.is_none() => Some(e),
                _ => None,
            };
            tx.prepare_cached(
                "UPDATE support_tickets SET external = COALESCE(external, ?2),
                     sync_through = MAX(sync_through, ?3), sync_failure = ?4 WHERE id = ?1",
            )?
            .execute(params![
                *ticket as i64,
                external,
                *through_seq as i64,
                failure.as_ref().map(|f| f.as_str())
            ])?;
            Ok(())
        }
    }
}

/// Marks a ticket's change made here (not by the system, which records
/// what the external ticketing system sent) as owed to that system; a
/// refused push is tried again with it.
fn owe(tx: &Transaction<'_>, ticket: u64, seq: i64, operator: OperatorId) -> Result<(), ReadModelError> {
    if operator != OperatorId::SYSTEM {
        tx.prepare_cached("UPDATE support_tickets SET sync_last = ?2, sync_failure = NULL WHERE id = ?1")?
            .execute(params![ticket as i64, seq])?;
    }
    Ok(())
}

fn event(
    tx: &Transaction<'_>,
    committed: &Committed,
    ticket: i64,
    operator: u32,
    kind: &str,
    author: Option<&Author>,
    text: &str,
) -> Result<(), ReadModelError> {
    let (author_operator, author_name) = match author {
        Some(Author::Operator(id)) => (Some(id.0), None),
        Some(Author::External(name)) => (None, Some(name.as_str())),
        _ => (None, None),
    };
    tx.prepare_cached(
        "INSERT OR REPLACE INTO support_ticket_events (seq, ticket, time_ms, operator, kind, author,
             author_operator, author_name, text) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        committed.envelope.seq as i64,
        ticket,
        committed.envelope.time_ms as i64,
        operator,
        kind,
        author.map(Author::kind),
        author_operator,
        author_name,
        text
    ])?;
    Ok(())
}

/// The kind of timeline entry `command` makes, if it is one.
fn timeline_kind(command: &Command) -> Option<&'static str> {
    Some(match command {
        Command::Players(command) => match command {
            players::Command::RegisterPlayer { .. }
            | players::Command::RegisterProfiled { .. }
            | players::Command::RegisterAged { .. } => "registration",
            players::Command::RecordLogin { .. } | players::Command::RecordLogout { .. } => "login",
            players::Command::SetKyc { .. }
            | players::Command::StartKycCheck { .. }
            | players::Command::SetKycLevel { .. }
            | players::Command::RecordKycDocument { .. }
            | players::Command::ApplyKycVerdict { .. }
            | players::Command::RecordDueDiligence { .. } => "kyc",
            _ => "account",
        },
        Command::Payments(_) => "payment",
        Command::Gaming(_) => "round",
        // Marker alerts and interventions are responsible gambling too.
        Command::Rg(_) | Command::Analytics(_) => "rg",
        Command::Marketing(_) => "account",
        Command::Bonus(_) => "bonus",
        Command::Jackpots(_) => "jackpot",
        Command::Access(_) => "session",
        Command::Risk(_) => "risk",
        Command::Support(support::Command::AddNote { .. }) => "note",
        // The sync's bookkeeping is no event of the player's.
        Command::Support(support::Command::TicketSynced { .. }) => return None,
        Command::Support(_) => "ticket",
        Command::Games(_) | Command::Query(_) | Command::InSession { .. } => return None,
    })
}

/// The player a record is about: named by the command, registered by it,
/// the payment's (a settlement names its payment), or the ticket's.
fn player_of(
    tx: &Transaction<'_>,
    committed: &Committed,
    command: &Command,
) -> Result<Option<PlayerId>, ReadModelError> {
    if let Outcome::Registered { player } = committed.outcome {
        return Ok(Some(player));
    }
    if let Some(player) = command.player() {
        return Ok(Some(player));
    }
    match command {
        Command::Payments(command) => match settled(command) {
            Some(payment) => Ok(tx
                .prepare_cached("SELECT player FROM cashier_payments WHERE source = ?1 AND ext_id = ?2")?
                .query_row(params![payment.source.0, payment.id.as_str()], |row| {
                    row.get::<_, i64>(0)
                })
                .optional()?
                .map(|p| PlayerId(p as u64))),
            None => Ok(None),
        },
        Command::Support(command) => match command.ticket() {
            Some(ticket) => Ok(ticket_row(tx, ticket)?.map(|t| t.player)),
            None => Ok(None),
        },
        _ => Ok(None),
    }
}

/// The payment a settlement names.
fn settled(command: &payments::Command) -> Option<&TxRef> {
    use payments::Command as P;
    match command {
        P::DepositConfirm { deposit }
        | P::DepositFail { deposit, .. }
        | P::DepositExpire { deposit, .. }
        | P::DepositChargeback { deposit, .. }
        | P::DepositConfirmChecked { deposit } => Some(deposit),
        P::WithdrawalApprove { withdrawal, .. }
        | P::WithdrawalReject { withdrawal, .. }
        | P::WithdrawalComplete { withdrawal, .. }
        | P::WithdrawalFirstApproval { withdrawal, .. }
        | P::WithdrawalApproveSecond { withdrawal, .. } => Some(withdrawal),
        P::PaymentReference { payment, .. } | P::PaymentMethodUse { payment, .. } => Some(payment),
        _ => None,
    }
}

/// The operator whose requests carry the record's source, if one does
/// (the audit trail, projected first, keeps them).
fn operator_of(tx: &Transaction<'_>, committed: &Committed) -> Result<Option<u32>, ReadModelError> {
    Ok(tx
        .prepare_cached("SELECT operator FROM operators WHERE source = ?1")?
        .query_row(params![committed.envelope.request.source.0], |row| row.get(0))
        .optional()?)
}

fn money(amount: Amount, currency: Currency) -> String {
    format!("{} {currency}", amount.to_decimal(currency))
}

/// What a record did, in words, where more than its kind says it.
fn detail(command: &Command, outcome: &Outcome) -> Option<String> {
    use payments::Command as P;
    match command {
        Command::Payments(
            P::DepositInitiate { currency, amount, .. }
            | P::Deposit { currency, amount, .. }
            | P::WithdrawalRequest { currency, amount, .. },
        ) => Some(money(*amount, *currency)),
        Command::Support(support::Command::OpenTicket { subject, .. }) => Some(subject.as_str().to_owned()),
        Command::Support(support::Command::AddNote { text, .. }) => Some(text.as_str().to_owned()),
        Command::Support(support::Command::UpdateTicket { ticket, change, .. }) => Some(match change {
            TicketChange::Assign { assignee } => match assignee {
                Some(a) => format!("ticket {ticket} assigned to operator {}", a.0),
                None => format!("ticket {ticket} unassigned"),
            },
            TicketChange::Status { status } => format!("ticket {ticket} {}", status.name()),
            TicketChange::Priority { priority } => format!("ticket {ticket} priority {}", priority.name()),
        }),
        Command::Support(support::Command::AddMessage { ticket, author, .. }) => {
            Some(format!("ticket {ticket}: message from the {}", author.kind()))
        }
        _ => match outcome {
            Outcome::Moved(receipt) => Some(format!(
                "cash {} bonus {}",
                money(receipt.cash_delta, receipt.balances.currency),
                money(receipt.bonus_delta, receipt.balances.currency)
            )),
            _ => None,
        },
    }
}

fn timeline(
    tx: &Transaction<'_>,
    committed: &Committed,
    command: &Command,
    moved: Option<&Moved>,
    rounds: &mut PendingRounds,
) -> Result<(), ReadModelError> {
    let Some(kind) = timeline_kind(command) else {
        return Ok(());
    };
    let Some(player) = player_of(tx, committed, command)? else {
        return Ok(());
    };
    let (seq, time_ms) = (committed.envelope.seq as i64, committed.envelope.time_ms as i64);
    if let Command::Gaming(gaming) = command {
        round(player, seq, time_ms, gaming, moved, rounds);
        return Ok(());
    }
    let operator = operator_of(tx, committed)?;
    tx.prepare_cached(
        "INSERT OR REPLACE INTO player_timeline (player, seq, time_ms, kind, event, detail, operator, last_seq)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?2)",
    )?
    .execute(params![
        player.0 as i64,
        seq,
        time_ms,
        kind,
        command.kind(),
        detail(command, &committed.outcome),
        operator
    ])?;
    Ok(())
}

/// Migration 30: a round has one timeline row, which the index now says,
/// so that a transaction's round rows are written with one upsert each
/// (an update that found no row, then an insert, before). Rows were only
/// ever made one per round, so no rebuild.
pub(crate) const UNIQUE_ROUNDS_MIGRATION: &str = "DROP INDEX player_timeline_rounds;
    CREATE UNIQUE INDEX player_timeline_rounds ON player_timeline (player, round) WHERE round IS NOT NULL;";

/// Migration 31: the timeline's index by kind goes. No query reads it
/// ([`timeline_of`] filters kinds over the player's rows in `seq` order,
/// by the primary key), and every record paid a page of it per player
/// and commit. No rebuild.
pub(crate) const NO_KIND_INDEX_MIGRATION: &str = "DROP INDEX IF EXISTS player_timeline_by_kind;";

/// Adds a transaction's stake and win of a round to its row, made by its
/// first record if the round has none yet.
const ROUND_UPSERT: &str = "INSERT INTO player_timeline (player, seq, time_ms, kind, event, detail, round, currency,
         stake_minor, win_minor, last_seq)
     VALUES (?1, ?2, ?3, 'round', 'round', NULL, ?4, ?5, ?6, ?7, ?8)
     ON CONFLICT (player, round) WHERE round IS NOT NULL DO UPDATE SET
         stake_minor = stake_minor + excluded.stake_minor, win_minor = win_minor + excluded.win_minor,
         last_seq = excluded.last_seq";

/// A round's row as a projection transaction changes it: the stake and
/// win its records add, and the first record's seq, time and currency for
/// a row it creates.
struct RoundChange {
    seq: i64,
    time_ms: i64,
    currency: Option<&'static str>,
    stake: i64,
    win: i64,
    last_seq: i64,
}

/// The round rows a projection transaction changes, kept in memory and
/// written once at its end ([`PendingRounds::write`], before the commit):
/// a bet and its win in one transaction are one row write instead of an
/// insert and an update. Nothing in the projection reads the round rows,
/// and readers see only committed transactions.
#[derive(Default)]
pub(crate) struct PendingRounds {
    /// By player and round key (`game/round`).
    rounds: BTreeMap<(i64, String), RoundChange>,
}

impl PendingRounds {
    /// Adds each changed round to its row (a new row if the round has
    /// none yet), and forgets them.
    pub(crate) fn write(&mut self, tx: &Transaction<'_>) -> Result<(), ReadModelError> {
        let mut upsert = tx.prepare_cached(ROUND_UPSERT)?;
        for ((player, key), r) in std::mem::take(&mut self.rounds) {
            upsert.execute(params![
                player, r.seq, r.time_ms, key, r.currency, r.stake, r.win, r.last_seq
            ])?;
        }
        Ok(())
    }
}

/// A round's key in the timeline: `game/round`.
fn round_key(game: &str, round: &str) -> String {
    format!("{game}/{round}")
}

/// Folds a gaming record into its round's one row.
fn round(
    player: PlayerId,
    seq: i64,
    time_ms: i64,
    command: &gaming::Command,
    moved: Option<&Moved>,
    rounds: &mut PendingRounds,
) {
    let (round, currency, stake, win) = match command {
        gaming::Command::Bet(bet) => (Some(&bet.round), Some(bet.currency), bet.amount.minor(), 0),
        gaming::Command::Win(win) => (Some(&win.round), Some(win.currency), 0, win.amount.minor()),
        gaming::Command::EndRound { round, .. } => (Some(round), None, 0, 0),
        // A rollback names its bet, not the round: the history files its
        // movement under the bet's round, so the stake comes off the
        // right row.
        gaming::Command::Rollback { .. } => (None, None, 0, 0),
    };
    let (key, stake) = match round {
        Some(round) => (round_key(round.game.as_str(), round.id.as_str()), stake),
        None => match moved.and_then(|m| {
            m.round
                .as_ref()
                .map(|(round, game)| (round_key(game, round), m.cash_delta + m.bonus_delta))
        }) {
            Some((key, refund)) => (key, -refund),
            None => return,
        },
    };
    let change = rounds.rounds.entry((player.0 as i64, key)).or_insert(RoundChange {
        seq,
        time_ms,
        currency: currency.map(|c| c.code()),
        stake: 0,
        win: 0,
        last_seq: seq,
    });
    change.stake += stake;
    change.win += win;
    change.last_seq = seq;
}

fn ticket_columns() -> &'static str {
    "id, player, subject, status, priority, assignee, external, external_ms, opened_by, opened_ms, updated_ms,
     sync_last, sync_through, sync_failure"
}

fn ticket_from(row: &rusqlite::Row<'_>) -> rusqlite::Result<TicketView> {
    Ok(TicketView {
        id: row.get::<_, i64>(0)? as u64,
        player: PlayerId(row.get::<_, i64>(1)? as u64),
        subject: row.get(2)?,
        status: row.get(3)?,
        priority: row.get(4)?,
        assignee: row.get::<_, Option<i64>>(5)?.map(|a| a as u64),
        external: row.get(6)?,
        external_ms: row.get::<_, i64>(7)? as u64,
        opened_by: row.get::<_, i64>(8)? as u64,
        opened_ms: row.get::<_, i64>(9)? as u64,
        updated_ms: row.get::<_, i64>(10)? as u64,
        sync_last: row.get::<_, i64>(11)? as u64,
        sync_through: row.get::<_, i64>(12)? as u64,
        sync_failure: row.get(13)?,
    })
}

fn ticket_row(connection: &Connection, id: u64) -> Result<Option<TicketView>, ReadModelError> {
    let sql = format!("SELECT {} FROM support_tickets WHERE id = ?1", ticket_columns());
    Ok(connection
        .prepare_cached(&sql)?
        .query_row([id as i64], ticket_from)
        .optional()?)
}

fn find_external(connection: &Connection, external: &str) -> Result<Option<TicketView>, ReadModelError> {
    let sql = format!("SELECT {} FROM support_tickets WHERE external = ?1", ticket_columns());
    Ok(connection
        .prepare_cached(&sql)?
        .query_row([external], ticket_from)
        .optional()?)
}

/// A ticket.
pub fn ticket(connection: &Connection, id: u64) -> Result<Option<TicketView>, ReadModelError> {
    ticket_row(connection, id)
}

/// The ticket an external ticketing system knows as `external`.
pub fn ticket_by_external(connection: &Connection, external: &str) -> Result<Option<TicketView>, ReadModelError> {
    find_external(connection, external)
}

/// Tickets owed to the external ticketing system (a change made here
/// not yet pushed, and no refusal since), after `after_id`, oldest first.
pub fn sync_owed(connection: &Connection, after_id: u64, limit: u32) -> Result<Vec<u64>, ReadModelError> {
    Ok(connection
        .prepare_cached(
            "SELECT id FROM support_tickets WHERE sync_last > sync_through AND sync_failure IS NULL AND id > ?1
             ORDER BY id LIMIT ?2",
        )?
        .query_map(params![after_id as i64, limit], |row| Ok(row.get::<_, i64>(0)? as u64))?
        .collect::<Result<_, _>>()?)
}

/// A ticket with its events, oldest first.
pub fn ticket_file(connection: &Connection, id: u64) -> Result<Option<TicketFile>, ReadModelError> {
    let Some(ticket) = ticket_row(connection, id)? else {
        return Ok(None);
    };
    let events = connection
        .prepare_cached(
            "SELECT seq, time_ms, operator, kind, author, author_operator, author_name, text
             FROM support_ticket_events WHERE ticket = ?1 ORDER BY seq",
        )?
        .query_map([id as i64], |row| {
            Ok(TicketEvent {
                seq: row.get::<_, i64>(0)? as u64,
                time_ms: row.get::<_, i64>(1)? as u64,
                operator: row.get::<_, i64>(2)? as u64,
                kind: row.get(3)?,
                author: row.get(4)?,
                author_operator: row.get::<_, Option<i64>>(5)?.map(|a| a as u64),
                author_name: row.get(6)?,
                text: row.get(7)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(Some(TicketFile { ticket, events }))
}

/// Tickets matching `filter`, oldest first.
pub fn tickets(connection: &Connection, filter: &TicketFilter) -> Result<Vec<TicketView>, ReadModelError> {
    let sql = format!(
        "SELECT {} FROM support_tickets WHERE id > ?1 AND (?2 IS NULL OR status = ?2)
         AND (?3 IS NULL OR assignee = ?3) AND (?4 IS NULL OR player = ?4) AND (?5 IS NULL OR priority = ?5)
         ORDER BY id LIMIT ?6",
        ticket_columns()
    );
    let found = connection
        .prepare_cached(&sql)?
        .query_map(
            params![
                filter.after_id as i64,
                filter.status,
                filter.assignee.map(|a| a as i64),
                filter.player.map(|p| p.0 as i64),
                filter.priority,
                filter.limit
            ],
            ticket_from,
        )?
        .collect::<Result<_, _>>()?;
    Ok(found)
}

/// A player's internal notes after `after_seq`, oldest first.
pub fn notes(
    connection: &Connection,
    player: PlayerId,
    after_seq: u64,
    limit: u32,
) -> Result<Vec<NoteView>, ReadModelError> {
    let found = connection
        .prepare_cached(
            "SELECT seq, player, operator, time_ms, text FROM support_notes
             WHERE player = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
        )?
        .query_map(params![player.0 as i64, after_seq as i64, limit], |row| {
            Ok(NoteView {
                id: row.get::<_, i64>(0)? as u64,
                player: PlayerId(row.get::<_, i64>(1)? as u64),
                operator: row.get::<_, i64>(2)? as u64,
                time_ms: row.get::<_, i64>(3)? as u64,
                text: row.get(4)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(found)
}

/// A player's timeline after a seq, of some kinds (`?3`, comma-joined
/// between commas; NULL: every kind), in journal order.
pub(crate) const TIMELINE_AFTER: &str =
    "SELECT seq, time_ms, kind, event, detail, operator, round, currency, stake_minor,
        win_minor, last_seq
     FROM player_timeline WHERE player = ?1 AND seq > ?2
     AND (?3 IS NULL OR instr(?3, ',' || kind || ',') > 0) ORDER BY seq LIMIT ?4";

/// A player's timeline after `filter.after_seq`, in time order.
pub fn timeline_of(
    connection: &Connection,
    player: PlayerId,
    filter: &TimelineFilter,
) -> Result<Vec<TimelineEntry>, ReadModelError> {
    // The kinds are few and known: a comma-joined list matched with instr
    // keeps one prepared statement for every filter.
    let kinds = (!filter.kinds.is_empty()).then(|| format!(",{},", filter.kinds.join(",")));
    let found = connection
        .prepare_cached(TIMELINE_AFTER)?
        .query_map(
            params![player.0 as i64, filter.after_seq as i64, kinds, filter.limit],
            timeline_row,
        )?
        .collect::<Result<_, _>>()?;
    Ok(found)
}

/// A player's latest `limit` timeline entries, newest first: the same
/// rows as [`timeline_of`] (the back office's player 360 shows these).
pub fn latest_timeline(
    connection: &Connection,
    player: PlayerId,
    limit: u32,
) -> Result<Vec<TimelineEntry>, ReadModelError> {
    let found = connection
        .prepare_cached(
            "SELECT seq, time_ms, kind, event, detail, operator, round, currency, stake_minor, win_minor, last_seq
             FROM player_timeline WHERE player = ?1 ORDER BY seq DESC LIMIT ?2",
        )?
        .query_map(params![player.0 as i64, limit], timeline_row)?
        .collect::<Result<_, _>>()?;
    Ok(found)
}

fn timeline_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<TimelineEntry> {
    Ok(TimelineEntry {
        seq: row.get::<_, i64>(0)? as u64,
        time_ms: row.get::<_, i64>(1)? as u64,
        kind: row.get(2)?,
        event: row.get(3)?,
        detail: row.get(4)?,
        operator: row.get::<_, Option<i64>>(5)?.map(|o| o as u64),
        round: row.get(6)?,
        currency: row.get(7)?,
        stake_minor: row.get(8)?,
        win_minor: row.get(9)?,
        last_seq: row.get::<_, i64>(10)? as u64,
    })
}

/// Whether the ticket is closed: it changes no more.
pub fn is_closed(ticket: &TicketView) -> bool {
    ticket.status == TicketStatus::Closed.name()
}
