//! What a failure signal says, and the quiet windows a signal-driven fetch that learned
//! nothing opens — one per kind, so one kind of failure never silences the other.

use std::time::Instant;

/// What an operation's failure says about the account's topology.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SignalKind {
    /// The backend moved (403/3 write forbidden, 403/1008 account not found here): the
    /// account document is expected to change.
    BackendMoved,
    /// A region failed (a transport failure): the document may or may not change.
    RegionFailure,
}

impl SignalKind {
    const ALL: [Self; 2] = [Self::BackendMoved, Self::RegionFailure];

    fn bit(self) -> u8 {
        match self {
            Self::BackendMoved => 1,
            Self::RegionFailure => 2,
        }
    }
}

/// The kinds of signal a flight answers, as a set.
///
/// Only *timely* signals count: those from operations routed before the flight started,
/// whose failure the fetch can be expected to explain. A signal from an operation routed
/// after the flight started saw something the fetch may predate (a failover an instant
/// after the fetch read the document), so a stale answer must not silence it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Kinds(u8);

impl Kinds {
    pub(super) fn of(kind: SignalKind) -> Self {
        Self(kind.bit())
    }

    pub(super) fn add(&mut self, kind: SignalKind) {
        self.0 |= kind.bit();
    }

    /// Removes `kind`: it was signalled late, so it stays free to start a fetch.
    pub(super) fn remove(&mut self, kind: SignalKind) {
        self.0 &= !kind.bit();
    }

    fn contains(self, kind: SignalKind) -> bool {
        self.0 & kind.bit() != 0
    }
}

/// Until when each kind of signal is held after a signal-driven fetch of that kind
/// learned nothing.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Quiet {
    backend_moved: Option<Instant>,
    region_failure: Option<Instant>,
}

impl Quiet {
    pub(super) fn until(&self, kind: SignalKind) -> Option<Instant> {
        match kind {
            SignalKind::BackendMoved => self.backend_moved,
            SignalKind::RegionFailure => self.region_failure,
        }
    }

    /// A fetch answering `kinds` learned nothing at `now`: hold each kind for its
    /// interval (`until` gives it).
    pub(super) fn hold(&mut self, kinds: Kinds, until: impl Fn(SignalKind) -> Instant) {
        for kind in SignalKind::ALL {
            if kinds.contains(kind) {
                *self.slot(kind) = Some(until(kind));
            }
        }
    }

    /// A fetch changed the topology: nothing is held any more.
    pub(super) fn clear(&mut self) {
        *self = Self::default();
    }

    fn slot(&mut self, kind: SignalKind) -> &mut Option<Instant> {
        match kind {
            SignalKind::BackendMoved => &mut self.backend_moved,
            SignalKind::RegionFailure => &mut self.region_failure,
        }
    }
}
