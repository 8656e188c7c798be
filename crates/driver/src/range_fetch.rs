//! An item operation's partition key range: the container's routing map from the
//! runtime (fetched once per account and container, through [`PkRangesFetch`]), the
//! partition key's effective partition key under the container's definition, and the
//! range holding it ([`PartitionRoute`]).
//!
//! Resolution never blocks an operation for good: if the definition or the map cannot be
//! had, the operation goes out unresolved (the gateway routes by partition key anyway).

use std::sync::Arc;

use meridian_location_store::{
    HashVersion, PARTITION_MOVE_SUB_STATUSES, PartitionKeyKind as Kind, PartitionKeyScheme,
    RegionName, effective_partition_key_of_json,
};
use meridian_runtime::{FetchError, FetchFuture, RangesAnswer, RangesFetcher, RoutingMap};
use serde_json::Value;
use tokio::time::Instant;

use crate::container::Container;
use crate::container_properties::{PartitionKeyDefinition, PartitionKeyKind};
use crate::driver::DriverInner;
use crate::error::DriverError;
use crate::header_name::header_name;
use crate::operation::Operation;
use crate::partition_key::PartitionKey;
use crate::partition_route::PartitionRoute;
use crate::request::Target;
use crate::status::Status;

/// The header naming a partition key range (sent by feeds, returned by the service).
pub(crate) const RANGE_ID_HEADER: http::HeaderName =
    http::HeaderName::from_static("x-ms-documentdb-partitionkeyrangeid");

/// The most `pkranges` pages one fetch follows.
const MAX_PAGES: usize = 100;

/// `GET …/pkranges` of one container through the driver's attempt loop (routed, signed and
/// retried like any read), as the runtime's [`RangesFetcher`].
pub(crate) struct PkRangesFetch<'a> {
    pub(crate) inner: &'a DriverInner,
    pub(crate) db: &'a str,
    pub(crate) coll: &'a str,
    /// The regions the operation that needs the map excludes.
    pub(crate) excluded: &'a [RegionName],
}

impl RangesFetcher for PkRangesFetch<'_> {
    fn fetch_ranges<'a>(&'a self, etag: Option<&'a str>) -> FetchFuture<'a, RangesAnswer> {
        Box::pin(async move {
            let target = Target::container_feed("pkranges", self.db, self.coll);
            let mut ranges: Vec<Value> = Vec::new();
            let mut continuation: Option<String> = None;
            let mut last_etag = None;
            for _ in 0..MAX_PAGES {
                let mut operation = Operation::read(target.clone()).excluding(self.excluded);
                if let Some(etag) = etag {
                    operation = operation
                        .header(header_name!("a-im"), "Incremental feed")
                        .header(header_name!("if-none-match"), etag);
                }
                if let Some(token) = &continuation {
                    operation = operation.header(header_name!("x-ms-continuation"), token.clone());
                }
                let success = match self.inner.execute(&operation).await {
                    Ok(success) => success,
                    Err(error) if error.status() == Some(304) => {
                        return Ok(RangesAnswer::NotModified);
                    }
                    Err(error) => return Err(fetch_error(&error)),
                };
                let mut page: Value = serde_json::from_slice(&success.body)
                    .map_err(|e| FetchError::transport(e.to_string()))?;
                if let Some(Value::Array(listed)) =
                    page.get_mut("PartitionKeyRanges").map(Value::take)
                {
                    ranges.extend(listed);
                }
                last_etag = success.metadata.etag.clone();
                continuation = success
                    .headers
                    .get("x-ms-continuation")
                    .and_then(|v| v.to_str().ok())
                    .filter(|v| !v.is_empty())
                    .map(str::to_owned);
                if continuation.is_none() {
                    break;
                }
            }
            let body = serde_json::json!({ "PartitionKeyRanges": ranges }).to_string();
            Ok(RangesAnswer::Ranges {
                body: body.into_bytes(),
                etag: last_etag,
            })
        })
    }
}

fn fetch_error(error: &DriverError) -> FetchError {
    match error.status() {
        Some(status) => FetchError::Status {
            status,
            sub_status: error.sub_status(),
        },
        None => FetchError::transport(error.to_string()),
    }
}

/// The hashing scheme of a definition, if the service would accept it.
fn scheme_of(definition: &PartitionKeyDefinition) -> Option<PartitionKeyScheme> {
    let kind = match definition.kind {
        PartitionKeyKind::MultiHash => Kind::MultiHash,
        _ => Kind::Hash,
    };
    let version = match definition.version {
        Some(2) => HashVersion::V2,
        // Containers created without a version hash with V1, except hierarchical ones.
        _ if kind == Kind::MultiHash => HashVersion::V2,
        _ => HashVersion::V1,
    };
    PartitionKeyScheme::new(kind, version, definition.paths.len()).ok()
}

/// The effective partition key of a full key under `definition` (`None` for a prefix or a
/// value the definition does not take).
pub(crate) fn epk_of(pk: &PartitionKey, definition: &PartitionKeyDefinition) -> Option<String> {
    let scheme = scheme_of(definition)?;
    let full = match pk.value() {
        Value::Array(values) => values.len() == scheme.paths(),
        _ => scheme.paths() == 1,
    };
    // A prefix of a hierarchical key spans ranges: no point operation takes one.
    full.then(|| effective_partition_key_of_json(&scheme, pk.value()).ok())
        .flatten()
}

impl Container {
    /// This container's routing map from the runtime.
    pub(crate) async fn routing_map(&self, deadline: Option<Instant>) -> Option<Arc<RoutingMap>> {
        let (driver, db, coll, excluded) = self.parts();
        let fetcher = PkRangesFetch {
            inner: &driver.inner,
            db,
            coll,
            excluded,
        };
        let handle = &driver.inner.handle;
        handle
            .routing_map(self.link(), &fetcher, deadline)
            .await
            .ok()
    }
}

impl DriverInner {
    /// After an attempt of an operation addressing `route`: whether the range is gone
    /// (410/1002, 410/1007) or the answer came from a range the map does not know (the
    /// service names the serving range in `x-ms-documentdb-partitionkeyrangeid`) — then
    /// the caller [`reroute`](Self::reroute)s. No I/O: every attempt asks.
    pub(crate) fn range_moved(
        route: &PartitionRoute,
        status: Option<Status>,
        served: Option<&http::HeaderMap>,
    ) -> bool {
        let gone = status.is_some_and(|s| {
            s.code == 410
                && s.sub_status
                    .is_some_and(|sub| PARTITION_MOVE_SUB_STATUSES.contains(&sub))
        });
        let unknown = served
            .and_then(|h| h.get(&RANGE_ID_HEADER))
            .and_then(|v| v.to_str().ok())
            .map(|id| id.rsplit(',').next().unwrap_or(id).trim())
            .is_some_and(|id| id != &*route.range_id && !route.map.contains_id(id));
        gone || unknown
    }

    /// `route` re-resolved after its range turned out to be gone, on a map refreshed once
    /// for all the account's drivers (or the newer one already in force); `None` to keep
    /// `route` (the refresh failed or was throttled).
    pub(crate) async fn reroute(
        &self,
        route: &PartitionRoute,
        excluded: &[RegionName],
        deadline: Option<Instant>,
    ) -> Option<PartitionRoute> {
        let (db, coll) = split_link(&route.container)?;
        let fetcher = PkRangesFetch {
            inner: self,
            db,
            coll,
            excluded,
        };
        let map = self
            .handle
            .refresh_routing_map(&route.container, &fetcher, &route.map, deadline)
            .await
            .ok()?;
        PartitionRoute::resolve(Arc::clone(&route.container), route.epk.clone(), map)
    }
}

/// `(db, coll)` of a container link `dbs/{db}/colls/{coll}`.
fn split_link(link: &str) -> Option<(&str, &str)> {
    let rest = link.strip_prefix("dbs/")?;
    let (db, coll) = rest.split_once("/colls/")?;
    Some((db, coll))
}
