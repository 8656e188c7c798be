//! A driver's credential: its master key, swappable in place by `Driver::rotate_key`.

use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::BuildHasher;
use std::sync::{Arc, OnceLock, PoisonError, RwLock};

use crate::signing::MasterKey;

/// The key a driver signs with now, shared by its operations and its refresh fetcher,
/// with an opaque id that names it without revealing it. `Debug` shows neither.
pub(crate) struct Credential {
    current: RwLock<(Arc<MasterKey>, u64)>,
}

impl Credential {
    pub(crate) fn new(key: MasterKey) -> Self {
        let id = fingerprint(&key);
        Self {
            current: RwLock::new((Arc::new(key), id)),
        }
    }

    /// The key to sign the next request with.
    pub(crate) fn key(&self) -> Arc<MasterKey> {
        Arc::clone(&self.read().0)
    }

    /// An id equal for equal keys within this process and meaningless outside it: a
    /// hash keyed with a per-process random seed, so it says nothing about the key.
    pub(crate) fn id(&self) -> u64 {
        self.read().1
    }

    /// Signs every later request with `key`.
    pub(crate) fn replace(&self, key: MasterKey) {
        let id = fingerprint(&key);
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = (Arc::new(key), id);
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, (Arc<MasterKey>, u64)> {
        // A swap cannot be observed half-done; a poisoned lock still holds a whole key.
        self.current.read().unwrap_or_else(PoisonError::into_inner)
    }
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
