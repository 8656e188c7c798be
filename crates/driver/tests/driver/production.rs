//! What a production application needs (issue 30): errors that name what failed,
//! honest consistency, options on every operation.

use std::error::Error;

use meridian_driver::{
    ConsistencyLevel, Container, Driver, DriverError, PatchOperations, PatchOptions, Query,
    QueryOptions, ReadOptions, Runtime,
};
use meridian_emulator::{Consistency, Emulator};
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
    driver
        .create_container("shop", "orders", "/pk")
        .await
        .unwrap();
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
        .create_item(
            "eu",
            &json!({"id": "o-1", "pk": "eu", "total": "not a number"}),
        )
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
    assert!(
        text.contains("o-1") && text.contains("dbs/shop/colls/orders"),
        "{text}"
    );
    assert!(text.contains("Strict"), "{text}");
    let cause = error
        .source()
        .expect("serde's message is the source")
        .to_string();
    assert!(
        !text.contains(&cause),
        "`{text}` repeats its source `{cause}`"
    );
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

fn item_requests(emulator: &Emulator) -> u64 {
    emulator
        .counters()
        .listeners
        .values()
        .filter_map(|l| l.by_class.get("items"))
        .flat_map(|c| c.values())
        .sum()
}

#[tokio::test]
async fn a_stronger_consistency_than_the_account_is_refused() {
    let runtime = quiet_runtime();
    // A Session account whose reads go to East US, which never catches up with West US.
    let emulator = Emulator::builder()
        .regions(["West US", "East US"])
        .consistency(Consistency::Session)
        .start()
        .await
        .unwrap();
    let driver = meridian_testkit::driver_preferring(
        &runtime,
        &emulator,
        "East US",
        std::time::Duration::from_secs(5),
    )
    .await;
    driver.create_database("shop").await.unwrap();
    driver
        .create_container("shop", "orders", "/pk")
        .await
        .unwrap();
    emulator
        .set_replication_lag(None, std::time::Duration::from_secs(3600))
        .unwrap();
    let orders = driver.container("shop", "orders");
    orders
        .create_item("eu", &json!({"id": "o-1", "pk": "eu"}))
        .await
        .unwrap();
    let sent = item_requests(&emulator);
    for level in [ConsistencyLevel::Strong, ConsistencyLevel::BoundedStaleness] {
        let options = ReadOptions::default().consistency(level);
        let error = orders
            .read_item_with::<Value>("eu", "o-1", &options)
            .await
            .unwrap_err();
        assert!(
            matches!(
                error,
                DriverError::ConsistencyTooStrong { requested, account: ConsistencyLevel::Session }
                    if requested == level
            ),
            "{error:?}"
        );
        assert!(error.to_string().contains("nothing was sent"), "{error}");
    }
    // A query asking for more than the account gives is refused the same way.
    let query = orders.query_with::<Value>(
        Query::new("SELECT * FROM c"),
        QueryOptions::default().consistency(ConsistencyLevel::Strong),
    );
    let error = futures_util::TryStreamExt::try_collect::<Vec<_>>(query)
        .await
        .unwrap_err();
    assert!(
        matches!(error, DriverError::ConsistencyTooStrong { .. }),
        "{error:?}"
    );
    assert_eq!(item_requests(&emulator), sent, "nothing was sent");
    // Session, asked for explicitly, carries the session token: the lagging East US
    // answers 404/1002 and the read moves on to West US, which has the write.
    let options = ReadOptions::default().consistency(ConsistencyLevel::Session);
    let read = orders
        .read_item_with::<Value>("eu", "o-1", &options)
        .await
        .unwrap();
    assert_eq!(read.item["id"], "o-1");
    // Eventual is weaker: allowed, and without a token East US answers from what it has.
    let options = ReadOptions::default().consistency(ConsistencyLevel::Eventual);
    let stale = orders
        .read_item_with::<Value>("eu", "o-1", &options)
        .await
        .unwrap_err();
    assert!(stale.is_not_found(), "{stale:?}");
}

fn listener_requests(emulator: &Emulator, listener: &str, method: &str) -> u64 {
    emulator
        .counters()
        .listeners
        .get(listener)
        .and_then(|l| l.by_class.get("items"))
        .and_then(|c| c.get(method))
        .copied()
        .unwrap_or(0)
}

#[tokio::test]
async fn query_and_patch_take_their_options() {
    let runtime = quiet_runtime();
    let (emulator, driver, orders) = setup(&runtime).await;
    for i in 0..3 {
        orders
            .create_item("eu", &json!({"id": format!("o-{i}"), "pk": "eu", "n": i}))
            .await
            .unwrap();
    }
    // Page size, consistency, excluded regions and a deadline on a query.
    let west = listener_requests(&emulator, "West US", "POST");
    let options = QueryOptions::default()
        .max_item_count(1)
        .consistency(ConsistencyLevel::Eventual)
        .excluded_regions(["East US"])
        .timeout(std::time::Duration::from_secs(30));
    let query = Query::new("SELECT * FROM c").partition_key("eu");
    let pages: Vec<_> =
        futures_util::TryStreamExt::try_collect(orders.query_with::<Value>(query, options).pages())
            .await
            .unwrap();
    let sizes: Vec<usize> = pages.iter().map(|p| p.items.len()).collect();
    assert_eq!(sizes.iter().sum::<usize>(), 3);
    assert!(sizes.iter().all(|&n| n <= 1), "{sizes:?}");
    assert!(
        listener_requests(&emulator, "West US", "POST") >= west + 3,
        "East US excluded: every page from West US"
    );
    // A session token of the caller's: sent instead of the driver's.
    let token = driver.session_token("shop", "orders").unwrap();
    let options = QueryOptions::default().session_token(token);
    let items: Vec<Value> = futures_util::TryStreamExt::try_collect(
        orders.query_with(Query::new("SELECT * FROM c"), options),
    )
    .await
    .unwrap();
    assert_eq!(items.len(), 3);

    // Patch: If-Match and a filter predicate.
    let current = orders.read_item::<Value>("eu", "o-1").await.unwrap();
    let patch = PatchOperations::new().set("/n", 10);
    let stale = PatchOptions::default().if_match("\"not-the-etag\"");
    let refused = orders
        .patch_item_with::<Value>("eu", "o-1", &patch, &stale)
        .await
        .unwrap_err();
    assert!(refused.is_precondition_failed(), "{refused:?}");
    let fresh = PatchOptions::default().if_match(current.etag.clone().unwrap());
    let patched = orders
        .patch_item_with::<Value>("eu", "o-1", &patch, &fresh)
        .await
        .unwrap();
    assert_eq!(patched.item["n"], 10);
    let unmatched = PatchOptions::default().filter_predicate("FROM c WHERE c.n > 100");
    let refused = orders
        .patch_item_with::<Value>(
            "eu",
            "o-1",
            &PatchOperations::new().incr("/n", 1),
            &unmatched,
        )
        .await
        .unwrap_err();
    assert!(refused.is_precondition_failed(), "{refused:?}");
    let matched = PatchOptions::default()
        .filter_predicate("FROM c WHERE c.n = 10")
        .timeout(std::time::Duration::from_secs(30));
    let patched = orders
        .patch_item_with::<Value>("eu", "o-1", &PatchOperations::new().incr("/n", 1), &matched)
        .await
        .unwrap();
    assert_eq!(patched.item["n"], 11);
}

fn class_requests(emulator: &Emulator, class: &str) -> u64 {
    emulator
        .counters()
        .listeners
        .values()
        .filter_map(|l| l.by_class.get(class))
        .flat_map(|c| c.values())
        .sum()
}

#[tokio::test]
async fn partition_key_shape_is_checked_against_the_container() {
    let runtime = quiet_runtime();
    let (emulator, _driver, orders) = setup(&runtime).await;
    let created = class_requests(&emulator, "containers");
    orders
        .create_item("eu", &json!({"id": "o-1", "pk": "eu"}))
        .await
        .unwrap();
    assert_eq!(
        class_requests(&emulator, "containers"),
        created + 2,
        "the container's definition and routing map are read before its first item operation"
    );
    orders
        .upsert_item("eu", &json!({"id": "o-1", "pk": "eu"}))
        .await
        .unwrap();
    assert_eq!(
        class_requests(&emulator, "containers"),
        created + 2,
        "and never again in this runtime"
    );
    let items_before = item_requests(&emulator);
    for wrong in [json!({"region": "eu"}), json!(["eu", "fr"])] {
        let error = orders
            .read_item::<Value>(wrong.clone(), "o-1")
            .await
            .unwrap_err();
        let DriverError::PartitionKeyShape {
            container,
            expected,
            sent,
        } = &error
        else {
            panic!("expected a partition key shape error, got {error:?}");
        };
        assert_eq!(container, "dbs/shop/colls/orders");
        assert!(
            expected.contains("one value") && expected.contains("/pk"),
            "{expected}"
        );
        assert_eq!(sent, &wrong.to_string());
        assert!(error.to_string().contains("nothing was sent"), "{error}");
        let write = orders
            .upsert_item(wrong, &json!({"id": "o-2", "pk": "eu"}))
            .await
            .unwrap_err();
        assert!(
            matches!(write, DriverError::PartitionKeyShape { .. }),
            "{write:?}"
        );
    }
    assert_eq!(item_requests(&emulator), items_before, "nothing was sent");
    assert_eq!(
        class_requests(&emulator, "containers"),
        created + 2,
        "the container's definition and routing map were read once, before the first item operation"
    );
    // The definition is read once per runtime, whatever the number of drivers.
    let definitions = class_requests(&emulator, "containers");
    let second = crate::driver(&runtime, &emulator).await;
    let again = second.container("shop", "orders");
    for _ in 0..3 {
        again.read_item::<Value>("eu", "o-1").await.unwrap();
        orders.read_item::<Value>("eu", "o-1").await.unwrap();
    }
    let error = again
        .read_item::<Value>(json!(["a", "b"]), "o-1")
        .await
        .unwrap_err();
    assert!(
        matches!(error, DriverError::PartitionKeyShape { .. }),
        "{error:?}"
    );
    assert_eq!(class_requests(&emulator, "containers"), definitions);
}

#[test]
fn preferred_regions_take_owned_strings() {
    // Regions read from configuration arrive as `String`s.
    let from_config: Vec<String> = vec!["East US".into(), "West US".into()];
    let names: Vec<meridian_driver::RegionName> = from_config.iter().map(Into::into).collect();
    assert_eq!(names[0], meridian_driver::RegionName::from("East US"));
    let owned: meridian_driver::RegionName = from_config[1].clone().into();
    assert_eq!(owned.as_str(), "West US");
}
