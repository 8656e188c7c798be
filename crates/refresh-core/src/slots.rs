//! The runtime-wide fetch limit, as pure bookkeeping: who may take a slot now.

/// What kind of work asks for a fetch slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SlotClass {
    /// Someone is waiting for it: an event-driven refresh or an account's first fetch.
    Urgent,
    /// Background work: a periodic refresh or a probe round.
    Routine,
}

/// A slot held; hand it back to [`FetchSlots::release`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "a lease not released keeps its slot forever"]
pub struct SlotLease {
    reserved: bool,
    suspect: bool,
}

/// Urgent work waiting for a slot; hand it back to [`FetchSlots::stop_waiting`] when the
/// work got its slot or gave up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "a waiter never withdrawn holds routine work back forever"]
pub struct UrgentWaiter {
    suspect: bool,
}

/// One limit for every fetch and probe of a runtime, shaped so that hung work cannot
/// starve the rest:
///
/// - at most `limit` slots are held at once, whatever the work;
/// - with `limit ≥ 2`, one slot is **reserved** for urgent work of healthy accounts, so
///   an event-driven refresh is never queued behind periodic fetches or probes (or
///   behind any work of failing accounts);
/// - **suspect** work — of an account whose last fetch failed, and every probe (it
///   targets an endpoint that failed) — holds at most `max(1, limit / 2)` slots, so any
///   number of hung accounts leaves healthy accounts their schedule;
/// - urgent work that [waits](Self::wait_urgent) comes first: routine work may not take
///   a slot the waiting urgent work could take, and a routine holder between two jobs
///   [yields](Self::routine_should_yield) its slot to it — so a failing account's
///   failover refresh waits for one routine fetch at most, never for a whole queue.
///
/// ```
/// use meridian_refresh_core::{FetchSlots, SlotClass};
///
/// let mut slots = FetchSlots::new(4);
/// // Two hung accounts take the suspect share...
/// let a = slots.try_acquire(SlotClass::Routine, true).unwrap();
/// let b = slots.try_acquire(SlotClass::Routine, true).unwrap();
/// assert!(slots.try_acquire(SlotClass::Routine, true).is_none());
/// // ...a healthy periodic fetch still gets one, and the reserved slot stays free...
/// let c = slots.try_acquire(SlotClass::Routine, false).unwrap();
/// assert!(slots.try_acquire(SlotClass::Routine, false).is_none());
/// // ...for an event-driven refresh of a healthy account.
/// let d = slots.try_acquire(SlotClass::Urgent, false).unwrap();
/// assert_eq!(slots.in_flight(), 4);
/// for lease in [a, b, c, d] {
///     slots.release(lease);
/// }
/// assert_eq!(slots.in_flight(), 0);
/// ```
#[derive(Debug, Clone)]
pub struct FetchSlots {
    limit: usize,
    reserved: usize,
    suspect_limit: usize,
    in_flight: usize,
    unreserved: usize,
    suspect: usize,
    /// Urgent work waiting for a slot: `[healthy, suspect]`.
    waiting: [usize; 2],
}

impl FetchSlots {
    /// A limit of `limit` slots (at least 1).
    pub fn new(limit: usize) -> Self {
        let limit = limit.max(1);
        Self {
            limit,
            reserved: usize::from(limit >= 2),
            suspect_limit: (limit / 2).max(1),
            in_flight: 0,
            unreserved: 0,
            suspect: 0,
            waiting: [0; 2],
        }
    }

    /// Takes a slot for work of `class`, `suspect` if the account's last fetch failed
    /// (or the work is a probe), or says no.
    ///
    /// Routine work is refused a slot that urgent work [waiting](Self::wait_urgent) for one
    /// could take now.
    pub fn try_acquire(&mut self, class: SlotClass, suspect: bool) -> Option<SlotLease> {
        let reserved = class == SlotClass::Urgent && !suspect;
        if !self.fits(reserved, suspect) || (class == SlotClass::Routine && self.urgent_would_fit())
        {
            return None;
        }
        self.in_flight += 1;
        self.unreserved += usize::from(!reserved);
        self.suspect += usize::from(suspect);
        Some(SlotLease { reserved, suspect })
    }

    /// Hands a slot back.
    pub fn release(&mut self, lease: SlotLease) {
        self.in_flight = self.in_flight.saturating_sub(1);
        if !lease.reserved {
            self.unreserved = self.unreserved.saturating_sub(1);
        }
        if lease.suspect {
            self.suspect = self.suspect.saturating_sub(1);
        }
    }

    /// Urgent work (`suspect` if its account's last fetch failed) starts waiting for a
    /// slot: from now on routine work leaves it the first slot it can take.
    pub fn wait_urgent(&mut self, suspect: bool) -> UrgentWaiter {
        self.waiting[usize::from(suspect)] += 1;
        UrgentWaiter { suspect }
    }

    /// The waiting urgent work got its slot, or gave up.
    pub fn stop_waiting(&mut self, waiter: UrgentWaiter) {
        let count = &mut self.waiting[usize::from(waiter.suspect)];
        *count = count.saturating_sub(1);
    }

    /// Whether the holder of `lease`, between two pieces of routine work, should hand its
    /// slot back: waiting urgent work could take it.
    pub fn routine_should_yield(&self, lease: &SlotLease) -> bool {
        if lease.reserved {
            return false;
        }
        let mut after = self.clone();
        after.release(*lease);
        after.urgent_would_fit()
    }

    /// Whether some waiting urgent work could take a slot now.
    fn urgent_would_fit(&self) -> bool {
        (self.waiting[0] > 0 && self.fits(true, false))
            || (self.waiting[1] > 0 && self.fits(false, true))
    }

    fn fits(&self, reserved: bool, suspect: bool) -> bool {
        self.in_flight < self.limit
            && (reserved || self.unreserved < self.limit - self.reserved)
            && (!suspect || self.suspect < self.suspect_limit)
    }

    /// Slots held now.
    pub fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// The limit.
    pub fn limit(&self) -> usize {
        self.limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_limit_of_one_is_shared_by_everything() {
        let mut slots = FetchSlots::new(1);
        let lease = slots.try_acquire(SlotClass::Urgent, false).unwrap();
        assert!(slots.try_acquire(SlotClass::Urgent, false).is_none());
        assert!(slots.try_acquire(SlotClass::Routine, false).is_none());
        slots.release(lease);
        let lease = slots.try_acquire(SlotClass::Routine, true).unwrap();
        assert!(slots.try_acquire(SlotClass::Urgent, false).is_none());
        slots.release(lease);
    }

    #[test]
    fn routine_work_never_takes_the_reserved_slot() {
        let mut slots = FetchSlots::new(8);
        let held: Vec<_> = std::iter::from_fn(|| slots.try_acquire(SlotClass::Routine, false))
            .take(100)
            .collect();
        assert_eq!(held.len(), 7);
        assert!(
            slots.try_acquire(SlotClass::Urgent, true).is_none(),
            "suspect urgent is not reserved work"
        );
        assert!(slots.try_acquire(SlotClass::Urgent, false).is_some());
    }

    #[test]
    fn suspect_work_holds_at_most_half() {
        let mut slots = FetchSlots::new(8);
        let held: Vec<_> = std::iter::from_fn(|| slots.try_acquire(SlotClass::Urgent, true))
            .take(100)
            .collect();
        assert_eq!(held.len(), 4);
        assert_eq!(
            std::iter::from_fn(|| slots.try_acquire(SlotClass::Routine, false))
                .take(100)
                .count(),
            3
        );
    }

    #[test]
    fn routine_work_yields_to_waiting_urgent_work() {
        let mut slots = FetchSlots::new(4);
        let held: Vec<_> = std::iter::from_fn(|| slots.try_acquire(SlotClass::Routine, false))
            .take(100)
            .collect();
        assert_eq!(held.len(), 3);
        // A failing account's failover refresh may not take the reserved slot...
        assert!(slots.try_acquire(SlotClass::Urgent, true).is_none());
        let waiter = slots.wait_urgent(true);
        // ...so the next routine holder between two jobs hands its slot over,
        assert!(slots.routine_should_yield(&held[0]));
        slots.release(held[0]);
        // routine work may not take it back,
        assert!(slots.try_acquire(SlotClass::Routine, false).is_none());
        // and the urgent work gets it.
        let urgent = slots.try_acquire(SlotClass::Urgent, true).unwrap();
        slots.stop_waiting(waiter);
        assert!(!slots.routine_should_yield(&held[1]));
        slots.release(urgent);
        assert!(slots.try_acquire(SlotClass::Routine, false).is_some());
    }

    #[test]
    fn routine_work_keeps_its_slot_when_the_waiter_could_not_use_it() {
        let mut slots = FetchSlots::new(4);
        let suspect: Vec<_> = std::iter::from_fn(|| slots.try_acquire(SlotClass::Routine, true))
            .take(100)
            .collect();
        assert_eq!(suspect.len(), 2, "the suspect half is full");
        let healthy = slots.try_acquire(SlotClass::Routine, false).unwrap();
        let _waiter = slots.wait_urgent(true);
        // A healthy holder's slot would not let more suspect work in: it keeps it.
        assert!(!slots.routine_should_yield(&healthy));
        // A suspect holder's would.
        assert!(slots.routine_should_yield(&suspect[0]));
    }

    #[test]
    fn a_huge_limit_does_not_overflow() {
        let mut slots = FetchSlots::new(usize::MAX);
        let lease = slots.try_acquire(SlotClass::Routine, true).unwrap();
        slots.release(lease);
        assert_eq!(slots.in_flight(), 0);
    }
}
