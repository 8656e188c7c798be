//! A connection's activity, for the idle timeout on HTTP/1.1 and HTTP/2 alike: a
//! connection is idle while no request is in flight (its response body sent or dropped),
//! whatever frames arrive meanwhile — HTTP/2 PINGs and SETTINGS are not activity.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::time::Instant;

use crate::lock::lock;

/// Requests in flight on one connection and when the last one started or ended.
#[derive(Debug)]
pub(crate) struct Activity {
    in_flight: AtomicUsize,
    last: Mutex<Instant>,
}

/// One request in flight; dropping it (with the response body) ends it.
#[derive(Debug)]
pub(crate) struct Busy(Arc<Activity>);

impl Activity {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self {
            in_flight: AtomicUsize::new(0),
            last: Mutex::new(Instant::now()),
        })
    }

    /// A request starts.
    pub(crate) fn start(self: &Arc<Self>) -> Busy {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        *lock(&self.last) = Instant::now();
        Busy(Arc::clone(self))
    }

    /// Since when the connection has been idle; `None` while a request is in flight.
    pub(crate) fn idle_since(&self) -> Option<Instant> {
        let last = *lock(&self.last);
        (self.in_flight.load(Ordering::Acquire) == 0).then_some(last)
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        *lock(&self.0.last) = Instant::now();
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}
