//! Databases and containers: read, list, replace, delete, create-if-not-exists, with
//! the containers' full definitions.

use meridian_driver::{
    ConflictResolutionMode, ConflictResolutionPolicy, ContainerProperties, IndexingPolicy,
    PartitionKeyKind, ThroughputProperties,
};
use meridian_emulator::Emulator;
use serde_json::json;

use crate::quiet_runtime;

#[tokio::test]
async fn container_crud_with_full_properties() {
    let runtime = quiet_runtime();
    let emulator = Emulator::builder()
        .regions(["West US"])
        .start()
        .await
        .unwrap();
    let driver = crate::driver(&runtime, &emulator).await;
    let shop = driver.create_database_if_not_exists("shop").await.unwrap();
    assert_eq!(shop.id, "shop");
    driver.create_database("archive").await.unwrap();
    let mut ids: Vec<String> = driver
        .list_databases()
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.id)
        .collect();
    ids.sort();
    assert_eq!(ids, ["archive", "shop"]);

    let db = driver.database("shop");
    let wanted = ContainerProperties::new("orders", "/customer")
        .indexing_policy(IndexingPolicy::new(["/*"], ["/blob/?"]))
        .unique_key(["/number"])
        .default_ttl(Some(3600))
        .conflict_resolution_policy(ConflictResolutionPolicy::last_writer_wins("/_ts"));
    let created = db.create_container_with(&wanted).await.unwrap();
    assert!(created.etag.is_some());
    let read = db.read_container("orders").await.unwrap();
    assert_eq!(read.id, "orders");
    assert_eq!(read.partition_key.paths, ["/customer"]);
    assert_eq!(read.partition_key.kind, PartitionKeyKind::Hash);
    assert_eq!(read.partition_key.version, Some(2));
    let policy = read.indexing_policy.clone().unwrap();
    assert_eq!(policy.excluded_paths[0].path, "/blob/?");
    assert_eq!(policy.automatic, Some(true));
    assert_eq!(read.unique_keys()[0].paths, ["/number"]);
    assert_eq!(read.default_ttl, Some(3600));
    let conflicts = read.conflict_resolution_policy.clone().unwrap();
    assert_eq!(conflicts.mode, ConflictResolutionMode::LastWriterWins);
    assert_eq!(conflicts.conflict_resolution_path.as_deref(), Some("/_ts"));
    assert!(
        read.other.contains_key("_rid"),
        "system properties are kept"
    );

    // Replace: a new TTL and indexing policy; the partition key cannot change.
    let replaced = db
        .replace_container(&read.clone().default_ttl(Some(-1)))
        .await
        .unwrap();
    assert_eq!(replaced.default_ttl, Some(-1));
    assert_ne!(replaced.etag, read.etag);
    assert_eq!(
        db.read_container("orders").await.unwrap().default_ttl,
        Some(-1)
    );
    let mut moved = read.clone();
    moved.partition_key.paths = vec!["/other".into()];
    let refused = db.replace_container(&moved).await.unwrap_err();
    assert_eq!(refused.status(), Some(400), "{refused:?}");

    // List and delete.
    db.create_container("payments", "/pk").await.unwrap();
    let mut names: Vec<String> = db
        .list_containers()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect();
    names.sort();
    assert_eq!(names, ["orders", "payments"]);
    db.delete_container("orders").await.unwrap();
    let gone = db.read_container("orders").await.unwrap_err();
    assert!(gone.is_not_found(), "{gone:?}");
    driver.delete_database("archive").await.unwrap();
    assert!(
        driver
            .read_database("archive")
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert_eq!(db.read().await.unwrap().id, "shop");
    // Items still work in the container that remains.
    let payments = db.container("payments");
    payments
        .create_item("p", &json!({"id": "1", "pk": "p"}))
        .await
        .unwrap();
}

#[tokio::test]
async fn create_container_if_not_exists_is_idempotent() {
    let runtime = quiet_runtime();
    let emulator = Emulator::builder()
        .regions(["West US"])
        .start()
        .await
        .unwrap();
    let driver = crate::driver(&runtime, &emulator).await;
    let first = driver.create_database_if_not_exists("shop").await.unwrap();
    let again = driver.create_database_if_not_exists("shop").await.unwrap();
    assert_eq!(first.other.get("_rid"), again.other.get("_rid"));
    let db = driver.database("shop");
    let wanted = ContainerProperties::new("orders", "/customer").default_ttl(Some(60));
    let created = db.create_container_if_not_exists(&wanted).await.unwrap();
    // A second call, even with a different definition, returns the one that exists.
    let other = ContainerProperties::new("orders", "/customer").default_ttl(Some(5));
    for _ in 0..3 {
        let existing = db.create_container_if_not_exists(&other).await.unwrap();
        assert_eq!(existing.other.get("_rid"), created.other.get("_rid"));
        assert_eq!(existing.default_ttl, Some(60));
    }
    assert_eq!(db.list_containers().await.unwrap().len(), 1);
    assert_eq!(driver.list_databases().await.unwrap().len(), 1);
}

#[tokio::test]
async fn throughput_read_and_replace() {
    let runtime = quiet_runtime();
    let emulator = Emulator::builder()
        .regions(["West US"])
        .start()
        .await
        .unwrap();
    let driver = crate::driver(&runtime, &emulator).await;
    meridian_testkit::create_database_and_container(&driver, "db", "orders").await;
    let orders = driver.database("db").container("orders");

    // A new container has the service's default manual throughput.
    let read = orders.read_throughput().await.unwrap().unwrap();
    assert_eq!(read.throughput, Some(400));
    assert!(!read.is_autoscale());
    assert!(!read.offer_id.is_empty());
    assert!(read.etag.is_some());

    // Manual: the new value is answered and read back.
    let replaced = orders
        .replace_throughput(&ThroughputProperties::manual(1200))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(replaced.throughput, Some(1200));
    let read = orders.read_throughput().await.unwrap().unwrap();
    assert_eq!(
        (read.throughput, read.autoscale_max_throughput),
        (Some(1200), None)
    );

    // Autoscale: the maximum, and a tenth of it as the current throughput.
    let replaced = orders
        .replace_throughput(&ThroughputProperties::autoscale(4000))
        .await
        .unwrap()
        .unwrap();
    assert!(replaced.is_autoscale());
    let read = orders.read_throughput().await.unwrap().unwrap();
    assert_eq!(
        (read.throughput, read.autoscale_max_throughput),
        (Some(400), Some(4000))
    );

    // Back to manual; an invalid value is the service's 400.
    let read = orders
        .replace_throughput(&ThroughputProperties::manual(500))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (read.throughput, read.autoscale_max_throughput),
        (Some(500), None)
    );
    let refused = orders
        .replace_throughput(&ThroughputProperties::autoscale(1500))
        .await
        .unwrap_err();
    assert_eq!(refused.status(), Some(400), "{refused:?}");
    let refused = orders
        .replace_throughput(&ThroughputProperties::manual(100))
        .await
        .unwrap_err();
    assert_eq!(refused.status(), Some(400), "{refused:?}");

    // Another container's offer is its own.
    driver.create_container("db", "other", "/pk").await.unwrap();
    let other = driver.database("db").container("other");
    assert_eq!(
        other.read_throughput().await.unwrap().unwrap().throughput,
        Some(400)
    );
    // A missing container is a 404.
    let missing = driver.database("db").container("missing");
    assert!(missing.read_throughput().await.unwrap_err().is_not_found());
}
