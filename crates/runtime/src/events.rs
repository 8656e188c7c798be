//! Runtime events: a push subscription to what the pull-only stats only count, like
//! MongoDB's SDAM events. [`Runtime::events`](crate::Runtime::events) hands out a
//! `tokio::sync::broadcast::Receiver`; a receiver that falls more than
//! [`EVENT_CAPACITY`] events behind gets `RecvError::Lagged` and continues from the
//! oldest kept. Emitting never blocks and costs nothing without subscribers.

use std::sync::{Arc, Mutex, PoisonError};

use meridian_location_store::{
    Endpoint, Installed, OperationKind, PartitionId, PartitionRule, RegionName,
};
use tokio::sync::broadcast;

use crate::fetcher::FetchError;

/// Events kept for a slow receiver before it lags.
pub const EVENT_CAPACITY: usize = 256;

/// Something that happened to an account of the runtime.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum RuntimeEvent {
    /// A refresh installed a different topology.
    TopologyChanged {
        /// The account endpoint.
        account: Endpoint,
        /// The write region before (`None` on the first document).
        old_write_region: Option<RegionName>,
        /// The write region now (the first writable location).
        new_write_region: Option<RegionName>,
        /// The topology generation now in force.
        topology_generation: u64,
    },
    /// An operation's failure marked an endpoint that had no mark: routing demotes it
    /// until a probe succeeds (renewed or widened marks are not reported again).
    EndpointMarked {
        /// The account endpoint.
        account: Endpoint,
        /// The regional endpoint marked.
        endpoint: Endpoint,
    },
    /// A successful probe returned a marked endpoint to rotation.
    EndpointUnmarked {
        /// The account endpoint.
        account: Endpoint,
        /// The regional endpoint.
        endpoint: Endpoint,
    },
    /// A refresh failed; the last good topology stays.
    RefreshFailed {
        /// The account endpoint.
        account: Endpoint,
        /// Why.
        error: Arc<FetchError>,
    },
    /// One partition key range was marked in one region (partition-level failover): its
    /// operations of `kind` go to the next region until the mark's hold ends.
    PartitionMarked {
        /// The account endpoint.
        account: Endpoint,
        /// The container and range.
        partition: PartitionId,
        /// The region's endpoint.
        endpoint: Endpoint,
        /// Reads or writes.
        kind: OperationKind,
        /// Circuit breaker or automatic failover.
        rule: PartitionRule,
    },
    /// The loop lifted a partition mark whose hold ended: the range routes to the region
    /// again, on probation (its next failure there re-marks it).
    PartitionFailedBack {
        /// The account endpoint.
        account: Endpoint,
        /// The container and range.
        partition: PartitionId,
        /// The region's endpoint.
        endpoint: Endpoint,
        /// Reads or writes.
        kind: OperationKind,
    },
    /// A probe of a demoted endpoint finished.
    ProbeResult {
        /// The account endpoint.
        account: Endpoint,
        /// The endpoint probed.
        endpoint: Endpoint,
        /// Whether it answered.
        success: bool,
    },
}

/// One account's event source: the runtime's sender and the write region last seen.
#[derive(Debug)]
pub(crate) struct AccountEvents {
    account: Endpoint,
    sender: broadcast::Sender<RuntimeEvent>,
    write_region: Mutex<Option<RegionName>>,
}

impl AccountEvents {
    pub(crate) fn new(account: Endpoint, sender: broadcast::Sender<RuntimeEvent>) -> Self {
        Self {
            account,
            sender,
            write_region: Mutex::new(None),
        }
    }

    fn emit(&self, event: RuntimeEvent) {
        // No receiver is not an error: nobody asked.
        let _ = self.sender.send(event);
    }

    /// A document was installed; a changed topology is an event.
    pub(crate) fn installed(&self, new: Option<RegionName>, installed: Installed) {
        let Installed::Changed {
            topology_generation,
        } = installed
        else {
            return;
        };
        let old = {
            let mut held = self
                .write_region
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            std::mem::replace(&mut *held, new.clone())
        };
        self.emit(RuntimeEvent::TopologyChanged {
            account: self.account.clone(),
            old_write_region: old,
            new_write_region: new,
            topology_generation,
        });
    }

    pub(crate) fn marked(&self, endpoint: &Endpoint) {
        self.emit(RuntimeEvent::EndpointMarked {
            account: self.account.clone(),
            endpoint: endpoint.clone(),
        });
    }

    pub(crate) fn probed(&self, endpoint: &Endpoint, success: bool, unmarked: bool) {
        self.emit(RuntimeEvent::ProbeResult {
            account: self.account.clone(),
            endpoint: endpoint.clone(),
            success,
        });
        if unmarked {
            self.emit(RuntimeEvent::EndpointUnmarked {
                account: self.account.clone(),
                endpoint: endpoint.clone(),
            });
        }
    }

    pub(crate) fn partition_marked(
        &self,
        partition: &PartitionId,
        endpoint: &Endpoint,
        kind: OperationKind,
        rule: PartitionRule,
    ) {
        self.emit(RuntimeEvent::PartitionMarked {
            account: self.account.clone(),
            partition: partition.clone(),
            endpoint: endpoint.clone(),
            kind,
            rule,
        });
    }

    pub(crate) fn partition_failed_back(
        &self,
        partition: PartitionId,
        endpoint: Endpoint,
        kind: OperationKind,
    ) {
        self.emit(RuntimeEvent::PartitionFailedBack {
            account: self.account.clone(),
            partition,
            endpoint,
            kind,
        });
    }

    pub(crate) fn refresh_failed(&self, error: Arc<FetchError>) {
        self.emit(RuntimeEvent::RefreshFailed {
            account: self.account.clone(),
            error,
        });
    }
}
