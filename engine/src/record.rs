//! The journal record format: one rkyv archive per committed command.
//!
//! The journal stores opaque bytes; the engine owns what they mean. A record
//! is a [`Committed`] (the stamped envelope and the outcome it produced),
//! archived with rkyv in its little-endian, 32-bit-offset format. Decoding
//! validates the archive (bytecheck) before use, so arbitrary bytes give an
//! error, never a panic or undefined behaviour.

use rkyv::rancor;
use rkyv::util::AlignedVec;

use crate::sequencer::Committed;

/// Version of the record encoding; bump on any change to the archived types.
/// 2: access commands (operators, aggregators, game sessions) and their outcomes.
/// 3: aggregator credentials (HMAC secret or RSA public key).
/// 4: a win may name the bet it pays.
///
/// Not yet written into the journal: a journal from a build with another
/// record format is refused on recovery by validation ("invalid record
/// bytes" at its first record), not by name.
pub const RECORD_FORMAT_VERSION: u16 = 4;

/// A record could not be encoded or decoded.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// Archiving failed (out of memory, or a type limit).
    #[error("cannot encode record: {0}")]
    Encode(String),
    /// The bytes are not a valid archived record.
    #[error("invalid record bytes: {0}")]
    Decode(String),
}

/// Archives one committed command.
pub fn encode(record: &Committed) -> Result<AlignedVec, RecordError> {
    rkyv::to_bytes::<rancor::Error>(record).map_err(|e| RecordError::Encode(e.to_string()))
}

/// Archives one committed command at the end of `buffer` (first padded to
/// the archive's alignment) and returns where its bytes are. The bytes in
/// that range are a complete archive: rkyv's pointers are relative. Lets a
/// batch reuse one buffer instead of allocating one per record.
pub fn encode_into(
    record: &Committed,
    buffer: AlignedVec,
) -> Result<(AlignedVec, std::ops::Range<usize>), RecordError> {
    let mut buffer = buffer;
    let start = buffer.len().next_multiple_of(AlignedVec::<16>::ALIGNMENT);
    buffer.resize(start, 0);
    let buffer = rkyv::api::high::to_bytes_in::<_, rancor::Error>(record, buffer)
        .map_err(|e| RecordError::Encode(e.to_string()))?;
    let end = buffer.len();
    Ok((buffer, start..end))
}

/// Validates and decodes one record. The bytes need no particular alignment.
pub fn decode(bytes: &[u8]) -> Result<Committed, RecordError> {
    let mut aligned = AlignedVec::<16>::with_capacity(bytes.len());
    aligned.extend_from_slice(bytes);
    rkyv::from_bytes::<Committed, rancor::Error>(&aligned).map_err(|e| RecordError::Decode(e.to_string()))
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
                command: Command::Bet(bet),
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
        let mut buffer = AlignedVec::new();
        let mut ranges = Vec::new();
        for record in &records {
            let (grown, range) = encode_into(record, buffer).unwrap();
            buffer = grown;
            ranges.push(range);
        }
        for (record, range) in records.iter().zip(ranges) {
            assert_eq!(&buffer[range.clone()], &encode(record).unwrap()[..]);
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
            let bytes = encode(&record).unwrap();
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
        })
        .unwrap();
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
