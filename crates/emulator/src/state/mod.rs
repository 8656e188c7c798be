//! The emulator's shared state: key, topology, data, counters, faults, outages, listeners
//! and the memory budget.
//!
//! Its methods live here: topology control in `regions`, replication control in
//! `replication`; starting and stopping listeners in `crate::listener`, next to the
//! serving code they spawn.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Semaphore;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::budget::Budget;
use crate::counters::{Counters, method_label};
use crate::data::DataStore;
use crate::disruption::Outages;
use crate::faults::FaultSet;
use crate::keys::Keys;
use crate::lock::lock;
use crate::query_gate::QueryGate;
use crate::tls::TlsConfig;
use crate::topology::{ListenerId, Topology};

mod regions;
mod replication;

/// A listener's address and, while it is up, the token that stops it.
#[derive(Debug)]
pub(crate) struct ListenerSlot {
    pub(crate) addr: SocketAddr,
    pub(crate) running: Option<CancellationToken>,
}

#[derive(Debug)]
pub(crate) struct State {
    /// The primary and secondary keys; a regeneration swaps one under this lock.
    pub(crate) keys: Mutex<Keys>,
    /// The Entra ID issuer, with `--entra` (`type=aad` tokens are accepted).
    pub(crate) entra: Option<crate::entra::Entra>,
    pub(crate) topology: Mutex<Topology>,
    pub(crate) data: Mutex<DataStore>,
    pub(crate) counters: Mutex<Counters>,
    pub(crate) faults: Mutex<FaultSet>,
    /// Each region's outage shape, if it has one.
    pub(crate) outages: Outages,
    /// Every container's partition key ranges and range failures.
    pub(crate) partitions: crate::partitions::Partitions,
    pub(crate) listeners: Mutex<HashMap<ListenerId, ListenerSlot>>,
    pub(crate) tasks: TaskTracker,
    pub(crate) shutdown: CancellationToken,
    pub(crate) tls: Option<TlsConfig>,
    /// How long a connection may wait for the next request's head before it is closed.
    pub(crate) idle_timeout: Duration,
    /// One permit per open connection, shared by every listener.
    pub(crate) connections: Arc<Semaphore>,
    /// The host written into advertised endpoints (IPv6 literals already bracketed).
    pub(crate) advertise_host: String,
    /// The memory budget over every request in flight.
    pub(crate) memory: Arc<Budget>,
    /// Queries in evaluation (and the test hook that holds them).
    pub(crate) queries: Arc<QueryGate>,
    /// The work budget of one query, in units.
    pub(crate) query_budget: u64,
}

impl State {
    /// Counts one request; `method` is labelled from a bounded set (see [`method_label`]).
    pub(crate) fn count(&self, listener: &ListenerId, class: &str, method: &http::Method) {
        lock(&self.counters).record(listener.label(), class, method_label(method));
    }

    pub(crate) fn scheme(&self) -> &'static str {
        if self.tls.is_some() { "https" } else { "http" }
    }

    /// The URL clients use for the listener bound at `addr`: the advertised host (never a
    /// wildcard address) and the bound port.
    pub(crate) fn endpoint(&self, addr: SocketAddr) -> String {
        format!(
            "{}://{}:{}/",
            self.scheme(),
            self.advertise_host,
            addr.port()
        )
    }
}
