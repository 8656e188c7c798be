//! Benchmark 3: Trigger storm: 10,000 concurrent triggers for one account on a multi-thread tokio
//! runtime, with a fetch that takes 1 ms.
//!
//! Meridian (refresh gate: one flight, everyone joins) against a naive design where every
//! trigger fetches. Measures the time until every caller has the result, and prints the
//! fetches each design issued.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use futures_util::future::join_all;
use meridian_benches::{CountingFetcher, account_doc, account_endpoint};
use meridian_runtime::{AccountFetcher, Runtime};

const TRIGGERS: usize = 10_000;
const HANDLES: usize = 100;
/// Long enough that the whole storm fits in one window, so late callers are throttled
/// (and see the new topology) instead of starting a second fetch.
const WINDOW: Duration = Duration::from_millis(300);

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .expect("a tokio runtime")
}

/// One storm through the gate; returns (time until every caller has the result, fetches).
async fn meridian_storm() -> (Duration, u64) {
    let runtime = Runtime::builder()
        .refresh_interval(Duration::from_secs(3_600))
        .event_min_interval(WINDOW)
        .build()
        .expect("runtime settings are valid");
    let fetcher = Arc::new(CountingFetcher::new(
        account_doc("storm", 3),
        Duration::from_millis(1),
    ));
    let first = runtime
        .attach(account_endpoint(0), fetcher.clone())
        .await
        .expect("attach");
    let handles: Arc<Vec<_>> = Arc::new((0..HANDLES).map(|_| first.clone()).collect());
    tokio::time::sleep(WINDOW + Duration::from_millis(10)).await; // past the initial fetch's window
    fetcher.set_doc(account_doc("storm-moved", 3)); // the storm's fetch brings a new topology
    let before = fetcher.fetches();
    let started = Instant::now();
    let tasks: Vec<_> = (0..TRIGGERS)
        .map(|i| {
            let handles = Arc::clone(&handles);
            tokio::spawn(async move {
                let handle = &handles[i % HANDLES];
                // Started or joined callers wait for the fetch; throttled ones (arriving
                // after it finished) return at once. All must see the new topology.
                handle.request_refresh().await;
                handle.snapshot().topology_generation()
            })
        })
        .collect();
    let generations: Vec<u64> = join_all(tasks)
        .await
        .into_iter()
        .map(|r| r.unwrap_or(0))
        .collect();
    let elapsed = started.elapsed();
    let fetches = fetcher.fetches() - before;
    assert!(
        generations.iter().all(|g| *g == 2),
        "every caller sees the refreshed topology"
    );
    runtime.shutdown().await;
    (elapsed, fetches)
}

/// Every trigger fetches by itself.
async fn naive_storm() -> (Duration, u64) {
    let fetcher = Arc::new(CountingFetcher::new(
        account_doc("storm", 3),
        Duration::from_millis(1),
    ));
    let endpoint = account_endpoint(0);
    let started = Instant::now();
    let tasks: Vec<_> = (0..TRIGGERS)
        .map(|_| {
            let (fetcher, endpoint) = (Arc::clone(&fetcher), endpoint.clone());
            tokio::spawn(async move { fetcher.fetch_account(&endpoint).await.is_ok() })
        })
        .collect();
    let ok = join_all(tasks)
        .await
        .into_iter()
        .filter(|r| matches!(r, Ok(true)))
        .count();
    assert_eq!(ok, TRIGGERS);
    (started.elapsed(), fetcher.fetches())
}

fn bench(c: &mut Criterion) {
    let rt = runtime();
    let printed = AtomicBool::new(false);
    let mut group = c.benchmark_group("trigger_storm");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(200))
        .measurement_time(Duration::from_secs(3));
    group.bench_function(BenchmarkId::new("meridian_gate", TRIGGERS), |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let (elapsed, fetches) = rt.block_on(meridian_storm());
                assert_eq!(fetches, 1, "a storm costs one fetch");
                total += elapsed;
            }
            total
        });
    });
    group.bench_function(BenchmarkId::new("every_trigger_fetches", TRIGGERS), |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let (elapsed, fetches) = rt.block_on(naive_storm());
                if !printed.swap(true, Ordering::Relaxed) {
                    println!(
                        "trigger_storm fetches: meridian 1, naive {fetches} ({TRIGGERS} triggers)"
                    );
                }
                total += elapsed;
            }
            total
        });
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
