//! Partition-level failover end to end: one partition key range failing in one region
//! moves only that range's operations, and comes back through the runtime's one loop.

use std::time::Duration;

use meridian_driver::{Container, ContainerProperties, Driver};
use meridian_emulator::{Emulator, RangeFailure};
use meridian_location_store::{
    OperationKind, PartitionKeyComponent, PartitionKeyScheme, effective_partition_key,
};
use meridian_runtime::{Runtime, RuntimeEvent};
use meridian_testkit::{driver_builder, west_and_east};
use serde_json::{Value, json};

use crate::wait_for;

const C: (&str, &str) = ("db", "c");

/// A runtime whose partition marks hold `hold` (refreshes out of the way).
fn runtime(hold: Duration) -> Runtime {
    Runtime::builder()
        .refresh_interval(Duration::from_secs(600))
        .event_min_interval(Duration::from_millis(50))
        .fetch_timeout(Duration::from_secs(2))
        .unavailability_ttl(Duration::from_secs(120))
        .first_probe_delay(hold)
        .partition_failure_threshold(3)
        .build()
        .unwrap()
}

async fn west_preferring(runtime: &Runtime, emulator: &Emulator) -> Driver {
    driver_builder(runtime, emulator)
        .preferred_regions(["West US", "East US"])
        .request_timeout(Duration::from_secs(5))
        .build()
        .await
        .unwrap()
}

/// `db/c` split into two ranges; returns their ids and a partition key in each, each
/// with an item `a`.
async fn two_ranges(emulator: &Emulator, driver: &Driver) -> (Container, [(String, String); 2]) {
    // Hash V2 stated, as the emulator hashes (a container created without a version is
    // V1 to the driver).
    driver.create_database("db").await.unwrap();
    let properties = ContainerProperties::new("c", "/pk");
    driver
        .database("db")
        .create_container_with(&properties)
        .await
        .unwrap();
    emulator.split_range(C, "0", Duration::ZERO).unwrap();
    let ranges = emulator.partition_key_ranges("db", "c").unwrap();
    let ranges = ranges.as_array().unwrap().clone();
    assert_eq!(ranges.len(), 2);
    let holding = |epk: &str| {
        ranges
            .iter()
            .find(|r| {
                r["minInclusive"].as_str().unwrap() <= epk
                    && (epk < r["maxExclusive"].as_str().unwrap() || r["maxExclusive"] == "FF")
            })
            .map(|r| r["id"].as_str().unwrap().to_owned())
            .unwrap()
    };
    let mut found: Vec<(String, String)> = Vec::new();
    for n in 0..1_000 {
        let key = format!("k{n}");
        let component = [PartitionKeyComponent::String(key.clone())];
        let epk = effective_partition_key(&PartitionKeyScheme::hash_v2(), &component).unwrap();
        let id = holding(&epk);
        if !found.iter().any(|(r, _)| *r == id) {
            found.push((id, key));
        }
        if found.len() == 2 {
            break;
        }
    }
    let container = driver.container("db", "c");
    for (_, key) in &found {
        container
            .create_item(key.as_str(), &json!({"id": "a", "pk": key}))
            .await
            .unwrap();
    }
    let [a, b]: [(String, String); 2] = found.try_into().unwrap();
    (container, [a, b])
}

fn item_requests(emulator: &Emulator, region: &str, method: &str) -> u64 {
    emulator.counters().get(region, "items", method)
}

fn region_of(emulator: &Emulator, endpoint: &meridian_location_store::Endpoint) -> &'static str {
    let east = emulator.region_endpoint("East US").unwrap();
    if endpoint.as_str().trim_end_matches('/') == east.trim_end_matches('/') {
        "East US"
    } else {
        "West US"
    }
}

#[tokio::test]
async fn one_failing_partition_fails_over_alone() {
    let emulator = west_and_east().await;
    let runtime = runtime(Duration::from_secs(60));
    let driver = west_preferring(&runtime, &emulator).await;
    let (container, [(failing, k0), (_, k1)]) = two_ranges(&emulator, &driver).await;
    let mut events = runtime.events();
    emulator
        .fail_range(C, &failing, "West US", Some(RangeFailure::Unavailable))
        .unwrap();

    // Each read of the failing range is retried in East US and succeeds; three in a row
    // trip the range's circuit breaker in West US.
    for _ in 0..3 {
        let read = container
            .read_item::<Value>(k0.as_str(), "a")
            .await
            .unwrap();
        assert_eq!(region_of(&emulator, &read.endpoint), "East US");
    }
    let marked = wait_for(Duration::from_secs(10), || {
        let mut seen = false;
        while let Ok(event) = events.try_recv() {
            seen |= matches!(&event, RuntimeEvent::PartitionMarked { partition, .. } if &*partition.range == failing.as_str());
        }
        async move { seen }
    })
    .await;
    assert!(marked, "the range was marked in West US");

    // Now the failing range reads from East US directly: West US sees none of them.
    let (west, east) = (
        item_requests(&emulator, "West US", "GET"),
        item_requests(&emulator, "East US", "GET"),
    );
    for _ in 0..5 {
        let read = container
            .read_item::<Value>(k0.as_str(), "a")
            .await
            .unwrap();
        assert_eq!(
            (region_of(&emulator, &read.endpoint), read.attempts),
            ("East US", 1)
        );
    }
    assert_eq!(item_requests(&emulator, "West US", "GET"), west);
    assert_eq!(item_requests(&emulator, "East US", "GET"), east + 5);

    // The other range keeps reading from the preferred region.
    for _ in 0..5 {
        let read = container
            .read_item::<Value>(k1.as_str(), "a")
            .await
            .unwrap();
        assert_eq!(
            (region_of(&emulator, &read.endpoint), read.attempts),
            ("West US", 1)
        );
    }
    assert_eq!(item_requests(&emulator, "West US", "GET"), west + 5);
    assert_eq!(item_requests(&emulator, "East US", "GET"), east + 5);
}

#[tokio::test]
async fn ppaf_moves_one_partitions_writes_and_fails_back() {
    let emulator = west_and_east().await;
    emulator.set_per_partition_failover(true);
    let runtime = runtime(Duration::from_secs(3));
    let driver = west_preferring(&runtime, &emulator).await;
    let (container, [(failing, k0), (_, k1)]) = two_ranges(&emulator, &driver).await;
    let mut events = runtime.events();
    emulator
        .fail_range(C, &failing, "West US", Some(RangeFailure::WriteForbidden))
        .unwrap();
    let upsert = |key: &str, n: u64| {
        let container = container.clone();
        let key = key.to_owned();
        async move {
            container
                .upsert_item(key.as_str(), &json!({"id": "a", "pk": key, "n": n}))
                .await
                .unwrap()
        }
    };

    // The first write of the range is refused in West US (403/3) and lands in East US;
    // the next ones go to East US directly.
    let first = upsert(&k0, 1).await;
    assert_eq!(region_of(&emulator, &first.endpoint), "East US");
    let west =
        item_requests(&emulator, "West US", "PUT") + item_requests(&emulator, "West US", "POST");
    for n in 2..5 {
        let write = upsert(&k0, n).await;
        assert_eq!(
            (region_of(&emulator, &write.endpoint), write.attempts),
            ("East US", 1)
        );
    }
    assert_eq!(
        item_requests(&emulator, "West US", "PUT") + item_requests(&emulator, "West US", "POST"),
        west,
        "no write of the moved range reached West US"
    );
    // The other range's writes stay in the write region.
    let other = upsert(&k1, 1).await;
    assert_eq!(
        (region_of(&emulator, &other.endpoint), other.attempts),
        ("West US", 1)
    );

    // The fault is lifted. The override stays until its hold ends; then the runtime's
    // loop lifts it (no operation needed) and the range's writes go to West US directly.
    emulator.fail_range(C, &failing, "West US", None).unwrap();
    let lifted = wait_for(Duration::from_secs(30), || {
        let mut seen = false;
        while let Ok(event) = events.try_recv() {
            seen |= matches!(
                &event,
                RuntimeEvent::PartitionFailedBack { partition, kind: OperationKind::Write, .. }
                    if *partition.range == *failing
            );
        }
        async move { seen }
    })
    .await;
    assert!(lifted, "the loop lifted the range's write override");
    let back = upsert(&k0, 10).await;
    assert_eq!(
        (region_of(&emulator, &back.endpoint), back.attempts),
        ("West US", 1)
    );
}

#[tokio::test]
async fn a_range_hanging_in_one_region_is_routed_around_after_a_few_hedges() {
    let emulator = west_and_east().await;
    let runtime = runtime(Duration::from_secs(60));
    let driver = driver_builder(&runtime, &emulator)
        .preferred_regions(["West US", "East US"])
        .request_timeout(Duration::from_secs(30))
        .availability_strategy(meridian_driver::AvailabilityStrategy::hedging(
            Duration::from_millis(50),
        ))
        .build()
        .await
        .unwrap();
    let (container, [(failing, k0), (_, k1)]) = two_ranges(&emulator, &driver).await;
    emulator
        .fail_range(C, &failing, "West US", Some(RangeFailure::Timeout))
        .unwrap();

    // West US never answers the range: each read is answered by the hedge in East US,
    // and the outrun primaries count against the range there (three trip its breaker).
    for _ in 0..3 {
        let read = container
            .read_item::<Value>(k0.as_str(), "a")
            .await
            .unwrap();
        assert_eq!(
            (region_of(&emulator, &read.endpoint), read.metadata.hedged),
            ("East US", true)
        );
    }
    // Then the range reads from East US directly, without waiting for a hedge.
    let west = item_requests(&emulator, "West US", "GET");
    for _ in 0..5 {
        let read = container
            .read_item::<Value>(k0.as_str(), "a")
            .await
            .unwrap();
        assert_eq!(
            (region_of(&emulator, &read.endpoint), read.metadata.hedged),
            ("East US", false)
        );
    }
    assert_eq!(item_requests(&emulator, "West US", "GET"), west);
    // The other range still reads from West US.
    let read = container
        .read_item::<Value>(k1.as_str(), "a")
        .await
        .unwrap();
    assert_eq!(region_of(&emulator, &read.endpoint), "West US");
}
