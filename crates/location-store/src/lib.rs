//! The event-driven failover state of one account: "which endpoint next?"
//!
//! A [`LocationStore`] turns account documents ([`DatabaseAccount`]), the user's preferred
//! regions, and operation outcomes into an immutable [`RoutingSnapshot`] that every
//! operation reads without a lock. It performs no I/O and spawns nothing: the runtime
//! fetches documents and probes endpoints, and reports here with the current `now`.
//!
//! - [`DatabaseAccount`]: the `GET /` document, parsed and validated (typed
//!   [`AccountError`] on bad input; the last good topology stays in use).
//! - [`RoutingSnapshot::route`]: preferred regions first, marked endpoints demoted to
//!   the tail (never removed), per-request excluded regions, account-endpoint fallback.
//! - [`classify`]: an operation's [`OperationOutcome`] → [`Effect`] (mark, urgent
//!   refresh, retry where or give up); [`RetryState`] spends the retry budgets.
//! - [`effective_partition_key`] / [`EpkRange::for_key`]: the service's hash of a
//!   partition key (V1, V2, hierarchical full and prefix keys); [`RangeMap`]: a
//!   container's partition key ranges, the one holding an EPK, the ones a prefix spans;
//!   [`parse_partition_key_ranges`] / [`routing_map`] / [`apply_incremental`] build it from
//!   `GET …/pkranges` answers (a split's or merge's incremental answer included).
//! - [`PartitionHealth`]: partition-level failover (circuit breaker and automatic
//!   failover per partition key range and region), lifted by the runtime's loop.
//! - Marks expire into probe candidates ([`LocationStore::due_probes`]); only a
//!   successful probe returns an endpoint to rotation.
//!
//! ```
//! use std::time::Instant;
//! use meridian_location_store::*;
//!
//! let store = LocationStore::new(
//!     Endpoint::parse("https://acct.documents.azure.com/").unwrap(),
//!     StoreConfig::default(),
//! );
//! let doc = br#"{"id":"acct","_rid":"acct.documents.azure.com",
//!   "writableLocations":[{"name":"West US","databaseAccountEndpoint":"https://acct-westus.documents.azure.com/"}],
//!   "readableLocations":[{"name":"West US","databaseAccountEndpoint":"https://acct-westus.documents.azure.com/"}]}"#;
//! store.install(ValidatedAccount::from_slice(doc).unwrap(), Instant::now());
//!
//! // The write region says it no longer takes writes (403/3).
//! let outcome = OperationOutcome::response(OperationKind::Write, 403, Some(3));
//! let effect = classify(&outcome);
//! assert!(effect.refresh, "an urgent account refresh is requested");
//! let snapshot = store.snapshot();
//! let endpoint = snapshot.route(OperationKind::Write, &RouteRequest::default());
//! store.apply_mark(endpoint, &effect, Instant::now());
//! // Reads are not blocked by a write-forbidden mark.
//! assert!(store.snapshot().read_locations()[0].available);
//! assert!(!store.snapshot().write_locations()[0].available);
//! ```
#![deny(missing_docs)]

/// The README's program, compiled as a doctest.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctest;

mod account;
mod endpoint;
mod epk;
mod epk_json;
mod epk_range;
mod marks;
mod outcome;
mod partition_health;
mod partition_types;
mod pkranges;
mod region;
mod retry;
mod snapshot;
mod store;
mod tried;
mod validated;

pub use account::{
    AccountError, AccountLocation, ConsistencyPolicy, DatabaseAccount, Location,
    MAX_DOCUMENT_BYTES, MAX_FIELD_BYTES, MAX_LOCATIONS, ReadPolicy, ReplicationPolicy,
};
pub use endpoint::{Endpoint, EndpointError};
pub use epk::{
    EpkError, HashVersion, PartitionKeyComponent, PartitionKeyKind, PartitionKeyScheme,
    effective_partition_key,
};
pub use epk_json::effective_partition_key_of_json;
pub use epk_range::{EpkRange, KeyTarget, MAX_EPK, MIN_EPK, RangeMap, RangeMapError};
pub use marks::{Mark, MarkReason, MarkScope};
pub use meridian_refresh_core::{Backoff, saturating_add};
pub use outcome::{
    Action, AttemptResult, Effect, GiveUpReason, OperationOutcome, PARTITION_MOVE_SUB_STATUSES,
    RetryClass, RetryTarget, SUB_STATUS_DATABASE_ACCOUNT_NOT_FOUND,
    SUB_STATUS_READ_SESSION_NOT_AVAILABLE, SUB_STATUS_WRITE_FORBIDDEN, TransportErrorKind,
    classify,
};
pub use partition_health::PartitionHealth;
pub use partition_types::{
    PartitionConfig, PartitionDecision, PartitionFailback, PartitionId, PartitionOutcome,
    PartitionRule, PartitionStats,
};
pub use pkranges::{
    MAX_PARTITION_KEY_RANGES, MAX_PKRANGES_BYTES, PartitionKeyRange, PkRangesError,
    apply_incremental, parse_partition_key_ranges, routing_map,
};
pub use region::RegionName;
pub use retry::{MAX_CROSS_REGION_RETRIES, Next, RetryPolicy, RetryState};
pub use snapshot::{OperationKind, RouteRequest, RoutedLocation, RoutingSnapshot};
pub use store::{Installed, LocationStore, StoreConfig};
pub use tried::Tried;
pub use validated::ValidatedAccount;
