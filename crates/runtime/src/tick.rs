//! When a tick counts as done: after the last refresh it queued has finished.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::time::Instant;

use crate::shared::Shared;

/// Shared by every refresh one tick queued; the last one dropped records the tick (its
/// count and how long it took), so a tick of skipped or instant work counts at once.
pub(crate) struct TickProgress {
    shared: Arc<Shared>,
    started: Instant,
}

impl TickProgress {
    pub(crate) fn start(shared: Arc<Shared>) -> Arc<Self> {
        Arc::new(Self {
            shared,
            started: Instant::now(),
        })
    }
}

impl Drop for TickProgress {
    fn drop(&mut self) {
        let took = u64::try_from(self.started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.shared
            .last_tick_nanos
            .store(took.max(1), Ordering::Relaxed);
        self.shared.ticks.fetch_add(1, Ordering::Relaxed);
    }
}
