//! Effective partition keys (hash V2), as SDKs compute them to scope a feed to a range of
//! the hash space (`x-ms-start-epk` / `x-ms-end-epk`): the partition key value encoded
//! as the service hashes it, MurmurHash3 x64 128-bit (seed 0), the bytes reversed, the two
//! top bits cleared, in upper-case hex.

use serde_json::Value;

const C1: u64 = 0x87c3_7b91_1142_53d5;
const C2: u64 = 0x4cf5_ad43_2745_937f;

fn fmix(mut k: u64) -> u64 {
    k ^= k >> 33;
    k = k.wrapping_mul(0xff51_afd7_ed55_8ccd);
    k ^= k >> 33;
    k = k.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    k ^ (k >> 33)
}

fn mix_k1(k1: u64) -> u64 {
    k1.wrapping_mul(C1).rotate_left(31).wrapping_mul(C2)
}

fn mix_k2(k2: u64) -> u64 {
    k2.wrapping_mul(C2).rotate_left(33).wrapping_mul(C1)
}

/// Little-endian u64 of up to 8 bytes.
fn le(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .enumerate()
        .fold(0, |acc, (i, b)| acc | (u64::from(*b) << (8 * i)))
}

/// MurmurHash3 x64 128-bit with seed 0: (h1, h2).
fn murmur3_128(data: &[u8]) -> (u64, u64) {
    let (mut h1, mut h2) = (0u64, 0u64);
    let mut blocks = data.chunks_exact(16);
    for block in &mut blocks {
        let (k1, k2) = block.split_at(8);
        h1 ^= mix_k1(le(k1));
        h1 = h1
            .rotate_left(27)
            .wrapping_add(h2)
            .wrapping_mul(5)
            .wrapping_add(0x52dc_e729);
        h2 ^= mix_k2(le(k2));
        h2 = h2
            .rotate_left(31)
            .wrapping_add(h1)
            .wrapping_mul(5)
            .wrapping_add(0x3849_5ab5);
    }
    let tail = blocks.remainder();
    if tail.len() > 8 {
        h2 ^= mix_k2(le(&tail[8..]));
    }
    if !tail.is_empty() {
        h1 ^= mix_k1(le(&tail[..tail.len().min(8)]));
    }
    let len = data.len() as u64;
    h1 ^= len;
    h2 ^= len;
    h1 = h1.wrapping_add(h2);
    h2 = h2.wrapping_add(h1);
    h1 = fmix(h1);
    h2 = fmix(h2);
    h1 = h1.wrapping_add(h2);
    h2 = h2.wrapping_add(h1);
    (h1, h2)
}

/// A partition key value as hash V2 encodes it; `None` for arrays and non-empty objects
/// (`{}` is the undefined value).
fn encode(value: &Value) -> Option<Vec<u8>> {
    Some(match value {
        Value::Object(map) if map.is_empty() => vec![0x00],
        Value::Null => vec![0x01],
        Value::Bool(false) => vec![0x02],
        Value::Bool(true) => vec![0x03],
        Value::Number(n) => {
            let mut bytes = vec![0x05];
            bytes.extend_from_slice(&n.as_f64()?.to_le_bytes());
            bytes
        }
        Value::String(s) => {
            let mut bytes = vec![0x08];
            bytes.extend_from_slice(s.as_bytes());
            bytes.push(0xFF);
            bytes
        }
        Value::Array(_) | Value::Object(_) => return None,
    })
}

/// The hash V2 effective partition key of one partition key value.
pub(crate) fn epk_v2(value: &Value) -> Option<String> {
    let (h1, h2) = murmur3_128(&encode(value)?);
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&h2.to_be_bytes());
    bytes[8..].copy_from_slice(&h1.to_be_bytes());
    bytes[0] &= 0x3F;
    Some(bytes.iter().map(|b| format!("{b:02X}")).collect())
}

/// An effective partition key range from a feed request: `[start, end)`, or the single
/// key when both ends are the same.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EpkRange {
    pub(crate) start: String,
    pub(crate) end: String,
}

impl EpkRange {
    /// Whether the item with this partition key (canonical JSON) is in the range.
    pub(crate) fn contains(&self, pk: &str) -> bool {
        // A hierarchical key's EPK is its values' EPKs one after another.
        let epk = match serde_json::from_str::<Value>(pk) {
            Ok(Value::Array(values)) => values.iter().map(epk_v2).collect::<Option<String>>(),
            Ok(value) => epk_v2(&value),
            Err(_) => None,
        };
        let Some(epk) = epk else {
            return false;
        };
        if self.start == self.end {
            epk == self.start
        } else {
            self.start <= epk && (self.end.is_empty() || epk < self.end)
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use serde_json::json;

    use super::*;

    /// Values the official Python SDK (azure-cosmos 4.17.1) computes for a `/pk` hash V2
    /// container: `PartitionKey(...)._get_epk_range_for_partition_key(v).min`.
    #[test]
    fn epks_match_the_python_sdks() {
        let cases = [
            (json!("p1"), "062B23DEC15212F01B9A85F4E93A940C"),
            (json!("eu"), "3F97C8ADBAFAA4A183E4E7F7EB9BE36E"),
            (json!(""), "32E9366E637A71B4E710384B2F4970A0"),
            (json!("a".repeat(300)), "0FA3883911554221D58EB6876FE20E34"),
            (json!(5), "19C08621B135968252FB34B4CF66F811"),
            (json!(2.5), "31248BAF9BF5B03915BBF64AAF3A53B2"),
            (json!(-1), "19938E7A936C1C5B9E3AE842BBC16839"),
            (json!(true), "0E711127C5B5A8E4726AC6DD306A3E59"),
            (json!(false), "2FE1BE91E90A3439635E0E9E37361EF2"),
            (json!(null), "378867E4430E67857ACE5C908374FE16"),
        ];
        for (value, expected) in cases {
            assert_eq!(epk_v2(&value).unwrap(), expected, "{value}");
        }
        assert_eq!(epk_v2(&json!([1])), None);
        let range = EpkRange {
            start: "062B23DEC15212F01B9A85F4E93A940C".into(),
            end: "062B23DEC15212F01B9A85F4E93A940C".into(),
        };
        assert!(range.contains("\"p1\"") && !range.contains("\"eu\""));
        let half = EpkRange {
            start: String::new(),
            end: "20".into(),
        };
        assert!(half.contains("\"p1\"") && !half.contains("\"eu\""));
    }
}
