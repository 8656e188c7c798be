//! The runtime-wide fetch limit with waiting: refresh-core's [`FetchSlots`] behind a lock,
//! and a wake-up whenever a slot is handed back.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use meridian_refresh_core::{FetchSlots, SlotClass, SlotLease};
use tokio::sync::Notify;
use tokio::sync::futures::Notified;

/// Every fetch and probe of a runtime holds one of these slots while it runs.
#[derive(Debug)]
pub(crate) struct Slots {
    table: Mutex<FetchSlots>,
    released: Notify,
}

/// A held slot; dropping it hands the slot back and wakes whoever waits for one.
#[derive(Debug)]
pub(crate) struct SlotGuard {
    slots: Arc<Slots>,
    lease: Option<SlotLease>,
}

impl Slots {
    pub(crate) fn new(limit: usize) -> Arc<Self> {
        Arc::new(Self {
            table: Mutex::new(FetchSlots::new(limit)),
            released: Notify::new(),
        })
    }

    /// A slot now, or `None`.
    pub(crate) fn try_acquire(
        self: &Arc<Self>,
        class: SlotClass,
        suspect: bool,
    ) -> Option<SlotGuard> {
        let lease = self.lock().try_acquire(class, suspect)?;
        Some(SlotGuard {
            slots: Arc::clone(self),
            lease: Some(lease),
        })
    }

    /// A slot, waiting for one to be handed back if none is free. The wait ends because
    /// every holder is bounded by the fetch timeout.
    pub(crate) async fn acquire(self: &Arc<Self>, class: SlotClass, suspect: bool) -> SlotGuard {
        loop {
            let released = self.released();
            tokio::pin!(released);
            // Registered before the check, so a slot freed in between is not missed.
            released.as_mut().enable();
            if let Some(guard) = self.try_acquire(class, suspect) {
                return guard;
            }
            released.await;
        }
    }

    /// Resolves the next time a slot is handed back (create it before checking).
    pub(crate) fn released(&self) -> Notified<'_> {
        self.released.notified()
    }

    /// Slots held now.
    pub(crate) fn in_flight(&self) -> usize {
        self.lock().in_flight()
    }

    fn lock(&self) -> MutexGuard<'_, FetchSlots> {
        // The table's methods cannot panic half-way; a poisoned lock is still consistent.
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for SlotGuard {
    fn drop(&mut self) {
        if let Some(lease) = self.lease.take() {
            self.slots.lock().release(lease);
            self.slots.released.notify_waiters();
        }
    }
}
