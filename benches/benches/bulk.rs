//! Benchmark 10: bulk-inserting items (issue 26): Meridian's `Container::bulk` against the
//! same items upserted one by one (sequentially, and 64 at a time), same driver, same
//! in-process emulator, same run.
//!
//! `cargo bench -p meridian-benches --bench bulk` inserts 100,000 items per client; in test
//! mode (`cargo test --benches`, no `--bench` argument) 1,000, to keep it from rotting.

use std::time::{Duration, Instant};

use futures_util::stream::{self, StreamExt};
use meridian_driver::{AccountConfig, BulkOperation, Container, Driver, Runtime};
use meridian_emulator::Emulator;
use serde_json::{Value, json};

/// Partition keys the items spread over.
const KEYS: usize = 100;
/// Concurrent callers of the "64 at a time" baseline.
const CALLERS: usize = 64;

fn item(i: usize) -> (String, Value) {
    let pk = format!("k{}", i % KEYS);
    let body = json!({"id": format!("i{i}"), "pk": pk, "n": i, "name": "an item of some size"});
    (pk, body)
}

async fn bulk(container: &Container, items: usize) -> Duration {
    let ops: Vec<BulkOperation> = (0..items)
        .map(|i| {
            let (pk, body) = item(i);
            BulkOperation::upsert(pk, &body).expect("an item serializes")
        })
        .collect();
    let started = Instant::now();
    let outcomes = container.bulk(ops).execute().await.expect("bulk runs");
    let elapsed = started.elapsed();
    let failed = outcomes
        .iter()
        .filter(|o| !o.result.as_ref().is_ok_and(|r| r.is_success()))
        .count();
    assert_eq!(failed, 0, "every bulk upsert succeeds");
    elapsed
}

/// The items of each key in transactional batches of 100 upserts, 4 batches in flight:
/// what an application that groups its own items would send.
async fn batches(container: &Container, items: usize) -> Duration {
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for key in 0..KEYS {
        let ids: Vec<usize> = (key..items).step_by(KEYS).collect();
        groups.extend(ids.chunks(100).map(<[usize]>::to_vec));
    }
    let started = Instant::now();
    let results: Vec<bool> = stream::iter(groups)
        .map(|ids| async move {
            let mut batch = container.batch(item(ids[0]).0);
            for i in ids {
                batch = batch.upsert_item(&item(i).1);
            }
            batch.execute().await.is_ok()
        })
        .buffer_unordered(4)
        .collect()
        .await;
    let elapsed = started.elapsed();
    assert!(results.iter().all(|ok| *ok), "every batch succeeds");
    elapsed
}

async fn one_by_one(container: &Container, items: usize, callers: usize) -> Duration {
    let started = Instant::now();
    let results: Vec<bool> = stream::iter(0..items)
        .map(|i| async move {
            let (pk, body) = item(i);
            container.upsert_item(pk, &body).await.is_ok()
        })
        .buffer_unordered(callers)
        .collect()
        .await;
    let elapsed = started.elapsed();
    assert!(results.iter().all(|ok| *ok), "every upsert succeeds");
    elapsed
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let items = if full { 100_000 } else { 1_000 };
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    tokio.block_on(async {
        let emulator = Emulator::builder()
            .regions(["West US"])
            .start()
            .await
            .expect("the emulator starts");
        let runtime = Runtime::builder().build().expect("a runtime");
        let account = AccountConfig::new(emulator.global_endpoint(), emulator.key());
        let driver = Driver::builder(&runtime, account)
            .build()
            .await
            .expect("a driver");
        driver.create_database("db").await.expect("a database");
        for coll in ["bulk", "batches", "sequential", "concurrent"] {
            driver
                .create_container("db", coll, "/pk")
                .await
                .expect("a container");
        }
        let rows = [
            (
                "bulk (4 requests of ≤ 100 in flight)",
                bulk(&driver.container("db", "bulk"), items).await,
            ),
            (
                "transactional batches of 100 per key, 4 in flight",
                batches(&driver.container("db", "batches"), items).await,
            ),
            (
                "upsert one by one, 64 at a time",
                one_by_one(&driver.container("db", "concurrent"), items, CALLERS).await,
            ),
            (
                "upsert one by one, sequentially",
                one_by_one(&driver.container("db", "sequential"), items, 1).await,
            ),
        ];
        let bulk_time = rows[0].1;
        println!("{items} items, {KEYS} partition keys, in-process emulator, 2 tokio workers");
        println!("| client | time | items/s | bulk's speed-up |");
        println!("|---|---|---|---|");
        for (name, time) in rows {
            let rate = items as f64 / time.as_secs_f64();
            let ratio = time.as_secs_f64() / bulk_time.as_secs_f64();
            println!("| {name} | {time:.2?} | {rate:.0} | {ratio:.2}× |");
        }
        emulator.shutdown().await;
    });
}
