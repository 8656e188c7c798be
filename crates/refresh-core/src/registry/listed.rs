//! The account list a tick reads: [`ListedAccount`]s, cached in the registry until an
//! account is added or removed, each linked to its entry so its live subscribers can be
//! read later without a lookup ([`SubscriberLink`]).

use std::fmt;
use std::hash::Hash;
use std::sync::{Arc, MutexGuard};

use super::Inner;
use super::entry::{self, AccountEntry};

/// The account list a tick reads, cached until an account is added or removed.
pub(super) struct AccountList<K, S, V> {
    /// Bumped by every addition or removal, so a list built across one is not kept.
    pub(super) generation: u64,
    pub(super) list: Option<Arc<[ListedAccount<K, S, V>]>>,
}

/// One account of the list a tick reads
/// ([`AccountRegistry::accounts`](super::AccountRegistry::accounts)): its key and shared
/// value, and a link to its entry, so that its live subscribers can be read later (when its
/// refresh starts) without a lookup.
pub struct ListedAccount<K, S, V> {
    /// The account's key.
    pub key: K,
    /// The account's shared value.
    pub shared: V,
    pub(super) entry: Arc<AccountEntry<K, S, V>>,
}

impl<K, S, V> ListedAccount<K, S, V>
where
    K: Send + Sync + 'static,
    S: Clone + Send + Sync + 'static,
    V: Send + Sync + 'static,
{
    /// A link to this account's entry alone, to read its subscribers later without
    /// holding the whole list (nor any account's shared value).
    pub fn link(&self) -> SubscriberLink<S> {
        SubscriberLink(Arc::clone(&self.entry) as Arc<dyn LiveSubscribers<S>>)
    }
}

/// A link to one account's registry entry: its live subscribers, read without a lookup.
/// It keeps the entry (its key and subscriber list) alive, not the account's shared
/// value, which its last registration drops as always.
pub struct SubscriberLink<S>(Arc<dyn LiveSubscribers<S>>);

impl<S> SubscriberLink<S> {
    /// The account's live subscribers now, oldest first; none once the account is gone.
    pub fn subscribers(&self) -> Vec<S> {
        self.0.live_subscribers()
    }
}

impl<S> fmt::Debug for SubscriberLink<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SubscriberLink").finish_non_exhaustive()
    }
}

/// Type-erased entry access, so a [`SubscriberLink`] names the subscriber type only.
trait LiveSubscribers<S>: Send + Sync {
    fn live_subscribers(&self) -> Vec<S>;
}

impl<K, S, V> LiveSubscribers<S> for AccountEntry<K, S, V>
where
    K: Send + Sync,
    S: Clone + Send + Sync,
    V: Send + Sync,
{
    fn live_subscribers(&self) -> Vec<S> {
        self.state()
            .live()
            .map(|(_, subscribers)| entry::clones(subscribers))
            .unwrap_or_default()
    }
}

impl<K: fmt::Debug, S, V> fmt::Debug for ListedAccount<K, S, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ListedAccount")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl<K, S, V> Inner<K, S, V>
where
    K: Eq + Hash + Send + Sync + 'static,
    S: Send + Sync + 'static,
    V: Send + Sync + 'static,
{
    /// Every live account, linked to its entry.
    pub(super) fn listed(&self) -> Vec<ListedAccount<K, S, V>>
    where
        K: Clone,
        V: Clone,
    {
        self.collect(|entry, shared, _| ListedAccount {
            key: entry.key.clone(),
            shared: shared.clone(),
            entry: Arc::clone(entry),
        })
    }

    pub(super) fn account_list(&self) -> MutexGuard<'_, AccountList<K, S, V>> {
        self.accounts.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// An account was added or removed: the cached list is stale. Its shared values are
    /// dropped outside the lock (their Drop may do anything).
    pub(super) fn accounts_changed(&self) {
        let stale = {
            let mut cached = self.account_list();
            cached.generation = cached.generation.wrapping_add(1);
            cached.list.take()
        };
        drop(stale);
    }
}
