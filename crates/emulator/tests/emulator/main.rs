//! The emulator over real loopback sockets: real time, short timeouts, bounded waits.
#![allow(clippy::unwrap_used)]

mod abuse;
mod abuse_h2;
mod admin;
mod batch;
mod binary;
mod change_feed;
mod child;
mod cli;
mod client;
mod conditional;
mod conn;
mod continuations;
mod data_plane;
mod entra;
mod faults;
mod feeds;
mod hostile;
mod http2;
mod keys;
mod outages;
mod partitions;
mod patch_ops;
mod query;
mod query_generated;
mod query_sdk;
mod query_sql;
mod replication;
mod sdk_model;
mod sdk_shapes;
mod tls;
mod wire;

use std::time::Duration;

use client::TestClient;
use meridian_emulator::Emulator;

pub async fn start() -> (Emulator, TestClient) {
    let emulator = Emulator::builder().start().await.unwrap();
    let client = TestClient::new(emulator.key());
    (emulator, client)
}

/// Waits (polling, at most 10 s: a bound for a wedged test, never a
/// timing assertion) until `check` holds.
pub async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !check() {
        assert!(tokio::time::Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

pub fn admin_url(emulator: &Emulator, path: &str) -> String {
    format!("{}_emulator/{path}", emulator.global_endpoint())
}
