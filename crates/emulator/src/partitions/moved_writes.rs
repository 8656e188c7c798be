//! Per-partition automatic failover, as the service does it: on an account with
//! `enablePerPartitionFailoverBehavior`, a range that refuses writes (403/3) or is
//! unavailable (503) in the write region has had its writes failed over to the next
//! region (the first other advertised one, as the account document orders them), which
//! then takes that range's writes while still refusing the other ranges' writes.

use http::HeaderMap;
use serde_json::Value;

use super::{Partitions, RangeFailure, container_rid};
use crate::epk::epk_of_key;
use crate::lock::lock;
use crate::resource::Resource;
use crate::state::State;
use crate::topology::{ListenerId, canonical, same_region};

/// Whether a write on `listener` (not the write region of a single-write account) is for
/// a range whose writes failed over to that region.
pub(crate) fn takes_moved_write(
    state: &State,
    resource: &Resource,
    headers: &HeaderMap,
    listener: &ListenerId,
) -> bool {
    let (db, coll) = match resource {
        Resource::Items { db, coll }
        | Resource::Item { db, coll, .. }
        | Resource::PartitionKeyDelete { db, coll } => (db, coll),
        _ => return false,
    };
    let ListenerId::Region(name) = listener else {
        return false;
    };
    let write_region = {
        let topology = lock(&state.topology);
        if !topology.per_partition_failover || topology.multi_write {
            return false;
        }
        let next = topology
            .regions
            .iter()
            .find(|r| r.advertised && !r.drained && !same_region(&r.name, &topology.write_region));
        if !next.is_some_and(|r| same_region(&r.name, name)) {
            return false;
        }
        topology.write_region.clone()
    };
    let Ok(rid) = container_rid(&state.data, db, coll) else {
        return false;
    };
    state
        .partitions
        .failed_over(&rid, (db, coll), headers, &write_region)
}

impl Partitions {
    /// Whether the range this request addresses (by range id, or by its partition key)
    /// refuses writes or is unavailable in `write_region`.
    fn failed_over(
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
