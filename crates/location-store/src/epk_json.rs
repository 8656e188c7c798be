//! The effective partition key of a key in its JSON form, for the hot path of an item
//! operation: hash V2 and MultiHash keys are encoded in a stack buffer (a heap one only
//! for keys over [`STACK_BYTES`]), so the EPK costs one allocation, its hex string. Hash
//! V1 goes through [`PartitionKeyComponent`]s (old containers; same result).

use serde_json::Value;

use crate::epk::{
    EpkError, HashVersion, PartitionKeyComponent, PartitionKeyKind, PartitionKeyScheme,
    effective_partition_key, hash_v2, marker, push_hex,
};

/// Encodings up to this many bytes are built on the stack.
const STACK_BYTES: usize = 256;

/// The components of a key in its JSON form (an array, or one value), borrowed.
fn components(key: &Value) -> &[Value] {
    match key {
        Value::Array(items) => items,
        single => std::slice::from_ref(single),
    }
}

/// The hashing encoding's length of one component, or why it is not one.
fn encoded_len(value: &Value) -> Result<usize, EpkError> {
    Ok(match value {
        Value::Object(map) if map.is_empty() => 1,
        Value::Null | Value::Bool(_) => 1,
        Value::Number(n) if n.as_f64().is_some_and(f64::is_finite) => 9,
        Value::String(s) => s.len() + 2,
        _ => return Err(EpkError::NotAComponent),
    })
}

/// Writes the V2 hashing encoding of `value` at the start of `out` (as long as
/// [`encoded_len`] says); returns the bytes written.
fn encode(value: &Value, out: &mut [u8]) -> usize {
    let mut put = |at: usize, bytes: &[u8]| out[at..at + bytes.len()].copy_from_slice(bytes);
    match value {
        Value::Null => put(0, &[marker::NULL]),
        Value::Bool(false) => put(0, &[marker::FALSE]),
        Value::Bool(true) => put(0, &[marker::TRUE]),
        Value::Number(n) => {
            put(0, &[marker::NUMBER]);
            put(1, &n.as_f64().unwrap_or_default().to_le_bytes());
            return 9;
        }
        Value::String(s) => {
            put(0, &[marker::STRING]);
            put(1, s.as_bytes());
            put(1 + s.len(), &[0xFF]);
            return s.len() + 2;
        }
        _ => put(0, &[marker::UNDEFINED]),
    }
    1
}

/// Hashes the encodings of `values` together (V2 over the whole key).
fn hash_together(values: &[Value], len: usize) -> [u8; 16] {
    let mut stack = [0u8; STACK_BYTES];
    let mut heap = Vec::new();
    let buf: &mut [u8] = if len <= STACK_BYTES {
        &mut stack[..len]
    } else {
        heap.resize(len, 0);
        &mut heap
    };
    let mut at = 0;
    for value in values {
        at += encode(value, &mut buf[at..]);
    }
    hash_v2(&buf[..at])
}

/// The effective partition key of `key` in its JSON form (`"a"`, `["a", 1]`), as
/// [`effective_partition_key`] computes it from components.
pub fn effective_partition_key_of_json(
    scheme: &PartitionKeyScheme,
    key: &Value,
) -> Result<String, EpkError> {
    let values = components(key);
    if values.is_empty() {
        return Err(EpkError::Empty);
    }
    if values.len() > scheme.paths() {
        return Err(EpkError::WrongComponentCount {
            given: values.len(),
            paths: scheme.paths(),
        });
    }
    let mut len = 0;
    for value in values {
        len += encoded_len(value)?;
    }
    match (scheme.kind(), scheme.version()) {
        (PartitionKeyKind::MultiHash, _) => {
            let mut hex = String::with_capacity(32 * values.len());
            for value in values {
                let one = std::slice::from_ref(value);
                push_hex(&hash_together(one, encoded_len(value)?), &mut hex);
            }
            Ok(hex)
        }
        (PartitionKeyKind::Hash, HashVersion::V2) => {
            let mut hex = String::with_capacity(32);
            push_hex(&hash_together(values, len), &mut hex);
            Ok(hex)
        }
        _ => {
            let key = PartitionKeyComponent::key_from_json(key)?;
            effective_partition_key(scheme, &key)
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use serde_json::json;

    use super::*;

    #[test]
    fn the_json_path_matches_the_components_path() {
        let long = "x".repeat(600);
        let keys = [
            json!("a"),
            json!(1),
            json!(-2.5),
            json!(null),
            json!(true),
            json!({}),
            json!(long),
            json!(["a", 1]),
            json!(["t", "u", null]),
        ];
        let schemes = [
            PartitionKeyScheme::hash_v2(),
            PartitionKeyScheme::new(PartitionKeyKind::Hash, HashVersion::V1, 1).unwrap(),
            PartitionKeyScheme::new(PartitionKeyKind::MultiHash, HashVersion::V2, 3).unwrap(),
        ];
        for scheme in &schemes {
            for key in &keys {
                let components = PartitionKeyComponent::key_from_json(key).unwrap();
                let slow = effective_partition_key(scheme, &components);
                assert_eq!(effective_partition_key_of_json(scheme, key), slow, "{key}");
            }
        }
        let scheme = PartitionKeyScheme::hash_v2();
        assert_eq!(
            effective_partition_key_of_json(&scheme, &json!([[1]])),
            Err(EpkError::NotAComponent)
        );
        assert_eq!(
            effective_partition_key_of_json(&scheme, &json!([])),
            Err(EpkError::Empty)
        );
    }
}
