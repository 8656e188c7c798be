//! When a tick counts as done: after the last refresh it queued has finished.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::time::Instant;

/// The runtime's tick counters: ticks completed, and how long the last one took.
#[derive(Debug, Default)]
pub(crate) struct TickCounters {
    /// Periodic ticks completed.
    pub(crate) ticks: AtomicU64,
    /// Duration of the last completed tick, in nanoseconds (0 before the first).
    pub(crate) last_tick_nanos: AtomicU64,
}

/// Shared by every refresh one tick queued; the last one dropped records the tick (its
/// count and how long it took), so a tick of skipped or instant work counts at once.
pub(crate) struct TickProgress {
    counters: Arc<TickCounters>,
    started: Instant,
}

impl TickProgress {
    pub(crate) fn start(counters: Arc<TickCounters>) -> Arc<Self> {
        Arc::new(Self {
            counters,
            started: Instant::now(),
        })
    }
}

impl Drop for TickProgress {
    fn drop(&mut self) {
        let took = u64::try_from(self.started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.counters
            .last_tick_nanos
            .store(took.max(1), Ordering::Relaxed);
        self.counters.ticks.fetch_add(1, Ordering::Relaxed);
    }
}
