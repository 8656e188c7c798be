//! Transactional batch and bulk: `POST …/docs` with `x-ms-cosmos-is-batch-request: True`
//! and a JSON array of up to 100 operations (`Create Upsert Replace Read Delete Patch`).
//!
//! Atomic (`x-ms-cosmos-batch-atomic: True`, one partition key in
//! `x-ms-documentdb-partitionkey`): the operations run in order on the current state; at
//! the first failure the container's items, LSN and unstamped log are put back as they
//! were, and the answer is 207 with the failing operation's status and 424 for every
//! other. All succeed: 200 with every operation's result, and the writes go to the
//! container's one write log together, stamped at one instant, so a lagging region (and a
//! forced failover) sees all of them or none. Unlike the service, which gives a batch one
//! LSN, each write of a batch counts one LSN, as single writes do.
//!
//! Bulk (`x-ms-cosmos-batch-atomic: false`, addressed by `x-ms-documentdb-partitionkeyrangeid`,
//! each operation with its own `partitionKey`): every operation on its own, each stamped
//! as it applies, so the replication log's cap throttles the operations past it (429 with
//! `retryAfterMilliseconds`) while the ones before it stay applied. 207 when any failed.

use http::HeaderMap;
use serde_json::{Map, Value, json};
use tokio::time::Instant;

use crate::api_error::{ApiError, ApiResult};
use crate::data::{DataStore, ItemRequest, partition_key};
use crate::items::ItemAt;

/// The most operations one batch may carry (the service's limit).
pub(crate) const MAX_BATCH_OPERATIONS: usize = 100;

/// Nominal per-operation charges, as single requests are charged.
const WRITE_CHARGE: f64 = 5.0;
const READ_CHARGE: f64 = 1.0;

/// What a batch request's headers say.
#[derive(Debug)]
pub(crate) struct BatchRequest {
    /// `x-ms-cosmos-batch-atomic` (absent counts as atomic, as the service treats it).
    pub(crate) atomic: bool,
    /// `x-ms-documentdb-partitionkey`, raw.
    pub(crate) partition_key: Option<String>,
}

impl BatchRequest {
    pub(crate) fn from_headers(headers: &HeaderMap) -> Self {
        let text = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        Self {
            // Absent counts as atomic; only an explicit `false` asks for bulk.
            atomic: text("x-ms-cosmos-batch-atomic")
                .is_none_or(|v| !v.trim().eq_ignore_ascii_case("false")),
            partition_key: text("x-ms-documentdb-partitionkey"),
        }
    }
}

/// Where a batch runs: its container, and the region and instant its writes are stamped
/// with (bulk stamps each operation as it applies).
pub(crate) struct BatchAt<'a> {
    pub(crate) db: &'a str,
    pub(crate) coll: &'a str,
    pub(crate) region: &'a str,
    pub(crate) now: Instant,
}

impl<'a> BatchAt<'a> {
    pub(crate) fn new(db: &'a str, coll: &'a str, region: &'a str, now: Instant) -> Self {
        Self {
            db,
            coll,
            region,
            now,
        }
    }
}

/// The sum of the operations' `requestCharge` in a batch answer.
pub(crate) fn total_charge(results: &Value) -> f64 {
    results
        .as_array()
        .map(|ops| {
            ops.iter()
                .filter_map(|op| op.get("requestCharge").and_then(Value::as_f64))
                .sum()
        })
        .unwrap_or_default()
}

fn field(op: &Value, name: &str) -> Option<String> {
    op.get(name).and_then(Value::as_str).map(str::to_string)
}

/// An operation's own partition key, as header text: a JSON string holding the array
/// (as SDKs send it) or the array itself.
fn op_partition_key(op: &Value) -> Option<String> {
    match op.get("partitionKey")? {
        Value::String(text) => Some(text.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

/// The service's words for a partition key that does not fit the container or the item.
pub(crate) const PK_MISMATCH: &str = "Partition key provided either doesn't correspond to definition in the collection or doesn't match partition key field values specified in the document.";

impl DataStore {
    /// Runs a batch (atomic) or a bulk request (not atomic); the answer's status is 200
    /// when every operation succeeded, else 207, and its body the per-operation results.
    pub(crate) fn batch(
        &mut self,
        at: &BatchAt<'_>,
        body: Value,
        request: &BatchRequest,
    ) -> ApiResult {
        let Value::Array(ops) = body else {
            return Err(ApiError::bad_request(
                "a batch request's body must be a JSON array of operations",
            ));
        };
        if ops.is_empty() {
            return Err(ApiError::bad_request("Batch request has no operations."));
        }
        if ops.len() > MAX_BATCH_OPERATIONS {
            return Err(ApiError::bad_request(format!(
                "Batch request has more operations than what is supported. ({} > {MAX_BATCH_OPERATIONS})",
                ops.len()
            )));
        }
        if request.atomic {
            let header = request.partition_key.as_deref();
            let (pk, value) = partition_key(header)?;
            let paths = self.container(at.db, at.coll)?.partition_key_paths.len();
            // A batch runs in one logical partition: its key must be whole (a hierarchical
            // key's prefix is refused as the service refuses it, for the whole request).
            let values = value.as_array().map_or(1, Vec::len);
            if values != paths {
                return Err(ApiError::bad_request(PK_MISMATCH));
            }
            self.atomic(at, &ops, &pk, header)
        } else {
            self.check_range(at)?;
            let results: Vec<Value> = ops
                .iter()
                .map(|op| {
                    let pk = op_partition_key(op).or_else(|| request.partition_key.clone());
                    let result = self.make_room(at).and_then(|()| self.operation(at, op, pk));
                    if let Some((replication, container)) = self.split(at.db, at.coll) {
                        replication.stamp(container, at.region, at.now);
                    }
                    result.unwrap_or_else(|e| failure(&e))
                })
                .collect();
            Ok((multi_status(&results), Some(Value::Array(results))))
        }
    }

    fn atomic(
        &mut self,
        at: &BatchAt<'_>,
        ops: &[Value],
        pk: &str,
        header: Option<&str>,
    ) -> ApiResult {
        let container = self.container_mut(at.db, at.coll)?;
        let saved = (
            container.items.clone(),
            container.lsn,
            container.log.checkpoint(container.lsn),
            container.expiry.clone(),
        );
        let mut results = Vec::with_capacity(ops.len());
        for (index, op) in ops.iter().enumerate() {
            let own = op_partition_key(op);
            let result = match own.as_deref().map(|own| partition_key(Some(own))) {
                Some(Ok((own, _))) if own != pk => Err(ApiError::bad_request(
                    "an operation's partitionKey differs from the batch's x-ms-documentdb-partitionkey",
                )),
                Some(Err(e)) => Err(e),
                _ => self.operation(at, op, header.map(str::to_string)),
            };
            match result {
                Ok(ok) => results.push(ok),
                Err(error) => {
                    let container = self.container_mut(at.db, at.coll)?;
                    let (items, lsn, checkpoint, expiry) = saved;
                    container.items = items;
                    container.expiry = expiry;
                    container.lsn = lsn;
                    container.log.rollback(checkpoint);
                    let results = (0..ops.len())
                        .map(|i| {
                            if i == index {
                                failure(&error)
                            } else {
                                json!({"statusCode": 424, "requestCharge": 0.0})
                            }
                        })
                        .collect();
                    return Ok((207, Some(Value::Array(results))));
                }
            }
        }
        Ok((multi_status(&results), Some(Value::Array(results))))
    }

    /// A bulk request names the partition key range it is for: the range id was checked
    /// at the partition gate (410/1002, PartitionKeyRangeGone, for a gone one); here only
    /// the container must exist.
    fn check_range(&self, at: &BatchAt<'_>) -> Result<(), ApiError> {
        self.container(at.db, at.coll)?;
        Ok(())
    }

    /// Bulk: 429 for one operation when the container's replication log is at its cap.
    fn make_room(&mut self, at: &BatchAt<'_>) -> Result<(), ApiError> {
        match self.split(at.db, at.coll) {
            Some((replication, container)) => replication.make_room(container, at.now),
            None => Ok(()),
        }
    }

    /// One operation, as its single request would run (reads see the batch's earlier
    /// writes: they read the current state, as the write region does).
    fn operation(
        &mut self,
        at: &BatchAt<'_>,
        op: &Value,
        pk: Option<String>,
    ) -> Result<Value, ApiError> {
        let kind = field(op, "operationType").unwrap_or_default();
        let request = ItemRequest {
            partition_key: pk,
            if_match: field(op, "ifMatch"),
            if_none_match: field(op, "ifNoneMatch"),
            upsert: kind.eq_ignore_ascii_case("upsert"),
        };
        let body = || {
            op.get("resourceBody").cloned().ok_or_else(|| {
                ApiError::bad_request(format!("a {kind} operation needs a resourceBody"))
            })
        };
        let id = || match op.get("id") {
            Some(Value::String(id)) => Ok(id.clone()),
            _ => Err(ApiError::bad_request(format!(
                "a {kind} operation needs an id"
            ))),
        };
        let (status, resource) = match kind.to_ascii_lowercase().as_str() {
            "create" | "upsert" => self.create_item(at.db, at.coll, body()?, &request)?,
            "replace" => {
                let id = id()?;
                self.replace_item(ItemAt::new(at.db, at.coll, &id), body()?, &request)?
            }
            "patch" => {
                let id = id()?;
                self.patch_item(ItemAt::new(at.db, at.coll, &id), &body()?, &request)?
            }
            "delete" => {
                let id = id()?;
                self.delete_item(ItemAt::new(at.db, at.coll, &id), &request)?
            }
            "read" => {
                let id = id()?;
                let (pk, _) = partition_key(request.partition_key.as_deref())?;
                let container = self.container(at.db, at.coll)?;
                let item = container.existing(&(pk, id), &request)?;
                let etag = item.get("_etag").and_then(Value::as_str);
                if etag.is_some() && field(op, "ifNoneMatch").as_deref() == etag {
                    (304, None)
                } else {
                    (200, Some(item.clone()))
                }
            }
            other => {
                return Err(ApiError::bad_request(format!(
                    "operationType `{other}` is not one of Create, Upsert, Replace, Read, Delete, Patch"
                )));
            }
        };
        let charge = if status == 200 && kind.eq_ignore_ascii_case("read") || status == 304 {
            READ_CHARGE
        } else {
            WRITE_CHARGE
        };
        let mut result = Map::new();
        result.insert("statusCode".into(), json!(status));
        result.insert("requestCharge".into(), json!(charge));
        if let Some(resource) = resource {
            if let Some(etag) = resource.get("_etag") {
                result.insert("eTag".into(), etag.clone());
            }
            result.insert("resourceBody".into(), resource);
        }
        Ok(Value::Object(result))
    }
}

/// A failed operation's result: its status, sub-status and, for 429, the wait.
fn failure(error: &ApiError) -> Value {
    let mut result = Map::new();
    result.insert("statusCode".into(), json!(error.status));
    if let Some(sub) = error.sub_status {
        result.insert("subStatusCode".into(), json!(sub));
    }
    result.insert("requestCharge".into(), json!(0.0));
    if let Some(ms) = error.retry_after_ms {
        result.insert("retryAfterMilliseconds".into(), json!(ms));
    }
    Value::Object(result)
}

fn multi_status(results: &[Value]) -> u16 {
    let failed = results.iter().any(|r| {
        r.get("statusCode")
            .and_then(Value::as_u64)
            .is_none_or(|s| s >= 400)
    });
    if failed { 207 } else { 200 }
}
