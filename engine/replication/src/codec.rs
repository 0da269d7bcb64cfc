//! The bytes of what `<data>/raft/` holds beside the journal: control
//! records, the vote, the committed log id and a snapshot's metadata.
//! Explicit fields, little-endian; every record and file carries a CRC32C.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::Path;

use openraft::BasicNode;

use crate::{LeaderId, LogId, Membership, SnapshotMeta, StoredMembership, Vote};

/// Bytes being written.
#[derive(Default)]
pub(crate) struct Out(pub Vec<u8>);

impl Out {
    fn u8(&mut self, value: u8) {
        self.0.push(value);
    }
    fn u32(&mut self, value: u32) {
        self.0.extend_from_slice(&value.to_le_bytes());
    }
    fn u64(&mut self, value: u64) {
        self.0.extend_from_slice(&value.to_le_bytes());
    }
    fn text(&mut self, text: &str) {
        self.u32(text.len() as u32);
        self.0.extend_from_slice(text.as_bytes());
    }
    fn leader(&mut self, leader: &LeaderId) {
        self.u64(leader.term);
        self.u64(leader.node_id);
    }
    pub fn log_id(&mut self, log_id: &LogId) {
        self.leader(&log_id.leader_id);
        self.u64(log_id.index);
    }
    pub fn optional_log_id(&mut self, log_id: Option<&LogId>) {
        match log_id {
            None => self.u8(0),
            Some(log_id) => {
                self.u8(1);
                self.log_id(log_id);
            }
        }
    }
    fn membership(&mut self, membership: &Membership) {
        let configs = membership.get_joint_config();
        self.u32(configs.len() as u32);
        for config in configs {
            self.u32(config.len() as u32);
            config.iter().for_each(|&id| self.u64(id));
        }
        let nodes: Vec<_> = membership.nodes().collect();
        self.u32(nodes.len() as u32);
        for (&id, node) in nodes {
            self.u64(id);
            self.text(&node.addr);
        }
    }
}

/// Bytes that do not decode as what they should hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("malformed {what} at byte {at}")]
pub struct Malformed {
    /// What was being read.
    pub what: &'static str,
    /// Where.
    pub at: usize,
}

impl From<Malformed> for io::Error {
    fn from(malformed: Malformed) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, malformed)
    }
}

/// Bytes being read.
pub(crate) struct In<'a> {
    bytes: &'a [u8],
    at: usize,
    what: &'static str,
}

impl<'a> In<'a> {
    pub fn new(bytes: &'a [u8], what: &'static str) -> In<'a> {
        In { bytes, at: 0, what }
    }
    fn malformed(&self) -> Malformed {
        Malformed {
            what: self.what,
            at: self.at,
        }
    }
    fn take(&mut self, len: usize) -> Result<&'a [u8], Malformed> {
        let taken = self
            .bytes
            .get(self.at..self.at.checked_add(len).ok_or(self.malformed())?)
            .ok_or(self.malformed())?;
        self.at += len;
        Ok(taken)
    }
    fn u8(&mut self) -> Result<u8, Malformed> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32, Malformed> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().expect("4 bytes")))
    }
    fn u64(&mut self) -> Result<u64, Malformed> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().expect("8 bytes")))
    }
    fn text(&mut self) -> Result<String, Malformed> {
        let len = self.u32()? as usize;
        let bytes = self.take(len)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| self.malformed())
    }
    fn leader(&mut self) -> Result<LeaderId, Malformed> {
        Ok(LeaderId {
            term: self.u64()?,
            node_id: self.u64()?,
        })
    }
    pub fn log_id(&mut self) -> Result<LogId, Malformed> {
        let leader = self.leader()?;
        Ok(LogId::new(leader, self.u64()?))
    }
    pub fn optional_log_id(&mut self) -> Result<Option<LogId>, Malformed> {
        match self.u8()? {
            0 => Ok(None),
            1 => Ok(Some(self.log_id()?)),
            _ => Err(self.malformed()),
        }
    }
    /// A count of items that take at least `min_item_bytes` each: bounded
    /// by the bytes left, so a bad count cannot make a huge allocation.
    fn count(&mut self, min_item_bytes: usize) -> Result<usize, Malformed> {
        let count = self.u32()? as usize;
        if count.saturating_mul(min_item_bytes) > self.bytes.len() - self.at {
            return Err(self.malformed());
        }
        Ok(count)
    }
    fn membership(&mut self) -> Result<Membership, Malformed> {
        let mut configs = Vec::new();
        for _ in 0..self.count(4)? {
            let ids = (0..self.count(8)?)
                .map(|_| self.u64())
                .collect::<Result<BTreeSet<u64>, _>>()?;
            configs.push(ids);
        }
        let mut nodes = BTreeMap::new();
        for _ in 0..self.count(12)? {
            let id = self.u64()?;
            nodes.insert(id, BasicNode { addr: self.text()? });
        }
        Membership::new(configs, nodes).map_err(|_| self.malformed())
    }
    pub fn end(&self) -> Result<(), Malformed> {
        if self.at == self.bytes.len() {
            Ok(())
        } else {
            Err(self.malformed())
        }
    }
}

/// One record of `control.log`: what the journal's batch header has no room
/// for. A Normal entry has no record of its own: its index is the next one
/// no record takes, its leader id the one of the record before it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Control {
    /// The log (as this file describes it) starts at `index`; the journal
    /// batch starting at `first_seq` is the first Normal entry at or after it.
    Start { index: u64, first_seq: u64 },
    /// Entries up to this log id were purged.
    Purged(LogId),
    /// A blank entry.
    Blank { index: u64, leader: LeaderId },
    /// A membership entry.
    Membership {
        index: u64,
        leader: LeaderId,
        membership: Membership,
    },
    /// Normal entries from `index` on carry `leader` (until the next record).
    Run { index: u64, leader: LeaderId },
}

const START: u8 = 1;
const PURGED: u8 = 2;
const BLANK: u8 = 3;
const MEMBERSHIP: u8 = 4;
const RUN: u8 = 5;

/// Bytes of a record's frame before its body: length, then CRC32C of the body.
const FRAME_BYTES: usize = 8;

impl Control {
    /// Appends the framed record to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        let mut body = Out::default();
        match self {
            Control::Start { index, first_seq } => {
                body.u8(START);
                body.u64(*index);
                body.u64(*first_seq);
            }
            Control::Purged(log_id) => {
                body.u8(PURGED);
                body.log_id(log_id);
            }
            Control::Blank { index, leader } => {
                body.u8(BLANK);
                body.u64(*index);
                body.leader(leader);
            }
            Control::Membership {
                index,
                leader,
                membership,
            } => {
                body.u8(MEMBERSHIP);
                body.u64(*index);
                body.leader(leader);
                body.membership(membership);
            }
            Control::Run { index, leader } => {
                body.u8(RUN);
                body.u64(*index);
                body.leader(leader);
            }
        }
        out.extend_from_slice(&(body.0.len() as u32).to_le_bytes());
        out.extend_from_slice(&crc32c::crc32c(&body.0).to_le_bytes());
        out.extend_from_slice(&body.0);
    }

    fn decode(body: &[u8]) -> Result<Control, Malformed> {
        let mut input = In::new(body, "control record");
        let record = match input.u8()? {
            START => Control::Start {
                index: input.u64()?,
                first_seq: input.u64()?,
            },
            PURGED => Control::Purged(input.log_id()?),
            BLANK => Control::Blank {
                index: input.u64()?,
                leader: input.leader()?,
            },
            MEMBERSHIP => Control::Membership {
                index: input.u64()?,
                leader: input.leader()?,
                membership: input.membership()?,
            },
            RUN => Control::Run {
                index: input.u64()?,
                leader: input.leader()?,
            },
            _ => return Err(input.malformed()),
        };
        input.end()?;
        Ok(record)
    }
}

/// The records of a `control.log`, and the length of the valid prefix. A
/// last record cut short or failing its checksum (a write that never
/// completed, never relied on) ends the file; a bad record with more
/// bytes after it is damage.
pub(crate) fn decode_control_log(bytes: &[u8]) -> Result<(Vec<Control>, usize), Malformed> {
    let mut records = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let malformed = Malformed {
            what: "control.log",
            at,
        };
        let Some(frame) = bytes.get(at..at + FRAME_BYTES) else {
            break; // a torn frame header
        };
        let len = u32::from_le_bytes(frame[..4].try_into().expect("4 bytes")) as usize;
        let crc = u32::from_le_bytes(frame[4..].try_into().expect("4 bytes"));
        let end = at + FRAME_BYTES + len;
        let Some(body) = bytes.get(at + FRAME_BYTES..end) else {
            break; // a torn body
        };
        if crc32c::crc32c(body) != crc {
            if end == bytes.len() {
                break; // the last record, torn
            }
            return Err(malformed);
        }
        records.push(Control::decode(body).map_err(|_| malformed)?);
        at = end;
    }
    Ok((records, at))
}

/// The bytes of a vote file.
pub(crate) fn encode_vote(vote: &Vote) -> Vec<u8> {
    let mut out = Out::default();
    out.leader(&vote.leader_id);
    out.u8(u8::from(vote.committed));
    checked(out.0)
}

pub(crate) fn decode_vote(bytes: &[u8]) -> Result<Vote, Malformed> {
    let body = unchecked(bytes, "vote")?;
    let mut input = In::new(body, "vote");
    let leader_id = input.leader()?;
    let committed = match input.u8()? {
        0 => false,
        1 => true,
        _ => return Err(input.malformed()),
    };
    input.end()?;
    Ok(Vote { leader_id, committed })
}

pub(crate) fn encode_optional_log_id(log_id: Option<&LogId>) -> Vec<u8> {
    let mut out = Out::default();
    out.optional_log_id(log_id);
    checked(out.0)
}

pub(crate) fn decode_optional_log_id(bytes: &[u8], what: &'static str) -> Result<Option<LogId>, Malformed> {
    let mut input = In::new(unchecked(bytes, what)?, what);
    let log_id = input.optional_log_id()?;
    input.end()?;
    Ok(log_id)
}

/// Snapshot metadata, then the snapshot's data, in one checked file.
pub(crate) fn encode_snapshot(meta: &SnapshotMeta, data: &[u8]) -> Vec<u8> {
    let mut out = Out::default();
    out.optional_log_id(meta.last_log_id.as_ref());
    out.optional_log_id(meta.last_membership.log_id().as_ref());
    out.membership(meta.last_membership.membership());
    out.u64(data.len() as u64);
    out.0.extend_from_slice(data);
    checked(out.0)
}

pub(crate) fn decode_snapshot(bytes: &[u8]) -> Result<(SnapshotMeta, Vec<u8>), Malformed> {
    let mut input = In::new(unchecked(bytes, "snapshot")?, "snapshot");
    let last_log_id = input.optional_log_id()?;
    let membership_log_id = input.optional_log_id()?;
    let membership = input.membership()?;
    let len = usize::try_from(input.u64()?).map_err(|_| input.malformed())?;
    let data = input.take(len)?.to_vec();
    input.end()?;
    let meta = SnapshotMeta {
        last_log_id,
        last_membership: StoredMembership::new(membership_log_id, membership),
    };
    Ok((meta, data))
}

/// `body` behind its CRC32C.
fn checked(body: Vec<u8>) -> Vec<u8> {
    let mut out = crc32c::crc32c(&body).to_le_bytes().to_vec();
    out.extend_from_slice(&body);
    out
}

fn unchecked<'a>(bytes: &'a [u8], what: &'static str) -> Result<&'a [u8], Malformed> {
    let malformed = Malformed { what, at: 0 };
    let (crc, body) = bytes.split_at_checked(4).ok_or(malformed)?;
    if crc32c::crc32c(body) != u32::from_le_bytes(crc.try_into().expect("4 bytes")) {
        return Err(malformed);
    }
    Ok(body)
}

/// Replaces `dir/name` with `bytes` atomically (a temporary file renamed
/// over it); with `durable`, the file and the directory are fsynced too.
pub(crate) fn write_atomic(dir: &Path, name: &str, bytes: &[u8], durable: bool) -> io::Result<()> {
    let temp = dir.join(format!("{name}.tmp"));
    let mut file = File::create(&temp)?;
    file.write_all(bytes)?;
    if durable {
        file.sync_all()?;
    }
    drop(file);
    fs::rename(&temp, dir.join(name))?;
    if durable {
        sync_dir(dir)?;
    }
    Ok(())
}

/// Makes a directory's entries durable.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// The file's bytes, or `None` if it does not exist.
pub(crate) fn read_if_exists(path: &Path) -> io::Result<Option<Vec<u8>>> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leader(term: u64, node_id: u64) -> LeaderId {
        LeaderId { term, node_id }
    }

    #[test]
    fn control_records_round_trip_and_a_torn_last_one_ends_the_log() {
        let membership = Membership::new(
            vec![BTreeSet::from([1, 2, 3])],
            BTreeMap::from([
                (1, BasicNode { addr: "a:1".into() }),
                (2, BasicNode { addr: "b:2".into() }),
                (3, BasicNode { addr: "c:3".into() }),
                (
                    4,
                    BasicNode {
                        addr: "learner:4".into(),
                    },
                ),
            ]),
        )
        .unwrap();
        let records = vec![
            Control::Start { index: 0, first_seq: 1 },
            Control::Membership {
                index: 0,
                leader: leader(0, 0),
                membership,
            },
            Control::Blank {
                index: 1,
                leader: leader(1, 2),
            },
            Control::Run {
                index: 2,
                leader: leader(1, 2),
            },
            Control::Purged(LogId::new(leader(1, 2), 1)),
        ];
        let mut bytes = Vec::new();
        records.iter().for_each(|record| record.encode_into(&mut bytes));
        assert_eq!(decode_control_log(&bytes), Ok((records.clone(), bytes.len())));
        // Cut anywhere inside the last record: the others remain.
        let mut last = Vec::new();
        records[4].encode_into(&mut last);
        let whole = bytes.len() - last.len();
        for cut in whole..bytes.len() {
            assert_eq!(
                decode_control_log(&bytes[..cut]),
                Ok((records[..4].to_vec(), whole)),
                "cut {cut}"
            );
        }
        // A flipped byte in a record with more after it is damage.
        let mut damaged = bytes.clone();
        damaged[20] ^= 1;
        assert!(decode_control_log(&damaged).is_err());
    }

    #[test]
    fn votes_log_ids_and_snapshots_round_trip_and_damage_is_refused() {
        let vote = Vote {
            leader_id: leader(7, 3),
            committed: true,
        };
        let encoded = encode_vote(&vote);
        assert_eq!(decode_vote(&encoded), Ok(vote));
        let mut damaged = encoded.clone();
        damaged[6] ^= 1;
        assert!(decode_vote(&damaged).is_err());
        let log_id = LogId::new(leader(2, 1), 40);
        for value in [None, Some(&log_id)] {
            assert_eq!(
                decode_optional_log_id(&encode_optional_log_id(value), "committed"),
                Ok(value.cloned())
            );
        }
        let meta = SnapshotMeta {
            last_log_id: Some(log_id),
            last_membership: StoredMembership::new(
                Some(LogId::new(leader(1, 1), 3)),
                Membership::new_with_defaults(vec![BTreeSet::from([1, 2])], []),
            ),
        };
        let encoded = encode_snapshot(&meta, b"ledger image");
        assert_eq!(decode_snapshot(&encoded), Ok((meta, b"ledger image".to_vec())));
        assert!(decode_snapshot(&encoded[..encoded.len() - 1]).is_err());
    }
}
