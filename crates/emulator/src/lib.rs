//! A multi-region Cosmos DB account emulator: one hyper server per region, request
//! counters, fault injection and master-key auth, for tests and local development.
//!
//! It speaks the parts of the Cosmos DB REST protocol a client needs to find and use an
//! account: the database account document at `GET /` (on the global endpoint and on
//! every regional endpoint), master-key signatures (verified in constant time; 401 for a
//! missing, malformed or wrong signature, 403 for a date more than 15 minutes off either way), point
//! operations, feeds and PATCH on databases, containers and items, partition key ranges,
//! and queries over a SQL subset ([`query`]) with query plans, over HTTP/1.1 and HTTP/2.
//! Writes are accepted only in the write region (all regions with multi-write); elsewhere
//! 403/3. Queries are reads, served in every region. A drained or removed
//! region answers 403/1008; a region that is down refuses connections.
//!
//! The admin API under `/_emulator/` on the global endpoint (loopback only, no key)
//! moves the write region, adds, drains, removes, downs and ups regions, installs fault
//! rules and reads or resets counters; [`Emulator`] offers the same as typed methods. See
//! the crate README for the JSON shapes.
//!
//! Under descriptor pressure it serves at most
//! [`max_connections`](EmulatorBuilder::max_connections) connections at once (the rest wait
//! in the backlog) and backs off when `accept` fails; idle connections are closed after
//! [`idle_timeout`](EmulatorBuilder::idle_timeout).
//!
//! This crate shares no code with Meridian's client crates: the two sides implement the
//! wire contract independently, so a mistake on one side fails a test.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), meridian_emulator::EmulatorError> {
//! use meridian_emulator::Emulator;
//!
//! let emulator = Emulator::builder().regions(["West US", "East US"]).start().await?;
//! assert!(emulator.global_endpoint().starts_with("http://127.0.0.1:"));
//! assert_eq!(emulator.account_document()["writableLocations"][0]["name"], "West US");
//!
//! emulator.failover("East US")?;
//! assert_eq!(emulator.account_document()["writableLocations"][0]["name"], "East US");
//! emulator.shutdown().await;
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]

/// The README's program, compiled as a doctest.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctest;

mod addressing;
mod admin;
mod api_error;
pub mod auth;
mod batch;
pub mod binary;
mod budget;
mod builder;
mod change_feed;
mod change_history;
mod clock;
mod consistency;
mod container_props;
mod container_replace;
mod counters;
mod cursor;
mod data;
mod disruption;
mod emulator;
mod entra;
mod entra_admin;
mod epk;
mod error;
mod faults;
mod feed;
mod http;
mod idle;
mod item_body;
mod items;
mod keys;
mod lag;
mod limits;
mod listener;
mod lock;
mod offers;
mod outage;
mod partitions;
mod patch;
mod principals;
pub mod query;
mod query_gate;
mod range_admin;
mod range_control;
mod range_pages;
mod ranges;
mod replication;
mod resource;
mod resource_token;
mod rid;
mod route;
mod script_kind;
mod scripts;
mod service;
mod snapshot;
mod state;
mod tls;
mod token_secret;
mod topology;
mod ttl;
mod write_log;

pub use budget::{
    CONNECTION_MEMORY_LIMIT, DEFAULT_MEMORY_BUDGET, MemoryStats, REQUEST_MEMORY_LIMIT,
    SUB_STATUS_BUDGET_EXCEEDED,
};
pub use builder::{DEFAULT_IDLE_TIMEOUT, EmulatorBuilder, MIN_MEMORY_BUDGET};
pub use consistency::Consistency;
pub use counters::{Counters, ListenerCounters, OTHER_METHOD};
pub use emulator::Emulator;
pub use entra::{COSMOS_AUDIENCE, EntraClaims, LOCAL_AUTH_DISABLED, RBAC_OPERATION_NOT_SUPPORTED};
pub use error::EmulatorError;
pub use faults::{FaultAction, FaultLimit, FaultMatch, FaultRule, FaultStatus};
pub use feed::MAX_PAGE_BYTES;
pub use http::{
    API_VERSION, MAX_REQUEST_BODY, SUB_STATUS_DATABASE_ACCOUNT_NOT_FOUND,
    SUB_STATUS_WRITE_FORBIDDEN,
};
pub use keys::{AccountKeys, KeyKind, WELL_KNOWN_KEY, WELL_KNOWN_SECONDARY_KEY};
pub use lag::{DEFAULT_REPLICATION_LOG_LIMIT, MAX_REPLICATION_LAG};
pub use limits::{FALLBACK_MAX_CONNECTIONS, MAX_DEFAULT_CONNECTIONS, default_max_connections};
pub use listener::MAX_CONCURRENT_STREAMS;
pub use outage::{
    MAX_OUTAGE_DELAY_MS, Outage, OutageScope, OutageShape, SUB_STATUS_SERVER_GENERATED_503,
};
pub use partitions::RangeFailure;
pub use query_gate::QueryHold;
pub use replication::{FailoverMode, SUB_STATUS_READ_SESSION_NOT_AVAILABLE};
pub use resource::{PathClass, Resource};
pub use script_kind::ScriptKind;
pub use topology::{MAX_REGION_NAME, RegionInfo, TopologyError};
