//! Hedged reads against the emulator's outage shapes: real time, assertions on which
//! region answered and on counters, never on how fast.

use std::time::{Duration, Instant};

use meridian_driver::{AvailabilityStrategy, Container, Driver, ItemOptions, ReadOptions};
use meridian_emulator::{Emulator, Outage};
use meridian_runtime::{Runtime, RuntimeEvent};
use meridian_testkit::{create_database_and_container, driver_builder};
use serde_json::{Value, json};

use crate::quiet_runtime;

const THRESHOLD: Duration = Duration::from_millis(200);

/// A driver preferring East US with a 60 s request timeout and a 200 ms hedge threshold,
/// and `db/c` holding item `a` in partition `p`.
async fn east_reader(emulator: &Emulator, runtime: &Runtime) -> (Driver, Container) {
    let driver = driver_builder(runtime, emulator)
        .preferred_regions(["East US"])
        .request_timeout(Duration::from_secs(60))
        .availability_strategy(AvailabilityStrategy::hedging(THRESHOLD))
        .build()
        .await
        .unwrap();
    create_database_and_container(&driver, "db", "c").await;
    let container = driver.container("db", "c");
    container
        .create_item("p", &json!({"id": "a", "pk": "p"}))
        .await
        .unwrap();
    (driver, container)
}

fn region_of<T>(response: &meridian_driver::ItemResponse<T>) -> String {
    response.metadata.region.as_ref().unwrap().to_string()
}

/// A bound for a wedged test, far below the 60 s request timeout: a read that waits the
/// request timeout out fails it.
async fn bounded<T>(future: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(20), future)
        .await
        .expect("answered without waiting out the 60 s request timeout")
}

#[tokio::test]
async fn a_hanging_preferred_region_is_hedged_not_waited_out() {
    let emulator = Emulator::builder().start().await.unwrap();
    let runtime = quiet_runtime();
    let (driver, container) = east_reader(&emulator, &runtime).await;
    // Healthy first: East US answers (with a threshold no loaded machine reaches, so the
    // check does not depend on how fast a healthy read is).
    let patient = ReadOptions::default()
        .availability_strategy(AvailabilityStrategy::hedging(Duration::from_secs(30)));
    let read = container
        .read_item_with::<Value>("p", "a", &patient)
        .await
        .unwrap();
    assert_eq!(
        (region_of(&read), read.metadata.hedged),
        ("East US".into(), false)
    );

    emulator
        .set_outage("East US", Outage::blackhole().reads())
        .unwrap();
    let read = bounded(container.read_item::<Value>("p", "a"))
        .await
        .unwrap();
    assert_eq!(region_of(&read), "West US");
    assert!(read.metadata.hedged, "{:?}", read.metadata);
    assert_eq!(read.attempts, 2, "the first request and one hedge");
    assert!(emulator.counters().get("East US", "outage", "GET") >= 1);
    // The hung request was not reported: East US is still the preferred read region.
    assert_eq!(driver.stats().marked_endpoints, 0);
}

#[tokio::test]
async fn a_slow_preferred_region_is_hedged_after_the_threshold() {
    let emulator = Emulator::builder().start().await.unwrap();
    let runtime = quiet_runtime();
    let (_driver, container) = east_reader(&emulator, &runtime).await;
    let slow = Duration::from_secs(2);
    emulator
        .set_outage("East US", Outage::slow(slow).reads())
        .unwrap();

    let started = Instant::now();
    let read = bounded(container.read_item::<Value>("p", "a"))
        .await
        .unwrap();
    assert!(
        started.elapsed() >= THRESHOLD,
        "no hedge before the threshold"
    );
    assert_eq!(region_of(&read), "West US");
    assert!(read.metadata.hedged);

    // Per operation, hedging off: the slow region's own answer, after its delay.
    let started = Instant::now();
    let options = ReadOptions::default().availability_strategy(AvailabilityStrategy::disabled());
    let read = bounded(container.read_item_with::<Value>("p", "a", &options))
        .await
        .unwrap();
    assert!(started.elapsed() >= slow);
    assert_eq!(
        (region_of(&read), read.metadata.hedged),
        ("East US".into(), false)
    );
}

#[tokio::test]
async fn the_losing_hedge_is_cancelled_and_not_reported() {
    let emulator = Emulator::builder().start().await.unwrap();
    let runtime = quiet_runtime();
    let (driver, container) = east_reader(&emulator, &runtime).await;
    let mut events = runtime.events();
    let before = driver.stats();
    emulator
        .set_outage("East US", Outage::slow(Duration::from_secs(3)).reads())
        .unwrap();
    let read = bounded(container.read_item::<Value>("p", "a"))
        .await
        .unwrap();
    assert_eq!(region_of(&read), "West US");
    assert!(read.metadata.hedged);
    assert_eq!(
        read.attempts, 2,
        "no retry: the slow request was not a failure"
    );
    let regions: Vec<String> = read
        .metadata
        .regions_tried
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(regions, ["East US", "West US"]);

    // Not reported: no mark, no event, no refresh signal; East US still leads reads.
    let after = driver.stats();
    assert_eq!(after.marked_endpoints, 0);
    assert_eq!(after.refresh.attempts, before.refresh.attempts);
    while let Ok(event) = events.try_recv() {
        assert!(
            !matches!(event, RuntimeEvent::EndpointMarked { .. }),
            "{event:?}"
        );
    }
    let east = emulator.region_endpoint("East US").unwrap();
    assert_eq!(
        driver
            .route(meridian_location_store::OperationKind::Read)
            .as_str(),
        east
    );

    // Once healthy, East US serves the next read itself (a threshold no loaded machine
    // reaches, so the check does not depend on how fast a healthy read is).
    emulator.region_up("East US").unwrap();
    let patient = ReadOptions::default()
        .availability_strategy(AvailabilityStrategy::hedging(Duration::from_secs(30)));
    let read = bounded(container.read_item_with::<Value>("p", "a", &patient))
        .await
        .unwrap();
    assert_eq!(
        (region_of(&read), read.metadata.hedged),
        ("East US".into(), false)
    );
}

#[tokio::test]
async fn writes_are_not_hedged_on_a_single_write_account() {
    let emulator = Emulator::builder().start().await.unwrap();
    let runtime = quiet_runtime();
    let (_driver, container) = east_reader(&emulator, &runtime).await;
    // The write region answers writes late; the user opted writes in.
    let slow = Duration::from_millis(800);
    emulator
        .set_outage("West US", Outage::slow(slow).writes())
        .unwrap();
    let options = ItemOptions::default()
        .availability_strategy(AvailabilityStrategy::hedging(THRESHOLD).with_writes(true));
    emulator.reset_counters();
    let started = Instant::now();
    let write = bounded(container.upsert_item_with("p", &json!({"id": "w", "pk": "p"}), &options))
        .await
        .unwrap();
    assert!(started.elapsed() >= slow, "the write region's own answer");
    assert_eq!(
        (region_of(&write), write.metadata.hedged),
        ("West US".into(), false)
    );
    assert_eq!(write.attempts, 1);
    let counters = emulator.counters();
    for other in ["East US", "North Europe"] {
        assert_eq!(counters.get(other, "items", "POST"), 0, "{other}");
    }

    // The same on a multi-write account: hedged to another write region.
    let emulator = Emulator::builder().multi_write(true).start().await.unwrap();
    let (_driver, container) = east_reader(&emulator, &runtime).await;
    let preferred = "East US";
    emulator
        .set_outage(preferred, Outage::slow(Duration::from_secs(3)).writes())
        .unwrap();
    let write = bounded(container.upsert_item_with("p", &json!({"id": "w", "pk": "p"}), &options))
        .await
        .unwrap();
    assert!(write.metadata.hedged);
    assert_ne!(region_of(&write), preferred);
    // Not opted in: not hedged, even on a multi-write account.
    let write = bounded(container.upsert_item("p", &json!({"id": "w", "pk": "p"})))
        .await
        .unwrap();
    assert_eq!(
        (region_of(&write), write.metadata.hedged),
        (preferred.into(), false)
    );
}
