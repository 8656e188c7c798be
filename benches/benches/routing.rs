//! Benchmark 2: Route lookup: `snapshot()` then pick a read and a write endpoint, with 1 and 2
//! reader threads while a writer swaps the topology every millisecond.
//!
//! Meridian's `LocationStore` (ArcSwap'd immutable snapshot) against a
//! `Mutex<(version, RoutingSnapshot)>` + clone design (the seed's cached-snapshot path).

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Barrier, Mutex};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use meridian_benches::{account_doc, account_endpoint};
use meridian_location_store::{
    LocationStore, OperationKind, RouteRequest, RoutingSnapshot, StoreConfig,
};

trait Router: Sync {
    fn lookup(&self) -> usize;
    fn swap(&self, generation: u64);
}

impl Router for LocationStore {
    fn lookup(&self) -> usize {
        let snapshot = self.snapshot();
        let read = snapshot.route(OperationKind::Read, &RouteRequest::default());
        let write = snapshot.route(OperationKind::Write, &RouteRequest::default());
        read.as_str().len() + write.as_str().len()
    }
    fn swap(&self, generation: u64) {
        let _ = self.install(
            account_doc(
                if generation.is_multiple_of(2) {
                    "a"
                } else {
                    "b"
                },
                3,
            ),
            Instant::now(),
        );
    }
}

/// Meridian's cheapest read: `with_snapshot` borrows the published snapshot through an
/// arc-swap guard without touching its reference count (what the driver's hot path uses).
struct Borrowing(LocationStore);

impl Router for Borrowing {
    fn lookup(&self) -> usize {
        self.0.with_snapshot(|snapshot| {
            let read = snapshot.route(OperationKind::Read, &RouteRequest::default());
            let write = snapshot.route(OperationKind::Write, &RouteRequest::default());
            read.as_str().len() + write.as_str().len()
        })
    }
    fn swap(&self, generation: u64) {
        self.0.swap(generation);
    }
}

/// The baseline: the current snapshot behind a mutex, cloned out for every lookup.
struct MutexRouter {
    current: Mutex<(u64, RoutingSnapshot)>,
    source: LocationStore,
}

impl Router for MutexRouter {
    fn lookup(&self) -> usize {
        let (_, snapshot) = self
            .current
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let read = snapshot.route(OperationKind::Read, &RouteRequest::default());
        let write = snapshot.route(OperationKind::Write, &RouteRequest::default());
        read.as_str().len() + write.as_str().len()
    }
    fn swap(&self, generation: u64) {
        self.source.swap(generation);
        let fresh = (*self.source.snapshot()).clone();
        *self.current.lock().unwrap_or_else(|e| e.into_inner()) = (generation, fresh);
    }
}

fn store() -> LocationStore {
    let store = LocationStore::new(account_endpoint(0), StoreConfig::default());
    let _ = store.install(account_doc("a", 3), Instant::now());
    store
}

/// `readers` threads do `iters` lookups each while a writer swaps every millisecond;
/// returns the slowest reader's time.
fn run(router: &(impl Router + ?Sized), readers: usize, iters: u64) -> Duration {
    let barrier = Barrier::new(readers + 1);
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let writer = scope.spawn(|| {
            barrier.wait();
            let mut generation = 0;
            while !stop.load(Ordering::Relaxed) {
                router.swap(generation);
                generation += 1;
                std::thread::sleep(Duration::from_millis(1));
            }
        });
        let workers: Vec<_> = (0..readers)
            .map(|_| {
                scope.spawn(|| {
                    barrier.wait();
                    let started = Instant::now();
                    for _ in 0..iters {
                        black_box(router.lookup());
                    }
                    started.elapsed()
                })
            })
            .collect();
        let slowest = workers
            .into_iter()
            .filter_map(|w| w.join().ok())
            .max()
            .unwrap_or_default();
        stop.store(true, Ordering::Relaxed);
        let _ = writer.join();
        slowest
    })
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("route_lookup");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2));
    for readers in [1usize, 2] {
        group.throughput(Throughput::Elements(1));
        group.bench_function(BenchmarkId::new("meridian_arcswap", readers), |b| {
            let store = store();
            b.iter_custom(|iters| run(&store, readers, iters));
        });
        group.bench_function(BenchmarkId::new("meridian_with_snapshot", readers), |b| {
            let router = Borrowing(store());
            b.iter_custom(|iters| run(&router, readers, iters));
        });
        group.bench_function(BenchmarkId::new("mutex_clone", readers), |b| {
            let source = store();
            let router = MutexRouter {
                current: Mutex::new((0, (*source.snapshot()).clone())),
                source,
            };
            b.iter_custom(|iters| run(&router, readers, iters));
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
