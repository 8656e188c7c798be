//! Entra ID tokens: one cache per token credential per runtime, shared by every driver
//! built with that credential (the same `Arc`) and by the account's refreshes.
//!
//! A token is used until its refresh point (half its lifetime before expiry, at most
//! [`REFRESH_WINDOW`] before); from there the first caller refreshes it while the others
//! keep using the still-valid token; a token is never handed out past its usable point
//! ([`EXPIRY_GUARD`] before expiry) — callers then wait (bounded by [`TOKEN_TIMEOUT`]) for
//! the one refresh in flight. A failed refresh is a typed [`CredentialError`], remembered
//! for [`RETRY_AFTER_FAILURE`] so a failing credential is not called by every request.
//! Expiry is turned into the tokio clock when the token arrives, so a paused clock drives
//! it in tests. The token is never printed.

use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, RwLock, Weak};
use std::time::Duration;

use azure_core::credentials::{AccessToken, TokenCredential};
use azure_core::time::OffsetDateTime;
use http::HeaderValue;
use tokio::time::{Instant, timeout};

use crate::signing::aad_authorization;

/// The scope asked of the credential (the official SDKs' default for every account).
pub const COSMOS_SCOPE: &str = "https://cosmos.azure.com/.default";
/// The longest a token is refreshed ahead of its expiry.
pub const REFRESH_WINDOW: Duration = Duration::from_secs(5 * 60);
/// The longest a token is retired ahead of its expiry (clock skew, time in flight).
pub const EXPIRY_GUARD: Duration = Duration::from_secs(30);
/// The bound on one call of the credential, and on a caller's wait for it.
pub const TOKEN_TIMEOUT: Duration = Duration::from_secs(30);
/// A token living less than this from when it was asked for counts as expired.
const MIN_LIFETIME: Duration = Duration::from_secs(1);
/// How long a failure is answered from memory before the credential is asked again.
pub const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(1);

/// Why no Entra ID token could be had. Never contains the token.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialError {
    /// The credential returned an error.
    #[error("the token credential failed: {0}")]
    Failed(#[source] Arc<azure_core::Error>),
    /// The credential did not answer within [`TOKEN_TIMEOUT`].
    #[error("the token credential gave no token within {0:?}")]
    Timeout(Duration),
    /// The credential returned a token that is already expired (or expires within a
    /// second).
    #[error("the token credential returned a token that has already expired")]
    Expired,
    /// The token cannot be carried in a header.
    #[error("the token credential returned a token that cannot be sent in a header")]
    Unsendable,
}

/// The runtime's token caches, one per credential (runtime extension).
#[derive(Default)]
pub(crate) struct TokenCaches {
    caches: Mutex<HashMap<usize, Weak<TokenCache>>>,
}

impl TokenCaches {
    /// The cache of `credential` (by identity: the same `Arc`), made on first use and
    /// kept while a driver holds it.
    pub(crate) fn cache(&self, credential: &Arc<dyn TokenCredential>) -> Arc<TokenCache> {
        // The address is stable while the cache (holding the credential) lives.
        let address = Arc::as_ptr(credential).cast::<()>().addr();
        let mut caches = self.caches.lock().unwrap_or_else(PoisonError::into_inner);
        caches.retain(|_, cache| cache.strong_count() > 0);
        if let Some(cache) = caches.get(&address).and_then(Weak::upgrade) {
            return cache;
        }
        let cache = Arc::new(TokenCache::new(Arc::clone(credential), address));
        caches.insert(address, Arc::downgrade(&cache));
        cache
    }
}

#[derive(Clone)]
struct Cached {
    /// `type=aad&ver=1.0&sig=<token>`, URL-encoded, marked sensitive.
    header: HeaderValue,
    refresh_at: Instant,
    usable_until: Instant,
}

#[derive(Default)]
struct Slot {
    token: Option<Cached>,
    failure: Option<(Instant, CredentialError)>,
}

/// One credential's token, shared by every driver of it in one runtime.
pub(crate) struct TokenCache {
    credential: Arc<dyn TokenCredential>,
    id: u64,
    slot: RwLock<Slot>,
    /// Held by the one refresh in flight.
    flight: tokio::sync::Mutex<()>,
    calls: AtomicU64,
}

impl fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenCache")
            .field("calls", &self.calls.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl TokenCache {
    fn new(credential: Arc<dyn TokenCredential>, address: usize) -> Self {
        static SEED: OnceLock<RandomState> = OnceLock::new();
        Self {
            credential,
            id: SEED
                .get_or_init(RandomState::new)
                .hash_one(("aad", address)),
            slot: RwLock::new(Slot::default()),
            flight: tokio::sync::Mutex::new(()),
            calls: AtomicU64::new(0),
        }
    }

    /// An id naming this credential (equal for drivers sharing it), meaningless outside
    /// this process.
    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    /// The `authorization` header value, if the token held is not yet due for a refresh
    /// (no wait, nothing to fetch).
    pub(crate) fn fresh(&self) -> Option<HeaderValue> {
        let now = Instant::now();
        self.usable(now)
            .filter(|token| now < token.refresh_at)
            .map(|token| token.header)
    }

    /// The `authorization` header value to send now.
    pub(crate) async fn authorization(&self) -> Result<HeaderValue, CredentialError> {
        let now = Instant::now();
        if let Some(token) = self.usable(now) {
            if now < token.refresh_at {
                return Ok(token.header);
            }
            // In the refresh window: one caller refreshes, the others use this token.
            if let Ok(_flight) = self.flight.try_lock()
                && self.usable(now).is_some_and(|t| now >= t.refresh_at)
                && !self.failed(now)
                && let Err(error) = self.fetch().await
            {
                tracing::warn!(%error, "Entra ID token refresh failed; the current token is used until it expires");
            }
            return Ok(self
                .usable(Instant::now())
                .map_or(token.header, |t| t.header));
        }
        if let Some(error) = self.recent_failure(now) {
            return Err(error);
        }
        let _flight = timeout(TOKEN_TIMEOUT, self.flight.lock())
            .await
            .map_err(|_| CredentialError::Timeout(TOKEN_TIMEOUT))?;
        // Another caller may have refreshed (or failed) while this one waited.
        let now = Instant::now();
        if let Some(token) = self.usable(now) {
            return Ok(token.header);
        }
        if let Some(error) = self.recent_failure(now) {
            return Err(error);
        }
        self.fetch().await
    }

    /// Asks the credential once (bounded) and stores the outcome.
    async fn fetch(&self) -> Result<HeaderValue, CredentialError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let asked_at = Instant::now();
        let wall = OffsetDateTime::now_utc();
        let answer = timeout(
            TOKEN_TIMEOUT,
            self.credential.get_token(&[COSMOS_SCOPE], None),
        )
        .await;
        let result = match answer {
            Err(_) => Err(CredentialError::Timeout(TOKEN_TIMEOUT)),
            Ok(Err(error)) => Err(CredentialError::Failed(Arc::new(error))),
            Ok(Ok(token)) => cached(&token, asked_at, wall),
        };
        let mut slot = self.slot.write().unwrap_or_else(PoisonError::into_inner);
        match result {
            Ok(token) => {
                let header = token.header.clone();
                slot.token = Some(token);
                slot.failure = None;
                Ok(header)
            }
            Err(error) => {
                slot.failure = Some((Instant::now(), error.clone()));
                Err(error)
            }
        }
    }

    fn usable(&self, now: Instant) -> Option<Cached> {
        let slot = self.slot.read().unwrap_or_else(PoisonError::into_inner);
        slot.token.clone().filter(|t| now < t.usable_until)
    }

    fn recent_failure(&self, now: Instant) -> Option<CredentialError> {
        let slot = self.slot.read().unwrap_or_else(PoisonError::into_inner);
        let (at, error) = slot.failure.as_ref()?;
        (now < *at + RETRY_AFTER_FAILURE).then(|| error.clone())
    }

    fn failed(&self, now: Instant) -> bool {
        self.recent_failure(now).is_some()
    }
}

/// The cached form of `token`, asked for at `asked_at` (tokio clock) / `wall`: its
/// lifetime measured from the ask, so time in flight shortens it rather than extends it.
fn cached(
    token: &AccessToken,
    asked_at: Instant,
    wall: OffsetDateTime,
) -> Result<Cached, CredentialError> {
    let lifetime = Duration::try_from(token.expires_on - wall).unwrap_or(Duration::ZERO);
    let guard = EXPIRY_GUARD.min(lifetime / 10);
    let window = REFRESH_WINDOW.min(lifetime / 2);
    let expires_at = asked_at + lifetime;
    if lifetime < MIN_LIFETIME {
        return Err(CredentialError::Expired);
    }
    let mut header = HeaderValue::try_from(aad_authorization(token.token.secret()))
        .map_err(|_| CredentialError::Unsendable)?;
    header.set_sensitive(true);
    Ok(Cached {
        header,
        refresh_at: expires_at - window,
        usable_until: expires_at - guard,
    })
}

#[cfg(test)]
mod tests;
