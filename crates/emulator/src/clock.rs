//! The emulator's wall clock: the system's, plus an offset a test moves forward
//! ([`crate::Emulator::advance_clock`]). `_ts`, TTL expiry and resource-token expiry read
//! it, so a test sees an item expire without waiting. Each emulator has its own.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Shared by the data store and every container (a clone shares the offset).
#[derive(Debug, Clone, Default)]
pub(crate) struct Clock {
    /// Seconds added to the system's clock.
    offset: Arc<AtomicU64>,
}

impl Clock {
    /// Seconds since the Unix epoch on this emulator's clock.
    pub(crate) fn now_secs(&self) -> u64 {
        let system = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        system.saturating_add(self.offset.load(Ordering::Relaxed))
    }

    /// Moves the clock forward by `by` (whole seconds; never backward).
    pub(crate) fn advance(&self, by: Duration) {
        let _ = self
            .offset
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |now| {
                Some(now.saturating_add(by.as_secs()))
            });
    }
}
