//! The memory budget: bytes held for requests in flight — their bodies as they arrive,
//! the values decoded from them and the response bodies until they are sent — charged
//! against one request's limit, its connection's and the emulator's.
//!
//! A query's results are charged to its request as they are built. A request over its
//! own limit is answered 413; one that would take the connection or
//! the emulator past theirs is answered 429 with sub-status 3200 and
//! `x-ms-retry-after-ms`, the service's answer when a request does not fit the budget
//! right now but will once others finish. Charges are released when the request's last
//! holder (the request, or its response body) is dropped, so a stalled reader pins at
//! most its own page.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use serde::Serialize;

use crate::api_error::ApiError;

/// The default memory budget over every request in flight: 256 MiB.
pub const DEFAULT_MEMORY_BUDGET: usize = 256 * 1024 * 1024;
/// The most one request may hold: its body, its decoded value and its response.
pub const REQUEST_MEMORY_LIMIT: usize = 32 * 1024 * 1024;
/// The most the requests of one connection may hold together.
pub const CONNECTION_MEMORY_LIMIT: usize = 64 * 1024 * 1024;
/// Sub-status of 429 when the memory budget is exhausted (the service's "RU budget
/// exceeded", which clients retry after `x-ms-retry-after-ms`).
pub const SUB_STATUS_BUDGET_EXCEEDED: u32 = 3200;
/// The wait suggested to a client refused for lack of budget.
const RETRY_AFTER_MS: u64 = 100;

/// A snapshot of the memory budget, as `GET /_emulator/stats` reports it under `memory`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct MemoryStats {
    /// The budget over every request in flight, in bytes.
    pub limit: usize,
    /// Bytes held now.
    pub in_use: usize,
    /// The most held at once since the start or the last counter reset.
    pub peak: usize,
    /// Requests refused for lack of budget (413 and 429).
    pub refused: u64,
}

/// One pool of bytes: the emulator's or a connection's.
#[derive(Debug)]
pub(crate) struct Budget {
    limit: usize,
    in_use: AtomicUsize,
    peak: AtomicUsize,
    refused: AtomicU64,
}

impl Budget {
    pub(crate) fn new(limit: usize) -> Self {
        Self {
            limit,
            in_use: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
            refused: AtomicU64::new(0),
        }
    }

    /// Takes `bytes` if they fit under the limit.
    fn reserve(&self, bytes: usize) -> bool {
        let taken = self
            .in_use
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(bytes).filter(|total| *total <= self.limit)
            });
        match taken {
            Ok(before) => {
                self.peak.fetch_max(before + bytes, Ordering::AcqRel);
                true
            }
            Err(_) => false,
        }
    }

    fn release(&self, bytes: usize) {
        self.in_use.fetch_sub(bytes, Ordering::AcqRel);
    }

    pub(crate) fn stats(&self) -> MemoryStats {
        MemoryStats {
            limit: self.limit,
            in_use: self.in_use.load(Ordering::Acquire),
            peak: self.peak.load(Ordering::Acquire),
            refused: self.refused.load(Ordering::Acquire),
        }
    }

    /// Starts a new peak from what is held now (with the counters' reset).
    pub(crate) fn reset_peak(&self) {
        self.peak
            .store(self.in_use.load(Ordering::Acquire), Ordering::Release);
        self.refused.store(0, Ordering::Release);
    }
}

/// A connection's budget, carried to its requests in their extensions.
#[derive(Debug, Clone)]
pub(crate) struct ConnectionBudget(pub(crate) Arc<Budget>);

/// What one request holds. Shared by the request's body, its handler and its response
/// body; everything is released when the last of them is dropped.
#[derive(Debug)]
pub(crate) struct Charge {
    global: Arc<Budget>,
    connection: Option<Arc<Budget>>,
    held: AtomicUsize,
}

impl Charge {
    pub(crate) fn new(global: Arc<Budget>, connection: Option<Arc<Budget>>) -> Self {
        Self {
            global,
            connection,
            held: AtomicUsize::new(0),
        }
    }

    /// Charges `bytes` more to this request: 413 past the request's limit, 429/3200 when
    /// its connection or the emulator has no room.
    pub(crate) fn add(&self, bytes: usize) -> Result<(), ApiError> {
        let held = self.held.load(Ordering::Acquire);
        if held.saturating_add(bytes) > REQUEST_MEMORY_LIMIT {
            self.global.refused.fetch_add(1, Ordering::AcqRel);
            return Err(ApiError::too_large(format!(
                "the request would hold more than {REQUEST_MEMORY_LIMIT} bytes (body, decoded value, query results and response)"
            )));
        }
        if let Some(connection) = &self.connection
            && !connection.reserve(bytes)
        {
            return Err(self.busy("this connection's requests hold"));
        }
        if !self.global.reserve(bytes) {
            if let Some(connection) = &self.connection {
                connection.release(bytes);
            }
            return Err(self.busy("the emulator's requests hold"));
        }
        self.held.fetch_add(bytes, Ordering::AcqRel);
        Ok(())
    }

    fn busy(&self, whose: &str) -> ApiError {
        self.global.refused.fetch_add(1, Ordering::AcqRel);
        ApiError::new(
            429,
            "TooManyRequests",
            format!("{whose} all the memory they may: retry after {RETRY_AFTER_MS} ms"),
        )
        .with_sub_status(SUB_STATUS_BUDGET_EXCEEDED)
        .with_retry_after(RETRY_AFTER_MS)
    }
}

impl Drop for Charge {
    fn drop(&mut self) {
        let held = *self.held.get_mut();
        if let Some(connection) = &self.connection {
            connection.release(held);
        }
        self.global.release(held);
    }
}

/// An estimate of the heap a JSON value holds: a fixed cost per node plus its text.
pub(crate) fn value_size(value: &serde_json::Value) -> usize {
    use serde_json::Value;
    const NODE: usize = std::mem::size_of::<Value>();
    match value {
        Value::Null | Value::Bool(_) | Value::Number(_) => NODE,
        Value::String(s) => NODE + s.len(),
        Value::Array(items) => NODE + items.iter().map(value_size).sum::<usize>(),
        Value::Object(map) => {
            NODE + map
                .iter()
                .map(|(k, v)| NODE + k.len() + value_size(v))
                .sum::<usize>()
        }
    }
}

/// The length of a value's JSON text, counted without building it.
pub(crate) fn json_len(value: &serde_json::Value) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    // Writing to a counter cannot fail; a value is always serializable.
    let _ = serde_json::to_writer(&mut count, value);
    count.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charges_are_released_with_the_request_and_bounded_by_every_limit() {
        let global = Arc::new(Budget::new(10 * 1024 * 1024));
        let connection = Arc::new(Budget::new(4 * 1024 * 1024));
        let first = Charge::new(Arc::clone(&global), Some(Arc::clone(&connection)));
        first.add(3 * 1024 * 1024).unwrap();
        let second = Charge::new(Arc::clone(&global), Some(Arc::clone(&connection)));
        let refused = second.add(2 * 1024 * 1024).unwrap_err();
        assert_eq!((refused.status, refused.sub_status), (429, Some(3200)));
        assert_eq!(refused.retry_after_ms, Some(RETRY_AFTER_MS));
        assert_eq!(global.stats().in_use, 3 * 1024 * 1024);
        drop(first);
        assert_eq!(global.stats().in_use, 0);
        assert_eq!(global.stats().peak, 3 * 1024 * 1024);
        second.add(2 * 1024 * 1024).unwrap();
        let too_large = second.add(REQUEST_MEMORY_LIMIT).unwrap_err();
        assert_eq!(too_large.status, 413);
        assert_eq!(global.stats().refused, 2);
    }
}
