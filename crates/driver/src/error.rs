//! The driver's errors: typed, with the status, the regions tried and the attempts.
//!
//! Every `Display` prints its own level only; the cause, if any, is [`source()`]
//! (std::error::Error::source), so a printed chain shows each message once.

use std::fmt;
use std::time::Duration;

use crate::batch_result::BatchFailure;
use crate::decode::DeserializeError;
use crate::metadata::ResponseMetadata;
use crate::options::ConsistencyLevel;
use crate::status::Status;

/// What an operation saw before it stopped.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Failure {
    /// The last status, if the service answered at all.
    pub status: Option<Status>,
    /// The service's `message`, or what went wrong with the transport.
    pub message: String,
    /// Charge, activity id, regions tried and attempts of the operation (boxed: errors
    /// stay small).
    pub metadata: Box<ResponseMetadata>,
}

impl Failure {
    /// Requests sent, retries included.
    pub fn attempts(&self) -> u32 {
        self.metadata.attempts
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.status {
            Some(status) => write!(f, "{status}")?,
            None => f.write_str("no response")?,
        }
        let regions: Vec<&str> = self
            .metadata
            .regions_tried
            .iter()
            .map(|r| r.as_str())
            .collect();
        write!(
            f,
            " after {} attempt(s) in [{}]: {}",
            self.metadata.attempts,
            regions.join(", "),
            self.message
        )
    }
}

/// Which setting of a [`DriverBuilder`](crate::DriverBuilder) (or key rotation) is
/// unusable, and why ([`source()`](std::error::Error::source)).
#[derive(Debug, thiserror::Error)]
#[error("invalid setting `{setting}`")]
#[non_exhaustive]
pub struct ConfigError {
    /// The setting (`account endpoint`, `account key`, `request_timeout`...).
    pub setting: &'static str,
    /// Why it is refused.
    #[source]
    pub reason: ConfigReason,
}

impl ConfigError {
    pub(crate) fn new(setting: &'static str, reason: ConfigReason) -> Self {
        Self { setting, reason }
    }
}

/// Why a setting is refused. Never contains the key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigReason {
    /// Not an absolute http(s) URL.
    #[error("not an absolute http(s) endpoint")]
    Endpoint(#[source] meridian_location_store::EndpointError),
    /// The key is not valid base64, or empty.
    #[error("{0}")]
    Key(&'static str),
    /// A duration or count that must be greater than zero.
    #[error("must be greater than zero")]
    Zero,
    /// A count above the largest value the setting accepts.
    #[error("must be at most {max}")]
    TooLarge {
        /// The largest accepted value.
        max: u64,
    },
    /// A duration above the longest the setting accepts.
    #[error("must be at most {max:?}")]
    TooLong {
        /// The longest accepted value.
        max: Duration,
    },
    /// The TLS configuration could not be built (a refused certificate...).
    #[error("{0}")]
    Tls(String),
    /// A combination the driver does not support (say which).
    #[error("not supported: {0}")]
    Unsupported(&'static str),
}

/// Why a driver operation failed. The account key never appears in any of these.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DriverError {
    /// The configuration is unusable: which setting and why.
    #[error("invalid driver configuration")]
    Config(#[source] ConfigError),
    /// 401: the key, signature or Entra ID token was refused. Not retried.
    #[error("unauthorized; check the account key or token credential ({0})")]
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
    /// The operation's deadline ([`ReadOptions::timeout`](crate::ReadOptions::timeout),
    /// [`ItemOptions::timeout`](crate::ItemOptions::timeout)) passed: the attempt in
    /// flight was abandoned and no retry started. A write may have been applied.
    #[error("the operation's {timeout:?} deadline passed ({failure})")]
    DeadlineExceeded {
        /// The deadline, from the operation's start.
        timeout: Duration,
        /// What the operation saw until then.
        failure: Failure,
    },
    /// An operation of a transactional batch failed, so none of its operations was
    /// applied: which one, with which status, and every operation's result (boxed:
    /// errors stay small).
    #[error("{0}")]
    BatchFailed(Box<BatchFailure>),
    /// The response body was larger than the cap; it was refused, not buffered.
    #[error("the response from {region} is over the {limit}-byte cap")]
    ResponseTooLarge {
        /// The cap ([`DriverBuilder::max_response_bytes`](crate::DriverBuilder::max_response_bytes)).
        limit: usize,
        /// The region (or endpoint) that answered.
        region: String,
    },
    /// The account document the service returned was rejected (malformed, or missing
    /// required fields); see [`AccountError`](crate::AccountError).
    #[error("the account document was rejected")]
    InvalidAccount(#[source] meridian_location_store::AccountError),
    /// A body could not be serialized or a response parsed.
    #[error("serialization failed")]
    Serialization(#[from] serde_json::Error),
    /// A returned item does not deserialize as the caller's type: which item, in which
    /// container, as which type (boxed: errors stay small).
    #[error(transparent)]
    Deserialize(Box<DeserializeError>),
    /// A header value the caller supplied (an `If-Match` etag, a session token, a
    /// partition key...) holds a byte HTTP cannot carry (a control character, DEL).
    /// Nothing was sent: dropping the header instead would change what the request
    /// means (a conditional replace would overwrite any version).
    #[error(
        "the `{header}` value cannot be sent in an HTTP header (control character or DEL); nothing was sent"
    )]
    InvalidHeader {
        /// The header's name.
        header: &'static str,
    },
    /// A partition key value does not fit the container's definition (an array or an
    /// object for a one-path key, more values than a hierarchical key has levels).
    /// Nothing was sent.
    #[error(
        "the partition key {sent} does not fit container `{container}`, which takes {expected}; nothing was sent"
    )]
    PartitionKeyShape {
        /// The container's link.
        container: String,
        /// The shape its definition takes.
        expected: String,
        /// The value sent, as JSON.
        sent: String,
    },
    /// The operation asked for a consistency level stronger than the account's default
    /// (a level may only weaken it). Nothing was sent.
    #[error(
        "{requested} consistency is stronger than the account's default ({account}); nothing was sent"
    )]
    ConsistencyTooStrong {
        /// The level asked for.
        requested: ConsistencyLevel,
        /// The account's default level.
        account: ConsistencyLevel,
    },
    /// The Entra ID token credential gave no usable token (failed, timed out or returned
    /// an expired one). Nothing was sent. Never contains the token.
    #[error("no Entra ID token to sign with")]
    Credential(#[source] crate::entra::CredentialError),
    /// The runtime was shut down: no operation runs and no refresh comes any more.
    #[error("the runtime has been shut down")]
    Shutdown,
    /// A per-account setting differs from the one the account's first driver in this
    /// runtime was built with (leave it unset, or use the same value).
    #[error("`{setting}` conflicts with the account's setting in this runtime")]
    ConflictingSetting {
        /// The setting's name.
        setting: &'static str,
    },
}

impl From<Box<DeserializeError>> for DriverError {
    fn from(error: Box<DeserializeError>) -> Self {
        Self::Deserialize(error)
    }
}

impl From<ConfigError> for DriverError {
    fn from(error: ConfigError) -> Self {
        Self::Config(error)
    }
}

impl DriverError {
    /// The failure details, for errors that carry them.
    pub fn failure(&self) -> Option<&Failure> {
        match self {
            Self::Unauthorized(f)
            | Self::Status(f)
            | Self::UnexpectedStatus(f)
            | Self::Exhausted(f)
            | Self::MaybeApplied(f)
            | Self::DeadlineExceeded { failure: f, .. } => Some(f),
            _ => None,
        }
    }

    /// The last status with its sub-status, if the service answered (for a failed
    /// batch: the failing operation's).
    pub fn typed_status(&self) -> Option<Status> {
        match self {
            Self::BatchFailed(failure) => Some(failure.status),
            _ => self.failure().and_then(|f| f.status),
        }
    }

    /// The last HTTP status code, if any (shorthand for `typed_status().code`).
    pub fn status(&self) -> Option<u16> {
        self.typed_status().map(|s| s.code)
    }

    /// The last sub-status, if any.
    pub fn sub_status(&self) -> Option<u32> {
        self.typed_status().and_then(|s| s.sub_status)
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

    /// The operation's deadline passed.
    pub fn is_timeout(&self) -> bool {
        matches!(self, Self::DeadlineExceeded { .. })
    }
}
