//! The account registry: one ref-counted entry per account, RAII registrations.

use std::fmt;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};

use dashmap::DashMap;
use dashmap::mapref::entry::Entry;

/// Identifies one registration. Ids are unique within a registry and strictly increasing
/// in the order registrations were made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RegistrationId(u64);

impl RegistrationId {
    /// The raw id, for logs.
    pub fn get(self) -> u64 {
        self.0
    }
}

/// A registry of accounts, keyed by `K` (an account endpoint in practice).
///
/// Every [`register`](Self::register) call for a key adds a subscriber `S` to that key's
/// single entry; the entry also holds a shared value `V` created by the first
/// registration (the runtime keeps an account's shared state there). The entry lives as
/// long as at least one [`Registration`] for it does.
///
/// Cloning the registry clones a handle: all clones see the same accounts.
///
/// ```
/// use meridian_refresh_core::AccountRegistry;
///
/// let registry: AccountRegistry<&str, u32> = AccountRegistry::new();
/// let first = registry.register("acct", 1);
/// let second = registry.register("acct", 2);
/// drop(first);
/// // The entry stays while a registration is alive, with the survivor's subscriber.
/// assert_eq!(registry.subscribers(&"acct"), vec![2]);
/// drop(second);
/// assert!(registry.is_empty());
/// ```
pub struct AccountRegistry<K, S, V = ()> {
    inner: Arc<Inner<K, S, V>>,
}

struct Inner<K, S, V> {
    map: DashMap<K, AccountEntry<S, V>>,
    next_id: AtomicU64,
}

struct AccountEntry<S, V> {
    shared: V,
    subscribers: Vec<(RegistrationId, S)>,
}

/// One account as seen by a tick: its key, shared value and live subscribers.
///
/// A snapshot owns clones; it holds no lock, so the caller may do I/O while holding it.
#[derive(Debug, Clone)]
pub struct AccountSnapshot<K, S, V = ()> {
    /// The account key.
    pub key: K,
    /// The value shared by all registrations of this account.
    pub shared: V,
    /// One subscriber per live registration, in registration order.
    pub subscribers: Vec<S>,
}

impl<K, S, V> AccountRegistry<K, S, V>
where
    K: Eq + Hash + Clone + Send + Sync + 'static,
    S: Send + Sync + 'static,
    V: Send + Sync + 'static,
{
    /// An empty registry.
    pub fn new() -> Self {
        Self {
            inner: Arc::new(Inner {
                map: DashMap::new(),
                next_id: AtomicU64::new(1),
            }),
        }
    }

    /// Registers `subscriber` for `key`; the first registration of a key creates its
    /// shared value with `V::default()`.
    pub fn register(&self, key: K, subscriber: S) -> Registration<K>
    where
        V: Default + Clone,
    {
        self.register_with(key, subscriber, |_| V::default()).0
    }

    /// Registers `subscriber` for `key` and returns the account's shared value.
    ///
    /// `init` runs only when this is the key's first live registration, while the key's
    /// shard is locked: two racing first registrations end with one entry and one
    /// `init` call. `init` must therefore be quick and must not touch this registry.
    pub fn register_with(
        &self,
        key: K,
        subscriber: S,
        init: impl FnOnce(&K) -> V,
    ) -> (Registration<K>, V)
    where
        V: Clone,
    {
        let id = RegistrationId(self.inner.next_id.fetch_add(1, Ordering::Relaxed));
        // Fast path: the account is registered; no key clone, one shard lock.
        let shared = match self.inner.map.get_mut(&key) {
            Some(mut entry) => {
                entry.subscribers.push((id, subscriber));
                entry.shared.clone()
            }
            // Slow path: first registration (or a race with the last drop). The entry API
            // decides under the shard's write lock.
            None => match self.inner.map.entry(key.clone()) {
                Entry::Occupied(mut occupied) => {
                    let entry = occupied.get_mut();
                    entry.subscribers.push((id, subscriber));
                    entry.shared.clone()
                }
                Entry::Vacant(vacant) => {
                    let shared = init(vacant.key());
                    vacant.insert(AccountEntry {
                        shared: shared.clone(),
                        subscribers: vec![(id, subscriber)],
                    });
                    shared
                }
            },
        };
        let weak: Weak<Inner<K, S, V>> = Arc::downgrade(&self.inner);
        let registry: Weak<dyn Deregister<K>> = weak;
        (Registration { registry, key, id }, shared)
    }

    /// Clones every account's key, shared value and subscribers.
    ///
    /// Shard locks are taken one at a time and released before this returns; nothing is
    /// called back while a lock is held. Later registry changes do not affect the result.
    pub fn snapshot(&self) -> Vec<AccountSnapshot<K, S, V>>
    where
        S: Clone,
        V: Clone,
    {
        let mut accounts = Vec::with_capacity(self.inner.map.len());
        for entry in self.inner.map.iter() {
            accounts.push(AccountSnapshot {
                key: entry.key().clone(),
                shared: entry.shared.clone(),
                subscribers: entry.subscribers.iter().map(|(_, s)| s.clone()).collect(),
            });
        }
        accounts
    }

    /// Clones the key and shared value of every account, without subscribers: the cheap
    /// form of [`snapshot`](Self::snapshot) for a tick that does not fan out itself.
    pub fn accounts(&self) -> Vec<(K, V)>
    where
        V: Clone,
    {
        let mut accounts = Vec::with_capacity(self.inner.map.len());
        for entry in self.inner.map.iter() {
            accounts.push((entry.key().clone(), entry.shared.clone()));
        }
        accounts
    }

    /// The shared value of `key`, if it is registered.
    pub fn shared(&self, key: &K) -> Option<V>
    where
        V: Clone,
    {
        self.inner.map.get(key).map(|entry| entry.shared.clone())
    }

    /// The subscribers of `key` in registration order (empty if not registered).
    pub fn subscribers(&self, key: &K) -> Vec<S>
    where
        S: Clone,
    {
        self.inner
            .map
            .get(key)
            .map(|entry| entry.subscribers.iter().map(|(_, s)| s.clone()).collect())
            .unwrap_or_default()
    }

    /// Number of distinct registered accounts.
    pub fn account_count(&self) -> usize {
        self.inner.map.len()
    }

    /// Number of live registrations over all accounts (walks the map: for stats, not
    /// for hot paths).
    pub fn registration_count(&self) -> usize {
        self.inner
            .map
            .iter()
            .map(|entry| entry.subscribers.len())
            .sum()
    }

    /// Whether no account is registered.
    pub fn is_empty(&self) -> bool {
        self.inner.map.is_empty()
    }
}

impl<K, S, V> Default for AccountRegistry<K, S, V>
where
    K: Eq + Hash + Clone + Send + Sync + 'static,
    S: Send + Sync + 'static,
    V: Send + Sync + 'static,
{
    fn default() -> Self {
        Self::new()
    }
}

impl<K, S, V> Clone for AccountRegistry<K, S, V> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<K: Eq + Hash, S, V> fmt::Debug for AccountRegistry<K, S, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccountRegistry")
            .field("accounts", &self.inner.map.len())
            .field(
                "registrations",
                &self
                    .inner
                    .map
                    .iter()
                    .map(|e| e.subscribers.len())
                    .sum::<usize>(),
            )
            .finish()
    }
}

/// Type-erased removal, so a [`Registration`] is generic over the key only.
trait Deregister<K>: Send + Sync {
    fn deregister(&self, key: &K, id: RegistrationId);
}

impl<K, S, V> Deregister<K> for Inner<K, S, V>
where
    K: Eq + Hash + Clone + Send + Sync,
    S: Send + Sync,
    V: Send + Sync,
{
    fn deregister(&self, key: &K, id: RegistrationId) {
        loop {
            // Common path: other subscribers remain, so only this one is removed, under
            // the shard lock, without cloning the key.
            match self.map.get_mut(key) {
                None => return,
                Some(mut entry) => {
                    let subscribers = &mut entry.subscribers;
                    let last = subscribers.len() == 1 && subscribers[0].0 == id;
                    if !last {
                        subscribers.retain(|(sub_id, _)| *sub_id != id);
                        return;
                    }
                }
            }
            // This is the last subscriber: remove the whole entry in one step, so no
            // snapshot ever sees an empty entry. If a registration slipped in between,
            // go round again and take the common path.
            let removed = self.map.remove_if(key, |_, entry| {
                entry.subscribers.len() == 1 && entry.subscribers[0].0 == id
            });
            if removed.is_some() {
                return;
            }
        }
    }
}

/// An RAII registration: dropping it removes exactly this registration.
///
/// Removal is keyed by (key, [`RegistrationId`]), so a stale guard never removes a newer
/// registration of the same key. Dropping it after the registry is gone does nothing.
#[must_use = "dropping a Registration deregisters it at once"]
pub struct Registration<K: 'static> {
    registry: Weak<dyn Deregister<K>>,
    key: K,
    id: RegistrationId,
}

impl<K> Registration<K> {
    /// The account key this registration is for.
    pub fn key(&self) -> &K {
        &self.key
    }

    /// This registration's id.
    pub fn id(&self) -> RegistrationId {
        self.id
    }
}

impl<K: fmt::Debug> fmt::Debug for Registration<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registration")
            .field("key", &self.key)
            .field("id", &self.id)
            .finish()
    }
}

impl<K: 'static> Drop for Registration<K> {
    fn drop(&mut self) {
        if let Some(registry) = self.registry.upgrade() {
            registry.deregister(&self.key, self.id);
        }
    }
}

#[cfg(test)]
mod tests;
