//! Lifetimes like a database client: drivers keep the refresh loop alive; an explicit
//! shutdown stops it and every driver operation fails at once.

use std::time::Duration;

use meridian_driver::{AccountConfig, Driver, DriverError};
use meridian_emulator::Emulator;
use meridian_location_store::OperationKind;
use meridian_runtime::Runtime;
use serde_json::json;

use crate::wait_for;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_runtime_handle_keeps_drivers_refreshing() {
    let emulator = Emulator::builder().start().await.unwrap();
    let runtime = Runtime::builder()
        .refresh_interval(Duration::from_millis(100))
        .fetch_timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let driver = meridian_testkit::driver_builder(&runtime, &emulator)
        .request_timeout(Duration::from_secs(2))
        .build()
        .await
        .unwrap();
    let monitor = runtime.task_monitor();
    drop(runtime);

    // No operation reports anything: only the periodic refresh can see the failover.
    emulator.failover("East US").unwrap();
    let east = emulator.region_endpoint("East US").unwrap();
    assert!(
        wait_for(Duration::from_secs(10), || async {
            driver.route(OperationKind::Write).as_str() == east
        })
        .await,
        "the driver follows the failover"
    );
    assert!(driver.runtime().health().loop_running);
    assert!(monitor.live_tasks() >= 1);
    driver.create_database("after-failover").await.unwrap();

    // With the last driver gone, every task ends.
    drop(driver);
    assert!(monitor.wait_idle(Duration::from_secs(5)).await);
}

#[tokio::test]
async fn operations_after_shutdown_fail_with_shutdown() {
    let emulator = Emulator::builder().start().await.unwrap();
    let runtime = crate::quiet_runtime();
    let driver = crate::driver(&runtime, &emulator).await;
    driver.create_database("db").await.unwrap();
    driver.create_container("db", "c", "/pk").await.unwrap();
    assert!(runtime.shutdown().await);
    let requests = emulator.counters();

    let container = driver.container("db", "c");
    let outcomes = tokio::time::timeout(Duration::from_secs(5), async {
        vec![
            driver.read_account().await.map(|_| ()),
            driver.create_database("other").await.map(|_| ()),
            container
                .upsert_item("p", &json!({"id": "a", "pk": "p"}))
                .await
                .map(|_| ()),
            container
                .read_item::<serde_json::Value>("p", "a")
                .await
                .map(|_| ()),
        ]
    })
    .await
    .expect("a shut-down driver answers at once");
    for outcome in outcomes {
        assert!(matches!(outcome, Err(DriverError::Shutdown)), "{outcome:?}");
    }
    assert_eq!(emulator.counters(), requests, "nothing was sent");
    // A driver built afterwards is refused the same way, also from a clone.
    let late = Driver::builder(
        driver.runtime(),
        AccountConfig::new(emulator.global_endpoint(), emulator.key()),
    )
    .build()
    .await;
    assert!(matches!(late, Err(DriverError::Shutdown)));
    assert!(driver.runtime().is_shut_down());
}
