//! The Meridian driver: a multi-region client of one account, hosted by a shared
//! [`Runtime`].
//!
//! A [`Driver`] signs requests with the account's master key, routes every attempt with a
//! fresh lock-free snapshot of the account's topology, and reports each outcome to the
//! runtime, which marks failing regions, refreshes the topology when the service says it
//! moved (403/3, 403/1008, transport failures) and decides whether to retry elsewhere or
//! stop. Non-idempotent writes are never retried blindly; a failure that proves the
//! request was not sent is retried for them too. Only 2xx is success: any other status is
//! a typed error, and redirects are never followed. Pooled connections are retired before
//! [`DriverBuilder::pool_idle_timeout`], so a server closing idle connections does not
//! close one under a request. The key never appears in `Debug`, `Display`, errors or logs.
//!
//! ```no_run
//! use meridian_driver::{AccountConfig, Driver, Runtime};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Serialize, Deserialize)]
//! struct Order { id: String, pk: String, total: u32 }
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let runtime = Runtime::builder().build()?;
//! let account = AccountConfig::new("http://127.0.0.1:8081/", "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw==");
//! let driver = Driver::builder(&runtime, account).preferred_regions(["East US"]).build().await?;
//! driver.create_database("shop").await?;
//! driver.create_container("shop", "orders", "/pk").await?;
//! let orders = driver.container("shop", "orders");
//! let order = Order { id: "1".into(), pk: "eu".into(), total: 42 };
//! orders.create_item("eu", &order).await?;
//! let read = orders.read_item::<Order>("eu", "1").await?;
//! assert_eq!(read.item.total, 42);
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

/// The README's program, compiled as a doctest.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctest;

mod account_config;
mod attempts;
mod availability;
mod batch;
mod batch_op;
mod batch_result;
mod bulk;
mod bulk_ops;
mod change_feed;
mod conditional;
mod connections;
mod container;
mod container_checks;
mod container_properties;
mod credential;
mod database;
mod decode;
mod driver;
mod entra;
mod error;
mod failure_log;
mod fetcher;
mod header_name;
mod hedge;
mod item_response;
mod management;
mod metadata;
mod operation;
mod options;
mod outcome;
mod partition_failover;
mod partition_key;
mod partition_route;
mod patch;
mod progress;
mod query;
mod range_fetch;
mod request;
mod session;
mod shared;
mod signing;
mod status;
mod throughput;
mod tls;
mod transport;

pub use account_config::AccountConfig;
pub use availability::{AvailabilityStrategy, DEFAULT_HEDGE_THRESHOLD};
pub use batch::Batch;
pub use batch_op::MAX_BATCH_OPERATIONS;
pub use batch_result::{BatchFailure, BatchOperationResult, BatchResponse};
pub use bulk::{Bulk, DEFAULT_BULK_IN_FLIGHT, MAX_BULK_IN_FLIGHT};
pub use bulk_ops::{BulkError, BulkOperation, BulkOutcome};
pub use change_feed::{ChangeFeed, ChangeFeedOptions, ChangeFeedPage, ChangeFeedStart};
pub use conditional::{NotModified, ReadOutcome};
pub use container::Container;
pub use container_properties::{
    ConflictResolutionMode, ConflictResolutionPolicy, ContainerProperties, DatabaseProperties,
    IndexPath, IndexingPolicy, PartitionKeyDefinition, PartitionKeyKind, UniqueKey,
};
pub use database::Database;
pub use decode::DeserializeError;
pub use driver::{Driver, DriverBuilder};
pub use entra::{
    COSMOS_SCOPE, CredentialError, EXPIRY_GUARD, REFRESH_WINDOW, RETRY_AFTER_FAILURE, TOKEN_TIMEOUT,
};
pub use error::{ConfigError, ConfigReason, DriverError, Failure};
pub use item_response::ItemResponse;
pub use metadata::ResponseMetadata;
pub use options::{ConsistencyLevel, ItemOptions, PatchOptions, QueryOptions, ReadOptions};
pub use partition_key::PartitionKey;
pub use patch::PatchOperations;
pub use query::{Items, Page, Pages, Query};
pub use shared::{
    DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_POOL_IDLE_TIMEOUT,
    MAX_CONNECTIONS_LIMIT, MAX_POOL_IDLE_TIMEOUT,
};
pub use status::Status;
pub use throughput::ThroughputProperties;

// What an application needs besides the driver: `cargo add meridian-driver` is enough.
// Every type a public signature here names is re-exported (the tidy test
// `every_public_type_is_nameable_through_the_driver_crate` enforces it).
pub use meridian_location_store::{
    AccountError, AccountLocation, ConsistencyPolicy, DatabaseAccount, Endpoint, EndpointError,
    GiveUpReason, Location, OperationKind, ReadPolicy, RegionName, ReplicationPolicy, RetryPolicy,
    RoutingSnapshot,
};
pub use meridian_refresh_core::{Backoff, RefreshStats};
pub use meridian_runtime::{
    AccountHandle, AccountStats, BuildError, EVENT_CAPACITY, FetchError, RefreshOutcome, Runtime,
    RuntimeBuilder, RuntimeConfig, RuntimeEvent, RuntimeHealth, RuntimeStats, TaskMonitor,
};

pub use azure_core;
/// Entra ID: the ecosystem's token credential trait and token type (implemented by every
/// `azure_identity` credential), and `azure_core` whole.
pub use azure_core::credentials::{AccessToken, TokenCredential};

/// The runtime crate, whole: the advanced types reached through
/// [`AccountHandle`] (outcome reports, custom fetchers) are nameable as
/// `meridian_driver::runtime::T`.
pub use meridian_runtime as runtime;

/// The routing crate, whole (`meridian_driver::routing::T`): outcomes, retry state and
/// route requests for callers that send requests of their own.
pub use meridian_location_store as routing;

/// The refresh machinery's crate, whole (`meridian_driver::refresh::T`).
pub use meridian_refresh_core as refresh;
pub use request::{API_VERSION, USER_AGENT};
