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

/// One limit for every fetch and probe of a runtime, shaped so that hung work cannot
/// starve the rest:
///
/// - at most `limit` slots are held at once, whatever the work;
/// - with `limit ≥ 2`, one slot is **reserved** for urgent work of healthy accounts, so
///   an event-driven refresh is never queued behind periodic fetches or probes (or
///   behind any work of failing accounts);
/// - **suspect** work — of an account whose last fetch failed, and every probe (it
///   targets an endpoint that failed) — holds at most `max(1, limit / 2)` slots, so any
///   number of hung accounts leaves healthy accounts their schedule.
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
        }
    }

    /// Takes a slot for work of `class`, `suspect` if the account's last fetch failed
    /// (or the work is a probe), or says no.
    pub fn try_acquire(&mut self, class: SlotClass, suspect: bool) -> Option<SlotLease> {
        let reserved = class == SlotClass::Urgent && !suspect;
        let fits = self.in_flight < self.limit
            && (reserved || self.unreserved < self.limit - self.reserved)
            && (!suspect || self.suspect < self.suspect_limit);
        if !fits {
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
    fn a_huge_limit_does_not_overflow() {
        let mut slots = FetchSlots::new(usize::MAX);
        let lease = slots.try_acquire(SlotClass::Routine, true).unwrap();
        slots.release(lease);
        assert_eq!(slots.in_flight(), 0);
    }
}
