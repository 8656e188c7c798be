//! Benchmark 1: Registry churn under ticks: 1, 2, 4 or 8 threads register and drop
//! registrations (over 1, 10 and 1,000 accounts) while another thread takes tick snapshots.
//!
//! Meridian's `AccountRegistry` (a lock-free map of entries that each lock only
//! themselves, RAII guards that hold their entry) against a `RwLock<HashMap<Key, Entry>>`
//! registry shaped like the seed's. Throughput is in register+drop pairs per second; the
//! ticker thread ticks every 50 µs throughout, in one of two ways: `registry_churn` ticks
//! as the runtime's loop does (the accounts and their shared values: `accounts()`, and the
//! baseline's keys), `registry_churn_subscribers` as the seed's loop did (every account's
//! subscribers too: `snapshot()`). On a 2-core machine the 4- and 8-thread rows measure the
//! scheduler as much as the registry.
//!
//! Benchmark 1b: Routing while registrations churn: 2 threads route operations through
//! runtime handles of one account (`with_snapshot` + read and write route, the driver's
//! hot path) while a third thread clones and drops handles of that same account, against
//! the same routing with no churn, in the same run.

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier, RwLock};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use meridian_benches::{CountingFetcher, account_doc, account_endpoint};
use meridian_location_store::{Endpoint, OperationKind, RouteRequest};
use meridian_refresh_core::AccountRegistry;
use meridian_runtime::{AccountHandle, Runtime};

/// The baseline: one lock around the whole map, entries ref-counted by a subscriber list.
#[derive(Default)]
struct LockedRegistry {
    map: RwLock<HashMap<Endpoint, Vec<(u64, u64)>>>,
    next_id: AtomicU64,
}

impl LockedRegistry {
    fn register(&self, key: Endpoint, subscriber: u64) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.map
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .entry(key)
            .or_default()
            .push((id, subscriber));
        id
    }

    fn deregister(&self, key: &Endpoint, id: u64) {
        let mut map = self.map.write().unwrap_or_else(|e| e.into_inner());
        if let Some(entry) = map.get_mut(key) {
            entry.retain(|(i, _)| *i != id);
            if entry.is_empty() {
                map.remove(key);
            }
        }
    }

    fn keys(&self) -> Vec<Endpoint> {
        let map = self.map.read().unwrap_or_else(|e| e.into_inner());
        map.keys().cloned().collect()
    }

    fn snapshot(&self) -> Vec<(Endpoint, Vec<u64>)> {
        let map = self.map.read().unwrap_or_else(|e| e.into_inner());
        map.iter()
            .map(|(k, v)| (k.clone(), v.iter().map(|(_, s)| *s).collect()))
            .collect()
    }
}

/// What the ticker reads each tick.
#[derive(Clone, Copy)]
enum Tick {
    /// The accounts (and shared values): what the runtime's loop reads.
    Accounts,
    /// Every account with its subscribers: what the seed's loop read.
    Subscribers,
}

trait Churn: Sync {
    fn churn(&self, key: Endpoint, subscriber: u64);
    fn tick(&self, tick: Tick) -> usize;
}

impl Churn for AccountRegistry<Endpoint, u64> {
    fn churn(&self, key: Endpoint, subscriber: u64) {
        drop(black_box(self.register(key, subscriber)));
    }
    fn tick(&self, tick: Tick) -> usize {
        match tick {
            Tick::Accounts => self.accounts().len(),
            Tick::Subscribers => self.snapshot().len(),
        }
    }
}

impl Churn for LockedRegistry {
    fn churn(&self, key: Endpoint, subscriber: u64) {
        let id = self.register(key.clone(), subscriber);
        self.deregister(&key, id);
    }
    fn tick(&self, tick: Tick) -> usize {
        match tick {
            Tick::Accounts => self.keys().len(),
            Tick::Subscribers => self.snapshot().len(),
        }
    }
}

/// `threads` workers each do `iters` register+drop pairs over `keys` while a ticker
/// snapshots; returns the wall time of the workers. Every worker also holds one
/// long-lived registration per key so entries persist, as drivers do.
fn run(
    registry: &(impl Churn + ?Sized),
    tick: Tick,
    keys: &[Endpoint],
    threads: usize,
    iters: u64,
) -> Duration {
    let barrier = Barrier::new(threads + 1);
    let done = AtomicBool::new(false);
    std::thread::scope(|scope| {
        // The ticker snapshots every 50 µs (a very busy loop; real ticks are seconds
        // apart) instead of spinning, so the 2-core machine is not oversubscribed and the
        // measurement is about lock design rather than the scheduler.
        scope.spawn(|| {
            while !done.load(Ordering::Relaxed) {
                black_box(registry.tick(tick));
                std::thread::sleep(Duration::from_micros(50));
            }
        });
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let barrier = &barrier;
                scope.spawn(move || {
                    barrier.wait();
                    for i in 0..iters {
                        let key = &keys[(i as usize + t * 7) % keys.len()];
                        registry.churn(key.clone(), i);
                    }
                })
            })
            .collect();
        barrier.wait();
        let started = Instant::now();
        for worker in workers {
            let _ = worker.join();
        }
        let elapsed = started.elapsed();
        done.store(true, Ordering::Relaxed);
        elapsed
    })
}

fn bench(c: &mut Criterion) {
    bench_churn(c, "registry_churn", Tick::Accounts);
    bench_churn(c, "registry_churn_subscribers", Tick::Subscribers);
}

fn bench_churn(c: &mut Criterion, name: &str, tick: Tick) {
    let mut group = c.benchmark_group(name);
    group
        .sample_size(20)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2));
    for accounts in [1usize, 10, 1_000] {
        let keys: Vec<Endpoint> = (0..accounts).map(account_endpoint).collect();
        for threads in [1usize, 2, 4, 8] {
            group.throughput(Throughput::Elements(threads as u64));
            let id = format!("{accounts}acct/{threads}thr");
            group.bench_function(BenchmarkId::new("meridian", &id), |b| {
                let registry: AccountRegistry<Endpoint, u64> = AccountRegistry::new();
                let _held: Vec<_> = keys
                    .iter()
                    .map(|k| registry.register(k.clone(), 0))
                    .collect();
                b.iter_custom(|iters| run(&registry, tick, &keys, threads, iters));
            });
            group.bench_function(BenchmarkId::new("rwlock_hashmap", &id), |b| {
                let registry = Arc::new(LockedRegistry::default());
                for k in &keys {
                    registry.register(k.clone(), 0);
                }
                b.iter_custom(|iters| run(&*registry, tick, &keys, threads, iters));
            });
        }
    }
    group.finish();
}

/// One route of each kind through `handle`: the per-operation work of the driver's
/// attempt loop before it sends.
fn route(handle: &AccountHandle) -> usize {
    handle.with_snapshot(|snapshot| {
        let read = snapshot.route(OperationKind::Read, &RouteRequest::default());
        let write = snapshot.route(OperationKind::Write, &RouteRequest::default());
        read.as_str().len() + write.as_str().len()
    })
}

/// 2 threads each do `iters` routes through their own handle of one account; with
/// `churn`, a third thread meanwhile clones and drops handles of that account (16 pairs,
/// then a 50 µs sleep, so it takes a small share of the 2 cores and the row measures
/// interference rather than CPU sharing). Returns the slower router's time.
fn route_while(handles: &[AccountHandle; 2], churn: bool, iters: u64) -> Duration {
    let barrier = Barrier::new(3);
    let done = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let churner = scope.spawn(|| {
            barrier.wait();
            let mut pairs = 0u64;
            while churn && !done.load(Ordering::Relaxed) {
                for _ in 0..16 {
                    drop(black_box(handles[0].clone()));
                }
                pairs += 16;
                std::thread::sleep(Duration::from_micros(50));
            }
            pairs
        });
        let routers: Vec<_> = handles
            .iter()
            .map(|handle| {
                let barrier = &barrier;
                scope.spawn(move || {
                    barrier.wait();
                    let started = Instant::now();
                    for _ in 0..iters {
                        black_box(route(handle));
                    }
                    started.elapsed()
                })
            })
            .collect();
        let slowest = routers
            .into_iter()
            .filter_map(|r| r.join().ok())
            .max()
            .unwrap_or_default();
        done.store(true, Ordering::Relaxed);
        let _ = churner.join();
        slowest
    })
}

fn bench_routing_under_churn(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a tokio runtime");
    let fetcher = Arc::new(CountingFetcher::new(
        account_doc("route", 3),
        Duration::ZERO,
    ));
    // No tick during the run: the loop only runs inside `block_on`, and not for an hour.
    let (runtime, handles) = rt.block_on(async {
        let runtime = Runtime::builder()
            .refresh_interval(Duration::from_secs(3_600))
            .build()
            .expect("runtime settings are valid");
        let first = runtime
            .attach(account_endpoint(0), fetcher)
            .await
            .expect("attach");
        let handles = [first.clone(), first];
        (runtime, handles)
    });
    let mut group = c.benchmark_group("routing_under_churn");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2))
        .throughput(Throughput::Elements(2));
    for (name, churn) in [("quiet", false), ("churn", true)] {
        group.bench_function(BenchmarkId::new(name, "2thr"), |b| {
            b.iter_custom(|iters| route_while(&handles, churn, iters));
        });
    }
    group.finish();
    drop(handles);
    rt.block_on(runtime.shutdown());
}

criterion_group!(benches, bench, bench_routing_under_churn);
criterion_main!(benches);
