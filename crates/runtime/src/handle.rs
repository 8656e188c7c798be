//! What a driver holds: one registration of one account.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use meridian_location_store::{
    Action, Effect, Endpoint, GiveUpReason, Next, OperationOutcome, RetryClass, RetryState,
    RetryTarget, RoutingSnapshot, classify,
};
use meridian_refresh_core::{FetchEpoch, Registration, SignalKind};

use crate::account::{AccountState, Triggered, now};
use crate::fetcher::AccountFetcher;
use crate::flight::{FlightResult, Waiter, wait};
use crate::shared::Registry;
use crate::stats::AccountStats;
use crate::tasks::Tasks;

/// What [`AccountHandle::request_refresh`] did.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum RefreshOutcome {
    /// This call started a fetch and waited for it.
    Started(FlightResult),
    /// A fetch was already in flight; this call waited for it.
    Joined(FlightResult),
    /// Refused by the rate limit or the failure backoff; the current topology stands.
    Throttled {
        /// When a refresh may next start.
        until: Instant,
    },
}

impl RefreshOutcome {
    /// Whether the fetch this call started or joined succeeded (its document is in force,
    /// whether or not it changed the topology).
    pub fn fetched(&self) -> bool {
        matches!(
            self,
            Self::Started(FlightResult::Refreshed { .. })
                | Self::Joined(FlightResult::Refreshed { .. })
        )
    }
}

/// What one attempt was routed on, read just before it is sent and handed back with its
/// outcome to [`AccountHandle::report`]: the topology generation it used and how many
/// refreshes had started. Copy, two words, no allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoutedOn {
    topology_generation: u64,
    epoch: FetchEpoch,
}

impl RoutedOn {
    /// The topology generation the attempt was routed on.
    pub fn topology_generation(&self) -> u64 {
        self.topology_generation
    }
}

/// What to wait for before a retry (see [`AccountHandle::await_refresh`]).
#[derive(Debug, Clone)]
pub struct RefreshWait(WaitFor);

#[derive(Debug, Clone)]
enum WaitFor {
    Nothing,
    Flight(Waiter),
    /// The backend moved but the gate holds signals until then: wait, then refresh —
    /// unless a newer topology was installed, or a fetch started, since the attempt was
    /// routed (that one answers it).
    Until(Instant, RoutedOn),
}

impl RefreshWait {
    /// Whether there is anything to wait for.
    pub fn is_needed(&self) -> bool {
        !matches!(self.0, WaitFor::Nothing)
    }
}

/// What the caller of an operation should do after one attempt:
/// [`AccountHandle::report`]'s answer.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Verdict {
    /// The attempt's response is the answer.
    Done,
    /// Stop: retrying is wrong (auth, a client error, a write that may have applied).
    GiveUp(GiveUpReason),
    /// Stop: the retry class's budget is spent.
    Exhausted(RetryClass),
    /// Retry at `target`, after `refresh` (if needed) and then `delay` minus the time the
    /// refresh took.
    Retry {
        /// Where.
        target: RetryTarget,
        /// The backoff before the retry.
        delay: Duration,
        /// A refresh to wait for first, so the retry routes on a topology at least as new
        /// as one fetched after the failure.
        refresh: RefreshWait,
    },
}

/// One registration of an account in a [`Runtime`](crate::Runtime).
///
/// Every handle of one account shares its location store, refresh gate and stats; the
/// account stays in the refresh loop while any handle lives. Cloning registers again;
/// dropping deregisters exactly this registration, even after the runtime is gone.
pub struct AccountHandle {
    pub(crate) state: Arc<AccountState>,
    pub(crate) registration: Registration<Endpoint>,
    pub(crate) registry: Registry,
    pub(crate) tasks: Tasks,
    /// This registration's credential (its subscriber in the registry).
    pub(crate) fetcher: Arc<dyn AccountFetcher>,
}

impl AccountHandle {
    /// The account endpoint.
    pub fn endpoint(&self) -> &Endpoint {
        &self.state.spec.endpoint
    }

    /// The current routing snapshot (lock-free).
    pub fn snapshot(&self) -> Arc<RoutingSnapshot> {
        self.state.store.snapshot()
    }

    /// Runs `f` on the current snapshot without cloning its `Arc` (the cheapest read).
    pub fn with_snapshot<R>(&self, f: impl FnOnce(&RoutingSnapshot) -> R) -> R {
        self.state.store.with_snapshot(f)
    }

    /// What an attempt routed with `snapshot` is routed on. Read it before sending
    /// (one atomic load; no lock, no allocation).
    pub fn routed_on(&self, snapshot: &RoutingSnapshot) -> RoutedOn {
        RoutedOn {
            topology_generation: snapshot.topology_generation(),
            epoch: self.state.gate.epoch(),
        }
    }

    /// Reports one attempt's outcome at `endpoint` and says what to do next — the one
    /// call of an operation's retry loop.
    ///
    /// The outcome is classified ([`classify`]); a mark is set if the endpoint is one the
    /// installed topology lists; `retries` spends its budget. A failure signal (403/3,
    /// 403/1008, a transport failure) then asks for a refresh, unless the topology in
    /// force is already newer than the one the attempt used (retry on it at once):
    /// a refresh is started at once if none has started since the attempt was routed —
    /// even right after another refresh — or joined if running; signals after a refresh
    /// that learned nothing wait for `event_min_interval`. A storm of failures costs one
    /// fetch.
    pub fn report(
        &self,
        endpoint: &Endpoint,
        outcome: &OperationOutcome,
        routed: RoutedOn,
        retries: &mut RetryState,
    ) -> Verdict {
        self.apply(endpoint, classify(outcome), routed, retries)
    }

    /// The second half of [`report`](Self::report): applies `effect` (mark, refresh)
    /// and spends `retries`.
    pub(crate) fn apply(
        &self,
        endpoint: &Endpoint,
        effect: Effect,
        routed: RoutedOn,
        retries: &mut RetryState,
    ) -> Verdict {
        // Only a failure can mark; the event is for an endpoint that had no mark.
        let unmarked = effect.mark.is_some() && self.state.store.marks_of(endpoint) == (None, None);
        let marked_at = now();
        if self.state.store.apply_mark(endpoint, &effect, marked_at) {
            self.state.arm_alarm(endpoint);
            if unmarked {
                self.state.events.marked(endpoint);
            }
        }
        let refresh = if effect.refresh {
            self.signal(routed, backend_moved(&effect.action))
        } else {
            RefreshWait(WaitFor::Nothing)
        };
        match retries.next(&effect.action, fastrand::f64()) {
            Next::Done => Verdict::Done,
            Next::GiveUp(reason) => Verdict::GiveUp(reason),
            Next::Exhausted(class) => Verdict::Exhausted(class),
            Next::Retry { target, delay } => Verdict::Retry {
                target,
                delay,
                refresh,
            },
        }
    }

    fn signal(&self, routed: RoutedOn, backend_moved: bool) -> RefreshWait {
        let installed = self.with_snapshot(RoutingSnapshot::topology_generation);
        if installed > routed.topology_generation {
            return RefreshWait(WaitFor::Nothing);
        }
        let kind = if backend_moved {
            SignalKind::BackendMoved
        } else {
            SignalKind::RegionFailure
        };
        RefreshWait(
            match self
                .state
                .signal(&self.tasks, &self.registry, routed.epoch, kind)
            {
                Triggered::Started(waiter) | Triggered::Joined(waiter) => WaitFor::Flight(waiter),
                // Only a moved backend is worth waiting for: the same region would refuse
                // the retry again. Other failures retry elsewhere at once.
                Triggered::Throttled { until } if backend_moved => WaitFor::Until(until, routed),
                Triggered::Throttled { .. } | Triggered::Superseded => WaitFor::Nothing,
            },
        )
    }

    /// Waits as `wait` says, never past `deadline`: for the refresh the report started
    /// or joined; or, when the rate limit held the signal, until it opens (only if that
    /// is before `deadline`) and then for a refresh. Returns the refresh's result, if
    /// one was awaited.
    pub async fn await_refresh(
        &self,
        wait_for: RefreshWait,
        deadline: Option<tokio::time::Instant>,
    ) -> Option<FlightResult> {
        let bounded = async {
            match wait_for.0 {
                WaitFor::Nothing => None,
                WaitFor::Flight(waiter) => Some(wait(waiter).await),
                WaitFor::Until(until, routed) => {
                    let until = tokio::time::Instant::from_std(until);
                    if deadline.is_some_and(|deadline| until > deadline) {
                        return None;
                    }
                    tokio::time::sleep_until(until).await;
                    let installed = self.with_snapshot(RoutingSnapshot::topology_generation);
                    if installed > routed.topology_generation {
                        return None;
                    }
                    // Only a moved backend waits for the window (see `signal`). Signalled
                    // as of the attempt's routing: a fetch started since answers it, and a
                    // fetch that would learn nothing new never re-arms the window.
                    match self.state.signal(
                        &self.tasks,
                        &self.registry,
                        routed.epoch,
                        SignalKind::BackendMoved,
                    ) {
                        Triggered::Started(waiter) | Triggered::Joined(waiter) => {
                            Some(wait(waiter).await)
                        }
                        _ => None,
                    }
                }
            }
        };
        match deadline {
            Some(deadline) => tokio::time::timeout_at(deadline, bounded)
                .await
                .ok()
                .flatten(),
            None => bounded.await,
        }
    }

    /// "Refresh now": starts a fetch, joins the one in flight, or is throttled by the
    /// window after the last success, and says which. Started and joined calls return
    /// once the fetch has installed its result, so the caller proceeds on the new
    /// topology, never the stale one.
    pub async fn request_refresh(&self) -> RefreshOutcome {
        match self.state.trigger(&self.tasks, &self.registry) {
            Triggered::Started(waiter) => RefreshOutcome::Started(wait(waiter).await),
            Triggered::Joined(waiter) => RefreshOutcome::Joined(wait(waiter).await),
            Triggered::Throttled { until } => RefreshOutcome::Throttled { until },
            Triggered::Superseded => RefreshOutcome::Throttled { until: now() },
        }
    }

    /// This account's counters.
    pub fn stats(&self) -> AccountStats {
        account_stats(
            &self.state,
            self.registry.subscribers(self.endpoint()).len(),
        )
    }

    /// Whether the runtime was shut down (or dropped): no refresh will come any more.
    pub fn is_shut_down(&self) -> bool {
        self.tasks.is_stopping()
    }

    /// This handle's registration id (unique and increasing within the runtime).
    pub fn registration_id(&self) -> u64 {
        self.registration.id().get()
    }
}

fn backend_moved(action: &Action) -> bool {
    matches!(
        action,
        Action::Retry {
            class: RetryClass::BackendFailover,
            ..
        }
    )
}

pub(crate) fn account_stats(state: &AccountState, handles: usize) -> AccountStats {
    let snapshot = state.store.snapshot();
    let counters = &state.counters;
    AccountStats {
        endpoint: state.spec.endpoint.clone(),
        handles,
        refresh: state.gate.stats(),
        topology_generation: snapshot.topology_generation(),
        marked_endpoints: state.store.marked_count(),
        probes: counters.probes.load(Ordering::Relaxed),
        probe_failures: counters.probe_failures.load(Ordering::Relaxed),
        fallback_fetches: counters.fallback_fetches.load(Ordering::Relaxed),
        skipped_busy: counters.skipped_busy.load(Ordering::Relaxed),
        fetcher_panics: counters.panics.load(Ordering::Relaxed),
        credential_fallbacks: counters.credential_fallbacks.load(Ordering::Relaxed),
        partitions: state.partitions.stats(),
    }
}

impl Clone for AccountHandle {
    /// Registers again: the clone is a second, independent registration of the account.
    fn clone(&self) -> Self {
        let (registration, state) =
            self.registry
                .register_with(self.endpoint().clone(), Arc::clone(&self.fetcher), |_| {
                    Arc::clone(&self.state)
                });
        Self {
            state,
            registration,
            registry: self.registry.clone(),
            tasks: self.tasks.clone(),
            fetcher: Arc::clone(&self.fetcher),
        }
    }
}

impl fmt::Debug for AccountHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccountHandle")
            .field("endpoint", self.endpoint())
            .field("registration", &self.registration.id())
            .finish_non_exhaustive()
    }
}
