//! The ticket of one flight: the right (and duty) to report how it ended.

use std::fmt;
use std::sync::Weak;
use std::time::Instant;

use super::{FlightId, TriggerKind};

/// How a flight ended, as its ticket reports it.
#[derive(Debug, Clone, Copy)]
pub(super) enum Completion {
    /// A document was fetched and changed the topology (or nobody said otherwise).
    Changed,
    /// A document was fetched and equalled the installed one.
    Unchanged,
    /// The fetch failed; the jitter shortens the backoff.
    Failed(f64),
}

/// Type-erased completion, so a [`Ticket`] need not name the waiter type's bounds.
pub(super) trait Complete: Send + Sync {
    fn complete(&self, flight: FlightId, kind: TriggerKind, now: Instant, outcome: Completion);
}

/// The right (and duty) to run one fetch. Report its end with [`succeed`](Self::succeed)
/// or [`fail`](Self::fail); dropping it unreported counts as a failure at the instant
/// the flight started (a cancelled fetch), so the gate is never left stuck.
#[must_use = "a dropped ticket counts as a failed fetch"]
pub struct Ticket {
    pub(super) gate: Weak<dyn Complete>,
    pub(super) flight: FlightId,
    pub(super) kind: TriggerKind,
    pub(super) started: Instant,
    pub(super) done: bool,
}

impl Ticket {
    /// The flight this ticket runs.
    pub fn flight(&self) -> FlightId {
        self.flight
    }

    /// Whether the flight was started by an event or the periodic tick.
    pub fn kind(&self) -> TriggerKind {
        self.kind
    }

    /// When the flight started.
    pub fn started(&self) -> Instant {
        self.started
    }

    /// The fetch succeeded at `now` and changed the topology: opens a new
    /// `min_interval` window for explicit triggers; signals stay free to start.
    pub fn succeed(mut self, now: Instant) {
        self.finish(now, Completion::Changed);
    }

    /// The fetch succeeded at `now` but its document equalled the installed one. After a
    /// signal-driven flight this also holds further signals for `min_interval`: fetches
    /// that learn nothing are what the rate limit exists to stop.
    pub fn succeed_unchanged(mut self, now: Instant) {
        self.finish(now, Completion::Unchanged);
    }

    /// The fetch failed at `now`; `jitter` in `[0, 1]` shortens the backoff (see
    /// [`Backoff::delay`](crate::Backoff::delay)).
    pub fn fail(mut self, now: Instant, jitter: f64) {
        self.finish(now, Completion::Failed(jitter));
    }

    fn finish(&mut self, now: Instant, outcome: Completion) {
        self.done = true;
        if let Some(gate) = self.gate.upgrade() {
            gate.complete(self.flight, self.kind, now, outcome);
        }
    }
}

impl fmt::Debug for Ticket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ticket")
            .field("flight", &self.flight)
            .field("kind", &self.kind)
            .finish()
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if !self.done {
            let started = self.started;
            self.finish(started, Completion::Failed(0.0));
        }
    }
}
