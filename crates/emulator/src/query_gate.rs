//! Queries in evaluation: how many run now, and a test hook that holds them inside their
//! evaluation (after their snapshot is taken) so a test can show what proceeds meanwhile.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use crate::state::lock;

/// The longest a held query waits before it runs anyway (a test that forgets to resume
/// cannot wedge a thread for good).
const MAX_HOLD: Duration = Duration::from_secs(60);

/// The queries evaluating now, and whether new ones are held.
#[derive(Debug, Default)]
pub(crate) struct QueryGate {
    held: Mutex<bool>,
    resumed: Condvar,
    running: AtomicUsize,
}

/// One query in evaluation; dropping it ends it.
#[derive(Debug)]
pub(crate) struct Running<'a>(&'a QueryGate);

impl QueryGate {
    /// A query starts evaluating (on a blocking thread): counted, then held while the gate
    /// is closed.
    pub(crate) fn enter(&self) -> Running<'_> {
        self.running.fetch_add(1, Ordering::AcqRel);
        let held = lock(&self.held);
        let _ = self
            .resumed
            .wait_timeout_while(held, MAX_HOLD, |held| *held);
        Running(self)
    }

    pub(crate) fn hold(&self, held: bool) {
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
