//! What the runtime's parts share: the account registry and the state the loop reads.
//! The public facade (`runtime.rs`) builds it; the loop and the handles read it. It holds
//! no reference back to the facade, so the loop never keeps the runtime alive.

use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use meridian_location_store::Endpoint;
use meridian_refresh_core::{AccountRegistry, Schedule};
use tokio::sync::broadcast;

use crate::account::AccountState;
use crate::alarm::ProbeAlarm;
use crate::config::RuntimeConfig;
use crate::credentials::{CredentialSource, Credentials};
use crate::events::RuntimeEvent;
use crate::fetcher::AccountFetcher;
use crate::slots::Slots;
use crate::tick::TickCounters;

/// The registry: account endpoint → shared account state, one subscriber per handle: the
/// fetcher (so the credential) it was attached with.
pub(crate) type Registry = AccountRegistry<Endpoint, Arc<dyn AccountFetcher>, Arc<AccountState>>;

/// What the loop shares with the runtime. Holds no reference back to [`Runtime`], so
/// the loop never keeps the runtime alive.
pub(crate) struct Shared {
    pub(crate) registry: Registry,
    pub(crate) config: RuntimeConfig,
    /// Ticks completed and the last one's duration.
    pub(crate) tick_counters: Arc<TickCounters>,
    /// The runtime-wide fetch slots (periodic, event-driven, first fetches, probes).
    pub(crate) slots: Arc<Slots>,
    /// Rung when the earliest unavailability mark expires.
    pub(crate) alarm: Arc<ProbeAlarm>,
    /// Whether the loop task is running now.
    pub(crate) loop_running: AtomicBool,
    /// Times the supervisor restarted the loop after it panicked.
    pub(crate) loop_restarts: AtomicU64,
    /// Where every account's [`RuntimeEvent`]s go.
    pub(crate) events: broadcast::Sender<RuntimeEvent>,
    /// The loop's schedule and its next tick, kept here so a loop restarted after a
    /// panic keeps the same ticks instead of starting a new interval.
    pub(crate) schedule: Mutex<Option<(Schedule, Instant)>>,
    /// Set by `Runtime::inject_loop_panic`: the loop panics at its next wake-up.
    #[cfg(feature = "fault-injection")]
    pub(crate) inject_panic: AtomicBool,
}

impl Shared {
    /// The schedule and next tick a previous run of the loop left, if any (the loop
    /// restarted after a panic).
    pub(crate) fn saved_schedule(&self) -> Option<(Schedule, Instant)> {
        *self.schedule.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Keeps the loop's schedule and next tick for a restart.
    pub(crate) fn save_schedule(&self, schedule: Schedule, tick_at: Instant) {
        *self.schedule.lock().unwrap_or_else(PoisonError::into_inner) = Some((schedule, tick_at));
    }
}

impl CredentialSource for Registry {
    fn credentials(&self, endpoint: &Endpoint) -> Credentials {
        Credentials::newest_first(self.subscribers(endpoint))
    }
}
