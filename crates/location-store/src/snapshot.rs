//! Immutable routing snapshots: the ordered endpoints every operation reads.

use std::sync::Arc;

use crate::account::Location;
use crate::endpoint::Endpoint;
use crate::marks::Marks;
use crate::region::RegionName;
use crate::tried::Tried;

/// Read or write: which list an operation routes over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OperationKind {
    /// Reads (point reads, queries, the account read).
    Read,
    /// Writes (create, upsert, replace, delete).
    Write,
}

/// One routable location in a snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutedLocation {
    /// The region.
    pub region: RegionName,
    /// Its endpoint.
    pub endpoint: Endpoint,
    /// `false` while the endpoint is marked unavailable for this list's operations
    /// (including after the TTL, until a probe succeeds).
    pub available: bool,
}

/// Per-request routing options. The default routes normally; all fields borrow, so
/// building one allocates nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct RouteRequest<'a> {
    /// Regions this request must not use. If they exclude everything, the account's
    /// account endpoint is used.
    pub excluded_regions: &'a [RegionName],
    /// Endpoints this operation already tried: skipped while another candidate remains.
    /// A hash set, so routing stays linear in the number of locations.
    pub avoid: Option<&'a Tried>,
    /// Route a read to the write list (the retry after 404/1002 "read session not
    /// available").
    pub use_write_region: bool,
    /// This caller's preferred regions, most preferred first, overriding the
    /// snapshot's own preference order: available preferred regions first, then the
    /// other available ones in the snapshot's order, then marked ones the same way.
    /// (Ignored for the write list of a single-write account, which has one order.)
    /// Empty: the snapshot's order. Evaluated per call without allocating, so drivers
    /// with different preferences share one snapshot.
    pub preferred_regions: &'a [RegionName],
    /// Endpoints where the operation's partition key range is marked
    /// ([`PartitionHealth::demoted`](crate::PartitionHealth::demoted)): skipped, like
    /// `avoid`, while another candidate remains; tried before `avoid`ed ones.
    pub demoted: Option<&'a Tried>,
}

/// The routing view of one account at one moment. Immutable; the store publishes a new
/// one on every change.
#[derive(Debug, Clone)]
pub struct RoutingSnapshot {
    generation: u64,
    topology_generation: u64,
    account_id: Option<Arc<str>>,
    default_consistency: Option<Arc<str>>,
    account_endpoint: Endpoint,
    multi_write: bool,
    per_partition_failover: bool,
    read: Vec<RoutedLocation>,
    write: Vec<RoutedLocation>,
}

/// What a snapshot is built from.
pub(crate) struct SnapshotInput<'a> {
    pub(crate) generation: u64,
    pub(crate) topology_generation: u64,
    pub(crate) account_id: Option<Arc<str>>,
    pub(crate) default_consistency: Option<Arc<str>>,
    pub(crate) account_endpoint: &'a Endpoint,
    pub(crate) multi_write: bool,
    pub(crate) per_partition_failover: bool,
    pub(crate) readable: &'a [Location],
    pub(crate) writable: &'a [Location],
    pub(crate) preferred: &'a [RegionName],
    pub(crate) marks: &'a Marks,
}

impl RoutingSnapshot {
    /// Orders read and write lists: preferred regions first (in preference order), the
    /// rest in document order (single-write accounts keep the document's write order,
    /// so writes go to the first writable region), then available before marked.
    pub(crate) fn build(input: SnapshotInput<'_>) -> Self {
        let read = order(input.readable, input.preferred, |e| {
            input.marks.read_mark(e).is_none()
        });
        let write_preference: &[RegionName] = if input.multi_write {
            input.preferred
        } else {
            &[]
        };
        let write = order(input.writable, write_preference, |e| {
            input.marks.write_mark(e).is_none()
        });
        Self {
            generation: input.generation,
            topology_generation: input.topology_generation,
            account_id: input.account_id,
            default_consistency: input.default_consistency,
            account_endpoint: input.account_endpoint.clone(),
            multi_write: input.multi_write,
            per_partition_failover: input.per_partition_failover,
            read,
            write,
        }
    }

    /// Bumped on every published change (topology, marks, probes).
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Bumped only when a new account document is installed; 0 before the first one.
    pub fn topology_generation(&self) -> u64 {
        self.topology_generation
    }

    /// The account's `id`, once a document is installed.
    pub fn account_id(&self) -> Option<&str> {
        self.account_id.as_deref()
    }

    /// The account's default consistency level (`userConsistencyPolicy.
    /// defaultConsistencyLevel`, e.g. `"Session"`), once a document naming one is
    /// installed.
    pub fn default_consistency(&self) -> Option<&str> {
        self.default_consistency.as_deref()
    }

    /// The account endpoint: the fallback when no list has a candidate.
    pub fn account_endpoint(&self) -> &Endpoint {
        &self.account_endpoint
    }

    /// The account endpoint under its older name; prefer
    /// [`account_endpoint`](Self::account_endpoint).
    pub fn default_endpoint(&self) -> &Endpoint {
        &self.account_endpoint
    }

    /// Whether writes may go to every writable region.
    pub fn is_multi_write(&self) -> bool {
        self.multi_write
    }

    /// Whether the account enables per-partition automatic failover
    /// (`enablePerPartitionFailoverBehavior`).
    pub fn per_partition_failover(&self) -> bool {
        self.per_partition_failover
    }

    /// The ordered read locations.
    pub fn read_locations(&self) -> &[RoutedLocation] {
        &self.read
    }

    /// The ordered write locations.
    pub fn write_locations(&self) -> &[RoutedLocation] {
        &self.write
    }

    /// The ordered locations for `kind`.
    pub fn locations(&self, kind: OperationKind) -> &[RoutedLocation] {
        match kind {
            OperationKind::Read => &self.read,
            OperationKind::Write => &self.write,
        }
    }

    /// The endpoint for the next attempt of a `kind` operation. No lock, no allocation,
    /// one pass over the list (each `avoid` check is a hash lookup).
    ///
    /// The first location that is not excluded and not in `avoid`; if every candidate was
    /// already tried, the first candidate again (marked endpoints sit at the tail, never
    /// removed, so something is always tried); with no candidate at all, the default
    /// endpoint.
    pub fn route(&self, kind: OperationKind, request: &RouteRequest<'_>) -> &Endpoint {
        let writes = request.use_write_region || kind == OperationKind::Write;
        let list = if writes { &self.write } else { &self.read };
        let preferred = if writes && !self.multi_write {
            &[]
        } else {
            request.preferred_regions
        };
        let tried = |endpoint: &Endpoint| request.avoid.is_some_and(|t| t.contains(endpoint));
        let candidates = || {
            preferred_order(list, preferred)
                .filter(|l| !request.excluded_regions.contains(&l.region))
        };
        let Some(first) = candidates().next() else {
            return &self.account_endpoint;
        };
        if let Some(demoted) = request.demoted.filter(|d| !d.is_empty()) {
            // Rare (a range is marked): a second pass over a handful of locations.
            if let Some(l) =
                candidates().find(|l| !tried(&l.endpoint) && !demoted.contains(&l.endpoint))
            {
                return &l.endpoint;
            }
        }
        if !tried(&first.endpoint) {
            return &first.endpoint;
        }
        candidates()
            .find(|l| !tried(&l.endpoint))
            .map_or(&first.endpoint, |l| &l.endpoint)
    }

    /// The region serving `endpoint`, if the snapshot lists it.
    pub fn region_of(&self, endpoint: &Endpoint) -> Option<&RegionName> {
        self.read
            .iter()
            .chain(&self.write)
            .find(|l| &l.endpoint == endpoint)
            .map(|l| &l.region)
    }

    /// Every distinct regional endpoint the snapshot advertises: the read order first
    /// (preferred, available before marked), then write-only endpoints.
    pub fn regional_endpoints(&self) -> Vec<Endpoint> {
        let mut out: Vec<Endpoint> = Vec::with_capacity(self.read.len() + self.write.len());
        for location in self.read.iter().chain(&self.write) {
            if !out.contains(&location.endpoint) {
                out.push(location.endpoint.clone());
            }
        }
        out
    }
}

/// `list` reordered by `preferred` without allocating: available preferred locations in
/// preference order, the other available ones in list order, then the marked ones the
/// same way. With no preference, `list` as it is.
fn preferred_order<'s>(
    list: &'s [RoutedLocation],
    preferred: &[RegionName],
) -> impl Iterator<Item = &'s RoutedLocation> {
    let is_preferred = move |l: &&RoutedLocation| preferred.contains(&l.region);
    let in_preference = move |available: bool| {
        preferred.iter().filter_map(move |region| {
            list.iter()
                .find(|l| &l.region == region && l.available == available)
        })
    };
    in_preference(true)
        .chain(list.iter().filter(move |l| l.available && !is_preferred(l)))
        .chain(in_preference(false))
        .chain(
            list.iter()
                .filter(move |l| !l.available && !is_preferred(l)),
        )
}

fn order(
    locations: &[Location],
    preferred: &[RegionName],
    available: impl Fn(&Endpoint) -> bool,
) -> Vec<RoutedLocation> {
    let mut ordered: Vec<&Location> = Vec::with_capacity(locations.len());
    for region in preferred {
        if let Some(location) = locations.iter().find(|l| &l.region == region)
            && !ordered.iter().any(|o| o.endpoint == location.endpoint)
        {
            ordered.push(location);
        }
    }
    for location in locations {
        if !ordered.iter().any(|o| o.endpoint == location.endpoint) {
            ordered.push(location);
        }
    }
    let mut routed: Vec<RoutedLocation> = ordered
        .into_iter()
        .map(|l| RoutedLocation {
            region: l.region.clone(),
            endpoint: l.endpoint.clone(),
            available: available(&l.endpoint),
        })
        .collect();
    // Stable: keeps preference order within the available and the marked groups.
    routed.sort_by_key(|l| !l.available);
    routed
}
