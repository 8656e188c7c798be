//! The registry's semantics: shared entries, RAII removal, racing registrations.

use super::*;
use std::collections::HashSet;
use std::sync::Barrier;

type Reg = AccountRegistry<String, u32>;

fn key(s: &str) -> String {
    s.to_string()
}

#[test]
fn registrations_of_one_key_share_one_ref_counted_entry() {
    let registry = Reg::new();
    let a = registry.register(key("acct"), 1);
    let b = registry.register(key("acct"), 2);
    assert_eq!(registry.account_count(), 1);
    assert_eq!(registry.registration_count(), 2);
    assert_eq!(registry.subscribers(&key("acct")), vec![1, 2]);

    drop(a);
    assert_eq!(
        registry.account_count(),
        1,
        "entry must survive while b lives"
    );
    assert_eq!(registry.subscribers(&key("acct")), vec![2]);

    drop(b);
    assert_eq!(registry.account_count(), 0);
    assert_eq!(registry.registration_count(), 0);
}

#[test]
fn shared_value_is_created_once_and_recreated_after_the_entry_dies() {
    let registry: AccountRegistry<String, (), Arc<u32>> = AccountRegistry::new();
    let mut inits = 0;
    let (a, va) = registry.register_with(key("acct"), (), |_| {
        inits += 1;
        Arc::new(7)
    });
    let (b, vb) = registry.register_with(key("acct"), (), |_| {
        inits += 1;
        Arc::new(8)
    });
    assert_eq!(inits, 1);
    assert!(Arc::ptr_eq(&va, &vb));
    drop((a, b));
    let (_c, vc) = registry.register_with(key("acct"), (), |_| Arc::new(9));
    assert_eq!(*vc, 9, "a dead entry's shared value is not resurrected");
}

#[test]
fn stale_id_deregistration_is_a_no_op() {
    let registry = Reg::new();
    let live = registry.register(key("acct"), 1);
    // A guard from an earlier life of this key: same key, an id that is not live.
    registry
        .inner
        .deregister(&key("acct"), RegistrationId(live.id().get() + 1000));
    assert_eq!(registry.subscribers(&key("acct")), vec![1]);
    assert_eq!(registry.registration_count(), 1);
    drop(live);
    assert!(registry.is_empty());
}

#[test]
fn dropping_the_losing_duplicate_keeps_the_survivor_refreshing() {
    // The seed's hazard: two drivers race to register one account, the loser is dropped.
    let registry = Reg::new();
    let survivor = registry.register(key("acct"), 1);
    let loser = registry.register(key("acct"), 2);
    drop(loser);
    let snapshot = registry.snapshot();
    assert_eq!(snapshot.len(), 1);
    assert_eq!(snapshot[0].subscribers, vec![1]);
    drop(survivor);
}

#[test]
fn old_guard_dropped_after_reregistration_keeps_the_new_one() {
    let registry = Reg::new();
    let old = registry.register(key("acct"), 1);
    let new = registry.register(key("acct"), 2);
    assert!(new.id() > old.id());
    drop(old);
    assert_eq!(registry.subscribers(&key("acct")), vec![2]);
    drop(new);
}

#[test]
fn registration_dropped_after_the_registry_is_a_no_op() {
    let registry = Reg::new();
    let reg = registry.register(key("acct"), 1);
    drop(registry);
    drop(reg);
}

#[test]
fn snapshot_is_unaffected_by_later_mutation() {
    let registry = Reg::new();
    let a = registry.register(key("a"), 1);
    let snapshot = registry.snapshot();
    let _b = registry.register(key("b"), 2);
    let _a2 = registry.register(key("a"), 3);
    drop(a);
    assert_eq!(snapshot.len(), 1);
    assert_eq!(snapshot[0].key, "a");
    assert_eq!(snapshot[0].subscribers, vec![1]);
    assert_eq!(registry.account_count(), 2);
}

#[test]
fn ids_are_unique_and_monotonic() {
    let registry = Reg::new();
    let regs: Vec<_> = (0..100)
        .map(|i| registry.register(format!("k{}", i % 7), i))
        .collect();
    for pair in regs.windows(2) {
        assert!(pair[0].id() < pair[1].id());
    }
}

#[test]
fn concurrent_register_drop_and_snapshot_ends_empty_with_no_phantoms() {
    const THREADS: usize = 4;
    const ROUNDS: usize = 4_000;
    let registry = Reg::new();
    let barrier = Barrier::new(THREADS + 1);
    let done = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        let snapshotter = {
            let registry = registry.clone();
            let (barrier, done) = (&barrier, &done);
            scope.spawn(move || {
                barrier.wait();
                let mut snapshots = 0u64;
                while !done.load(Ordering::Acquire) {
                    for account in registry.snapshot() {
                        assert!(!account.subscribers.is_empty(), "phantom empty entry");
                        let unique: HashSet<_> = account.subscribers.iter().collect();
                        assert_eq!(unique.len(), account.subscribers.len());
                    }
                    snapshots += 1;
                }
                snapshots
            })
        };
        let writers: Vec<_> = (0..THREADS)
            .map(|t| {
                let registry = registry.clone();
                let barrier = &barrier;
                scope.spawn(move || {
                    barrier.wait();
                    let mut held = std::collections::VecDeque::new();
                    for i in 0..ROUNDS {
                        // Threads overlap on a small key space so entries are shared.
                        let subscriber = (t * ROUNDS + i) as u32;
                        held.push_back((
                            subscriber,
                            registry.register(format!("k{}", i % 5), subscriber),
                        ));
                        if i % 3 == 0 {
                            drop(held.pop_front());
                        }
                    }
                    // No lost registration: every live guard's subscriber is visible.
                    let mut visible: std::collections::HashMap<String, HashSet<u32>> =
                        std::collections::HashMap::new();
                    for (subscriber, reg) in &held {
                        let set = visible.entry(reg.key().clone()).or_insert_with(|| {
                            registry.subscribers(reg.key()).into_iter().collect()
                        });
                        assert!(set.contains(subscriber));
                    }
                })
            })
            .collect();
        for writer in writers {
            writer.join().unwrap();
        }
        done.store(true, Ordering::Release);
        assert!(snapshotter.join().unwrap() > 0);
    });
    assert!(registry.is_empty());
    assert_eq!(registry.registration_count(), 0);
}

#[test]
fn entries_never_appear_empty_while_their_last_registration_drops() {
    // Register-and-drop on a few keys with no other holder: every drop removes the last
    // subscriber, the moment a torn removal would show a snapshot an empty entry.
    const THREADS: usize = 2;
    const ROUNDS: usize = 50_000;
    let registry = Reg::new();
    let done = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        let snapshotter = scope.spawn(|| {
            let mut seen = 0u64;
            while !done.load(Ordering::Acquire) {
                for account in registry.snapshot() {
                    assert!(
                        !account.subscribers.is_empty(),
                        "a snapshot saw an empty entry"
                    );
                    seen += 1;
                }
            }
            seen
        });
        let writers: Vec<_> = (0..THREADS)
            .map(|t| {
                let registry = registry.clone();
                scope.spawn(move || {
                    for i in 0..ROUNDS {
                        drop(registry.register(format!("k{}", (i + t) % 3), i as u32));
                    }
                })
            })
            .collect();
        for writer in writers {
            writer.join().unwrap();
        }
        done.store(true, Ordering::Release);
        assert!(
            snapshotter.join().unwrap() > 0,
            "the snapshotter saw live entries"
        );
    });
    assert!(registry.is_empty());
}

#[test]
fn the_shared_value_is_dropped_when_the_last_registration_drops() {
    // The map may reclaim an unlinked entry later; the shared value (the runtime's
    // account state) must not wait for that.
    let registry: AccountRegistry<String, (), Arc<u32>> = AccountRegistry::new();
    let value = Arc::new(7);
    let (a, _) = registry.register_with(key("acct"), (), |_| Arc::clone(&value));
    let (b, _) = registry.register_with(key("acct"), (), |_| Arc::new(0));
    drop(a);
    assert_eq!(Arc::strong_count(&value), 2, "live while b is");
    drop(b);
    assert_eq!(
        Arc::strong_count(&value),
        1,
        "dropped with the last registration"
    );
    assert!(registry.is_empty());
}

/// A subscriber that registers its key again from its own `Drop`, i.e. while its entry is
/// dead but possibly still linked in the map.
struct Reregister {
    registry: Option<AccountRegistry<String, Reregister, Arc<u32>>>,
    out: Arc<std::sync::Mutex<Vec<Registration<String>>>>,
}

impl Drop for Reregister {
    fn drop(&mut self) {
        if let Some(registry) = self.registry.take() {
            let subscriber = Reregister {
                registry: None,
                out: Arc::clone(&self.out),
            };
            let (reg, _) = registry.register_with(key("acct"), subscriber, |_| Arc::new(2));
            self.out.lock().unwrap_or_else(|e| e.into_inner()).push(reg);
        }
    }
}

#[test]
fn registering_while_the_last_registration_drops_keeps_the_new_entry() {
    let registry: AccountRegistry<String, Reregister, Arc<u32>> = AccountRegistry::new();
    let out = Arc::new(std::sync::Mutex::new(Vec::new()));
    let first = Reregister {
        registry: Some(registry.clone()),
        out: Arc::clone(&out),
    };
    let (old, _) = registry.register_with(key("acct"), first, |_| Arc::new(1));
    drop(old);
    // The re-registration made a fresh entry (init ran again); unlinking the dead one
    // must not have removed it.
    assert_eq!(registry.account_count(), 1);
    assert_eq!(registry.registration_count(), 1);
    assert_eq!(registry.shared(&key("acct")).as_deref(), Some(&2));
    let new = out.lock().unwrap_or_else(|e| e.into_inner()).pop();
    drop(new);
    assert!(registry.is_empty());
}

#[test]
fn racing_first_registrations_create_one_entry_with_one_init() {
    const THREADS: usize = 4;
    for round in 0..200 {
        let registry: AccountRegistry<String, usize, Arc<usize>> = AccountRegistry::new();
        let inits = std::sync::atomic::AtomicUsize::new(0);
        let barrier = Barrier::new(THREADS);
        let shared: Vec<_> = std::thread::scope(|scope| {
            let threads: Vec<_> = (0..THREADS)
                .map(|t| {
                    let (registry, inits, barrier) = (&registry, &inits, &barrier);
                    scope.spawn(move || {
                        barrier.wait();
                        registry.register_with(format!("k{round}"), t, |_| {
                            inits.fetch_add(1, Ordering::Relaxed);
                            Arc::new(t)
                        })
                    })
                })
                .collect();
            threads.into_iter().filter_map(|t| t.join().ok()).collect()
        });
        assert_eq!(inits.load(Ordering::Relaxed), 1);
        assert_eq!(registry.account_count(), 1);
        assert_eq!(registry.registration_count(), THREADS);
        assert!(shared.iter().all(|(_, v)| Arc::ptr_eq(v, &shared[0].1)));
    }
}

#[test]
fn accounts_are_cached_until_an_account_is_added_or_removed() {
    let registry = Reg::new();
    let a = registry.register(key("a"), 1);
    let first = registry.accounts();
    assert_eq!(first.len(), 1);
    // Joining and leaving an existing account leaves the list as it was.
    let a2 = registry.register(key("a"), 2);
    drop(a2);
    assert!(Arc::ptr_eq(&first, &registry.accounts()), "reused");

    let b = registry.register(key("b"), 3);
    let added = registry.accounts();
    assert!(!Arc::ptr_eq(&first, &added), "rebuilt after an addition");
    let mut keys: Vec<&str> = added.iter().map(|a| a.key.as_str()).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["a", "b"]);

    drop(a);
    let removed = registry.accounts();
    assert_eq!(removed.len(), 1);
    assert_eq!(removed[0].key, "b");
    let link = removed[0].link();
    assert_eq!(link.subscribers(), vec![3], "read through the entry");
    drop(b);
    assert!(link.subscribers().is_empty(), "gone with the account");
    assert!(registry.accounts().is_empty());
}

#[test]
fn the_cached_account_list_never_keeps_a_removed_accounts_value() {
    let registry: AccountRegistry<String, (), Arc<u32>> = AccountRegistry::new();
    let value = Arc::new(7);
    let (a, _) = registry.register_with(key("acct"), (), |_| Arc::clone(&value));
    let link = registry.accounts()[0].link();
    assert_eq!(link.subscribers(), vec![()], "read through the link");
    assert_eq!(
        Arc::strong_count(&value),
        3,
        "the entry's and the cached list's"
    );
    drop(a);
    assert_eq!(
        Arc::strong_count(&value),
        1,
        "dropped with the last registration, the link notwithstanding"
    );
    assert!(link.subscribers().is_empty(), "gone with the account");
}

#[test]
fn accounts_built_while_accounts_change_are_never_kept_stale() {
    const THREADS: usize = 3;
    const ROUNDS: usize = 3_000;
    let registry = Reg::new();
    let done = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        let reader = scope.spawn(|| {
            let mut lists = 0u64;
            while !done.load(Ordering::Acquire) {
                let list = registry.accounts();
                let unique: HashSet<_> = list.iter().map(|a| &a.key).collect();
                assert_eq!(unique.len(), list.len(), "an account listed twice");
                lists += 1;
            }
            lists
        });
        let writers: Vec<_> = (0..THREADS)
            .map(|t| {
                let registry = registry.clone();
                scope.spawn(move || {
                    // Each account is created and removed again and again.
                    for i in 0..ROUNDS {
                        drop(registry.register(format!("k{}", (t + i) % 7), 0));
                    }
                })
            })
            .collect();
        for writer in writers {
            writer.join().unwrap();
        }
        done.store(true, Ordering::Release);
        assert!(reader.join().unwrap() > 0);
    });
    // Every account was removed: a list cached across a change would still show some.
    assert!(registry.accounts().is_empty());
    let kept = registry.register(key("kept"), 1);
    assert_eq!(registry.accounts().len(), 1);
    drop(kept);
}

/// A shared value whose clones count down a shared fuse; the clone that reaches zero
/// removes every other account (whose registrations sit in `victims`).
struct RemoveOthersOnClone {
    key: String,
    fuse: Arc<std::sync::atomic::AtomicUsize>,
    victims: Arc<std::sync::Mutex<Vec<Registration<String>>>>,
}

impl Clone for RemoveOthersOnClone {
    fn clone(&self) -> Self {
        let fired = self
            .fuse
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            == Ok(1);
        if fired {
            let all = std::mem::take(&mut *self.victims.lock().unwrap());
            let (mine, others): (Vec<_>, Vec<_>) =
                all.into_iter().partition(|r| *r.key() == self.key);
            drop(others);
            self.victims.lock().unwrap().extend(mine);
        }
        Self {
            key: self.key.clone(),
            fuse: Arc::clone(&self.fuse),
            victims: Arc::clone(&self.victims),
        }
    }
}

#[test]
fn an_account_list_built_across_a_removal_is_not_cached() {
    const ACCOUNTS: usize = 4;
    let registry: AccountRegistry<String, (), RemoveOthersOnClone> = AccountRegistry::new();
    let fuse = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let victims = Arc::new(std::sync::Mutex::new(Vec::new()));
    for i in 0..ACCOUNTS {
        let (registration, _) =
            registry.register_with(key(&format!("k{i}")), (), |k| RemoveOthersOnClone {
                key: k.clone(),
                fuse: Arc::clone(&fuse),
                victims: Arc::clone(&victims),
            });
        victims.lock().unwrap().push(registration);
    }
    // The build clones each account's value once: the last clone removes the other
    // three, which the list already holds.
    fuse.store(ACCOUNTS, Ordering::SeqCst);
    assert_eq!(
        registry.accounts().len(),
        ACCOUNTS,
        "built before the removal"
    );
    assert_eq!(registry.account_count(), 1);
    assert_eq!(
        registry.accounts().len(),
        1,
        "not served from a stale cache"
    );
    victims.lock().unwrap().clear();
    assert!(registry.accounts().is_empty());
}
