//! The bonus templates: every template operators set (`SetTemplate`), the
//! latest per code, with the claim code players use and the automatic
//! flag the triggers look for; and the triggers' outbox.
//!
//! The outbox (`bonus_triggers`) is derived from the journal like the
//! cashier's payouts: a confirmed deposit (or an instant one) owes each
//! enabled automatic deposit-match template in its currency that matches
//! its size a grant, a registration each automatic no-deposit template in
//! the player's currency; the row is keyed by the template and the
//! sequence number of the record that owed it, and is settled when a grant
//! journaled under that key (`auto:…`) appears, granted or refused. The
//! worker that submits them is `croupier-crm`'s.
//!
//! A template is stored as the ledger's own encoding of it (`template`),
//! beside the columns the lookups filter on: the read model holds what the
//! journal says and nothing else, and the encoding is the one the journal
//! uses, so every field comes back exactly.

use engine::bonus::{self, BonusTemplate, TemplateKind};
use engine::codec::{from_bytes, to_bytes};
use engine::sequencer::Committed;
use engine::{Command, Currency, Outcome, PlayerId, payments, players};
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use crate::ReadModelError;

/// The schema migration that creates the table (appended to
/// `store::MIGRATIONS`).
pub(crate) const MIGRATION: &str = "CREATE TABLE bonus_templates (
        code TEXT PRIMARY KEY,
        claim_code TEXT,
        kind TEXT NOT NULL,
        currency TEXT NOT NULL,
        automatic INTEGER NOT NULL,
        enabled INTEGER NOT NULL,
        template BLOB NOT NULL,
        set_by_source INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        set_ms INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX bonus_templates_by_claim_code ON bonus_templates (claim_code);
    CREATE TABLE bonus_triggers (
        key TEXT PRIMARY KEY,
        template TEXT NOT NULL,
        player INTEGER NOT NULL,
        currency TEXT NOT NULL,
        basis_minor INTEGER NOT NULL,
        state TEXT NOT NULL,
        seq INTEGER NOT NULL,
        settled_seq INTEGER
    ) WITHOUT ROWID;
    CREATE INDEX bonus_triggers_pending ON bonus_triggers (state, seq);";

/// The request id prefix of an automatic grant; the rest is the trigger's
/// key after it.
pub const TRIGGER_PREFIX: &str = "auto:";

/// A template as last set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TemplateView {
    /// The template.
    pub template: BonusTemplate,
    /// The source of the operator who set it last.
    pub set_by_source: u32,
    /// The sequence number that set it last.
    pub seq: u64,
    /// When (journal time).
    pub set_ms: u64,
}

/// Records an accepted template; owes the triggers' grants; settles them.
pub(crate) fn apply(tx: &Transaction<'_>, committed: &Committed) -> Result<(), ReadModelError> {
    let request = &committed.envelope.request;
    let seq = committed.envelope.seq;
    match (&request.command, &committed.outcome) {
        (Command::Bonus(bonus::Command::SetTemplate { template, .. }), Outcome::Accepted) => {
            set_template(tx, committed, template)
        }
        (Command::Bonus(bonus::Command::GrantQueued { .. }), _) => {
            let Some(key) = request.id.as_str().strip_prefix(TRIGGER_PREFIX) else {
                return Ok(());
            };
            let state = if committed.outcome.is_ok() {
                "granted"
            } else {
                "refused"
            };
            tx.prepare_cached("UPDATE bonus_triggers SET state = ?2, settled_seq = ?3 WHERE key = ?1")?
                .execute(params![key, state, seq as i64])?;
            Ok(())
        }
        (
            Command::Payments(payments::Command::Deposit {
                player,
                currency,
                amount,
            }),
            outcome,
        ) if outcome.is_ok() => owe(tx, seq, "deposit_match", *player, *currency, amount.minor()),
        (Command::Payments(payments::Command::DepositConfirm { deposit }), outcome) if outcome.is_ok() => {
            let found = tx
                .prepare_cached(
                    "SELECT player, currency, amount_minor FROM cashier_payments WHERE source = ?1 AND ext_id = ?2",
                )?
                .query_row(params![deposit.source.0, deposit.id.as_str()], |row| {
                    Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?, row.get::<_, i64>(2)?))
                })
                .optional()?;
            let Some((player, currency, amount)) = found else {
                return Ok(());
            };
            let Some(currency) = Currency::from_code(&currency) else {
                return Ok(());
            };
            owe(tx, seq, "deposit_match", PlayerId(player as u64), currency, amount)
        }
        (Command::Players(command), Outcome::Registered { player }) => {
            let currency = match command {
                players::Command::RegisterPlayer { currency, .. }
                | players::Command::RegisterProfiled { currency, .. }
                | players::Command::RegisterAged { currency, .. } => *currency,
                _ => return Ok(()),
            };
            owe(tx, seq, "no_deposit", *player, currency, 0)
        }
        _ => Ok(()),
    }
}

/// Owes the grants of the automatic `kind` templates in `currency` for the
/// record `seq` (a deposit of `basis_minor`, or a registration).
fn owe(
    tx: &Transaction<'_>,
    seq: u64,
    kind: &str,
    player: PlayerId,
    currency: Currency,
    basis_minor: i64,
) -> Result<(), ReadModelError> {
    for view in automatic(tx, kind, currency.code())? {
        if let TemplateKind::DepositMatch { min_deposit, .. } = view.template.kind
            && (basis_minor < min_deposit.minor() || basis_minor <= 0)
        {
            continue;
        }
        tx.prepare_cached(
            "INSERT OR IGNORE INTO bonus_triggers (key, template, player, currency, basis_minor, state, seq)
             VALUES (?1, ?2, ?3, ?4, ?5, 'pending', ?6)",
        )?
        .execute(params![
            format!("{}:{seq}", view.template.code),
            view.template.code.as_str(),
            player.0 as i64,
            currency.code(),
            basis_minor,
            seq as i64
        ])?;
    }
    Ok(())
}

/// A grant a trigger owes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TriggerView {
    /// Its key: the request id of its grant is [`TRIGGER_PREFIX`] then this.
    pub key: String,
    /// The template's code.
    pub template: String,
    /// The player.
    pub player: u64,
    /// The wallet's currency.
    pub currency: String,
    /// The deposit matched (0 for a registration).
    pub basis_minor: i64,
    /// `pending`, `granted` or `refused`.
    pub state: String,
}

/// The triggers owed and not yet settled, oldest first, at most `limit`.
pub fn pending_triggers(c: &Connection, limit: u32) -> Result<Vec<TriggerView>, ReadModelError> {
    triggers(c, "WHERE state = 'pending' ORDER BY seq LIMIT ?1", limit)
}

/// Every trigger of `player`, oldest first, at most `limit`.
pub fn player_triggers(c: &Connection, player: u64, limit: u32) -> Result<Vec<TriggerView>, ReadModelError> {
    let mut statement = c.prepare_cached(
        "SELECT key, template, player, currency, basis_minor, state FROM bonus_triggers
         WHERE player = ?1 ORDER BY seq LIMIT ?2",
    )?;
    let rows = statement.query_map(params![player as i64, limit], trigger_row)?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

fn triggers(c: &Connection, filter: &str, limit: u32) -> Result<Vec<TriggerView>, ReadModelError> {
    let mut statement = c.prepare_cached(&format!(
        "SELECT key, template, player, currency, basis_minor, state FROM bonus_triggers {filter}"
    ))?;
    let rows = statement.query_map([limit], trigger_row)?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

fn trigger_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<TriggerView> {
    Ok(TriggerView {
        key: row.get(0)?,
        template: row.get(1)?,
        player: row.get::<_, i64>(2)? as u64,
        currency: row.get(3)?,
        basis_minor: row.get(4)?,
        state: row.get(5)?,
    })
}

fn set_template(tx: &Transaction<'_>, committed: &Committed, template: &BonusTemplate) -> Result<(), ReadModelError> {
    tx.prepare_cached(
        "INSERT OR REPLACE INTO bonus_templates (code, claim_code, kind, currency, automatic, enabled, template,
         set_by_source, seq, set_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?
    .execute(params![
        template.code.as_str(),
        template.claim_code.as_ref().map(|c| c.as_str()),
        template.kind.name(),
        template.currency.code(),
        template.automatic,
        template.enabled,
        to_bytes(template),
        committed.envelope.request.source.0,
        committed.envelope.seq as i64,
        committed.envelope.time_ms as i64
    ])?;
    Ok(())
}

const COLUMNS: &str = "template, set_by_source, seq, set_ms";

fn row(row: &rusqlite::Row<'_>) -> rusqlite::Result<(Vec<u8>, u32, i64, i64)> {
    Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
}

fn view((bytes, set_by_source, seq, set_ms): (Vec<u8>, u32, i64, i64)) -> Result<TemplateView, ReadModelError> {
    let template = from_bytes::<BonusTemplate>(&bytes)
        .map_err(|e| ReadModelError::Damaged(format!("bonus template at seq {seq}: {e}")))?;
    Ok(TemplateView {
        template,
        set_by_source,
        seq: seq as u64,
        set_ms: set_ms as u64,
    })
}

/// Every template, by code.
pub fn list(c: &Connection) -> Result<Vec<TemplateView>, ReadModelError> {
    let mut statement = c.prepare_cached(&format!("SELECT {COLUMNS} FROM bonus_templates ORDER BY code"))?;
    let rows = statement.query_map([], row)?.collect::<Result<Vec<_>, _>>()?;
    rows.into_iter().map(view).collect()
}

/// The template of `code`, if any.
pub fn by_code(c: &Connection, code: &str) -> Result<Option<TemplateView>, ReadModelError> {
    let found = c
        .prepare_cached(&format!("SELECT {COLUMNS} FROM bonus_templates WHERE code = ?1"))?
        .query_row([code], row)
        .optional()?;
    found.map(view).transpose()
}

/// The template a player claims with `claim_code`, if any (the one set
/// last, should two share it).
pub fn by_claim_code(c: &Connection, claim_code: &str) -> Result<Option<TemplateView>, ReadModelError> {
    let found = c
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM bonus_templates WHERE claim_code = ?1 ORDER BY seq DESC LIMIT 1"
        ))?
        .query_row([claim_code], row)
        .optional()?;
    found.map(view).transpose()
}

/// The enabled automatic templates of `kind` (`deposit_match`,
/// `no_deposit`) in `currency`, by code.
pub fn automatic(c: &Connection, kind: &str, currency: &str) -> Result<Vec<TemplateView>, ReadModelError> {
    let mut statement = c.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM bonus_templates
         WHERE automatic = 1 AND enabled = 1 AND kind = ?1 AND currency = ?2 ORDER BY code"
    ))?;
    let rows = statement
        .query_map([kind, currency], row)?
        .collect::<Result<Vec<_>, _>>()?;
    rows.into_iter().map(view).collect()
}
