//! Benchmark 4: Tick cost: one tick over 10,000 registered accounts with an instant fake fetch.
//!
//! The loop records how long each tick took (`RuntimeStats::last_tick`); this benchmark
//! sums those over the ticks it waits for. The baseline is the seed's sequential design:
//! the same fetch-and-install per account, one after another, from a plain loop.
//! Bytes per registration are measured by the `registration_bytes` benchmark.

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use meridian_benches::{
    CountingFetcher, ParsingFetcher, account_body, account_doc, account_endpoint, sequential_pass,
};
use meridian_location_store::{LocationStore, StoreConfig};
use meridian_runtime::{AccountFetcher, AccountHandle, Runtime};

const ACCOUNTS: usize = 10_000;
const INTERVAL: Duration = Duration::from_millis(150);

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .expect("a tokio runtime");
    let shared: Arc<dyn AccountFetcher> =
        Arc::new(CountingFetcher::new(account_doc("tick", 3), Duration::ZERO));
    let parsing: Arc<dyn AccountFetcher> = Arc::new(ParsingFetcher::new(account_body("tick", 3)));
    let mut group = c.benchmark_group("tick_cost");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(200))
        .measurement_time(Duration::from_secs(3));
    // Two fetchers: one hands back the same parsed document (the install's comparison is
    // free: the cost left is pure overhead), one parses and validates the body each time,
    // as a real fetch does (the comparison is real work).
    // Each interval is well above its tick's cost, so ticks never overlap (an overlapping
    // tick would skip accounts still queued and look cheaper than it is).
    for (name, fetcher, interval) in [
        ("same_doc", shared, INTERVAL),
        ("parsed_doc", parsing, Duration::from_millis(600)),
    ] {
        let (runtime, handles): (Runtime, Vec<AccountHandle>) = rt.block_on(async {
            let runtime = Runtime::builder()
                .refresh_interval(interval)
                .jitter_fraction(0.0)
                .concurrency(64)
                .build()
                .expect("runtime settings are valid");
            let mut handles = Vec::with_capacity(ACCOUNTS);
            for i in 0..ACCOUNTS {
                handles.push(
                    runtime
                        .attach(account_endpoint(i), Arc::clone(&fetcher))
                        .await
                        .expect("attach"),
                );
            }
            (runtime, handles)
        });
        group.bench_function(format!("meridian_loop_{name}"), |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        // Cheap polling: `stats()` would walk every account and steal a core.
                        let seen = runtime.ticks();
                        while runtime.ticks() == seen {
                            tokio::time::sleep(Duration::from_millis(5)).await;
                        }
                        total += runtime.last_tick().unwrap_or_default();
                    }
                    total
                })
            });
        });
        rt.block_on(runtime.shutdown());
        drop(handles);

        let stores: Vec<(meridian_location_store::Endpoint, LocationStore)> = (0..ACCOUNTS)
            .map(|i| {
                (
                    account_endpoint(i),
                    LocationStore::new(account_endpoint(i), StoreConfig::default()),
                )
            })
            .collect();
        // The same loop on the loop's schedule: one pass per interval, idle in between, as
        // the runtime's ticks are (memory left idle between passes may be colder).
        group.bench_function(format!("sequential_paced_{name}"), |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        tokio::time::sleep(interval).await;
                        let started = Instant::now();
                        sequential_pass(&stores, fetcher.as_ref()).await;
                        total += started.elapsed();
                    }
                    total
                })
            });
        });
        group.bench_function(format!("sequential_loop_{name}"), |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let started = Instant::now();
                    for _ in 0..iters {
                        sequential_pass(&stores, fetcher.as_ref()).await;
                    }
                    started.elapsed()
                })
            });
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
