//! The bonus templates: every template operators set (`SetTemplate`), the
//! latest per code, with the claim code players use and the automatic
//! flag the triggers look for.
//!
//! A template is stored as the ledger's own encoding of it (`template`),
//! beside the columns the lookups filter on: the read model holds what the
//! journal says and nothing else, and the encoding is the one the journal
//! uses, so every field comes back exactly.

use engine::bonus::{self, BonusTemplate};
use engine::codec::{from_bytes, to_bytes};
use engine::sequencer::Committed;
use engine::{Command, Outcome};
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
    CREATE INDEX bonus_templates_by_claim_code ON bonus_templates (claim_code);";

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

/// Records an accepted template.
pub(crate) fn apply(tx: &Transaction<'_>, committed: &Committed) -> Result<(), ReadModelError> {
    let Command::Bonus(bonus::Command::SetTemplate { template, .. }) = &committed.envelope.request.command else {
        return Ok(());
    };
    if committed.outcome != Outcome::Accepted {
        return Ok(());
    }
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
        to_bytes(template.as_ref()),
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
