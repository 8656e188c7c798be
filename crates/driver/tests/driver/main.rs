//! The driver against the in-process emulator: real sockets, real time, short intervals,
//! bounded waits on conditions.
#![allow(clippy::unwrap_used)]

mod accounts;
mod api;
mod batch;
mod change_feed;
mod entra;
mod events;
mod failover;
mod hedging;
mod hostile;
mod lifetimes;
mod management;
mod operations;
mod order;
mod outages;
mod partition_failover;
mod production;
mod query;
mod query_sql;
mod resume;
mod rotation;
mod routing;
mod session;
mod sharing;

#[path = "../common/servers.rs"]
#[allow(dead_code)]
mod servers;
#[path = "../common/sockets.rs"]
#[allow(dead_code)]
mod sockets;

pub use meridian_testkit::{driver, quiet_runtime, wait_for};
