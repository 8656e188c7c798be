//! A driver's credential: its master key (swappable in place by `Driver::rotate_key`) or an
//! Entra ID token credential's runtime-wide cache; either way, what signs the next request.

use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::BuildHasher;
use std::sync::{Arc, OnceLock, PoisonError, RwLock};

use http::HeaderValue;

use crate::entra::{CredentialError, TokenCache};
use crate::signing::MasterKey;

/// What signs one request: a master key (per request), or a token's header value.
#[derive(Clone)]
pub(crate) enum Signer {
    /// HMAC over the request with the master key.
    Key(Arc<MasterKey>),
    /// The Entra ID token's `authorization` value, the same for every request.
    Token(HeaderValue),
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Signer(<redacted>)")
    }
}

/// The credential a driver signs with now, shared by its operations and its refresh
/// fetcher, with an opaque id that names it without revealing it. `Debug` shows neither.
pub(crate) enum Credential {
    /// A master key and its id.
    Key(RwLock<(Arc<MasterKey>, u64)>),
    /// An Entra ID token credential's cache, shared runtime-wide.
    Token(Arc<TokenCache>),
}

impl Credential {
    pub(crate) fn new(key: MasterKey) -> Self {
        let id = fingerprint(&key);
        Self::Key(RwLock::new((Arc::new(key), id)))
    }

    /// What to sign the next request with, when that takes no wait: the key, or a token
    /// not yet due for a refresh. `None`: ask [`signer`](Self::signer).
    pub(crate) fn signer_now(&self) -> Option<Signer> {
        match self {
            Self::Key(current) => Some(Signer::Key(Arc::clone(&read(current).0))),
            Self::Token(cache) => cache.fresh().map(Signer::Token),
        }
    }

    /// What to sign the next request with: the key at once; a token from the cache
    /// (refreshed first if it must be, within a bounded wait).
    pub(crate) async fn signer(&self) -> Result<Signer, CredentialError> {
        match self {
            Self::Key(current) => Ok(Signer::Key(Arc::clone(&read(current).0))),
            Self::Token(cache) => cache.authorization().await.map(Signer::Token),
        }
    }

    /// An id equal for equal keys (or the same token credential) within this process and
    /// meaningless outside it: a hash keyed with a per-process random seed.
    pub(crate) fn id(&self) -> u64 {
        match self {
            Self::Key(current) => read(current).1,
            Self::Token(cache) => cache.id(),
        }
    }

    /// Signs every later request with `key`; `false` (nothing changed) for a driver that
    /// signs with a token credential.
    pub(crate) fn replace(&self, key: MasterKey) -> bool {
        let Self::Key(current) = self else {
            return false;
        };
        let id = fingerprint(&key);
        *current.write().unwrap_or_else(PoisonError::into_inner) = (Arc::new(key), id);
        true
    }
}

fn read(
    current: &RwLock<(Arc<MasterKey>, u64)>,
) -> std::sync::RwLockReadGuard<'_, (Arc<MasterKey>, u64)> {
    // A swap cannot be observed half-done; a poisoned lock still holds a whole key.
    current.read().unwrap_or_else(PoisonError::into_inner)
}

fn fingerprint(key: &MasterKey) -> u64 {
    static SEED: OnceLock<RandomState> = OnceLock::new();
    SEED.get_or_init(RandomState::new).hash_one(key.bytes())
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Credential(<redacted>)")
    }
}
