//! What a request meets on a region with an outage shape: each region's outage in a
//! table the listener checks first (a flag, so a healthy emulator takes no lock), and the
//! future that plays the shape out.
//!
//! The shapes apply to a region's own listener (the global endpoint never has one). They
//! are decided per request before anything else (auth, faults, routing): an outage is the
//! network or the region failing, not the account answering.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, Response};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::http::{Body, respond};
use crate::lock::lock;
use crate::outage::{Outage, OutageScope, OutageShape, SUB_STATUS_SERVER_GENERATED_503, millis};
use crate::topology::{ListenerId, canonical};

/// Every region's outage, keyed by canonical region name. Requests check a flag first,
/// so a healthy emulator takes no lock for them.
#[derive(Debug, Default)]
pub(crate) struct Outages {
    any: AtomicBool,
    table: Mutex<HashMap<String, Outage>>,
    /// Cancelled (and replaced) whenever an outage ends or changes: black-holed requests
    /// wait on it.
    changed: Mutex<CancellationToken>,
}

/// What a request meets.
pub(crate) enum Disruption {
    /// Served normally.
    None,
    /// Answered with this instead.
    Answer(Response<Body>),
    /// Its connection is closed unanswered.
    Drop,
}

impl Outages {
    pub(crate) fn set(&self, region: &str, outage: Option<Outage>) {
        let mut table = lock(&self.table);
        match outage {
            Some(outage) => table.insert(canonical(region), outage),
            None => table.remove(&canonical(region)),
        };
        self.any.store(!table.is_empty(), Ordering::Release);
        drop(table);
        let mut changed = lock(&self.changed);
        changed.cancel();
        *changed = CancellationToken::new();
    }

    pub(crate) fn get(&self, region: &str) -> Option<Outage> {
        if !self.any.load(Ordering::Acquire) {
            return None;
        }
        lock(&self.table).get(&canonical(region)).copied()
    }

    /// The outage that applies to a `method` request with `headers` on `listener`.
    fn applying(
        &self,
        listener: &ListenerId,
        method: &Method,
        headers: &HeaderMap,
    ) -> Option<Outage> {
        let ListenerId::Region(name) = listener else {
            return None;
        };
        let outage = self.get(name)?;
        let read = is_read(method, headers);
        let applies = match outage.applies_to {
            OutageScope::Both => true,
            OutageScope::Reads => read,
            OutageScope::Writes => !read,
        };
        applies.then_some(outage)
    }

    /// What a request meets on `listener`: decided now, waited out by the returned
    /// future (a black hole until the outage changes or `down` is cancelled).
    pub(crate) fn disrupt(
        &self,
        listener: &ListenerId,
        method: &Method,
        headers: &HeaderMap,
        down: CancellationToken,
    ) -> Option<impl Future<Output = Disruption> + Send + use<>> {
        let outage = self.applying(listener, method, headers)?;
        let changed = lock(&self.changed).clone();
        Some(async move {
            match outage.shape {
                OutageShape::Refuse => Disruption::Drop,
                OutageShape::Blackhole => {
                    tokio::select! {
                        () = down.cancelled() => {}
                        () = changed.cancelled() => {}
                    }
                    Disruption::Drop
                }
                OutageShape::Unavailable => {
                    let body = json!({
                        "code": "ServiceUnavailable",
                        "message": "the region is unavailable (emulated outage)",
                    });
                    Disruption::Answer(respond(
                        503,
                        Some(SUB_STATUS_SERVER_GENERATED_503),
                        Some(Bytes::from(body.to_string())),
                    ))
                }
                OutageShape::Slow { delay, jitter } => {
                    let extra = if jitter.is_zero() {
                        Duration::ZERO
                    } else {
                        Duration::from_millis(fastrand::u64(0..=millis(jitter)))
                    };
                    tokio::select! {
                        () = down.cancelled() => Disruption::Drop,
                        () = tokio::time::sleep(delay.saturating_add(extra)) => Disruption::None,
                    }
                }
            }
        })
    }
}

/// A read: `GET`, `HEAD`, or a query (`POST` flagged as one).
fn is_read(method: &Method, headers: &HeaderMap) -> bool {
    if method == Method::GET || method == Method::HEAD {
        return true;
    }
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    method == Method::POST
        && (header("x-ms-documentdb-isquery").is_some_and(|v| v.eq_ignore_ascii_case("true"))
            || header("content-type")
                .is_some_and(|v| v.to_ascii_lowercase().starts_with("application/query+json")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_tell_reads_from_writes() {
        let outages = Outages::default();
        let east = ListenerId::Region("East US".into());
        let mut query = HeaderMap::new();
        query.insert("x-ms-documentdb-isquery", "True".parse().unwrap());
        outages.set("eastus", Some(Outage::unavailable().writes()));
        let none = HeaderMap::new();
        assert!(outages.applying(&east, &Method::GET, &none).is_none());
        assert!(outages.applying(&east, &Method::POST, &query).is_none());
        assert!(outages.applying(&east, &Method::POST, &none).is_some());
        assert!(
            outages
                .applying(&ListenerId::Global, &Method::POST, &none)
                .is_none()
        );
        outages.set("East US", None);
        assert!(outages.applying(&east, &Method::POST, &none).is_none());
    }
}
