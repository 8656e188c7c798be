//! Partition-level failover in the runtime: what a driver asks per attempt (where is this
//! range marked?) and reports (how did the attempt at this range go?), and what the one
//! loop does when a partition mark's hold ends.
//!
//! The state is the account's [`PartitionHealth`], one per account in the runtime and
//! shared by every driver of it. Nothing here spawns: a mark arms the runtime's alarm,
//! and the loop lifts due marks into probation when it rings (see
//! [`AccountState::expire_partitions`]).

use meridian_location_store::{
    AttemptResult, Effect, Endpoint, OperationKind, OperationOutcome, PartitionDecision,
    PartitionHealth, PartitionId, PartitionOutcome, PartitionRule, RetryState,
    SUB_STATUS_WRITE_FORBIDDEN, TransportErrorKind, Tried, classify,
};

use crate::account::{AccountState, now};
use crate::handle::{AccountHandle, RoutedOn, Verdict};

impl AccountHandle {
    /// Adds to `out` the endpoints where `partition` is marked for `kind` operations (to
    /// pass as [`RouteRequest::demoted`](meridian_location_store::RouteRequest)); `false`
    /// without taking a lock while no range of the account is marked.
    pub fn partition_demoted(
        &self,
        partition: &PartitionId,
        kind: OperationKind,
        out: &mut Tried,
    ) -> bool {
        self.state.partitions.demoted(partition, kind, out)
    }

    /// Whether the account has any partition state at all (one atomic load): while it has
    /// none, a successful attempt need not be reported per range.
    pub fn has_partition_state(&self) -> bool {
        !self.state.partitions.is_empty()
    }

    /// Whether any range of the account is marked (one atomic load): while none is, no
    /// attempt needs steering.
    pub fn has_partition_marks(&self) -> bool {
        self.state.partitions.has_marks()
    }

    /// Whether `partition`'s writes are moved off the account's write region by
    /// per-partition automatic failover: route them over the read regions, skipping the
    /// ones [`partition_demoted`](Self::partition_demoted) lists.
    pub fn partition_write_override(&self, partition: &PartitionId) -> bool {
        self.with_snapshot(|s| {
            !s.is_multi_write()
                && s.write_locations()
                    .first()
                    .is_some_and(|l| self.state.partitions.write_override(partition, &l.endpoint))
        })
    }

    /// An attempt at `partition` that lost a hedge race: no answer from `endpoint` within
    /// the hedge threshold while another region answered. Under the circuit breaker (reads,
    /// and writes of multi-write accounts) it counts against the range in that region as a
    /// timeout would — the attempt was cancelled, so its own timeout never comes — and
    /// marks nothing else: no endpoint mark, no refresh, no retry budget spent. So a range
    /// that hangs in one region costs a hedge threshold on its first few reads, not on
    /// every one.
    pub fn report_partition_outrun(
        &self,
        partition: &PartitionId,
        endpoint: &Endpoint,
        kind: OperationKind,
    ) {
        let (multi_write, ppaf) =
            self.with_snapshot(|s| (s.is_multi_write(), s.per_partition_failover()));
        if PartitionHealth::rule_for(kind, multi_write, ppaf) != Some(PartitionRule::CircuitBreaker)
        {
            return;
        }
        let decision = self.state.partitions.record(
            partition,
            endpoint,
            kind,
            PartitionRule::CircuitBreaker,
            PartitionOutcome::Failed,
            now(),
        );
        self.follow_partition_decision(partition, endpoint, decision);
    }

    /// A new mark arms the loop's alarm for its hold and is announced.
    fn follow_partition_decision(
        &self,
        partition: &PartitionId,
        endpoint: &Endpoint,
        decision: PartitionDecision,
    ) {
        if let PartitionDecision::Marked { until, kind, rule } = decision {
            self.state.alarm.arm(until);
            self.state
                .events
                .partition_marked(partition, endpoint, kind, rule);
            tracing::debug!(account = %self.endpoint(), container = %partition.container, range = %partition.range, %endpoint, ?kind, ?rule, "partition marked in one region");
        }
    }

    /// [`report`](Self::report) for an attempt at a known partition key range. When a
    /// partition rule governs the operation (the circuit breaker for reads and
    /// multi-write writes; automatic failover for single-write writes when the account
    /// enables it), a failure that may be the range's alone (503, 500s, 408, a timeout,
    /// 403/3 under automatic failover) counts against the range in that region and does
    /// not mark the whole endpoint; a refused or reset connection still does.
    pub fn report_partition(
        &self,
        partition: &PartitionId,
        endpoint: &Endpoint,
        outcome: &OperationOutcome,
        routed: RoutedOn,
        retries: &mut RetryState,
    ) -> Verdict {
        let mut effect = classify(outcome);
        let (multi_write, ppaf) =
            self.with_snapshot(|s| (s.is_multi_write(), s.per_partition_failover()));
        if let Some(rule) = PartitionHealth::rule_for(outcome.kind, multi_write, ppaf) {
            let seen = partition_outcome(outcome);
            if seen != PartitionOutcome::Healthy
                || matches!(effect.action, meridian_location_store::Action::Done)
            {
                let decision = self.state.partitions.record(
                    partition,
                    endpoint,
                    outcome.kind,
                    rule,
                    seen,
                    now(),
                );
                self.follow_partition_decision(partition, endpoint, decision);
            }
            // Only what the rule counts is left to partition state; anything else marks the
            // whole endpoint.
            if rule.counts(seen) {
                effect = Effect {
                    mark: None,
                    ..effect
                };
            }
        }
        self.apply(endpoint, effect, routed, retries)
    }
}

/// What an attempt says about its range in that region.
fn partition_outcome(outcome: &OperationOutcome) -> PartitionOutcome {
    match outcome.result {
        AttemptResult::Response { status: 503, .. } => PartitionOutcome::Unavailable,
        AttemptResult::Response {
            status: 403,
            sub_status: Some(SUB_STATUS_WRITE_FORBIDDEN),
            ..
        } => PartitionOutcome::WriteForbidden,
        AttemptResult::Response {
            status: 408 | 500..=599,
            ..
        } => PartitionOutcome::Failed,
        AttemptResult::Transport {
            error: TransportErrorKind::Timeout,
            ..
        } => PartitionOutcome::Failed,
        _ => PartitionOutcome::Healthy,
    }
}

impl AccountState {
    /// Lifts the partition marks whose hold ended into probation, says so, and re-arms
    /// the alarm for the next one. Run by the loop when the alarm rings: no task or timer
    /// per driver, container or partition.
    pub(crate) fn expire_partitions(&self) {
        if self.partitions.is_empty() {
            return;
        }
        for lifted in self.partitions.expire(now()) {
            tracing::debug!(account = %self.spec.endpoint, container = %lifted.partition.container, range = %lifted.partition.range, endpoint = %lifted.endpoint, kind = ?lifted.kind, "partition failed back (on probation)");
            self.events
                .partition_failed_back(lifted.partition, lifted.endpoint, lifted.kind);
        }
        if let Some(at) = self.partitions.next_expiry() {
            self.alarm.arm(at);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_the_rule_counts_spares_the_endpoint_its_mark() {
        use PartitionOutcome::{Failed, Healthy, Unavailable, WriteForbidden};
        use PartitionRule::{AutomaticFailover as Ppaf, CircuitBreaker as Cb};
        let cases = [
            (Healthy, Cb, false),
            (Unavailable, Cb, true),
            (Failed, Cb, true),
            (WriteForbidden, Cb, false),
            (Unavailable, Ppaf, true),
            (WriteForbidden, Ppaf, true),
            (Failed, Ppaf, false),
        ];
        for (seen, rule, scoped) in cases {
            assert_eq!(rule.counts(seen), scoped, "{seen:?} under {rule:?}");
        }
        let timeout =
            OperationOutcome::transport(OperationKind::Write, TransportErrorKind::Timeout, true);
        assert_eq!(partition_outcome(&timeout), Failed);
        let refused = OperationOutcome::transport(
            OperationKind::Read,
            TransportErrorKind::ConnectionRefused,
            false,
        );
        assert_eq!(
            partition_outcome(&refused),
            Healthy,
            "a refused connection is the region's"
        );
    }
}
