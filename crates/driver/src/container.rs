//! Item operations in one container, and what they take and return.

use std::future::Future;
use std::sync::Arc;

use bytes::Bytes;
use http::Method;
use meridian_location_store::RegionName;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::driver::Driver;
use crate::error::DriverError;
use crate::header_name::header_name;
use crate::item_response::{ItemResponse, item_response};
use crate::metadata::ResponseMetadata;
use crate::operation::Operation;
use crate::options::{ConsistencyLevel, ItemOptions, ReadOptions};
use crate::request::Target;

pub(crate) use crate::partition_key::PartitionKey;

/// Item operations in one container: a cheap, owned handle (`Clone + Send + Sync +
/// 'static`) that can be stored in a struct or moved into a task.
///
/// Dropping an operation's future mid-flight abandons the request in flight and leaves
/// no task and no shared state behind; **a dropped write may have been applied** (read
/// before writing again, as after [`DriverError::MaybeApplied`]).
#[derive(Debug, Clone)]
pub struct Container {
    /// One reference count: a handle cloned into every task costs one shared counter,
    /// not one per part.
    parts: Arc<Parts>,
}

#[derive(Debug)]
struct Parts {
    driver: Driver,
    db: Box<str>,
    coll: Box<str>,
    /// `dbs/{db}/colls/{coll}`, the session tokens' key: built once, shared by every
    /// operation.
    link: Arc<str>,
    excluded_regions: Box<[RegionName]>,
}

impl Container {
    pub(crate) fn new(driver: &Driver, db: &str, coll: &str) -> Self {
        let parts = Parts {
            driver: driver.clone(),
            db: db.into(),
            coll: coll.into(),
            link: format!("dbs/{db}/colls/{coll}").into(),
            excluded_regions: Box::new([]),
        };
        Self {
            parts: Arc::new(parts),
        }
    }

    /// The driver, the container's database and id, and the regions it excludes (for
    /// the query and patch modules).
    pub(crate) fn parts(&self) -> (&Driver, &str, &str, &[RegionName]) {
        (
            &self.parts.driver,
            &self.parts.db,
            &self.parts.coll,
            &self.parts.excluded_regions,
        )
    }

    /// The database id.
    pub fn database_id(&self) -> &str {
        &self.parts.db
    }

    /// The container id.
    pub fn id(&self) -> &str {
        &self.parts.coll
    }

    /// The same container, with these regions excluded from the routing of all its
    /// requests (on top of the driver's preferred regions; per operation, see
    /// [`ReadOptions::excluded_regions`]). If they exclude every region, the account
    /// endpoint is used.
    pub fn excluding<I, R>(mut self, regions: I) -> Self
    where
        I: IntoIterator<Item = R>,
        R: Into<RegionName>,
    {
        let parts = Parts {
            driver: self.parts.driver.clone(),
            db: self.parts.db.clone(),
            coll: self.parts.coll.clone(),
            link: Arc::clone(&self.parts.link),
            excluded_regions: regions.into_iter().map(Into::into).collect(),
        };
        self.parts = Arc::new(parts);
        self
    }

    /// `dbs/{db}/colls/{coll}`.
    pub(crate) fn link(&self) -> &Arc<str> {
        &self.parts.link
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
            .session(Arc::clone(self.link()), true)
            .header(
                header_name!("x-ms-documentdb-partitionkey"),
                pk.into().header(),
            )
            .excluding(&self.parts.excluded_regions)
    }

    /// A write `operation` with its options applied.
    fn write(operation: Operation, options: &ItemOptions) -> Operation {
        let mut operation = operation.with_common(&options.common);
        if let Some(etag) = &options.if_match {
            operation = operation.header(header_name!("if-match"), etag.clone());
        }
        if let Some(etag) = &options.if_none_match {
            operation = operation.header(header_name!("if-none-match"), etag.clone());
        }
        if options.minimal_response {
            operation = operation.header(header_name!("prefer"), "return=minimal");
        }
        operation
    }

    /// A POST of `item` to the container's items: a create, or with `upsert` an upsert
    /// (idempotent).
    fn post_item<T: Serialize>(
        &self,
        pk: impl Into<PartitionKey>,
        item: &T,
        upsert: bool,
        options: &ItemOptions,
    ) -> Result<Operation, DriverError> {
        let body = Bytes::from(serde_json::to_vec(item)?);
        let target = Target::items(&self.parts.db, &self.parts.coll);
        let operation = self.operation(Method::POST, target, upsert, Some(body), pk);
        let operation = Self::write(operation, options);
        Ok(if upsert {
            operation.header(header_name!("x-ms-documentdb-is-upsert"), "true")
        } else {
            operation
        })
    }

    /// Sends `operation` and reads its item. Not an `async fn`: an async block holds the
    /// operation once (an `async fn` keeps its argument and a moved copy), and every
    /// item operation's future carries this one.
    #[allow(
        clippy::manual_async_fn,
        reason = "the async block is smaller, see above"
    )]
    fn run<T: DeserializeOwned>(
        &self,
        operation: Operation,
    ) -> impl Future<Output = Result<ItemResponse<T>, DriverError>> + '_ {
        async move {
            let success = self.parts.driver.inner.execute(&operation).await?;
            item_response(success, operation.body.as_ref(), &self.parts.link)
        }
    }

    /// Creates an item; 409 if it exists. Not idempotent: a failure after the request may
    /// have been applied is reported as [`DriverError::MaybeApplied`], never retried.
    pub async fn create_item<T: Serialize + DeserializeOwned>(
        &self,
        pk: impl Into<PartitionKey>,
        item: &T,
    ) -> Result<ItemResponse<T>, DriverError> {
        self.create_item_with(pk, item, &ItemOptions::default())
            .await
    }

    /// [`create_item`](Self::create_item) with options.
    pub async fn create_item_with<T: Serialize + DeserializeOwned>(
        &self,
        pk: impl Into<PartitionKey>,
        item: &T,
        options: &ItemOptions,
    ) -> Result<ItemResponse<T>, DriverError> {
        let pk = pk.into();
        let route = self.prepare(&pk).await?;
        self.run(self.post_item(pk, item, false, options)?.routed(route))
            .await
    }

    /// Creates or replaces an item (idempotent).
    pub async fn upsert_item<T: Serialize + DeserializeOwned>(
        &self,
        pk: impl Into<PartitionKey>,
        item: &T,
    ) -> Result<ItemResponse<T>, DriverError> {
        self.upsert_item_with(pk, item, &ItemOptions::default())
            .await
    }

    /// [`upsert_item`](Self::upsert_item) with options.
    pub async fn upsert_item_with<T: Serialize + DeserializeOwned>(
        &self,
        pk: impl Into<PartitionKey>,
        item: &T,
        options: &ItemOptions,
    ) -> Result<ItemResponse<T>, DriverError> {
        let pk = pk.into();
        let route = self.prepare(&pk).await?;
        self.run(self.post_item(pk, item, true, options)?.routed(route))
            .await
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
        self.read_item_with(pk, id, &ReadOptions::default()).await
    }

    /// [`read_item`](Self::read_item) with options (consistency, session token,
    /// excluded regions, deadline, `If-None-Match`).
    pub async fn read_item_with<T: DeserializeOwned>(
        &self,
        pk: impl Into<PartitionKey>,
        id: &str,
        options: &ReadOptions,
    ) -> Result<ItemResponse<T>, DriverError> {
        if let Some(level) = options.consistency {
            self.check_consistency(level)?;
        }
        let pk = pk.into();
        let route = self.prepare(&pk).await?;
        let target = Target::item(&self.parts.db, &self.parts.coll, id);
        let mut operation = self
            .operation(Method::GET, target, true, None, pk)
            .session(Arc::clone(self.link()), options.sends_session())
            .with_common(&options.common)
            .routed(route);
        if let Some(level) = options.consistency {
            operation = operation.header(header_name!("x-ms-consistency-level"), level.as_str());
        }
        if let Some(etag) = &options.if_none_match {
            operation = operation.header(header_name!("if-none-match"), etag.clone());
        }
        self.run(operation).await
    }

    /// Reads an item without this driver's session token: eventual consistency
    /// (`read_item_with` and [`ConsistencyLevel::Eventual`]). The nearest region answers
    /// from what it has, which may be older than this driver's own writes (a region the
    /// write has not reached yet answers 404). Never a 404/1002 retry.
    pub async fn read_item_eventual<T: DeserializeOwned>(
        &self,
        pk: impl Into<PartitionKey>,
        id: &str,
    ) -> Result<ItemResponse<T>, DriverError> {
        let options = ReadOptions::default().consistency(ConsistencyLevel::Eventual);
        self.read_item_with(pk, id, &options).await
    }

    /// Replaces an item, optionally only if its etag is still `if_match` (412 if not).
    pub async fn replace_item<T: Serialize + DeserializeOwned>(
        &self,
        pk: impl Into<PartitionKey>,
        id: &str,
        item: &T,
        if_match: Option<&str>,
    ) -> Result<ItemResponse<T>, DriverError> {
        let mut options = ItemOptions::default();
        if let Some(etag) = if_match {
            options = options.if_match(etag);
        }
        self.replace_item_with(pk, id, item, &options).await
    }

    /// [`replace_item`](Self::replace_item) with options.
    pub async fn replace_item_with<T: Serialize + DeserializeOwned>(
        &self,
        pk: impl Into<PartitionKey>,
        id: &str,
        item: &T,
        options: &ItemOptions,
    ) -> Result<ItemResponse<T>, DriverError> {
        let pk = pk.into();
        let route = self.prepare(&pk).await?;
        let body = Bytes::from(serde_json::to_vec(item)?);
        let target = Target::item(&self.parts.db, &self.parts.coll, id);
        let operation = self.operation(Method::PUT, target, true, Some(body), pk);
        let operation = Self::write(operation, options).routed(route);
        self.run(operation).await
    }

    /// Deletes an item, optionally only if its etag is still `if_match`.
    pub async fn delete_item(
        &self,
        pk: impl Into<PartitionKey>,
        id: &str,
        if_match: Option<&str>,
    ) -> Result<(), DriverError> {
        let mut options = ItemOptions::default();
        if let Some(etag) = if_match {
            options = options.if_match(etag);
        }
        self.delete_item_with(pk, id, &options).await.map(|_| ())
    }

    /// [`delete_item`](Self::delete_item) with options; returns the response metadata.
    pub async fn delete_item_with(
        &self,
        pk: impl Into<PartitionKey>,
        id: &str,
        options: &ItemOptions,
    ) -> Result<ResponseMetadata, DriverError> {
        let pk = pk.into();
        let route = self.prepare(&pk).await?;
        let target = Target::item(&self.parts.db, &self.parts.coll, id);
        let operation = self.operation(Method::DELETE, target, true, None, pk);
        let operation = Self::write(operation, options).routed(route);
        let success = self.parts.driver.inner.execute(&operation).await?;
        Ok(success.metadata)
    }
}

impl Driver {
    /// A handle for item operations in `db`/`coll` (owned: store it, move it into a task).
    pub fn container(&self, db: &str, coll: &str) -> Container {
        Container::new(self, db, coll)
    }
}
