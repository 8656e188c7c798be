//! The emulator over real loopback sockets: real time, short timeouts, bounded waits.
#![allow(clippy::unwrap_used)]

mod abuse;
mod abuse_h2;
mod admin;
mod binary;
mod child;
mod cli;
mod client;
mod conn;
mod data_plane;
mod faults;
mod feeds;
mod hostile;
mod http2;
mod keys;
mod query;
mod replication;
mod tls;
mod wire;

use client::TestClient;
use meridian_emulator::Emulator;

pub async fn start() -> (Emulator, TestClient) {
    let emulator = Emulator::builder().start().await.unwrap();
    let client = TestClient::new(emulator.key());
    (emulator, client)
}

pub fn admin_url(emulator: &Emulator, path: &str) -> String {
    format!("{}_emulator/{path}", emulator.global_endpoint())
}
