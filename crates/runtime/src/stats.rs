//! Plain snapshots of what the runtime and its accounts have done.

use meridian_location_store::{Endpoint, PartitionStats};
use meridian_refresh_core::RefreshStats;

/// One account's counters.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct AccountStats {
    /// The account endpoint.
    pub endpoint: Endpoint,
    /// Live handles (registrations) of this account.
    pub handles: usize,
    /// The gate's counters: attempts, successes, failures, joined, throttled.
    pub refresh: RefreshStats,
    /// Topologies installed so far: documents that changed something (an identical
    /// document re-fetched does not count).
    pub topology_generation: u64,
    /// Endpoints currently marked unavailable.
    pub marked_endpoints: usize,
    /// Probes of expired marks performed.
    pub probes: u64,
    /// Probes that failed.
    pub probe_failures: u64,
    /// Fetches sent to a regional or bootstrap endpoint after the account endpoint failed.
    pub fallback_fetches: u64,
    /// Periodic refreshes skipped because the previous one was still running or waiting
    /// for a slot (a hung account costs one fetch at a time, never a pile).
    pub skipped_busy: u64,
    /// Fetcher panics caught (each counted as a failed fetch).
    pub fetcher_panics: u64,
    /// Fetches and probes retried with another live handle's credential after a 401.
    pub credential_fallbacks: u64,
    /// Partition-level failover state: (range, region) entries, live marks, failures not
    /// tracked at the cap.
    pub partitions: PartitionStats,
}

/// The whole runtime's counters.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RuntimeStats {
    /// Every registered account.
    pub accounts: Vec<AccountStats>,
    /// Distinct registered accounts.
    pub account_count: usize,
    /// Live handles over all accounts.
    pub handle_count: usize,
    /// Periodic ticks completed.
    pub ticks: u64,
    /// How long the last completed tick took (fetching every account once).
    pub last_tick: Option<std::time::Duration>,
    /// Runtime tasks alive: the loop (which runs periodic refreshes and probes itself)
    /// and first or event-driven flights.
    pub live_tasks: usize,
}

/// Whether a runtime's refresh loop is doing its job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RuntimeHealth {
    /// The loop task is running (false before the first attach and after shutdown).
    pub loop_running: bool,
    /// Times the loop panicked and was restarted by its supervisor.
    pub loop_restarts: u64,
    /// [`shutdown`](crate::Runtime::shutdown) was called or the runtime was dropped.
    pub stopped: bool,
    /// Fetch and probe slots held now.
    pub fetches_in_flight: usize,
}

impl RuntimeHealth {
    /// Running and never restarted.
    pub fn is_healthy(&self) -> bool {
        self.loop_running && !self.stopped && self.loop_restarts == 0
    }
}
