//! The vocabulary of partition-level failover: which range, which rule, what an attempt
//! came to, what was decided, and the settings (see `partition_health` for the state).

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::endpoint::Endpoint;
use crate::snapshot::OperationKind;

/// One partition key range of one container: the key of partition-level state.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PartitionId {
    /// The container (its link or rid: anything unique within the account).
    pub container: Arc<str>,
    /// The partition key range id.
    pub range: Arc<str>,
}

impl PartitionId {
    /// The range `range` of `container`.
    pub fn new(container: impl Into<Arc<str>>, range: impl Into<Arc<str>>) -> Self {
        Self {
            container: container.into(),
            range: range.into(),
        }
    }
}

/// Which rule marked a range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PartitionRule {
    /// Per-partition circuit breaker: reads, and writes of multi-write accounts.
    CircuitBreaker,
    /// Per-partition automatic failover: writes of single-write accounts that enable it.
    AutomaticFailover,
}

impl PartitionRule {
    /// Whether `outcome` counts against a range under this rule: the circuit breaker
    /// counts failures but not 403/3, automatic failover counts 403/3 and 503 but not
    /// timeouts and other failures. The one place the rule is written: partition state
    /// counts by it, and the runtime spares the endpoint its mark by it.
    pub fn counts(self, outcome: PartitionOutcome) -> bool {
        match outcome {
            PartitionOutcome::Healthy => false,
            PartitionOutcome::WriteForbidden => self == Self::AutomaticFailover,
            PartitionOutcome::Failed => self == Self::CircuitBreaker,
            _ => true,
        }
    }
}

/// What one attempt at one range in one region came to, for partition state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PartitionOutcome {
    /// It succeeded (or failed for a reason that says the range is fine here).
    Healthy,
    /// 503: counts towards the circuit breaker, and moves automatic failover's writes.
    Unavailable,
    /// 500s, 408 or a timeout: counts towards the circuit breaker.
    Failed,
    /// 403/3: the range takes no writes here.
    WriteForbidden,
}

/// What [`PartitionHealth::record`](crate::PartitionHealth::record) decided.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PartitionDecision {
    /// Nothing changed that routing sees.
    Nothing,
    /// The range is now demoted in that region for `kind` until `until`.
    Marked {
        /// Which rule.
        rule: PartitionRule,
        /// Reads or writes.
        kind: OperationKind,
        /// When the loop lifts it into probation.
        until: Instant,
    },
}

/// A mark the loop lifted ([`PartitionHealth::expire`](crate::PartitionHealth::expire)): the range routes to the region
/// again, on probation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionFailback {
    /// The range.
    pub partition: PartitionId,
    /// The region's endpoint.
    pub endpoint: Endpoint,
    /// Reads or writes.
    pub kind: OperationKind,
}

/// Settings of [`PartitionHealth`](crate::PartitionHealth).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionConfig {
    /// Consecutive failures that trip the circuit breaker (at least 1).
    pub threshold: u32,
    /// A first mark's hold.
    pub first_hold: Duration,
    /// The longest hold (strikes double the first up to this).
    pub longest_hold: Duration,
    /// The most (container, range, region) entries kept.
    pub max_entries: usize,
}

impl Default for PartitionConfig {
    fn default() -> Self {
        Self {
            threshold: 3,
            first_hold: Duration::from_secs(5),
            longest_hold: Duration::from_secs(60),
            max_entries: 10_000,
        }
    }
}

/// Counters of a [`PartitionHealth`](crate::PartitionHealth).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PartitionStats {
    /// Entries held (counters, marks, probations).
    pub entries: usize,
    /// Live marks.
    pub marks: usize,
    /// Failures not tracked because every entry at the cap was a mark.
    pub dropped: u64,
}
