//! One account's shared state in the runtime, and how it is refreshed and probed.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::Poll;
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use meridian_location_store::{
    Endpoint, Installed, LocationStore, PartitionConfig, PartitionHealth, ValidatedAccount,
};
use meridian_refresh_core::{Decision, FetchEpoch, FlightId, RefreshGate, SignalKind, Ticket};
use tokio::sync::broadcast;
use tracing::Instrument;

use crate::alarm::ProbeAlarm;
use crate::config::RuntimeConfig;
use crate::credentials::{CredentialSource, Credentials};
use crate::events::{AccountEvents, RuntimeEvent};
use crate::fetcher::{FetchError, FetchFuture};
use crate::flight::{FlightReporter, FlightResult, Waiter};
use crate::route_cache::RouteCache;
use crate::slots::Slots;
use crate::spec::AccountSpec;
use crate::tasks::Tasks;

/// What the runtime counts per account beyond the gate's counters, and the two flags the
/// loop's dispatcher keeps.
#[derive(Debug, Default)]
pub(crate) struct AccountCounters {
    pub(crate) probes: AtomicU64,
    pub(crate) probe_failures: AtomicU64,
    pub(crate) fallback_fetches: AtomicU64,
    /// Periodic refreshes a tick skipped because the previous one was still running or
    /// still waiting for a slot.
    pub(crate) skipped_busy: AtomicU64,
    /// Fetcher panics caught.
    pub(crate) panics: AtomicU64,
    /// Fetches and probes retried with another handle's credential after a 401.
    pub(crate) credential_fallbacks: AtomicU64,
    /// The last completed flight failed: the account's work is "suspect" for the slots.
    pub(crate) failing: AtomicBool,
    /// A periodic refresh of this account is queued or running in the loop (never
    /// twice; held by the job, see `work::Job`).
    pub(crate) queued: AtomicBool,
    /// A probe round of this account is queued or running in the loop (never twice, so
    /// never two probes of one endpoint at once).
    pub(crate) probe_queued: AtomicBool,
}

/// The state every handle of one account shares.
pub(crate) struct AccountState {
    pub(crate) spec: AccountSpec,
    pub(crate) store: LocationStore,
    /// Partition-level failover state (circuit breaker, automatic failover), shared by
    /// every driver of the account; its marks are lifted by the one loop.
    pub(crate) partitions: PartitionHealth,
    pub(crate) gate: RefreshGate<Waiter>,
    pub(crate) counters: AccountCounters,
    pub(crate) events: AccountEvents,
    slots: Arc<Slots>,
    /// Rung when a mark this account sets expires, so the loop probes it then.
    pub(crate) alarm: Arc<ProbeAlarm>,
    fetch_timeout: Duration,
    /// The routing maps of the account's containers (one per container per runtime).
    pub(crate) routes: RouteCache,
}

impl std::fmt::Debug for AccountState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountState")
            .field("endpoint", &self.spec.endpoint)
            .field("store", &self.store)
            .field("gate", &self.gate)
            .finish_non_exhaustive()
    }
}

/// The tokio clock as a std `Instant`, so the sans-I/O core runs on the paused clock too.
pub(crate) fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

/// The most regional (or bootstrap) endpoints one flight falls back to after the account
/// endpoint failed.
pub const MAX_FALLBACK_ENDPOINTS: usize = 3;

/// What an event-driven trigger or a failure signal did.
#[derive(Debug)]
pub(crate) enum Triggered {
    Started(Waiter),
    Joined(Waiter),
    Throttled { until: Instant },
    Superseded,
}

impl AccountState {
    pub(crate) fn new(
        spec: AccountSpec,
        config: &RuntimeConfig,
        slots: Arc<Slots>,
        alarm: Arc<ProbeAlarm>,
        events: broadcast::Sender<RuntimeEvent>,
    ) -> Self {
        let store_config = spec
            .store
            .clone()
            .with_unavailability_ttl(config.unavailability_ttl)
            .with_first_probe_delay(config.first_probe_delay);
        Self {
            store: LocationStore::new(spec.endpoint.clone(), store_config),
            partitions: PartitionHealth::new(PartitionConfig {
                threshold: config.partition_failure_threshold,
                first_hold: config.first_probe_delay.min(config.unavailability_ttl),
                longest_hold: config.unavailability_ttl,
                max_entries: config.partition_max_entries,
            }),
            gate: RefreshGate::new(config.gate()),
            events: AccountEvents::new(spec.endpoint.clone(), events),
            spec,
            counters: AccountCounters::default(),
            slots,
            alarm,
            fetch_timeout: config.fetch_timeout,
            routes: RouteCache::new(config.gate(), config.fetch_timeout),
        }
    }

    /// A mark was set (or renewed) on `endpoint`: have the loop probe it when its hold
    /// ends.
    pub(crate) fn arm_alarm(&self, endpoint: &Endpoint) {
        let (read, write) = self.store.marks_of(endpoint);
        if let Some(at) = [read, write].iter().flatten().map(|m| m.expires).min() {
            self.alarm.arm(at);
        }
    }

    /// Whether this account's work counts as suspect for the slots (its last fetch failed).
    pub(crate) fn is_failing(&self) -> bool {
        self.counters.failing.load(Ordering::Relaxed)
    }

    /// An explicit "refresh now" (or the first fetch on attach).
    pub(crate) fn trigger(
        self: &Arc<Self>,
        tasks: &Tasks,
        source: &impl CredentialSource,
    ) -> Triggered {
        self.decide(tasks, source, |gate, now, make| gate.trigger(now, make))
    }

    /// A failure signal of `kind` from an operation routed at `routed`.
    pub(crate) fn signal(
        self: &Arc<Self>,
        tasks: &Tasks,
        source: &impl CredentialSource,
        routed: FetchEpoch,
        kind: SignalKind,
    ) -> Triggered {
        self.decide(tasks, source, |gate, now, make| {
            gate.signal(now, routed, kind, make)
        })
    }

    /// Asks the gate; a started flight is spawned in `tasks` and first waits for an urgent
    /// slot (the gate already shows it running, so later triggers join it).
    fn decide(
        self: &Arc<Self>,
        tasks: &Tasks,
        source: &impl CredentialSource,
        ask: impl FnOnce(
            &RefreshGate<Waiter>,
            Instant,
            &mut dyn FnMut(FlightId) -> Waiter,
        ) -> Decision<Waiter>,
    ) -> Triggered {
        let mut reporter = None;
        let mut make = |_| new_flight(&mut reporter);
        match ask(&self.gate, now(), &mut make) {
            Decision::Start(ticket) => {
                let Some((reporter, waiter)) = reporter else {
                    // The gate calls `make_waiter` exactly once per start; never taken.
                    return Triggered::Joined(crate::flight::cancelled());
                };
                let state = Arc::clone(self);
                let source = source.clone();
                // If the runtime is shutting down the future is dropped unstarted: the
                // ticket then releases the gate and joiners see `Cancelled`.
                tasks.spawn(async move {
                    let _slot = state.slots.acquire_urgent(state.is_failing()).await;
                    let credentials = source.credentials(&state.spec.endpoint);
                    drop(source);
                    if credentials.is_empty() {
                        // The last handle left while the flight waited for its slot:
                        // nobody to refresh for, and the state is gone with its entry.
                        // Nothing is fetched, logged or reported as failed; joiners, if
                        // any, see `Cancelled`.
                        drop((ticket, reporter));
                        return;
                    }
                    state.run_flight(ticket, reporter, &credentials).await;
                });
                Triggered::Started(waiter)
            }
            Decision::Join { waiter, .. } => Triggered::Joined(waiter),
            Decision::Throttled { until } => Triggered::Throttled { until },
            _ => Triggered::Superseded,
        }
    }

    /// The periodic refresh, run by the loop's worker with a routine slot held: start a
    /// flight signed with `credentials` (those of the handles alive now), or skip (and count)
    /// if a flight of this account is already running.
    pub(crate) async fn refresh_periodic(&self, credentials: &Credentials) {
        let mut reporter = None;
        match self
            .gate
            .start_periodic(now(), |_| new_flight(&mut reporter))
        {
            Decision::Start(ticket) => {
                if let Some((reporter, _)) = reporter {
                    self.run_flight(ticket, reporter, credentials).await;
                }
            }
            _ => {
                self.counters.skipped_busy.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Fetches (with fallback), installs on success, reports to the gate, and tells every
    /// joiner. On failure the last good topology stays and a warning names the account;
    /// a fetcher that panics is caught here, logged at `error`, and counts as a failure.
    async fn run_flight(
        &self,
        ticket: Ticket,
        reporter: FlightReporter,
        credentials: &Credentials,
    ) {
        let span = tracing::debug_span!("meridian.refresh", account = %self.spec.endpoint);
        let fetched = AssertUnwindSafe(self.fetch_with_fallback(credentials).instrument(span))
            .catch_unwind()
            .await
            .unwrap_or_else(|panic| Err(self.caught(panic.as_ref())));
        let now = now();
        let result = match fetched {
            Ok(account) => {
                self.counters.failing.store(false, Ordering::Relaxed);
                let write_region = account.writable().first().map(|l| l.region.clone());
                let installed = self.store.install(account, now);
                self.events.installed(write_region, installed);
                match installed {
                    Installed::Changed { .. } => ticket.succeed(now),
                    _ => ticket.succeed_unchanged(now),
                }
                FlightResult::Refreshed {
                    topology_generation: installed.topology_generation(),
                }
            }
            Err(error) => {
                self.counters.failing.store(true, Ordering::Relaxed);
                tracing::warn!(
                    account = %self.spec.endpoint,
                    error = %error,
                    "account refresh failed; keeping the last good topology"
                );
                ticket.fail(now, fastrand::f64());
                let error = Arc::new(error);
                self.events.refresh_failed(Arc::clone(&error));
                FlightResult::Failed(error)
            }
        };
        reporter.finish(result);
    }

    fn caught(&self, panic: &(dyn std::any::Any + Send)) -> FetchError {
        self.counters.panics.fetch_add(1, Ordering::Relaxed);
        let message = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        tracing::error!(account = %self.spec.endpoint, %message, "the account fetcher panicked; the runtime keeps running");
        FetchError::Panicked { message }
    }

    /// The account endpoint first; then up to [`MAX_FALLBACK_ENDPOINTS`] regional endpoints
    /// of the last good document (most preferred first), or, with none yet, of the
    /// bootstrap endpoints. Each attempt is bounded by the fetch timeout, so one flight
    /// takes at most `(1 + MAX_FALLBACK_ENDPOINTS) × fetch_timeout` whatever the document
    /// lists; the error of the last attempt is returned. A 401 with every credential is
    /// not an endpoint failure: the regional endpoints would refuse the same keys, so it is
    /// returned at once.
    async fn fetch_with_fallback(
        &self,
        credentials: &Credentials,
    ) -> Result<ValidatedAccount, FetchError> {
        let primary = &self.spec.endpoint;
        let mut last_error = match self.fetch_once(primary, credentials).await {
            Ok(account) => return Ok(account),
            Err(error @ FetchError::Status { status: 401, .. }) => return Err(error),
            Err(error) => error,
        };
        let fallbacks = if self.store.account().is_some() {
            self.store.snapshot().regional_endpoints()
        } else {
            self.spec.bootstrap_endpoints.clone()
        };
        for endpoint in fallbacks
            .iter()
            .filter(|e| *e != primary)
            .take(MAX_FALLBACK_ENDPOINTS)
        {
            self.counters
                .fallback_fetches
                .fetch_add(1, Ordering::Relaxed);
            tracing::debug!(account = %primary, %endpoint, error = %last_error, "trying a regional endpoint");
            match self.fetch_once(endpoint, credentials).await {
                Ok(account) => return Ok(account),
                Err(error) => last_error = error,
            }
        }
        Err(last_error)
    }

    /// One `GET /` at `endpoint`, signed with the newest handle's credential; on a 401,
    /// again with each other distinct credential (newest first) before it counts as a
    /// failure. Each attempt is bounded by the fetch timeout.
    async fn fetch_once(
        &self,
        endpoint: &Endpoint,
        credentials: &Credentials,
    ) -> Result<ValidatedAccount, FetchError> {
        credentials
            .try_each(&self.counters.credential_fallbacks, |fetcher| async move {
                bounded(self.fetch_timeout, fetcher.fetch_account(endpoint)).await
            })
            .await
    }

    /// Probes every endpoint whose mark expired, one at a time, each bounded by the fetch
    /// timeout, and reports the results to the store. Run by the loop with a slot held.
    pub(crate) async fn probe_due(&self, credentials: &Credentials) {
        for endpoint in self.store.due_probes(now()) {
            self.counters.probes.fetch_add(1, Ordering::Relaxed);
            let timeout = self.fetch_timeout;
            let probe = credentials.try_each(&self.counters.credential_fallbacks, |fetcher| {
                let endpoint = &endpoint;
                async move { bounded(timeout, fetcher.probe(endpoint)).await }
            });
            let result = AssertUnwindSafe(probe)
                .catch_unwind()
                .await
                .unwrap_or_else(|panic| Err(self.caught(panic.as_ref())));
            if let Err(error) = &result {
                self.counters.probe_failures.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(account = %self.spec.endpoint, %endpoint, %error, "probe failed; endpoint stays demoted");
            }
            let probed_at = now();
            self.store
                .record_probe(&endpoint, result.is_ok(), probed_at);
            let unmarked = result.is_ok() && self.store.marks_of(&endpoint) == (None, None);
            self.events.probed(&endpoint, result.is_ok(), unmarked);
        }
        // Ring for the next mark to expire — one restarted by a failed probe, one set
        // while this round ran, or one that became due after the round listed its work —
        // so every mark is probed when its own TTL ends, not at the next probe round.
        if let Some(at) = self.store.next_mark_expiry() {
            self.alarm.arm(at);
        }
    }
}

/// Runs `fetch` for at most `timeout`. A fetch that answers on its first poll (a cached or
/// local answer) never arms a timer.
async fn bounded<T>(timeout: Duration, fetch: FetchFuture<'_, T>) -> Result<T, FetchError> {
    let mut fetch = fetch;
    let first = std::future::poll_fn(|cx| Poll::Ready(fetch.as_mut().poll(cx))).await;
    match first {
        Poll::Ready(result) => result,
        Poll::Pending => tokio::time::timeout(timeout, fetch)
            .await
            .unwrap_or(Err(FetchError::Timeout(timeout))),
    }
}

fn new_flight(slot: &mut Option<(FlightReporter, Waiter)>) -> Waiter {
    let (reporter, waiter) = FlightReporter::new();
    *slot = Some((reporter, Arc::clone(&waiter)));
    waiter
}
