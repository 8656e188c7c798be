//! One refresh loop per runtime: every registered account refreshed from one task.
//!
//! A [`Runtime`] hosts any number of drivers. Each [`attach`](Runtime::attach) registers
//! an account (by endpoint) and returns an [`AccountHandle`]; handles of one account share
//! one entry in refresh-core's registry, one location store and one refresh gate. One
//! background task per runtime refreshes every registered account on a drift-free,
//! jittered schedule: **one fetch per distinct account per tick**, however many handles,
//! up to `concurrency` at a time, each bounded by the fetch timeout. Failure signals
//! reported through a handle trigger an urgent refresh through the account's gate —
//! rate-limited and single-flight, so a storm of triggers costs one fetch and every caller
//! sees its result.
//!
//! The runtime knows nothing about HTTP: each handle comes with an [`AccountFetcher`],
//! its credential; an account's refreshes sign with the newest live handle's and, on a
//! 401, with the other distinct ones. Crates above keep runtime-wide state (the driver's
//! shared connection pool) in [`Runtime::extension`].
//! Dropping the last `Runtime` clone aborts the loop and every fetch in flight;
//! [`Runtime::shutdown`] does the same gracefully. Nothing the runtime spawns refers back
//! to it, so no reference cycle keeps the loop alive.
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use meridian_location_store::{Endpoint, ValidatedAccount};
//! use meridian_runtime::{AccountFetcher, FetchError, FetchFuture, Runtime};
//!
//! /// A fetcher that serves one fixed document (a real one sends a signed `GET /`).
//! struct Fixed(Vec<u8>);
//!
//! impl AccountFetcher for Fixed {
//!     fn fetch_account<'a>(&'a self, _: &'a Endpoint) -> FetchFuture<'a, ValidatedAccount> {
//!         Box::pin(async move { Ok(ValidatedAccount::from_slice(&self.0)?) })
//!     }
//!     fn probe<'a>(&'a self, _: &'a Endpoint) -> FetchFuture<'a, ()> {
//!         Box::pin(async { Ok(()) })
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let doc = br#"{"id":"acct","_rid":"acct.example",
//!   "writableLocations":[{"name":"West US","databaseAccountEndpoint":"http://127.0.0.1:9001/"}],
//!   "readableLocations":[{"name":"West US","databaseAccountEndpoint":"http://127.0.0.1:9001/"}]}"#;
//! let runtime = Runtime::builder().refresh_interval(Duration::from_secs(60)).build().unwrap();
//! let endpoint = Endpoint::parse("http://127.0.0.1:9000/").unwrap();
//! let fetcher = Arc::new(Fixed(doc.to_vec()));
//! let a = runtime.attach(endpoint.clone(), fetcher.clone()).await.unwrap();
//! let b = runtime.attach(endpoint, fetcher).await.unwrap();
//! // Two handles, one account, one initial fetch.
//! assert_eq!(runtime.stats().account_count, 1);
//! assert_eq!(a.stats().refresh.attempts, 1);
//! assert_eq!(b.snapshot().account_id(), Some("acct"));
//! runtime.shutdown().await;
//! # }
//! ```
#![deny(missing_docs)]

/// The README's program, compiled as a doctest.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctest;

mod account;
mod alarm;
mod config;
mod credentials;
mod events;
mod fetcher;
mod flight;
mod handle;
mod handle_routes;
mod partitions;
mod refresh_loop;
mod route_cache;
mod routes;
mod runtime;
mod shared;
mod slots;
mod spec;
mod stats;
mod tasks;
mod tick;
mod work;

pub use account::MAX_FALLBACK_ENDPOINTS;
pub use config::{
    BuildError, DEFAULT_FIRST_PROBE_DELAY, DEFAULT_PARTITION_FAILURE_THRESHOLD, MAX_CONCURRENCY,
    MAX_PARTITION_ENTRIES, RuntimeConfig,
};
pub use events::{EVENT_CAPACITY, RuntimeEvent};
pub use fetcher::{AccountFetcher, FetchError, FetchFuture};
pub use flight::FlightResult;
pub use handle::{AccountHandle, RefreshOutcome, RefreshWait, RoutedOn, Verdict};
pub use routes::{RangesAnswer, RangesFetcher, RoutingMap, RoutingMapError};
pub use runtime::{AttachError, Runtime, RuntimeBuilder};
pub use spec::AccountSpec;
pub use stats::{AccountStats, RuntimeHealth, RuntimeStats};
pub use tasks::TaskMonitor;
