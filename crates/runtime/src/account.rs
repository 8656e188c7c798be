//! One account's shared state in the runtime, and how it is refreshed and probed.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use meridian_location_store::{DatabaseAccount, Endpoint, LocationStore, RegionName, StoreConfig};
use meridian_refresh_core::{Decision, Ticket};

use crate::config::RuntimeConfig;
use crate::fetcher::{AccountFetcher, FetchError};
use crate::flight::{FlightReporter, FlightResult, Waiter};
use crate::tasks::Tasks;

/// What identifies an account in a runtime (its endpoint) and how it is routed.
///
/// The endpoint is the registry key: every attach with the same endpoint shares one
/// account state. Preferred regions and bootstrap endpoints come from the first attach.
#[derive(Debug, Clone)]
pub struct AccountSpec {
    pub(crate) endpoint: Endpoint,
    pub(crate) preferred_regions: Vec<RegionName>,
    pub(crate) bootstrap_endpoints: Vec<Endpoint>,
}

impl AccountSpec {
    /// The account at `endpoint` (its global endpoint).
    pub fn new(endpoint: Endpoint) -> Self {
        Self {
            endpoint,
            preferred_regions: Vec::new(),
            bootstrap_endpoints: Vec::new(),
        }
    }

    /// Preferred regions, most preferred first.
    pub fn with_preferred_regions<I, R>(mut self, regions: I) -> Self
    where
        I: IntoIterator<Item = R>,
        R: Into<RegionName>,
    {
        self.preferred_regions = regions.into_iter().map(Into::into).collect();
        self
    }

    /// Regional endpoints to fetch the account document from while no document is known
    /// and the account endpoint fails (a cold start during a global-endpoint outage).
    pub fn with_bootstrap_endpoints(
        mut self,
        endpoints: impl IntoIterator<Item = Endpoint>,
    ) -> Self {
        self.bootstrap_endpoints = endpoints.into_iter().collect();
        self
    }

    /// The account endpoint.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }
}

impl From<Endpoint> for AccountSpec {
    fn from(endpoint: Endpoint) -> Self {
        Self::new(endpoint)
    }
}

/// Counters the gate does not keep.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) probes: AtomicU64,
    pub(crate) probe_failures: AtomicU64,
    pub(crate) fallback_fetches: AtomicU64,
}

/// The state every handle of one account shares.
pub(crate) struct AccountState {
    pub(crate) spec: AccountSpec,
    pub(crate) fetcher: Arc<dyn AccountFetcher>,
    pub(crate) store: LocationStore<Waiter>,
    pub(crate) counters: Counters,
    pub(crate) fetch_timeout: Duration,
}

impl std::fmt::Debug for AccountState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountState")
            .field("endpoint", &self.spec.endpoint)
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

/// The tokio clock as a std `Instant`, so the sans-I/O core runs on the paused clock too.
pub(crate) fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

impl AccountState {
    pub(crate) fn new(
        spec: AccountSpec,
        fetcher: Arc<dyn AccountFetcher>,
        config: &RuntimeConfig,
    ) -> Self {
        let store_config = StoreConfig::default()
            .with_preferred_regions(spec.preferred_regions.iter().cloned())
            .with_unavailability_ttl(config.unavailability_ttl)
            .with_gate(config.gate());
        Self {
            store: LocationStore::new(spec.endpoint.clone(), store_config),
            spec,
            fetcher,
            counters: Counters::default(),
            fetch_timeout: config.fetch_timeout,
        }
    }

    /// An event-driven trigger: start a flight (spawned in `tasks`), join the one in
    /// flight, or be throttled.
    pub(crate) fn trigger(self: &Arc<Self>, tasks: &Tasks) -> Triggered {
        let mut reporter = None;
        match self
            .store
            .gate()
            .trigger(now(), |_| new_flight(&mut reporter))
        {
            Decision::Start(ticket) => {
                let Some((reporter, waiter)) = reporter else {
                    // The gate calls `make_waiter` exactly once per start; never taken.
                    return Triggered::Joined(crate::flight::cancelled());
                };
                let state = Arc::clone(self);
                // If the runtime is shutting down the future is dropped unstarted: the
                // ticket then releases the gate and joiners see `Cancelled`.
                tasks.spawn(async move { state.run_flight(ticket, reporter).await });
                Triggered::Started(waiter)
            }
            Decision::Join { waiter, .. } => Triggered::Joined(waiter),
            Decision::Throttled { until } => Triggered::Throttled { until },
        }
    }

    /// The periodic tick's refresh: start a flight and run it here, or let the flight
    /// already running serve this tick.
    pub(crate) async fn refresh_periodic(self: Arc<Self>) {
        let mut reporter = None;
        if let Decision::Start(ticket) = self
            .store
            .gate()
            .start_periodic(now(), |_| new_flight(&mut reporter))
        {
            if let Some((reporter, _)) = reporter {
                self.run_flight(ticket, reporter).await;
            }
        }
    }

    /// Fetches (with fallback), installs on success, reports to the gate, and tells every
    /// joiner. On failure the last good topology stays and a warning names the account.
    async fn run_flight(&self, ticket: Ticket, reporter: FlightReporter) {
        let fetched = self.fetch_with_fallback().await;
        let now = now();
        let installed = fetched.and_then(|account| Ok(self.store.install(account, now)?));
        let result = match installed {
            Ok(topology_generation) => {
                ticket.succeed(now);
                FlightResult::Refreshed {
                    topology_generation,
                }
            }
            Err(error) => {
                tracing::warn!(
                    account = %self.spec.endpoint,
                    error = %error,
                    "account refresh failed; keeping the last good topology"
                );
                ticket.fail(now, fastrand::f64());
                FlightResult::Failed(Arc::new(error))
            }
        };
        reporter.finish(result);
    }

    /// The account endpoint first; then the regional endpoints of the last good document,
    /// or, with none yet, the bootstrap endpoints. Each attempt is bounded by the fetch
    /// timeout; the error of the last attempt is returned.
    async fn fetch_with_fallback(&self) -> Result<DatabaseAccount, FetchError> {
        let primary = &self.spec.endpoint;
        let mut last_error = match self.fetch_once(primary).await {
            Ok(account) => return Ok(account),
            Err(error) => error,
        };
        let fallbacks = if self.store.account().is_some() {
            self.store.snapshot().regional_endpoints()
        } else {
            self.spec.bootstrap_endpoints.clone()
        };
        for endpoint in fallbacks.iter().filter(|e| *e != primary) {
            self.counters
                .fallback_fetches
                .fetch_add(1, Ordering::Relaxed);
            tracing::debug!(account = %primary, %endpoint, error = %last_error, "trying a regional endpoint");
            match self.fetch_once(endpoint).await {
                Ok(account) => return Ok(account),
                Err(error) => last_error = error,
            }
        }
        Err(last_error)
    }

    async fn fetch_once(&self, endpoint: &Endpoint) -> Result<DatabaseAccount, FetchError> {
        tokio::time::timeout(self.fetch_timeout, self.fetcher.fetch_account(endpoint))
            .await
            .unwrap_or(Err(FetchError::Timeout(self.fetch_timeout)))
    }

    /// Probes every endpoint whose mark expired, one at a time, each bounded by the fetch
    /// timeout, and reports the results to the store.
    pub(crate) async fn probe_due(self: Arc<Self>) {
        for endpoint in self.store.due_probes(now()) {
            self.counters.probes.fetch_add(1, Ordering::Relaxed);
            let result = tokio::time::timeout(self.fetch_timeout, self.fetcher.probe(&endpoint))
                .await
                .unwrap_or(Err(FetchError::Timeout(self.fetch_timeout)));
            if let Err(error) = &result {
                self.counters.probe_failures.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(account = %self.spec.endpoint, %endpoint, %error, "probe failed; endpoint stays demoted");
            }
            self.store.record_probe(&endpoint, result.is_ok(), now());
        }
    }
}

/// What an event-driven trigger did.
#[derive(Debug)]
pub(crate) enum Triggered {
    Started(Waiter),
    Joined(Waiter),
    Throttled { until: Instant },
}

fn new_flight(slot: &mut Option<(FlightReporter, Waiter)>) -> Waiter {
    let (reporter, waiter) = FlightReporter::new();
    *slot = Some((reporter, Arc::clone(&waiter)));
    waiter
}
