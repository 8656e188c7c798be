//! Point operations routed by partition key range: one routing map per account and
//! container in a runtime, however many drivers; refreshed once after a split.

use std::time::Duration;

use futures_util::future::join_all;
use meridian_driver::{Container, Driver, PatchOperations};
use meridian_emulator::{Emulator, FaultAction, FaultRule};
use serde_json::{Value, json};

use crate::{driver, quiet_runtime};

const DB: &str = "routing";

/// Creates `DB` and `containers` (partitioned by `/pk`) with `driver`, each split once
/// into two ranges before any item operation.
async fn containers(emulator: &Emulator, driver: &Driver, containers: &[&str]) {
    driver.create_database(DB).await.unwrap();
    for coll in containers {
        driver.create_container(DB, coll, "/pk").await.unwrap();
        emulator
            .split_range((DB, coll), "0", Duration::ZERO)
            .unwrap();
    }
}

/// Upserts then reads item `id` in partition `pk`; returns the range ids the two
/// operations addressed.
async fn upsert_and_read(container: &Container, pk: &str, id: &str) -> [Option<String>; 2] {
    let item = json!({"id": id, "pk": pk});
    let written = container.upsert_item(pk, &item).await.unwrap();
    let read = container.read_item::<Value>(pk, id).await.unwrap();
    [written.metadata, read.metadata]
        .map(|m| m.partition_key_range_id.as_deref().map(str::to_owned))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pkranges_are_fetched_once_per_container_per_runtime() {
    let emulator = Emulator::builder().start().await.unwrap();
    let runtime = quiet_runtime();
    let setup = driver(&runtime, &emulator).await;
    let names = ["c0", "c1", "c2"];
    containers(&emulator, &setup, &names).await;
    let drivers = join_all((0..20).map(|_| driver(&runtime, &emulator))).await;
    // Every driver, every container, at once: the first operations of a container race
    // for its map.
    let work = drivers.iter().enumerate().flat_map(|(d, driver)| {
        names.iter().map(move |coll| {
            let container = driver.container(DB, coll);
            async move {
                let pk = format!("pk-{d}");
                upsert_and_read(&container, &pk, &format!("{coll}-{d}")).await
            }
        })
    });
    for ids in join_all(work).await {
        assert!(
            ids.iter().all(Option::is_some),
            "every operation knows its range"
        );
    }
    for coll in names {
        assert_eq!(
            emulator.partition_key_range_reads(DB, coll),
            1,
            "one pkranges fetch for {coll} for 21 drivers"
        );
    }
    runtime.shutdown().await;
    emulator.shutdown().await;
}

/// Every driver upserts and reads four items in every container, all at once.
async fn round(drivers: &[Driver], names: &[&str], tag: &str) -> Vec<[Option<String>; 2]> {
    let mut work = Vec::new();
    for (d, driver) in drivers.iter().enumerate() {
        for coll in names {
            for k in 0..4 {
                let container = driver.container(DB, coll);
                work.push(async move {
                    let pk = format!("pk-{d}-{k}");
                    upsert_and_read(&container, &pk, &format!("{tag}-{d}-{k}")).await
                });
            }
        }
    }
    join_all(work).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_split_is_followed_with_one_routing_map_refresh() {
    let emulator = Emulator::builder().start().await.unwrap();
    let runtime = quiet_runtime();
    let setup = driver(&runtime, &emulator).await;
    let names = ["a", "b"];
    setup.create_database(DB).await.unwrap();
    for coll in names {
        setup.create_container(DB, coll, "/pk").await.unwrap();
    }
    let drivers = join_all((0..10).map(|_| driver(&runtime, &emulator))).await;
    for ids in round(&drivers, &names, "before").await {
        assert_eq!(ids, [Some("0".to_owned()), Some("0".to_owned())]);
    }
    for coll in names {
        assert_eq!(emulator.partition_key_range_reads(DB, coll), 1);
    }
    // Split while the drivers hold range 0: the service serves from the children, and
    // every driver sees a range its map does not know.
    let mut children = Vec::new();
    for coll in names {
        children.push(
            emulator
                .split_range((DB, coll), "0", Duration::ZERO)
                .unwrap(),
        );
    }
    for ids in round(&drivers, &names, "after").await {
        // The operation that saw the split first re-resolves at once; the others on the
        // refreshed map. Either way the read, after the upsert, is on a child.
        let read = ids[1].clone().unwrap();
        assert!(
            children.iter().any(|c| c.contains(&read)),
            "{read} is a child range"
        );
    }
    for coll in names {
        assert_eq!(
            emulator.partition_key_range_reads(DB, coll),
            2,
            "one refresh of {coll} for 80 operations that met the split"
        );
    }
    runtime.shutdown().await;
    emulator.shutdown().await;
}

#[tokio::test]
async fn point_operations_route_to_their_partition_key_range() {
    let emulator = Emulator::builder().start().await.unwrap();
    let runtime = quiet_runtime();
    let driver = driver(&runtime, &emulator).await;
    driver.create_database(DB).await.unwrap();
    driver.create_container(DB, "items", "/pk").await.unwrap();
    // Three ranges: 0 split into 1 and 2, then 1 into 3 and 4.
    let [first, _] = emulator
        .split_range((DB, "items"), "0", Duration::ZERO)
        .unwrap();
    emulator
        .split_range((DB, "items"), &first, Duration::ZERO)
        .unwrap();
    let ranges = emulator.partition_key_ranges(DB, "items").unwrap();
    assert_eq!(ranges.as_array().map(Vec::len), Some(3));
    let container = driver.container(DB, "items");
    let mut seen = std::collections::BTreeSet::new();
    for n in 0..24 {
        let pk = format!("tenant-{n}");
        let id = format!("item-{n}");
        let holding = emulator.range_holding((DB, "items"), &json!(pk)).unwrap();
        let item = json!({"id": id, "pk": pk, "n": n});
        let created = container.create_item(pk.as_str(), &item).await.unwrap();
        let upserted = container.upsert_item(pk.as_str(), &item).await.unwrap();
        let read = container
            .read_item::<Value>(pk.as_str(), &id)
            .await
            .unwrap();
        let replaced = container
            .replace_item(pk.as_str(), &id, &item, None)
            .await
            .unwrap();
        let patch = PatchOperations::new().set("/n", n + 1);
        let patched = container
            .patch_item::<Value>(pk.as_str(), &id, &patch)
            .await
            .unwrap();
        let deleted = container
            .delete_item_with(pk.as_str(), &id, &Default::default())
            .await
            .unwrap();
        for (op, metadata) in [
            ("create", &created.metadata),
            ("upsert", &upserted.metadata),
            ("read", &read.metadata),
            ("replace", &replaced.metadata),
            ("patch", &patched.metadata),
            ("delete", &deleted),
        ] {
            assert_eq!(
                metadata.partition_key_range_id.as_deref(),
                Some(holding.as_str()),
                "{op} of {pk} addresses the range the emulator stores it in"
            );
        }
        seen.insert(holding);
    }
    assert_eq!(seen.len(), 3, "the keys cover every range: {seen:?}");
    assert_eq!(emulator.partition_key_range_reads(DB, "items"), 1);
    runtime.shutdown().await;
    emulator.shutdown().await;
}

/// A 410/1002 is answered by one refresh of the map before the retry, not by a retry
/// on the map that named the gone range. (Here the gateway's 410 is injected and the
/// ranges did not change: the refresh is a 304 and the range stays.)
#[tokio::test]
async fn a_gone_range_is_refreshed_before_the_retry() {
    let emulator = Emulator::builder().start().await.unwrap();
    let runtime = quiet_runtime();
    let driver = driver(&runtime, &emulator).await;
    driver.create_database(DB).await.unwrap();
    driver.create_container(DB, "items", "/pk").await.unwrap();
    let container = driver.container(DB, "items");
    let ids = upsert_and_read(&container, "x", "one").await;
    assert_eq!(ids, [Some("0".to_owned()), Some("0".to_owned())]);
    let gone = FaultAction::Status {
        status: 410,
        sub_status: Some(1002),
        body: None,
        retry_after_ms: None,
    };
    emulator
        .add_fault(FaultRule::on_class("items", gone).times(1))
        .unwrap();
    let read = container.read_item::<Value>("x", "one").await.unwrap();
    assert_eq!(read.attempts, 2, "one 410, then the retry");
    assert_eq!(read.metadata.partition_key_range_id.as_deref(), Some("0"));
    assert_eq!(
        emulator.partition_key_range_reads(DB, "items"),
        2,
        "one refresh"
    );
    runtime.shutdown().await;
    emulator.shutdown().await;
}
