//! Request counters per listener, path class and method.
//!
//! The counters are written before the key check, so every label is from a bounded set:
//! the standard methods by name and any other method as [`OTHER_METHOD`]. Listener labels
//! and classes are the emulator's own.

use std::collections::BTreeMap;

use serde::Serialize;

/// A snapshot of the counters: listener label → class → method → requests.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Counters {
    /// Per listener (`"global"` or a region name).
    pub listeners: BTreeMap<String, ListenerCounters>,
    /// Writes lost to forced failovers: made in the old write region and not yet seen by
    /// the new one.
    pub dropped_writes: u64,
}

/// One listener's counters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ListenerCounters {
    /// Every request this listener answered (or refused with a status).
    pub total: u64,
    /// Class (`account`, `databases`, `containers`, `items`, `rejected_auth`, `admin`,
    /// `other`) → method → count.
    pub by_class: BTreeMap<String, BTreeMap<String, u64>>,
}

/// The label every non-standard HTTP method is counted under.
pub const OTHER_METHOD: &str = "OTHER";

/// The counter label of `method`: its name for the standard methods, else [`OTHER_METHOD`].
pub(crate) fn method_label(method: &http::Method) -> &'static str {
    use http::Method;
    const KNOWN: [(Method, &str); 9] = [
        (Method::GET, "GET"),
        (Method::POST, "POST"),
        (Method::PUT, "PUT"),
        (Method::PATCH, "PATCH"),
        (Method::DELETE, "DELETE"),
        (Method::HEAD, "HEAD"),
        (Method::OPTIONS, "OPTIONS"),
        (Method::CONNECT, "CONNECT"),
        (Method::TRACE, "TRACE"),
    ];
    KNOWN
        .iter()
        .find(|(known, _)| known == method)
        .map_or(OTHER_METHOD, |(_, label)| label)
}

impl Counters {
    pub(crate) fn record(&mut self, listener: &str, class: &str, method: &str) {
        let entry = self.listeners.entry(listener.to_string()).or_default();
        entry.total += 1;
        *entry
            .by_class
            .entry(class.to_string())
            .or_default()
            .entry(method.to_string())
            .or_default() += 1;
    }

    /// Requests of `class` with `method` on `listener`.
    pub fn get(&self, listener: &str, class: &str, method: &str) -> u64 {
        self.listeners
            .get(listener)
            .and_then(|l| l.by_class.get(class))
            .and_then(|m| m.get(method))
            .copied()
            .unwrap_or(0)
    }

    /// Requests of `class` with `method` over every listener.
    pub fn total(&self, class: &str, method: &str) -> u64 {
        self.listeners
            .keys()
            .map(|listener| self.get(listener, class, method))
            .sum()
    }

    /// `GET /` (account reads) over every listener.
    pub fn account_reads(&self) -> u64 {
        self.total("account", "GET")
    }
}
