//! The journal record format: one versioned record per committed command.
//!
//! The journal stores opaque bytes; the engine owns what they mean. A record
//! is a [`Committed`] (the stamped envelope and the outcome it produced) in
//! the ledger's canonical encoding (`engine_core::codec`: explicit fields,
//! little-endian integers, a stable tag per command, outcome and rejection
//! variant), after one byte naming the record format version:
//!
//! ```text
//! offset size field
//!      0    1 record format version (1)
//!      1    … Envelope: seq u64, time_ms u64, source u32, id (u32 len + bytes),
//!             command (u16 tag + its fields)
//!      …    … Outcome: u16 tag + its fields
//! ```
//!
//! Every build reads every record version from 1 (the first frozen format)
//! onward; `journal/FORMAT.md` lists them, and the fixtures under
//! `engine/tests/fixtures/` hold a journal of each. Decoding validates every
//! field, so arbitrary bytes give an error, never a panic.

use engine_core::codec::{self, DecodeError, Encode, Reader};

use crate::sequencer::Committed;

/// The record format this build writes.
/// 1: the first frozen format (canonical encoding, stable tags).
pub const RECORD_FORMAT_VERSION: u8 = 1;

/// A record could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// An empty record.
    #[error("empty record")]
    Empty,
    /// A record format version this build does not know. Versions before 1
    /// had no version byte: journals written before the format was frozen
    /// (Croupier before the versioned record format) are not readable.
    #[error(
        "record format version {0} is unknown to this build (it reads versions 1..={RECORD_FORMAT_VERSION}; a journal written before the record format was frozen cannot be read)"
    )]
    UnknownVersion(u8),
    /// The bytes are not a valid record of their version.
    #[error("invalid record bytes: {0}")]
    Decode(#[from] DecodeError),
}

/// Encodes one committed command as a new record.
pub fn encode(record: &Committed) -> Vec<u8> {
    let mut buffer = Vec::with_capacity(128);
    encode_into(record, &mut buffer);
    buffer
}

/// Appends one committed command's record to `buffer` and returns where its
/// bytes are: lets a batch reuse one buffer instead of allocating one per
/// record.
pub fn encode_into(record: &Committed, buffer: &mut Vec<u8>) -> std::ops::Range<usize> {
    let start = buffer.len();
    buffer.push(RECORD_FORMAT_VERSION);
    record.envelope.encode(buffer);
    record.outcome.encode(buffer);
    start..buffer.len()
}

/// Validates and decodes one record of any known version.
pub fn decode(bytes: &[u8]) -> Result<Committed, RecordError> {
    let (&version, body) = bytes.split_first().ok_or(RecordError::Empty)?;
    match version {
        1 => decode_v1(body),
        other => Err(RecordError::UnknownVersion(other)),
    }
}

/// Version 1: envelope then outcome, nothing after.
fn decode_v1(body: &[u8]) -> Result<Committed, RecordError> {
    let mut input = Reader::new(body);
    let envelope = codec::Decode::decode(&mut input)?;
    let outcome = codec::Decode::decode(&mut input)?;
    input.finish()?;
    Ok(Committed { envelope, outcome })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::{Bet, Command, Envelope, Request, RoundRef};
    use crate::ids::{ExtId, GameCode, PlayerId, RoundId, SourceId};
    use crate::money::{Amount, Currency};
    use crate::outcome::{Outcome, Rejection, TxState, TxSummary};

    fn bet() -> Envelope {
        let round = RoundRef {
            id: RoundId::new("r-1").unwrap(),
            game: GameCode::new("slot").unwrap(),
        };
        let bet = Bet {
            player: PlayerId(7),
            currency: Currency::BTC,
            amount: Amount::from_minor(5),
            round,
            close_round: true,
        };
        Envelope {
            seq: 42,
            time_ms: 1_750_000_000_000,
            request: Request {
                source: SourceId(3),
                id: ExtId::new("tx-9").unwrap(),
                command: Command::from(bet),
            },
        }
    }

    #[test]
    fn records_encoded_into_a_shared_buffer_are_the_same_bytes() {
        let records = [
            Committed {
                envelope: bet(),
                outcome: Outcome::Rejected(Rejection::Conflict),
            },
            Committed {
                envelope: bet(),
                outcome: Outcome::Accepted,
            },
        ];
        let mut buffer = Vec::new();
        let mut ranges = Vec::new();
        for record in &records {
            ranges.push(encode_into(record, &mut buffer));
        }
        for (record, range) in records.iter().zip(ranges) {
            assert_eq!(&buffer[range.clone()], &encode(record)[..]);
            assert_eq!(&decode(&buffer[range]).unwrap(), record);
        }
    }

    #[test]
    fn records_round_trip_including_nested_outcomes() {
        let nested = Outcome::Transaction(Box::new(TxSummary {
            seq: 41,
            time_ms: 1,
            state: TxState::RolledBack,
            outcome: Outcome::Rejected(Rejection::InsufficientFunds {
                available: Amount::from_minor(3),
            }),
        }));
        for outcome in [Outcome::Accepted, nested] {
            let record = Committed {
                envelope: bet(),
                outcome,
            };
            let bytes = encode(&record);
            assert_eq!(decode(&bytes).unwrap(), record);
            // Unaligned input decodes too.
            let mut shifted = vec![0u8];
            shifted.extend_from_slice(&bytes);
            assert_eq!(decode(&shifted[1..]).unwrap(), record);
        }
    }

    #[test]
    fn damaged_records_never_panic_the_decoder() {
        // Checksums in the journal catch flipped bits; the decoder's duty is
        // to validate, never to trust: every damage yields Ok or Err, no panic.
        let bytes = encode(&Committed {
            envelope: bet(),
            outcome: Outcome::Accepted,
        });
        for cut in 0..bytes.len() {
            let _ = decode(&bytes[..cut]);
        }
        assert!(decode(&[]).is_err());
        for position in 0..bytes.len() {
            for bit in [0x01, 0x80] {
                let mut damaged = bytes.to_vec();
                damaged[position] ^= bit;
                let _ = decode(&damaged);
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic_the_decoder(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            let _ = decode(&bytes);
        }
    }
}
