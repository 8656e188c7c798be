//! Queries in evaluation: turns to evaluate (about one per core, so concurrent queries
//! cannot take every blocking thread), how many run now, and a test hook that holds them
//! inside their evaluation (after their snapshot is taken) so a test can show what
//! proceeds meanwhile.

use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::api_error::ApiError;
use crate::lock::lock;

/// The longest a held query waits before it runs anyway (a test that forgets to resume
/// cannot wedge a thread for good).
const MAX_HOLD: Duration = Duration::from_secs(60);

/// The queries evaluating now, and whether new ones are held.
#[derive(Debug)]
pub(crate) struct QueryGate {
    /// Turns to evaluate: a query waits for one before it takes a blocking thread.
    turns: Arc<Semaphore>,
    /// Whether queries are held: read without a lock by every query, so the mutex and
    /// condvar below are taken only while the test hook is in use.
    holding: AtomicBool,
    held: Mutex<bool>,
    resumed: Condvar,
    running: AtomicUsize,
}

impl Default for QueryGate {
    fn default() -> Self {
        Self::new(evaluation_turns())
    }
}

/// How many queries may evaluate at once: the available parallelism, at least 2.
fn evaluation_turns() -> usize {
    std::thread::available_parallelism()
        .map_or(2, NonZeroUsize::get)
        .max(2)
}

/// One query in evaluation; dropping it ends it.
#[derive(Debug)]
pub(crate) struct Running<'a>(&'a QueryGate);

impl QueryGate {
    pub(crate) fn new(turns: usize) -> Self {
        Self {
            turns: Arc::new(Semaphore::new(turns)),
            holding: AtomicBool::new(false),
            held: Mutex::new(false),
            resumed: Condvar::new(),
            running: AtomicUsize::new(0),
        }
    }

    /// Waits for a turn to evaluate; the query holds it until its evaluation ends.
    pub(crate) async fn turn(&self) -> Result<OwnedSemaphorePermit, ApiError> {
        // The semaphore is never closed; should it be, the query is refused, not run.
        Arc::clone(&self.turns)
            .acquire_owned()
            .await
            .map_err(|_| ApiError::new(503, "ServiceUnavailable", "queries are not served now"))
    }

    /// A query starts evaluating (on a blocking thread): counted, then held while the gate
    /// is closed.
    pub(crate) fn enter(&self) -> Running<'_> {
        self.running.fetch_add(1, Ordering::AcqRel);
        if !self.holding.load(Ordering::Acquire) {
            return Running(self);
        }
        let held = lock(&self.held);
        let _ = self
            .resumed
            .wait_timeout_while(held, MAX_HOLD, |held| *held);
        Running(self)
    }

    pub(crate) fn hold(&self, held: bool) {
        self.holding.store(held, Ordering::Release);
        *lock(&self.held) = held;
        self.resumed.notify_all();
    }

    pub(crate) fn running(&self) -> usize {
        self.running.load(Ordering::Acquire)
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.running.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A test hook from [`Emulator::hold_queries`](crate::Emulator::hold_queries): while it
/// lives, queries stop inside their evaluation (their snapshot taken, no lock held);
/// dropping it lets them finish.
#[derive(Debug)]
#[must_use = "queries are released when this is dropped"]
pub struct QueryHold {
    pub(crate) gate: std::sync::Arc<QueryGate>,
}

impl Drop for QueryHold {
    fn drop(&mut self) {
        self.gate.hold(false);
    }
}

#[cfg(test)]
mod tests {
    use futures_util::FutureExt;

    use super::QueryGate;

    #[tokio::test]
    async fn only_so_many_queries_evaluate_at_once() {
        let gate = QueryGate::new(2);
        let first = gate.turn().await.unwrap();
        let _second = gate.turn().await.unwrap();
        assert!(gate.turn().now_or_never().is_none(), "a third waits");
        drop(first);
        assert!(gate.turn().now_or_never().is_some(), "its turn came");
    }
}
