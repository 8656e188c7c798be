//! The driver: what users hold. Built over a shared runtime, one per account use.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use meridian_location_store::{
    DatabaseAccount, Endpoint, OperationKind, RegionName, RetryPolicy, RouteRequest,
    RoutingSnapshot,
};
use meridian_runtime::{
    AccountHandle, AccountSpec, AccountStats, AttachError, RefreshOutcome, Runtime,
};

use crate::account_config::{AccountConfig, Auth};
use crate::availability::AvailabilityStrategy;
use crate::credential::Credential;
use crate::entra::TokenCaches;
use crate::error::{ConfigError, ConfigReason, DriverError};
use crate::failure_log::{FailureLog, FailureLogs};
use crate::fetcher::DriverFetcher;
use crate::operation::Operation;
use crate::partition_key::{AccountShapes, PartitionKeyShapes};
use crate::request::Target;
use crate::session::SessionTokens;
use crate::shared::{
    DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_POOL_IDLE_TIMEOUT, PoolKey,
    PooledTransport, SharedTransports,
};
use crate::signing::MasterKey;

/// Builds a [`Driver`].
///
/// Settings are per driver unless marked *per account*. Drivers of one runtime whose
/// transport settings (request timeout, body cap, trusted certificates, connection
/// limit) are equal share one connection pool and TLS configuration. A per-account
/// setting may be left unset by a later driver of the account; a different value is an
/// error at [`build`](Self::build) ([`DriverError::ConflictingSetting`]).
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
    max_connections: usize,
    trusted_certificates: Vec<Vec<u8>>,
    availability: AvailabilityStrategy,
}

impl DriverBuilder {
    /// This driver's preferred regions, most preferred first. Each driver routes by its
    /// own list over the account's shared topology (the account is still refreshed once
    /// per tick).
    pub fn preferred_regions<I, R>(mut self, regions: I) -> Self
    where
        I: IntoIterator<Item = R>,
        R: Into<RegionName>,
    {
        self.preferred_regions = regions.into_iter().map(Into::into).collect();
        self
    }

    /// *Per account:* regional endpoints to read the account document from if the
    /// account endpoint is down when the first driver starts.
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
    /// under a request. Zero disables connection reuse; longer than
    /// [`MAX_POOL_IDLE_TIMEOUT`](crate::MAX_POOL_IDLE_TIMEOUT) is refused.
    pub fn pool_idle_timeout(mut self, timeout: Duration) -> Self {
        self.pool_idle_timeout = timeout;
        self
    }

    /// Bound of this driver's shared pool (default [`DEFAULT_MAX_CONNECTIONS`], at most
    /// [`MAX_CONNECTIONS_LIMIT`](crate::MAX_CONNECTIONS_LIMIT)): at most this many
    /// operations' requests in flight over all endpoints (one waits for a free slot within
    /// its request timeout) and this many idle connections kept per endpoint. The
    /// runtime's refresh fetches and probes take no slot (its own fetch limit bounds
    /// them), so a refresh never queues behind operations. Drivers with equal transport
    /// settings share the pool.
    pub fn max_connections(mut self, connections: usize) -> Self {
        self.max_connections = connections;
        self
    }

    /// Hedging for every operation that does not set its own (default:
    /// [`AvailabilityStrategy::default`], reads hedged after
    /// [`DEFAULT_HEDGE_THRESHOLD`](crate::DEFAULT_HEDGE_THRESHOLD)).
    pub fn availability_strategy(mut self, strategy: AvailabilityStrategy) -> Self {
        self.availability = strategy;
        self
    }

    /// Trusts this DER certificate in addition to the webpki roots (for the emulator's
    /// `--tls` mode, whose certificate is self-signed).
    pub fn trust_certificate_der(mut self, der: impl Into<Vec<u8>>) -> Self {
        self.trusted_certificates.push(der.into());
        self
    }

    /// Validates the configuration, registers with the runtime and reads the account (the
    /// first driver of an account performs the initial fetch; later ones share it). The
    /// driver keeps the runtime's refresh loop running while it lives.
    pub async fn build(self) -> Result<Driver, DriverError> {
        let endpoint = Endpoint::parse(&self.account.endpoint)
            .map_err(|e| ConfigError::new("account endpoint", ConfigReason::Endpoint(e)))?;
        let credential = match &self.account.auth {
            Auth::Key(key) => Credential::new(
                MasterKey::from_base64(key)
                    .map_err(|e| ConfigError::new("account key", ConfigReason::Key(e)))?,
            ),
            Auth::Token(credential) => Credential::Token(
                self.runtime
                    .extension(TokenCaches::default)
                    .cache(credential),
            ),
        };
        let bootstrap = self
            .bootstrap_endpoints
            .iter()
            .map(|e| {
                Endpoint::parse(e).map_err(|err| {
                    ConfigError::new("bootstrap_endpoints", ConfigReason::Endpoint(err))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let pool = PoolKey {
            trusted_certificates: self.trusted_certificates,
            request_timeout: self.request_timeout,
            max_response_bytes: self.max_response_bytes,
            max_connections: self.max_connections,
            pool_idle_timeout: self.pool_idle_timeout,
        };
        pool.check()?;
        let transport = self
            .runtime
            .extension(SharedTransports::default)
            .get(pool)
            .map_err(|e| ConfigError::new("trusted certificates", ConfigReason::Tls(e)))?;
        let pk_shapes = self
            .runtime
            .extension(PartitionKeyShapes::default)
            .account(endpoint.as_str());
        let failures = self
            .runtime
            .extension(FailureLogs::default)
            .account(endpoint.as_str());
        let credential = Arc::new(credential);
        let fetcher = Arc::new(DriverFetcher {
            transport: Arc::clone(&transport),
            credential: Arc::clone(&credential),
        });
        // Preferred regions are the driver's own (applied per request), not the account's.
        let spec = AccountSpec::new(endpoint).with_bootstrap_endpoints(bootstrap);
        let handle = self
            .runtime
            .attach(spec, fetcher)
            .await
            .map_err(|error| match error {
                AttachError::Conflict { setting } => DriverError::ConflictingSetting { setting },
                _ => DriverError::Shutdown,
            })?;
        Ok(Driver {
            inner: Arc::new(DriverInner {
                runtime: self.runtime,
                handle,
                transport,
                credential,
                preferred_regions: self.preferred_regions.into(),
                retry_policy: self.retry_policy,
                availability: self.availability,
                sessions: SessionTokens::default(),
                pk_shapes,
                failures,
            }),
        })
    }
}

pub(crate) struct DriverInner {
    /// Keeps the refresh loop alive while the driver lives.
    pub(crate) runtime: Runtime,
    pub(crate) handle: AccountHandle,
    pub(crate) transport: Arc<PooledTransport>,
    pub(crate) credential: Arc<Credential>,
    pub(crate) preferred_regions: Box<[RegionName]>,
    pub(crate) retry_policy: RetryPolicy,
    /// Hedging for operations that do not set their own.
    pub(crate) availability: AvailabilityStrategy,
    /// The newest session token per container, shared by every clone of the driver.
    pub(crate) sessions: SessionTokens,
    /// The partition key definitions of the account's containers, shared by every
    /// driver of the account in this runtime.
    pub(crate) pk_shapes: Arc<AccountShapes>,
    /// The account's failed operations, summarised (shared like `pk_shapes`).
    pub(crate) failures: Arc<FailureLog>,
}

/// A client of one account, hosted by a [`Runtime`].
///
/// Drivers of the same account endpoint in one runtime share its registry entry,
/// location state and refresh gate: the runtime fetches the account once per tick however
/// many drivers there are, signed with a live driver's key. Cloning is cheap (the clone
/// shares this driver's registration); dropping the last clone releases it.
///
/// A driver keeps its runtime's refresh loop running, even after every `Runtime` handle
/// is dropped. After [`Runtime::shutdown`] every operation fails at once with
/// [`DriverError::Shutdown`].
#[derive(Clone)]
pub struct Driver {
    pub(crate) inner: Arc<DriverInner>,
}

impl fmt::Debug for Driver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Driver")
            .field("account", self.inner.handle.endpoint())
            .finish_non_exhaustive()
    }
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
            max_connections: DEFAULT_MAX_CONNECTIONS,
            trusted_certificates: Vec::new(),
            availability: AvailabilityStrategy::default(),
        }
    }

    /// Signs every later request — operations and the account's refreshes — with
    /// `key` (base64), in place: for key rotation. Clones of this driver share the key.
    /// The error never echoes the key. A driver built with a token credential has no key
    /// to rotate (a configuration error; its credential refreshes itself).
    pub fn rotate_key(&self, key: &str) -> Result<(), DriverError> {
        let key = MasterKey::from_base64(key)
            .map_err(|e| ConfigError::new("account key", ConfigReason::Key(e)))?;
        if !self.inner.credential.replace(key) {
            return Err(ConfigError::new(
                "account key",
                ConfigReason::Unsupported("this driver signs with a token credential"),
            )
            .into());
        }
        Ok(())
    }

    /// The runtime hosting this driver.
    pub fn runtime(&self) -> &Runtime {
        &self.inner.runtime
    }

    /// Where this driver would send a `kind` operation now: the account's current
    /// snapshot routed by this driver's preferred regions (lock-free, like every attempt).
    pub fn route(&self, kind: OperationKind) -> Endpoint {
        let request = RouteRequest {
            preferred_regions: &self.inner.preferred_regions,
            ..RouteRequest::default()
        };
        self.inner
            .handle
            .with_snapshot(|s| s.route(kind, &request).clone())
    }

    /// This driver's preferred regions, most preferred first.
    pub fn preferred_regions(&self) -> &[RegionName] {
        &self.inner.preferred_regions
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

    /// The newest session token this driver holds for a container (`x-ms-session-token`
    /// of its last write or read), if any.
    pub fn session_token(&self, db: &str, coll: &str) -> Option<String> {
        self.inner.sessions.get(&format!("dbs/{db}/colls/{coll}"))
    }
}
