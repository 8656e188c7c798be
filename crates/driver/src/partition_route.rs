//! The partition key range an item operation addresses, resolved before its first
//! attempt (a leaf: the operation and its attempt loop read it).
//!
//! A point operation is sent with its partition key (`x-ms-documentdb-partitionkey`), as
//! the official SDKs send it over the gateway, which routes it; the range id is not sent.
//! The driver still knows it: the effective partition key of the value under the
//! container's definition, looked up in the container's routing map (one per account and
//! container in the runtime). Per-partition failover state is keyed by it.

use std::sync::Arc;

use meridian_runtime::RoutingMap;

/// Where an item operation's partition key lands: the range id, and the map it was
/// resolved on (handed back to the runtime when that range turns out to be gone).
#[derive(Debug, Clone)]
pub(crate) struct PartitionRoute {
    /// The container link (`dbs/{db}/colls/{coll}`), the routing map's key.
    pub(crate) container: Arc<str>,
    /// The effective partition key of the operation's partition key.
    pub(crate) epk: String,
    /// The id of the range holding `epk` in `map`.
    pub(crate) range_id: Arc<str>,
    /// The routing map `range_id` comes from.
    pub(crate) map: Arc<RoutingMap>,
}

impl PartitionRoute {
    /// The range in `map` holding `epk` (`None` only if `map` does not cover it).
    pub(crate) fn resolve(container: Arc<str>, epk: String, map: Arc<RoutingMap>) -> Option<Self> {
        let range_id = Arc::clone(map.range_of(&epk)?.shared_id());
        Some(Self {
            container,
            epk,
            range_id,
            map,
        })
    }

    /// The partition key range id this operation addresses.
    pub(crate) fn range_id(&self) -> &str {
        &self.range_id
    }
}
