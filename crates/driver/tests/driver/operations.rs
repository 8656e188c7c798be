//! Point operations end to end, with typed errors for the service's refusals.

use meridian_driver::DriverError;
use meridian_emulator::Emulator;

use crate::order::Order;
use crate::{driver, quiet_runtime};

/// Order `id` of `total`, in partition `eu`.
fn order(id: &str, total: u32) -> Order {
    Order::new(id, "eu", total)
}

#[tokio::test]
async fn create_read_replace_upsert_delete() {
    let emulator = Emulator::builder().start().await.unwrap();
    let runtime = quiet_runtime();
    let driver = driver(&runtime, &emulator).await;
    driver.create_database("shop").await.unwrap();
    assert!(
        driver
            .create_database("shop")
            .await
            .unwrap_err()
            .is_conflict()
    );
    driver
        .create_container("shop", "orders", "/pk")
        .await
        .unwrap();
    let orders = driver.container("shop", "orders");

    let created = orders.create_item("eu", &order("1", 10)).await.unwrap();
    assert_eq!((created.status, created.item.total), (201, 10));
    let etag = created.etag.clone().unwrap();
    assert!(
        orders
            .create_item("eu", &order("1", 11))
            .await
            .unwrap_err()
            .is_conflict()
    );

    let read = orders.read_item::<Order>("eu", "1").await.unwrap();
    assert_eq!(read.item, order("1", 10));
    assert!(
        orders
            .read_item::<Order>("eu", "nope")
            .await
            .unwrap_err()
            .is_not_found()
    );

    let replaced = orders
        .replace_item("eu", "1", &order("1", 12), Some(&etag))
        .await
        .unwrap();
    assert_eq!(replaced.item.total, 12);
    let stale = orders
        .replace_item("eu", "1", &order("1", 13), Some(&etag))
        .await
        .unwrap_err();
    assert!(stale.is_precondition_failed(), "{stale}");
    assert_eq!(
        stale.failure().unwrap().attempts(),
        1,
        "412 is final, not retried"
    );

    let upserted = orders.upsert_item("eu", &order("2", 5)).await.unwrap();
    assert_eq!(upserted.status, 201);
    assert_eq!(
        orders
            .upsert_item("eu", &order("2", 6))
            .await
            .unwrap()
            .status,
        200
    );

    orders
        .delete_item("eu", "1", replaced.etag.as_deref())
        .await
        .unwrap();
    assert!(
        orders
            .delete_item("eu", "1", None)
            .await
            .unwrap_err()
            .is_not_found()
    );
    let counted = emulator.counters();
    assert!(counted.total("items", "POST") >= 4);
}

#[tokio::test]
async fn a_bad_request_is_a_typed_error_with_status_and_region() {
    let emulator = Emulator::builder().start().await.unwrap();
    let runtime = quiet_runtime();
    let driver = driver(&runtime, &emulator).await;
    driver.create_database("db").await.unwrap();
    driver.create_container("db", "c", "/pk").await.unwrap();
    // The body's partition key disagrees with the header: 400 (sub-status 1001,
    // PartitionKeyMismatch, as the service answers), not retried.
    let error = driver
        .container("db", "c")
        .create_item("other", &order("x", 1))
        .await
        .unwrap_err();
    let failure = error.failure().unwrap();
    assert_eq!(
        (failure.status, failure.attempts()),
        (Some(meridian_driver::Status::new(400, Some(1001))), 1)
    );
    assert_eq!(
        failure.metadata.regions_tried,
        vec![meridian_driver::RegionName::new("West US")]
    );
    assert!(matches!(error, DriverError::Status(_)));
}

#[tokio::test]
async fn an_unsendable_header_value_is_an_error_before_sending() {
    use meridian_driver::{ItemOptions, ReadOptions};
    use serde_json::{Value, json};
    let emulator = Emulator::builder().start().await.unwrap();
    let runtime = quiet_runtime();
    let driver = driver(&runtime, &emulator).await;
    driver.create_database("db").await.unwrap();
    driver.create_container("db", "c", "/pk").await.unwrap();
    let items = driver.container("db", "c");
    let created = items
        .create_item("p", &json!({"id": "a", "pk": "p", "v": 1}))
        .await
        .unwrap();
    let etag = created.etag.clone().unwrap();
    let sent = || {
        let counters = emulator.counters();
        ["GET", "POST", "PUT", "DELETE"]
            .iter()
            .map(|method| counters.total("items", method))
            .sum::<u64>()
    };
    let before = sent();
    let unsendable = |what: &str, result: Result<u16, DriverError>, header: &str| match result {
        Err(DriverError::InvalidHeader { header: named }) => assert_eq!(named, header, "{what}"),
        other => panic!("{what}: expected InvalidHeader, got {other:?}"),
    };
    // A conditional replace whose etag carries a stray control character: without the
    // If-Match it would overwrite whatever version is there.
    let stray = format!("{etag}\u{1}");
    let replace = items
        .replace_item_with(
            "p",
            "a",
            &json!({"id": "a", "pk": "p", "v": 2}),
            &ItemOptions::default().if_match(stray),
        )
        .await;
    unsendable("if-match", replace.map(|r| r.status), "if-match");
    // A session token and a partition key holding DEL (0x7f).
    let read = items
        .read_item_with::<Value>(
            "p",
            "a",
            &ReadOptions::default().session_token("0:-1#1\u{7f}"),
        )
        .await;
    unsendable(
        "session token",
        read.map(|r| r.status),
        "x-ms-session-token",
    );
    let create = items
        .create_item("p\u{7f}", &json!({"id": "b", "pk": "p\u{7f}"}))
        .await;
    unsendable(
        "partition key",
        create.map(|r| r.status),
        "x-ms-documentdb-partitionkey",
    );
    assert_eq!(sent(), before, "nothing was sent");
    let read = items.read_item::<Value>("p", "a").await.unwrap();
    assert_eq!(read.item["v"], 1, "the item was not overwritten");
}
