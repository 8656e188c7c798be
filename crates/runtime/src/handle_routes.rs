//! An account handle's side of the routing maps: the map of a container, fetched once per
//! runtime and shared by every driver of the account (see `route_cache.rs`).

use std::sync::Arc;

use tokio::time::Instant;

use crate::handle::AccountHandle;
use crate::routes::{RangesFetcher, RoutingMap, RoutingMapError};

impl AccountHandle {
    /// The routing map of `container` (its link, `dbs/{db}/colls/{coll}`): the one in
    /// force, or the one the first fetch installs. However many drivers ask, one fetch
    /// runs per container (the others join it), through `fetcher`, in the future of the
    /// caller that started it; nothing is spawned. Waits no later than `deadline`.
    pub async fn routing_map(
        &self,
        container: &str,
        fetcher: &dyn RangesFetcher,
        deadline: Option<Instant>,
    ) -> Result<Arc<RoutingMap>, RoutingMapError> {
        self.state.routes.get(container, fetcher, deadline).await
    }

    /// The routing map of `container` in force, if one was fetched (no I/O, no wait).
    pub fn current_routing_map(&self, container: &str) -> Option<Arc<RoutingMap>> {
        self.state.routes.current(container)
    }

    /// A refresh of `container`'s map because `stale` (the map an operation resolved
    /// on) named a range that is gone (410/1002, 410/1007) or not the one that served
    /// it. Single-flight and gated like the account document: a newer map in force, or a
    /// fetch started since `stale` was installed, answers it without a fetch; a running
    /// fetch is joined; a storm of such refreshes costs one fetch. The map never goes
    /// backwards: a failed or throttled refresh leaves the last good one in force.
    pub async fn refresh_routing_map(
        &self,
        container: &str,
        fetcher: &dyn RangesFetcher,
        stale: &RoutingMap,
        deadline: Option<Instant>,
    ) -> Result<Arc<RoutingMap>, RoutingMapError> {
        self.state
            .routes
            .refresh(container, fetcher, stale, deadline)
            .await
    }

    /// Forgets `container`'s map (the container was deleted or replaced).
    pub fn forget_routing_map(&self, container: &str) {
        self.state.routes.forget(container);
    }

    /// Forgets the maps of every container whose link starts with `prefix` (a deleted
    /// database: `dbs/{db}/colls/`).
    pub fn forget_routing_maps_under(&self, prefix: &str) {
        self.state.routes.forget_under(prefix);
    }

    /// `GET …/pkranges` requests this runtime sent for `container` of this account (a
    /// full fetch after an incremental answer that did not apply counts twice).
    pub fn routing_map_fetches(&self, container: &str) -> u64 {
        self.state.routes.fetches(container)
    }
}
