//! Per-partition automatic failover, as the service does it: on an account with
//! `enablePerPartitionFailoverBehavior`, a range that refuses writes (403/3) or is
//! unavailable (503) in the write region has had its writes failed over to the next
//! region (the first other advertised one, as the account document orders them), which
//! then takes that range's writes while still refusing the other ranges' writes. This
//! half answers "has this range failed over?"; the route asks it
//! (`route/moved_writes.rs`).

use http::HeaderMap;
use serde_json::Value;

use super::{Partitions, RangeFailure};
use crate::epk::epk_of_key;
use crate::topology::canonical;

impl Partitions {
    /// Whether the range this request addresses (by range id, or by its partition key)
    /// refuses writes or is unavailable in `write_region`.
    pub(crate) fn failed_over(
        &self,
        rid: &str,
        (db, coll): (&str, &str),
        headers: &HeaderMap,
        write_region: &str,
    ) -> bool {
        let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let range_id = text("x-ms-documentdb-partitionkeyrangeid")
            .map(|v| v.rsplit(',').next().unwrap_or(v).trim().to_owned());
        let epk = text("x-ms-documentdb-partitionkey")
            .and_then(|v| serde_json::from_str::<Value>(v).ok())
            .and_then(|v| epk_of_key(&v));
        self.with_entry(db, coll, rid, |entry| {
            let range = match (&range_id, &epk) {
                (Some(id), _) => entry.layout.get(id),
                (None, Some(epk)) => entry.layout.holding(epk),
                (None, None) => None,
            };
            range.is_some_and(|range| {
                matches!(
                    entry
                        .failures
                        .get(&(range.id.clone(), canonical(write_region))),
                    Some(RangeFailure::WriteForbidden | RangeFailure::Unavailable)
                )
            })
        })
    }
}
