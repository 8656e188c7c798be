//! One HTTP connection pool per runtime: the driver's extension of the runtime.
//!
//! Drivers built on one [`Runtime`](crate::Runtime) with the same transport
//! settings (trusted certificates, request timeout, body cap, connection limit, idle
//! timeout) share one
//! [`HyperTransport`] — one set of connections per endpoint and one TLS configuration, its
//! root store parsed once — kept in the runtime's typed extension slot. The runtime
//! stays HTTP-agnostic: it only stores the value. A pool lives while a driver (or a
//! registration's refresh fetcher) uses it and is dropped after the last one.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use tokio::sync::{Semaphore, SemaphorePermit};

use crate::error::{ConfigError, ConfigReason};
use crate::transport::{HttpRequest, HttpResponse, HyperTransport, Transport, TransportError};

/// The default cap on a response body.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 4 * 1024 * 1024;

/// The default idle timeout of pooled connections: well below the 30 s (and longer)
/// idle timeouts of common gateways and load balancers.
pub const DEFAULT_POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(20);

/// The longest [`DriverBuilder::pool_idle_timeout`](crate::DriverBuilder::pool_idle_timeout) (one day); longer is refused at
/// [`build`](crate::DriverBuilder::build).
pub const MAX_POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(24 * 60 * 60);

/// The default bound of one shared pool: operations in flight over all endpoints, and
/// idle connections kept per endpoint.
pub const DEFAULT_MAX_CONNECTIONS: usize = 32;

/// The largest [`DriverBuilder::max_connections`](crate::DriverBuilder::max_connections): more connections than one host's
/// ephemeral ports could ever hold open is a mistake, and refused at
/// [`build`](crate::DriverBuilder::build).
pub const MAX_CONNECTIONS_LIMIT: usize = 65_536;

/// The settings that shape a transport; drivers with equal ones share it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct PoolKey {
    pub(crate) trusted_certificates: Vec<Vec<u8>>,
    pub(crate) request_timeout: Duration,
    pub(crate) max_response_bytes: usize,
    pub(crate) max_connections: usize,
    pub(crate) pool_idle_timeout: Duration,
}

impl PoolKey {
    /// Refuses settings that are zero or past their bounds (nothing here may panic later).
    pub(crate) fn check(&self) -> Result<(), ConfigError> {
        let refuse = |setting, reason| Err(ConfigError::new(setting, reason));
        if self.request_timeout.is_zero() {
            return refuse("request_timeout", ConfigReason::Zero);
        }
        if self.max_connections == 0 {
            return refuse("max_connections", ConfigReason::Zero);
        }
        if self.max_connections > MAX_CONNECTIONS_LIMIT {
            let max = MAX_CONNECTIONS_LIMIT as u64;
            return refuse("max_connections", ConfigReason::TooLarge { max });
        }
        if self.pool_idle_timeout > MAX_POOL_IDLE_TIMEOUT {
            let max = MAX_POOL_IDLE_TIMEOUT;
            return refuse("pool_idle_timeout", ConfigReason::TooLong { max });
        }
        Ok(())
    }
}

// `Semaphore::new` panics past its maximum: `PoolKey::check`, run before any pool is
// built, bounds the setting below it — proved here at compile time, not re-checked.
const _: () = assert!(MAX_CONNECTIONS_LIMIT <= Semaphore::MAX_PERMITS);

/// The runtime extension: the live pools by settings.
#[derive(Debug, Default)]
pub(crate) struct SharedTransports {
    pools: Mutex<HashMap<PoolKey, Weak<PooledTransport>>>,
}

impl SharedTransports {
    /// The pool for `key`, created on first use (and again after its last user left).
    pub(crate) fn get(&self, key: PoolKey) -> Result<Arc<PooledTransport>, String> {
        let mut pools = self.pools.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(pool) = pools.get(&key).and_then(Weak::upgrade) {
            return Ok(pool);
        }
        pools.retain(|_, pool| pool.strong_count() > 0);
        let pool = Arc::new(PooledTransport {
            inner: HyperTransport::new(
                &key.trusted_certificates,
                key.request_timeout,
                key.max_response_bytes,
                key.pool_idle_timeout,
                key.max_connections,
            )?,
            permits: Semaphore::new(key.max_connections),
            timeout: key.request_timeout,
        });
        pools.insert(key, Arc::downgrade(&pool));
        Ok(pool)
    }
}

/// A shared transport with a bound on operations in flight, so on connections open: an
/// operation's request waits (within its timeout) for one of `max_connections` permits
/// (refresh fetches and probes take none: [`send_refresh`](Self::send_refresh)), and the pool
/// keeps at most `max_connections` idle connections per endpoint (one coming back to a
/// full pool — the refresh fetches' connections are over the bound — is closed).
pub(crate) struct PooledTransport {
    inner: HyperTransport,
    permits: Semaphore,
    timeout: Duration,
}

impl PooledTransport {
    /// Waits (within the request timeout) for one of the pool's `max_connections` slots.
    /// Callers build and sign their request only once admitted, so a thousand queued
    /// operations hold a slot wait each, not a thousand built requests.
    pub(crate) async fn admit(&self) -> Result<Admission<'_>, TransportError> {
        // A free slot is taken without arming the timeout (no clock read, no timer).
        if let Some(admission) = self.try_admit() {
            return Ok(admission);
        }
        match tokio::time::timeout(self.timeout, self.permits.acquire()).await {
            Ok(Ok(permit)) => Ok(Admission { _permit: permit }),
            // Every connection stayed busy for a whole request timeout (the semaphore is
            // never closed).
            _ => Err(TransportError::Timeout(self.timeout)),
        }
    }

    /// A free slot, if one is free now (no wait, no timer). Never ahead of operations
    /// already queued: a released slot goes to the first waiter, not to the pool.
    pub(crate) fn try_admit(&self) -> Option<Admission<'_>> {
        let permit = self.permits.try_acquire().ok()?;
        Some(Admission { _permit: permit })
    }

    /// Sends `request` on the slot `admission` holds; the slot is free again when the
    /// response (body included) is in, the request failed, or the future is dropped
    /// (a hedge's loser, a deadline).
    ///
    /// Not an `async fn`: the request moves into the transport's future at once, so the
    /// future returned holds that future's box and the slot, not a copy of the request.
    pub(crate) fn send<'a>(
        &'a self,
        admission: Admission<'a>,
        request: HttpRequest,
    ) -> impl Future<Output = Result<HttpResponse, TransportError>> + Send + 'a {
        let response = self.inner.send(request);
        async move {
            let response = response.await;
            drop(admission);
            response
        }
    }
}

impl PooledTransport {
    /// Sends a refresh fetch or probe without a slot. The runtime bounds those on its own
    /// (at most its `concurrency` in flight), so the pool's connections are at most
    /// `max_connections` for operations plus the runtime's fetches; a refresh never
    /// queues behind the operations it would reroute.
    pub(crate) async fn send_refresh(
        &self,
        request: HttpRequest,
    ) -> Result<HttpResponse, TransportError> {
        self.inner.send(request).await
    }
}

/// One of a pool's slots, held while a request is in flight.
pub(crate) struct Admission<'a> {
    _permit: SemaphorePermit<'a>,
}
