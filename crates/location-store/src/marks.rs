//! Unavailability marks: which endpoints are demoted, until when, and which are due a probe.
//!
//! A mark holds its endpoint out of rotation until a probe succeeds. Its hold — from the
//! mark, or from a failed probe, to the next probe — is short (failback in seconds):
//! the schedule's first hold, doubled per *strike* (a re-mark within the longest hold of
//! the endpoint's last failback: a flapping region is held longer each time it comes
//! back and fails again), and doubled once more while its probes fail (a region that
//! stays down costs one probe per two holds). Never beyond the longest hold (the
//! unavailability TTL).

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

/// How long a mark holds before its probe: `first`, doubled per recent re-mark (a
/// strike) and once more after a failed probe, at most `longest`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Schedule {
    pub(crate) first: Duration,
    pub(crate) longest: Duration,
}

impl Schedule {
    /// The hold after `doublings` doublings of the first one.
    fn hold(self, doublings: u32) -> Duration {
        let factor = 1u32 << doublings.min(30);
        self.first.saturating_mul(factor).min(self.longest)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct EndpointMarks {
    read: Option<Mark>,
    write: Option<Mark>,
    /// The current hold: from a mark or failed probe to the next probe.
    hold: Duration,
    /// The hold of a fresh mark with these strikes (the hold before any failed probe).
    base: Duration,
    /// Re-marks within the longest hold of the last failback, in a row.
    strikes: u32,
}

/// When an endpoint last failed back, and after how many strikes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Lifted {
    at: Instant,
    strikes: u32,
}

/// The marks of one account, keyed by endpoint, and the recent failbacks that make a
/// flapping endpoint's next hold longer.
#[derive(Debug, Clone, Default)]
pub(crate) struct Marks {
    entries: HashMap<Endpoint, EndpointMarks>,
    lifted: HashMap<Endpoint, Lifted>,
}

impl Marks {
    /// Marks `endpoint` for `scope` until `now` plus its hold (extending, never
    /// shortening, a live mark). A fresh mark's hold is the schedule's first, doubled
    /// per strike: a re-mark within the longest hold of the endpoint's last failback is
    /// one more strike, a later one starts over. A write-forbidden mark only ever
    /// applies to writes.
    pub(crate) fn mark(
        &mut self,
        endpoint: &Endpoint,
        scope: MarkScope,
        reason: MarkReason,
        now: Instant,
        schedule: Schedule,
    ) {
        let scope = if reason == MarkReason::WriteForbidden {
            MarkScope::Write
        } else {
            scope
        };
        if !self.entries.contains_key(endpoint) {
            let recent = |l: &Lifted| now.saturating_duration_since(l.at) < schedule.longest;
            self.lifted.retain(|_, l| recent(l));
            let strikes = self
                .lifted
                .remove(endpoint)
                .map_or(0, |l| l.strikes.saturating_add(1));
            self.entries.insert(
                endpoint.clone(),
                EndpointMarks {
                    read: None,
                    write: None,
                    hold: schedule.hold(strikes),
                    base: schedule.hold(strikes),
                    strikes,
                },
            );
        }
        let Some(entry) = self.entries.get_mut(endpoint) else {
            return;
        };
        let expires = saturating_add(now, entry.hold);
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

    /// Drops every mark (and failback memory) whose endpoint `keep` rejects (no longer
    /// advertised).
    pub(crate) fn retain(&mut self, mut keep: impl FnMut(&Endpoint) -> bool) {
        self.entries.retain(|endpoint, _| keep(endpoint));
        self.lifted.retain(|endpoint, _| keep(endpoint));
    }

    /// The current hold of a marked endpoint.
    pub(crate) fn hold_of(&self, endpoint: &Endpoint) -> Option<Duration> {
        self.entries.get(endpoint).map(|m| m.hold)
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
    /// still inside its hold stays, for at least one more hold; lifting the last one is a
    /// failback, remembered for the strikes); failure makes the hold twice the fresh
    /// mark's (at most the longest) and restarts the expired ones with it. Returns
    /// whether anything changed.
    pub(crate) fn probe_result(
        &mut self,
        endpoint: &Endpoint,
        success: bool,
        now: Instant,
        schedule: Schedule,
    ) -> bool {
        let Some(entry) = self.entries.get_mut(endpoint) else {
            return false;
        };
        let expired = [entry.read, entry.write]
            .iter()
            .flatten()
            .any(|m| m.expires <= now);
        if !expired {
            return false;
        }
        if !success {
            entry.hold = entry.base.saturating_mul(2).min(schedule.longest);
        }
        // The next probe of this endpoint is a hold away, whichever mark it is for: a
        // mark still inside its hold (set after the one that fell due) waits at least
        // that long too, so an endpoint is never probed twice within one hold.
        let next = saturating_add(now, entry.hold);
        for slot in [&mut entry.read, &mut entry.write] {
            if let Some(mark) = slot {
                if mark.expires > now {
                    mark.expires = mark.expires.max(next);
                } else if success {
                    *slot = None;
                } else {
                    mark.expires = next;
                }
            }
        }
        if entry.read.is_none() && entry.write.is_none() {
            let strikes = entry.strikes;
            self.entries.remove(endpoint);
            self.lifted
                .insert(endpoint.clone(), Lifted { at: now, strikes });
        }
        true
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
