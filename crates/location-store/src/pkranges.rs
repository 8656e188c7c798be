//! A container's partition key ranges as `GET …/pkranges` lists them, parsed and validated
//! into a [`RangeMap`], and updated from an incremental answer (`A-IM: Incremental feed`
//! with the previous etag lists only the ranges made since: a split's children, a merge's
//! result, each naming the ranges it replaces in `parents`).
//!
//! Pure: the caller fetches; this only turns bytes into a map that tiles the hash space,
//! or says why not (a gap after an incremental answer means: fetch the whole list again).

use std::sync::Arc;

use serde::Deserialize;

use crate::epk_range::{EpkRange, RangeMap, RangeMapError};

/// The largest `pkranges` body accepted.
pub const MAX_PKRANGES_BYTES: usize = 8 * 1024 * 1024;
/// The most ranges one container's map may hold.
pub const MAX_PARTITION_KEY_RANGES: usize = 10_000;

/// One partition key range: its id, its EPKs and the ranges it was split or merged from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionKeyRange {
    id: Arc<str>,
    range: EpkRange,
    parents: Vec<String>,
}

impl PartitionKeyRange {
    /// A range (as a test or a caller that already parsed one builds it).
    pub fn new(id: &str, range: EpkRange, parents: Vec<String>) -> Self {
        Self {
            id: id.into(),
            range,
            parents,
        }
    }

    /// The id (`x-ms-documentdb-partitionkeyrangeid`).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The id, shared (a clone costs no allocation).
    pub fn shared_id(&self) -> &Arc<str> {
        &self.id
    }

    /// `[minInclusive, maxExclusive)`.
    pub fn range(&self) -> &EpkRange {
        &self.range
    }

    /// The ranges this one replaced.
    pub fn parents(&self) -> &[String] {
        &self.parents
    }
}

/// Why a `pkranges` answer was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PkRangesError {
    /// Larger than [`MAX_PKRANGES_BYTES`] or more than [`MAX_PARTITION_KEY_RANGES`] ranges.
    #[error("the partition key range list is too large")]
    TooLarge,
    /// Not the service's shape (the serde message, which holds no key material).
    #[error("malformed partition key range list: {0}")]
    Malformed(String),
    /// A range whose `minInclusive` is above its `maxExclusive`.
    #[error("partition key range {0} is inverted")]
    Inverted(String),
    /// The ranges do not make a map (gap, overlap, duplicate id).
    #[error(transparent)]
    Map(#[from] RangeMapError),
}

#[derive(Deserialize)]
struct Wire {
    #[serde(rename = "PartitionKeyRanges")]
    ranges: Vec<WireRange>,
}

#[derive(Deserialize)]
struct WireRange {
    id: String,
    #[serde(rename = "minInclusive")]
    min: String,
    #[serde(rename = "maxExclusive")]
    max: String,
    #[serde(default)]
    parents: Vec<String>,
}

/// The ranges of a `pkranges` answer, in the order listed (not yet checked to tile).
pub fn parse_partition_key_ranges(body: &[u8]) -> Result<Vec<PartitionKeyRange>, PkRangesError> {
    if body.len() > MAX_PKRANGES_BYTES {
        return Err(PkRangesError::TooLarge);
    }
    let wire: Wire =
        serde_json::from_slice(body).map_err(|e| PkRangesError::Malformed(e.to_string()))?;
    if wire.ranges.len() > MAX_PARTITION_KEY_RANGES {
        return Err(PkRangesError::TooLarge);
    }
    wire.ranges
        .into_iter()
        .map(|r| {
            let range = EpkRange::new(&r.min, &r.max)
                .ok_or_else(|| PkRangesError::Inverted(r.id.clone()))?;
            Ok(PartitionKeyRange {
                id: r.id.into(),
                range,
                parents: r.parents,
            })
        })
        .collect()
}

/// A container's routing map from its full range list.
pub fn routing_map(
    ranges: Vec<PartitionKeyRange>,
) -> Result<RangeMap<PartitionKeyRange>, PkRangesError> {
    let pairs = ranges.into_iter().map(|r| (r.range.clone(), r)).collect();
    Ok(RangeMap::new(pairs, |r: &PartitionKeyRange| r.id.clone())?)
}

/// `map` with an incremental answer applied: each listed range replaces the ranges named in
/// its `parents` (and an earlier range of its own id). An error (a gap, an overlap) means
/// the answer cannot be combined: fetch the whole list.
pub fn apply_incremental(
    map: &RangeMap<PartitionKeyRange>,
    changed: Vec<PartitionKeyRange>,
) -> Result<RangeMap<PartitionKeyRange>, PkRangesError> {
    let replaced = |id: &str| {
        changed
            .iter()
            .any(|c| &*c.id == id || c.parents.iter().any(|p| p == id))
    };
    let mut ranges: Vec<PartitionKeyRange> = map
        .iter()
        .filter(|(_, r)| !replaced(&r.id))
        .map(|(_, r)| r.clone())
        .collect();
    ranges.extend(changed);
    if ranges.len() > MAX_PARTITION_KEY_RANGES {
        return Err(PkRangesError::TooLarge);
    }
    routing_map(ranges)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn body(ranges: &[(&str, &str, &str, &[&str])]) -> Vec<u8> {
        let list: Vec<serde_json::Value> = ranges
            .iter()
            .map(|(id, min, max, parents)| {
                serde_json::json!({"id": id, "minInclusive": min, "maxExclusive": max,
                    "parents": parents, "status": "online", "ridPrefix": 0})
            })
            .collect();
        serde_json::json!({"_rid": "r", "PartitionKeyRanges": list, "_count": list.len()})
            .to_string()
            .into_bytes()
    }

    fn ids(map: &RangeMap<PartitionKeyRange>) -> Vec<&str> {
        map.iter().map(|(_, r)| r.id()).collect()
    }

    #[test]
    fn a_split_and_a_merge_update_the_map_and_a_gap_asks_for_the_whole_list() {
        let two = body(&[("0", "", "20"), ("1", "20", "FF")].map(|(a, b, c)| (a, b, c, &[][..])));
        let map = routing_map(parse_partition_key_ranges(&two).unwrap()).unwrap();
        assert_eq!(ids(&map), ["0", "1"]);
        assert_eq!(map.holding("1F").unwrap().1.id(), "0");

        // Range 0 split: its children name it.
        let split = body(&[("2", "", "10", &["0"]), ("3", "10", "20", &["0"])]);
        let map = apply_incremental(&map, parse_partition_key_ranges(&split).unwrap()).unwrap();
        assert_eq!(ids(&map), ["2", "3", "1"]);
        assert_eq!(map.holding("15").unwrap().1.parents(), ["0"]);

        // 3 and 1 merged.
        let merged = body(&[("4", "10", "FF", &["0", "3", "1"])]);
        let map = apply_incremental(&map, parse_partition_key_ranges(&merged).unwrap()).unwrap();
        assert_eq!(ids(&map), ["2", "4"]);

        // A range listed again is replaced, not doubled.
        let again = body(&[("4", "10", "FF", &["0", "3", "1"])]);
        let same = apply_incremental(&map, parse_partition_key_ranges(&again).unwrap()).unwrap();
        assert_eq!(same, map);

        // A child without the parent it replaces leaves an overlap: refused.
        let orphan = body(&[("5", "", "08", &[])]);
        let refused = apply_incremental(&map, parse_partition_key_ranges(&orphan).unwrap());
        assert!(matches!(refused, Err(PkRangesError::Map(_))));
        // A list with a gap, an inverted range, garbage: refused, typed.
        let gap = body(&[("0", "", "10", &[]), ("1", "20", "FF", &[])]);
        assert!(routing_map(parse_partition_key_ranges(&gap).unwrap()).is_err());
        let inverted = body(&[("0", "30", "10", &[])]);
        assert!(matches!(
            parse_partition_key_ranges(&inverted),
            Err(PkRangesError::Inverted(_))
        ));
        assert!(matches!(
            parse_partition_key_ranges(b"[1,2]"),
            Err(PkRangesError::Malformed(_))
        ));
        let huge = vec![b' '; MAX_PKRANGES_BYTES + 1];
        assert_eq!(
            parse_partition_key_ranges(&huge),
            Err(PkRangesError::TooLarge)
        );
    }
}
