//! Plain snapshots of what the runtime and its accounts have done.

use meridian_location_store::Endpoint;
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
    /// Documents installed so far.
    pub topology_generation: u64,
    /// Endpoints currently marked unavailable.
    pub marked_endpoints: usize,
    /// Probes of expired marks performed.
    pub probes: u64,
    /// Probes that failed.
    pub probe_failures: u64,
    /// Fetches sent to a regional or bootstrap endpoint after the account endpoint failed.
    pub fallback_fetches: u64,
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
    /// Runtime tasks alive (the loop and in-flight event-driven fetches).
    pub live_tasks: usize,
}
