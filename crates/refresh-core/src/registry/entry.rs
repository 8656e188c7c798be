//! One account's registry entry and the RAII [`Registration`] that holds it.

use std::fmt;
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use super::Inner;

/// Identifies one registration. Ids are unique within a registry and strictly increasing
/// in the order registrations were made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RegistrationId(pub(super) u64);

impl RegistrationId {
    /// The raw id, for logs.
    pub fn get(self) -> u64 {
        self.0
    }
}

/// One account: its key, its state under its own lock, and the way back to the map.
pub(super) struct AccountEntry<K, S, V> {
    pub(super) state: Mutex<EntryState<S, V>>,
    pub(super) key: K,
    /// For unlinking the entry when its last registration drops.
    pub(super) registry: Weak<Inner<K, S, V>>,
}

/// An entry's mutable part. No subscriber means dead: the entry is being (or has been)
/// unlinked, must not be joined or reported, and its shared value is already dropped
/// (at once, not when the map reclaims the unlinked entry).
pub(super) struct EntryState<S, V> {
    /// One subscriber per live registration, in registration order.
    pub(super) subscribers: Vec<(RegistrationId, S)>,
    /// `Some` while the entry is live.
    pub(super) shared: Option<V>,
}

/// The subscribers of a subscriber list, cloned, in registration order.
pub(super) fn clones<S: Clone>(subscribers: &[(RegistrationId, S)]) -> Vec<S> {
    subscribers.iter().map(|(_, s)| s.clone()).collect()
}

impl<S, V> EntryState<S, V> {
    /// The shared value and subscribers, if the entry is live.
    pub(super) fn live(&self) -> Option<(&V, &[(RegistrationId, S)])> {
        match &self.shared {
            Some(shared) if !self.subscribers.is_empty() => Some((shared, &self.subscribers)),
            _ => None,
        }
    }
}

impl<K, S, V> AccountEntry<K, S, V> {
    /// The entry's state; every edit is one `push`, `remove` or `take`, so a lock
    /// poisoned by a panicking subscriber `Clone` is still consistent.
    pub(super) fn state(&self) -> MutexGuard<'_, EntryState<S, V>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl<K, S, V> AccountEntry<K, S, V>
where
    K: Eq + Hash + Send + Sync + 'static,
    S: Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// Adds the subscriber and returns the registration and the shared value, unless
    /// the entry is dead: then the subscriber comes back.
    #[inline]
    pub(super) fn join(
        self: Arc<Self>,
        id: RegistrationId,
        subscriber: S,
    ) -> Result<(Registration<K>, V), S> {
        let mut state = self.state();
        let Some((shared, _)) = state.live() else {
            return Err(subscriber);
        };
        let shared = shared.clone();
        state.subscribers.push((id, subscriber));
        drop(state);
        Ok((Registration { entry: self, id }, shared))
    }
}

/// Type-erased membership, so a [`Registration`] is generic over the key only.
pub(super) trait Member<K>: Send + Sync {
    fn key(&self) -> &K;
    fn leave(&self, id: RegistrationId);
}

impl<K, S, V> Member<K> for AccountEntry<K, S, V>
where
    K: Eq + Hash + Send + Sync + 'static,
    S: Send + Sync + 'static,
    V: Send + Sync + 'static,
{
    fn key(&self) -> &K {
        &self.key
    }

    fn leave(&self, id: RegistrationId) {
        let mut state = self.state();
        let Some(position) = state
            .subscribers
            .iter()
            .position(|(sub_id, _)| *sub_id == id)
        else {
            return;
        };
        let removed = state.subscribers.remove(position);
        if !state.subscribers.is_empty() {
            drop(state);
            drop(removed);
            return;
        }
        // The last one: the entry is dead for good. Its shared value goes now, not when
        // the map reclaims the unlinked entry; both are dropped outside the lock, as
        // their Drop may do anything.
        let shared = state.shared.take();
        drop(state);
        drop((removed, shared));
        // No reader reports a dead entry and no registration joins it. Unlink it unless
        // a new entry already replaced it; without the registry, nothing to do.
        if let Some(registry) = self.registry.upgrade() {
            let _ = registry.map.pin().remove_if(&self.key, |_, linked| {
                std::ptr::eq(Arc::as_ptr(linked), self)
            });
            registry.accounts_changed();
        }
    }
}

/// An RAII registration: dropping it removes exactly this registration.
///
/// Removal is keyed by (key, [`RegistrationId`]), so a stale guard never removes a newer
/// registration of the same key. Dropping it after the registry is gone does nothing.
#[must_use = "dropping a Registration deregisters it at once"]
pub struct Registration<K: 'static> {
    /// The entry this registration belongs to: dropping needs no lookup.
    pub(super) entry: Arc<dyn Member<K>>,
    pub(super) id: RegistrationId,
}

impl<K> Registration<K> {
    /// The account key this registration is for.
    pub fn key(&self) -> &K {
        self.entry.key()
    }

    /// This registration's id.
    pub fn id(&self) -> RegistrationId {
        self.id
    }
}

impl<K: fmt::Debug> fmt::Debug for Registration<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registration")
            .field("key", self.key())
            .field("id", &self.id)
            .finish()
    }
}

impl<K: 'static> Drop for Registration<K> {
    fn drop(&mut self) {
        self.entry.leave(self.id);
    }
}
