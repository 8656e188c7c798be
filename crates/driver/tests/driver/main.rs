//! The driver against the in-process emulator: real sockets, real time, short intervals,
//! bounded waits on conditions.
#![allow(clippy::unwrap_used)]

mod accounts;
mod api;
mod events;
mod failover;
mod hostile;
mod lifetimes;
mod operations;
mod query;
mod rotation;
mod session;
mod sharing;

use std::time::Duration;

use meridian_driver::{AccountConfig, Driver};
use meridian_emulator::Emulator;
use meridian_runtime::Runtime;

#[path = "../common/mod.rs"]
mod common;
#[path = "../common/sockets.rs"]
#[allow(dead_code)]
mod sockets;

pub use common::wait_for;

/// A runtime whose periodic refresh stays out of the way (event-driven tests).
pub fn quiet_runtime() -> Runtime {
    Runtime::builder()
        .refresh_interval(Duration::from_secs(600))
        .event_min_interval(Duration::from_millis(50))
        .fetch_timeout(Duration::from_secs(2))
        .unavailability_ttl(Duration::from_millis(300))
        .probe_interval(Duration::from_millis(50))
        .build()
        .unwrap()
}

pub async fn driver(runtime: &Runtime, emulator: &Emulator) -> Driver {
    Driver::builder(
        runtime,
        AccountConfig::new(emulator.global_endpoint(), emulator.key()),
    )
    .request_timeout(Duration::from_secs(2))
    .build()
    .await
    .unwrap()
}
