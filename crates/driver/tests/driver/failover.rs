//! Failover end to end: write-region moves under a write loop, drained regions, outages
//! and probe-gated failback.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use meridian_driver::{Container, Driver, DriverError};
use meridian_emulator::Emulator;
use meridian_location_store::{OperationKind, RouteRequest};
use meridian_runtime::Runtime;
use serde_json::{Value, json};

use meridian_testkit::{
    WriteLog, Writer, create_database_and_container, driver_preferring, routes_writes_to,
};

use crate::{driver, quiet_runtime, wait_for};

/// A driver whose reads prefer East US.
async fn preferring_east(runtime: &Runtime, emulator: &Emulator) -> Driver {
    driver_preferring(runtime, emulator, "East US", Duration::from_secs(2)).await
}

/// An emulator, a quiet runtime, a driver preferring East US, and `db/c` holding item
/// `a` in partition `p`.
async fn east_reader_with_item_a() -> (Emulator, Runtime, Driver, Container) {
    let emulator = Emulator::builder().start().await.unwrap();
    let runtime = quiet_runtime();
    let driver = preferring_east(&runtime, &emulator).await;
    setup(&driver).await;
    let container = driver.container("db", "c");
    container
        .create_item("p", &json!({"id": "a", "pk": "p"}))
        .await
        .unwrap();
    (emulator, runtime, driver, container)
}

/// The endpoint that served a read of item `a`.
async fn served_by(container: &Container) -> String {
    let read = container.read_item::<Value>("p", "a").await.unwrap();
    read.endpoint.as_str().to_string()
}

async fn setup(driver: &Driver) {
    create_database_and_container(driver, "db", "c").await;
}

#[tokio::test]
async fn write_region_failover_under_a_write_loop_loses_nothing() {
    let emulator = Arc::new(Emulator::builder().start().await.unwrap());
    let runtime = quiet_runtime();
    let driver = driver(&runtime, &emulator).await;
    setup(&driver).await;

    let writer = Writer::start(&driver, "db", "c", "w", Duration::ZERO);
    let regions = ["East US", "North Europe", "West US"];
    for round in 0..10 {
        tokio::time::sleep(Duration::from_millis(60)).await;
        emulator.failover(regions[round % 3]).unwrap();
    }
    // Let the writer meet the last failover: the driver routes writes to the final region.
    let final_region = emulator.region_endpoint(&emulator.write_region()).unwrap();
    let followed = routes_writes_to(&driver, &final_region, Duration::from_secs(10)).await;
    assert!(followed, "the writer followed the last failover");
    let WriteLog {
        acknowledged,
        failed,
    } = writer.stop(Duration::from_secs(30)).await;
    assert!(
        acknowledged.len() > 10,
        "the loop made progress: {}",
        acknowledged.len()
    );
    assert!(
        failed.is_empty(),
        "failovers are retried transparently: {failed:?}"
    );
    let container = driver.container("db", "c");
    for id in &acknowledged {
        container.read_item::<Value>("p", id).await.unwrap();
    }
    let unique: HashSet<_> = acknowledged.iter().collect();
    assert_eq!(unique.len(), acknowledged.len());
    let stats = driver.stats();
    assert!(
        stats.refresh.successes >= 2,
        "403/3 triggered refreshes: {stats:?}"
    );
    assert!(emulator.counters().listeners.values().any(|l| l.total > 0));
    let write_region = emulator.region_endpoint(&emulator.write_region()).unwrap();
    assert_eq!(
        driver
            .snapshot()
            .route(OperationKind::Write, &RouteRequest::default())
            .as_str(),
        write_region,
        "the driver follows the final write region"
    );
}

#[tokio::test]
async fn a_drained_region_answers_403_1008_and_reads_move_away() {
    let (emulator, _runtime, driver, container) = east_reader_with_item_a().await;
    let read = container.read_item::<Value>("p", "a").await.unwrap();
    assert_eq!(
        read.endpoint.as_str(),
        emulator.region_endpoint("East US").unwrap()
    );

    emulator.drain_region("East US").unwrap();
    let read = container.read_item::<Value>("p", "a").await.unwrap();
    assert_eq!(read.attempts, 2, "403/1008 then the next region");
    assert_eq!(
        read.endpoint.as_str(),
        emulator.region_endpoint("West US").unwrap()
    );
    assert_eq!(emulator.counters().get("East US", "items", "GET"), 2);
    // The refreshed document still advertises East US, but its mark keeps it demoted.
    let snapshot = driver.snapshot();
    let east = snapshot
        .read_locations()
        .iter()
        .find(|l| l.region.as_str() == "East US")
        .unwrap();
    assert!(!east.available);
}

#[tokio::test]
async fn an_outage_moves_reads_away_and_failback_waits_for_a_successful_probe() {
    let (emulator, _runtime, driver, container) = east_reader_with_item_a().await;
    let east = emulator.region_endpoint("East US").unwrap();
    let west = emulator.region_endpoint("West US").unwrap();

    emulator.region_down("East US").unwrap();
    let read = container.read_item::<Value>("p", "a").await.unwrap();
    assert_eq!(
        read.endpoint.as_str(),
        west,
        "connection refused: next region"
    );

    // Past the TTL the probes keep failing: reads stay away.
    assert!(
        wait_for(Duration::from_secs(5), || async {
            driver.stats().probe_failures >= 2
        })
        .await
    );
    assert_eq!(served_by(&container).await, west);

    emulator.region_up("East US").unwrap();
    let failed_back = wait_for(Duration::from_secs(5), || async {
        driver.route(OperationKind::Read).as_str() == east
    })
    .await;
    assert!(failed_back, "a successful probe returns East US");
    assert_eq!(served_by(&container).await, east);
    let stats = driver.stats();
    assert!(stats.probes > stats.probe_failures);
}

#[tokio::test]
async fn non_idempotent_writes_are_not_retried_after_a_reset() {
    use meridian_emulator::{FaultAction, FaultRule};
    let emulator = Emulator::builder().start().await.unwrap();
    let runtime = quiet_runtime();
    let driver = driver(&runtime, &emulator).await;
    setup(&driver).await;
    emulator
        .add_fault(FaultRule::on_class("items", FaultAction::Reset).times(1))
        .unwrap();
    let error = driver
        .container("db", "c")
        .create_item("p", &json!({"id": "r", "pk": "p"}))
        .await
        .unwrap_err();
    assert!(matches!(error, DriverError::MaybeApplied(_)), "{error:?}");
    assert_eq!(error.failure().unwrap().attempts(), 1);
    // The emulator applied it before the reset: a read shows it, once.
    driver
        .container("db", "c")
        .read_item::<Value>("p", "r")
        .await
        .unwrap();
    // An idempotent upsert is retried through the same fault.
    emulator
        .add_fault(FaultRule::on_class("items", FaultAction::Reset).times(1))
        .unwrap();
    let upserted = driver
        .container("db", "c")
        .upsert_item("p", &json!({"id": "u", "pk": "p"}))
        .await
        .unwrap();
    assert_eq!(upserted.attempts, 2);
}

#[tokio::test]
async fn a_failover_inside_the_refresh_window_costs_one_gated_refresh_and_lands_in_the_new_region()
{
    let emulator = Emulator::builder().start().await.unwrap();
    // A wide window: the initial fetch just succeeded, so an immediate trigger is throttled.
    let runtime = meridian_runtime::Runtime::builder()
        .refresh_interval(Duration::from_secs(600))
        .event_min_interval(Duration::from_millis(400))
        .build()
        .unwrap();
    let driver = driver(&runtime, &emulator).await;
    setup(&driver).await;
    let before = (
        driver.stats().refresh.attempts,
        emulator.counters().get("global", "account", "GET"),
    );
    emulator.failover("East US").unwrap();
    let written = driver
        .container("db", "c")
        .create_item("p", &json!({"id": "f", "pk": "p"}))
        .await
        .unwrap();
    assert_eq!(written.attempts, 2, "403/3 once, then the new write region");
    assert_eq!(
        written.endpoint.as_str(),
        emulator.region_endpoint("East US").unwrap()
    );
    let after = (
        driver.stats().refresh.attempts,
        emulator.counters().get("global", "account", "GET"),
    );
    assert_eq!(
        (after.0 - before.0, after.1 - before.1),
        (1, 1),
        "exactly one gated refresh"
    );
    assert_eq!(emulator.counters().get("West US", "items", "POST"), 1);
}

#[tokio::test]
async fn a_failover_behind_a_write_region_answering_503_is_followed_without_a_tick() {
    // The tick is ten minutes away: only the write's own failure can make the driver
    // learn the new write region.
    let emulator = Emulator::builder().start().await.unwrap();
    let runtime = quiet_runtime();
    let driver = driver(&runtime, &emulator).await;
    setup(&driver).await;
    emulator
        .set_outage("West US", meridian_emulator::Outage::unavailable())
        .unwrap();
    emulator.failover("East US").unwrap();
    let container = driver.container("db", "c");
    let east = emulator.region_endpoint("East US").unwrap();
    let mut n = 0;
    let followed = wait_for(Duration::from_secs(20), || {
        n += 1;
        let id = format!("u{n}");
        let container = container.clone();
        let east = east.clone();
        async move {
            let written = container
                .upsert_item("p", &json!({"id": id, "pk": "p"}))
                .await;
            written.is_ok_and(|w| w.endpoint.as_str() == east)
        }
    })
    .await;
    assert!(followed, "writes reach the new write region");
}

#[tokio::test]
async fn the_failover_budget_starts_at_the_first_failover_signal() {
    // An operation throttled for longer than the failover budget, then met by a 403/3,
    // still waits for the refresh its 403/3 started: the budget bounds the failover,
    // not the time the operation spent on something else.
    use meridian_driver::RetryPolicy;
    use meridian_emulator::{FaultAction, FaultRule};
    const BUDGET: Duration = Duration::from_secs(3);
    let emulator = Emulator::builder().start().await.unwrap();
    let runtime = quiet_runtime();
    let driver = meridian_testkit::driver_builder(&runtime, &emulator)
        .retry_policy(RetryPolicy::default().with_failover_budget(BUDGET))
        .request_timeout(Duration::from_secs(10))
        .build()
        .await
        .unwrap();
    setup(&driver).await;
    // Four 429s of one second each: the budget, counted from the operation's start,
    // would be spent before the first failover signal.
    let throttled = FaultAction::Status {
        status: 429,
        sub_status: None,
        body: None,
        retry_after_ms: Some(1_000),
    };
    emulator
        .add_fault(FaultRule::on_class("items", throttled).times(4))
        .unwrap();
    // The refresh the 403/3 starts takes a while: a retry that does not wait for it meets
    // the old write region's 403/3 again.
    emulator
        .add_fault(FaultRule::on_class(
            "account",
            FaultAction::Delay { ms: 300 },
        ))
        .unwrap();
    emulator.failover("East US").unwrap();
    let written = driver
        .container("db", "c")
        .create_item("p", &json!({"id": "t", "pk": "p"}))
        .await
        .unwrap();
    assert_eq!(
        written.endpoint.as_str(),
        emulator.region_endpoint("East US").unwrap()
    );
    assert_eq!(
        written.attempts, 6,
        "four 429s, one 403/3, then the new write region after the refresh"
    );
}
