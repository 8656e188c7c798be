//! The location store: one account's failover state behind a lock-free read path.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;

use crate::endpoint::Endpoint;
use crate::marks::{Mark, MarkReason, MarkScope, Marks, Schedule};
use crate::outcome::Effect;
use crate::region::RegionName;
use crate::snapshot::{RoutingSnapshot, SnapshotInput};
use crate::validated::ValidatedAccount;

/// Settings of a [`LocationStore`].
#[derive(Debug, Clone)]
pub struct StoreConfig {
    preferred_regions: Vec<RegionName>,
    unavailability_ttl: Duration,
    first_probe_delay: Option<Duration>,
}

impl StoreConfig {
    /// The default time an endpoint stays marked before it may be probed.
    pub const DEFAULT_UNAVAILABILITY_TTL: Duration = Duration::from_secs(60);

    /// Sets the user's preferred regions, most preferred first.
    pub fn with_preferred_regions<I, R>(mut self, regions: I) -> Self
    where
        I: IntoIterator<Item = R>,
        R: Into<RegionName>,
    {
        self.preferred_regions = regions.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the longest a mark lasts before the endpoint becomes a probe candidate
    /// (without [`with_first_probe_delay`](Self::with_first_probe_delay): every mark).
    pub fn with_unavailability_ttl(mut self, ttl: Duration) -> Self {
        self.unavailability_ttl = ttl;
        self
    }

    /// Sets how long a fresh mark lasts before its first probe: failback as soon as that
    /// probe succeeds. The hold doubles with each re-mark within one TTL of the
    /// endpoint's last failback (a flapping region waits longer each time), and once more
    /// while its probes fail (a region still down is probed every two holds); never
    /// beyond the TTL. Unset: every mark holds one TTL.
    pub fn with_first_probe_delay(mut self, delay: Duration) -> Self {
        self.first_probe_delay = Some(delay);
        self
    }

    /// The preferred regions.
    pub fn preferred_regions(&self) -> &[RegionName] {
        &self.preferred_regions
    }

    /// The mark TTL: the longest a mark holds before a probe.
    pub fn unavailability_ttl(&self) -> Duration {
        self.unavailability_ttl
    }

    /// How long a fresh mark holds before its first probe (at most the TTL).
    pub fn first_probe_delay(&self) -> Duration {
        self.first_probe_delay
            .unwrap_or(self.unavailability_ttl)
            .min(self.unavailability_ttl)
    }

    pub(crate) fn schedule(&self) -> Schedule {
        Schedule {
            first: self.first_probe_delay(),
            longest: self.unavailability_ttl,
        }
    }
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            preferred_regions: Vec::new(),
            unavailability_ttl: Self::DEFAULT_UNAVAILABILITY_TTL,
            first_probe_delay: None,
        }
    }
}

#[derive(Debug)]
struct StoreState {
    /// The last good account document.
    topology: Option<ValidatedAccount>,
    marks: Marks,
    generation: u64,
    topology_generation: u64,
}

/// One account's failover state: the last good topology, the unavailability marks and
/// the published [`RoutingSnapshot`]. (When to refresh is the runtime's business.)
///
/// Reads ([`snapshot`](Self::snapshot)) take no lock: an `ArcSwap` load. Writers (a new
/// topology, a mark, a probe result) serialize on a mutex, rebuild the snapshot and
/// swap it in (read-copy-update). The store does no I/O: the runtime fetches documents
/// and probes endpoints, then reports here.
///
/// ```
/// use std::time::Instant;
/// use meridian_location_store::*;
///
/// let account_endpoint = Endpoint::parse("https://acct.documents.azure.com/").unwrap();
/// let store = LocationStore::new(
///     account_endpoint,
///     StoreConfig::default().with_preferred_regions(["East US"]),
/// );
/// let doc = br#"{"id":"acct","_rid":"acct.documents.azure.com",
///   "writableLocations":[{"name":"West US","databaseAccountEndpoint":"https://acct-westus.documents.azure.com/"}],
///   "readableLocations":[
///     {"name":"West US","databaseAccountEndpoint":"https://acct-westus.documents.azure.com/"},
///     {"name":"East US","databaseAccountEndpoint":"https://acct-eastus.documents.azure.com/"}]}"#;
/// let now = Instant::now();
/// store.install(ValidatedAccount::from_slice(doc).unwrap(), now);
///
/// let snapshot = store.snapshot();
/// let read = snapshot.route(OperationKind::Read, &RouteRequest::default());
/// assert_eq!(read.as_str(), "https://acct-eastus.documents.azure.com/");
///
/// // East US fails: reads move away until a probe brings it back.
/// store.mark_unavailable(read, MarkScope::Read, MarkReason::ServiceUnavailable, now);
/// let read = store.snapshot().route(OperationKind::Read, &RouteRequest::default()).clone();
/// assert_eq!(read.as_str(), "https://acct-westus.documents.azure.com/");
/// ```
pub struct LocationStore {
    config: StoreConfig,
    account_endpoint: Endpoint,
    published: ArcSwap<RoutingSnapshot>,
    state: Mutex<StoreState>,
}

/// What [`LocationStore::install`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Installed {
    /// The document differed: a new topology (this generation) is in force.
    Changed {
        /// The topology generation now in force.
        topology_generation: u64,
    },
    /// The document equalled the installed one: nothing changed.
    Unchanged {
        /// The topology generation still in force.
        topology_generation: u64,
    },
}

impl Installed {
    /// The topology generation in force after the install.
    pub fn topology_generation(self) -> u64 {
        match self {
            Self::Changed {
                topology_generation,
            }
            | Self::Unchanged {
                topology_generation,
            } => topology_generation,
        }
    }
}

impl LocationStore {
    /// A store for the account at `account_endpoint`, with no topology yet: every
    /// operation routes to the account endpoint until [`install`](Self::install).
    pub fn new(account_endpoint: Endpoint, config: StoreConfig) -> Self {
        let state = StoreState {
            topology: None,
            marks: Marks::default(),
            generation: 0,
            topology_generation: 0,
        };
        let snapshot = build(&account_endpoint, &config, &state);
        Self {
            config,
            account_endpoint,
            published: ArcSwap::from_pointee(snapshot),
            state: Mutex::new(state),
        }
    }

    /// The current routing snapshot. Lock-free; clones one `Arc`.
    pub fn snapshot(&self) -> Arc<RoutingSnapshot> {
        self.published.load_full()
    }

    /// Runs `f` on the current snapshot without touching its reference count: the
    /// cheapest read, for hot paths that do not keep the snapshot.
    pub fn with_snapshot<R>(&self, f: impl FnOnce(&RoutingSnapshot) -> R) -> R {
        f(&self.published.load())
    }

    /// Installs a validated account document. Marks of endpoints the account still
    /// advertises are kept; marks of the others are dropped. A document equal to the
    /// installed one changes nothing (no new snapshot, same generation): most refreshes
    /// return the same topology, and readers keep their cached snapshot.
    pub fn install(&self, account: ValidatedAccount, _now: Instant) -> Installed {
        let mut state = self.lock();
        if state.topology.as_ref() == Some(&account) {
            return Installed::Unchanged {
                topology_generation: state.topology_generation,
            };
        }
        state.marks.retain(|endpoint| account.lists(endpoint));
        state.topology = Some(account);
        state.topology_generation += 1;
        let topology_generation = state.topology_generation;
        self.publish(&mut state);
        Installed::Changed {
            topology_generation,
        }
    }

    /// The last good account document, if any.
    pub fn account(&self) -> Option<ValidatedAccount> {
        self.lock().topology.clone()
    }

    /// Marks `endpoint` unavailable for `scope` until `now` plus its hold (saturating;
    /// see [`StoreConfig::with_first_probe_delay`]). A
    /// [`MarkReason::WriteForbidden`] mark applies to writes only, whatever `scope` says.
    ///
    /// Only endpoints the installed topology lists can be marked: a late report about an
    /// endpoint a refresh removed (or any report before the first document) changes
    /// nothing, so no mark is ever probed for an endpoint nobody routes to. Returns
    /// whether a mark was set.
    pub fn mark_unavailable(
        &self,
        endpoint: &Endpoint,
        scope: MarkScope,
        reason: MarkReason,
        now: Instant,
    ) -> bool {
        let mut state = self.lock();
        if !state.topology.as_ref().is_some_and(|t| t.lists(endpoint)) {
            return false;
        }
        state
            .marks
            .mark(endpoint, scope, reason, now, self.config.schedule());
        self.publish(&mut state);
        true
    }

    /// Applies an [`Effect`]'s mark (if any) to the endpoint that was attempted; see
    /// [`mark_unavailable`](Self::mark_unavailable). Returns whether a mark was set.
    /// Whether to refresh is the effect's `refresh` flag, the runtime's business.
    pub fn apply_mark(&self, endpoint: &Endpoint, effect: &Effect, now: Instant) -> bool {
        effect
            .mark
            .is_some_and(|(scope, reason)| self.mark_unavailable(endpoint, scope, reason, now))
    }

    /// The current read and write marks of `endpoint`.
    pub fn marks_of(&self, endpoint: &Endpoint) -> (Option<Mark>, Option<Mark>) {
        let state = self.lock();
        (
            state.marks.read_mark(endpoint),
            state.marks.write_mark(endpoint),
        )
    }

    /// Number of endpoints with at least one mark.
    pub fn marked_count(&self) -> usize {
        self.lock().marks.len()
    }

    /// Endpoints whose mark TTL has ended: the runtime should probe them (`GET /` on the
    /// regional endpoint) and report with [`record_probe`](Self::record_probe). Only
    /// advertised endpoints ever carry marks, so only those are ever due.
    pub fn due_probes(&self, now: Instant) -> Vec<Endpoint> {
        self.lock().marks.due(now)
    }

    /// When the earliest mark expires (it may already have): when the next probe is due.
    pub fn next_mark_expiry(&self) -> Option<Instant> {
        self.lock().marks.earliest_expiry()
    }

    /// The current hold of a marked endpoint: how long its marks last from when they
    /// were set or last probed (see [`StoreConfig::with_first_probe_delay`]).
    pub fn hold_of(&self, endpoint: &Endpoint) -> Option<Duration> {
        self.lock().marks.hold_of(endpoint)
    }

    /// A probe of `endpoint` finished: success returns it to rotation, failure restarts
    /// its hold, doubled once.
    pub fn record_probe(&self, endpoint: &Endpoint, success: bool, now: Instant) {
        let mut state = self.lock();
        if state
            .marks
            .probe_result(endpoint, success, now, self.config.schedule())
        {
            self.publish(&mut state);
        }
    }

    /// The account endpoint.
    pub fn account_endpoint(&self) -> &Endpoint {
        &self.account_endpoint
    }

    /// The account endpoint under its older name; prefer
    /// [`account_endpoint`](Self::account_endpoint).
    pub fn default_endpoint(&self) -> &Endpoint {
        &self.account_endpoint
    }

    /// The settings.
    pub fn config(&self) -> &StoreConfig {
        &self.config
    }

    fn publish(&self, state: &mut StoreState) {
        state.generation += 1;
        self.published
            .store(Arc::new(build(&self.account_endpoint, &self.config, state)));
    }

    fn lock(&self) -> MutexGuard<'_, StoreState> {
        // Nothing under this lock can panic half-way through an update in a way that
        // leaves the state inconsistent; keep serving after a poisoned lock.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn build(account_endpoint: &Endpoint, config: &StoreConfig, state: &StoreState) -> RoutingSnapshot {
    let topology = state.topology.as_ref();
    RoutingSnapshot::build(SnapshotInput {
        generation: state.generation,
        topology_generation: state.topology_generation,
        account_id: topology.map(|t| Arc::from(t.account().id.as_str())),
        default_consistency: topology
            .and_then(|t| t.account().user_consistency_policy.as_ref())
            .map(|p| p.default_consistency_level.as_str())
            .filter(|level| !level.is_empty())
            .map(Arc::from),
        account_endpoint,
        multi_write: topology.is_some_and(|t| t.account().enable_multiple_write_locations),
        per_partition_failover: topology
            .is_some_and(|t| t.account().enable_per_partition_failover_behavior),
        readable: topology.map_or(&[], |t| t.readable()),
        writable: topology.map_or(&[], |t| t.writable()),
        preferred: &config.preferred_regions,
        marks: &state.marks,
    })
}

impl fmt::Debug for LocationStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let snapshot = self.published.load();
        f.debug_struct("LocationStore")
            .field("account_endpoint", &self.account_endpoint)
            .field("generation", &snapshot.generation())
            .field("topology_generation", &snapshot.topology_generation())
            .finish_non_exhaustive()
    }
}
