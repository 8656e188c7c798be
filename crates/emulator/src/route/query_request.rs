//! What a query request asks for: its SQL spec (with the client's supported features) and
//! its scope (one partition, or every range when the client allows a cross-partition query).

use http::HeaderMap;
use serde_json::Value;

use super::{flag, header};
use crate::api_error::ApiError;
use crate::data::ItemRequest;
use crate::feed::Scope;
use crate::query::QuerySpec;

pub(super) fn query_spec(body: Value, headers: &HeaderMap) -> Result<QuerySpec, ApiError> {
    let spec = QuerySpec::from_body(&body).map_err(|e| ApiError::bad_request(e.to_string()))?;
    Ok(spec.with_features(header(headers, "x-ms-cosmos-supported-query-features")))
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
