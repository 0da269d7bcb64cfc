//! The canonical byte encoding of the ledger's data: journal records,
//! snapshot images, and the bytes that fingerprints and digests hash.
//!
//! Explicit and versioned, never derived from the in-memory layout: every
//! field is written in a fixed order, integers little-endian, text and byte
//! strings with a `u32` length, options and booleans as one byte 0/1,
//! sequences with a `u32` count. Every enum variant has a stable numeric
//! tag (a `u16` for commands, outcomes and rejections, a `u8` for the small
//! enums) that is never reused: a variant that goes away keeps its tag
//! reserved, and a new one takes the next free number.
//!
//! Changing how an existing tag is encoded is a new format version: the
//! writer of the current version and the readers of every version since the
//! first (the fixtures under `engine/tests/fixtures/` hold each) live side by
//! side. Decoding validates everything it builds (ids through their own
//! constructors, counts against the bytes left, nesting depth), so damaged
//! or hostile bytes give a [`DecodeError`], never a panic.
//!
//! Hashes are XXH3-64 (the `xxhash-rust` crate; the algorithm is specified
//! and its output stable across versions and platforms) over these bytes,
//! encoded into a stack buffer and hashed in one call: named and stable
//! across toolchains, unlike `derive(Hash)`, and cheap enough for the
//! sequencer's path (two hashes a command).

mod wire;

pub use wire::{TAG_COMMAND, TAG_OUTCOME, TAG_REJECTION};

/// Where encoded bytes go: a buffer, or straight into a hash.
pub trait Sink {
    /// Appends `bytes`.
    fn put(&mut self, bytes: &[u8]);
}

impl Sink for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

/// Bytes encoded to be hashed: on the stack up to [`Scratch::INLINE`]
/// bytes (every command and outcome but the rare long one), so hashing a
/// value costs no allocation and one hash call.
pub struct Scratch {
    inline: [u8; Scratch::INLINE],
    len: usize,
    spilled: Vec<u8>,
}

impl Scratch {
    /// Bytes held without allocating.
    pub const INLINE: usize = 192;

    /// An empty buffer.
    pub fn new() -> Scratch {
        Scratch {
            inline: [0; Scratch::INLINE],
            len: 0,
            spilled: Vec::new(),
        }
    }

    /// The bytes put so far.
    pub fn as_slice(&self) -> &[u8] {
        if self.spilled.is_empty() {
            &self.inline[..self.len]
        } else {
            &self.spilled
        }
    }
}

impl Default for Scratch {
    fn default() -> Scratch {
        Scratch::new()
    }
}

impl Scratch {
    /// The rare value longer than the inline buffer.
    #[cold]
    #[inline(never)]
    fn spill(&mut self, bytes: &[u8]) {
        if self.spilled.is_empty() {
            self.spilled.extend_from_slice(&self.inline[..self.len]);
        }
        self.spilled.extend_from_slice(bytes);
    }
}

impl Sink for Scratch {
    // Inlined, so that the fixed-size puts of integers and tags become
    // plain stores.
    #[inline(always)]
    fn put(&mut self, bytes: &[u8]) {
        let end = self.len + bytes.len();
        if end <= Scratch::INLINE && self.spilled.is_empty() {
            self.inline[self.len..end].copy_from_slice(bytes);
            self.len = end;
        } else {
            self.spill(bytes);
        }
    }
}

/// A value with a canonical encoding.
pub trait Encode {
    /// Writes the value's bytes into `out`.
    fn encode<S: Sink>(&self, out: &mut S);
}

/// A value that can be read back from its canonical encoding.
pub trait Decode: Sized {
    /// Reads one value, validating it.
    fn decode(input: &mut Reader<'_>) -> Result<Self, DecodeError>;
}

/// Encodes `value` into a new buffer.
pub fn to_bytes<T: Encode + ?Sized>(value: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    value.encode(&mut out);
    out
}

/// Decodes one `T` that must use all of `bytes`.
pub fn from_bytes<T: Decode>(bytes: &[u8]) -> Result<T, DecodeError> {
    let mut input = Reader::new(bytes);
    let value = T::decode(&mut input)?;
    input.finish()?;
    Ok(value)
}

/// XXH3-64 seeded with `seed` over the canonical encodings of the values
/// added, one after another (the same bytes as encoding them in a row).
pub struct StableHasher {
    seed: u64,
    bytes: Scratch,
}

impl StableHasher {
    /// A hasher seeded with `seed`.
    #[inline]
    pub fn new(seed: u64) -> StableHasher {
        StableHasher {
            seed,
            bytes: Scratch::new(),
        }
    }

    /// Adds the encoding of `value`.
    #[inline]
    pub fn add<T: Encode + ?Sized>(&mut self, value: &T) -> &mut StableHasher {
        value.encode(&mut self.bytes);
        self
    }

    /// The hash of everything added.
    #[inline]
    pub fn finish(&self) -> u64 {
        hash_bytes(self.seed, self.bytes.as_slice())
    }
}

/// The stable hash of already encoded bytes: XXH3-64 seeded with `seed`
/// (what [`StableHasher`] computes over the values it was given).
#[inline]
pub fn hash_bytes(seed: u64, bytes: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64_with_seed(bytes, seed)
}

/// Why bytes are not a valid encoding.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The bytes end inside a value.
    #[error("the bytes end inside {0}")]
    UnexpectedEnd(&'static str),
    /// A tag no version of the format has used for this type.
    #[error("unknown {what} tag {tag}")]
    UnknownTag {
        /// The type.
        what: &'static str,
        /// The tag found.
        tag: u16,
    },
    /// A value its type does not accept (a bad id, an unknown currency ...).
    #[error("invalid {0}")]
    Invalid(&'static str),
    /// Values nest deeper than any valid record.
    #[error("values nest too deeply")]
    TooDeep,
    /// Bytes are left after the value.
    #[error("{0} bytes left after the value")]
    TrailingBytes(usize),
    /// A format version this build does not read.
    #[error("unknown {what} format version {version}")]
    UnknownVersion {
        /// What was versioned.
        what: &'static str,
        /// The version found.
        version: u32,
    },
}

/// Deepest nesting of boxed values (an in-session command holds a command,
/// a transaction summary an outcome): far above any valid record.
const DEPTH_MAX: u8 = 8;

/// Reads encoded bytes front to back.
pub struct Reader<'a> {
    bytes: &'a [u8],
    depth: u8,
}

impl<'a> Reader<'a> {
    /// Reads `bytes`.
    pub fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { bytes, depth: 0 }
    }

    /// The next `len` bytes.
    pub fn take(&mut self, len: usize, what: &'static str) -> Result<&'a [u8], DecodeError> {
        if self.bytes.len() < len {
            return Err(DecodeError::UnexpectedEnd(what));
        }
        let (head, tail) = self.bytes.split_at(len);
        self.bytes = tail;
        Ok(head)
    }

    /// The next `N` bytes as an array.
    pub fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], DecodeError> {
        let mut array = [0; N];
        array.copy_from_slice(self.take(N, what)?);
        Ok(array)
    }

    /// One byte.
    pub fn u8(&mut self, what: &'static str) -> Result<u8, DecodeError> {
        Ok(self.array::<1>(what)?[0])
    }

    /// A little-endian `u16`.
    pub fn u16(&mut self, what: &'static str) -> Result<u16, DecodeError> {
        Ok(u16::from_le_bytes(self.array(what)?))
    }

    /// A little-endian `u32`.
    pub fn u32(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    /// A little-endian `u64`.
    pub fn u64(&mut self, what: &'static str) -> Result<u64, DecodeError> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    /// A count of items that each take at least `min_item_bytes`: refused if
    /// the bytes left cannot hold them, so a damaged count never allocates.
    pub fn count(&mut self, min_item_bytes: usize, what: &'static str) -> Result<usize, DecodeError> {
        let count = self.u32(what)? as usize;
        if count.saturating_mul(min_item_bytes.max(1)) > self.bytes.len() {
            return Err(DecodeError::UnexpectedEnd(what));
        }
        Ok(count)
    }

    /// A `u32`-length-prefixed byte string.
    pub fn bytes(&mut self, what: &'static str) -> Result<&'a [u8], DecodeError> {
        let len = self.count(1, what)?;
        self.take(len, what)
    }

    /// A `u32`-length-prefixed UTF-8 string.
    pub fn str(&mut self, what: &'static str) -> Result<&'a str, DecodeError> {
        std::str::from_utf8(self.bytes(what)?).map_err(|_| DecodeError::Invalid(what))
    }

    /// Decodes a boxed (possibly recursive) value, bounding the nesting.
    pub fn nested<T>(
        &mut self,
        decode: impl FnOnce(&mut Reader<'a>) -> Result<T, DecodeError>,
    ) -> Result<T, DecodeError> {
        if self.depth >= DEPTH_MAX {
            return Err(DecodeError::TooDeep);
        }
        self.depth += 1;
        let value = decode(self);
        self.depth -= 1;
        value
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.bytes.len()
    }

    /// Fails if bytes are left.
    pub fn finish(&self) -> Result<(), DecodeError> {
        match self.bytes.len() {
            0 => Ok(()),
            left => Err(DecodeError::TrailingBytes(left)),
        }
    }
}

macro_rules! int_codec {
    ($($ty:ty),*) => {$(
        impl Encode for $ty {
            #[inline]
            fn encode<S: Sink>(&self, out: &mut S) {
                out.put(&self.to_le_bytes());
            }
        }
        impl Decode for $ty {
            fn decode(input: &mut Reader<'_>) -> Result<Self, DecodeError> {
                Ok(<$ty>::from_le_bytes(input.array(stringify!($ty))?))
            }
        }
    )*};
}
int_codec!(u8, u16, u32, u64, i64, i128);

/// A `usize` is a `u64` on the wire, whatever the platform.
impl Encode for usize {
    fn encode<S: Sink>(&self, out: &mut S) {
        (*self as u64).encode(out);
    }
}

impl Decode for usize {
    fn decode(input: &mut Reader<'_>) -> Result<Self, DecodeError> {
        usize::try_from(u64::decode(input)?).map_err(|_| DecodeError::Invalid("usize"))
    }
}

impl Encode for bool {
    fn encode<S: Sink>(&self, out: &mut S) {
        out.put(&[u8::from(*self)]);
    }
}

impl Decode for bool {
    fn decode(input: &mut Reader<'_>) -> Result<Self, DecodeError> {
        match input.u8("bool")? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(DecodeError::Invalid("bool")),
        }
    }
}

impl<T: Encode> Encode for Option<T> {
    fn encode<S: Sink>(&self, out: &mut S) {
        match self {
            None => out.put(&[0]),
            Some(value) => {
                out.put(&[1]);
                value.encode(out);
            }
        }
    }
}

impl<T: Decode> Decode for Option<T> {
    fn decode(input: &mut Reader<'_>) -> Result<Self, DecodeError> {
        match input.u8("option")? {
            0 => Ok(None),
            1 => Ok(Some(T::decode(input)?)),
            _ => Err(DecodeError::Invalid("option")),
        }
    }
}

impl<T: Encode + ?Sized> Encode for Box<T> {
    fn encode<S: Sink>(&self, out: &mut S) {
        (**self).encode(out);
    }
}

impl<T: Decode> Decode for Box<T> {
    fn decode(input: &mut Reader<'_>) -> Result<Self, DecodeError> {
        input.nested(|input| T::decode(input).map(Box::new))
    }
}

impl<T: Encode> Encode for [T] {
    fn encode<S: Sink>(&self, out: &mut S) {
        encode_len(self.len(), out);
        for item in self {
            item.encode(out);
        }
    }
}

impl<T: Encode> Encode for Vec<T> {
    fn encode<S: Sink>(&self, out: &mut S) {
        self.as_slice().encode(out);
    }
}

impl<T: Decode> Decode for Vec<T> {
    fn decode(input: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let count = input.count(1, "sequence")?;
        (0..count).map(|_| T::decode(input)).collect()
    }
}

impl<T: Decode> Decode for Box<[T]> {
    fn decode(input: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Vec::<T>::decode(input).map(Vec::into_boxed_slice)
    }
}

impl<T: Encode> Encode for std::collections::VecDeque<T> {
    fn encode<S: Sink>(&self, out: &mut S) {
        encode_len(self.len(), out);
        for item in self {
            item.encode(out);
        }
    }
}

impl<T: Decode> Decode for std::collections::VecDeque<T> {
    fn decode(input: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Vec::<T>::decode(input).map(Into::into)
    }
}

impl<T: Encode, const N: usize> Encode for smallvec::SmallVec<[T; N]> {
    fn encode<S: Sink>(&self, out: &mut S) {
        self.as_slice().encode(out);
    }
}

impl<T: Decode, const N: usize> Decode for smallvec::SmallVec<[T; N]> {
    fn decode(input: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Vec::<T>::decode(input).map(smallvec::SmallVec::from_vec)
    }
}

/// A map is its entries in key order; decoding refuses a repeated key.
impl<K: Encode, V: Encode> Encode for std::collections::BTreeMap<K, V> {
    fn encode<S: Sink>(&self, out: &mut S) {
        encode_len(self.len(), out);
        for (key, value) in self {
            key.encode(out);
            value.encode(out);
        }
    }
}

impl<K: Decode + Ord, V: Decode> Decode for std::collections::BTreeMap<K, V> {
    fn decode(input: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let entries = Vec::<(K, V)>::decode(input)?;
        let count = entries.len();
        let map: std::collections::BTreeMap<K, V> = entries.into_iter().collect();
        if map.len() != count {
            return Err(DecodeError::Invalid("map with a repeated key"));
        }
        Ok(map)
    }
}

impl<A: Encode, B: Encode> Encode for (A, B) {
    fn encode<S: Sink>(&self, out: &mut S) {
        self.0.encode(out);
        self.1.encode(out);
    }
}

impl<A: Decode, B: Decode> Decode for (A, B) {
    fn decode(input: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok((A::decode(input)?, B::decode(input)?))
    }
}

impl<T: Encode, const N: usize> Encode for [T; N] {
    fn encode<S: Sink>(&self, out: &mut S) {
        // Fixed length: no count.
        for item in self {
            item.encode(out);
        }
    }
}

impl<T: Decode + Copy + Default, const N: usize> Decode for [T; N] {
    fn decode(input: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let mut array = [T::default(); N];
        for item in &mut array {
            *item = T::decode(input)?;
        }
        Ok(array)
    }
}

/// Writes a sequence length. Every sequence the ledger holds is bounded far
/// below `u32::MAX` by its configuration.
#[inline]
pub fn encode_len<S: Sink>(len: usize, out: &mut S) {
    let len = u32::try_from(len).unwrap_or(u32::MAX);
    out.put(&len.to_le_bytes());
}

/// Writes a byte string with its `u32` length.
#[inline]
pub fn encode_bytes<S: Sink>(bytes: &[u8], out: &mut S) {
    encode_len(bytes.len(), out);
    out.put(bytes);
}

/// Implements [`Encode`] and [`Decode`] for a struct, its fields in the
/// order listed (the order is the format: append, never reorder).
macro_rules! codec_struct {
    ($ty:ident { $($field:ident),* $(,)? }) => {
        impl $crate::codec::Encode for $ty {
            #[inline]
            fn encode<S: $crate::codec::Sink>(&self, out: &mut S) {
                $($crate::codec::Encode::encode(&self.$field, out);)*
            }
        }
        impl $crate::codec::Decode for $ty {
            fn decode(input: &mut $crate::codec::Reader<'_>) -> Result<Self, $crate::codec::DecodeError> {
                Ok($ty { $($field: $crate::codec::Decode::decode(input)?,)* })
            }
        }
    };
}

/// Implements [`Encode`] and [`Decode`] for an enum with an explicit,
/// stable tag per variant (`$tag_ty` is `u8` or `u16`). Variants are unit,
/// one-field tuples or structs; their fields follow the tag in the order
/// listed.
macro_rules! codec_enum {
    ($ty:ident : $tag_ty:ident { $($tag:literal => $variant:ident $({ $($field:ident),* $(,)? })? $(( $inner:ident ))?),* $(,)? }) => {
        impl $crate::codec::Encode for $ty {
            fn encode<S: $crate::codec::Sink>(&self, out: &mut S) {
                match self {
                    $($ty::$variant $({ $($field),* })? $(($inner))? => {
                        let tag: $tag_ty = $tag;
                        out.put(&tag.to_le_bytes());
                        $($($crate::codec::Encode::encode($field, out);)*)?
                        $($crate::codec::Encode::encode($inner, out);)?
                    })*
                }
            }
        }
        impl $crate::codec::Decode for $ty {
            fn decode(input: &mut $crate::codec::Reader<'_>) -> Result<Self, $crate::codec::DecodeError> {
                let tag = input.$tag_ty(stringify!($ty))?;
                Ok(match tag {
                    $($tag => $ty::$variant $({ $($field: $crate::codec::Decode::decode(input)?),* })?
                        $(($crate::codec::Decode::decode(input).map(|$inner| $inner)?))?,)*
                    tag => return Err($crate::codec::DecodeError::UnknownTag { what: stringify!($ty), tag: u16::from(tag) }),
                })
            }
        }
    };
}

/// Like [`codec_enum`], for an enum whose tags are a share of a bigger
/// enum's tag space (a domain's commands within [`crate::Command`]'s): also
/// implements [`DecodeTagged`], so that the bigger enum can read the tag
/// once and hand the rest to the domain that owns it.
macro_rules! codec_enum_tagged {
    ($ty:path, $name:literal : $tag_ty:ident { $($tag:literal => $variant:ident $({ $($field:ident),* $(,)? })? $(( $inner:ident ))?),* $(,)? }) => {
        impl $crate::codec::Encode for $ty {
            #[inline]
            fn encode<S: $crate::codec::Sink>(&self, out: &mut S) {
                use $ty as This;
                match self {
                    $(This::$variant $({ $($field),* })? $(($inner))? => {
                        let tag: $tag_ty = $tag;
                        out.put(&tag.to_le_bytes());
                        $($($crate::codec::Encode::encode($field, out);)*)?
                        $($crate::codec::Encode::encode($inner, out);)?
                    })*
                }
            }
        }
        impl $crate::codec::DecodeTagged for $ty {
            fn decode_tagged(
                tag: u16,
                input: &mut $crate::codec::Reader<'_>,
            ) -> Option<Result<Self, $crate::codec::DecodeError>> {
                use $ty as This;
                type Decoded = Result<$ty, $crate::codec::DecodeError>;
                Some(match tag {
                    $($tag => (|input: &mut $crate::codec::Reader<'_>| -> Decoded {
                        Ok(This::$variant $({ $($field: $crate::codec::Decode::decode(input)?),* })?
                            $(($crate::codec::Decode::decode(input).map(|$inner| $inner)?))?)
                    })(input),)*
                    _ => return None,
                })
            }
        }
        impl $crate::codec::Decode for $ty {
            fn decode(input: &mut $crate::codec::Reader<'_>) -> Result<Self, $crate::codec::DecodeError> {
                let tag = input.$tag_ty($name)?;
                <$ty as $crate::codec::DecodeTagged>::decode_tagged(u16::from(tag), input)
                    .unwrap_or(Err($crate::codec::DecodeError::UnknownTag { what: $name, tag: u16::from(tag) }))
            }
        }
    };
}

/// A value whose tag was read by an enclosing enum: `None` if the tag is
/// not one of its own.
pub trait DecodeTagged: Sized {
    /// Reads the rest of the value that `tag` began.
    fn decode_tagged(tag: u16, input: &mut Reader<'_>) -> Option<Result<Self, DecodeError>>;
}

pub(crate) use {codec_enum, codec_enum_tagged, codec_struct};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::Command;
    use crate::ids::{PlayerId, TokenHash};
    use crate::ledger::payments;
    use crate::money::{Amount, Currency};
    use crate::outcome::{Outcome, Rejection};

    fn deposit() -> Command {
        Command::Payments(payments::Command::Deposit {
            player: PlayerId(7),
            currency: Currency::USDT,
            amount: Amount::from_minor(-5),
        })
    }

    #[test]
    fn the_encoding_is_the_documented_bytes() {
        // Tag 29 (u16 LE), player u64 LE, currency as its code in four
        // bytes, amount i64 LE.
        let mut expected = vec![29, 0, 7, 0, 0, 0, 0, 0, 0, 0, b'U', b'S', b'D', b'T'];
        expected.extend_from_slice(&(-5i64).to_le_bytes());
        assert_eq!(to_bytes(&deposit()), expected);
        assert_eq!(from_bytes::<Command>(&expected), Ok(deposit()));
        let refused = Outcome::Rejected(Rejection::Conflict);
        assert_eq!(to_bytes(&refused), [7, 0, 1, 0]);
    }

    /// Every domain's commands keep the tag their flat variant had before
    /// the split: the domain wrapper adds no byte.
    #[test]
    fn each_domain_command_keeps_its_flat_tag() {
        use crate::command::{Query, TxRef};
        use crate::ids::{ExtId, Jurisdiction, OperatorId, SourceId};
        use crate::ledger::{access, bonus, gaming, players, rg};
        let player = PlayerId(3);
        let currency = Currency::EUR;
        let tx = TxRef {
            source: SourceId(2),
            id: ExtId::new("d-1").unwrap(),
        };
        let commands: [(u16, Command); 9] = [
            (
                1,
                players::Command::RegisterPlayer {
                    currency,
                    jurisdiction: Jurisdiction::new("MT").unwrap(),
                }
                .into(),
            ),
            (5, rg::Command::TimeOut { player, until_ms: 9 }.into()),
            (9, payments::Command::DepositConfirm { deposit: tx.clone() }.into()),
            (
                17,
                gaming::Command::Rollback {
                    player,
                    bet: ExtId::new("b-1").unwrap(),
                }
                .into(),
            ),
            (22, bonus::Command::Expire { player, currency }.into()),
            (23, Query::Balance { player, currency }.into()),
            (24, Query::Transaction { tx }.into()),
            (
                27,
                access::Command::IssueSession {
                    token: TokenHash([1; 32]),
                    player,
                    currency,
                    aggregator: SourceId(4),
                    expires_at_ms: 10,
                    operator: OperatorId(1),
                }
                .into(),
            ),
            (29, deposit()),
        ];
        for (tag, command) in commands {
            let bytes = to_bytes(&command);
            assert_eq!(bytes[..2], tag.to_le_bytes(), "{}", command.kind());
            assert_eq!(from_bytes::<Command>(&bytes), Ok(command));
        }
        let in_session = Command::InSession {
            token: TokenHash([2; 32]),
            command: Box::new(deposit()),
        };
        let bytes = to_bytes(&in_session);
        assert_eq!(bytes[..2], [28, 0]);
        assert_eq!(bytes[34..], to_bytes(&deposit())[..]);
    }

    /// Credential tags 1 and 2 are format 1's; 3 (a hash key, Pragmatic
    /// Play's) and 4 (a token digest, Evolution's) were appended after it:
    /// old bytes read as before, the new variants round-trip, and an
    /// unknown tag is refused by name.
    #[test]
    fn credential_tags_are_stable_and_new_ones_are_appended() {
        use crate::command::AggregatorCredential;
        use crate::ids::{HashKey, Secret};
        let hmac = AggregatorCredential::Hmac(Secret([7; 32]));
        assert_eq!(to_bytes(&hmac)[..1], [1]);
        let key = AggregatorCredential::HashKey(HashKey::new("testKey").unwrap());
        let bytes = to_bytes(&key);
        assert_eq!(bytes, [&[3, 7, 0, 0, 0][..], b"testKey"].concat());
        assert_eq!(from_bytes::<AggregatorCredential>(&bytes), Ok(key));
        let token = AggregatorCredential::AuthToken(TokenHash([9; 32]));
        assert_eq!(to_bytes(&token), [&[4][..], &[9; 32]].concat());
        assert_eq!(from_bytes::<AggregatorCredential>(&to_bytes(&token)), Ok(token));
        assert_eq!(
            from_bytes::<AggregatorCredential>(&[5]),
            Err(DecodeError::UnknownTag {
                what: "AggregatorCredential",
                tag: 5
            })
        );
        assert_eq!(
            from_bytes::<AggregatorCredential>(&[3, 5, 0, 0, 0, b'a', b' ', b'k', b'e', b'y']),
            Err(DecodeError::Invalid("HashKey"))
        );
    }

    /// The profile commands and rejections took new tags (30..=33, 31 and
    /// 32): no earlier tag changed.
    #[test]
    fn the_profile_commands_and_rejections_have_their_own_tags() {
        use crate::ids::{BlindIndex, Jurisdiction, KeyId, OperatorId, Reason};
        use crate::ledger::players::{self, AccountStatus, ProfileIndexes, SealedProfile};
        use crate::outcome::DuplicateOf;
        let profile = SealedProfile::new(KeyId([1; 16]), 1, [2; 12], b"ciphertext").unwrap();
        let indexes = ProfileIndexes {
            email: BlindIndex([3; 16]),
            identity: BlindIndex([4; 16]),
        };
        let (player, operator, reason) = (PlayerId(5), OperatorId(6), Reason::new("why").unwrap());
        let commands: [(u16, players::Command); 4] = [
            (
                30,
                players::Command::RegisterProfiled {
                    currency: Currency::EUR,
                    jurisdiction: Jurisdiction::new("GB").unwrap(),
                    profile: Box::new(profile.clone()),
                    indexes,
                    operator,
                },
            ),
            (
                31,
                players::Command::UpdateProfile {
                    player,
                    profile: Box::new(profile),
                    indexes,
                    operator,
                },
            ),
            (
                32,
                players::Command::SetStatus {
                    player,
                    status: AccountStatus::Suspended,
                    reason: reason.clone(),
                    operator,
                },
            ),
            (
                33,
                players::Command::ErasePlayer {
                    player,
                    reason,
                    operator,
                },
            ),
        ];
        for (tag, command) in commands {
            let command = Command::Players(command);
            let bytes = to_bytes(&command);
            assert_eq!(bytes[..2], tag.to_le_bytes(), "{}", command.kind());
            assert_eq!(from_bytes::<Command>(&bytes), Ok(command));
        }
        let duplicate = Outcome::Rejected(Rejection::DuplicatePlayer {
            matched: DuplicateOf::Identity,
        });
        assert_eq!(to_bytes(&duplicate), [7, 0, 31, 0, 2]);
        assert_eq!(to_bytes(&Outcome::Rejected(Rejection::PlayerErased)), [7, 0, 32, 0]);
        // An empty or oversized ciphertext does not decode.
        let mut empty = to_bytes(&KeyId([1; 16]));
        empty.extend_from_slice(&[1; 13]);
        empty.extend_from_slice(&0u32.to_le_bytes());
        assert_eq!(
            from_bytes::<SealedProfile>(&empty),
            Err(DecodeError::Invalid("SealedProfile"))
        );
    }

    /// The login commands and their outcome took new tags (40, 41; 13):
    /// the bytes are the documented ones and round-trip.
    #[test]
    fn the_login_commands_and_outcome_have_their_own_tags() {
        use crate::ids::BlindIndex;
        use crate::ledger::players::{self, AgentFamily, Browser, LoginContext, Os};
        use crate::outcome::BlockReason;
        let context = LoginContext {
            device: BlindIndex([1; 16]),
            ip: BlindIndex([2; 16]),
            agent: AgentFamily {
                browser: Browser::Firefox,
                os: Os::Linux,
            },
        };
        let player = PlayerId(5);
        for (tag, command) in [
            (40u16, players::Command::RecordLogin { player, context }),
            (41, players::Command::RecordLogout { player, context }),
        ] {
            let command = Command::Players(command);
            let bytes = to_bytes(&command);
            let expected = [&tag.to_le_bytes()[..], &5u64.to_le_bytes(), &[1; 16], &[2; 16], &[3, 4]].concat();
            assert_eq!(bytes, expected, "{}", command.kind());
            assert_eq!(from_bytes::<Command>(&bytes), Ok(command));
        }
        let blocked = Outcome::LoginRecorded {
            blocked: Some(BlockReason::Closed),
        };
        assert_eq!(to_bytes(&blocked), [13, 0, 1, 2]);
        assert_eq!(from_bytes::<Outcome>(&to_bytes(&blocked)), Ok(blocked));
        let free = Outcome::LoginRecorded { blocked: None };
        assert_eq!(to_bytes(&free), [13, 0, 0]);
    }

    /// The RG session commands, outcomes and rejections took new tags
    /// (52..=56; 17, 18; 46..=49): the bytes are the documented ones and
    /// round-trip.
    #[test]
    fn the_rg_session_tags_are_their_own_and_round_trip() {
        use crate::Query;
        use crate::ledger::rg::{self, LimitPrompt, PromptReason, RealityCheck, RgStatus, SessionMove};
        use crate::outcome::{Balances, Receipt};
        let player = PlayerId(5);
        let commands: [(u16, Command, Vec<u8>); 5] = [
            (
                52,
                Command::Rg(rg::Command::SetRealityCheckInterval {
                    player,
                    interval_ms: Some(60_000),
                }),
                [&[1][..], &60_000u64.to_le_bytes()].concat(),
            ),
            (
                53,
                Command::Rg(rg::Command::AcknowledgeRealityCheck { player }),
                Vec::new(),
            ),
            (
                54,
                Command::Rg(rg::Command::SetSessionTimeLimit { player, limit_ms: None }),
                vec![0],
            ),
            (55, Command::Rg(rg::Command::RecordLimitReview { player }), Vec::new()),
            (
                56,
                Command::Query(Query::Rg { player, at_ms: 7 }),
                7u64.to_le_bytes().to_vec(),
            ),
        ];
        for (tag, command, rest) in commands {
            let bytes = to_bytes(&command);
            let expected = [&tag.to_le_bytes()[..], &5u64.to_le_bytes(), &rest].concat();
            assert_eq!(bytes, expected, "{}", command.kind());
            assert_eq!(from_bytes::<Command>(&bytes), Ok(command));
        }
        let rejections = [
            (
                46u16,
                Rejection::RealityCheckDue { due_at_ms: 9 },
                9u64.to_le_bytes().to_vec(),
            ),
            (
                47,
                Rejection::SessionTimeLimitReached { limit_ms: 8 },
                8u64.to_le_bytes().to_vec(),
            ),
            (48, Rejection::NoPlaySession, Vec::new()),
            (49, Rejection::InvalidDuration, Vec::new()),
            (50, Rejection::FourEyesRequired, Vec::new()),
            (51, Rejection::WithdrawalReversalForbidden, Vec::new()),
            (
                52,
                Rejection::DepositNotExpired { expires_at_ms: 6 },
                6u64.to_le_bytes().to_vec(),
            ),
            (
                59,
                Rejection::ReconciliationTooLarge { max: 7 },
                7u32.to_le_bytes().to_vec(),
            ),
            (60, Rejection::InvalidFxRate, Vec::new()),
            (67, Rejection::CardNumberAsReference, Vec::new()),
            (71, Rejection::WithdrawalHeld { holds: 2 }, 2u32.to_le_bytes().to_vec()),
            (72, Rejection::UnknownWithdrawalHold, Vec::new()),
        ];
        for (tag, rejection, rest) in rejections {
            let outcome = Outcome::Rejected(rejection);
            let bytes = to_bytes(&outcome);
            assert_eq!(bytes, [&[7, 0][..], &tag.to_le_bytes(), &rest].concat());
            assert_eq!(from_bytes::<Outcome>(&bytes), Ok(outcome));
        }
        let reality_check = RealityCheck {
            interval_ms: 60_000,
            session_started_ms: 1,
            elapsed_ms: 2,
            due_at_ms: 60_001,
            due: false,
            net_position: Amount::from_minor(-250),
            currency: Currency::EUR,
        };
        let balances = Balances {
            currency: Currency::EUR,
            cash: Amount::from_minor(100),
            bonus: Amount::ZERO,
            reserved: Amount::ZERO,
            loyalty_points: 0,
        };
        let receipt = Receipt {
            seq: 3,
            cash_delta: Amount::from_minor(-250),
            bonus_delta: Amount::ZERO,
            balances,
        };
        let moved = Outcome::MovedInSession(Box::new(SessionMove { receipt, reality_check }));
        let bytes = to_bytes(&moved);
        let expected = [&[18, 0][..], &to_bytes(&receipt), &to_bytes(&reality_check)].concat();
        assert_eq!(bytes, expected);
        assert_eq!(from_bytes::<Outcome>(&bytes), Ok(moved));
        let status = Outcome::Rg(Box::new(RgStatus {
            player,
            at_ms: 10,
            self_excluded_until_ms: 0,
            timed_out_until_ms: 11,
            limits: Vec::new(),
            reality_check_interval_ms: Some(60_000),
            reality_check: Some(reality_check),
            session_started_ms: Some(1),
            net_position: Amount::from_minor(-250),
            currency: Currency::EUR,
            session_limit_ms: None,
            session_limit_pending: Some((Some(120_000), 12)),
            bets_refused: Some(Rejection::RealityCheckDue { due_at_ms: 60_001 }),
            registered_ms: None,
            first_deposit_ms: Some(4),
            limit_review_ms: None,
            limit_prompt: Some(LimitPrompt {
                reason: PromptReason::FirstDeposit,
                due_since_ms: 4,
            }),
        }));
        let bytes = to_bytes(&status);
        assert_eq!(bytes[..2], [17, 0]);
        assert_eq!(from_bytes::<Outcome>(&bytes), Ok(status));
    }

    /// The bonus-queue commands, outcomes and rejections took new tags
    /// (78 to 80; 21, 22; 61 to 63): the bytes are the documented ones and
    /// round-trip, and the grant of tag 20 decodes as before.
    #[test]
    fn the_bonus_queue_tags_are_their_own_and_round_trip() {
        use crate::Query;
        use crate::command::BonusGrant;
        use crate::ledger::bonus::{self, BonusGranted, BonusList, BonusStatus};
        use crate::outcome::{Balances, Receipt};
        let player = PlayerId(5);
        let currency = Currency::EUR;
        let grant = BonusGrant {
            player,
            currency,
            amount: Amount::from_minor(500),
            wagering: Amount::from_minor(1000),
            contributions: Vec::new(),
            default_contribution_pct: 100,
            conversion_cap: Amount::from_minor(500),
            expires_at_ms: 9,
        };
        let legacy = Command::Bonus(bonus::Command::Grant(grant.clone()));
        let legacy_bytes = to_bytes(&legacy);
        assert_eq!(legacy_bytes[..2], 20u16.to_le_bytes());
        assert_eq!(from_bytes::<Command>(&legacy_bytes), Ok(legacy));
        let queued = Command::Bonus(bonus::Command::GrantQueued {
            grant,
            max_bet: Some(Amount::from_minor(200)),
        });
        let bytes = to_bytes(&queued);
        let expected = [
            &78u16.to_le_bytes()[..],
            &legacy_bytes[2..],
            &[1],
            &200i64.to_le_bytes(),
        ]
        .concat();
        assert_eq!(bytes, expected);
        assert_eq!(from_bytes::<Command>(&bytes), Ok(queued));
        let wallet = [&5u64.to_le_bytes()[..], b"EUR\0"].concat();
        let commands: [(u16, Command, Vec<u8>); 2] = [
            (
                79,
                Command::Bonus(bonus::Command::ForfeitBonus {
                    player,
                    currency,
                    serial: Some(3),
                }),
                [&wallet[..], &[1], &3u32.to_le_bytes()].concat(),
            ),
            (80, Command::Query(Query::Bonuses { player, currency }), wallet.clone()),
        ];
        for (tag, command, rest) in commands {
            let bytes = to_bytes(&command);
            assert_eq!(bytes, [&tag.to_le_bytes()[..], &rest].concat(), "{}", command.kind());
            assert_eq!(from_bytes::<Command>(&bytes), Ok(command));
        }
        let receipt = Receipt {
            seq: 3,
            cash_delta: Amount::ZERO,
            bonus_delta: Amount::ZERO,
            balances: Balances {
                currency,
                cash: Amount::ZERO,
                bonus: Amount::from_minor(500),
                reserved: Amount::ZERO,
                loyalty_points: 0,
            },
        };
        let granted = Outcome::BonusGranted(Box::new(BonusGranted {
            receipt,
            serial: 2,
            position: 1,
        }));
        let bytes = to_bytes(&granted);
        let expected = [
            &[21, 0][..],
            &to_bytes(&receipt),
            &2u32.to_le_bytes(),
            &1u32.to_le_bytes(),
        ]
        .concat();
        assert_eq!(bytes, expected);
        assert_eq!(from_bytes::<Outcome>(&bytes), Ok(granted));
        let list = Outcome::Bonuses(Box::new(BonusList {
            currency,
            bonuses: vec![BonusStatus {
                serial: 1,
                position: 0,
                amount: Amount::from_minor(500),
                wagering_required: Amount::from_minor(1000),
                wagered: Amount::from_minor(10),
                conversion_cap: Amount::from_minor(500),
                expires_at_ms: 9,
                max_bet: None,
            }],
        }));
        let bytes = to_bytes(&list);
        assert_eq!(bytes[..2], [22, 0]);
        assert_eq!(from_bytes::<Outcome>(&bytes), Ok(list));
        let rejections = [
            (61u16, Rejection::BonusQueueFull { max: 8 }, 8u32.to_le_bytes().to_vec()),
            (
                62,
                Rejection::BonusMaxBetExceeded {
                    max: Amount::from_minor(200),
                },
                200i64.to_le_bytes().to_vec(),
            ),
            (63, Rejection::UnknownBonus { serial: 4 }, 4u32.to_le_bytes().to_vec()),
        ];
        for (tag, rejection, rest) in rejections {
            let outcome = Outcome::Rejected(rejection);
            let bytes = to_bytes(&outcome);
            assert_eq!(bytes, [&[7, 0][..], &tag.to_le_bytes(), &rest].concat());
            assert_eq!(from_bytes::<Outcome>(&bytes), Ok(outcome));
        }
        let template = bonus::BonusTemplate {
            code: crate::ids::BonusCode::new("spins").unwrap(),
            name: crate::ids::Title::new("Spins").unwrap(),
            kind: bonus::TemplateKind::FreeSpins {
                count: 10,
                bet_value: Amount::from_minor(20),
                games: vec![crate::ids::GameCode::new("slots").unwrap()],
            },
            currency,
            wagering_x: 10,
            contributions: Vec::new(),
            default_contribution_pct: 100,
            max_bet: None,
            expiry_days: 3,
            conversion_cap: Some(Amount::from_minor(1000)),
            automatic: false,
            claim_code: None,
            mixed_product: true,
            enabled: true,
        };
        let command = Command::Bonus(bonus::Command::SetTemplate {
            template: Box::new(template),
            operator: crate::ids::OperatorId(2),
        });
        let bytes = to_bytes(&command);
        let head = [
            &81u16.to_le_bytes()[..],
            &5u32.to_le_bytes(),
            b"spins",
            &5u32.to_le_bytes(),
            b"Spins",
            &[4],
            &10u32.to_le_bytes(),
            &20i64.to_le_bytes(),
        ]
        .concat();
        assert_eq!(bytes[..head.len()], head[..]);
        assert_eq!(from_bytes::<Command>(&bytes), Ok(command));
    }

    /// The loyalty commands took tags 92 to 95 and round-trip.
    #[test]
    fn the_loyalty_commands_have_their_own_tags() {
        use crate::command::BonusGrant;
        use crate::ids::{BonusCode, Jurisdiction, OperatorId, Title};
        use crate::ledger::bonus::{self, LoyaltyConfig, VipTier};
        use crate::ledger::games::GameType;
        let config = LoyaltyConfig {
            rates: vec![(GameType::Slot, 1_000), (GameType::Live, 250)],
            default_rate_milli: 100,
            currency: Currency::EUR,
            redeem_points: 100,
            redeem_amount: Amount::from_minor(100),
            redeem_wagering_x: 1,
            redeem_expiry_days: 30,
            review_days: 30,
            tiers: vec![VipTier {
                code: BonusCode::new("gold").unwrap(),
                name: Title::new("Gold").unwrap(),
                min_points: 1_000,
                min_turnover: Some(Amount::from_minor(100_000)),
                cashback_pct: Some(15),
                withdrawal_limit: None,
                account_manager: true,
            }],
        };
        let grant = BonusGrant {
            player: PlayerId(5),
            currency: Currency::EUR,
            amount: Amount::from_minor(100),
            wagering: Amount::from_minor(100),
            contributions: Vec::new(),
            default_contribution_pct: 100,
            conversion_cap: Amount::MAX,
            expires_at_ms: 9,
        };
        let commands = [
            (
                92u16,
                bonus::Command::SetLoyalty {
                    config: Box::new(config),
                    operator: OperatorId(2),
                },
            ),
            (
                93,
                bonus::Command::RedeemPoints {
                    grant: Box::new(grant),
                    max_bet: None,
                    points: 100,
                },
            ),
            (
                94,
                bonus::Command::SetVipTier {
                    player: PlayerId(5),
                    tier: BonusCode::new("gold").ok(),
                    period: 700,
                    operator: OperatorId::SYSTEM,
                },
            ),
            (
                95,
                bonus::Command::SetPromotionRules {
                    jurisdiction: Jurisdiction::new("GB").ok(),
                    mixed_product_banned: true,
                    operator: OperatorId(2),
                },
            ),
        ];
        for (tag, command) in commands {
            let command = Command::Bonus(command);
            let bytes = to_bytes(&command);
            assert_eq!(bytes[..2], tag.to_le_bytes());
            assert_eq!(from_bytes::<Command>(&bytes), Ok(command));
        }
    }

    /// The free-rounds commands (121, 122) and rejection (91) have their
    /// tags and round-trip.
    #[test]
    fn the_free_rounds_commands_have_their_tags() {
        use crate::ids::{BonusCode, GameCode, OperatorId, PlayerId, SourceId};
        use crate::ledger::bonus::{self, FreeRoundsAward, FreeRoundsState};
        let award = FreeRoundsAward {
            player: PlayerId(5),
            template: BonusCode::new("spins").unwrap(),
            code: BonusCode::new("cr-00ff").unwrap(),
            aggregator: SourceId(3),
            currency: Currency::EUR,
            rounds: 10,
            bet_value: Amount::from_minor(20),
            games: vec![GameCode::new("vs20olympgate").unwrap()],
            expires_at_ms: 9,
        };
        let settled = |state| bonus::Command::FreeRoundsSettled {
            player: PlayerId(5),
            code: BonusCode::new("cr-00ff").unwrap(),
            state,
            attempts: 3,
            operator: OperatorId::SYSTEM,
        };
        let commands = [
            (
                121u16,
                bonus::Command::FreeRoundsAwarded {
                    award: Box::new(award),
                    operator: OperatorId(2),
                },
            ),
            (122, settled(FreeRoundsState::Confirmed)),
            (122, settled(FreeRoundsState::Failed)),
            (122, settled(FreeRoundsState::CancelRequested)),
            (122, settled(FreeRoundsState::Cancelled)),
            (
                122,
                settled(FreeRoundsState::Won {
                    winnings: Amount::from_minor(340),
                }),
            ),
        ];
        for (tag, command) in commands {
            let command = Command::Bonus(command);
            let bytes = to_bytes(&command);
            assert_eq!(bytes[..2], tag.to_le_bytes());
            assert_eq!(from_bytes::<Command>(&bytes), Ok(command));
        }
        let refused = Outcome::Rejected(Rejection::InvalidFreeRounds);
        assert_eq!(to_bytes(&refused), [7, 0, 91, 0]);
        assert_eq!(from_bytes::<Outcome>(&to_bytes(&refused)), Ok(refused));
    }

    /// The jurisdiction-profile commands and rejections took new tags
    /// (47 to 50; 42 to 45) and round-trip.
    #[test]
    fn the_jurisdiction_profile_commands_and_rejections_have_their_own_tags() {
        use crate::ids::{BlindIndex, Jurisdiction, KeyId, OperatorId, Reason};
        use crate::ledger::players::{
            self, AgeBand, CurrencyAmount, JurisdictionProfile, ProfileIndexes, SealedProfile, StakeCap,
        };
        let profile = JurisdictionProfile {
            stake_caps: vec![StakeCap {
                currency: Currency::GBP,
                adult: Amount::from_minor(500),
                young_adult: Amount::from_minor(200),
            }],
            bonus_wagering_cap_x: Some(10),
            due_diligence_thresholds: vec![CurrencyAmount {
                currency: Currency::EUR,
                amount: Amount::from_minor(200_000),
            }],
            ..JurisdictionProfile::UNRESTRICTED
        };
        let operator = OperatorId(3);
        let player = PlayerId(5);
        let commands = [
            (
                47u16,
                players::Command::SetJurisdictionProfileV1 {
                    jurisdiction: Jurisdiction::new("GB").ok(),
                    profile: players::ProfileV1(Box::new(profile.clone())),
                    effective_from_ms: Some(1_780_000_000_000),
                    operator,
                },
            ),
            (
                63,
                players::Command::SetJurisdictionProfile {
                    jurisdiction: Jurisdiction::new("GB").ok(),
                    profile: Box::new(JurisdictionProfile {
                        play_sessions: players::PlaySessionRules {
                            reality_check_by_default: true,
                            idle_end_min: 30,
                        },
                        ..profile
                    }),
                    effective_from_ms: Some(1_780_000_000_000),
                    operator,
                },
            ),
            (
                48,
                players::Command::RecordDueDiligence {
                    player,
                    reason: Reason::new("source of funds").unwrap(),
                    operator,
                },
            ),
            (
                49,
                players::Command::SetAgeBand {
                    player,
                    band: AgeBand::Adult,
                    operator,
                },
            ),
            (
                50,
                players::Command::RegisterAged {
                    currency: Currency::GBP,
                    jurisdiction: Jurisdiction::new("GB").unwrap(),
                    profile: Box::new(SealedProfile::new(KeyId([1; 16]), 1, [2; 12], &[3; 40]).unwrap()),
                    indexes: ProfileIndexes {
                        email: BlindIndex([4; 16]),
                        identity: BlindIndex([5; 16]),
                    },
                    age_band: AgeBand::YoungAdult,
                    operator,
                },
            ),
        ];
        for (tag, command) in commands {
            let command = Command::Players(command);
            let bytes = to_bytes(&command);
            assert_eq!(bytes[..2], tag.to_le_bytes(), "{}", command.kind());
            assert_eq!(from_bytes::<Command>(&bytes), Ok(command));
        }
        let rejections = [
            (
                42u16,
                Rejection::StakeCapExceeded {
                    cap: Amount::from_minor(200),
                },
            ),
            (43, Rejection::DueDiligenceRequired),
            (44, Rejection::WageringCapExceeded { cap_x: 10 }),
            (45, Rejection::SelfExclusionTooShort { minimum_days: 181 }),
        ];
        for (tag, rejection) in rejections {
            let outcome = Outcome::Rejected(rejection);
            let bytes = to_bytes(&outcome);
            assert_eq!(bytes[..4], [7, 0, tag.to_le_bytes()[0], tag.to_le_bytes()[1]]);
            assert_eq!(from_bytes::<Outcome>(&bytes), Ok(outcome));
        }
        assert_eq!(
            to_bytes(&Outcome::Rejected(Rejection::DueDiligenceRequired)),
            [7, 0, 43, 0]
        );
    }

    /// A profile set before play-session rules (tag 47) keeps its bytes and
    /// decodes with none; the current command (tag 63) is the same bytes
    /// followed by the rules.
    #[test]
    fn profiles_from_before_play_session_rules_decode_with_none() {
        use crate::ids::OperatorId;
        use crate::ledger::players::{self, JurisdictionProfile, PlaySessionRules, ProfileV1};
        let rules = PlaySessionRules {
            reality_check_by_default: true,
            idle_end_min: 45,
        };
        let current = JurisdictionProfile {
            play_sessions: rules,
            ..JurisdictionProfile::UNRESTRICTED
        };
        let set = |tag: u16| {
            let command = match tag {
                47 => players::Command::SetJurisdictionProfileV1 {
                    jurisdiction: None,
                    profile: ProfileV1(Box::new(current.clone())),
                    effective_from_ms: None,
                    operator: OperatorId(1),
                },
                _ => players::Command::SetJurisdictionProfile {
                    jurisdiction: None,
                    profile: Box::new(current.clone()),
                    effective_from_ms: None,
                    operator: OperatorId(1),
                },
            };
            to_bytes(&Command::Players(command))
        };
        let (old, new) = (set(47), set(63));
        // After the profile: no effective time (1 byte), the operator (4).
        let profile_end = old.len() - 5;
        let rules_bytes = [1, 45, 0, 0, 0];
        let expected = [&old[2..profile_end], &rules_bytes, &old[profile_end..]].concat();
        assert_eq!(new[2..], expected, "the same fields, then the rules");
        match from_bytes::<Command>(&old) {
            Ok(Command::Players(players::Command::SetJurisdictionProfileV1 { profile, .. })) => {
                assert_eq!(profile.0.play_sessions, PlaySessionRules::NONE);
                assert_eq!(
                    *profile.0,
                    JurisdictionProfile {
                        play_sessions: PlaySessionRules::NONE,
                        ..current.clone()
                    }
                );
            }
            other => panic!("{other:?}"),
        }
        match from_bytes::<Command>(&new) {
            Ok(Command::Players(players::Command::SetJurisdictionProfile { profile, .. })) => {
                assert_eq!(*profile, current);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_cashier_commands_have_their_own_tags_and_round_trip() {
        use crate::command::TxRef;
        use crate::ids::{ExtId, SourceId};
        use crate::ids::{OperatorId, Reason};
        let tx = |id: &str| TxRef {
            source: SourceId(3),
            id: ExtId::new(id).unwrap(),
        };
        // The TxRef: source u32 LE, then the id's length (u32 LE) and bytes.
        let deposit = [&3u32.to_le_bytes()[..], &2u32.to_le_bytes(), b"d1"].concat();
        let commands = [
            (
                57u16,
                payments::Command::DepositExpire {
                    deposit: tx("d1"),
                    after_ms: 9,
                },
                [&deposit[..], &9u64.to_le_bytes()].concat(),
            ),
            (
                58,
                payments::Command::DepositChargeback {
                    deposit: tx("d1"),
                    amount: Amount::from_minor(4),
                },
                [&deposit[..], &4i64.to_le_bytes()].concat(),
            ),
            (
                59,
                payments::Command::PaymentReference {
                    payment: tx("d1"),
                    provider: ExtId::new("s").unwrap(),
                    reference: ExtId::new("p").unwrap(),
                },
                [&deposit[..], &1u32.to_le_bytes(), b"s", &1u32.to_le_bytes(), b"p"].concat(),
            ),
            (
                60,
                payments::Command::WithdrawalFirstApproval { withdrawal: tx("d1") },
                deposit.clone(),
            ),
            (
                61,
                payments::Command::WithdrawalApproveSecond {
                    withdrawal: tx("d1"),
                    first: tx("d1"),
                },
                [&deposit[..], &deposit].concat(),
            ),
            (
                62,
                payments::Command::WithdrawalReverse {
                    withdrawal: tx("d1"),
                    player: PlayerId(5),
                },
                [&deposit[..], &5u64.to_le_bytes()].concat(),
            ),
            (
                73,
                payments::Command::ReconciliationImport {
                    provider: ExtId::new("s").unwrap(),
                    file: ExtId::new("f").unwrap(),
                    matched: 2,
                    items: vec![payments::ReconciliationItem {
                        reference: ExtId::new("p").unwrap(),
                        gap: payments::ReconciliationGap::AmountMismatch,
                        file_currency: Currency::EUR,
                        file_amount: Amount::from_minor(9),
                        ledger_currency: Currency::EUR,
                        ledger_amount: Amount::from_minor(10),
                    }],
                },
                [
                    &1u32.to_le_bytes()[..],
                    b"s",
                    &1u32.to_le_bytes(),
                    b"f",
                    &2u32.to_le_bytes(),
                    &1u32.to_le_bytes(),
                    &1u32.to_le_bytes(),
                    b"p",
                    &[3],
                    b"EUR\0",
                    &9i64.to_le_bytes(),
                    b"EUR\0",
                    &10i64.to_le_bytes(),
                ]
                .concat(),
            ),
            (
                74,
                payments::Command::ReconciliationResolve {
                    provider: ExtId::new("s").unwrap(),
                    file: ExtId::new("f").unwrap(),
                    reference: ExtId::new("p").unwrap(),
                    reason: Reason::new("r").unwrap(),
                    operator: OperatorId(4),
                },
                [
                    &1u32.to_le_bytes()[..],
                    b"s",
                    &1u32.to_le_bytes(),
                    b"f",
                    &1u32.to_le_bytes(),
                    b"p",
                    &1u32.to_le_bytes(),
                    b"r",
                    &4u32.to_le_bytes(),
                ]
                .concat(),
            ),
            (
                75,
                payments::Command::SetFxRate {
                    base: Currency::EUR,
                    quote: Currency::GBP,
                    rate_scaled: 85_000_000,
                    effective_at_ms: 7,
                    operator: OperatorId(4),
                },
                [
                    &b"EUR\0"[..],
                    b"GBP\0",
                    &85_000_000i64.to_le_bytes(),
                    &7u64.to_le_bytes(),
                    &4u32.to_le_bytes(),
                ]
                .concat(),
            ),
            (
                85,
                payments::Command::AddPaymentMethod {
                    player: PlayerId(5),
                    method: ExtId::new("m").unwrap(),
                    kind: payments::PaymentMethodKind::Crypto,
                    reference: ExtId::new("a").unwrap(),
                    holder: payments::HolderMatch::Mismatch,
                    operator: OperatorId(4),
                },
                [
                    &5u64.to_le_bytes()[..],
                    &1u32.to_le_bytes(),
                    b"m",
                    &[4],
                    &1u32.to_le_bytes(),
                    b"a",
                    &[2],
                    &4u32.to_le_bytes(),
                ]
                .concat(),
            ),
            (
                86,
                payments::Command::SetPaymentMethodState {
                    player: PlayerId(5),
                    method: ExtId::new("m").unwrap(),
                    state: payments::PaymentMethodState::Removed,
                    reason: Reason::new("r").unwrap(),
                    operator: OperatorId(4),
                },
                [
                    &5u64.to_le_bytes()[..],
                    &1u32.to_le_bytes(),
                    b"m",
                    &[3],
                    &1u32.to_le_bytes(),
                    b"r",
                    &4u32.to_le_bytes(),
                ]
                .concat(),
            ),
            (
                87,
                payments::Command::PaymentMethodUse {
                    payment: tx("d1"),
                    method: ExtId::new("m").unwrap(),
                },
                [&deposit[..], &1u32.to_le_bytes(), b"m"].concat(),
            ),
            (
                88,
                payments::Command::DepositConfirmChecked { deposit: tx("d1") },
                deposit.clone(),
            ),
        ];
        for (tag, command, rest) in commands {
            let command = Command::Payments(command);
            let bytes = to_bytes(&command);
            assert_eq!(bytes, [&tag.to_le_bytes()[..], &rest].concat(), "{}", command.kind());
            assert_eq!(from_bytes::<Command>(&bytes), Ok(command));
        }
    }

    #[test]
    fn bad_bytes_are_refused_by_name() {
        assert_eq!(
            from_bytes::<Command>(&[200, 0]),
            Err(DecodeError::UnknownTag {
                what: "Command",
                tag: 200
            })
        );
        let mut trailing = to_bytes(&deposit());
        trailing.push(0);
        assert_eq!(from_bytes::<Command>(&trailing), Err(DecodeError::TrailingBytes(1)));
        let mut bad_currency = to_bytes(&deposit());
        bad_currency[10] = b'X';
        assert_eq!(
            from_bytes::<Command>(&bad_currency),
            Err(DecodeError::Invalid("Currency"))
        );
        // A huge count with few bytes behind it allocates nothing.
        let mut input = Reader::new(&[0xff, 0xff, 0xff, 0xff, 1]);
        assert!(Vec::<u64>::decode(&mut input).is_err());
    }

    #[test]
    fn nesting_is_bounded_so_hostile_bytes_cannot_overflow_the_stack() {
        let mut command = deposit();
        for _ in 0..4 {
            command = Command::InSession {
                token: TokenHash([1; 32]),
                command: Box::new(command),
            };
        }
        assert_eq!(from_bytes::<Command>(&to_bytes(&command)), Ok(command));
        // In-session tag, a token, again and again: refused at the bound.
        let mut deep = Vec::new();
        for _ in 0..100_000 {
            deep.extend_from_slice(&28u16.to_le_bytes());
            deep.extend_from_slice(&[1; 32]);
        }
        assert_eq!(from_bytes::<Command>(&deep), Err(DecodeError::TooDeep));
    }

    #[test]
    fn hashes_are_xxh3_over_the_encoding() {
        let expected = xxhash_rust::xxh3::xxh3_64_with_seed(&to_bytes(&deposit()), 12);
        assert_eq!(StableHasher::new(12).add(&deposit()).finish(), expected);
        // Past the inline buffer, the same bytes give the same hash.
        let long: Vec<u64> = (0..100).collect();
        let mut twice = to_bytes(&long);
        twice.extend_from_slice(&to_bytes(&long));
        let expected = xxhash_rust::xxh3::xxh3_64_with_seed(&twice, 12);
        assert_eq!(StableHasher::new(12).add(&long).add(&long).finish(), expected);
    }

    /// The withdrawal holds' tags (commands 90, 91; outcome 26;
    /// rejections 71, 72 above): the documented bytes, round-tripped.
    #[test]
    fn the_withdrawal_hold_tags_are_their_own_and_round_trip() {
        use crate::ledger::payments;
        let fields = |hold: &str| {
            let mut rest = 7u64.to_le_bytes().to_vec();
            for text in [hold, "case open"] {
                rest.extend((text.len() as u32).to_le_bytes());
                rest.extend(text.as_bytes());
            }
            rest.extend(1u32.to_le_bytes());
            rest
        };
        let (player, operator) = (PlayerId(7), crate::ids::OperatorId(1));
        let reason = || crate::ids::Reason::new("case open").unwrap();
        let hold = || crate::ids::ExtId::new("case-3").unwrap();
        let commands = [
            (
                90u16,
                Command::Payments(payments::Command::HoldWithdrawals {
                    player,
                    hold: hold(),
                    reason: reason(),
                    operator,
                }),
            ),
            (
                91,
                Command::Payments(payments::Command::ReleaseWithdrawals {
                    player,
                    hold: hold(),
                    reason: reason(),
                    operator,
                }),
            ),
        ];
        for (tag, command) in commands {
            let bytes = to_bytes(&command);
            assert_eq!(
                bytes,
                [&tag.to_le_bytes()[..], &fields("case-3")].concat(),
                "{}",
                command.kind()
            );
            assert_eq!(from_bytes::<Command>(&bytes), Ok(command));
        }
        let outcome = Outcome::WithdrawalHolds { holds: 3 };
        let bytes = to_bytes(&outcome);
        assert_eq!(bytes, [&26u16.to_le_bytes()[..], &3u32.to_le_bytes()].concat());
        assert_eq!(from_bytes::<Outcome>(&bytes), Ok(outcome));
    }
}
