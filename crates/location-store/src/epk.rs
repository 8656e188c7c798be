//! Effective partition keys: where a partition key value lands in a container's hash space.
//!
//! The service hashes a partition key into an *effective partition key* (EPK), an upper-case
//! hex string; a container's physical partitions own half-open EPK ranges from `""` to
//! `"FF"`. Three schemes exist, chosen by the container's partition key definition:
//!
//! - **Hash V2** (`version: 2`): every component written in the service's hashing encoding
//!   (a type marker, then the value: a string's UTF-8 bytes and `0xFF`, a number's `f64`
//!   little-endian), MurmurHash3 x64 128-bit (seed 0) over the whole key, the 16 bytes in
//!   big-endian order with the two top bits cleared (so no EPK reaches `"FF"`).
//! - **MultiHash** (hierarchical keys, always V2): each component hashed alone as above and
//!   the 16-byte hashes concatenated; a *prefix* (fewer components than paths) spans
//!   `[epk, epk + "FF")`, every completion of the prefix.
//! - **Hash V1** (old containers): strings truncated to 100 UTF-16 units, the key written with
//!   a `0x00` string terminator, MurmurHash3 x86 32-bit (seed 0); the EPK is the service's
//!   order-preserving binary encoding of `[hash as a number, components…]`.
//!
//! Pure functions: no I/O, no allocation beyond the key's bytes and the hex string.

use serde_json::Value;

/// V1 keeps this many UTF-16 code units of a string component.
const V1_MAX_STRING_UNITS: usize = 100;
/// V1's binary encoding appends at most this many string bytes (plus one past the limit).
const V1_MAX_STRING_BYTES: usize = 100;

/// Component type markers of the service's partition key encodings.
pub(crate) mod marker {
    pub(crate) const UNDEFINED: u8 = 0x00;
    pub(crate) const NULL: u8 = 0x01;
    pub(crate) const FALSE: u8 = 0x02;
    pub(crate) const TRUE: u8 = 0x03;
    pub(crate) const NUMBER: u8 = 0x05;
    pub(crate) const STRING: u8 = 0x08;
}

/// Why a partition key has no effective partition key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EpkError {
    /// The key has no component.
    #[error("a partition key needs at least one component")]
    Empty,
    /// More components than the definition has paths (or a prefix of a non-hierarchical key).
    #[error("{given} partition key components for a definition of {paths} path(s)")]
    WrongComponentCount {
        /// Components given.
        given: usize,
        /// Paths in the definition.
        paths: usize,
    },
    /// A component is an array, a non-empty object or a number outside `f64`.
    #[error("a partition key component must be a string, number, bool, null or undefined")]
    NotAComponent,
    /// The definition itself is not one the service accepts (MultiHash V1, no path, > 3 paths).
    #[error("unsupported partition key definition")]
    UnsupportedDefinition,
}

/// How a container hashes its partition keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PartitionKeyKind {
    /// One path, hashed as a whole.
    Hash,
    /// Up to three paths, hashed one by one (hierarchical partition keys).
    MultiHash,
}

/// The hash version of a container's partition key definition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HashVersion {
    /// MurmurHash3 x86 32-bit over truncated strings (containers created before V2).
    V1,
    /// MurmurHash3 x64 128-bit over the full key.
    V2,
}

/// The parts of a container's `partitionKey` definition that decide its hashing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PartitionKeyScheme {
    kind: PartitionKeyKind,
    version: HashVersion,
    paths: usize,
}

impl PartitionKeyScheme {
    /// A scheme; `paths` is the number of paths (1 for `Hash`, 1–3 for `MultiHash`).
    pub fn new(
        kind: PartitionKeyKind,
        version: HashVersion,
        paths: usize,
    ) -> Result<Self, EpkError> {
        let valid = match kind {
            PartitionKeyKind::Hash => paths == 1,
            PartitionKeyKind::MultiHash => version == HashVersion::V2 && (1..=3).contains(&paths),
        };
        if valid {
            Ok(Self {
                kind,
                version,
                paths,
            })
        } else {
            Err(EpkError::UnsupportedDefinition)
        }
    }

    /// The common case: one path, hash V2.
    pub fn hash_v2() -> Self {
        Self {
            kind: PartitionKeyKind::Hash,
            version: HashVersion::V2,
            paths: 1,
        }
    }

    /// The kind.
    pub fn kind(&self) -> PartitionKeyKind {
        self.kind
    }

    /// The hash version.
    pub fn version(&self) -> HashVersion {
        self.version
    }

    /// The number of paths.
    pub fn paths(&self) -> usize {
        self.paths
    }
}

/// One component of a partition key value.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum PartitionKeyComponent {
    /// The item has no value at the path (`{}` on the wire).
    Undefined,
    /// JSON `null`.
    Null,
    /// A boolean.
    Bool(bool),
    /// A number (the service sees every JSON number as a double).
    Number(f64),
    /// A string.
    String(String),
}

impl PartitionKeyComponent {
    /// A component from its JSON form; `{}` is undefined.
    pub fn from_json(value: &Value) -> Result<Self, EpkError> {
        Ok(match value {
            Value::Object(map) if map.is_empty() => Self::Undefined,
            Value::Null => Self::Null,
            Value::Bool(b) => Self::Bool(*b),
            Value::Number(n) => match n.as_f64() {
                Some(f) if f.is_finite() => Self::Number(f),
                _ => return Err(EpkError::NotAComponent),
            },
            Value::String(s) => Self::String(s.clone()),
            Value::Array(_) | Value::Object(_) => return Err(EpkError::NotAComponent),
        })
    }

    /// The components of a key in its JSON form: an array of components, or one component.
    pub fn key_from_json(value: &Value) -> Result<Vec<Self>, EpkError> {
        match value {
            Value::Array(items) => items.iter().map(Self::from_json).collect(),
            other => Ok(vec![Self::from_json(other)?]),
        }
    }

    /// Writes the hashing encoding; `v1` truncates strings and ends them with `0x00`.
    fn write_for_hashing(&self, v1: bool, out: &mut Vec<u8>) {
        match self {
            Self::Undefined => out.push(marker::UNDEFINED),
            Self::Null => out.push(marker::NULL),
            Self::Bool(false) => out.push(marker::FALSE),
            Self::Bool(true) => out.push(marker::TRUE),
            Self::Number(n) => {
                out.push(marker::NUMBER);
                out.extend_from_slice(&n.to_le_bytes());
            }
            Self::String(s) if v1 => {
                out.push(marker::STRING);
                push_v1_truncated(s, out);
                out.push(0x00);
            }
            Self::String(s) => {
                out.push(marker::STRING);
                out.extend_from_slice(s.as_bytes());
                out.push(0xFF);
            }
        }
    }

    /// Writes V1's order-preserving binary encoding (the bytes of a V1 EPK).
    fn write_v1_binary(&self, out: &mut Vec<u8>) {
        match self {
            Self::Undefined => out.push(marker::UNDEFINED),
            Self::Null => out.push(marker::NULL),
            Self::Bool(false) => out.push(marker::FALSE),
            Self::Bool(true) => out.push(marker::TRUE),
            Self::Number(n) => write_v1_number(*n, out),
            Self::String(s) => {
                out.push(marker::STRING);
                let mut bytes = Vec::with_capacity(s.len().min(3 * V1_MAX_STRING_UNITS));
                push_v1_truncated(s, &mut bytes);
                let short = bytes.len() <= V1_MAX_STRING_BYTES;
                out.extend(
                    bytes
                        .iter()
                        .take(V1_MAX_STRING_BYTES + 1)
                        .map(|b| b.wrapping_add(1)),
                );
                if short {
                    out.push(0x00);
                }
            }
        }
    }
}

/// A string cut to its first 100 UTF-16 code units, as UTF-8; a surrogate pair cut in half
/// becomes U+FFFD (what the service's UTF-16 to UTF-8 conversion does with a lone surrogate).
fn push_v1_truncated(s: &str, out: &mut Vec<u8>) {
    let mut units = 0;
    for (offset, ch) in s.char_indices() {
        let next = units + ch.len_utf16();
        if next > V1_MAX_STRING_UNITS {
            out.extend_from_slice(&s.as_bytes()[..offset]);
            if units < V1_MAX_STRING_UNITS {
                out.extend_from_slice("\u{FFFD}".as_bytes());
            }
            return;
        }
        units = next;
    }
    out.extend_from_slice(s.as_bytes());
}

/// V1's number encoding: the double mapped to an order-preserving `u64`, its top byte, then
/// 7 bits per byte with a continuation bit, the last byte's low bit clear.
fn write_v1_number(value: f64, out: &mut Vec<u8>) {
    out.push(marker::NUMBER);
    let bits = value.to_bits();
    let mut payload = if bits & (1 << 63) == 0 {
        bits | (1 << 63)
    } else {
        bits.wrapping_neg()
    };
    out.push((payload >> 56) as u8);
    payload <<= 8;
    let mut pending: Option<u8> = None;
    while payload != 0 {
        if let Some(byte) = pending {
            out.push(byte);
        }
        pending = Some(((payload >> 56) as u8) | 0x01);
        payload <<= 7;
    }
    out.push(pending.unwrap_or(0) & 0xFE);
}

/// MurmurHash3 x64 128 (seed 0) as the service lays it out: big-endian, top two bits clear.
pub(crate) fn hash_v2(bytes: &[u8]) -> [u8; 16] {
    // Reading from a slice cannot fail; the default is never taken.
    let hash = murmur3::murmur3_x64_128(&mut &bytes[..], 0).unwrap_or_default();
    let mut out = hash.to_be_bytes();
    out[0] &= 0x3F;
    out
}

/// MurmurHash3 x86 32 (seed 0).
fn hash_v1(bytes: &[u8]) -> u32 {
    // Reading from a slice cannot fail; the default is never taken.
    murmur3::murmur3_32(&mut &bytes[..], 0).unwrap_or_default()
}

pub(crate) fn push_hex(bytes: &[u8], out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for b in bytes {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0x0F)]));
    }
}

/// The effective partition key of `key` (all of its components, or a MultiHash prefix) in
/// upper-case hex. A MultiHash prefix's EPK is the start of the range it spans (see
/// [`crate::EpkRange::for_key`]).
pub fn effective_partition_key(
    scheme: &PartitionKeyScheme,
    key: &[PartitionKeyComponent],
) -> Result<String, EpkError> {
    if key.is_empty() {
        return Err(EpkError::Empty);
    }
    if key.len() > scheme.paths {
        return Err(EpkError::WrongComponentCount {
            given: key.len(),
            paths: scheme.paths,
        });
    }
    let mut hex = String::with_capacity(32 * key.len());
    let mut buf = Vec::new();
    match (scheme.kind, scheme.version) {
        (PartitionKeyKind::MultiHash, _) => {
            for component in key {
                buf.clear();
                component.write_for_hashing(false, &mut buf);
                push_hex(&hash_v2(&buf), &mut hex);
            }
        }
        (PartitionKeyKind::Hash, HashVersion::V2) => {
            for component in key {
                component.write_for_hashing(false, &mut buf);
            }
            push_hex(&hash_v2(&buf), &mut hex);
        }
        (PartitionKeyKind::Hash, HashVersion::V1) => {
            for component in key {
                component.write_for_hashing(true, &mut buf);
            }
            let hash = hash_v1(&buf);
            let mut binary = Vec::new();
            write_v1_number(f64::from(hash), &mut binary);
            for component in key {
                component.write_v1_binary(&mut binary);
            }
            push_hex(&binary, &mut hex);
        }
    }
    Ok(hex)
}
