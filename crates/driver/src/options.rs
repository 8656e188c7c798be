//! Per-operation options: preconditions, consistency and session, regions, deadline,
//! hedging.
//!
//! Both types are `#[non_exhaustive]` with `Default` and chained setters:
//! `ReadOptions::default().excluded_regions(["East US"]).timeout(Duration::from_secs(2))`.

use std::time::Duration;

use meridian_location_store::RegionName;

use crate::availability::AvailabilityStrategy;

/// A consistency level, sent as `x-ms-consistency-level`. It may only weaken the
/// account's default: asking for a stronger one fails with
/// [`DriverError::ConsistencyTooStrong`](crate::DriverError::ConsistencyTooStrong)
/// before anything is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConsistencyLevel {
    /// Linearizable reads.
    Strong,
    /// Reads lag writes by a bounded amount.
    BoundedStaleness,
    /// Read-your-writes within this driver: reads carry the container's session token.
    Session,
    /// Reads never see writes out of order.
    ConsistentPrefix,
    /// The nearest region answers from what it has.
    Eventual,
}

impl ConsistencyLevel {
    /// The header value.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Strong => "Strong",
            Self::BoundedStaleness => "BoundedStaleness",
            Self::Session => "Session",
            Self::ConsistentPrefix => "ConsistentPrefix",
            Self::Eventual => "Eventual",
        }
    }

    /// The level a `userConsistencyPolicy.defaultConsistencyLevel` names (any case).
    pub fn parse(name: &str) -> Option<Self> {
        [
            Self::Strong,
            Self::BoundedStaleness,
            Self::Session,
            Self::ConsistentPrefix,
            Self::Eventual,
        ]
        .into_iter()
        .find(|level| level.as_str().eq_ignore_ascii_case(name))
    }

    /// Strong 4 … Eventual 0.
    fn strength(self) -> u8 {
        match self {
            Self::Strong => 4,
            Self::BoundedStaleness => 3,
            Self::Session => 2,
            Self::ConsistentPrefix => 1,
            Self::Eventual => 0,
        }
    }

    /// Whether this level is stronger than `other`.
    pub fn is_stronger_than(self, other: Self) -> bool {
        self.strength() > other.strength()
    }

    /// Whether reads at this level carry the driver's session token.
    pub(crate) fn sends_session_token(&self) -> bool {
        matches!(self, Self::Session)
    }
}

impl std::fmt::Display for ConsistencyLevel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Refuses a `requested` level stronger than the account's `default` (as the account
/// document names it); nothing is checked while the default is unknown.
pub(crate) fn check_consistency(
    requested: ConsistencyLevel,
    default: Option<&str>,
) -> Result<(), (ConsistencyLevel, ConsistencyLevel)> {
    match default.and_then(ConsistencyLevel::parse) {
        Some(account) if requested.is_stronger_than(account) => Err((requested, account)),
        _ => Ok(()),
    }
}

/// Options shared by every operation.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Common {
    pub(crate) excluded_regions: Vec<RegionName>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) session_token: Option<String>,
    pub(crate) availability: Option<AvailabilityStrategy>,
}

macro_rules! common_setters {
    () => {
        /// Regions this operation is never routed to (on top of the driver's preferred
        /// regions and the container's exclusions). If they exclude every region, the
        /// account endpoint is used.
        pub fn excluded_regions<I, R>(mut self, regions: I) -> Self
        where
            I: IntoIterator<Item = R>,
            R: Into<RegionName>,
        {
            self.common.excluded_regions = regions.into_iter().map(Into::into).collect();
            self
        }

        /// A deadline for the whole operation, retries and their waits included: when
        /// it passes, the attempt in flight is abandoned and the operation fails with
        /// [`DriverError::DeadlineExceeded`](crate::DriverError::DeadlineExceeded).
        /// A write abandoned this way may still have been applied.
        pub fn timeout(mut self, timeout: Duration) -> Self {
            self.common.timeout = Some(timeout);
            self
        }

        /// Sends this session token instead of the one the driver keeps for the
        /// container (e.g. one carried over from another process).
        pub fn session_token(mut self, token: impl Into<String>) -> Self {
            self.common.session_token = Some(token.into());
            self
        }

        /// Hedging for this operation, instead of the driver's
        /// [`availability_strategy`](crate::DriverBuilder::availability_strategy)
        /// (e.g. [`AvailabilityStrategy::disabled`](crate::AvailabilityStrategy::disabled)).
        pub fn availability_strategy(mut self, strategy: crate::AvailabilityStrategy) -> Self {
            self.common.availability = Some(strategy);
            self
        }
    };
}

/// Options of a read.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct ReadOptions {
    pub(crate) common: Common,
    pub(crate) consistency: Option<ConsistencyLevel>,
    pub(crate) if_none_match: Option<String>,
}

impl ReadOptions {
    common_setters!();

    /// The consistency of this read. Unset or `Session`: the read carries the
    /// container's newest session token, so it sees this driver's writes (a lagging
    /// region answers 404/1002 and the read moves on). `Eventual` or
    /// `ConsistentPrefix`: no token, the nearest region answers from what it has, which
    /// may be older than this driver's own writes. An explicit
    /// [`session_token`](Self::session_token) is always sent.
    pub fn consistency(mut self, level: ConsistencyLevel) -> Self {
        self.consistency = Some(level);
        self
    }

    /// If the item's etag is still this one, the service answers 304:
    /// [`Container::read_item_if_changed`](crate::Container::read_item_if_changed)
    /// returns it as [`ReadOutcome::NotModified`](crate::ReadOutcome::NotModified);
    /// [`read_item_with`](crate::Container::read_item_with) as an error whose
    /// [`typed_status`](crate::DriverError::typed_status) is
    /// [`Status::NOT_MODIFIED`](crate::Status::NOT_MODIFIED) (only 2xx is success).
    pub fn if_none_match(mut self, etag: impl Into<String>) -> Self {
        self.if_none_match = Some(etag.into());
        self
    }

    /// Whether the read carries the driver's session token.
    pub(crate) fn sends_session(&self) -> bool {
        self.consistency
            .is_none_or(|level| level.sends_session_token())
    }
}

/// Options of a write (create, upsert, replace, delete).
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct ItemOptions {
    pub(crate) common: Common,
    pub(crate) if_match: Option<String>,
    pub(crate) if_none_match: Option<String>,
    pub(crate) minimal_response: bool,
}

impl ItemOptions {
    common_setters!();

    /// Apply the write only if the item's etag is still this one (412 if not).
    pub fn if_match(mut self, etag: impl Into<String>) -> Self {
        self.if_match = Some(etag.into());
        self
    }

    /// Apply the write only if the item's etag is not this one (`"*"`: only if absent).
    pub fn if_none_match(mut self, etag: impl Into<String>) -> Self {
        self.if_none_match = Some(etag.into());
        self
    }

    /// Whether the service sends the written item back (default `true`). `false` sends
    /// `prefer: return=minimal`: less traffic, and the response's `item` is the item as
    /// sent (without the service's system properties); the etag is in the metadata.
    pub fn content_response(mut self, enabled: bool) -> Self {
        self.minimal_response = !enabled;
        self
    }
}

/// Options of a query or read feed
/// ([`Container::query_with`](crate::Container::query_with)): page size, consistency,
/// session token, excluded regions, deadline and hedging, as for point reads.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct QueryOptions {
    pub(crate) common: Common,
    pub(crate) consistency: Option<ConsistencyLevel>,
    pub(crate) max_item_count: Option<u32>,
}

impl QueryOptions {
    common_setters!();

    /// The consistency of every page request, as for
    /// [`ReadOptions::consistency`]: unset or `Session` carries the container's session
    /// token; stronger than the account's default is refused before anything is sent.
    /// The deadline ([`timeout`](Self::timeout)) bounds each page request, retries
    /// included.
    pub fn consistency(mut self, level: ConsistencyLevel) -> Self {
        self.consistency = Some(level);
        self
    }

    /// At most `n` results per page request (overrides
    /// [`Query::max_item_count`](crate::Query::max_item_count); `0` leaves the
    /// query's).
    pub fn max_item_count(mut self, n: u32) -> Self {
        self.max_item_count = (n > 0).then_some(n);
        self
    }

    /// Whether page requests carry the driver's session token.
    pub(crate) fn sends_session(&self) -> bool {
        self.consistency
            .is_none_or(|level| level.sends_session_token())
    }
}

/// Options of a patch
/// ([`Container::patch_item_with`](crate::Container::patch_item_with)).
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct PatchOptions {
    pub(crate) common: Common,
    pub(crate) if_match: Option<String>,
    pub(crate) filter_predicate: Option<String>,
}

impl PatchOptions {
    common_setters!();

    /// Apply the patch only if the item's etag is still this one (412 if not).
    pub fn if_match(mut self, etag: impl Into<String>) -> Self {
        self.if_match = Some(etag.into());
        self
    }

    /// Apply the patch only if the item matches this predicate (`FROM c WHERE …`; 412
    /// if not). Overrides a [`PatchOperations::condition`](crate::PatchOperations::condition).
    pub fn filter_predicate(mut self, predicate: impl Into<String>) -> Self {
        self.filter_predicate = Some(predicate.into());
        self
    }
}
