//! What a container's routing map is to the runtime: the fetcher a driver hands in for
//! `GET …/pkranges`, the map installed from its answers, and why one could not be had.
//!
//! A leaf: the per-account cache (`route_cache.rs`) builds on these types.

use std::sync::Arc;

use meridian_location_store::{PartitionKeyRange, PkRangesError, RangeMap};

use crate::fetcher::{FetchError, FetchFuture};

/// What one `GET …/pkranges` answered.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum RangesAnswer {
    /// 304: the ranges did not change since the etag sent.
    NotModified,
    /// The ranges: with an etag sent (`A-IM: Incremental feed`), those made since it (or
    /// all of them: the runtime takes either); without one, all of them.
    Ranges {
        /// The body, as the service sent it.
        body: Vec<u8>,
        /// The answer's etag, sent with the next refresh.
        etag: Option<String>,
    },
}

/// The I/O of a container's routing map, handed in by the driver for each call that may
/// fetch (the runtime knows no HTTP). The fetch runs in the calling operation's future,
/// bounded by the runtime's fetch timeout; it may borrow the caller.
pub trait RangesFetcher: Send + Sync {
    /// `GET …/pkranges` of the container; with `etag`, as an incremental read
    /// (`A-IM: Incremental feed`, `If-None-Match: etag`).
    fn fetch_ranges<'a>(&'a self, etag: Option<&'a str>) -> FetchFuture<'a, RangesAnswer>;
}

/// One container's partition key ranges as the runtime holds them: shared by every driver
/// of the account, replaced (never edited) when a refresh learns something.
#[derive(Debug)]
pub struct RoutingMap {
    pub(crate) map: RangeMap<PartitionKeyRange>,
    pub(crate) etag: Option<String>,
    pub(crate) generation: u64,
    /// The container gate's epoch when this map was installed: a refresh asked because
    /// of it is answered by any fetch started since.
    pub(crate) epoch: meridian_refresh_core::FetchEpoch,
}

impl RoutingMap {
    /// The ranges, tiling the hash space.
    pub fn ranges(&self) -> &RangeMap<PartitionKeyRange> {
        &self.map
    }

    /// The range holding the effective partition key `epk`.
    pub fn range_of(&self, epk: &str) -> Option<&PartitionKeyRange> {
        self.map.holding(epk).map(|(_, range)| range)
    }

    /// Whether a range of this id is in the map.
    pub fn contains_id(&self, id: &str) -> bool {
        self.map.iter().any(|(_, range)| range.id() == id)
    }

    /// Increases with each change installed for the container (1 for the first map).
    pub fn generation(&self) -> u64 {
        self.generation
    }
}

/// Why no routing map could be had for a container.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum RoutingMapError {
    /// The fetch failed (the runtime's fetch timeout included).
    #[error("fetching the partition key ranges failed: {0}")]
    Fetch(Arc<FetchError>),
    /// The answer was not a map of the hash space.
    #[error(transparent)]
    Ranges(#[from] PkRangesError),
    /// The rate limit or failure backoff holds fetches of this container until after the
    /// caller's deadline, or the runtime shut down.
    #[error("no partition key range fetch may start now")]
    Unavailable,
}
