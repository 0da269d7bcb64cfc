//! Feeds arbitrary bytes to the batch decoder, twice:
//!
//! 1. raw, as a segment would hold them after any damage: the decoder must
//!    return a batch or an error, never panic, and a batch it accepts must
//!    re-encode to exactly the bytes it came from, in its own version (1 or
//!    2; the format is canonical);
//! 2. as the records of a valid batch that then gets one byte changed: the
//!    damage must always be detected (CRC32C catches every burst of up to
//!    32 bits), which the raw phase alone rarely reaches past the checksums.

#![no_main]

use journal::format::{encode_batch, encode_batch_version};
use journal::{BatchHash, decode_batch};
use libfuzzer_sys::fuzz_target;

fn check_raw(data: &[u8]) {
    let Ok(batch) = decode_batch(data) else {
        return;
    };
    let len = batch.encoded_len_bytes();
    assert!(len <= data.len());
    let records: Vec<&[u8]> = batch.records().collect();
    assert_eq!(records.len(), batch.header.record_count as usize);
    let again = encode_batch_version(batch.header.version, batch.first_seq(), batch.prev_hash(), &records);
    assert_eq!(&again[..], &data[..len], "a decoded batch re-encodes to its bytes");
}

fn check_damaged(data: &[u8]) {
    let Some((&[at_high, at_low, flip, record_len], rest)) = data.split_first_chunk::<4>() else {
        return;
    };
    let records: Vec<&[u8]> = rest.chunks(usize::from(record_len).max(1)).collect();
    if records.is_empty() {
        return;
    }
    let mut bytes = encode_batch(1, BatchHash::GENESIS, &records);
    assert!(decode_batch(&bytes).is_ok());
    let at = usize::from(u16::from_be_bytes([at_high, at_low])) % bytes.len();
    bytes[at] ^= flip;
    assert_eq!(
        decode_batch(&bytes).is_ok(),
        flip == 0,
        "a changed byte at {at} went unnoticed"
    );
}

fuzz_target!(|data: &[u8]| {
    check_raw(data);
    check_damaged(data);
});
