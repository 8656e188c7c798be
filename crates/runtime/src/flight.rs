//! One refresh flight's result, shared by the task that runs it and everyone who joined.

use std::sync::{Arc, OnceLock};

use tokio::sync::Notify;

use crate::fetcher::FetchError;

/// How one refresh flight ended, as seen by everyone who started or joined it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum FlightResult {
    /// A document was fetched and is in force (a new topology, or the same one again).
    Refreshed {
        /// The topology generation in force after the flight.
        topology_generation: u64,
    },
    /// Every endpoint tried failed; the last good topology stays in use.
    Failed(Arc<FetchError>),
    /// The flight was abandoned (the runtime shut down or was dropped).
    Cancelled,
}

/// The shared cell of one flight: written once, then everyone waiting is woken.
///
/// One allocation per flight, and waking costs nothing when nobody joined, which is the
/// common case for periodic flights.
#[derive(Debug, Default)]
pub(crate) struct Flight {
    result: OnceLock<FlightResult>,
    done: Notify,
}

/// What the gate hands to joiners.
pub(crate) type Waiter = Arc<Flight>;

/// The flight's write side. Dropping it without a result (the flight future was dropped)
/// records [`FlightResult::Cancelled`], so no joiner waits forever.
#[derive(Debug)]
pub(crate) struct FlightReporter(Arc<Flight>);

impl FlightReporter {
    /// A new flight: the reporter and the waiter the gate keeps for joiners.
    pub(crate) fn new() -> (Self, Waiter) {
        let flight = Arc::new(Flight::default());
        (Self(Arc::clone(&flight)), flight)
    }

    /// Records the result and wakes everyone waiting.
    pub(crate) fn finish(self, result: FlightResult) {
        let _ = self.0.result.set(result);
        self.0.done.notify_waiters();
    }
}

impl Drop for FlightReporter {
    fn drop(&mut self) {
        if self.0.result.set(FlightResult::Cancelled).is_ok() {
            self.0.done.notify_waiters();
        }
    }
}

/// A waiter whose flight already ended as cancelled.
pub(crate) fn cancelled() -> Waiter {
    let flight = Flight::default();
    let _ = flight.result.set(FlightResult::Cancelled);
    Arc::new(flight)
}

/// Waits for the flight's result.
pub(crate) async fn wait(waiter: Waiter) -> FlightResult {
    loop {
        // Created before the check: `notify_waiters` wakes every `Notified` that exists
        // when it runs, polled or not, so a result set in between is never missed.
        let notified = waiter.done.notified();
        if let Some(result) = waiter.result.get() {
            return result.clone();
        }
        notified.await;
    }
}
