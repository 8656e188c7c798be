//! The account registry: one ref-counted entry per account, RAII registrations.
//!
//! Design (issue 19, measured in `benches/RESULTS.md`): a lock-free map (`papaya`, with
//! `foldhash`) from key to an `Arc`'d entry; each entry guards its own subscriber list with
//! its own mutex. Joining a registered account is a lock-free lookup plus that entry's
//! mutex, so registrations of different accounts never share a lock word. A
//! [`Registration`] holds its entry, so dropping it needs no lookup unless it is the
//! entry's last one. An entry whose list empties is dead for good: it is unlinked from the
//! map, never revived, and skipped by every reader.

use std::fmt;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use foldhash::fast::RandomState;

mod entry;
mod listed;

use entry::{AccountEntry, EntryState};
pub use entry::{Registration, RegistrationId};
use listed::AccountList;
pub use listed::{ListedAccount, SubscriberLink};

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

type Map<K, S, V> = papaya::HashMap<K, Arc<AccountEntry<K, S, V>>, RandomState>;

struct Inner<K, S, V> {
    map: Map<K, S, V>,
    next_id: AtomicU64,
    /// Serializes creating entries, so racing first registrations call `init` once.
    /// Joining, dropping and snapshots never take it.
    create: Mutex<()>,
    /// The cached result of [`AccountRegistry::accounts`].
    accounts: Mutex<AccountList<K, S, V>>,
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
                map: papaya::HashMap::with_hasher(RandomState::default()),
                next_id: AtomicU64::new(1),
                create: Mutex::new(()),
                accounts: Mutex::new(AccountList {
                    generation: 0,
                    list: None,
                }),
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
    /// `init` runs only when this is the key's first live registration, under the
    /// registry's creation lock: two racing first registrations end with one entry and
    /// one `init` call. `init` must therefore be quick and must not touch this registry.
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
        // Fast path: the account is registered; a lock-free lookup and the entry's mutex.
        let subscriber = match self.inner.get(&key) {
            Some(entry) => match entry.join(id, subscriber) {
                Ok(joined) => return joined,
                Err(subscriber) => subscriber,
            },
            None => subscriber,
        };
        // Slow path: first registration, or the entry died under us. Entries are created
        // only under `create`, so the re-check below cannot race another creation.
        let _create = self.inner.create.lock().unwrap_or_else(|e| e.into_inner());
        let subscriber = match self.inner.get(&key) {
            Some(entry) => match entry.join(id, subscriber) {
                Ok(joined) => return joined,
                Err(subscriber) => subscriber,
            },
            None => subscriber,
        };
        let shared = init(&key);
        let entry = Arc::new(AccountEntry {
            state: Mutex::new(EntryState {
                subscribers: vec![(id, subscriber)],
                shared: Some(shared.clone()),
            }),
            key: key.clone(),
            registry: Arc::downgrade(&self.inner),
        });
        // Replaces a dead entry still linked under this key, if any; its last guard's
        // unlink then finds a different entry and leaves it alone.
        self.inner.map.pin().insert(key, Arc::clone(&entry));
        // After the insert, and outside the creation lock: the stale list it drops may
        // hold values whose Drop registers or deregisters.
        drop(_create);
        self.inner.accounts_changed();
        (Registration { entry, id }, shared)
    }

    /// Clones every account's key, shared value and subscribers.
    ///
    /// Entry locks are taken one at a time and released before this returns; nothing is
    /// called back into the registry while one is held. Later registry changes do not
    /// affect the result.
    pub fn snapshot(&self) -> Vec<AccountSnapshot<K, S, V>>
    where
        S: Clone,
        V: Clone,
    {
        self.inner
            .collect(|entry, shared, subscribers| AccountSnapshot {
                key: entry.key.clone(),
                shared: shared.clone(),
                subscribers: entry::clones(subscribers),
            })
    }

    /// The key and shared value of every account, without subscribers: the cheap form of
    /// [`snapshot`](Self::snapshot) for a tick that does not fan out itself.
    ///
    /// Cached: the list is built only after an account was added or removed, so a tick
    /// over an unchanged set of accounts takes no entry lock and touches no entry, however
    /// many registrations join and leave existing accounts meanwhile. The cache never
    /// outlives an account: removing one clears it before the removal returns.
    pub fn accounts(&self) -> Arc<[ListedAccount<K, S, V>]>
    where
        K: Clone,
        V: Clone,
    {
        let generation = {
            let cached = self.inner.account_list();
            if let Some(list) = &cached.list {
                return Arc::clone(list);
            }
            cached.generation
        };
        let list: Arc<[ListedAccount<K, S, V>]> = self.inner.listed().into();
        let mut cached = self.inner.account_list();
        // An account added or removed while the list was built: return it, keep nothing.
        // A list another builder cached meanwhile is dropped outside the lock.
        let replaced = (cached.generation == generation)
            .then(|| cached.list.replace(Arc::clone(&list)))
            .flatten();
        drop(cached);
        drop(replaced);
        list
    }

    /// The shared value of `key`, if it is registered.
    pub fn shared(&self, key: &K) -> Option<V>
    where
        V: Clone,
    {
        self.inner.with_live(key, |shared, _| shared.clone())
    }

    /// The subscribers of `key` in registration order (empty if not registered).
    pub fn subscribers(&self, key: &K) -> Vec<S>
    where
        S: Clone,
    {
        self.inner
            .with_live(key, |_, subscribers| entry::clones(subscribers))
            .unwrap_or_default()
    }

    /// Number of distinct registered accounts (an account whose last registration is
    /// being dropped at this instant may still be counted).
    pub fn account_count(&self) -> usize {
        self.inner.map.len()
    }

    /// Number of live registrations over all accounts (walks the map: for stats, not
    /// for hot paths).
    pub fn registration_count(&self) -> usize {
        self.inner.registration_count()
    }

    /// Whether no account is registered.
    pub fn is_empty(&self) -> bool {
        self.inner.map.is_empty()
    }
}

impl<K, S, V> Inner<K, S, V>
where
    K: Eq + Hash + Send + Sync + 'static,
    S: Send + Sync + 'static,
    V: Send + Sync + 'static,
{
    /// The entry linked under `key` (live or dead).
    #[inline]
    fn get(&self, key: &K) -> Option<Arc<AccountEntry<K, S, V>>> {
        self.map.pin().get(key).cloned()
    }

    /// Runs `f` on `key`'s live entry under its lock.
    fn with_live<T>(&self, key: &K, f: impl FnOnce(&V, &[(RegistrationId, S)]) -> T) -> Option<T> {
        let map = self.map.pin();
        let state = map.get(key)?.state();
        state
            .live()
            .map(|(shared, subscribers)| f(shared, subscribers))
    }

    /// Maps every live entry with `f`, locking one entry at a time.
    fn collect<T>(
        &self,
        mut f: impl FnMut(&Arc<AccountEntry<K, S, V>>, &V, &[(RegistrationId, S)]) -> T,
    ) -> Vec<T> {
        let map = self.map.pin();
        let mut out = Vec::with_capacity(map.len());
        for entry in map.values() {
            if let Some((shared, subscribers)) = entry.state().live() {
                out.push(f(entry, shared, subscribers));
            }
        }
        out
    }

    fn registration_count(&self) -> usize {
        self.collect(|_, _, subscribers| subscribers.len())
            .into_iter()
            .sum()
    }

    /// Removes registration `id` of `key`, if it is live (a stale id is a no-op).
    #[cfg(test)]
    fn deregister(&self, key: &K, id: RegistrationId) {
        use entry::Member as _;
        if let Some(entry) = self.get(key) {
            entry.leave(id);
        }
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

impl<K, S, V> fmt::Debug for AccountRegistry<K, S, V>
where
    K: Eq + Hash + Send + Sync + 'static,
    S: Send + Sync + 'static,
    V: Send + Sync + 'static,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccountRegistry")
            .field("accounts", &self.inner.map.len())
            .field("registrations", &self.inner.registration_count())
            .finish()
    }
}

#[cfg(test)]
mod tests;
