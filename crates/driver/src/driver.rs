//! The driver: what users hold. Built over a shared runtime, one per account use.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::Method;
use meridian_location_store::{
    DatabaseAccount, Endpoint, RegionName, RetryPolicy, RoutingSnapshot,
};
use meridian_runtime::{AccountHandle, AccountSpec, AccountStats, RefreshOutcome, Runtime};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::error::DriverError;
use crate::fetcher::DriverFetcher;
use crate::operation::{Operation, Success};
use crate::request::Target;
use crate::session::SessionTokens;
use crate::signing::MasterKey;
use crate::transport::{HyperTransport, Transport};

/// The default cap on a response body.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 4 * 1024 * 1024;

/// The default idle timeout of pooled connections: well below the 30 s (and longer)
/// idle timeouts of common gateways and load balancers.
pub const DEFAULT_POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(20);

/// Which account to use and how to authenticate. `Debug` never shows the key.
#[derive(Clone)]
pub struct AccountConfig {
    endpoint: String,
    key: String,
}

impl AccountConfig {
    /// The account endpoint (`https://{account}.documents.azure.com/`, or the emulator's
    /// `http://127.0.0.1:8081/`) and its base64 master key.
    pub fn new(endpoint: impl Into<String>, key: impl Into<String>) -> Self {
        Self {
            endpoint: endpoint.into(),
            key: key.into(),
        }
    }

    /// The account endpoint as given.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }
}

impl fmt::Debug for AccountConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccountConfig")
            .field("endpoint", &self.endpoint)
            .field("key", &"<redacted>")
            .finish()
    }
}

/// Builds a [`Driver`].
#[derive(Debug)]
pub struct DriverBuilder {
    runtime: Runtime,
    account: AccountConfig,
    preferred_regions: Vec<RegionName>,
    bootstrap_endpoints: Vec<String>,
    request_timeout: Duration,
    retry_policy: RetryPolicy,
    max_response_bytes: usize,
    pool_idle_timeout: Duration,
    trusted_certificates: Vec<Vec<u8>>,
}

impl DriverBuilder {
    /// Preferred regions, most preferred first (the first driver of an account sets them
    /// for every driver of that account in the runtime).
    pub fn preferred_regions<I, R>(mut self, regions: I) -> Self
    where
        I: IntoIterator<Item = R>,
        R: Into<RegionName>,
    {
        self.preferred_regions = regions.into_iter().map(Into::into).collect();
        self
    }

    /// Regional endpoints to read the account document from if the account endpoint is
    /// down when the first driver starts.
    pub fn bootstrap_endpoints<I, S>(mut self, endpoints: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.bootstrap_endpoints = endpoints.into_iter().map(Into::into).collect();
        self
    }

    /// Timeout of each request, body included (default 10 s).
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Retry budgets (default: [`RetryPolicy::default`]).
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry_policy = policy;
        self
    }

    /// Cap on a response body (default 4 MiB); larger answers are refused unbuffered.
    pub fn max_response_bytes(mut self, bytes: usize) -> Self {
        self.max_response_bytes = bytes;
        self
    }

    /// How long an idle pooled connection is kept (default [`DEFAULT_POOL_IDLE_TIMEOUT`]).
    /// Set it at or below the server's idle timeout: a connection is reused only while
    /// it has been idle less than this minus a guard (a quarter of it, at most 2 s), so
    /// a server that closes idle connections after exactly this long never closes one
    /// under a request. Zero disables connection reuse.
    pub fn pool_idle_timeout(mut self, timeout: Duration) -> Self {
        self.pool_idle_timeout = timeout;
        self
    }

    /// Trusts this DER certificate in addition to the webpki roots (for the emulator's
    /// `--tls` mode, whose certificate is self-signed).
    pub fn trust_certificate_der(mut self, der: impl Into<Vec<u8>>) -> Self {
        self.trusted_certificates.push(der.into());
        self
    }

    /// Validates the configuration, registers with the runtime and reads the account (the
    /// first driver of an account performs the initial fetch; later ones share it).
    pub async fn build(self) -> Result<Driver, DriverError> {
        let endpoint = Endpoint::parse(&self.account.endpoint)
            .map_err(|e| DriverError::Config(format!("account endpoint: {e}")))?;
        let key = MasterKey::from_base64(&self.account.key)
            .map_err(|e| DriverError::Config(e.to_string()))?;
        let bootstrap = self
            .bootstrap_endpoints
            .iter()
            .map(|e| {
                Endpoint::parse(e)
                    .map_err(|err| DriverError::Config(format!("bootstrap endpoint: {err}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if self.request_timeout.is_zero() {
            return Err(DriverError::Config(
                "request_timeout must be greater than zero".into(),
            ));
        }
        let transport: Arc<dyn Transport> = Arc::new(
            HyperTransport::new(
                &self.trusted_certificates,
                self.request_timeout,
                self.max_response_bytes,
                self.pool_idle_timeout,
            )
            .map_err(DriverError::Config)?,
        );
        let fetcher = Arc::new(DriverFetcher {
            transport: Arc::clone(&transport),
            key: key.clone(),
        });
        let spec = AccountSpec::new(endpoint)
            .with_preferred_regions(self.preferred_regions)
            .with_bootstrap_endpoints(bootstrap);
        let handle = self
            .runtime
            .attach(spec, fetcher)
            .await
            .map_err(|_| DriverError::ShutDown)?;
        Ok(Driver {
            inner: Arc::new(DriverInner {
                handle,
                transport,
                key,
                retry_policy: self.retry_policy,
                sessions: SessionTokens::default(),
            }),
        })
    }
}

pub(crate) struct DriverInner {
    pub(crate) handle: AccountHandle,
    pub(crate) transport: Arc<dyn Transport>,
    pub(crate) key: MasterKey,
    pub(crate) retry_policy: RetryPolicy,
    /// The newest session token per container, shared by every clone of the driver.
    pub(crate) sessions: SessionTokens,
}

/// A client of one account, hosted by a [`Runtime`].
///
/// Drivers of the same account endpoint in one runtime share its registry entry,
/// location state and refresh gate: the runtime fetches the account once per tick however
/// many drivers there are. Cloning is cheap (the clone shares this driver's registration);
/// dropping the last clone releases it.
#[derive(Clone)]
pub struct Driver {
    inner: Arc<DriverInner>,
}

impl fmt::Debug for Driver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Driver")
            .field("account", self.inner.handle.endpoint())
            .finish_non_exhaustive()
    }
}

/// A partition key value, sent as `x-ms-documentdb-partitionkey: [value]`.
#[derive(Debug, Clone, PartialEq)]
pub struct PartitionKey(Value);

impl PartitionKey {
    /// The header value.
    fn header(&self) -> String {
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

impl Driver {
    /// Starts building a driver for `account` hosted by `runtime`.
    pub fn builder(runtime: &Runtime, account: AccountConfig) -> DriverBuilder {
        DriverBuilder {
            runtime: runtime.clone(),
            account,
            preferred_regions: Vec::new(),
            bootstrap_endpoints: Vec::new(),
            request_timeout: Duration::from_secs(10),
            retry_policy: RetryPolicy::default(),
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            pool_idle_timeout: DEFAULT_POOL_IDLE_TIMEOUT,
            trusted_certificates: Vec::new(),
        }
    }

    /// The current routing snapshot (lock-free).
    pub fn snapshot(&self) -> Arc<RoutingSnapshot> {
        self.inner.handle.snapshot()
    }

    /// The runtime's handle of this driver's account: routing snapshots, outcome reports
    /// and refreshes, for callers that send requests of their own.
    pub fn account_handle(&self) -> &AccountHandle {
        &self.inner.handle
    }

    /// The account's counters in the runtime.
    pub fn stats(&self) -> AccountStats {
        self.inner.handle.stats()
    }

    /// "Refresh now": start, join or be throttled (see [`RefreshOutcome`]).
    pub async fn request_refresh(&self) -> RefreshOutcome {
        self.inner.handle.request_refresh().await
    }

    /// Reads the account document through the routed read region (`GET /`).
    pub async fn read_account(&self) -> Result<DatabaseAccount, DriverError> {
        let success = self
            .inner
            .execute(&Operation::read(Target::account()))
            .await?;
        DatabaseAccount::from_slice(&success.body).map_err(DriverError::InvalidAccount)
    }

    /// Creates a database.
    pub async fn create_database(&self, id: &str) -> Result<Value, DriverError> {
        let body = Bytes::from(json!({"id": id}).to_string());
        let operation = Operation::write(Method::POST, Target::databases(), false, Some(body));
        Ok(serde_json::from_slice(
            &self.inner.execute(&operation).await?.body,
        )?)
    }

    /// Creates a container in `db` partitioned by `partition_key_path` (e.g. `/pk`).
    pub async fn create_container(
        &self,
        db: &str,
        id: &str,
        partition_key_path: &str,
    ) -> Result<Value, DriverError> {
        let body =
            json!({"id": id, "partitionKey": {"paths": [partition_key_path], "kind": "Hash"}});
        let operation = Operation::write(
            Method::POST,
            Target::containers(db),
            false,
            Some(Bytes::from(body.to_string())),
        );
        Ok(serde_json::from_slice(
            &self.inner.execute(&operation).await?.body,
        )?)
    }

    /// The newest session token this driver holds for a container (`x-ms-session-token`
    /// of its last write or read), if any.
    pub fn session_token(&self, db: &str, coll: &str) -> Option<String> {
        self.inner.sessions.get(&format!("dbs/{db}/colls/{coll}"))
    }

    /// A handle for item operations in `db`/`coll`.
    pub fn container(&self, db: &str, coll: &str) -> Container<'_> {
        Container {
            driver: self,
            db: db.to_string(),
            coll: coll.to_string(),
        }
    }
}

/// Item operations in one container.
#[derive(Debug)]
pub struct Container<'a> {
    driver: &'a Driver,
    db: String,
    coll: String,
}

fn item_response<T: DeserializeOwned>(success: Success) -> Result<ItemResponse<T>, DriverError> {
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

impl Container<'_> {
    /// An item operation carrying the partition-key header.
    fn operation(
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
