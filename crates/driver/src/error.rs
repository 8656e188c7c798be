//! The driver's errors: typed, with the status, sub-status, regions and attempts.

use std::fmt;

/// What an operation saw before it stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Failure {
    /// The last HTTP status, if the service answered at all.
    pub status: Option<u16>,
    /// The last `x-ms-substatus`.
    pub sub_status: Option<u32>,
    /// Regions (or endpoints, before the topology is known) tried, in order.
    pub regions_tried: Vec<String>,
    /// Requests sent, retries included.
    pub attempts: u32,
    /// The service's `message`, or the transport error.
    pub message: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.status, self.sub_status) {
            (Some(status), Some(sub)) => write!(f, "HTTP {status}/{sub}")?,
            (Some(status), None) => write!(f, "HTTP {status}")?,
            (None, _) => f.write_str("no response")?,
        }
        write!(
            f,
            " after {} attempt(s) in [{}]: {}",
            self.attempts,
            self.regions_tried.join(", "),
            self.message
        )
    }
}

/// Why a driver operation failed. The account key never appears in any of these.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DriverError {
    /// The configuration is unusable (endpoint, key, certificate...).
    #[error("invalid driver configuration: {0}")]
    Config(String),
    /// 401: the key or signature was refused. Not retried.
    #[error("unauthorized; check the account key ({0})")]
    Unauthorized(Failure),
    /// A final answer from the service that is not success (404, 409, 412, other 4xx).
    #[error("the service refused the request: {0}")]
    Status(Failure),
    /// The service answered with a status that is neither success nor an error it
    /// gives: a redirect (3xx), an informational status (1xx), or one outside 100–599.
    /// Only 2xx is success. Redirects are never followed: the service never redirects,
    /// so one comes from something in between (a proxy, a captive portal).
    #[error("unexpected HTTP status (only 2xx is success; redirects are not followed): {0}")]
    UnexpectedStatus(Failure),
    /// Retries ran out (regional failures, failovers, throttling or transport errors).
    #[error("retries exhausted: {0}")]
    Exhausted(Failure),
    /// A non-idempotent write failed after it may have been applied; it was not retried
    /// so that it cannot be applied twice. Read before writing again.
    #[error("the write may or may not have been applied: {0}")]
    MaybeApplied(Failure),
    /// The response body was larger than the cap; it was refused, not buffered.
    #[error("the response from {region} is over the {limit}-byte cap")]
    ResponseTooLarge {
        /// The cap ([`DriverBuilder::max_response_bytes`](crate::DriverBuilder::max_response_bytes)).
        limit: usize,
        /// The region (or endpoint) that answered.
        region: String,
    },
    /// The account document the service returned was rejected (malformed, or missing
    /// required fields); see [`AccountError`](meridian_location_store::AccountError).
    #[error("the account document was rejected: {0}")]
    InvalidAccount(#[source] meridian_location_store::AccountError),
    /// A body could not be serialized or a response parsed.
    #[error("serialization: {0}")]
    Serialization(#[from] serde_json::Error),
    /// The runtime was shut down: no operation runs and no refresh comes any more.
    #[error("the runtime has been shut down")]
    ShutDown,
    /// A per-account setting differs from the one the account's first driver in this
    /// runtime was built with (leave it unset, or use the same value).
    #[error("`{setting}` conflicts with the account's setting in this runtime")]
    ConflictingSetting {
        /// The setting's name.
        setting: &'static str,
    },
}

impl DriverError {
    /// The failure details, for errors that carry them.
    pub fn failure(&self) -> Option<&Failure> {
        match self {
            Self::Unauthorized(f)
            | Self::Status(f)
            | Self::UnexpectedStatus(f)
            | Self::Exhausted(f)
            | Self::MaybeApplied(f) => Some(f),
            _ => None,
        }
    }

    /// The last HTTP status, if any.
    pub fn status(&self) -> Option<u16> {
        self.failure().and_then(|f| f.status)
    }

    /// The last sub-status, if any.
    pub fn sub_status(&self) -> Option<u32> {
        self.failure().and_then(|f| f.sub_status)
    }

    /// 404 Not Found.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::Status(_)) && self.status() == Some(404)
    }

    /// 409 Conflict.
    pub fn is_conflict(&self) -> bool {
        matches!(self, Self::Status(_)) && self.status() == Some(409)
    }

    /// 412 Precondition Failed (an `If-Match` mismatch).
    pub fn is_precondition_failed(&self) -> bool {
        matches!(self, Self::Status(_)) && self.status() == Some(412)
    }
}
