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
    // The body's partition key disagrees with the header: 400, not retried.
    let error = driver
        .container("db", "c")
        .create_item("other", &order("x", 1))
        .await
        .unwrap_err();
    let failure = error.failure().unwrap();
    assert_eq!(
        (failure.status, failure.attempts()),
        (Some(meridian_driver::Status::BAD_REQUEST), 1)
    );
    assert_eq!(
        failure.metadata.regions_tried,
        vec![meridian_driver::RegionName::new("West US")]
    );
    assert!(matches!(error, DriverError::Status(_)));
}
