//! The KYC projection: each player's KYC level with its reason and source,
//! the provider checks (so that a webhook naming a check finds its
//! player), and the identity documents.
//!
//! Like the ledger, it never holds a document number in clear: only the
//! keyed hash the gateway made (hex). Players with no KYC row are at level
//! `none` (no route reached the old level command before this view
//! existed, so no migration of older rows is needed).

use engine::command::{Command, KycLevel};
use engine::outcome::Outcome;
use engine::players::{self, DocumentKind, DocumentStatus, KycDocument, KycSource};
use engine::sequencer::Committed;
use engine::{Ledger, PlayerId};
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use crate::ReadModelError;

/// The schema migration that creates the tables (appended to
/// `store::MIGRATIONS`).
pub(crate) const MIGRATION: &str = "CREATE TABLE kyc_players (
        player INTEGER PRIMARY KEY,
        level TEXT NOT NULL,
        reason TEXT,
        by_operator INTEGER,
        by_check TEXT,
        at_ms INTEGER NOT NULL,
        check_ref TEXT,
        check_by INTEGER,
        check_at_ms INTEGER,
        check_last_event_ms INTEGER
    );
    CREATE TABLE kyc_checks (
        check_ref TEXT PRIMARY KEY,
        player INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE kyc_documents (
        player INTEGER NOT NULL,
        number INTEGER NOT NULL,
        kind TEXT NOT NULL,
        issuing_country TEXT NOT NULL,
        number_hash TEXT NOT NULL,
        expires_on_day INTEGER,
        provider_ref TEXT,
        status TEXT NOT NULL,
        reason TEXT,
        by_operator INTEGER,
        by_check TEXT,
        at_ms INTEGER NOT NULL,
        PRIMARY KEY (player, number)
    ) WITHOUT ROWID;";

/// Who made a KYC change, as the read model shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SourceView {
    /// An operator, by id.
    Operator(u32),
    /// The provider, about this check.
    Provider(String),
}

/// A provider check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckView {
    /// The provider's reference.
    pub reference: String,
    /// Who started it.
    pub started_by: u32,
    /// When, ms since the epoch.
    pub started_at_ms: u64,
    /// The provider's event time of the last verdict applied (0: none).
    pub last_event_ms: u64,
}

/// A document, number hashed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DocumentView {
    /// Its number in the player's list, from 1.
    pub number: u32,
    /// `passport`, `id_card`, `driving_licence`, `residence_permit`,
    /// `proof_of_address` or `other`.
    pub kind: String,
    /// ISO 3166-1 alpha-2.
    pub issuing_country: String,
    /// The keyed hash of the number (hex).
    pub number_hash: String,
    /// Days since 1970-01-01.
    pub expires_on_day: Option<u32>,
    /// The provider's reference.
    pub provider_ref: Option<String>,
    /// `pending`, `verified`, `rejected` or `expired`.
    pub status: String,
    /// Why.
    pub reason: Option<String>,
    /// Who recorded it.
    pub by: Option<SourceView>,
    /// When, ms since the epoch.
    pub at_ms: u64,
}

/// What the read model knows of a player's KYC.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KycView {
    /// `none`, `pending`, `verified` or `rejected`.
    pub level: String,
    /// Why, if given.
    pub reason: Option<String>,
    /// Who set the level.
    pub by: Option<SourceView>,
    /// When the level was set (0: never).
    pub at_ms: u64,
    /// The current provider check.
    pub check: Option<CheckView>,
    /// The documents, in the order first recorded.
    pub documents: Vec<DocumentView>,
}

/// The wire name of a level.
pub fn level_name(level: KycLevel) -> &'static str {
    match level {
        KycLevel::None => "none",
        KycLevel::Pending => "pending",
        KycLevel::Verified => "verified",
        KycLevel::Rejected => "rejected",
    }
}

/// The wire name of a document kind.
pub fn kind_name(kind: DocumentKind) -> &'static str {
    match kind {
        DocumentKind::Passport => "passport",
        DocumentKind::IdCard => "id_card",
        DocumentKind::DrivingLicence => "driving_licence",
        DocumentKind::ResidencePermit => "residence_permit",
        DocumentKind::ProofOfAddress => "proof_of_address",
        DocumentKind::Other => "other",
    }
}

/// The wire name of a document status.
pub fn status_name(status: DocumentStatus) -> &'static str {
    match status {
        DocumentStatus::Pending => "pending",
        DocumentStatus::Verified => "verified",
        DocumentStatus::Rejected => "rejected",
        DocumentStatus::Expired => "expired",
    }
}

fn source_columns(source: Option<&KycSource>) -> (Option<u32>, Option<&str>) {
    match source {
        Some(KycSource::Operator(operator)) => (Some(operator.0), None),
        Some(KycSource::Provider { check }) => (None, Some(check.as_str())),
        None => (None, None),
    }
}

fn source_view(operator: Option<u32>, check: Option<String>) -> Option<SourceView> {
    match (operator, check) {
        (Some(operator), _) => Some(SourceView::Operator(operator)),
        (None, Some(check)) => Some(SourceView::Provider(check)),
        (None, None) => None,
    }
}

/// Folds one committed record into the tables (refused and ignored
/// commands change nothing).
pub(crate) fn apply(tx: &Transaction<'_>, committed: &Committed) -> Result<(), ReadModelError> {
    let Command::Players(command) = committed.envelope.request.command.unwrapped() else {
        return Ok(());
    };
    let time_ms = committed.envelope.time_ms;
    match (command, &committed.outcome) {
        (players::Command::SetKyc { player, level }, Outcome::Accepted) => {
            set_level(tx, *player, *level, None, None, time_ms)
        }
        (
            players::Command::SetKycLevel {
                player,
                level,
                reason,
                operator,
            },
            Outcome::Accepted,
        ) => {
            let by = KycSource::Operator(*operator);
            set_level(tx, *player, *level, Some(reason.as_str()), Some(&by), time_ms)
        }
        (
            players::Command::StartKycCheck {
                player,
                check,
                operator,
            },
            Outcome::Accepted,
        ) => {
            let verified = current_level(tx, *player)?.as_deref() == Some("verified");
            if !verified {
                let by = KycSource::Operator(*operator);
                let reason = Some("verification started at the provider");
                set_level(tx, *player, KycLevel::Pending, reason, Some(&by), time_ms)?;
            }
            ensure_row(tx, *player, time_ms)?;
            tx.prepare_cached(
                "UPDATE kyc_players SET check_ref = ?2, check_by = ?3, check_at_ms = ?4, check_last_event_ms = 0
                 WHERE player = ?1",
            )?
            .execute(params![player.0 as i64, check.as_str(), operator.0, time_ms as i64])?;
            tx.prepare_cached("INSERT OR REPLACE INTO kyc_checks (check_ref, player) VALUES (?1, ?2)")?
                .execute(params![check.as_str(), player.0 as i64])?;
            Ok(())
        }
        (
            players::Command::ApplyKycVerdict {
                player,
                check,
                event_ms,
                level,
                reason,
            },
            Outcome::Accepted,
        ) => {
            let by = KycSource::Provider { check: check.clone() };
            set_level(tx, *player, *level, Some(reason.as_str()), Some(&by), time_ms)?;
            tx.prepare_cached("UPDATE kyc_players SET check_last_event_ms = ?2 WHERE player = ?1")?
                .execute(params![player.0 as i64, *event_ms as i64])?;
            Ok(())
        }
        (
            players::Command::RecordKycDocument {
                player,
                document,
                source,
            },
            Outcome::KycDocumentRecorded { document: number },
        ) => set_document(tx, *player, *number, document, source, time_ms),
        _ => Ok(()),
    }
}

fn current_level(tx: &Transaction<'_>, player: PlayerId) -> Result<Option<String>, ReadModelError> {
    Ok(tx
        .prepare_cached("SELECT level FROM kyc_players WHERE player = ?1")?
        .query_row(params![player.0 as i64], |row| row.get(0))
        .optional()?)
}

fn ensure_row(tx: &Transaction<'_>, player: PlayerId, time_ms: u64) -> Result<(), ReadModelError> {
    tx.prepare_cached("INSERT OR IGNORE INTO kyc_players (player, level, at_ms) VALUES (?1, 'none', ?2)")?
        .execute(params![player.0 as i64, time_ms as i64])?;
    Ok(())
}

fn set_level(
    tx: &Transaction<'_>,
    player: PlayerId,
    level: KycLevel,
    reason: Option<&str>,
    by: Option<&KycSource>,
    time_ms: u64,
) -> Result<(), ReadModelError> {
    ensure_row(tx, player, time_ms)?;
    let (operator, check) = source_columns(by);
    tx.prepare_cached(
        "UPDATE kyc_players SET level = ?2, reason = ?3, by_operator = ?4, by_check = ?5, at_ms = ?6
         WHERE player = ?1",
    )?
    .execute(params![
        player.0 as i64,
        level_name(level),
        reason,
        operator,
        check,
        time_ms as i64
    ])?;
    Ok(())
}

fn set_document(
    tx: &Transaction<'_>,
    player: PlayerId,
    number: u32,
    document: &KycDocument,
    source: &KycSource,
    time_ms: u64,
) -> Result<(), ReadModelError> {
    let (operator, check) = source_columns(Some(source));
    tx.prepare_cached(
        "INSERT OR REPLACE INTO kyc_documents (player, number, kind, issuing_country, number_hash, expires_on_day,
         provider_ref, status, reason, by_operator, by_check, at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    )?
    .execute(params![
        player.0 as i64,
        number,
        kind_name(document.kind),
        document.issuing_country.as_str(),
        hex::encode(document.number.0),
        document.expires_on_day,
        document.provider_ref.as_ref().map(|r| r.as_str()),
        status_name(document.status),
        document.reason.as_ref().map(|r| r.as_str()),
        operator,
        check,
        time_ms as i64,
    ])?;
    Ok(())
}

/// Seeds the tables from a snapshot's ledger (when the journal before it
/// was retired).
pub(crate) fn seed(tx: &Transaction<'_>, ledger: &Ledger) -> Result<(), ReadModelError> {
    for id in 1..=ledger.players_len() as u64 {
        let player = PlayerId(id);
        let Ok(info) = ledger.player_info(player) else { continue };
        let record = ledger.kyc(player).ok().flatten().cloned().unwrap_or_default();
        if info.kyc == KycLevel::None && record == players::KycRecord::default() {
            continue;
        }
        let reason = record.reason.as_ref().map(|r| r.as_str());
        set_level(tx, player, info.kyc, reason, record.by.as_ref(), record.at_ms)?;
        if let Some(check) = &record.check {
            tx.prepare_cached(
                "UPDATE kyc_players SET check_ref = ?2, check_by = ?3, check_at_ms = ?4, check_last_event_ms = ?5
                 WHERE player = ?1",
            )?
            .execute(params![
                id as i64,
                check.reference.as_str(),
                check.started_by.0,
                check.started_at_ms as i64,
                check.last_event_ms as i64
            ])?;
            tx.prepare_cached("INSERT OR REPLACE INTO kyc_checks (check_ref, player) VALUES (?1, ?2)")?
                .execute(params![check.reference.as_str(), id as i64])?;
        }
        for (index, document) in record.documents.iter().enumerate() {
            let number = index as u32 + 1;
            set_document(tx, player, number, &document.document, &document.by, document.at_ms)?;
        }
    }
    Ok(())
}

/// The KYC view of `player`: `None` if there is no such player.
pub fn kyc(connection: &Connection, player: PlayerId) -> Result<Option<KycView>, ReadModelError> {
    let exists = connection
        .prepare_cached("SELECT 1 FROM players WHERE player = ?1")?
        .query_row(params![player.0 as i64], |_| Ok(()))
        .optional()?
        .is_some();
    if !exists {
        return Ok(None);
    }
    let row = connection
        .prepare_cached(
            "SELECT level, reason, by_operator, by_check, at_ms, check_ref, check_by, check_at_ms,
             check_last_event_ms FROM kyc_players WHERE player = ?1",
        )?
        .query_row(params![player.0 as i64], |row| {
            let check = match row.get::<_, Option<String>>(5)? {
                Some(reference) => Some(CheckView {
                    reference,
                    started_by: row.get::<_, Option<u32>>(6)?.unwrap_or_default(),
                    started_at_ms: row.get::<_, Option<i64>>(7)?.unwrap_or_default() as u64,
                    last_event_ms: row.get::<_, Option<i64>>(8)?.unwrap_or_default() as u64,
                }),
                None => None,
            };
            Ok(KycView {
                level: row.get(0)?,
                reason: row.get(1)?,
                by: source_view(row.get(2)?, row.get(3)?),
                at_ms: row.get::<_, i64>(4)? as u64,
                check,
                documents: Vec::new(),
            })
        })
        .optional()?;
    let mut view = row.unwrap_or_else(|| KycView {
        level: level_name(KycLevel::None).to_owned(),
        ..KycView::default()
    });
    let mut statement = connection.prepare_cached(
        "SELECT number, kind, issuing_country, number_hash, expires_on_day, provider_ref, status, reason,
         by_operator, by_check, at_ms FROM kyc_documents WHERE player = ?1 ORDER BY number",
    )?;
    let documents = statement.query_map(params![player.0 as i64], |row| {
        Ok(DocumentView {
            number: row.get(0)?,
            kind: row.get(1)?,
            issuing_country: row.get(2)?,
            number_hash: row.get(3)?,
            expires_on_day: row.get(4)?,
            provider_ref: row.get(5)?,
            status: row.get(6)?,
            reason: row.get(7)?,
            by: source_view(row.get(8)?, row.get(9)?),
            at_ms: row.get::<_, i64>(10)? as u64,
        })
    })?;
    view.documents = documents.collect::<Result<_, _>>()?;
    Ok(Some(view))
}

/// The player a provider check belongs to, if it was started here.
pub fn player_of_check(connection: &Connection, check: &str) -> Result<Option<PlayerId>, ReadModelError> {
    Ok(connection
        .prepare_cached("SELECT player FROM kyc_checks WHERE check_ref = ?1")?
        .query_row(params![check], |row| row.get::<_, i64>(0))
        .optional()?
        .map(|id| PlayerId(id as u64)))
}
