//! One tick of the runtime's loop against one pass of the sequential loop, over 10,000
//! accounts with the `parsed_doc` fetcher (§4 of `benches/RESULTS.md`), on one thread, for
//! counting instructions under callgrind — a measure that does not move with the machine's
//! load, where the wall-clock tick benchmark does.
//!
//! ```sh
//! cargo build --release -p meridian-benches --example tick_instructions
//! valgrind --tool=callgrind --cache-sim=yes --collect-atstart=no \
//!     --toggle-collect='*refresh_loop::work::*' --toggle-collect='*refresh_loop::queue_tick' \
//!     target/release/examples/tick_instructions loop
//! valgrind --tool=callgrind --cache-sim=yes --collect-atstart=no \
//!     --toggle-collect='*measured_passes' target/release/examples/tick_instructions sequential
//! ```
//!
//! Each mode sets up its 10,000 accounts (attach and first fetch, or first install) outside
//! what is counted, then runs `PASSES` ticks or passes. The runtime runs on tokio's paused
//! clock, so no tick falls during the set-up and the ticks follow each other without a real
//! wait. What is counted: for the loop, its tick queueing (`queue_tick`) and its workers
//! (`work`: every job, fetch and install included; the loop task's own `select!` is left
//! out); for the baseline, the passes. Without valgrind it prints the wall time.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use meridian_benches::{ParsingFetcher, account_body, account_endpoint, sequential_pass};
use meridian_location_store::{Endpoint, LocationStore, StoreConfig};
use meridian_runtime::{AccountFetcher, AccountHandle, Runtime};

const ACCOUNTS: usize = 10_000;
const PASSES: u64 = 3;
const INTERVAL: Duration = Duration::from_secs(60);

fn main() {
    let mode = std::env::args().nth(1).unwrap_or_default();
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
    {
        Ok(rt) => rt,
        Err(error) => {
            eprintln!("tick_instructions: {error}");
            std::process::exit(2);
        }
    };
    let fetcher: Arc<dyn AccountFetcher> = Arc::new(ParsingFetcher::new(account_body("tick", 3)));
    let took = match mode.as_str() {
        "loop" => rt.block_on(run_loop(fetcher)),
        "sequential" => run_sequential(fetcher),
        _ => {
            eprintln!("usage: tick_instructions loop|sequential");
            std::process::exit(2);
        }
    };
    println!("{mode}: {PASSES} passes over {ACCOUNTS} accounts in {took:?}");
}

async fn run_loop(fetcher: Arc<dyn AccountFetcher>) -> Duration {
    let runtime = match Runtime::builder()
        .refresh_interval(INTERVAL)
        .jitter_fraction(0.0)
        .concurrency(64)
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => panic!("runtime settings are valid: {error}"),
    };
    let mut handles: Vec<AccountHandle> = Vec::with_capacity(ACCOUNTS);
    for i in 0..ACCOUNTS {
        match runtime
            .attach(account_endpoint(i), Arc::clone(&fetcher))
            .await
        {
            Ok(handle) => handles.push(handle),
            Err(error) => panic!("attach: {error}"),
        }
    }
    let took = measured_ticks(&runtime).await;
    runtime.shutdown().await;
    drop(handles);
    took
}

/// Waits for `PASSES` ticks (the paused clock jumps to each).
async fn measured_ticks(runtime: &Runtime) -> Duration {
    let seen = runtime.ticks();
    let started = Instant::now();
    while runtime.ticks() < seen + PASSES {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    started.elapsed()
}

fn run_sequential(fetcher: Arc<dyn AccountFetcher>) -> Duration {
    let stores: Vec<(Endpoint, LocationStore)> = (0..ACCOUNTS)
        .map(|i| {
            (
                account_endpoint(i),
                LocationStore::new(account_endpoint(i), StoreConfig::default()),
            )
        })
        .collect();
    // The first install, as the runtime's attach does, outside the measured part.
    pass(&stores, fetcher.as_ref());
    measured_passes(&stores, fetcher.as_ref())
}

/// A plain function (not an `async fn`, whose body the compiler would inline into the
/// executor), so callgrind can count exactly the passes.
#[inline(never)]
fn measured_passes(stores: &[(Endpoint, LocationStore)], fetcher: &dyn AccountFetcher) -> Duration {
    let started = Instant::now();
    for _ in 0..PASSES {
        pass(stores, fetcher);
    }
    started.elapsed()
}

/// The tick benchmark's sequential pass, driven to its end here: the fetcher answers on
/// its first poll.
fn pass(stores: &[(Endpoint, LocationStore)], fetcher: &dyn AccountFetcher) {
    let done = sequential_pass(stores, fetcher).now_or_never();
    assert!(
        done.is_some(),
        "the parsing fetcher answers on its first poll"
    );
}
