//! The invariants, checked after every step of the simulation (each 100 ms of simulated
//! time, and as each fetch or probe starts — see `world.rs`):
//!
//! - **failover followed**: after the write region moves at *t*, every live account whose
//!   account endpoint was healthy around *t* routes writes to the new region by
//!   *t* + two operations + one fetch per account ahead of it (each bounded by
//!   `(1 + MAX_FALLBACK_ENDPOINTS)` fetch timeouts) — far inside the event window and
//!   the refresh interval, so a refresh that waits for either fails the check;
//! - **no starvation**: every live account is fetched at least once per interval (with
//!   jitter) plus the same slot bound, whatever else hangs, fails or panics;
//! - **marks probed on time**: an endpoint still demoted is probed within its hold (at
//!   most the TTL: the first probe delay, doubled per strike and after a failed probe)
//!   plus that bound after the mark was last set or its last probe ended;
//! - **the loop runs**: after a loop panic the supervisor has it running again;
//! - (in `world.rs`) at most `concurrency` fetches and probes in flight; one fetch per
//!   account at a time; never two probes of one endpoint at once, nor two within the
//!   first probe delay (the schedule's cost);
//! - (at the end) shutdown leaves no task.

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use meridian_location_store::{Endpoint, RoutingSnapshot};
use meridian_runtime::{MAX_FALLBACK_ENDPOINTS, Runtime};
use tokio::time::Instant;

use crate::world::{Shared, regional};

/// What one seed's run checked.
#[derive(Debug, Default, Clone, Copy)]
pub struct Seen {
    pub failovers_checked: u64,
    pub failovers_excused: u64,
    pub marks_checked: u64,
    pub gaps_checked: u64,
    pub loop_restarts: u64,
    pub operations: u64,
}

/// The sums over a set of seeds.
#[derive(Debug, Default)]
pub struct Totals(Seen);

impl std::ops::Deref for Totals {
    type Target = Seen;
    fn deref(&self) -> &Seen {
        &self.0
    }
}

impl Totals {
    pub fn add(&mut self, seen: &Seen) {
        let t = &mut self.0;
        t.failovers_checked += seen.failovers_checked;
        t.failovers_excused += seen.failovers_excused;
        t.marks_checked += seen.marks_checked;
        t.gaps_checked += seen.gaps_checked;
        t.loop_restarts += seen.loop_restarts;
        t.operations += seen.operations;
    }
}

impl fmt::Display for Totals {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = &self.0;
        write!(
            f,
            "{} failovers checked ({} excused: faulty endpoint or no handle), {} marks, \
             {} refresh gaps, {} loop restarts, {} operations",
            t.failovers_checked,
            t.failovers_excused,
            t.marks_checked,
            t.gaps_checked,
            t.loop_restarts,
            t.operations
        )
    }
}

/// The simulation's settings that bound the checks.
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    pub op_period: Duration,
    pub fetch_timeout: Duration,
    pub interval: Duration,
    pub jitter: f64,
    pub ttl: Duration,
    pub event_window: Duration,
    pub accounts: usize,
}

impl Bounds {
    /// The longest an urgent or routine job may wait for a slot and run: one flight (with
    /// its fallbacks) of every account ahead of it, plus a probe round of every region.
    fn slot_work(&self) -> Duration {
        let flights = self.accounts * (1 + MAX_FALLBACK_ENDPOINTS) + 3;
        self.fetch_timeout * u32::try_from(flights + 1).unwrap() + Duration::from_millis(300)
    }

    pub fn failover(&self) -> Duration {
        self.op_period * 2 + self.slot_work()
    }

    fn gap(&self) -> Duration {
        self.interval.mul_f64(1.0 + self.jitter) + self.slot_work()
    }

    fn probe(&self) -> Duration {
        self.ttl + self.slot_work()
    }
}

/// The checker's memory between steps.
#[derive(Debug, Default)]
pub struct Checker {
    pub seen: Seen,
    /// The run is over and operations stopped: nothing signals a failover any more, so
    /// failovers are no longer judged.
    pub operations_stopped: bool,
    /// When an operation's report last set or renewed a mark on an endpoint.
    pub marked: HashMap<Endpoint, Instant>,
    /// Failovers already judged, per account (the instant of the one judged).
    judged: HashMap<usize, Instant>,
    /// Per account, the start of the last window counted as a checked gap.
    gap_counted: HashMap<usize, Instant>,
}

impl Checker {
    /// One step: every invariant over the world and the runtime's view of it now.
    /// `snapshots[i]` is account `i`'s routing view, if it has a live handle.
    pub fn step(
        &mut self,
        world: &mut Shared,
        snapshots: &[Option<std::sync::Arc<RoutingSnapshot>>],
        runtime: &Runtime,
        bounds: &Bounds,
    ) {
        let now = Instant::now();
        let health = runtime.health();
        if !health.loop_running && !health.stopped && health.loop_restarts > 0 {
            world.violation("the loop is not running after a restart".into());
        }
        for (index, snapshot) in snapshots.iter().enumerate() {
            let Some(snapshot) = snapshot else { continue };
            let before = world.violations.len();
            self.failover(world, index, snapshot, bounds, now);
            self.gap(world, index, bounds, now);
            self.marks(world, index, snapshot, bounds, now);
            if world.violations.len() > before {
                let endpoint = crate::world::account_endpoint(&world.accounts[index].name);
                let stats = runtime.stats();
                let account = stats.accounts.iter().find(|a| a.endpoint == endpoint);
                let context = format!(
                    "\n  world: {:?}\n  runtime: {account:?}\n  health: {:?}\n  bounds: {bounds:?}, concurrency {}, in flight {}",
                    world.accounts[index],
                    runtime.health(),
                    world.concurrency,
                    world.in_flight
                );
                world.violations[before].push_str(&context);
            }
        }
    }

    fn failover(
        &mut self,
        world: &mut Shared,
        index: usize,
        snapshot: &RoutingSnapshot,
        bounds: &Bounds,
        now: Instant,
    ) {
        let account = &world.accounts[index];
        let Some(at) = account.failed_over.filter(|_| !self.operations_stopped) else {
            return;
        };
        if self.judged.get(&index) == Some(&at) || now < at + bounds.failover() {
            return;
        }
        self.judged.insert(index, at);
        // The bound needs a healthy account endpoint from before the failover (a failed
        // fetch's backoff may run up to the event window) until the check, and a handle
        // alive throughout (operations are what signal the failover).
        let since = at.checked_sub(bounds.event_window + bounds.slot_work());
        let faulty = account.fault != crate::world::Fault::None
            || account
                .last_fault
                .is_some_and(|f| since.is_none_or(|since| f >= since));
        let alive = account.alive_since.is_some_and(|a| a <= at);
        // With no document yet, writes go to the account endpoint, which follows the
        // write region by itself (the gap check bounds how long that lasts).
        let cold = snapshot.topology_generation() == 0;
        if faulty || !alive || cold {
            self.seen.failovers_excused += 1;
            return;
        }
        self.seen.failovers_checked += 1;
        let want = regional(&account.name, account.write);
        let routed = snapshot
            .write_locations()
            .first()
            .map(|l| l.endpoint.clone());
        if routed.as_ref() != Some(&want) {
            let name = account.name.clone();
            world.violation(format!(
                "{name}: the write region moved at {:.3} s but writes still route to {routed:?} \
                 {:?} later (bound {:?})",
                crate::secs(at),
                now - at,
                bounds.failover()
            ));
        }
    }

    fn gap(&mut self, world: &mut Shared, index: usize, bounds: &Bounds, now: Instant) {
        let account = &world.accounts[index];
        let Some(alive) = account.alive_since else {
            return;
        };
        let since = account.last_fetch.map_or(alive, |f| f.max(alive));
        if now - since > bounds.gap() {
            let name = account.name.clone();
            world.violation(format!(
                "{name}: not fetched for {:?} (bound {:?})",
                now - since,
                bounds.gap()
            ));
        }
        let counted = self.gap_counted.entry(index).or_insert(alive);
        if *counted < alive {
            *counted = alive;
        }
        if now - *counted > bounds.gap() {
            *counted = now;
            self.seen.gaps_checked += 1;
        }
    }

    fn marks(
        &mut self,
        world: &mut Shared,
        index: usize,
        snapshot: &RoutingSnapshot,
        bounds: &Bounds,
        now: Instant,
    ) {
        let demoted = snapshot
            .read_locations()
            .iter()
            .chain(snapshot.write_locations())
            .filter(|l| !l.available);
        for location in demoted {
            let endpoint = &location.endpoint;
            let marked = self.marked.get(endpoint).copied();
            let probed = world.last_probe.get(endpoint).copied();
            let Some(reference) = marked.max(probed) else {
                continue;
            };
            if world.probes_in_flight.get(endpoint).copied().unwrap_or(0) > 0 {
                continue;
            }
            if now > reference + bounds.ttl {
                self.seen.marks_checked += 1;
            }
            if now > reference + bounds.probe() {
                let name = world.accounts[index].name.clone();
                world.violation(format!(
                    "{name}: {endpoint} demoted and unprobed {:?} after its mark or last \
                     probe (bound {:?})",
                    now - reference,
                    bounds.probe()
                ));
            }
        }
    }
}
