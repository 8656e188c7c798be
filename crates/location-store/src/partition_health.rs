//! Partition-level failover: one partition key range failing in one region while the
//! rest of the region serves.
//!
//! Two rules, both keyed by (container, range id, regional endpoint), both pure (every
//! call takes `now` and returns what it decided):
//! - **circuit breaker (PPCB)** — reads of any account, and writes of a multi-write
//!   account: `threshold` consecutive failures of one range in one region (503, 500s,
//!   408 and timeouts) mark that range there; its operations of that kind skip the region
//!   while another remains.
//! - **automatic failover (PPAF)** — writes of a single-write account whose document
//!   enables `enablePerPartitionFailoverBehavior`: one 403/3 or 503 for a range marks its
//!   writes there at once, and its writes go to the next region (an override per range).
//!
//! A mark lasts its *hold* (the first hold, doubled per strike, at most the longest).
//! When it ends, [`PartitionHealth::expire`] — called by the runtime's one loop, never a
//! timer per partition — lifts it into *probation*: the range routes to the region
//! again and its next operation there is the probe. A success ends probation; a failure
//! re-marks at once (no threshold) with the hold doubled, so a range still failing costs
//! one failed attempt per hold, not `threshold`.
//!
//! Bounded: at most `max_entries` (container, range, region) entries. At the cap a new
//! failure first evicts a counter that marks nothing (the oldest); if every entry is a
//! mark or on probation, the new failure is not tracked (counted in
//! [`PartitionStats::dropped`]) and that range keeps retrying elsewhere per attempt, as
//! without partition state.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use meridian_refresh_core::saturating_add;

use crate::endpoint::Endpoint;
use crate::partition_types::{
    PartitionConfig, PartitionDecision, PartitionFailback, PartitionId, PartitionOutcome,
    PartitionRule, PartitionStats,
};
use crate::snapshot::OperationKind;
use crate::tried::Tried;

/// One kind's state of one range in one region.
#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    failures: u32,
    until: Option<Instant>,
    rule: Option<PartitionRule>,
    probation: bool,
    strikes: u32,
}

impl Slot {
    fn quiet(&self) -> bool {
        self.until.is_none() && !self.probation
    }
}

#[derive(Debug, Clone)]
struct Entry {
    endpoint: Endpoint,
    read: Slot,
    write: Slot,
    touched: Instant,
}

impl Entry {
    fn forgettable(&self) -> bool {
        [self.read, self.write]
            .iter()
            .all(|s| s.quiet() && s.failures == 0 && s.strikes == 0)
    }

    fn slot(&mut self, kind: OperationKind) -> &mut Slot {
        match kind {
            OperationKind::Read => &mut self.read,
            OperationKind::Write => &mut self.write,
        }
    }
}

/// Per range, its regions' entries (a handful: one per region that failed it).
type Entries = HashMap<PartitionId, Vec<Entry>>;

/// The partition-level failover state of one account, shared by all its drivers. Reads
/// cost one atomic load while no range is marked.
#[derive(Debug)]
pub struct PartitionHealth {
    config: PartitionConfig,
    entries: Mutex<Entries>,
    /// Entries over all ranges (the cap's measure).
    count: AtomicUsize,
    marks: AtomicUsize,
    dropped: AtomicU64,
}

impl PartitionHealth {
    /// Empty state with `config` (a zero threshold counts as 1).
    pub fn new(config: PartitionConfig) -> Self {
        Self {
            config: PartitionConfig {
                threshold: config.threshold.max(1),
                ..config
            },
            entries: Mutex::new(HashMap::new()),
            count: AtomicUsize::new(0),
            marks: AtomicUsize::new(0),
            dropped: AtomicU64::new(0),
        }
    }

    /// The settings.
    pub fn config(&self) -> PartitionConfig {
        self.config
    }

    /// Which rule governs a `kind` operation of an account, if any: reads and
    /// multi-write writes the circuit breaker; single-write writes automatic failover
    /// when the account enables it.
    pub fn rule_for(kind: OperationKind, multi_write: bool, ppaf: bool) -> Option<PartitionRule> {
        match kind {
            OperationKind::Read => Some(PartitionRule::CircuitBreaker),
            OperationKind::Write if multi_write => Some(PartitionRule::CircuitBreaker),
            OperationKind::Write if ppaf => Some(PartitionRule::AutomaticFailover),
            OperationKind::Write => None,
        }
    }

    /// Records one attempt of a `kind` operation at `partition` in `endpoint`'s region
    /// under `rule`, and says whether that marked the range there.
    pub fn record(
        &self,
        partition: &PartitionId,
        endpoint: &Endpoint,
        kind: OperationKind,
        rule: PartitionRule,
        outcome: PartitionOutcome,
        now: Instant,
    ) -> PartitionDecision {
        let counts = rule.counts(outcome)
            && (rule != PartitionRule::AutomaticFailover || kind == OperationKind::Write);
        let mut entries = self.lock();
        if !counts {
            // A success resets the count, and ends probation (strikes are kept until
            // the entry is forgotten, so a flapping range is held longer each time).
            let Some(regions) = entries.get_mut(partition) else {
                return PartitionDecision::Nothing;
            };
            if let Some(at) = regions.iter().position(|e| &e.endpoint == endpoint) {
                let slot = regions[at].slot(kind);
                if slot.until.is_none() {
                    *slot = Slot {
                        strikes: slot.strikes,
                        ..Slot::default()
                    };
                }
                if regions[at].forgettable() {
                    regions.swap_remove(at);
                    self.count.fetch_sub(1, Ordering::Relaxed);
                }
            }
            if regions.is_empty() {
                entries.remove(partition);
            }
            return PartitionDecision::Nothing;
        }
        let known = entries
            .get(partition)
            .is_some_and(|r| r.iter().any(|e| &e.endpoint == endpoint));
        if !known {
            if !self.make_room(&mut entries) {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                return PartitionDecision::Nothing;
            }
            entries.entry(partition.clone()).or_default().push(Entry {
                endpoint: endpoint.clone(),
                read: Slot::default(),
                write: Slot::default(),
                touched: now,
            });
            self.count.fetch_add(1, Ordering::Relaxed);
        }
        let Some(entry) = entries
            .get_mut(partition)
            .and_then(|r| r.iter_mut().find(|e| &e.endpoint == endpoint))
        else {
            return PartitionDecision::Nothing;
        };
        entry.touched = now;
        let slot = entry.slot(kind);
        if slot.until.is_some() {
            // Already marked: a failure there (an operation with nowhere else to go)
            // changes nothing.
            return PartitionDecision::Nothing;
        }
        slot.failures = slot.failures.saturating_add(1);
        let threshold = match rule {
            PartitionRule::CircuitBreaker if !slot.probation => self.config.threshold,
            _ => 1,
        };
        if slot.failures < threshold {
            return PartitionDecision::Nothing;
        }
        if slot.probation {
            slot.strikes = slot.strikes.saturating_add(1);
        }
        let factor = 1u32 << slot.strikes.min(30);
        let hold = self
            .config
            .first_hold
            .saturating_mul(factor)
            .min(self.config.longest_hold);
        let until = saturating_add(now, hold);
        *slot = Slot {
            failures: 0,
            until: Some(until),
            rule: Some(rule),
            probation: false,
            strikes: slot.strikes,
        };
        self.marks.fetch_add(1, Ordering::Relaxed);
        PartitionDecision::Marked { rule, kind, until }
    }

    /// Adds to `out` the endpoints where `partition` is marked for `kind`; `false` (and
    /// no lock taken) when nothing is marked anywhere.
    pub fn demoted(&self, partition: &PartitionId, kind: OperationKind, out: &mut Tried) -> bool {
        if self.marks.load(Ordering::Relaxed) == 0 {
            return false;
        }
        let entries = self.lock();
        let mut any = false;
        for entry in entries.get(partition).into_iter().flatten() {
            let slot = match kind {
                OperationKind::Read => entry.read,
                OperationKind::Write => entry.write,
            };
            if slot.until.is_some() {
                out.insert(&entry.endpoint);
                any = true;
            }
        }
        any
    }

    /// Whether `partition`'s writes are moved away from `endpoint` by automatic failover.
    pub fn write_override(&self, partition: &PartitionId, endpoint: &Endpoint) -> bool {
        if self.marks.load(Ordering::Relaxed) == 0 {
            return false;
        }
        self.lock().get(partition).into_iter().flatten().any(|e| {
            &e.endpoint == endpoint
                && e.write.until.is_some()
                && e.write.rule == Some(PartitionRule::AutomaticFailover)
        })
    }

    /// Lifts every mark whose hold ended by `now` into probation (the range routes to
    /// the region again; its next failure there re-marks it at once) and forgets
    /// entries idle for the longest hold. The runtime's loop calls this when
    /// [`next_expiry`](Self::next_expiry) comes.
    pub fn expire(&self, now: Instant) -> Vec<PartitionFailback> {
        let mut entries = self.lock();
        let mut lifted = Vec::new();
        let longest = self.config.longest_hold;
        let mut forgotten = 0;
        entries.retain(|partition, regions| {
            regions.retain_mut(|entry| {
                for (kind, slot) in [
                    (OperationKind::Read, &mut entry.read),
                    (OperationKind::Write, &mut entry.write),
                ] {
                    if slot.until.is_some_and(|until| until <= now) {
                        slot.until = None;
                        slot.probation = true;
                        slot.failures = 0;
                        self.marks.fetch_sub(1, Ordering::Relaxed);
                        lifted.push(PartitionFailback {
                            partition: partition.clone(),
                            endpoint: entry.endpoint.clone(),
                            kind,
                        });
                    }
                }
                let idle = now.saturating_duration_since(entry.touched) >= longest;
                let marked = entry.read.until.is_some() || entry.write.until.is_some();
                let keep = marked || !idle;
                forgotten += usize::from(!keep);
                keep
            });
            !regions.is_empty()
        });
        self.count.fetch_sub(forgotten, Ordering::Relaxed);
        lifted
    }

    /// When the earliest mark's hold ends.
    pub fn next_expiry(&self) -> Option<Instant> {
        if self.marks.load(Ordering::Relaxed) == 0 {
            return None;
        }
        self.lock()
            .values()
            .flatten()
            .flat_map(|e| [e.read.until, e.write.until])
            .flatten()
            .min()
    }

    /// Whether no range has any state (one atomic load): a success then has nothing to
    /// reset.
    pub fn is_empty(&self) -> bool {
        self.count.load(Ordering::Relaxed) == 0
    }

    /// Whether any range is marked anywhere (one atomic load).
    pub fn has_marks(&self) -> bool {
        self.marks.load(Ordering::Relaxed) > 0
    }

    /// Entries, marks and dropped failures.
    pub fn stats(&self) -> PartitionStats {
        PartitionStats {
            entries: self.count.load(Ordering::Relaxed),
            marks: self.marks.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
        }
    }

    /// Frees one entry if at the cap: the oldest that marks nothing and is not on
    /// probation. `false` if none can go.
    fn make_room(&self, entries: &mut Entries) -> bool {
        if self.count.load(Ordering::Relaxed) < self.config.max_entries {
            return true;
        }
        let victim = entries
            .iter()
            .flat_map(|(id, regions)| regions.iter().enumerate().map(move |(at, e)| (id, at, e)))
            .filter(|(_, _, e)| e.read.quiet() && e.write.quiet())
            .min_by_key(|(_, _, e)| e.touched)
            .map(|(id, at, _)| (id.clone(), at));
        let Some((id, at)) = victim else {
            return false;
        };
        if let Some(regions) = entries.get_mut(&id) {
            regions.swap_remove(at);
            if regions.is_empty() {
                entries.remove(&id);
            }
        }
        self.count.fetch_sub(1, Ordering::Relaxed);
        true
    }

    fn lock(&self) -> MutexGuard<'_, Entries> {
        // Nothing under this lock panics half-way through an update.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
