//! What the runtime needs from the transport: fetch an account document, probe an endpoint.

use std::error::Error;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use meridian_location_store::{AccountError, Endpoint, PkRangesError, ValidatedAccount};

/// A boxed, sendable future returned by an [`AccountFetcher`].
pub type FetchFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, FetchError>> + Send + 'a>>;

/// The I/O the runtime delegates: the driver implements it with signed HTTP requests;
/// tests implement it with fakes. The runtime bounds every call with its per-fetch
/// timeout, so an implementation need not (but may) time out by itself.
pub trait AccountFetcher: Send + Sync + 'static {
    /// `GET /` on `endpoint` (the account endpoint or a regional one), parsed and
    /// validated ([`ValidatedAccount::from_slice`]).
    fn fetch_account<'a>(&'a self, endpoint: &'a Endpoint) -> FetchFuture<'a, ValidatedAccount>;

    /// Whether `endpoint` answers again (a `GET /` there, typically). Used to gate
    /// failback of an endpoint whose unavailability mark expired.
    fn probe<'a>(&'a self, endpoint: &'a Endpoint) -> FetchFuture<'a, ()>;

    /// An opaque, non-secret identifier of the credential this fetcher signs with now
    /// (never the key itself). Handles whose fetchers report the same id count as one
    /// credential when a refresh falls back after a 401. `None` (the default): every
    /// fetcher instance is its own credential.
    fn credential_id(&self) -> Option<u64> {
        None
    }
}

/// Why a fetch or a probe failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// No answer within the runtime's per-fetch timeout.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// The service answered with an error status.
    #[error("HTTP {status}{}", sub_status.map(|s| format!(" (sub-status {s})")).unwrap_or_default())]
    Status {
        /// HTTP status.
        status: u16,
        /// `x-ms-substatus`, if any.
        sub_status: Option<u32>,
    },
    /// The body was not a valid account document.
    #[error("invalid account document")]
    Document(#[from] AccountError),
    /// The body was not a valid list of partition key ranges.
    #[error("invalid partition key ranges")]
    PartitionKeyRanges(#[from] PkRangesError),
    /// The body was larger than the transport accepts.
    #[error("response body over the {limit}-byte cap")]
    BodyTooLarge {
        /// The cap.
        limit: usize,
    },
    /// The request could not be completed (refused, reset, TLS, ...).
    #[error("transport error")]
    Transport(#[source] Box<dyn Error + Send + Sync>),
    /// No live handle of the account holds a credential to sign with (every handle was
    /// dropped while the fetch was starting).
    #[error("no live handle holds a credential for this account")]
    NoCredentials,
    /// The fetcher panicked. The runtime caught it, logged it at `error` and keeps
    /// running; the last good topology stays.
    #[error("the fetcher panicked: {message}")]
    Panicked {
        /// The panic's message, if it had one.
        message: String,
    },
}

impl FetchError {
    /// A transport error from any error value.
    pub fn transport(error: impl Into<Box<dyn Error + Send + Sync>>) -> Self {
        Self::Transport(error.into())
    }
}
