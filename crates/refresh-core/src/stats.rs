//! Per-account refresh counters.

use std::time::Instant;

/// What one account's [`RefreshGate`](crate::RefreshGate) has seen, as a plain copy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RefreshStats {
    /// Fetches started (event-driven and periodic).
    pub attempts: u64,
    /// Fetches that succeeded.
    pub successes: u64,
    /// Fetches that failed, timed out or were cancelled.
    pub failures: u64,
    /// Triggers that joined a fetch already in flight instead of starting one.
    pub joined: u64,
    /// Triggers refused by the rate limit or the failure backoff.
    pub throttled: u64,
    /// Failure signals that started nothing because a fetch had started since the failed
    /// request was routed (its result already stands).
    pub superseded: u64,
    /// Successful fetches whose document changed nothing.
    pub unchanged: u64,
    /// When the last successful fetch completed.
    pub last_success: Option<Instant>,
}
