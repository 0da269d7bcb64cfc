//! KYC records as the ledger holds them: per player, the reason and source
//! of the current level, the provider check in progress (with the event
//! time of the last verdict applied, which orders webhooks that arrive out
//! of order), and the identity documents.
//!
//! A document's number never reaches the ledger: the gateway sends a keyed
//! hash of it (a [`BlindIndex`]), which is what two players may not share.
//! The level itself stays in the per-player record (`../account.rs`),
//! because the money paths read it on every deposit, bet and withdrawal;
//! what is here only the KYC routes read. Kept beside the accounts like the
//! profiles: players who never went through KYC cost nothing here.

use std::collections::BTreeMap;

use crate::codec::{Decode, DecodeError, Encode, Reader, Sink, codec_enum, codec_struct};
use crate::ids::{BlindIndex, ExtId, Jurisdiction, OperatorId, PlayerId, Reason};
use crate::outcome::Rejection;

/// The most documents kept per player: a passport, an identity card, a
/// licence and proofs of address, several times renewed, fit.
pub const DOCUMENTS_PER_PLAYER_MAX: usize = 32;

/// Milliseconds in a day: document expiry dates are whole UTC days.
const DAY_MS: u64 = 86_400_000;

/// Who made a KYC change: an operator, or the provider's verdict on a check.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum KycSource {
    /// An operator (a manual decision or a document recorded by hand).
    Operator(OperatorId),
    /// The KYC provider, about its check (applicant) `check`.
    Provider {
        /// The provider's reference of the check.
        check: ExtId,
    },
}

/// What kind of document.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DocumentKind {
    /// Passport.
    Passport,
    /// National identity card.
    IdCard,
    /// Driving licence.
    DrivingLicence,
    /// Residence permit.
    ResidencePermit,
    /// Proof of address (utility bill, bank statement).
    ProofOfAddress,
    /// Anything else the provider or the operator checked.
    Other,
}

/// Where a document's check stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DocumentStatus {
    /// Submitted, not decided.
    Pending,
    /// Accepted.
    Verified,
    /// Refused.
    Rejected,
    /// Past its expiry date.
    Expired,
}

/// An identity document as the ledger records it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct KycDocument {
    /// What kind.
    pub kind: DocumentKind,
    /// The issuing country, ISO 3166-1 alpha-2.
    pub issuing_country: Jurisdiction,
    /// A keyed hash of the kind, country and normalized number (made by
    /// the gateway): never the number itself.
    pub number: BlindIndex,
    /// The expiry date, in days since 1970-01-01 (UTC); `None`: none printed.
    pub expires_on_day: Option<u32>,
    /// The provider's reference of the document, if a provider checked it.
    pub provider_ref: Option<ExtId>,
    /// Where its check stands.
    pub status: DocumentStatus,
    /// Why (a rejection's or expiry's reason; optional otherwise).
    pub reason: Option<Reason>,
}

impl KycDocument {
    /// True if the document's expiry date is before the day of `time_ms`.
    pub fn expired_at(&self, time_ms: u64) -> bool {
        self.expires_on_day.is_some_and(|day| u64::from(day) < time_ms / DAY_MS)
    }
}

/// A document with who recorded it and when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DocumentRecord {
    /// The document.
    pub document: KycDocument,
    /// Who recorded (or last changed) it.
    pub by: KycSource,
    /// When, ms since the epoch.
    pub at_ms: u64,
}

/// A provider check: started by an operator, decided by the provider.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KycCheck {
    /// The provider's reference (applicant id).
    pub reference: ExtId,
    /// Who started it.
    pub started_by: OperatorId,
    /// When, ms since the epoch.
    pub started_at_ms: u64,
    /// The provider's event time of the last verdict applied (0: none
    /// yet); an event at or before it changes nothing.
    pub last_event_ms: u64,
}

/// One player's KYC data beside the level.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KycRecord {
    /// Why the player has the level (`None`: set by the old command,
    /// which gives no reason).
    pub reason: Option<Reason>,
    /// Who set the level.
    pub by: Option<KycSource>,
    /// When the level was set, ms since the epoch.
    pub at_ms: u64,
    /// The provider check in progress or last decided.
    pub check: Option<KycCheck>,
    /// The documents, in the order first recorded.
    pub documents: Vec<DocumentRecord>,
}

/// What the players domain knows of KYC, by player.
#[derive(Clone, Debug, Default)]
pub(crate) struct Kyc {
    records: BTreeMap<PlayerId, KycRecord>,
    /// Whose each document is: a document belongs to one player.
    by_document: BTreeMap<BlindIndex, PlayerId>,
}

impl Kyc {
    /// The record of `player`, if it has one.
    pub(crate) fn get(&self, player: PlayerId) -> Option<&KycRecord> {
        self.records.get(&player)
    }

    /// Where `document` would go in `player`'s list (an index, or `None`
    /// for a new one), refused if it is another player's, verified past
    /// its expiry, or the list is full.
    pub(crate) fn check_document(
        &self,
        player: PlayerId,
        document: &KycDocument,
        time_ms: u64,
    ) -> Result<Option<usize>, Rejection> {
        if self
            .by_document
            .get(&document.number)
            .is_some_and(|&owner| owner != player)
        {
            return Err(Rejection::KycDocumentTaken);
        }
        if document.status == DocumentStatus::Verified && document.expired_at(time_ms) {
            return Err(Rejection::KycDocumentExpired);
        }
        let documents = self.get(player).map_or(&[][..], |r| &r.documents[..]);
        let index = documents.iter().position(|d| d.document.number == document.number);
        if index.is_none() && documents.len() >= DOCUMENTS_PER_PLAYER_MAX {
            return Err(Rejection::KycDocumentsFull);
        }
        Ok(index)
    }

    /// Stores `document` at `index` (or appends it); returns its number
    /// (1-based). The caller checked [`Kyc::check_document`].
    pub(crate) fn set_document(
        &mut self,
        player: PlayerId,
        index: Option<usize>,
        document: KycDocument,
        by: KycSource,
        at_ms: u64,
    ) -> u32 {
        self.by_document.insert(document.number, player);
        let documents = &mut self.records.entry(player).or_default().documents;
        let record = DocumentRecord { document, by, at_ms };
        let index = match index {
            Some(index) => {
                documents[index] = record;
                index
            }
            None => {
                documents.push(record);
                documents.len() - 1
            }
        };
        // At most DOCUMENTS_PER_PLAYER_MAX: fits.
        index as u32 + 1
    }

    /// Records why, by whom and when the level was set.
    pub(crate) fn set_reason(&mut self, player: PlayerId, reason: Option<Reason>, by: Option<KycSource>, at_ms: u64) {
        // The old command on a player without KYC data needs no record.
        if reason.is_none() && !self.records.contains_key(&player) {
            return;
        }
        let record = self.records.entry(player).or_default();
        record.reason = reason;
        record.by = by;
        record.at_ms = at_ms;
    }

    /// Opens a provider check for `player`, replacing any earlier one.
    pub(crate) fn start_check(&mut self, player: PlayerId, check: KycCheck) {
        self.records.entry(player).or_default().check = Some(check);
    }

    /// True if a verdict on `check` at `event_ms` is news: the check is the
    /// player's current one and no later (or equal) event was applied.
    pub(crate) fn is_news(&self, player: PlayerId, check: &ExtId, event_ms: u64) -> bool {
        self.get(player)
            .and_then(|r| r.check.as_ref())
            .is_some_and(|current| current.reference == *check && event_ms > current.last_event_ms)
    }

    /// Remembers that the verdict of `event_ms` was applied. The caller
    /// checked [`Kyc::is_news`].
    pub(crate) fn advance_check(&mut self, player: PlayerId, event_ms: u64) {
        if let Some(check) = self.records.get_mut(&player).and_then(|r| r.check.as_mut()) {
            check.last_event_ms = event_ms;
        }
    }

    /// The highest player id with a record, to check against the accounts.
    pub(crate) fn last_player(&self) -> Option<PlayerId> {
        self.records.keys().next_back().copied()
    }
}

// The snapshot part (format 6 on; see `crate::codec`: append fields, never
// reorder): the records in player order; the document map is rebuilt.
impl Encode for Kyc {
    fn encode<S: Sink>(&self, out: &mut S) {
        self.records.encode(out);
    }
}

impl Decode for Kyc {
    fn decode(input: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let records = BTreeMap::<PlayerId, KycRecord>::decode(input)?;
        let mut kyc = Kyc {
            records,
            by_document: BTreeMap::new(),
        };
        for (&player, record) in &kyc.records {
            if record.documents.len() > DOCUMENTS_PER_PLAYER_MAX {
                return Err(DecodeError::Invalid("kyc (too many documents)"));
            }
            for document in &record.documents {
                if kyc.by_document.insert(document.document.number, player).is_some() {
                    return Err(DecodeError::Invalid("kyc (a document recorded twice)"));
                }
            }
        }
        Ok(kyc)
    }
}

codec_enum!(KycSource: u8 { 1 => Operator(operator), 2 => Provider { check } });
codec_enum!(DocumentKind: u8 {
    1 => Passport, 2 => IdCard, 3 => DrivingLicence, 4 => ResidencePermit, 5 => ProofOfAddress, 6 => Other,
});
codec_enum!(DocumentStatus: u8 { 1 => Pending, 2 => Verified, 3 => Rejected, 4 => Expired });
codec_struct!(KycDocument {
    kind,
    issuing_country,
    number,
    expires_on_day,
    provider_ref,
    status,
    reason
});
codec_struct!(DocumentRecord { document, by, at_ms });
codec_struct!(KycCheck {
    reference,
    started_by,
    started_at_ms,
    last_event_ms
});
codec_struct!(KycRecord {
    reason,
    by,
    at_ms,
    check,
    documents
});
