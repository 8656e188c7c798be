//! Unavailability marks: which endpoints are demoted, until when, and which are due a probe.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use meridian_refresh_core::saturating_add;

use crate::endpoint::Endpoint;

/// Which kind of operation a mark blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MarkScope {
    /// Reads only.
    Read,
    /// Writes only.
    Write,
    /// Reads and writes.
    Both,
}

impl MarkScope {
    fn covers_read(self) -> bool {
        matches!(self, Self::Read | Self::Both)
    }
    fn covers_write(self) -> bool {
        matches!(self, Self::Write | Self::Both)
    }
}

/// Why an endpoint was marked unavailable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MarkReason {
    /// 403 sub-status 3: the region no longer accepts writes. Never blocks reads.
    WriteForbidden,
    /// 403 sub-status 1008: the region no longer serves the account.
    AccountNotFound,
    /// 503 Service Unavailable.
    ServiceUnavailable,
    /// 500 Internal Server Error.
    ServerError,
    /// 408 Request Timeout or a client-side timeout.
    Timeout,
    /// 410 Gone (not a partition move).
    Gone,
    /// Connection refused, reset, or another transport failure.
    ConnectionFailed,
    /// Marked by the caller for another reason.
    Manual,
}

/// One scope's mark on an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mark {
    /// Why it was marked (the latest reason).
    pub reason: MarkReason,
    /// When the TTL ends; after it, the endpoint is a probe candidate, still demoted.
    pub expires: Instant,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct EndpointMarks {
    read: Option<Mark>,
    write: Option<Mark>,
}

/// The marks of one account, keyed by endpoint.
#[derive(Debug, Clone, Default)]
pub(crate) struct Marks {
    entries: HashMap<Endpoint, EndpointMarks>,
}

impl Marks {
    /// Marks `endpoint` for `scope` until `now + ttl` (extending, never shortening, a
    /// live mark). A write-forbidden mark only ever applies to writes.
    pub(crate) fn mark(
        &mut self,
        endpoint: &Endpoint,
        scope: MarkScope,
        reason: MarkReason,
        now: Instant,
        ttl: Duration,
    ) {
        let scope = if reason == MarkReason::WriteForbidden {
            MarkScope::Write
        } else {
            scope
        };
        let expires = saturating_add(now, ttl);
        let entry = self.entries.entry(endpoint.clone()).or_default();
        let apply = |slot: &mut Option<Mark>| {
            let expires = slot.map_or(expires, |m| m.expires.max(expires));
            *slot = Some(Mark { reason, expires });
        };
        if scope.covers_read() {
            apply(&mut entry.read);
        }
        if scope.covers_write() {
            apply(&mut entry.write);
        }
    }

    pub(crate) fn read_mark(&self, endpoint: &Endpoint) -> Option<Mark> {
        self.entries.get(endpoint).and_then(|m| m.read)
    }

    pub(crate) fn write_mark(&self, endpoint: &Endpoint) -> Option<Mark> {
        self.entries.get(endpoint).and_then(|m| m.write)
    }

    /// Drops every mark whose endpoint `keep` rejects (no longer advertised).
    pub(crate) fn retain(&mut self, mut keep: impl FnMut(&Endpoint) -> bool) {
        self.entries.retain(|endpoint, _| keep(endpoint));
    }

    /// Endpoints with at least one mark whose TTL has ended: probe candidates.
    pub(crate) fn due(&self, now: Instant) -> Vec<Endpoint> {
        let mut due: Vec<Endpoint> = self
            .entries
            .iter()
            .filter(|(_, m)| [m.read, m.write].iter().flatten().any(|m| m.expires <= now))
            .map(|(e, _)| e.clone())
            .collect();
        due.sort();
        due
    }

    /// A probe of `endpoint` finished at `now`. Success lifts the expired marks (a mark
    /// still inside its TTL stays); failure restarts the TTL of the expired ones.
    /// Returns whether anything changed.
    pub(crate) fn probe_result(
        &mut self,
        endpoint: &Endpoint,
        success: bool,
        now: Instant,
        ttl: Duration,
    ) -> bool {
        let Some(entry) = self.entries.get_mut(endpoint) else {
            return false;
        };
        let mut changed = false;
        for slot in [&mut entry.read, &mut entry.write] {
            if let Some(mark) = slot {
                if mark.expires <= now {
                    changed = true;
                    if success {
                        *slot = None;
                    } else {
                        mark.expires = saturating_add(now, ttl);
                    }
                }
            }
        }
        if entry.read.is_none() && entry.write.is_none() {
            self.entries.remove(endpoint);
        }
        changed
    }

    /// When the earliest mark expires (it may already have).
    pub(crate) fn earliest_expiry(&self) -> Option<Instant> {
        self.entries
            .values()
            .flat_map(|m| [m.read, m.write])
            .flatten()
            .map(|m| m.expires)
            .min()
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }
}
