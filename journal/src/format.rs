//! The batch format: a 64-byte header, length-framed records, zero padding,
//! and (since version 2) an 8-byte trailer written last.
//!
//! Everything here works on byte slices and does no I/O, so the decoder can be
//! fuzzed and property-tested in memory. `FORMAT.md` is the byte-by-byte
//! reference; the constants below are the single source of the numbers in it.

use std::fmt;

/// Size of a batch header on disk.
pub const BATCH_HEADER_SIZE_BYTES: usize = 64;
/// Batches start at multiples of this many bytes within a segment.
pub const BATCH_ALIGN_BYTES: usize = 8;
/// Size of the length prefix in front of every record.
pub const RECORD_LEN_SIZE_BYTES: usize = 4;
/// The first four bytes of every batch: `b"CRPJ"`.
pub const BATCH_MAGIC: [u8; 4] = *b"CRPJ";
/// The format version this build writes (and reads, beside [`FORMAT_VERSION_V1`]).
pub const FORMAT_VERSION: u16 = 2;
/// The first format version: no trailer. Still read, so that data
/// directories written before the trailer keep opening; never written.
pub const FORMAT_VERSION_V1: u16 = 1;
/// Size of the trailer that ends every version-2 batch.
pub const BATCH_TRAILER_SIZE_BYTES: usize = 8;
/// The last four bytes of every version-2 batch: `b"CRPE"`.
pub const BATCH_END_MAGIC: [u8; 4] = *b"CRPE";
/// The unit in which writes reach the disk whole or not at all (`FORMAT.md`,
/// assumptions): recovery looks for all-zero sectors to recognise a write
/// that never completed. Sectors are counted from the start of the segment file.
pub const SECTOR_SIZE_BYTES: usize = 512;
/// Most records one batch may hold (also bounded by the payload length).
pub const BATCH_RECORD_COUNT_MAX: u32 = 1 << 24;
/// Most payload bytes one batch may hold (segments are smaller still).
pub const BATCH_PAYLOAD_SIZE_MAX_BYTES: u32 = 1 << 30;

/// Byte offsets of the header fields (see `FORMAT.md`).
mod offset {
    pub const MAGIC: usize = 0;
    pub const VERSION: usize = 4;
    pub const FLAGS: usize = 6;
    pub const RECORD_COUNT: usize = 8;
    pub const PAYLOAD_LEN: usize = 12;
    pub const FIRST_SEQ: usize = 16;
    pub const PREV_HASH: usize = 24;
    pub const PAYLOAD_HASH: usize = 40;
    pub const PAYLOAD_CHECKSUM: usize = 56;
    pub const HEADER_CHECKSUM: usize = 60;
    pub const END: usize = 64;
}

/// The header as it sits in memory. The on-disk bytes are written field by
/// field in little-endian order (see [`BatchHeader::to_bytes`]); this
/// `repr(C)` twin exists so that the compiler checks the size and that the
/// field order has no padding.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchHeader {
    /// [`BATCH_MAGIC`].
    pub magic: [u8; 4],
    /// [`FORMAT_VERSION`] (or [`FORMAT_VERSION_V1`] in batches written before the trailer).
    pub version: u16,
    /// Reserved, zero.
    pub flags: u16,
    /// Records in the batch, at least one.
    pub record_count: u32,
    /// Bytes of framed records after the header (padding excluded).
    pub payload_len_bytes: u32,
    /// Sequence number of the first record; record `i` has `first_seq + i`.
    pub first_seq: u64,
    /// [`BatchHash`] of the previous batch's header ([`BatchHash::GENESIS`] for the first).
    pub prev_hash: [u8; 16],
    /// BLAKE3 of the payload, first 16 bytes.
    pub payload_hash: [u8; 16],
    /// CRC32C of the payload.
    pub payload_checksum: u32,
    /// CRC32C of header bytes 0..60 (so it covers `payload_checksum` too).
    pub header_checksum: u32,
}

const _: () = assert!(size_of::<BatchHeader>() == BATCH_HEADER_SIZE_BYTES);
const _: () = assert!(offset::END == BATCH_HEADER_SIZE_BYTES);
const _: () = assert!(BATCH_HEADER_SIZE_BYTES.is_multiple_of(BATCH_ALIGN_BYTES));
const _: () = assert!(BATCH_PAYLOAD_SIZE_MAX_BYTES as u64 <= u32::MAX as u64);
// An 8-byte trailer at an 8-aligned offset never straddles a sector, so it
// reaches the disk whole or not at all.
const _: () = assert!(BATCH_TRAILER_SIZE_BYTES == BATCH_ALIGN_BYTES);
const _: () = assert!(SECTOR_SIZE_BYTES.is_multiple_of(BATCH_ALIGN_BYTES));

/// A truncated BLAKE3 hash that links a batch to the one before it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct BatchHash(pub [u8; 16]);

impl BatchHash {
    /// The `prev_hash` of the very first batch of a journal.
    pub const GENESIS: BatchHash = BatchHash([0; 16]);

    /// The hash of a header as written: the first 16 bytes of BLAKE3 over its 64 bytes.
    pub fn of_header(header_bytes: &[u8; BATCH_HEADER_SIZE_BYTES]) -> BatchHash {
        BatchHash(blake3_16(header_bytes))
    }
}

impl fmt::Display for BatchHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|byte| write!(f, "{byte:02x}"))
    }
}

impl fmt::Debug for BatchHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BatchHash({self})")
    }
}

fn blake3_16(bytes: &[u8]) -> [u8; 16] {
    let mut out = [0; 16];
    out.copy_from_slice(&blake3::hash(bytes).as_bytes()[..16]);
    out
}

fn read_u16(bytes: &[u8; 64], at: usize) -> u16 {
    u16::from_le_bytes([bytes[at], bytes[at + 1]])
}

fn read_u32(bytes: &[u8; 64], at: usize) -> u32 {
    let mut out = [0; 4];
    out.copy_from_slice(&bytes[at..at + 4]);
    u32::from_le_bytes(out)
}

fn read_u64(bytes: &[u8; 64], at: usize) -> u64 {
    let mut out = [0; 8];
    out.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(out)
}

fn read_16(bytes: &[u8; 64], at: usize) -> [u8; 16] {
    let mut out = [0; 16];
    out.copy_from_slice(&bytes[at..at + 16]);
    out
}

impl BatchHeader {
    /// The header's on-disk bytes.
    pub fn to_bytes(&self) -> [u8; BATCH_HEADER_SIZE_BYTES] {
        let mut out = [0; BATCH_HEADER_SIZE_BYTES];
        out[offset::MAGIC..offset::VERSION].copy_from_slice(&self.magic);
        out[offset::VERSION..offset::FLAGS].copy_from_slice(&self.version.to_le_bytes());
        out[offset::FLAGS..offset::RECORD_COUNT].copy_from_slice(&self.flags.to_le_bytes());
        out[offset::RECORD_COUNT..offset::PAYLOAD_LEN].copy_from_slice(&self.record_count.to_le_bytes());
        out[offset::PAYLOAD_LEN..offset::FIRST_SEQ].copy_from_slice(&self.payload_len_bytes.to_le_bytes());
        out[offset::FIRST_SEQ..offset::PREV_HASH].copy_from_slice(&self.first_seq.to_le_bytes());
        out[offset::PREV_HASH..offset::PAYLOAD_HASH].copy_from_slice(&self.prev_hash);
        out[offset::PAYLOAD_HASH..offset::PAYLOAD_CHECKSUM].copy_from_slice(&self.payload_hash);
        out[offset::PAYLOAD_CHECKSUM..offset::HEADER_CHECKSUM].copy_from_slice(&self.payload_checksum.to_le_bytes());
        out[offset::HEADER_CHECKSUM..offset::END].copy_from_slice(&self.header_checksum.to_le_bytes());
        out
    }

    /// Reads the fields of `bytes` without checking anything.
    pub fn from_bytes(bytes: &[u8; BATCH_HEADER_SIZE_BYTES]) -> BatchHeader {
        BatchHeader {
            magic: [bytes[0], bytes[1], bytes[2], bytes[3]],
            version: read_u16(bytes, offset::VERSION),
            flags: read_u16(bytes, offset::FLAGS),
            record_count: read_u32(bytes, offset::RECORD_COUNT),
            payload_len_bytes: read_u32(bytes, offset::PAYLOAD_LEN),
            first_seq: read_u64(bytes, offset::FIRST_SEQ),
            prev_hash: read_16(bytes, offset::PREV_HASH),
            payload_hash: read_16(bytes, offset::PAYLOAD_HASH),
            payload_checksum: read_u32(bytes, offset::PAYLOAD_CHECKSUM),
            header_checksum: read_u32(bytes, offset::HEADER_CHECKSUM),
        }
    }

    /// The CRC32C that `header_checksum` must hold for these bytes.
    fn checksum_of(bytes: &[u8; BATCH_HEADER_SIZE_BYTES]) -> u32 {
        crc32c::crc32c(&bytes[..offset::HEADER_CHECKSUM])
    }

    /// Sequence number of the last record.
    pub fn last_seq(&self) -> u64 {
        debug_assert!(self.record_count >= 1);
        self.first_seq + u64::from(self.record_count) - 1
    }

    /// Bytes the whole batch takes in a segment: header, payload, padding,
    /// and the trailer unless it is a version-1 batch.
    pub fn encoded_len_bytes(&self) -> usize {
        let framed = framed_len_bytes(self.payload_len_bytes as usize);
        if self.version == FORMAT_VERSION_V1 {
            framed
        } else {
            framed + BATCH_TRAILER_SIZE_BYTES
        }
    }

    /// The trailer a version-2 batch with this header ends with: a copy of
    /// `header_checksum`, then [`BATCH_END_MAGIC`].
    pub fn trailer(&self) -> [u8; BATCH_TRAILER_SIZE_BYTES] {
        let mut out = [0; BATCH_TRAILER_SIZE_BYTES];
        out[..4].copy_from_slice(&self.header_checksum.to_le_bytes());
        out[4..].copy_from_slice(&BATCH_END_MAGIC);
        out
    }
}

/// Header, payload and padding: a batch without its trailer.
fn framed_len_bytes(payload_len_bytes: usize) -> usize {
    (BATCH_HEADER_SIZE_BYTES + payload_len_bytes).next_multiple_of(BATCH_ALIGN_BYTES)
}

/// Bytes a batch with `payload_len_bytes` of framed records takes in a
/// segment, as this build writes it (version 2, trailer included).
pub fn batch_len_bytes(payload_len_bytes: usize) -> usize {
    framed_len_bytes(payload_len_bytes) + BATCH_TRAILER_SIZE_BYTES
}

/// Payload bytes of `records` once framed (length prefixes included), or
/// `None` if a record or the total does not fit the format's limits.
pub fn payload_len_bytes<R: AsRef<[u8]>>(records: &[R]) -> Option<u32> {
    let mut total: u64 = 0;
    for record in records {
        let len = u32::try_from(record.as_ref().len()).ok()?;
        total += RECORD_LEN_SIZE_BYTES as u64 + u64::from(len);
        if total > u64::from(BATCH_PAYLOAD_SIZE_MAX_BYTES) {
            return None;
        }
    }
    u32::try_from(total).ok()
}

/// Why bytes are not a valid batch. Never a panic: every input maps to one of these or to a batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Fewer bytes than a header.
    #[error("only {available_bytes} bytes left, a batch header needs 64")]
    TooShort {
        /// Bytes that were there.
        available_bytes: usize,
    },
    /// The first four bytes are not `CRPJ` (zeros here usually mean "end of data").
    #[error("bad magic {found:02x?}")]
    BadMagic {
        /// The bytes found.
        found: [u8; 4],
    },
    /// The header's CRC32C does not match its bytes.
    #[error("header checksum mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    HeaderChecksum {
        /// `header_checksum` as stored.
        stored: u32,
        /// CRC32C of header bytes 0..60.
        computed: u32,
    },
    /// A format version this build does not know.
    #[error("unsupported format version {found}")]
    UnsupportedVersion {
        /// The version found.
        found: u16,
    },
    /// A header field holds a value the format forbids.
    #[error("invalid header field {field}: {value}")]
    InvalidField {
        /// Which field.
        field: &'static str,
        /// Its value.
        value: u64,
    },
    /// The payload runs past the end of the bytes given.
    #[error("payload of {payload_len_bytes} bytes runs past the {available_bytes} bytes available")]
    Truncated {
        /// `payload_len_bytes` from the header.
        payload_len_bytes: u32,
        /// Bytes available after the header.
        available_bytes: usize,
    },
    /// The payload's CRC32C does not match.
    #[error("payload checksum mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    PayloadChecksum {
        /// `payload_checksum` as stored.
        stored: u32,
        /// CRC32C of the payload.
        computed: u32,
    },
    /// The payload's BLAKE3 does not match (the CRC did: deliberate tampering or a CRC collision).
    #[error("payload hash mismatch")]
    PayloadHash,
    /// The record length prefixes do not add up to the payload.
    #[error("record {index} framing does not fit the payload")]
    RecordFraming {
        /// Index of the first record that does not fit (or `record_count` for trailing bytes).
        index: u32,
    },
    /// A padding byte after the payload is not zero.
    #[error("non-zero padding after the payload")]
    PaddingNotZero,
    /// The trailer of a version-2 batch is not the header checksum followed by `CRPE`.
    #[error("bad batch trailer {found:02x?}")]
    BadTrailer {
        /// The eight bytes found.
        found: [u8; BATCH_TRAILER_SIZE_BYTES],
    },
}

/// A batch read from bytes, all checks passed. Borrows the bytes.
#[derive(Clone, Copy, Debug)]
pub struct DecodedBatch<'a> {
    /// The header fields.
    pub header: BatchHeader,
    /// The hash the next batch's `prev_hash` must hold.
    pub hash: BatchHash,
    /// The framed records.
    payload: &'a [u8],
}

impl<'a> DecodedBatch<'a> {
    /// Reassembles a batch that [`decode_batch`] accepted from these parts.
    pub(crate) fn from_parts(header: BatchHeader, hash: BatchHash, payload: &'a [u8]) -> DecodedBatch<'a> {
        debug_assert_eq!(payload.len(), header.payload_len_bytes as usize);
        DecodedBatch { header, hash, payload }
    }

    /// Sequence number of the first record.
    pub fn first_seq(&self) -> u64 {
        self.header.first_seq
    }

    /// Sequence number of the last record.
    pub fn last_seq(&self) -> u64 {
        self.header.last_seq()
    }

    /// The `prev_hash` field.
    pub fn prev_hash(&self) -> BatchHash {
        BatchHash(self.header.prev_hash)
    }

    /// Bytes the batch takes, padding included: where the next batch starts.
    pub fn encoded_len_bytes(&self) -> usize {
        self.header.encoded_len_bytes()
    }

    /// The records, in sequence order.
    pub fn records(&self) -> Records<'a> {
        Records {
            rest: self.payload,
            left: self.header.record_count,
        }
    }
}

/// Iterator over the records of a [`DecodedBatch`].
#[derive(Clone, Debug)]
pub struct Records<'a> {
    rest: &'a [u8],
    left: u32,
}

impl<'a> Iterator for Records<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.left == 0 {
            return None;
        }
        let (record, rest) = split_record(self.rest)?;
        self.rest = rest;
        self.left -= 1;
        Some(record)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left as usize, Some(self.left as usize))
    }
}

impl ExactSizeIterator for Records<'_> {}

/// Splits the first length-prefixed record off `bytes`.
fn split_record(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let prefix: [u8; RECORD_LEN_SIZE_BYTES] = bytes.get(..RECORD_LEN_SIZE_BYTES)?.try_into().ok()?;
    let len = u32::from_le_bytes(prefix) as usize;
    let rest = &bytes[RECORD_LEN_SIZE_BYTES..];
    if len > rest.len() {
        return None;
    }
    Some(rest.split_at(len))
}

/// Decodes the batch at the start of `bytes` (which may continue past it),
/// checking magic, both checksums, the payload hash, every header field, the
/// record framing, the padding and (version 2) the trailer. Reads versions 1
/// and 2. Never panics, whatever the bytes.
pub fn decode_batch(bytes: &[u8]) -> Result<DecodedBatch<'_>, DecodeError> {
    let header_bytes = header_bytes(bytes)?;
    let header = BatchHeader::from_bytes(header_bytes);
    check_header(&header, header_bytes)?;
    let payload_len_bytes = header.payload_len_bytes as usize;
    let after_header = &bytes[BATCH_HEADER_SIZE_BYTES..];
    let Some(rest) = after_header.get(..header.encoded_len_bytes() - BATCH_HEADER_SIZE_BYTES) else {
        return Err(DecodeError::Truncated {
            payload_len_bytes: header.payload_len_bytes,
            available_bytes: after_header.len(),
        });
    };
    let (payload_and_padding, trailer) = rest.split_at(framed_len_bytes(payload_len_bytes) - BATCH_HEADER_SIZE_BYTES);
    let (payload, padding) = payload_and_padding.split_at(payload_len_bytes);
    check_payload(&header, payload)?;
    if padding.iter().any(|&byte| byte != 0) {
        return Err(DecodeError::PaddingNotZero);
    }
    // Version 1 has no trailer: `trailer` is empty then.
    if header.version != FORMAT_VERSION_V1 && trailer != header.trailer() {
        let mut found = [0; BATCH_TRAILER_SIZE_BYTES];
        found.copy_from_slice(trailer);
        return Err(DecodeError::BadTrailer { found });
    }
    Ok(DecodedBatch {
        header,
        hash: BatchHash::of_header(header_bytes),
        payload,
    })
}

/// The header at the start of `bytes` if its checksum holds (its fields
/// unchecked): then it was written whole, and it says where its batch ends.
pub(crate) fn whole_header(bytes: &[u8]) -> Option<BatchHeader> {
    let header_bytes = header_bytes(bytes).ok()?;
    let header = BatchHeader::from_bytes(header_bytes);
    (header.magic == BATCH_MAGIC && header.header_checksum == BatchHeader::checksum_of(header_bytes)).then_some(header)
}

/// Whether [`check_fields`] and the version check accept `header`.
pub(crate) fn header_fields_valid(header: &BatchHeader) -> bool {
    matches!(header.version, FORMAT_VERSION | FORMAT_VERSION_V1) && check_fields(header).is_ok()
}

fn header_bytes(bytes: &[u8]) -> Result<&[u8; BATCH_HEADER_SIZE_BYTES], DecodeError> {
    let available_bytes = bytes.len();
    let Some(head) = bytes.get(..BATCH_HEADER_SIZE_BYTES) else {
        return Err(DecodeError::TooShort { available_bytes });
    };
    head.try_into().map_err(|_| DecodeError::TooShort { available_bytes })
}

fn check_header(header: &BatchHeader, bytes: &[u8; BATCH_HEADER_SIZE_BYTES]) -> Result<(), DecodeError> {
    if header.magic != BATCH_MAGIC {
        return Err(DecodeError::BadMagic { found: header.magic });
    }
    let computed = BatchHeader::checksum_of(bytes);
    if header.header_checksum != computed {
        return Err(DecodeError::HeaderChecksum {
            stored: header.header_checksum,
            computed,
        });
    }
    if header.version != FORMAT_VERSION && header.version != FORMAT_VERSION_V1 {
        return Err(DecodeError::UnsupportedVersion { found: header.version });
    }
    check_fields(header)
}

fn check_fields(header: &BatchHeader) -> Result<(), DecodeError> {
    let invalid = |field, value| Err(DecodeError::InvalidField { field, value });
    if header.flags != 0 {
        return invalid("flags", u64::from(header.flags));
    }
    if header.record_count == 0 || header.record_count > BATCH_RECORD_COUNT_MAX {
        return invalid("record_count", u64::from(header.record_count));
    }
    if header.payload_len_bytes > BATCH_PAYLOAD_SIZE_MAX_BYTES
        || u64::from(header.payload_len_bytes) < u64::from(header.record_count) * RECORD_LEN_SIZE_BYTES as u64
    {
        return invalid("payload_len_bytes", u64::from(header.payload_len_bytes));
    }
    if header.first_seq == 0 || header.first_seq.checked_add(u64::from(header.record_count)).is_none() {
        return invalid("first_seq", header.first_seq);
    }
    Ok(())
}

fn check_payload(header: &BatchHeader, payload: &[u8]) -> Result<(), DecodeError> {
    let computed = crc32c::crc32c(payload);
    if header.payload_checksum != computed {
        return Err(DecodeError::PayloadChecksum {
            stored: header.payload_checksum,
            computed,
        });
    }
    if header.payload_hash != blake3_16(payload) {
        return Err(DecodeError::PayloadHash);
    }
    check_framing(header.record_count, payload)
}

fn check_framing(record_count: u32, payload: &[u8]) -> Result<(), DecodeError> {
    let mut rest = payload;
    for index in 0..record_count {
        let Some((_, after)) = split_record(rest) else {
            return Err(DecodeError::RecordFraming { index });
        };
        rest = after;
    }
    if !rest.is_empty() {
        return Err(DecodeError::RecordFraming { index: record_count });
    }
    Ok(())
}

/// Encodes a batch into `dst`, which must be exactly
/// `batch_len_bytes(payload_len_bytes(records))` long. Returns the header written.
///
/// The journal encodes a batch here, in memory, then writes it with one
/// `pwrite`: the disk may receive its sectors in any order, which recovery
/// allows for (`FORMAT.md`, write path and recovery).
///
/// # Panics
/// If `records` is empty, breaks the format's limits, or `dst` has the wrong
/// length: the caller checks these first (they are programming errors here).
pub fn encode_batch_into<R: AsRef<[u8]>>(
    dst: &mut [u8],
    first_seq: u64,
    prev_hash: BatchHash,
    records: &[R],
) -> BatchHeader {
    let (framed, trailer) = dst.split_at_mut(dst.len().saturating_sub(BATCH_TRAILER_SIZE_BYTES));
    let header = encode_framed(framed, FORMAT_VERSION, first_seq, prev_hash, records);
    assert_eq!(trailer.len(), BATCH_TRAILER_SIZE_BYTES, "destination length");
    trailer.copy_from_slice(&header.trailer());
    header
}

/// Writes header, records and padding of a batch of `version` into `dst`
/// (exactly their length): records and padding first, the header last.
fn encode_framed<R: AsRef<[u8]>>(
    dst: &mut [u8],
    version: u16,
    first_seq: u64,
    prev_hash: BatchHash,
    records: &[R],
) -> BatchHeader {
    let payload_len = payload_len_bytes(records).expect("batch within the format's limits");
    let record_count = u32::try_from(records.len()).expect("record count fits u32");
    assert!(
        (1..=BATCH_RECORD_COUNT_MAX).contains(&record_count),
        "record count out of range"
    );
    assert!(first_seq >= 1 && first_seq.checked_add(u64::from(record_count)).is_some());
    assert_eq!(dst.len(), framed_len_bytes(payload_len as usize), "destination length");
    let (head, rest) = dst.split_at_mut(BATCH_HEADER_SIZE_BYTES);
    let (payload, padding) = rest.split_at_mut(payload_len as usize);
    write_records(payload, records);
    padding.fill(0);
    let mut header = BatchHeader {
        magic: BATCH_MAGIC,
        version,
        flags: 0,
        record_count,
        payload_len_bytes: payload_len,
        first_seq,
        prev_hash: prev_hash.0,
        payload_hash: blake3_16(payload),
        payload_checksum: crc32c::crc32c(payload),
        header_checksum: 0,
    };
    header.header_checksum = BatchHeader::checksum_of(&header.to_bytes());
    head.copy_from_slice(&header.to_bytes());
    header
}

fn write_records<R: AsRef<[u8]>>(payload: &mut [u8], records: &[R]) {
    let mut at = 0;
    for record in records {
        let record = record.as_ref();
        let len = record.len() as u32;
        payload[at..at + RECORD_LEN_SIZE_BYTES].copy_from_slice(&len.to_le_bytes());
        at += RECORD_LEN_SIZE_BYTES;
        payload[at..at + record.len()].copy_from_slice(record);
        at += record.len();
    }
    assert_eq!(at, payload.len(), "records fill the payload exactly");
}

/// Encodes a batch into a new buffer (for tests, tools and fuzz seeds; the
/// journal reuses one buffer with [`encode_batch_into`]).
///
/// # Panics
/// As [`encode_batch_into`].
pub fn encode_batch<R: AsRef<[u8]>>(first_seq: u64, prev_hash: BatchHash, records: &[R]) -> Vec<u8> {
    let payload_len = payload_len_bytes(records).expect("batch within the format's limits");
    let mut out = vec![0; batch_len_bytes(payload_len as usize)];
    encode_batch_into(&mut out, first_seq, prev_hash, records);
    out
}

/// Encodes a version-1 batch (no trailer), as builds before version 2 wrote
/// them: for tests and tools that need such data. The journal never writes one.
///
/// # Panics
/// As [`encode_batch_into`].
pub fn encode_batch_v1<R: AsRef<[u8]>>(first_seq: u64, prev_hash: BatchHash, records: &[R]) -> Vec<u8> {
    let payload_len = payload_len_bytes(records).expect("batch within the format's limits");
    let mut out = vec![0; framed_len_bytes(payload_len as usize)];
    encode_framed(&mut out, FORMAT_VERSION_V1, first_seq, prev_hash, records);
    out
}

/// Encodes `records` as a batch of the given `version` (1 or 2): what a
/// decoded batch of that version re-encodes to.
///
/// # Panics
/// As [`encode_batch_into`], and for any other version.
pub fn encode_batch_version<R: AsRef<[u8]>>(
    version: u16,
    first_seq: u64,
    prev_hash: BatchHash,
    records: &[R],
) -> Vec<u8> {
    match version {
        FORMAT_VERSION => encode_batch(first_seq, prev_hash, records),
        FORMAT_VERSION_V1 => encode_batch_v1(first_seq, prev_hash, records),
        _ => panic!("no encoder for format version {version}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn batch(first_seq: u64, records: &[&[u8]]) -> Vec<u8> {
        encode_batch(first_seq, BatchHash::GENESIS, records)
    }

    #[test]
    fn a_batch_round_trips() {
        let bytes = batch(7, &[b"alpha", b"", b"gamma!"]);
        assert_eq!(bytes.len() % BATCH_ALIGN_BYTES, 0);
        let decoded = decode_batch(&bytes).expect("valid");
        assert_eq!((decoded.first_seq(), decoded.last_seq()), (7, 9));
        assert_eq!(decoded.encoded_len_bytes(), bytes.len());
        let records: Vec<&[u8]> = decoded.records().collect();
        assert_eq!(records, vec![&b"alpha"[..], b"", b"gamma!"]);
        assert_eq!(decoded.hash, BatchHash::of_header(bytes[..64].try_into().unwrap()));
    }

    #[test]
    fn trailing_bytes_after_a_batch_are_not_its_business() {
        let mut bytes = batch(1, &[b"x"]);
        let len = bytes.len();
        bytes.extend_from_slice(&[0xff; 100]);
        assert_eq!(decode_batch(&bytes).expect("valid").encoded_len_bytes(), len);
    }

    fn check(mutate: impl Fn(&mut Vec<u8>), expect: impl Fn(&DecodeError) -> bool) {
        let mut bytes = batch(5, &[b"hello", b"world"]);
        mutate(&mut bytes);
        let error = decode_batch(&bytes).expect_err("must not decode");
        assert!(expect(&error), "unexpected error {error:?}");
    }

    /// Rewrites a header field and fixes the header checksum, as a buggy writer would.
    fn set_field(bytes: &mut [u8], at: usize, value: &[u8]) {
        bytes[at..at + value.len()].copy_from_slice(value);
        let checksum = crc32c::crc32c(&bytes[..60]);
        bytes[60..64].copy_from_slice(&checksum.to_le_bytes());
    }

    #[test]
    fn every_kind_of_damage_is_named() {
        use DecodeError as E;
        check(|b| b.truncate(10), |e| matches!(e, E::TooShort { available_bytes: 10 }));
        check(|b| b.fill(0), |e| matches!(e, E::BadMagic { found: [0, 0, 0, 0] }));
        check(|b| b[20] ^= 1, |e| matches!(e, E::HeaderChecksum { .. }));
        check(
            |b| set_field(b, 4, &3u16.to_le_bytes()),
            |e| matches!(e, E::UnsupportedVersion { found: 3 }),
        );
        check(
            |b| set_field(b, 6, &1u16.to_le_bytes()),
            |e| matches!(e, E::InvalidField { field: "flags", .. }),
        );
        check(
            |b| set_field(b, 8, &0u32.to_le_bytes()),
            |e| {
                matches!(
                    e,
                    E::InvalidField {
                        field: "record_count",
                        ..
                    }
                )
            },
        );
        check(
            |b| set_field(b, 8, &3u32.to_le_bytes()),
            |e| matches!(e, E::RecordFraming { index: 2 }),
        );
        check(
            |b| set_field(b, 16, &0u64.to_le_bytes()),
            |e| matches!(e, E::InvalidField { field: "first_seq", .. }),
        );
        check(
            |b| set_field(b, 16, &u64::MAX.to_le_bytes()),
            |e| matches!(e, E::InvalidField { field: "first_seq", .. }),
        );
        check(
            |b| set_field(b, 12, &1000u32.to_le_bytes()),
            |e| matches!(e, E::Truncated { .. }),
        );
        check(|b| b.truncate(b.len() - 8), |e| matches!(e, E::Truncated { .. }));
        check(|b| b[70] ^= 1, |e| matches!(e, E::PayloadChecksum { .. }));
        // 64 + 18 payload bytes: padding at 82..88, the trailer at 88..96.
        check(|b| b[87] = 1, |e| matches!(e, E::PaddingNotZero));
        check(|b| b[88] ^= 1, |e| matches!(e, E::BadTrailer { .. }));
        check(|b| *b.last_mut().unwrap() = 0, |e| matches!(e, E::BadTrailer { .. }));
        check(|b| b.truncate(b.len() - 1), |e| matches!(e, E::Truncated { .. }));
    }

    #[test]
    fn a_forged_crc_is_caught_by_the_payload_hash() {
        let mut bytes = batch(5, &[b"hello"]);
        bytes[68] = b'j';
        let forged = crc32c::crc32c(&bytes[64..64 + 9]);
        set_field(&mut bytes, 56, &forged.to_le_bytes());
        assert_eq!(decode_batch(&bytes).unwrap_err(), DecodeError::PayloadHash);
    }

    #[test]
    fn framing_that_does_not_add_up_is_refused() {
        // A payload whose checksums are right but whose lengths lie.
        let payload = [3u8, 0, 0, 0, b'a', b'b'];
        let mut bytes = vec![0u8; batch_len_bytes(payload.len())];
        bytes[64..70].copy_from_slice(&payload);
        let mut header = BatchHeader {
            magic: BATCH_MAGIC,
            version: FORMAT_VERSION,
            flags: 0,
            record_count: 1,
            payload_len_bytes: 6,
            first_seq: 1,
            prev_hash: [0; 16],
            payload_hash: blake3_16(&payload),
            payload_checksum: crc32c::crc32c(&payload),
            header_checksum: 0,
        };
        header.header_checksum = BatchHeader::checksum_of(&header.to_bytes());
        bytes[..64].copy_from_slice(&header.to_bytes());
        assert_eq!(
            decode_batch(&bytes).unwrap_err(),
            DecodeError::RecordFraming { index: 0 }
        );
    }

    #[test]
    fn payload_length_limits() {
        assert_eq!(payload_len_bytes::<&[u8]>(&[]), Some(0));
        assert_eq!(payload_len_bytes(&[&b"abc"[..], b""]), Some(4 + 3 + 4));
        assert_eq!(batch_len_bytes(11), 80 + 8);
        assert_eq!(batch_len_bytes(0), 64 + 8);
        assert_eq!(encode_batch_v1(1, BatchHash::GENESIS, &[b"abcdefg"]).len(), 80);
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|byte| format!("{byte:02x}")).collect()
    }

    /// The format is pinned: a change to these bytes is a new format version.
    #[test]
    fn the_format_is_pinned_by_a_test_vector() {
        assert_eq!(
            crc32c::crc32c(b"123456789"),
            0xE306_9283,
            "CRC32C (Castagnoli) check value"
        );
        let bytes = encode_batch(42, BatchHash([0xAB; 16]), &[&b"croupier!"[..], b""]);
        let expected = concat!(
            "4352504a",
            "0200",
            "0000",
            "02000000",
            "11000000",
            "2a00000000000000",
            "abababababababababababababababab",
            "7eaa632d6ef564feff263853ca704789",
            "ee9004a4",
            "213bde5f",
            "09000000",
            "63726f757069657221",
            "00000000",
            "00000000000000",
            "213bde5f",
            "43525045",
        );
        assert_eq!(hex(&bytes), expected);
        let batch = decode_batch(&bytes).expect("valid");
        assert_eq!(batch.encoded_len_bytes(), 96);
        assert_eq!(batch.hash.to_string(), "d5ee3db348ed55b9eb62fb3eef31ff38");
    }

    /// Version 1 (no trailer), as written before version 2: still read.
    #[test]
    fn version_1_batches_are_still_read() {
        let bytes = encode_batch_v1(42, BatchHash([0xAB; 16]), &[&b"croupier!"[..], b""]);
        let expected = concat!(
            "4352504a",
            "0100",
            "0000",
            "02000000",
            "11000000",
            "2a00000000000000",
            "abababababababababababababababab",
            "7eaa632d6ef564feff263853ca704789",
            "ee9004a4",
            "d82bedf8",
            "09000000",
            "63726f757069657221",
            "00000000",
            "00000000000000",
        );
        assert_eq!(hex(&bytes), expected);
        let batch = decode_batch(&bytes).expect("valid");
        assert_eq!(batch.encoded_len_bytes(), 88);
        assert_eq!(batch.hash.to_string(), "4f56527f640e147b1a2b297371324254");
        let records: Vec<&[u8]> = batch.records().collect();
        assert_eq!(records, vec![&b"croupier!"[..], b""]);
        // What follows a version-1 batch is the next batch, not a trailer.
        let mut two = bytes.clone();
        two.extend_from_slice(&encode_batch(44, batch.hash, &[b"v2"]));
        let second = decode_batch(&two[batch.encoded_len_bytes()..]).expect("v2 after v1");
        assert_eq!(second.prev_hash(), batch.hash);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]

        #[test]
        fn arbitrary_bytes_never_panic_the_decoder(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            if let Ok(batch) = decode_batch(&bytes) {
                let len = batch.encoded_len_bytes();
                prop_assert!(len <= bytes.len());
                let records: Vec<&[u8]> = batch.records().collect();
                prop_assert_eq!(records.len(), batch.header.record_count as usize);
                let again = encode_batch_version(batch.header.version, batch.first_seq(), batch.prev_hash(), &records);
                prop_assert_eq!(&again[..], &bytes[..len]);
            }
        }

        #[test]
        fn damaged_batches_never_panic_the_decoder(
            records in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 1..8),
            flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..6),
            cut in any::<usize>(),
        ) {
            let original = encode_batch(1, BatchHash::GENESIS, &records);
            let mut bytes = original.clone();
            for (at, value) in flips {
                let len = bytes.len();
                bytes[at % len] = value;
            }
            bytes.truncate(cut % (original.len() + 1));
            let decoded = decode_batch(&bytes);
            if bytes != original {
                // Caught, bar a CRC32C collision in the header (2^-32 for
                // multi-byte damage; single bursts of up to 32 bits always).
                prop_assert!(decoded.is_err());
            }
        }

        #[test]
        fn random_batches_round_trip(
            first_seq in 1u64..u64::MAX / 2,
            records in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..100), 1..20),
        ) {
            let bytes = encode_batch(first_seq, BatchHash([7; 16]), &records);
            let decoded = decode_batch(&bytes).expect("own encoding decodes");
            prop_assert_eq!(decoded.first_seq(), first_seq);
            prop_assert_eq!(decoded.prev_hash(), BatchHash([7; 16]));
            let back: Vec<Vec<u8>> = decoded.records().map(<[u8]>::to_vec).collect();
            prop_assert_eq!(&back, &records);
            prop_assert_eq!(encode_batch(first_seq, decoded.prev_hash(), &back), bytes);
        }
    }
}
