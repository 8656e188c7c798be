//! The route's half of per-partition automatic failover: whether a write refused by the
//! region's role (a single-write account's read region) is for a range whose writes
//! failed over here (see `partitions/moved_writes.rs`).

use http::HeaderMap;

use crate::lock::lock;
use crate::partitions::container_rid;
use crate::resource::Resource;
use crate::state::State;
use crate::topology::{ListenerId, same_region};

/// Whether a write on `listener` (not the write region of a single-write account) is for
/// a range whose writes failed over to that region.
pub(super) fn takes_moved_write(
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
