//! Bulk execution: [`Container::bulk`] groups operations by partition key range into
//! requests of at most 100 (`x-ms-cosmos-batch-atomic: false`), keeps a bounded number
//! in flight, sends throttled operations again after the service's
//! `retryAfterMilliseconds`, and reports each operation's outcome.
//!
//! Grouping: the container's ranges come from `GET …/pkranges`. With one range (what the
//! emulator serves) every operation goes to it, addressed by
//! `x-ms-documentdb-partitionkeyrangeid`. Mapping a key to one of several ranges needs
//! the service's effective-partition-key hash, which this driver does not compute yet:
//! with several ranges the operations are grouped by partition key value instead, each
//! request addressed by `x-ms-documentdb-partitionkey` (correct, but a request per key
//! rather than per range).

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream::{self, StreamExt};
use http::Method;
use serde::Serialize;

use crate::batch_op::{MAX_BATCH_OPERATIONS, OpSpec};
use crate::batch_result::{BatchOperationResult, parse_results};
use crate::container::{Container, PartitionKey};
use crate::error::DriverError;
use crate::operation::Operation;
use crate::patch::PatchOperations;
use crate::request::Target;
use crate::status::Status;

/// Requests in flight by default.
pub const DEFAULT_BULK_IN_FLIGHT: usize = 4;
/// The most requests [`Bulk::max_in_flight`] allows.
pub const MAX_BULK_IN_FLIGHT: usize = 64;

/// One operation of a bulk run, with its partition key.
#[derive(Debug, Clone, PartialEq)]
pub struct BulkOperation {
    pk: PartitionKey,
    op: OpSpec,
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
    /// Its index in the operations given to [`Container::bulk`].
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

/// A bulk run, built with [`Container::bulk`]: not atomic, each operation on its own.
#[derive(Debug)]
#[must_use = "a bulk run does nothing until it is executed"]
pub struct Bulk {
    container: Container,
    ops: Vec<BulkOperation>,
    in_flight: usize,
}

impl Container {
    /// Prepares a bulk run of `ops` in this container (see [`Bulk::execute`]).
    pub fn bulk(&self, ops: impl IntoIterator<Item = BulkOperation>) -> Bulk {
        Bulk {
            container: self.clone(),
            ops: ops.into_iter().collect(),
            in_flight: DEFAULT_BULK_IN_FLIGHT,
        }
    }
}

/// One request's worth of operations: their indices and how it is addressed.
#[derive(Debug, Clone, PartialEq)]
struct Chunk {
    /// `Ok(range id)` or `Err(partition key)` (the key-per-request fallback).
    address: Result<String, PartitionKey>,
    indices: Vec<usize>,
}

/// The most bytes of operations one bulk request carries: below the service's 2 MB cap
/// on a request body. An operation larger than this goes alone (and the service refuses
/// it with 413 if it is over the cap).
const MAX_BULK_REQUEST_BYTES: usize = 1_900_000;

/// Groups `ops` into requests of at most 100 operations and
/// [`MAX_BULK_REQUEST_BYTES`]: by the one range when there is one, by partition key value
/// otherwise (see the module's doc), keeping each group's order.
fn plan(ops: &[BulkOperation], ranges: &[String]) -> Vec<Chunk> {
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

impl Bulk {
    /// At most `requests` requests in flight at once (1 to [`MAX_BULK_IN_FLIGHT`]; values
    /// outside are clamped). Each also takes a slot of the driver's connection pool.
    pub fn max_in_flight(mut self, requests: usize) -> Self {
        self.in_flight = requests.clamp(1, MAX_BULK_IN_FLIGHT);
        self
    }

    /// Runs every operation; one outcome per operation, in the order given. Throttled
    /// operations (429) are sent again after the delay the service gave, within the
    /// driver's [`RetryPolicy`](crate::RetryPolicy) throttle budget (retries and total
    /// wait, per operation). Fails as a whole only when the container's partition key
    /// ranges cannot be listed.
    pub async fn execute(self) -> Result<Vec<BulkOutcome>, DriverError> {
        if self.ops.is_empty() {
            return Ok(Vec::new());
        }
        let ranges = crate::query::range_ids(&self.container).await?;
        let chunks = plan(&self.ops, &ranges);
        let runs = stream::iter(chunks)
            .map(|chunk| self.run(chunk))
            .buffer_unordered(self.in_flight);
        let mut outcomes: Vec<BulkOutcome> = runs.flat_map(stream::iter).collect().await;
        outcomes.sort_by_key(|o| o.index);
        Ok(outcomes)
    }

    /// Sends one chunk, then its throttled operations again after the service's delay.
    async fn run(&self, chunk: Chunk) -> Vec<BulkOutcome> {
        let policy = self.container.parts().0.inner.retry_policy;
        let mut outcomes = Vec::with_capacity(chunk.indices.len());
        let mut pending: Vec<BulkOutcome> = chunk
            .indices
            .iter()
            .map(|&index| BulkOutcome {
                index,
                result: Err(not_sent()),
                attempts: 0,
                throttled_for: Duration::ZERO,
            })
            .collect();
        while !pending.is_empty() {
            for outcome in &mut pending {
                outcome.attempts += 1;
            }
            let results = match self.send(&chunk.address, &pending).await {
                Ok(results) => results,
                Err(error) => {
                    let failed = bulk_error(&error);
                    outcomes.extend(pending.into_iter().map(|mut o| {
                        o.result = Err(failed.clone());
                        o
                    }));
                    break;
                }
            };
            let mut throttled = Vec::new();
            let mut wait = Duration::ZERO;
            for (mut outcome, result) in pending.into_iter().zip(results) {
                let delay = result.retry_after.unwrap_or_default();
                let again = result.status.code == 429
                    && outcome.attempts <= policy.max_throttle_retries
                    && outcome.throttled_for + delay <= policy.max_throttle_wait;
                outcome.result = Ok(result);
                if again {
                    wait = wait.max(delay);
                    throttled.push(outcome);
                } else {
                    outcomes.push(outcome);
                }
            }
            if !throttled.is_empty() {
                tokio::time::sleep(wait).await;
                for outcome in &mut throttled {
                    outcome.throttled_for += wait;
                }
            }
            pending = throttled;
        }
        outcomes
    }

    /// One request of `pending`'s operations; their results, one each, in order.
    async fn send(
        &self,
        address: &Result<String, PartitionKey>,
        pending: &[BulkOutcome],
    ) -> Result<Vec<BatchOperationResult>, DriverError> {
        let ops: Vec<&BulkOperation> = pending.iter().map(|o| &self.ops[o.index]).collect();
        let body: Vec<_> = ops.iter().map(|o| o.op.wire(Some(&o.pk))).collect();
        let idempotent = ops.iter().all(|o| o.op.idempotent());
        let (driver, db, coll, excluded) = self.container.parts();
        let mut operation = Operation::write(
            Method::POST,
            Target::items(db, coll),
            idempotent,
            Some(Bytes::from(serde_json::to_vec(&body)?)),
        )
        .session(format!("dbs/{db}/colls/{coll}"), true)
        .excluding(excluded)
        .header("x-ms-cosmos-is-batch-request", "True")
        .header("x-ms-cosmos-batch-atomic", "False")
        .header("x-ms-cosmos-batch-continue-on-error", "True");
        operation = match address {
            Ok(range) => operation.header("x-ms-documentdb-partitionkeyrangeid", range.clone()),
            Err(pk) => operation.header("x-ms-documentdb-partitionkey", pk.header()),
        };
        let success = driver.inner.execute(&operation).await?;
        let results = parse_results(&success.body)?;
        if results.len() != ops.len() {
            return Err(DriverError::Serialization(serde::de::Error::custom(
                format!(
                    "a bulk request of {} operations was answered with {} results",
                    ops.len(),
                    results.len()
                ),
            )));
        }
        Ok(results)
    }
}

fn not_sent() -> BulkError {
    BulkError {
        status: None,
        message: "not sent".into(),
        may_have_applied: false,
    }
}

fn bulk_error(error: &DriverError) -> BulkError {
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
