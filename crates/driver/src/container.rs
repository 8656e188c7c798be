//! Item operations in one container, and what they take and return.

use bytes::Bytes;
use http::Method;
use meridian_location_store::{Endpoint, RegionName};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::driver::Driver;
use crate::error::DriverError;
use crate::operation::{Operation, Success};
use crate::request::Target;

/// A partition key value, sent as `x-ms-documentdb-partitionkey: [value]`.
#[derive(Debug, Clone, PartialEq)]
pub struct PartitionKey(Value);

impl PartitionKey {
    /// The header value.
    pub(crate) fn header(&self) -> String {
        json!([self.0]).to_string()
    }
}

impl From<&str> for PartitionKey {
    fn from(value: &str) -> Self {
        Self(json!(value))
    }
}

impl From<String> for PartitionKey {
    fn from(value: String) -> Self {
        Self(json!(value))
    }
}

impl From<i64> for PartitionKey {
    fn from(value: i64) -> Self {
        Self(json!(value))
    }
}

impl From<Value> for PartitionKey {
    fn from(value: Value) -> Self {
        Self(value)
    }
}

/// An item with the response metadata.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ItemResponse<T> {
    /// The item as the service returned it.
    pub item: T,
    /// Its `_etag`, for `If-Match`.
    pub etag: Option<String>,
    /// The endpoint that answered.
    pub endpoint: Endpoint,
    /// Requests sent, retries included.
    pub attempts: u32,
    /// HTTP status (201 created, 200 replaced...).
    pub status: u16,
}

/// Item operations in one container.
#[derive(Debug, Clone)]
pub struct Container<'a> {
    driver: &'a Driver,
    db: String,
    coll: String,
    excluded_regions: Vec<RegionName>,
}

pub(crate) fn item_response<T: DeserializeOwned>(
    success: Success,
) -> Result<ItemResponse<T>, DriverError> {
    let value: Value = serde_json::from_slice(&success.body)?;
    let etag = value
        .get("_etag")
        .and_then(Value::as_str)
        .map(str::to_string);
    Ok(ItemResponse {
        item: serde_json::from_value(value)?,
        etag,
        endpoint: success.endpoint,
        attempts: success.attempts,
        status: success.status,
    })
}

impl<'a> Container<'a> {
    pub(crate) fn new(driver: &'a Driver, db: &str, coll: &str) -> Self {
        Self {
            driver,
            db: db.to_string(),
            coll: coll.to_string(),
            excluded_regions: Vec::new(),
        }
    }

    /// The driver, the container's database and id, and the regions it excludes (for
    /// the query and patch modules).
    pub(crate) fn parts(&self) -> (&'a Driver, &str, &str, &[RegionName]) {
        (self.driver, &self.db, &self.coll, &self.excluded_regions)
    }

    /// The same container, with these regions excluded from the routing of its requests
    /// (on top of the driver's preferred regions). If they exclude every region, the
    /// account endpoint is used.
    pub fn excluding<I, R>(mut self, regions: I) -> Self
    where
        I: IntoIterator<Item = R>,
        R: Into<RegionName>,
    {
        self.excluded_regions = regions.into_iter().map(Into::into).collect();
        self
    }
    /// An item operation carrying the partition-key header.
    pub(crate) fn operation(
        &self,
        method: Method,
        target: Target,
        idempotent: bool,
        body: Option<Bytes>,
        pk: impl Into<PartitionKey>,
    ) -> Operation {
        let operation = if method == Method::GET {
            Operation::read(target)
        } else {
            Operation::write(method, target, idempotent, body)
        };
        operation
            .session(format!("dbs/{}/colls/{}", self.db, self.coll), true)
            .header("x-ms-documentdb-partitionkey", pk.into().header())
            .excluding(&self.excluded_regions)
    }

    async fn run<T: DeserializeOwned>(
        &self,
        operation: Operation,
    ) -> Result<ItemResponse<T>, DriverError> {
        item_response(self.driver.inner.execute(&operation).await?)
    }

    /// Creates an item; 409 if it exists. Not idempotent: a failure after the request may
    /// have been applied is reported as [`DriverError::MaybeApplied`], never retried.
    pub async fn create_item<T: Serialize + DeserializeOwned>(
        &self,
        pk: impl Into<PartitionKey>,
        item: &T,
    ) -> Result<ItemResponse<T>, DriverError> {
        let body = Bytes::from(serde_json::to_vec(item)?);
        let operation = self.operation(
            Method::POST,
            Target::items(&self.db, &self.coll),
            false,
            Some(body),
            pk,
        );
        self.run(operation).await
    }

    /// Creates or replaces an item (idempotent).
    pub async fn upsert_item<T: Serialize + DeserializeOwned>(
        &self,
        pk: impl Into<PartitionKey>,
        item: &T,
    ) -> Result<ItemResponse<T>, DriverError> {
        let body = Bytes::from(serde_json::to_vec(item)?);
        let operation = self
            .operation(
                Method::POST,
                Target::items(&self.db, &self.coll),
                true,
                Some(body),
                pk,
            )
            .header("x-ms-documentdb-is-upsert", "true");
        self.run(operation).await
    }

    /// Reads an item. Under session consistency: it carries the newest session token
    /// this driver holds for the container, so it sees this driver's writes; a region
    /// that has not caught up answers 404/1002 and the read is retried in the next
    /// region, then the write region, within the retry budget.
    pub async fn read_item<T: DeserializeOwned>(
        &self,
        pk: impl Into<PartitionKey>,
        id: &str,
    ) -> Result<ItemResponse<T>, DriverError> {
        let operation = self.operation(
            Method::GET,
            Target::item(&self.db, &self.coll, id),
            true,
            None,
            pk,
        );
        self.run(operation).await
    }

    /// Reads an item without this driver's session token: eventual consistency. The
    /// nearest region answers from what it has, which may be older than this driver's
    /// own writes (a region the write has not reached yet answers 404). Cheaper on a
    /// lagging account: never a 404/1002 retry. (Full per-operation options are left
    /// to a later API; this is the one opt-out.)
    pub async fn read_item_eventual<T: DeserializeOwned>(
        &self,
        pk: impl Into<PartitionKey>,
        id: &str,
    ) -> Result<ItemResponse<T>, DriverError> {
        let operation = self
            .operation(
                Method::GET,
                Target::item(&self.db, &self.coll, id),
                true,
                None,
                pk,
            )
            .session(format!("dbs/{}/colls/{}", self.db, self.coll), false);
        self.run(operation).await
    }

    /// Replaces an item, optionally only if its etag is still `if_match` (412 if not).
    pub async fn replace_item<T: Serialize + DeserializeOwned>(
        &self,
        pk: impl Into<PartitionKey>,
        id: &str,
        item: &T,
        if_match: Option<&str>,
    ) -> Result<ItemResponse<T>, DriverError> {
        let body = Bytes::from(serde_json::to_vec(item)?);
        let mut operation = self.operation(
            Method::PUT,
            Target::item(&self.db, &self.coll, id),
            true,
            Some(body),
            pk,
        );
        if let Some(etag) = if_match {
            operation = operation.header("if-match", etag);
        }
        self.run(operation).await
    }

    /// Deletes an item, optionally only if its etag is still `if_match`.
    pub async fn delete_item(
        &self,
        pk: impl Into<PartitionKey>,
        id: &str,
        if_match: Option<&str>,
    ) -> Result<(), DriverError> {
        let mut operation = self.operation(
            Method::DELETE,
            Target::item(&self.db, &self.coll, id),
            true,
            None,
            pk,
        );
        if let Some(etag) = if_match {
            operation = operation.header("if-match", etag);
        }
        self.driver.inner.execute(&operation).await.map(|_| ())
    }
}
