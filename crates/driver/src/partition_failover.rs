//! Partition-level failover in the attempt loop: before an attempt, where its partition
//! key range must not go (marked by the circuit breaker, or moved by automatic failover);
//! after it, its outcome reported against that range.
//!
//! The state lives once per account in the runtime (see
//! `AccountHandle::report_partition` in the runtime); the driver only asks and tells.
//! An operation with no resolved range (not an item operation, or no routing map) routes
//! and reports per account, as before.

use std::sync::Arc;

use meridian_location_store::{
    Endpoint, OperationKind, OperationOutcome, PartitionId, RetryState, RouteRequest,
    RoutingSnapshot, Tried,
};
use meridian_runtime::{RoutedOn, Verdict};

use crate::driver::DriverInner;
use crate::operation::Operation;
use crate::partition_route::PartitionRoute;

/// How one attempt's partition steers its routing.
#[derive(Debug, Default)]
pub(crate) struct Steer {
    /// Endpoints where the range is marked for this kind of operation.
    pub(crate) demoted: Tried,
    /// A single-write account's write moved off the write region by automatic failover:
    /// route it over the read regions.
    pub(crate) writes_over_reads: bool,
}

impl PartitionRoute {
    /// The range as the runtime's partition state names it.
    pub(crate) fn partition_id(&self) -> PartitionId {
        PartitionId::new(Arc::clone(&self.container), Arc::clone(&self.range_id))
    }
}

impl DriverInner {
    /// Where this attempt's range must not go; `None` (one atomic load, nothing
    /// allocated) while no range of the account is marked.
    pub(crate) fn steer(
        &self,
        route: Option<&PartitionRoute>,
        operation: &Operation,
    ) -> Option<Steer> {
        let kind = operation.kind;
        let route = route?;
        if !self.handle.has_partition_marks() {
            return None;
        }
        let partition = route.partition_id();
        let mut steer = Steer::default();
        let marked = self
            .handle
            .partition_demoted(&partition, kind, &mut steer.demoted);
        steer.writes_over_reads =
            kind == OperationKind::Write && self.handle.partition_write_override(&partition);
        (marked || steer.writes_over_reads).then_some(steer)
    }

    /// The endpoint for the next attempt of `operation` (not a same-region or
    /// write-region retry): avoiding endpoints already tried, and where `steer` says the
    /// range is marked; a PPAF-moved write over the read regions.
    pub(crate) fn route_next(
        &self,
        snapshot: &RoutingSnapshot,
        operation: &Operation,
        tried: &Tried,
        steer: Option<&Steer>,
    ) -> Endpoint {
        let request = RouteRequest {
            avoid: Some(tried),
            preferred_regions: &self.preferred_regions,
            excluded_regions: &operation.excluded_regions,
            demoted: steer.map(|s| &s.demoted),
            ..RouteRequest::default()
        };
        let kind = if steer.is_some_and(|s| s.writes_over_reads) {
            OperationKind::Read
        } else {
            operation.kind
        };
        snapshot.route(kind, &request).clone()
    }

    /// Reports one attempt: against its range when it has one (a success only while the
    /// account has partition state, so the happy path allocates nothing more).
    pub(crate) fn report_attempt(
        &self,
        route: Option<&PartitionRoute>,
        endpoint: &Endpoint,
        outcome: &OperationOutcome,
        routed: RoutedOn,
        retries: &mut RetryState,
    ) -> Verdict {
        let failed = !matches!(
            outcome.result,
            meridian_location_store::AttemptResult::Response {
                status: 200..=299,
                ..
            }
        );
        match route {
            Some(route) if failed || self.handle.has_partition_state() => self
                .handle
                .report_partition(&route.partition_id(), endpoint, outcome, routed, retries),
            _ => self.handle.report(endpoint, outcome, routed, retries),
        }
    }
}
