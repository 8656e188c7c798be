//! What a production application needs (issue 30): errors that name what failed,
//! honest consistency, options on every operation.

use std::error::Error;

use meridian_driver::{Container, Driver, DriverError, Query, Runtime};
use meridian_emulator::Emulator;
use serde_json::{Value, json};

use crate::quiet_runtime;

async fn setup(runtime: &Runtime) -> (Emulator, Driver, Container) {
    let emulator = Emulator::builder()
        .regions(["West US", "East US"])
        .start()
        .await
        .unwrap();
    let driver = crate::driver(runtime, &emulator).await;
    driver.create_database("shop").await.unwrap();
    driver.create_container("shop", "orders", "/pk").await.unwrap();
    let orders = driver.container("shop", "orders");
    (emulator, driver, orders)
}

#[derive(Debug, serde::Deserialize)]
#[allow(dead_code)]
struct Strict {
    id: String,
    total: u32,
}

#[tokio::test]
async fn deserialization_errors_name_the_item_and_type() {
    let runtime = quiet_runtime();
    let (_emulator, _driver, orders) = setup(&runtime).await;
    orders
        .create_item("eu", &json!({"id": "o-1", "pk": "eu", "total": "not a number"}))
        .await
        .unwrap();
    // A point read: the item, its container and the type; serde's message is the source.
    let error = orders.read_item::<Strict>("eu", "o-1").await.unwrap_err();
    let DriverError::Deserialize(detail) = &error else {
        panic!("expected a deserialization error, got {error:?}");
    };
    assert_eq!(detail.item.as_deref(), Some("o-1"));
    assert_eq!(detail.container, "dbs/shop/colls/orders");
    assert!(detail.type_name.ends_with("Strict"), "{}", detail.type_name);
    let text = error.to_string();
    assert!(text.contains("o-1") && text.contains("dbs/shop/colls/orders"), "{text}");
    assert!(text.contains("Strict"), "{text}");
    let cause = error.source().expect("serde's message is the source").to_string();
    assert!(!text.contains(&cause), "`{text}` repeats its source `{cause}`");
    // A query's items: the same.
    let mut items = orders.query::<Strict>(Query::new("SELECT * FROM c"));
    let error = futures_util::TryStreamExt::try_next(&mut items)
        .await
        .unwrap_err();
    let DriverError::Deserialize(detail) = &error else {
        panic!("expected a deserialization error, got {error:?}");
    };
    assert_eq!(detail.item.as_deref(), Some("o-1"));
    assert!(detail.type_name.ends_with("Strict"));
    // A value that does parse is untouched.
    let read = orders.read_item::<Value>("eu", "o-1").await.unwrap();
    assert_eq!(read.item["total"], "not a number");
}
