//! What a driver holds: one registration of one account.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use meridian_location_store::{Effect, Endpoint, OperationOutcome, RoutingSnapshot, classify};
use meridian_refresh_core::Registration;

use crate::account::{AccountState, Triggered, now};
use crate::flight::{FlightResult, wait};
use crate::runtime::Registry;
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
    /// Whether a new topology was installed by the fetch this call started or joined.
    pub fn refreshed(&self) -> bool {
        matches!(
            self,
            Self::Started(FlightResult::Refreshed { .. })
                | Self::Joined(FlightResult::Refreshed { .. })
        )
    }
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

    /// Reports one attempt's outcome at `endpoint`: marks it if the outcome says so and,
    /// for failure signals (403/3, 403/1008, transport errors), starts an urgent refresh
    /// through the gate in the background (or joins the one running, or is throttled).
    /// Returns the effect, whose action tells the caller to retry or stop; to wait for
    /// the refresh, call [`request_refresh`](Self::request_refresh), which joins it.
    pub fn report(&self, endpoint: &Endpoint, outcome: &OperationOutcome) -> Effect {
        let effect = classify(outcome);
        if self.state.store.apply(endpoint, &effect, now()) {
            // Fire and forget: a started flight runs in the runtime's task group.
            let _ = self.state.trigger(&self.tasks);
        }
        effect
    }

    /// "Refresh now": starts a fetch, joins the one in flight, or is throttled, and says
    /// which. Started and joined calls return once the fetch has installed its result,
    /// so the caller proceeds on the new topology, never the stale one.
    pub async fn request_refresh(&self) -> RefreshOutcome {
        match self.state.trigger(&self.tasks) {
            Triggered::Started(waiter) => RefreshOutcome::Started(wait(waiter).await),
            Triggered::Joined(waiter) => RefreshOutcome::Joined(wait(waiter).await),
            Triggered::Throttled { until } => RefreshOutcome::Throttled { until },
        }
    }

    /// This account's counters.
    pub fn stats(&self) -> AccountStats {
        account_stats(
            &self.state,
            self.registry.subscribers(self.endpoint()).len(),
        )
    }

    /// This handle's registration id (unique and increasing within the runtime).
    pub fn registration_id(&self) -> u64 {
        self.registration.id().get()
    }
}

pub(crate) fn account_stats(state: &AccountState, handles: usize) -> AccountStats {
    let snapshot = state.store.snapshot();
    AccountStats {
        endpoint: state.spec.endpoint.clone(),
        handles,
        refresh: state.store.gate().stats(),
        topology_generation: snapshot.topology_generation(),
        marked_endpoints: state.store.marked_count(),
        probes: state.counters.probes.load(Ordering::Relaxed),
        probe_failures: state.counters.probe_failures.load(Ordering::Relaxed),
        fallback_fetches: state.counters.fallback_fetches.load(Ordering::Relaxed),
    }
}

impl Clone for AccountHandle {
    /// Registers again: the clone is a second, independent registration of the account.
    fn clone(&self) -> Self {
        let (registration, state) =
            self.registry
                .register_with(self.endpoint().clone(), (), |_| Arc::clone(&self.state));
        Self {
            state,
            registration,
            registry: self.registry.clone(),
            tasks: self.tasks.clone(),
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
