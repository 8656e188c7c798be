//! Effective partition keys against the official SDKs' vectors, and prefix keys against
//! the ranges they span.
#![allow(clippy::unwrap_used)]

use meridian_location_store::{
    EpkRange, HashVersion, KeyTarget, PartitionKeyComponent, PartitionKeyKind, PartitionKeyScheme,
    RangeMap, effective_partition_key,
};
use serde_json::{Value, json};

const VECTORS: &str = include_str!("fixtures/epk_vectors.json");

fn scheme(kind: &str, version: u64, paths: usize) -> PartitionKeyScheme {
    let kind = match kind {
        "MultiHash" => PartitionKeyKind::MultiHash,
        _ => PartitionKeyKind::Hash,
    };
    let version = if version == 1 {
        HashVersion::V1
    } else {
        HashVersion::V2
    };
    PartitionKeyScheme::new(kind, version, paths).unwrap()
}

fn key(value: &Value) -> Vec<PartitionKeyComponent> {
    PartitionKeyComponent::key_from_json(value).unwrap()
}

#[test]
fn effective_partition_keys_match_the_official_sdks_vectors() {
    let doc: Value = serde_json::from_str(VECTORS).unwrap();
    let vectors = doc["vectors"].as_array().unwrap();
    assert!(vectors.len() > 100, "{} vectors", vectors.len());
    let (mut points, mut spans, mut v1, mut multi) = (0, 0, 0, 0);
    for v in vectors {
        let id = v["id"].as_str().unwrap();
        let kind = v["kind"].as_str().unwrap();
        let version = v["version"].as_u64().unwrap();
        let scheme = scheme(kind, version, v["paths"].as_u64().unwrap() as usize);
        let key = key(&v["key"]);
        let target = EpkRange::for_key(&scheme, &key).unwrap();
        if let Some(expected) = v["epk"].as_str() {
            assert_eq!(
                effective_partition_key(&scheme, &key).unwrap(),
                expected,
                "{id}"
            );
            assert_eq!(target, KeyTarget::Point(expected.to_owned()), "{id}");
            points += 1;
        } else {
            let range = v["range"].as_array().unwrap();
            let expected =
                EpkRange::new(range[0].as_str().unwrap(), range[1].as_str().unwrap()).unwrap();
            assert_eq!(target, KeyTarget::Span(expected), "{id}");
            spans += 1;
        }
        v1 += usize::from(version == 1);
        multi += usize::from(kind == "MultiHash");
    }
    // Every family is covered: V1, V2, hierarchical points and prefixes.
    assert!(points > 90 && spans >= 6 && v1 > 30 && multi > 10);
}

/// Ranges at `bounds` (ascending, strictly between "" and "FF"), ids "0", "1", …
fn map(bounds: &[&str]) -> RangeMap<String> {
    let mut edges = vec![""];
    edges.extend_from_slice(bounds);
    edges.push("FF");
    let ranges = edges
        .windows(2)
        .enumerate()
        .map(|(i, w)| (EpkRange::new(w[0], w[1]).unwrap(), i.to_string()))
        .collect();
    RangeMap::new(ranges, String::clone).unwrap()
}

#[test]
fn hierarchical_prefix_keys_cover_their_ranges() {
    let three = scheme("MultiHash", 2, 3);
    let even = map(&["10", "20", "30", "38", "3F", "40", "80", "C0"]);
    let prefixes = [json!(["tenant-1"]), json!(["tenant-1", 7]), json!([null])];
    for prefix in &prefixes {
        let KeyTarget::Span(span) = EpkRange::for_key(&three, &key(prefix)).unwrap() else {
            panic!("a prefix spans a range");
        };
        assert_eq!(span.max(), format!("{}FF", span.min()));
        // Split the ranges inside the span too, so the prefix spans more than one.
        let inside_a = format!("{}1", span.min());
        let inside_b = format!("{}3", span.min());
        let mut bounds = vec!["10", "20", "30", inside_a.as_str(), inside_b.as_str()];
        bounds.sort();
        bounds.dedup();
        let split = map(&bounds);
        for ranges in [&even, &split] {
            let spanned: Vec<&String> = ranges.overlapping(&span).map(|(_, id)| id).collect();
            assert!(!spanned.is_empty());
            // Every completion of the prefix lands in one of the spanned ranges.
            let mut hit = std::collections::BTreeSet::new();
            for i in 0..200 {
                let mut full = prefix.as_array().unwrap().clone();
                while full.len() < 3 {
                    full.push(json!(format!("c{i}-{}", full.len())));
                }
                let target = EpkRange::for_key(&three, &key(&Value::Array(full))).unwrap();
                let KeyTarget::Point(epk) = &target else {
                    panic!("a full key is a point");
                };
                assert!(span.contains(epk), "{epk} outside {span:?}");
                let (_, id) = ranges.holding(epk).unwrap();
                assert!(spanned.contains(&id), "{epk} in range {id}, not spanned");
                assert_eq!(ranges.for_target(&target).len(), 1);
                hit.insert(id.clone());
            }
            if std::ptr::eq(ranges, &split) {
                // The span was cut in three; completions reach more than one piece.
                assert_eq!(spanned.len(), 3, "{spanned:?}");
                assert!(hit.len() >= 2, "{hit:?}");
            }
        }
    }
    // A prefix of a two-level key and the full key agree on the first level.
    let two = scheme("MultiHash", 2, 2);
    let KeyTarget::Span(span) = EpkRange::for_key(&two, &key(&json!(["a"]))).unwrap() else {
        panic!("a prefix spans a range");
    };
    let full = effective_partition_key(&two, &key(&json!(["a", "b"]))).unwrap();
    assert!(full.starts_with(span.min()) && span.contains(&full));
    // Non-hierarchical keys have no prefix; too many components are refused.
    assert!(EpkRange::for_key(&PartitionKeyScheme::hash_v2(), &key(&json!(["a", "b"]))).is_err());
    assert!(EpkRange::for_key(&three, &key(&json!([1, 2, 3, 4]))).is_err());
    // A map must tile the hash space.
    let gap = vec![
        (EpkRange::new("", "10").unwrap(), "0".to_owned()),
        (EpkRange::new("20", "FF").unwrap(), "1".to_owned()),
    ];
    assert!(RangeMap::new(gap, String::clone).is_err());
}
