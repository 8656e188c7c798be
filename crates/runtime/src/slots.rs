//! The runtime-wide fetch limit with waiting: refresh-core's [`FetchSlots`] behind a lock,
//! and a wake-up whenever a slot is handed back.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use meridian_refresh_core::{FetchSlots, SlotClass, SlotLease, UrgentWaiter};
use tokio::sync::Notify;
use tokio::sync::futures::Notified;

/// Every fetch and probe of a runtime holds one of these slots while it runs.
#[derive(Debug)]
pub(crate) struct Slots {
    table: Mutex<FetchSlots>,
    /// Woken when a slot is handed back, or urgent work stops waiting for one (so the
    /// loop re-checks routine work it held back for it).
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

    /// An urgent slot, waiting for one to be handed back if none is free. While it
    /// waits, routine work leaves it the first slot it could take and routine holders
    /// yield theirs between jobs, so the wait is one routine job at most (each bounded by
    /// the fetch timeout) unless urgent or suspect work fills the slots.
    pub(crate) async fn acquire_urgent(self: &Arc<Self>, suspect: bool) -> SlotGuard {
        if let Some(guard) = self.try_acquire(SlotClass::Urgent, suspect) {
            return guard;
        }
        let _waiting = Waiting {
            slots: self,
            waiter: Some(self.lock().wait_urgent(suspect)),
        };
        loop {
            let released = self.released();
            tokio::pin!(released);
            // Registered before the check, so a slot freed in between is not missed.
            released.as_mut().enable();
            if let Some(guard) = self.try_acquire(SlotClass::Urgent, suspect) {
                return guard;
            }
            released.await;
        }
    }

    /// Whether the holder of `guard` should hand its routine slot back before its next
    /// job: urgent work waits and could take it.
    pub(crate) fn should_yield(&self, guard: &SlotGuard) -> bool {
        guard
            .lease
            .as_ref()
            .is_some_and(|lease| self.lock().routine_should_yield(lease))
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

/// Urgent work's place in the wait; withdrawn on drop (slot taken, or the wait
/// cancelled), which wakes the loop to re-check the routine work it held back.
struct Waiting<'a> {
    slots: &'a Slots,
    waiter: Option<UrgentWaiter>,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        if let Some(waiter) = self.waiter.take() {
            self.slots.lock().stop_waiting(waiter);
            self.slots.released.notify_waiters();
        }
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
