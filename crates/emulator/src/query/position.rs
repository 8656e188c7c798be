//! A query result's position in the query's order — its `ORDER BY` values (each with its
//! direction) and then its item's key (partition key, id), the order ties keep — so a
//! continuation can name the last result a page held and the next page start after it,
//! however many items were written before it meanwhile.

use std::cmp::Ordering;

use serde_json::{Map, Value, json};

use super::eval::order;

/// An item's key in its container: (partition key as canonical JSON, id).
pub(crate) type Key = (String, String);

/// Where a result stands in its query's order.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Position {
    /// Each `ORDER BY` value (`None`: undefined) and whether it sorts descending.
    pub(crate) keys: Vec<(Option<Value>, bool)>,
    /// The item's key: the tie-breaker.
    pub(crate) key: Key,
}

impl Position {
    /// How `self` stands against `other` in the query's order (`self`'s directions).
    pub(crate) fn cmp_to(&self, other: &Self) -> Ordering {
        for ((mine, descending), (theirs, _)) in self.keys.iter().zip(&other.keys) {
            let o = order(mine.as_ref(), theirs.as_ref());
            let o = if *descending { o.reverse() } else { o };
            if o != Ordering::Equal {
                return o;
            }
        }
        self.key.cmp(&other.key)
    }

    /// `{"k": [{"v": value, "d": descending}, …], "pk": …, "id": …}` (`v` left out when
    /// undefined).
    pub(crate) fn to_json(&self) -> Value {
        let keys: Vec<Value> = self
            .keys
            .iter()
            .map(|(value, descending)| {
                let mut key = Map::new();
                if let Some(value) = value {
                    key.insert("v".into(), value.clone());
                }
                key.insert("d".into(), json!(descending));
                Value::Object(key)
            })
            .collect();
        json!({"k": keys, "pk": self.key.0, "id": self.key.1})
    }

    /// The position [`to_json`](Self::to_json) wrote; `None` for anything else.
    pub(crate) fn from_json(value: &Value) -> Option<Self> {
        let keys = value
            .get("k")?
            .as_array()?
            .iter()
            .map(|key| Some((key.get("v").cloned(), key.get("d")?.as_bool()?)))
            .collect::<Option<Vec<_>>>()?;
        let pk = value.get("pk")?.as_str()?.to_string();
        let id = value.get("id")?.as_str()?.to_string();
        Some(Self {
            keys,
            key: (pk, id),
        })
    }

    /// Whether `other` could be a position in the same order (as many keys, the same
    /// directions).
    pub(crate) fn same_shape(&self, other: &Self) -> bool {
        self.keys.len() == other.keys.len()
            && self.keys.iter().zip(&other.keys).all(|(a, b)| a.1 == b.1)
    }
}

/// FNV-1a over `parts`: a stable 64-bit hash (the same in every build and process).
pub(crate) fn fnv1a<'a>(parts: impl IntoIterator<Item = &'a [u8]>) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in parts.into_iter().flatten() {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}
