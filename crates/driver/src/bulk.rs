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

use std::time::Duration;

use bytes::Bytes;
use futures_util::stream::{self, StreamExt};
use http::Method;

use crate::batch_result::{BatchOperationResult, parse_results};
use crate::bulk_ops::{BulkOperation, BulkOutcome, Chunk, bulk_error, not_sent, plan};
use crate::container::{Container, PartitionKey};
use crate::error::DriverError;
use crate::header_name::header_name;
use crate::operation::Operation;
use crate::request::Target;

/// Requests in flight by default.
pub const DEFAULT_BULK_IN_FLIGHT: usize = 4;
/// The most requests [`Bulk::max_in_flight`] allows.
pub const MAX_BULK_IN_FLIGHT: usize = 64;

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
        let (ranges, _charge) = crate::query::range_ids(&self.container).await?;
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
        .session(format!("dbs/{db}/colls/{coll}").into(), true)
        .excluding(excluded)
        .header(header_name!("x-ms-cosmos-is-batch-request"), "True")
        .header(header_name!("x-ms-cosmos-batch-atomic"), "False")
        .header(header_name!("x-ms-cosmos-batch-continue-on-error"), "True");
        operation = match address {
            Ok(range) => operation.header(
                header_name!("x-ms-documentdb-partitionkeyrangeid"),
                range.clone(),
            ),
            Err(pk) => operation.header(header_name!("x-ms-documentdb-partitionkey"), pk.header()),
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
