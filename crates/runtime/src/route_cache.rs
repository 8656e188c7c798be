//! One account's routing maps, one per container, shared by every driver of the account.
//!
//! Each container has a [`RefreshGate`] (refresh-core's rate limit and single flight, as
//! for the account document) and the last good [`RoutingMap`]. The first operation that
//! needs a container's map starts its fetch; every other caller joins that flight and
//! reads what it installed. A refresh asked because a range is gone is a gate *signal*
//! carrying the epoch of the map the caller resolved on: a fetch started since answers
//! it (superseded), a running one is joined, so a storm of gone ranges costs one fetch.
//! A refresh sends the last etag (`A-IM: Incremental feed`): 304 keeps the map, changed
//! ranges are applied to it ([`apply_incremental`]), and an answer that cannot be applied
//! is followed by one full fetch. A failed fetch keeps the last good map: it never goes
//! backwards. No task and no timer: a fetch runs in the future of the caller that started
//! it, bounded by the runtime's fetch timeout.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use arc_swap::ArcSwapOption;
use std::time::Duration;

use meridian_location_store::{apply_incremental, parse_partition_key_ranges, routing_map};
use meridian_refresh_core::{Decision, FetchEpoch, GateConfig, RefreshGate, SignalKind, Ticket};
use tokio::time::Instant;

use crate::fetcher::FetchError;
use crate::flight::{FlightReporter, FlightResult, Waiter, wait};
use crate::routes::{RangesAnswer, RangesFetcher, RoutingMap, RoutingMapError};

/// How many times a caller without a map starts or joins a fetch before giving up (a
/// joined flight may be cancelled by its starter being dropped).
const MAX_ROUNDS: usize = 3;

/// One container's map and gate.
struct ContainerRoutes {
    current: ArcSwapOption<RoutingMap>,
    gate: RefreshGate<Waiter>,
    /// `pkranges` requests sent (304s and failures included).
    fetches: AtomicU64,
    /// The gate's epoch after the last failed flight: a failure answers no refresh, so a
    /// caller still on the map in force may start another (within the failure backoff).
    failed: Mutex<Option<FetchEpoch>>,
}

impl ContainerRoutes {
    fn current(&self) -> Option<Arc<RoutingMap>> {
        self.current.load_full()
    }
}

/// The containers' entries, by link. Every point operation looks its container up here:
/// a lock-free map (and an `ArcSwap` for the map in force) so lookups from many threads
/// write to no shared line but the map's reference count.
type Containers = papaya::HashMap<Arc<str>, Arc<ContainerRoutes>, foldhash::fast::RandomState>;

/// The routing maps of one account's containers, keyed by container link.
pub(crate) struct RouteCache {
    containers: Containers,
    gate: GateConfig,
    fetch_timeout: Duration,
}

impl std::fmt::Debug for RouteCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let containers = self.containers.len();
        f.debug_struct("RouteCache")
            .field("containers", &containers)
            .finish_non_exhaustive()
    }
}

fn now() -> std::time::Instant {
    Instant::now().into_std()
}

impl RouteCache {
    pub(crate) fn new(gate: GateConfig, fetch_timeout: Duration) -> Self {
        Self {
            containers: Containers::default(),
            gate,
            fetch_timeout,
        }
    }

    fn entry(&self, container: &str) -> Arc<ContainerRoutes> {
        let containers = self.containers.pin();
        if let Some(entry) = containers.get(container) {
            return Arc::clone(entry);
        }
        let entry = containers.get_or_insert_with(container.into(), || {
            Arc::new(ContainerRoutes {
                current: ArcSwapOption::empty(),
                gate: RefreshGate::new(self.gate),
                fetches: AtomicU64::new(0),
                failed: Mutex::new(None),
            })
        });
        Arc::clone(entry)
    }

    /// The map in force for `container`, if one was fetched (no I/O).
    pub(crate) fn current(&self, container: &str) -> Option<Arc<RoutingMap>> {
        let containers = self.containers.pin();
        containers.get(container).and_then(|entry| entry.current())
    }

    /// `pkranges` requests sent for `container` so far.
    pub(crate) fn fetches(&self, container: &str) -> u64 {
        let containers = self.containers.pin();
        containers
            .get(container)
            .map_or(0, |entry| entry.fetches.load(Ordering::Relaxed))
    }

    /// Forgets `container` (deleted or recreated): the next caller fetches afresh.
    pub(crate) fn forget(&self, container: &str) {
        self.containers.pin().remove(container);
    }

    /// Forgets every container whose link starts with `prefix`.
    pub(crate) fn forget_under(&self, prefix: &str) {
        self.containers
            .pin()
            .retain(|link, _| !link.starts_with(prefix));
    }

    /// The map of `container`: the one in force, or the one the first fetch installs
    /// (started here or joined), waiting no later than `deadline` (or a few fetch
    /// timeouts).
    pub(crate) async fn get(
        &self,
        container: &str,
        fetcher: &dyn RangesFetcher,
        deadline: Option<Instant>,
    ) -> Result<Arc<RoutingMap>, RoutingMapError> {
        // The path of every operation once the map is known: no entry handle cloned.
        if let Some(map) = self.current(container) {
            return Ok(map);
        }
        let entry = self.entry(container);
        let deadline = self.bound(deadline);
        let mut last = RoutingMapError::Unavailable;
        for _ in 0..MAX_ROUNDS {
            let mut reporter = None;
            let decision = entry.gate.trigger(now(), |_| {
                let (r, waiter) = FlightReporter::new();
                reporter = Some(r);
                waiter
            });
            match self
                .follow(&entry, decision, reporter, fetcher, deadline)
                .await
            {
                Followed::Done(Err(error)) => last = error,
                Followed::Done(Ok(())) | Followed::Nothing => {}
                Followed::WaitUntil(until) => {
                    if until > deadline {
                        break;
                    }
                    tokio::time::sleep_until(until).await;
                }
            }
            if let Some(map) = entry.current() {
                return Ok(map);
            }
        }
        Err(last)
    }

    /// A refresh of `container` because `stale` named a range that is gone: answered by a
    /// newer map in force, by a fetch started since `stale` was installed, by the fetch
    /// running, or by one started here. Returns the map in force afterwards — `stale`'s
    /// successor or `stale` itself (a failed or throttled refresh keeps the last good map).
    pub(crate) async fn refresh(
        &self,
        container: &str,
        fetcher: &dyn RangesFetcher,
        stale: &RoutingMap,
        deadline: Option<Instant>,
    ) -> Result<Arc<RoutingMap>, RoutingMapError> {
        let entry = self.entry(container);
        match entry.current() {
            Some(map) if map.generation > stale.generation => return Ok(map),
            None => return self.get(container, fetcher, deadline).await,
            Some(_) => {}
        }
        let deadline = self.bound(deadline);
        let failed = *entry.failed.lock().unwrap_or_else(PoisonError::into_inner);
        let routed = failed.map_or(stale.epoch, |failed| failed.max(stale.epoch));
        let mut reporter = None;
        let decision = entry
            .gate
            .signal(now(), routed, SignalKind::BackendMoved, |_| {
                let (r, waiter) = FlightReporter::new();
                reporter = Some(r);
                waiter
            });
        let followed = self
            .follow(&entry, decision, reporter, fetcher, deadline)
            .await;
        match (entry.current(), followed) {
            (Some(map), _) => Ok(map),
            (None, Followed::Done(Err(error))) => Err(error),
            (None, _) => Err(RoutingMapError::Unavailable),
        }
    }

    /// `deadline`, or a few fetch timeouts from now: every wait here is bounded.
    fn bound(&self, deadline: Option<Instant>) -> Instant {
        let default = Instant::now() + self.fetch_timeout.saturating_mul(MAX_ROUNDS as u32);
        deadline.map_or(default, |d| d.min(default))
    }

    async fn follow(
        &self,
        entry: &ContainerRoutes,
        decision: Decision<Waiter>,
        reporter: Option<FlightReporter>,
        fetcher: &dyn RangesFetcher,
        deadline: Instant,
    ) -> Followed {
        match decision {
            Decision::Start(ticket) => match reporter {
                Some(reporter) => Followed::Done(self.fly(entry, ticket, reporter, fetcher).await),
                None => Followed::Nothing,
            },
            Decision::Join { waiter, .. } => {
                match tokio::time::timeout_at(deadline, wait(waiter)).await {
                    Ok(FlightResult::Failed(error)) => {
                        Followed::Done(Err(RoutingMapError::Fetch(error)))
                    }
                    Ok(_) => Followed::Nothing,
                    Err(_) => Followed::Done(Err(RoutingMapError::Unavailable)),
                }
            }
            Decision::Throttled { until } => Followed::WaitUntil(Instant::from_std(until)),
            _ => Followed::Nothing,
        }
    }

    /// Runs one flight: fetch (incremental when a map is in force), install, report.
    async fn fly(
        &self,
        entry: &ContainerRoutes,
        ticket: Ticket,
        reporter: FlightReporter,
        fetcher: &dyn RangesFetcher,
    ) -> Result<(), RoutingMapError> {
        let previous = entry.current();
        match self.fetch_map(entry, previous.as_deref(), fetcher).await {
            Ok(Some((map, etag))) => {
                let changed = previous.as_ref().is_none_or(|p| p.map != map);
                let generation = previous.as_ref().map_or(0, |p| p.generation) + u64::from(changed);
                let installed = Arc::new(RoutingMap {
                    map,
                    etag,
                    generation: generation.max(1),
                    epoch: entry.gate.epoch(),
                });
                entry.current.store(Some(installed));
                if changed {
                    ticket.succeed(now());
                } else {
                    ticket.succeed_unchanged(now());
                }
                reporter.finish(FlightResult::Refreshed {
                    topology_generation: generation.max(1),
                });
                Ok(())
            }
            Ok(None) => {
                ticket.succeed_unchanged(now());
                let generation = previous.map_or(0, |p| p.generation);
                reporter.finish(FlightResult::Refreshed {
                    topology_generation: generation,
                });
                Ok(())
            }
            Err(error) => {
                *entry.failed.lock().unwrap_or_else(PoisonError::into_inner) =
                    Some(entry.gate.epoch());
                ticket.fail(now(), fastrand::f64());
                let error = Arc::new(error);
                reporter.finish(FlightResult::Failed(Arc::clone(&error)));
                tracing::debug!(%error, "partition key range fetch failed; the last map stays");
                Err(RoutingMapError::Fetch(error))
            }
        }
    }

    /// The new map and etag, or `None` when the ranges did not change (304).
    async fn fetch_map(
        &self,
        entry: &ContainerRoutes,
        previous: Option<&RoutingMap>,
        fetcher: &dyn RangesFetcher,
    ) -> Result<Option<Built>, FetchError> {
        let etag = previous.and_then(|p| p.etag.as_deref());
        let answer = self.fetch_once(entry, etag, fetcher).await?;
        let (body, new_etag) = match (answer, previous) {
            (RangesAnswer::NotModified, Some(_)) => return Ok(None),
            (RangesAnswer::NotModified, None) => {
                return Err(FetchError::Status {
                    status: 304,
                    sub_status: None,
                });
            }
            (RangesAnswer::Ranges { body, etag }, _) => (body, etag),
        };
        let ranges = parse_partition_key_ranges(&body).map_err(FetchError::from)?;
        let built = match previous.filter(|_| etag.is_some()) {
            // An incremental answer lists what changed (the service) or everything (a
            // gateway that ignores `A-IM`): either applies to the map in force.
            Some(previous) => {
                apply_incremental(&previous.map, ranges.clone()).or_else(|_| routing_map(ranges))
            }
            None => routing_map(ranges),
        };
        match built {
            Ok(map) => Ok(Some((map, new_etag))),
            Err(_) if etag.is_some() => {
                // Not combinable: one full fetch.
                match self.fetch_once(entry, None, fetcher).await? {
                    RangesAnswer::Ranges { body, etag } => {
                        let ranges = parse_partition_key_ranges(&body)?;
                        Ok(Some((routing_map(ranges)?, etag)))
                    }
                    RangesAnswer::NotModified => Err(FetchError::Status {
                        status: 304,
                        sub_status: None,
                    }),
                }
            }
            Err(error) => Err(error.into()),
        }
    }

    async fn fetch_once(
        &self,
        entry: &ContainerRoutes,
        etag: Option<&str>,
        fetcher: &dyn RangesFetcher,
    ) -> Result<RangesAnswer, FetchError> {
        entry.fetches.fetch_add(1, Ordering::Relaxed);
        tokio::time::timeout(self.fetch_timeout, fetcher.fetch_ranges(etag))
            .await
            .unwrap_or(Err(FetchError::Timeout(self.fetch_timeout)))
    }
}

type Built = (
    meridian_location_store::RangeMap<meridian_location_store::PartitionKeyRange>,
    Option<String>,
);

/// What following a gate decision came to.
enum Followed {
    Done(Result<(), RoutingMapError>),
    Nothing,
    WaitUntil(Instant),
}
