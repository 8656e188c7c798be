//! Per-operation options: preconditions, consistency and session, regions, deadline,
//! hedging.
//!
//! Both types are `#[non_exhaustive]` with `Default` and chained setters:
//! `ReadOptions::default().excluded_regions(["East US"]).timeout(Duration::from_secs(2))`.

use std::time::Duration;

use meridian_location_store::RegionName;

use crate::availability::AvailabilityStrategy;

/// A consistency level, sent as `x-ms-consistency-level` (it may only weaken the
/// account's default).
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

    /// Whether reads at this level carry the driver's session token.
    pub(crate) fn sends_session_token(&self) -> bool {
        matches!(self, Self::Session)
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
