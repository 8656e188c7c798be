//! What a query request asks for: its SQL spec (with the client's supported features) and
//! its scope (one partition, or every range when the client allows a cross-partition query).

use http::HeaderMap;
use serde_json::Value;

use super::{flag, header};
use crate::api_error::ApiError;
use crate::data::ItemRequest;
use crate::epk::EpkRange;
use crate::feed::Scope;
use crate::partitions::container_rid;
use crate::query::{QuerySpec, query_error};
use crate::state::State;

/// The sub-status of a cross-partition query the gateway leaves to the SDK.
const CROSS_PARTITION_QUERY_NOT_SERVABLE: u32 = 1004;

/// The gateway's answer to a query over every range of a container with several that
/// needs merging (TOP, ORDER BY, aggregates, DISTINCT, GROUP BY, OFFSET/LIMIT): 400/1004
/// with the query plan in `additionalErrorInfo`, from which SDKs run it range by range.
/// Over one range, or when the query only concatenates, the gateway answers it itself.
pub(super) fn check_servable(
    state: &State,
    (db, coll): (&str, &str),
    spec: &QuerySpec,
    scope: &Scope,
) -> Result<(), ApiError> {
    if !matches!(scope, Scope::All) || !spec.needs_pipeline()? {
        return Ok(());
    }
    let rid = container_rid(&state.data, db, coll)?;
    if state.partitions.ranges(&rid, db, coll).len() < 2 {
        return Ok(());
    }
    let plan = spec.plan().map_err(query_error)?;
    Err(ApiError::bad_request(
        "The provided cross partition query can not be directly served by the gateway. This is a first chance (internal) exception that all newer clients will know how to handle gracefully.",
    )
    .with_sub_status(CROSS_PARTITION_QUERY_NOT_SERVABLE)
    .with_additional_info(plan.to_string()))
}

pub(super) fn query_spec(body: Value, headers: &HeaderMap) -> Result<QuerySpec, ApiError> {
    let spec = QuerySpec::from_body(&body).map_err(|e| ApiError::bad_request(e.to_string()))?;
    Ok(spec.with_features(header(headers, "x-ms-cosmos-supported-query-features")))
}

/// An items query's scope: [`query_scope`], except that without the header a filter that
/// pins the whole partition key (`WHERE c.pk = @pk`) scopes the query to that partition,
/// as the service serves it.
pub(super) fn items_query_scope(
    headers: &HeaderMap,
    item: &ItemRequest,
    spec: &QuerySpec,
    container: &Value,
) -> Result<Scope, ApiError> {
    query_scope(headers, item).or_else(|refused| {
        let paths: Vec<String> = container
            .pointer("/partitionKey/paths")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|p| Some(p.as_str()?.to_string()))
            .collect();
        match spec.pinned_key(&paths) {
            Some(values) if !paths.is_empty() => {
                Ok(Scope::Partition(Value::from(values).to_string()))
            }
            _ => Err(refused),
        }
    })
}

/// A query with a partition key runs in that partition; without one it needs the
/// cross-partition header (or a range id, as SDKs send when they run the plan).
pub(super) fn query_scope(headers: &HeaderMap, item: &ItemRequest) -> Result<Scope, ApiError> {
    match &item.partition_key {
        Some(pk) => Ok(Scope::Partition(pk.clone())),
        None if flag(headers, "x-ms-documentdb-query-enablecrosspartition")
            || headers.contains_key("x-ms-documentdb-partitionkeyrangeid") =>
        {
            Ok(Scope::All)
        }
        None => Err(ApiError::bad_request(
            "Cross partition query is required but disabled: set x-ms-documentdb-query-enablecrosspartition to true, or send x-ms-documentdb-partitionkey",
        )),
    }
}

/// A query on a range that `x-ms-start-epk` / `x-ms-end-epk` narrow further (SDKs query a
/// feed range, or a prefix of a hierarchical key, this way): only the items whose EPK is
/// in both. The emulator's EPKs are hash V2's: on a container with another hash version
/// the headers are not applied (the range alone scopes the query).
pub(super) fn narrow_to_epks(scope: Scope, headers: &HeaderMap, container: &Value) -> Scope {
    let version = container
        .pointer("/partitionKey/version")
        .and_then(Value::as_u64);
    let (Some(start), Some(end), Some(2)) = (
        header(headers, "x-ms-start-epk"),
        header(headers, "x-ms-end-epk"),
        version,
    ) else {
        return scope;
    };
    let (start, end) = (start.to_ascii_uppercase(), end.to_ascii_uppercase());
    // Equal ends name one key (an SDK's feed range of one partition key value).
    let one_key = start == end;
    let (start, end) = match &scope {
        Scope::Range(range) => (
            start.max(range.start.clone()),
            match (end.as_str(), range.end.as_str()) {
                ("", other) | (other, "") => other.to_string(),
                (a, b) => a.min(b).to_string(),
            },
        ),
        Scope::All => (start, end),
        Scope::Partition(_) => return scope,
    };
    if one_key && start == end {
        return Scope::Range(EpkRange { start, end });
    }
    if !end.is_empty() && start >= end {
        // Nothing is in an empty range; a range whose ends are equal is one key, so an
        // end no key has stands for none.
        return Scope::Range(EpkRange {
            start: "-".to_string(),
            end: "-".to_string(),
        });
    }
    Scope::Range(EpkRange { start, end })
}

/// The ranges a query over every range of `db/coll` pages by: the container's, when the
/// gateway serves it across ranges (`Scope::All`); none otherwise.
pub(super) fn gateway_ranges(
    state: &State,
    (db, coll): (&str, &str),
    scope: &Scope,
) -> Vec<crate::ranges::PkRange> {
    match (scope, container_rid(&state.data, db, coll)) {
        (Scope::All, Ok(rid)) => state.partitions.ranges(&rid, db, coll),
        _ => Vec::new(),
    }
}
