//! What a bulk run is made of — [`BulkOperation`]s, each one's [`BulkOutcome`] or
//! [`BulkError`] — and how operations are planned into requests: grouped by partition key
//! range (by key value when there are several ranges; see [`crate::Bulk`]), at most 100
//! operations and [`MAX_BULK_REQUEST_BYTES`] to a request.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use crate::batch_op::{MAX_BATCH_OPERATIONS, OpSpec};
use crate::batch_result::BatchOperationResult;
use crate::container::PartitionKey;
use crate::error::DriverError;
use crate::patch::PatchOperations;
use crate::status::Status;

/// One operation of a bulk run, with its partition key.
#[derive(Debug, Clone, PartialEq)]
pub struct BulkOperation {
    pub(crate) pk: PartitionKey,
    pub(crate) op: OpSpec,
}

impl BulkOperation {
    /// Creates an item (409 if it exists).
    pub fn create<T: Serialize>(
        pk: impl Into<PartitionKey>,
        item: &T,
    ) -> Result<Self, DriverError> {
        Ok(Self {
            pk: pk.into(),
            op: OpSpec::create(item)?,
        })
    }

    /// Creates or replaces an item.
    pub fn upsert<T: Serialize>(
        pk: impl Into<PartitionKey>,
        item: &T,
    ) -> Result<Self, DriverError> {
        Ok(Self {
            pk: pk.into(),
            op: OpSpec::upsert(item)?,
        })
    }

    /// Replaces item `id`, only if its etag is still `if_match` when given.
    pub fn replace<T: Serialize>(
        pk: impl Into<PartitionKey>,
        id: &str,
        item: &T,
        if_match: Option<&str>,
    ) -> Result<Self, DriverError> {
        let op = OpSpec::replace(id, item)?.if_match(if_match);
        Ok(Self { pk: pk.into(), op })
    }

    /// Reads item `id`.
    pub fn read(pk: impl Into<PartitionKey>, id: &str) -> Self {
        Self {
            pk: pk.into(),
            op: OpSpec::read(id),
        }
    }

    /// Deletes item `id`, only if its etag is still `if_match` when given.
    pub fn delete(pk: impl Into<PartitionKey>, id: &str, if_match: Option<&str>) -> Self {
        Self {
            pk: pk.into(),
            op: OpSpec::delete(id).if_match(if_match),
        }
    }

    /// Patches item `id`.
    pub fn patch(pk: impl Into<PartitionKey>, id: &str, patch: &PatchOperations) -> Self {
        Self {
            pk: pk.into(),
            op: OpSpec::patch(id, patch),
        }
    }
}

/// Why an operation got no answer of its own: its request failed as a whole.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct BulkError {
    /// The request's last status, if the service answered.
    pub status: Option<Status>,
    /// What went wrong.
    pub message: String,
    /// The request may have reached the service and been applied (not idempotent, so
    /// not sent again): read before writing again.
    pub may_have_applied: bool,
}

/// What became of one operation of a bulk run.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct BulkOutcome {
    /// Its index in the operations given to [`Container::bulk`](crate::Container::bulk).
    pub index: usize,
    /// Its result as the service answered it last (check
    /// [`is_success`](BatchOperationResult::is_success): a 409 or a 429 past the retry
    /// budget is a result too), or why its request failed as a whole.
    pub result: Result<BatchOperationResult, BulkError>,
    /// Requests that carried it (throttled ones are sent again).
    pub attempts: u32,
    /// How long it waited, in total, for the service's `retryAfterMilliseconds`.
    pub throttled_for: Duration,
}

/// One request's worth of operations: their indices and how it is addressed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Chunk {
    /// `Ok(range id)` or `Err(partition key)` (the key-per-request fallback).
    pub(crate) address: Result<String, PartitionKey>,
    pub(crate) indices: Vec<usize>,
}

/// The most bytes of operations one bulk request carries: below the service's 2 MB cap
/// on a request body. An operation larger than this goes alone (and the service refuses
/// it with 413 if it is over the cap).
pub(crate) const MAX_BULK_REQUEST_BYTES: usize = 1_900_000;

/// Groups `ops` into requests of at most 100 operations and
/// [`MAX_BULK_REQUEST_BYTES`]: by the one range when there is one, by partition key value
/// otherwise (see the module's doc), keeping each group's order.
pub(crate) fn plan(ops: &[BulkOperation], ranges: &[String]) -> Vec<Chunk> {
    let mut groups: BTreeMap<String, (Result<String, PartitionKey>, Vec<usize>)> = BTreeMap::new();
    for (index, op) in ops.iter().enumerate() {
        let (key, address) = match ranges {
            [only] => (only.clone(), Ok(only.clone())),
            _ => (op.pk.header(), Err(op.pk.clone())),
        };
        groups
            .entry(key)
            .or_insert_with(|| (address, Vec::new()))
            .1
            .push(index);
    }
    let mut chunks = Vec::new();
    for (address, indices) in groups.into_values() {
        let mut chunk = Chunk {
            address: address.clone(),
            indices: Vec::new(),
        };
        let mut bytes = 0;
        for index in indices {
            let op = &ops[index];
            let len = op.op.encoded_len(Some(&op.pk)) + 1;
            let full = chunk.indices.len() == MAX_BATCH_OPERATIONS
                || (!chunk.indices.is_empty() && bytes + len > MAX_BULK_REQUEST_BYTES);
            if full {
                let next = Chunk {
                    address: address.clone(),
                    indices: Vec::new(),
                };
                chunks.push(std::mem::replace(&mut chunk, next));
                bytes = 0;
            }
            bytes += len;
            chunk.indices.push(index);
        }
        if !chunk.indices.is_empty() {
            chunks.push(chunk);
        }
    }
    chunks
}

/// An operation whose request has not been answered yet.
pub(crate) fn not_sent() -> BulkError {
    BulkError {
        status: None,
        message: "not sent".into(),
        may_have_applied: false,
    }
}

/// What every operation of a request that failed as a whole gets.
pub(crate) fn bulk_error(error: &DriverError) -> BulkError {
    BulkError {
        status: error.typed_status(),
        message: error.to_string(),
        may_have_applied: matches!(
            error,
            DriverError::MaybeApplied(_) | DriverError::DeadlineExceeded { .. }
        ),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn creates(keys: &[&str]) -> Vec<BulkOperation> {
        keys.iter()
            .enumerate()
            .map(|(i, pk)| BulkOperation::create(*pk, &json!({"id": i.to_string()})).unwrap())
            .collect()
    }

    #[test]
    fn one_range_takes_every_key_in_requests_of_at_most_one_hundred() {
        let keys: Vec<String> = (0..250).map(|i| format!("k{}", i % 7)).collect();
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        let chunks = plan(&creates(&keys), &["0".to_string()]);
        let sizes: Vec<usize> = chunks.iter().map(|c| c.indices.len()).collect();
        assert_eq!(sizes, [100, 100, 50]);
        assert!(chunks.iter().all(|c| c.address == Ok("0".to_string())));
        let all: Vec<usize> = chunks.iter().flat_map(|c| c.indices.clone()).collect();
        assert_eq!(all, (0..250).collect::<Vec<_>>(), "in order, each once");
    }

    #[test]
    fn a_request_stays_under_the_services_body_cap() {
        let big = "x".repeat(700_000);
        let ops: Vec<BulkOperation> = (0..5)
            .map(|i| BulkOperation::upsert("p", &json!({"id": i.to_string(), "big": big})).unwrap())
            .collect();
        let chunks = plan(&ops, &["0".to_string()]);
        let sizes: Vec<usize> = chunks.iter().map(|c| c.indices.len()).collect();
        assert_eq!(sizes, [2, 2, 1]);
    }

    #[test]
    fn several_ranges_fall_back_to_one_request_per_key() {
        let chunks = plan(&creates(&["a", "b", "a"]), &["0".into(), "1".into()]);
        assert_eq!(
            chunks,
            [
                Chunk {
                    address: Err(PartitionKey::from("a")),
                    indices: vec![0, 2]
                },
                Chunk {
                    address: Err(PartitionKey::from("b")),
                    indices: vec![1]
                },
            ]
        );
    }
}
