//! One operation, described once: method, target, headers, body and options; and
//! what a successful attempt returns. The attempt loop that sends it is `attempts.rs`.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::Method;
use meridian_location_store::{Endpoint, OperationKind, RegionName};

use crate::availability::AvailabilityStrategy;
use crate::header_name::Name;
use crate::metadata::ResponseMetadata;
use crate::options::Common;
use crate::partition_route::PartitionRoute;
use crate::request::Target;
use crate::session::SessionUse;

/// One operation, described once and sent as many times as its retries allow.
#[derive(Debug, Clone)]
pub(crate) struct Operation {
    pub(crate) method: Method,
    pub(crate) target: Target,
    pub(crate) kind: OperationKind,
    pub(crate) idempotent: bool,
    pub(crate) headers: Vec<(Name, String)>,
    pub(crate) body: Option<Bytes>,
    /// Regions this operation must not be routed to.
    pub(crate) excluded_regions: Vec<RegionName>,
    /// The container whose session token the operation sends (reads) and keeps.
    pub(crate) session: Option<SessionUse>,
    /// A session token to send instead of the container's.
    pub(crate) session_token: Option<String>,
    /// A deadline for the whole operation, from its start.
    pub(crate) timeout: Option<Duration>,
    /// Hedging for this operation instead of the driver's.
    pub(crate) availability: Option<AvailabilityStrategy>,
    /// The partition key range an item operation addresses, resolved before its first
    /// attempt (`None` when unknown: not an item operation, or no routing map to be had).
    pub(crate) partition: Option<PartitionRoute>,
}

/// A successful response.
#[derive(Debug, Clone)]
pub(crate) struct Success {
    pub(crate) status: u16,
    pub(crate) body: Bytes,
    pub(crate) endpoint: Endpoint,
    pub(crate) attempts: u32,
    /// The response headers (continuation, request charge...).
    pub(crate) headers: http::HeaderMap,
    /// Charge, ids, token, etag and where it was served.
    pub(crate) metadata: ResponseMetadata,
}

impl Operation {
    pub(crate) fn read(target: Target) -> Self {
        Self {
            method: Method::GET,
            target,
            kind: OperationKind::Read,
            idempotent: true,
            headers: Vec::new(),
            body: None,
            excluded_regions: Vec::new(),
            session: None,
            session_token: None,
            timeout: None,
            availability: None,
            partition: None,
        }
    }

    pub(crate) fn write(
        method: Method,
        target: Target,
        idempotent: bool,
        body: Option<Bytes>,
    ) -> Self {
        Self {
            method,
            target,
            kind: OperationKind::Write,
            idempotent,
            headers: Vec::new(),
            body,
            excluded_regions: Vec::new(),
            session: None,
            session_token: None,
            timeout: None,
            availability: None,
            partition: None,
        }
    }

    /// Takes part in `container`'s session; `send`: carry its token (reads).
    pub(crate) fn session(mut self, container: Arc<str>, send: bool) -> Self {
        self.session = Some(SessionUse { container, send });
        self
    }

    /// Addresses the partition key range `route` (see [`PartitionRoute`]).
    pub(crate) fn routed(mut self, route: Option<PartitionRoute>) -> Self {
        self.partition = route;
        self
    }

    /// The id of the partition key range this operation addresses, if resolved.
    pub(crate) fn range_id(&self) -> Option<&str> {
        self.partition.as_ref().map(PartitionRoute::range_id)
    }

    pub(crate) fn header(mut self, name: Name, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub(crate) fn excluding(mut self, regions: &[RegionName]) -> Self {
        self.excluded_regions.extend_from_slice(regions);
        self
    }

    /// Applies the options every operation takes (regions, deadline, session token,
    /// hedging).
    pub(crate) fn with_common(mut self, common: &Common) -> Self {
        self = self.excluding(&common.excluded_regions);
        self.timeout = common.timeout.or(self.timeout);
        self.availability = common.availability.or(self.availability);
        if let Some(token) = &common.session_token {
            self.session_token = Some(token.clone());
        }
        self
    }
}
