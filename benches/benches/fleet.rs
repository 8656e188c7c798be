//! Benchmark 5: Fleet effect: N drivers (1, 100, 10,000) over M = 10 accounts for 10 ticks on the
//! paused clock.
//!
//! Meridian (one runtime, one loop, one fetch per account per tick) against "one loop per
//! driver" built from the same parts (each driver gets its own runtime, the design before
//! the seed). Prints the fetches each issued per tick and times the 10 ticks.

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use meridian_benches::{CountingFetcher, account_doc, account_endpoint};
use meridian_runtime::Runtime;

const ACCOUNTS: usize = 10;
const TICKS: u32 = 10;
const INTERVAL: Duration = Duration::from_secs(60);

fn paused() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("a paused tokio runtime")
}

fn runtime() -> Runtime {
    Runtime::builder()
        .refresh_interval(INTERVAL)
        .jitter_fraction(0.0)
        .build()
        .expect("runtime settings are valid")
}

/// Runs 10 ticks for `drivers` drivers; returns (time, periodic fetches per tick).
async fn fleet(drivers: usize, one_loop_per_driver: bool) -> (Duration, u64) {
    let fetcher = Arc::new(CountingFetcher::new(
        account_doc("fleet", 3),
        Duration::ZERO,
    ));
    let shared = runtime();
    let mut runtimes = Vec::new();
    let mut handles = Vec::with_capacity(drivers);
    for d in 0..drivers {
        let rt = if one_loop_per_driver {
            runtimes.push(runtime());
            runtimes.last().expect("just pushed")
        } else {
            &shared
        };
        handles.push(
            rt.attach(account_endpoint(d % ACCOUNTS), fetcher.clone())
                .await
                .expect("attach"),
        );
    }
    let initial = fetcher.fetches();
    let started = Instant::now();
    tokio::time::sleep(INTERVAL * TICKS + Duration::from_millis(1)).await;
    let elapsed = started.elapsed();
    let per_tick = (fetcher.fetches() - initial) / u64::from(TICKS);
    drop(handles);
    (elapsed, per_tick)
}

fn bench(c: &mut Criterion) {
    let rt = paused();
    let mut group = c.benchmark_group("fleet_10_ticks");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(100))
        .measurement_time(Duration::from_secs(2));
    for drivers in [1usize, 100, 10_000] {
        let (_, ours) = rt.block_on(fleet(drivers, false));
        let (_, theirs) = rt.block_on(fleet(drivers, true));
        println!(
            "fleet N={drivers:>5} M={ACCOUNTS}: fetches per tick: meridian {ours}, one loop per driver {theirs}"
        );
        assert_eq!(ours, drivers.min(ACCOUNTS) as u64);
        assert_eq!(theirs, drivers as u64);
        for (name, per_driver) in [("meridian", false), ("one_loop_per_driver", true)] {
            group.bench_function(BenchmarkId::new(name, drivers), |b| {
                b.iter_custom(|iters| {
                    (0..iters)
                        .map(|_| rt.block_on(fleet(drivers, per_driver)).0)
                        .sum()
                });
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
