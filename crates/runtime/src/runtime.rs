//! The runtime: the account registry, the one refresh loop, and the lifecycle.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::broadcast;

use crate::account::AccountState;
use crate::alarm::ProbeAlarm;
use crate::config::{BuildError, RuntimeConfig};
use crate::events::{EVENT_CAPACITY, RuntimeEvent};
use crate::fetcher::AccountFetcher;
use crate::flight::wait;
use crate::handle::{AccountHandle, account_stats};
use crate::refresh_loop::supervise;
use crate::shared::{Registry, Shared};
use crate::slots::Slots;
use crate::spec::AccountSpec;
use crate::stats::{RuntimeHealth, RuntimeStats};
use crate::tasks::{TaskMonitor, Tasks};

/// Why [`Runtime::attach`] refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AttachError {
    /// The runtime was shut down.
    #[error("the runtime has been shut down")]
    ShutDown,
    /// A per-account setting differs from the one the account was first attached with
    /// (an empty setting never conflicts: it takes the account's).
    #[error("`{setting}` differs from the value this account was first attached with")]
    Conflict {
        /// The setting's name.
        setting: &'static str,
    },
}

/// Hosts any number of drivers and refreshes every registered account from one
/// background task.
///
/// A cheap `Clone` handle. The loop starts on the first [`attach`](Self::attach) and
/// stops when the last clone is dropped (every task is cancelled) or on
/// [`shutdown`](Self::shutdown).
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<RuntimeInner>,
}

struct RuntimeInner {
    shared: Arc<Shared>,
    tasks: Tasks,
    loop_started: AtomicBool,
    extensions: Mutex<HashMap<TypeId, Arc<dyn Any + Send + Sync>>>,
}

impl Drop for RuntimeInner {
    fn drop(&mut self) {
        self.tasks.abort();
    }
}

/// Builds a [`Runtime`]; every setting has a default.
#[derive(Debug, Clone, Default)]
pub struct RuntimeBuilder {
    config: RuntimeConfig,
}

impl RuntimeBuilder {
    /// Periodic refresh interval (default 300 s).
    pub fn refresh_interval(mut self, interval: Duration) -> Self {
        self.config.refresh_interval = interval;
        self
    }

    /// Share of the interval each tick may be delayed by, `0.0..=0.5` (default 0.1).
    pub fn jitter_fraction(mut self, fraction: f64) -> Self {
        self.config.jitter_fraction = fraction;
        self
    }

    /// Seeds the jitter generator (default: random), for reproducible schedules.
    pub fn jitter_seed(mut self, seed: u64) -> Self {
        self.config.jitter_seed = Some(seed);
        self
    }

    /// Minimum interval between successful event-driven refreshes (default 5 s).
    pub fn event_min_interval(mut self, interval: Duration) -> Self {
        self.config.event_min_interval = interval;
        self
    }

    /// First delay after a failed fetch; doubles up to the event interval (default 100 ms).
    pub fn failure_backoff(mut self, backoff: Duration) -> Self {
        self.config.failure_backoff = backoff;
        self
    }

    /// Timeout of each fetch and probe (default 10 s).
    pub fn fetch_timeout(mut self, timeout: Duration) -> Self {
        self.config.fetch_timeout = timeout;
        self
    }

    /// Fetches and probes running at once across the whole runtime — periodic,
    /// event-driven and first fetches alike (default 8, at most
    /// [`MAX_CONCURRENCY`](crate::MAX_CONCURRENCY)). With 2 or more, one slot is kept for
    /// event-driven refreshes of healthy accounts, and failing accounts hold at most half.
    pub fn concurrency(mut self, concurrency: usize) -> Self {
        self.config.concurrency = concurrency;
        self
    }

    /// Consecutive failures of one partition key range in one region that mark the range
    /// there (the per-partition circuit breaker; default
    /// [`DEFAULT_PARTITION_FAILURE_THRESHOLD`](crate::DEFAULT_PARTITION_FAILURE_THRESHOLD),
    /// 1 to 1,000). A partition mark holds for
    /// [`first_probe_delay`](Self::first_probe_delay), doubled per re-mark, at most the
    /// unavailability TTL.
    pub fn partition_failure_threshold(mut self, failures: u32) -> Self {
        self.config.partition_failure_threshold = failures;
        self
    }

    /// The longest an endpoint stays marked before it is probed (default 60 s): the cap
    /// of the backed-off hold (see [`first_probe_delay`](Self::first_probe_delay)).
    pub fn unavailability_ttl(mut self, ttl: Duration) -> Self {
        self.config.unavailability_ttl = ttl;
        self
    }

    /// How long a fresh mark holds before its first probe (default
    /// [`DEFAULT_FIRST_PROBE_DELAY`](crate::DEFAULT_FIRST_PROBE_DELAY), 1 s; capped by
    /// the TTL): the endpoint fails back as soon as a probe succeeds. While its probes
    /// fail, it is probed every two holds. Each re-mark within one TTL of the endpoint's
    /// last failback doubles its hold (a flapping region waits longer each time); never
    /// beyond the TTL.
    pub fn first_probe_delay(mut self, delay: Duration) -> Self {
        self.config.first_probe_delay = delay;
        self
    }

    /// How often the loop probes endpoints whose marks expired (default 10 s).
    pub fn probe_interval(mut self, interval: Duration) -> Self {
        self.config.probe_interval = interval;
        self
    }

    /// How long [`Runtime::shutdown`] lets in-flight fetches finish (default 5 s).
    pub fn shutdown_grace(mut self, grace: Duration) -> Self {
        self.config.shutdown_grace = grace;
        self
    }

    /// Validates the settings and creates the runtime on the current tokio runtime.
    pub fn build(self) -> Result<Runtime, BuildError> {
        self.config.validate()?;
        let handle =
            tokio::runtime::Handle::try_current().map_err(|_| BuildError::NoTokioRuntime)?;
        Ok(Runtime {
            inner: Arc::new(RuntimeInner {
                shared: Arc::new(Shared {
                    registry: Registry::new(),
                    slots: Slots::new(self.config.concurrency),
                    alarm: Arc::new(ProbeAlarm::default()),
                    config: self.config,
                    tick_counters: Arc::default(),
                    loop_running: AtomicBool::new(false),
                    loop_restarts: AtomicU64::new(0),
                    schedule: Mutex::new(None),
                    #[cfg(feature = "fault-injection")]
                    inject_panic: AtomicBool::new(false),
                    events: broadcast::channel(EVENT_CAPACITY).0,
                }),
                tasks: Tasks::new(handle),
                loop_started: AtomicBool::new(false),
                extensions: Mutex::new(HashMap::new()),
            }),
        })
    }
}

impl Runtime {
    /// A builder with the default settings.
    pub fn builder() -> RuntimeBuilder {
        RuntimeBuilder::default()
    }

    /// Registers an account and returns a handle to it.
    ///
    /// The first attach of an endpoint creates the account's state with `spec` and
    /// performs the initial fetch; concurrent and later attaches share that state and
    /// join the initial fetch if it is still running. The spec's settings are per
    /// account: a later attach may leave them empty, but a different non-empty value is
    /// [`AttachError::Conflict`]. A failed initial fetch is not an error: the handle
    /// routes to the account endpoint until a refresh succeeds, and the stats show the
    /// failure.
    ///
    /// `fetcher` is this handle's credential: refreshes of the account are signed by the
    /// newest live handle's fetcher and, on a 401, by the other distinct ones (newest
    /// first); it leaves the set when the handle is dropped.
    pub async fn attach(
        &self,
        spec: impl Into<AccountSpec>,
        fetcher: Arc<dyn AccountFetcher>,
    ) -> Result<AccountHandle, AttachError> {
        let tasks = &self.inner.tasks;
        if tasks.is_stopping() {
            return Err(AttachError::ShutDown);
        }
        let spec = spec.into();
        let shared = &self.inner.shared;
        let requested = spec.clone();
        let (registration, state) =
            shared
                .registry
                .register_with(spec.endpoint.clone(), Arc::clone(&fetcher), |_| {
                    Arc::new(AccountState::new(
                        spec,
                        &shared.config,
                        Arc::clone(&shared.slots),
                        Arc::clone(&shared.alarm),
                        shared.events.clone(),
                    ))
                });
        if let Some(setting) = state.spec.conflict(&requested) {
            drop(registration);
            return Err(AttachError::Conflict { setting });
        }
        self.ensure_loop();
        let handle = AccountHandle {
            state,
            registration,
            registry: shared.registry.clone(),
            tasks: tasks.clone(),
            fetcher,
        };
        if handle.snapshot().topology_generation() == 0
            && let crate::account::Triggered::Started(waiter)
            | crate::account::Triggered::Joined(waiter) =
                handle.state.trigger(tasks, &handle.registry)
        {
            wait(waiter).await;
        }
        Ok(handle)
    }

    fn ensure_loop(&self) {
        if !self.inner.loop_started.swap(true, Ordering::AcqRel) {
            let shared = Arc::clone(&self.inner.shared);
            let tasks = self.inner.tasks.clone();
            self.inner.tasks.spawn(supervise(shared, tasks));
        }
    }

    /// Makes the refresh loop panic at its next wake-up, as a bug in it would, so tests
    /// see the supervisor restart it (feature `fault-injection`, for tests only).
    #[cfg(feature = "fault-injection")]
    pub fn inject_loop_panic(&self) {
        self.inner
            .shared
            .inject_panic
            .store(true, Ordering::Release);
    }

    /// Whether the refresh loop is alive, and how often it had to be restarted.
    pub fn health(&self) -> RuntimeHealth {
        let shared = &self.inner.shared;
        RuntimeHealth {
            loop_running: shared.loop_running.load(Ordering::Acquire),
            loop_restarts: shared.loop_restarts.load(Ordering::Relaxed),
            stopped: self.inner.tasks.is_stopping(),
            fetches_in_flight: shared.slots.in_flight(),
        }
    }

    /// Counters of every account and of the runtime.
    pub fn stats(&self) -> RuntimeStats {
        let shared = &self.inner.shared;
        let accounts: Vec<_> = shared
            .registry
            .snapshot()
            .into_iter()
            .map(|account| account_stats(&account.shared, account.subscribers.len()))
            .collect();
        RuntimeStats {
            account_count: accounts.len(),
            handle_count: accounts.iter().map(|a| a.handles).sum(),
            accounts,
            ticks: shared.tick_counters.ticks.load(Ordering::Relaxed),
            last_tick: self.last_tick(),
            live_tasks: self.inner.tasks.monitor().live_tasks(),
        }
    }

    /// Periodic ticks completed (cheap: one atomic load, unlike [`stats`](Self::stats)).
    pub fn ticks(&self) -> u64 {
        self.inner
            .shared
            .tick_counters
            .ticks
            .load(Ordering::Relaxed)
    }

    /// How long the last completed tick took (cheap: one atomic load).
    pub fn last_tick(&self) -> Option<Duration> {
        match self
            .inner
            .shared
            .tick_counters
            .last_tick_nanos
            .load(Ordering::Relaxed)
        {
            0 => None,
            nanos => Some(Duration::from_nanos(nanos)),
        }
    }

    /// Whether [`shutdown`](Self::shutdown) was called: the loop is stopped for good.
    pub fn is_shut_down(&self) -> bool {
        self.inner.tasks.is_stopping()
    }

    /// A value of type `T` attached to this runtime, created by `init` on first use and
    /// shared by every later call with the same `T` (one per type, for the runtime's
    /// lifetime): how a crate above the runtime keeps runtime-wide state — the driver
    /// keeps its shared HTTP connections here — without the runtime knowing about it.
    ///
    /// `init` runs without any lock held; if two first calls race, one value wins and
    /// both get it. The value is dropped with the last `Runtime` clone; it must not hold
    /// a `Runtime` itself (that would keep the runtime alive forever).
    pub fn extension<T: Any + Send + Sync>(&self, init: impl FnOnce() -> T) -> Arc<T> {
        let id = TypeId::of::<T>();
        let existing = lock(&self.inner.extensions).get(&id).cloned();
        if let Some(value) = existing.and_then(|v| v.downcast::<T>().ok()) {
            return value;
        }
        let fresh = Arc::new(init());
        let erased: Arc<dyn Any + Send + Sync> = Arc::clone(&fresh) as _;
        let value = Arc::clone(lock(&self.inner.extensions).entry(id).or_insert(erased));
        // Entries are only ever inserted under their own type's id, so this never fails.
        value.downcast::<T>().unwrap_or(fresh)
    }

    /// Subscribes to the events of every account of this runtime (topology changes,
    /// endpoints marked and unmarked, failed refreshes, probe results), from now on.
    /// See [`RuntimeEvent`]; a receiver more than [`EVENT_CAPACITY`] events behind
    /// lags (`RecvError::Lagged`) rather than slowing the runtime down.
    pub fn events(&self) -> broadcast::Receiver<RuntimeEvent> {
        self.inner.shared.events.subscribe()
    }

    /// A view of the runtime's tasks that stays valid after the runtime is dropped.
    pub fn task_monitor(&self) -> TaskMonitor {
        self.inner.tasks.monitor()
    }

    /// The settings.
    pub fn config(&self) -> &RuntimeConfig {
        &self.inner.shared.config
    }

    /// Stops the loop, refuses new attaches and event-driven fetches, lets fetches in
    /// flight finish for up to the shutdown grace, then cancels what is left and waits for
    /// it to end. Returns `true` if everything finished within the grace period.
    pub async fn shutdown(&self) -> bool {
        let tasks = &self.inner.tasks;
        tasks.stop();
        let monitor = tasks.monitor();
        let graceful = monitor.wait_idle(self.config().shutdown_grace).await;
        tasks.abort();
        // Cancelled tasks end at their next poll; this wait is short and bounded.
        monitor.wait_idle(Duration::from_secs(1)).await;
        graceful
    }
}

/// Locks `mutex`; a poisoned lock still holds a consistent map (inserts cannot half-fail).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shared = &self.inner.shared;
        f.debug_struct("Runtime")
            .field("accounts", &shared.registry.account_count())
            .field("handles", &shared.registry.registration_count())
            .field("ticks", &shared.tick_counters.ticks.load(Ordering::Relaxed))
            .field("config", &shared.config)
            .finish()
    }
}
