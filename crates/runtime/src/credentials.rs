//! Whose credentials sign an account's refreshes: the live handles', newest first.
//!
//! Every registration of an account carries the [`AccountFetcher`] it was attached with
//! (the registry's subscriber), and a fetcher signs with its own credential. A flight
//! takes the distinct credentials of the handles alive when it starts, newest first,
//! and on a 401 tries the next one before the fetch counts as failed. A dropped handle's
//! credential leaves the set with its registration; the runtime never sees a key.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use meridian_location_store::Endpoint;

use crate::fetcher::{AccountFetcher, FetchError};

/// Where a flight finds the credentials of an account's live handles when it starts (the
/// runtime's registry; a flight may wait for a slot, so it asks late).
pub(crate) trait CredentialSource: Clone + Send + Sync + 'static {
    /// The credentials of `endpoint`'s live registrations, newest first.
    fn credentials(&self, endpoint: &Endpoint) -> Credentials;
}

/// The distinct credentials of an account's live handles, newest first.
pub(crate) struct Credentials(Vec<Arc<dyn AccountFetcher>>);

impl Credentials {
    /// The distinct credentials of `subscribers` (oldest first, as the registry keeps
    /// them), newest first: one per distinct
    /// [`credential_id`](AccountFetcher::credential_id) (or, for fetchers without one, per
    /// fetcher instance).
    pub(crate) fn newest_first(subscribers: Vec<Arc<dyn AccountFetcher>>) -> Self {
        let mut distinct: Vec<Arc<dyn AccountFetcher>> = Vec::new();
        for fetcher in subscribers.into_iter().rev() {
            if !distinct.iter().any(|seen| same_credential(seen, &fetcher)) {
                distinct.push(fetcher);
            }
        }
        Self(distinct)
    }

    /// Whether there is no credential at all (the account has no live handle).
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Runs `attempt` with the newest credential; while the answer is a 401, with the
    /// next one (counting each extra try in `fallbacks`). Returns the first answer that
    /// is not a 401, or the last 401. With no credential at all:
    /// [`FetchError::NoCredentials`].
    pub(crate) async fn try_each<T, F, Fut>(
        &self,
        fallbacks: &AtomicU64,
        attempt: F,
    ) -> Result<T, FetchError>
    where
        F: Fn(Arc<dyn AccountFetcher>) -> Fut,
        Fut: Future<Output = Result<T, FetchError>>,
    {
        let mut last = Err(FetchError::NoCredentials);
        for (i, fetcher) in self.0.iter().enumerate() {
            if i > 0 {
                fallbacks.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(
                    credential = i,
                    "401 with the newer credential; trying an older one"
                );
            }
            let result = attempt(Arc::clone(fetcher)).await;
            if !is_unauthorized(&result) {
                return result;
            }
            last = result;
        }
        last
    }
}

fn is_unauthorized<T>(result: &Result<T, FetchError>) -> bool {
    matches!(result, Err(FetchError::Status { status: 401, .. }))
}

fn same_credential(a: &Arc<dyn AccountFetcher>, b: &Arc<dyn AccountFetcher>) -> bool {
    match (a.credential_id(), b.credential_id()) {
        (Some(a), Some(b)) => a == b,
        (None, None) => std::ptr::addr_eq(Arc::as_ptr(a), Arc::as_ptr(b)),
        _ => false,
    }
}
