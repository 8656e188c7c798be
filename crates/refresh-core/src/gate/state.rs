//! The gate's state behind its lock: the flight in progress, the windows, the counters.

use std::time::{Duration, Instant};

use super::FlightId;
use super::signal::{Kinds, Quiet, SignalKind};
use crate::backoff::Backoff;
use crate::stats::RefreshStats;
use crate::time::saturating_add;

pub(super) struct GateState<W> {
    pub(super) flight: Option<InFlight<W>>,
    pub(super) next_flight: u64,
    pub(super) last_success: Option<Instant>,
    pub(super) consecutive_failures: u32,
    pub(super) retry_not_before: Option<Instant>,
    /// Set per kind when a signal-driven fetch learned nothing: further signals of that
    /// kind wait until then.
    pub(super) quiet: Quiet,
    pub(super) stats: RefreshStats,
}

pub(super) struct InFlight<W> {
    pub(super) id: FlightId,
    pub(super) waiter: W,
    /// The kinds of the timely signals this flight answers (see [`Kinds`]).
    pub(super) answers: Kinds,
}

impl<W> GateState<W> {
    pub(super) fn blocked_until(&self, now: Instant, min_interval: Duration) -> Option<Instant> {
        let window = self.last_success.map(|at| saturating_add(at, min_interval));
        latest_after(now, [window, self.retry_not_before])
    }

    pub(super) fn signal_blocked_until(
        &self,
        now: Instant,
        kind: Option<SignalKind>,
    ) -> Option<Instant> {
        let quiet = kind.and_then(|kind| self.quiet.until(kind));
        latest_after(now, [quiet, self.retry_not_before])
    }

    pub(super) fn record_success(&mut self, now: Instant) {
        self.last_success = Some(now);
        self.consecutive_failures = 0;
        self.retry_not_before = None;
        self.stats.successes += 1;
        self.stats.last_success = Some(now);
    }

    pub(super) fn record_failure(&mut self, now: Instant, backoff: Backoff, jitter: f64) {
        self.consecutive_failures = self.consecutive_failures.saturating_add(1);
        let delay = backoff.delay(self.consecutive_failures, jitter);
        self.retry_not_before = Some(saturating_add(now, delay));
        self.stats.failures += 1;
    }
}

/// The latest of `instants` if it is after `now`.
fn latest_after<const N: usize>(now: Instant, instants: [Option<Instant>; N]) -> Option<Instant> {
    let until = instants.into_iter().flatten().max()?;
    (now < until).then_some(until)
}
