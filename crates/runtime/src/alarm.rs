//! When the next unavailability mark expires, so the loop probes it then, not at its next
//! probe round: failback follows the mark's TTL, whatever `probe_interval` says.

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use tokio::sync::Notify;

/// The earliest instant a mark expires (as far as the runtime was told), and a wake-up for
/// the loop when that moves earlier.
#[derive(Debug, Default)]
pub(crate) struct ProbeAlarm {
    earliest: Mutex<Option<Instant>>,
    moved: Notify,
}

impl ProbeAlarm {
    /// A mark expires at `at`: ring then, if that is earlier than what is set.
    pub(crate) fn arm(&self, at: Instant) {
        let mut earliest = self.lock();
        if earliest.is_none_or(|current| at < current) {
            *earliest = Some(at);
            // One waiter (the loop); a permit is kept if it is not waiting right now.
            self.moved.notify_one();
        }
    }

    /// When the alarm rings next, if it is set.
    pub(crate) fn next(&self) -> Option<Instant> {
        *self.lock()
    }

    /// Whether the alarm is due at `now`; a due alarm is cleared (the probes it queues
    /// re-arm it for marks that stay).
    pub(crate) fn take_due(&self, now: Instant) -> bool {
        let mut earliest = self.lock();
        if earliest.is_some_and(|at| at <= now) {
            *earliest = None;
            true
        } else {
            false
        }
    }

    /// Resolves when the alarm was moved earlier.
    pub(crate) async fn moved(&self) {
        self.moved.notified().await;
    }

    fn lock(&self) -> MutexGuard<'_, Option<Instant>> {
        // Setting an `Option` cannot panic half-way; a poisoned lock is still consistent.
        self.earliest.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
