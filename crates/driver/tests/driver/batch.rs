//! Transactional batch and bulk against the emulator: results, the typed failure, never
//! re-sending a batch that may have applied, grouping by range and throttling.
//!
//! Real sockets, real time: no assertion depends on how fast the machine is (the
//! throttling test's delays come from the emulator's replication lag; it checks what
//! was retried and that the wait was taken, never how long anything took).

use std::time::Duration;

use meridian_driver::{BulkOperation, DriverError, PatchOperations, Status};
use meridian_emulator::{Emulator, FaultAction, FaultRule};
use meridian_testkit::create_database_and_container;
use serde_json::{Value, json};

use crate::{driver, quiet_runtime};

fn item(id: &str, pk: &str) -> Value {
    json!({"id": id, "pk": pk, "n": 1})
}

#[tokio::test]
async fn driver_batch_returns_each_result_and_names_the_failing_operation() {
    let emulator = Emulator::builder().start().await.unwrap();
    let runtime = quiet_runtime();
    let driver = driver(&runtime, &emulator).await;
    create_database_and_container(&driver, "db", "c").await;
    let orders = driver.container("db", "c");
    orders.create_item("o", &item("old", "o")).await.unwrap();

    let done = orders
        .batch("o")
        .create_item(&item("order", "o"))
        .upsert_item(&item("line-1", "o"))
        .patch_item("old", &PatchOperations::new().incr("/n", 2))
        .read_item("order")
        .delete_item("old", None)
        .execute()
        .await
        .unwrap();
    let codes: Vec<u16> = done.results.iter().map(|r| r.status.code).collect();
    assert_eq!(codes, [201, 201, 200, 200, 204]);
    assert_eq!(done.item::<Value>(2).unwrap().unwrap()["n"], 3);
    assert_eq!(done.item::<Value>(3).unwrap().unwrap()["id"], "order");
    assert!(done.results[0].etag.is_some());
    assert!(done.request_charge() > 0.0);
    assert!(done.metadata.session_token.is_some());

    let failed = orders
        .batch("o")
        .create_item(&item("new", "o"))
        .create_item(&item("order", "o"))
        .execute()
        .await
        .unwrap_err();
    let DriverError::BatchFailed(failure) = &failed else {
        panic!("{failed:?}");
    };
    assert_eq!((failure.index, failure.status), (1, Status::CONFLICT));
    assert_eq!(failure.response.results[0].status.code, 424);
    assert_eq!(failed.status(), Some(409));
    let missing = orders.read_item::<Value>("o", "new").await.unwrap_err();
    assert!(
        missing.is_not_found(),
        "nothing of the failed batch applied"
    );
}

#[tokio::test]
async fn driver_batch_is_never_resent_after_it_may_have_applied() {
    let emulator = Emulator::builder().start().await.unwrap();
    let runtime = quiet_runtime();
    let driver = driver(&runtime, &emulator).await;
    create_database_and_container(&driver, "db", "c").await;
    let orders = driver.container("db", "c");
    // The emulator applies the batch, then resets the connection mid-answer: the driver
    // cannot know whether it applied.
    let reset = || FaultRule::on_class("items", FaultAction::Reset).times(1);
    emulator.add_fault(reset()).unwrap();
    let before = emulator.counters().total("items", "POST");
    let error = orders
        .batch("o")
        .create_item(&item("a", "o"))
        .upsert_item(&item("b", "o"))
        .execute()
        .await
        .unwrap_err();
    assert!(matches!(error, DriverError::MaybeApplied(_)), "{error:?}");
    assert_eq!(error.failure().unwrap().attempts(), 1);
    assert_eq!(
        emulator.counters().total("items", "POST") - before,
        1,
        "sent once, never again"
    );
    // It had applied, once.
    orders.read_item::<Value>("o", "a").await.unwrap();

    // A batch whose every operation is idempotent is sent again through the same fault.
    emulator.add_fault(reset()).unwrap();
    let done = orders
        .batch("o")
        .upsert_item(&item("c", "o"))
        .replace_item("a", &item("a", "o"), None)
        .read_item("b")
        .execute()
        .await
        .unwrap();
    assert_eq!(done.metadata.attempts, 2);
}

#[tokio::test]
async fn bulk_groups_operations_by_partition_key_range() {
    let emulator = Emulator::builder().start().await.unwrap();
    let runtime = quiet_runtime();
    let driver = driver(&runtime, &emulator).await;
    create_database_and_container(&driver, "db", "c").await;
    let items = driver.container("db", "c");
    // 250 operations over 7 partition keys, one of them failing (409) on its own.
    items.create_item("k3", &item("i3", "k3")).await.unwrap();
    let ops: Vec<BulkOperation> = (0..250)
        .map(|i| {
            let pk = format!("k{}", i % 7);
            BulkOperation::create(pk.as_str(), &item(&format!("i{i}"), &pk)).unwrap()
        })
        .collect();
    let before = emulator.counters().total("items", "POST");
    let outcomes = items.bulk(ops).max_in_flight(2).execute().await.unwrap();
    // The container has one range: 250 operations are three requests to it, whatever
    // their keys (100, 100, 50), not one request per key.
    assert_eq!(emulator.counters().total("items", "POST") - before, 3);
    assert_eq!(outcomes.len(), 250);
    for (i, outcome) in outcomes.iter().enumerate() {
        assert_eq!(outcome.index, i);
        let code = outcome.result.as_ref().unwrap().status.code;
        assert_eq!(code, if i == 3 { 409 } else { 201 }, "operation {i}");
        assert_eq!(outcome.attempts, 1);
    }
    let read = items.read_item::<Value>("k4", "i249").await.unwrap();
    assert_eq!(read.item["pk"], "k4");
}

#[tokio::test]
async fn bulk_retries_throttled_operations_with_the_services_delay() {
    // The emulator throttles writes past its replication log's cap (10 writes not yet
    // applied in every region) with the wait until East US applies the oldest.
    let emulator = Emulator::builder()
        .regions(["West US", "East US"])
        .replication_log_limit(10)
        .start()
        .await
        .unwrap();
    let runtime = quiet_runtime();
    let driver = driver(&runtime, &emulator).await;
    create_database_and_container(&driver, "db", "c").await;
    emulator
        .set_replication_lag(Some("East US"), Duration::from_millis(200))
        .unwrap();
    let ops: Vec<BulkOperation> = (0..30)
        .map(|i| BulkOperation::create("p", &item(&format!("i{i}"), "p")).unwrap())
        .collect();
    let outcomes = driver
        .container("db", "c")
        .bulk(ops)
        .execute()
        .await
        .unwrap();
    // Every operation was created once; those throttled were sent again after waiting
    // what the service asked (retrying at once would spend the throttle budget on 429s).
    for outcome in &outcomes {
        let result = outcome.result.as_ref().unwrap();
        assert_eq!(result.status.code, 201, "{outcome:?}");
        assert_eq!(outcome.attempts > 1, outcome.throttled_for > Duration::ZERO);
    }
    let retried = outcomes.iter().filter(|o| o.attempts > 1).count();
    assert!(
        retried >= 20,
        "{retried} retried: at most 10 fit before the cap"
    );
    let first = outcomes.iter().filter(|o| o.attempts == 1).count();
    assert_eq!(first, 10);
}
