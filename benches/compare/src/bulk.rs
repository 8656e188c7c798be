//! Measurement 6, bulk insert (issue 26): 100,000 items over 100 partition keys into an
//! empty container, one emulator process per row: the SDK upserting one item at a time
//! with 64 callers; the SDK's fastest bulk-like path, transactional batches of 100 upserts
//! of one key (it has no bulk API), 4 in flight; Meridian's `Container::bulk` (4 requests
//! in flight). Items per second; every item must be written.

use std::time::{Duration, Instant};

use azure_data_cosmos::{ContainerClient, TransactionalBatch};
use futures_util::stream::{self, StreamExt, TryStreamExt};
use meridian_driver::BulkOperation;
use serde_json::{Value, json};

use crate::clients::{COLL, Client, DB, Fleet, Kind};
use crate::emulator::{EmulatorProcess, count};
use crate::report::Row;

/// Items inserted per row.
const ITEMS: usize = 100_000;
/// Partition keys they spread over.
const KEYS: usize = 100;
/// Callers of the one-at-a-time row.
const CALLERS: usize = 64;
/// Batches (or bulk requests) in flight.
const IN_FLIGHT: usize = 4;
/// The longest one row may take.
const ROW_DEADLINE: Duration = Duration::from_secs(600);

fn item(i: usize) -> (String, Value) {
    let pk = format!("k{}", i % KEYS);
    let body = json!({"id": format!("i{i}"), "pk": pk, "n": i, "name": "an item of some size"});
    (pk, body)
}

#[derive(Debug, Clone, Copy)]
enum Way {
    SdkOneByOne,
    SdkBatches,
    MeridianBulk,
}

/// One row per way, each on a fresh emulator.
pub async fn run(binary: &str) -> Result<Vec<Row>, String> {
    let mut rows = Vec::new();
    for (way, kind, label) in [
        (Way::SdkOneByOne, Kind::Sdk, "sdk upsert x64"),
        (Way::SdkBatches, Kind::Sdk, "sdk batches x4"),
        (Way::MeridianBulk, Kind::Meridian, "meridian bulk x4"),
    ] {
        let emulator = EmulatorProcess::start(binary, &["West US", "East US"])?;
        crate::clients::seed(&emulator.account, 0).await?;
        let fleet = Fleet::build(kind, &emulator.account, 1).await?;
        let client = fleet.clients[0].clone();
        let started = Instant::now();
        tokio::time::timeout(ROW_DEADLINE, insert(way, &client))
            .await
            .map_err(|_| format!("{label}: over {} s", ROW_DEADLINE.as_secs()))??;
        let per_s = ITEMS as f64 / started.elapsed().as_secs_f64();
        let posts = count(&emulator.stats().await?, None, "items", "POST");
        eprintln!("compare: bulk {label}: {per_s:.0} items/s in {posts} requests");
        rows.push(Row::new(
            "bulk insert items per s",
            label,
            ITEMS as u64,
            per_s,
            "items/s",
        ));
        drop(client);
        fleet.shutdown().await;
    }
    Ok(rows)
}

async fn insert(way: Way, client: &Client) -> Result<(), String> {
    match (way, client) {
        (Way::SdkOneByOne, _) => stream::iter(0..ITEMS)
            .map(|i| async move {
                let (pk, body) = item(i);
                client.upsert(&pk, &format!("i{i}"), &body).await
            })
            .buffer_unordered(CALLERS)
            .try_collect::<Vec<()>>()
            .await
            .map(drop),
        (Way::SdkBatches, Client::Sdk { container, .. }) => sdk_batches(container).await,
        (Way::MeridianBulk, Client::Meridian(driver)) => {
            let ops = (0..ITEMS)
                .map(|i| {
                    let (pk, body) = item(i);
                    BulkOperation::upsert(pk, &body).map_err(|e| format!("bulk op: {e}"))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let outcomes = driver
                .container(DB, COLL)
                .bulk(ops)
                .max_in_flight(IN_FLIGHT)
                .execute()
                .await
                .map_err(|e| format!("bulk: {e}"))?;
            let written = outcomes
                .iter()
                .filter(|o| o.result.as_ref().is_ok_and(|r| r.is_success()))
                .count();
            if written == ITEMS {
                Ok(())
            } else {
                Err(format!("bulk wrote {written} of {ITEMS}"))
            }
        }
        _ => Err("a way run with the wrong client".into()),
    }
}

/// Per key, its items in batches of 100 upserts; `IN_FLIGHT` batches at once.
async fn sdk_batches(container: &ContainerClient) -> Result<(), String> {
    let mut batches = Vec::new();
    for key in 0..KEYS {
        let ids: Vec<usize> = (key..ITEMS).step_by(KEYS).collect();
        for chunk in ids.chunks(100) {
            let mut batch = TransactionalBatch::new(format!("k{key}"));
            for &i in chunk {
                batch = batch
                    .upsert_item(item(i).1, None)
                    .map_err(|e| format!("batch op: {e}"))?;
            }
            batches.push(batch);
        }
    }
    stream::iter(batches)
        .map(|batch| async move {
            let response = container
                .execute_transactional_batch(batch, None)
                .await
                .map_err(|e| format!("batch: {e}"))?;
            let status = response.status();
            if status.is_success() {
                Ok(())
            } else {
                Err(format!("batch answered {status:?}"))
            }
        })
        .buffer_unordered(IN_FLIGHT)
        .try_collect::<Vec<()>>()
        .await
        .map(drop)
}
