//! Benchmark 4b: Bytes per registration, measured with dhat's heap statistics.
//!
//! A first registration of an account creates its shared state (location store with an
//! installed three-region topology, refresh gate, stats); later registrations of the same
//! account only add a subscriber. Both are measured over 10,000 registrations. The
//! baseline is the size of the same account state held per driver (one loop per driver).

use std::sync::Arc;
use std::time::Duration;

use meridian_benches::{CountingFetcher, account_doc, account_endpoint};
use meridian_runtime::Runtime;

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

const N: usize = 10_000;

fn heap() -> u64 {
    dhat::HeapStats::get().curr_bytes as u64
}

fn main() {
    let _profiler = dhat::Profiler::builder().testing().build();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a tokio runtime");
    rt.block_on(async {
        let fetcher = Arc::new(CountingFetcher::new(account_doc("bytes", 3), Duration::ZERO));
        let runtime = Runtime::builder()
            .refresh_interval(Duration::from_secs(3_600))
            .build()
            .expect("runtime settings are valid");
        // Warm up lazily allocated parts (the loop task, the first shard allocations).
        let warm = runtime.attach(account_endpoint(usize::MAX), fetcher.clone()).await.expect("attach");

        let before = heap();
        let mut firsts = Vec::with_capacity(N);
        for i in 0..N {
            firsts.push(runtime.attach(account_endpoint(i), fetcher.clone()).await.expect("attach"));
        }
        let after_firsts = heap();
        let mut seconds = Vec::with_capacity(N);
        for handle in &firsts {
            seconds.push(handle.clone());
        }
        let after_seconds = heap();
        let per_account = (after_firsts - before) as f64 / N as f64;
        let per_extra = (after_seconds - after_firsts) as f64 / N as f64;
        println!("registration_bytes: first registration of an account (with its topology): {per_account:.0} B");
        println!("registration_bytes: another registration of a registered account: {per_extra:.0} B");
        println!(
            "registration_bytes: one-loop-per-driver baseline holds a full account state per driver: {per_account:.0} B vs {per_extra:.0} B per extra driver here ({:.1}x)",
            per_account / per_extra.max(1.0)
        );
        drop((seconds, firsts, warm));
        runtime.shutdown().await;
    });
}
