//! Transactional batch: [`Container::batch`] → [`Batch`] → [`BatchResponse`], or
//! [`DriverError::BatchFailed`] naming the operation that failed (nothing applied).

use bytes::Bytes;
use http::Method;
use serde::Serialize;

use crate::batch_op::OpSpec;
use crate::batch_result::{BatchFailure, BatchResponse, parse_results};
use crate::container::{Container, PartitionKey};
use crate::error::DriverError;
use crate::header_name::header_name;
use crate::patch::PatchOperations;
use crate::request::Target;

/// A transactional batch in one partition: up to
/// [`MAX_BATCH_OPERATIONS`](crate::MAX_BATCH_OPERATIONS) operations applied all or
/// none, in order. Built with [`Container::batch`], sent with [`execute`](Self::execute).
///
/// A batch is retried after a failure that may have reached the service only when every
/// operation is idempotent (reads, upserts, replaces, deletes); a batch with a create or
/// a patch that may have been applied is reported as [`DriverError::MaybeApplied`] and
/// never sent again.
///
/// ```no_run
/// # async fn f(orders: meridian_driver::Container) -> Result<(), meridian_driver::DriverError> {
/// use serde_json::json;
/// let done = orders
///     .batch("order-7")
///     .create_item(&json!({"id": "order-7", "pk": "order-7", "lines": 2}))
///     .create_item(&json!({"id": "line-1", "pk": "order-7", "sku": "a"}))
///     .create_item(&json!({"id": "line-2", "pk": "order-7", "sku": "b"}))
///     .execute()
///     .await?;
/// assert_eq!(done.len(), 3);
/// # Ok(()) }
/// ```
#[derive(Debug)]
#[must_use = "a batch does nothing until it is executed"]
pub struct Batch {
    container: Container,
    pk: PartitionKey,
    ops: Vec<OpSpec>,
    /// The first item that could not be serialized: reported by `execute`.
    error: Option<DriverError>,
}

impl Container {
    /// Starts a transactional batch in partition `pk`.
    pub fn batch(&self, pk: impl Into<PartitionKey>) -> Batch {
        Batch {
            container: self.clone(),
            pk: pk.into(),
            ops: Vec::new(),
            error: None,
        }
    }
}

impl Batch {
    fn push(mut self, op: Result<OpSpec, DriverError>) -> Self {
        match op {
            Ok(op) => self.ops.push(op),
            Err(error) => {
                self.error.get_or_insert(error);
            }
        }
        self
    }

    /// Creates an item (409 if it exists).
    pub fn create_item<T: Serialize>(self, item: &T) -> Self {
        self.push(OpSpec::create(item))
    }

    /// Creates or replaces an item.
    pub fn upsert_item<T: Serialize>(self, item: &T) -> Self {
        self.push(OpSpec::upsert(item))
    }

    /// Replaces item `id`, only if its etag is still `if_match` when given (412 if not).
    pub fn replace_item<T: Serialize>(self, id: &str, item: &T, if_match: Option<&str>) -> Self {
        self.push(OpSpec::replace(id, item).map(|op| op.if_match(if_match)))
    }

    /// Reads item `id` (its result's [`item`](crate::BatchOperationResult::item)).
    pub fn read_item(self, id: &str) -> Self {
        self.push(Ok(OpSpec::read(id)))
    }

    /// Deletes item `id`, only if its etag is still `if_match` when given.
    pub fn delete_item(self, id: &str, if_match: Option<&str>) -> Self {
        self.push(Ok(OpSpec::delete(id).if_match(if_match)))
    }

    /// Patches item `id`.
    pub fn patch_item(self, id: &str, patch: &PatchOperations) -> Self {
        self.push(Ok(OpSpec::patch(id, patch)))
    }

    /// How many operations it holds.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Whether it holds none (the service refuses an empty batch).
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Sends the batch. `Ok`: every operation applied, with its result. An operation
    /// that failed: [`DriverError::BatchFailed`] with its index and status, and nothing
    /// applied. More than 100 operations, or none: the service's 400
    /// ([`DriverError::Status`]).
    pub async fn execute(self) -> Result<BatchResponse, DriverError> {
        if let Some(error) = self.error {
            return Err(error);
        }
        let idempotent = self.ops.iter().all(OpSpec::idempotent);
        let body: Vec<_> = self.ops.iter().map(|op| op.wire(None)).collect();
        let body = Bytes::from(serde_json::to_vec(&body)?);
        let (driver, db, coll, _) = self.container.parts();
        let operation = self
            .container
            .operation(
                Method::POST,
                Target::items(db, coll),
                idempotent,
                Some(body),
                self.pk,
            )
            .header(header_name!("x-ms-cosmos-is-batch-request"), "True")
            .header(header_name!("x-ms-cosmos-batch-atomic"), "True")
            .header(header_name!("x-ms-cosmos-batch-continue-on-error"), "False");
        let success = driver.inner.execute(&operation).await?;
        let count = self.ops.len();
        let response = BatchResponse {
            results: parse_results(&success.body)?,
            metadata: success.metadata,
        };
        if response.results.len() != count {
            return Err(DriverError::Serialization(serde::de::Error::custom(
                format!(
                    "the batch of {count} operations was answered with {} results",
                    response.results.len()
                ),
            )));
        }
        if success.status == 207 || response.results.iter().any(|r| !r.is_success()) {
            return Err(match BatchFailure::of(response) {
                Some(failure) => DriverError::BatchFailed(Box::new(failure)),
                None => DriverError::Serialization(serde::de::Error::custom(
                    "the batch answered 207 but no operation failed",
                )),
            });
        }
        Ok(response)
    }
}
