//! `GET` of a container with the service's optional extras: `x-ms-documentdb-populatequotainfo`
//! adds `x-ms-resource-usage` / `x-ms-resource-quota` and the index transformation progress
//! (always 100: the emulator indexes nothing lazily, so it never sends the lazy indexing
//! progress); `x-ms-documentdb-populatepartitionstatistics` adds `statistics`, one entry per
//! partition key range with its item count.

use http::{HeaderMap, HeaderValue};
use serde_json::{Value, json};

use super::{Answer, flag, resource_answer};
use crate::api_error::ApiError;
use crate::epk::epk_of_key;
use crate::lock::lock;
use crate::partitions::container_rid;
use crate::state::State;

/// The container read, and the headers it adds.
pub(super) fn read(
    state: &State,
    db: &str,
    coll: &str,
    headers: &HeaderMap,
) -> Result<(Answer, HeaderMap), ApiError> {
    let quota = flag(headers, "x-ms-documentdb-populatequotainfo");
    let statistics = flag(headers, "x-ms-documentdb-populatepartitionstatistics");
    let rid = container_rid(&state.data, db, coll)?;
    let ranges = statistics.then(|| state.partitions.ranges(&rid, db, coll));
    let data = lock(&state.data);
    let (status, body) = data.read_container(db, coll)?;
    let container = data.container(db, coll)?;
    let mut extra = HeaderMap::new();
    if quota {
        let count = container.items.len();
        let scripts = |kind: &str| {
            data.scripts
                .get(&format!("{rid}/{kind}"))
                .map_or(0, |s| s.len())
        };
        let usage = format!(
            "functions={};storedProcedures={};triggers={};documentSize=0;documentsSize=0;documentsCount={count};collectionSize=0",
            scripts("udfs"),
            scripts("sprocs"),
            scripts("triggers"),
        );
        let quota = "functions=25;storedProcedures=100;triggers=25;documentSize=10240;documentsSize=10485760;documentsCount=-1;collectionSize=10485760";
        for (name, value) in [
            ("x-ms-resource-usage", usage.as_str()),
            ("x-ms-resource-quota", quota),
            (
                "x-ms-documentdb-collection-index-transformation-progress",
                "100",
            ),
        ] {
            if let Ok(value) = HeaderValue::from_str(value) {
                extra.insert(name, value);
            }
        }
    }
    let mut body = body;
    if let (Some(ranges), Some(Value::Object(map))) = (ranges, body.as_mut()) {
        let mut counts = vec![0u64; ranges.len()];
        for ((pk, _), _) in &container.items {
            let epk = serde_json::from_str::<Value>(pk)
                .ok()
                .and_then(|v| epk_of_key(&v));
            if let Some(at) = epk.and_then(|e| ranges.iter().position(|r| r.holds(&e))) {
                counts[at] += 1;
            }
        }
        let entries: Vec<Value> = ranges
            .iter()
            .zip(counts)
            .map(|(r, count)| json!({"id": r.id, "sizeInKB": 0, "documentCount": count, "partitionKeys": []}))
            .collect();
        map.insert("statistics".into(), Value::Array(entries));
    }
    Ok((resource_answer((status, body)), extra))
}
