//! The sources of a query's pages: partition key ranges (listed with `GET …/pkranges`)
//! or one partition, and what a page answer carries (results, continuation, charge).

use serde_json::Value;

use crate::container::Container;
use crate::error::DriverError;
use crate::header_name::header_name;
use crate::operation::{Operation, Success};
use crate::request::Target;

/// The most pages of partition key ranges followed (each holds many ranges).
const MAX_RANGE_PAGES: usize = 1_000;

/// One stream of pages: a partition key range, a partition, or the whole container (by
/// default: no range, from the start, nothing more to read).
#[derive(Debug, Clone, Default)]
pub(super) struct Source {
    /// `x-ms-documentdb-partitionkeyrangeid`, for a cross-partition query.
    pub(super) range: Option<String>,
    pub(super) continuation: Option<String>,
    pub(super) more: bool,
}

/// One page as the service answered it.
pub(super) struct RawPage {
    pub(super) results: Vec<Value>,
    pub(super) continuation: Option<String>,
    pub(super) charge: f64,
}

/// The `x-ms-continuation` of an answer, if more remain.
pub(super) fn continuation_of(success: &Success) -> Option<String> {
    success
        .headers
        .get("x-ms-continuation")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}

/// The array `field` of a feed answer.
pub(crate) fn results(body: &[u8], field: &str) -> Result<Vec<Value>, DriverError> {
    let mut answer: Value = serde_json::from_slice(body)?;
    match answer.get_mut(field).map(Value::take) {
        Some(Value::Array(results)) => Ok(results),
        _ => Err(DriverError::Serialization(serde::de::Error::custom(
            format!("the answer has no `{field}` array"),
        ))),
    }
}

/// The container's partition key ranges (`GET …/pkranges`), one source each.
pub(super) async fn ranges(container: &Container) -> Result<(Vec<Source>, f64), DriverError> {
    let (driver, db, coll, excluded) = container.parts();
    let mut charge = 0.0;
    let target = Target::container_feed("pkranges", db, coll);
    let mut sources = Vec::new();
    let mut continuation: Option<String> = None;
    for _ in 0..MAX_RANGE_PAGES {
        let mut operation = Operation::read(target.clone()).excluding(excluded);
        if let Some(token) = &continuation {
            operation = operation.header(header_name!("x-ms-continuation"), token.clone());
        }
        let success = driver.inner.execute(&operation).await?;
        charge += success.metadata.request_charge;
        for range in results(&success.body, "PartitionKeyRanges")? {
            let id = range.get("id").and_then(Value::as_str).ok_or_else(|| {
                DriverError::Serialization(serde::de::Error::custom(
                    "a partition key range has no id",
                ))
            })?;
            sources.push(Source {
                range: Some(id.to_string()),
                continuation: None,
                more: true,
            });
        }
        continuation = continuation_of(&success);
        if continuation.is_none() {
            break;
        }
    }
    Ok((sources, charge))
}

/// The ids of the container's partition key ranges, and the charge of listing them.
pub(crate) async fn range_ids(container: &Container) -> Result<(Vec<String>, f64), DriverError> {
    let (sources, charge) = ranges(container).await?;
    Ok((
        sources.into_iter().filter_map(|s| s.range).collect(),
        charge,
    ))
}
