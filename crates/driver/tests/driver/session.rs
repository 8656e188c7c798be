//! Session consistency over a lagging emulator: read-your-writes through 404/1002
//! retries, and the eventual-read opt-out.

use std::time::Duration;

use meridian_driver::{ConsistencyLevel, Driver, ReadOptions, RegionName, Status};
use meridian_emulator::Emulator;
use meridian_runtime::Runtime;
use serde::{Deserialize, Serialize};

use crate::quiet_runtime;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Version {
    id: String,
    pk: String,
    n: u32,
}

fn version(id: &str, n: u32) -> Version {
    Version {
        id: id.into(),
        pk: "p".into(),
        n,
    }
}

/// A lagging emulator (West US writes; East US and North Europe read) and a driver that
/// prefers East US, with a database and container.
async fn setup(lag: Duration, runtime: &Runtime) -> (Emulator, Driver) {
    let emulator = Emulator::builder()
        .regions(["West US", "East US", "North Europe"])
        .start()
        .await
        .unwrap();
    let driver =
        meridian_testkit::driver_preferring(runtime, &emulator, "East US", Duration::from_secs(5))
            .await;
    driver.create_database("db").await.unwrap();
    driver.create_container("db", "c", "/pk").await.unwrap();
    emulator.set_replication_lag(None, lag).unwrap();
    (emulator, driver)
}

#[tokio::test]
async fn driver_reads_its_writes_across_a_lagging_region() {
    let runtime = quiet_runtime();
    let (emulator, driver) = setup(Duration::from_millis(500), &runtime).await;
    let items = driver.container("db", "c");
    let east = emulator.region_endpoint("East US").unwrap();
    let mut retried = 0u32;
    for i in 0..200u32 {
        let id = format!("item-{i}");
        let created = items.create_item("p", &version(&id, i)).await.unwrap();
        assert_eq!(created.status, 201);
        // The read goes to East US first; whatever East has seen, the answer is the
        // version just created (East, once caught up, or another region after 404/1002).
        let read = items.read_item::<Version>("p", &id).await.unwrap();
        assert_eq!(read.item, version(&id, i), "try {i}");
        if read.attempts > 1 {
            retried += 1;
            assert_ne!(read.endpoint.as_str(), east, "a retry is served elsewhere");
        }
    }
    // Not asserted: how many reads found East behind (that depends on scheduling); the
    // token is this driver's newest, shared by its clones.
    let clone = driver.clone();
    assert_eq!(
        clone.session_token("db", "c").as_deref(),
        Some("0:-1#200"),
        "{retried} reads were retried"
    );
}

#[tokio::test]
async fn driver_eventual_read_may_be_stale() {
    let runtime = quiet_runtime();
    let (emulator, driver) = setup(Duration::ZERO, &runtime).await;
    let items = driver.container("db", "c");
    items.create_item("p", &version("a", 1)).await.unwrap();
    // Longer than the test: East US stays behind the write below.
    emulator
        .set_replication_lag(None, Duration::from_secs(600))
        .unwrap();
    items.upsert_item("p", &version("a", 2)).await.unwrap();
    let east = emulator.region_endpoint("East US").unwrap();

    let eventual = items.read_item_eventual::<Version>("p", "a").await.unwrap();
    assert_eq!(eventual.item.n, 1, "the stale version");
    assert_eq!(
        (eventual.endpoint.as_str(), eventual.attempts),
        (east.as_str(), 1)
    );

    let session = items.read_item::<Version>("p", "a").await.unwrap();
    assert_eq!(session.item.n, 2, "read-your-writes");
    assert_ne!(session.endpoint.as_str(), east);
    // An eventual read's older token does not replace the newer one.
    assert_eq!(driver.session_token("db", "c").as_deref(), Some("0:-1#2"));
}

#[tokio::test]
async fn session_token_read_your_writes_across_regions() {
    let runtime = quiet_runtime();
    // Longer than the test: East US (preferred for reads) stays behind every write.
    let (emulator, driver) = setup(Duration::from_secs(600), &runtime).await;
    let items = driver.container("db", "c");
    let east = RegionName::new("East US");
    let written = items.create_item("p", &version("a", 1)).await.unwrap();
    let token = written.metadata.session_token.clone().unwrap();

    // The read is routed to lagging East US first, carrying the driver's token: East
    // answers 404/1002 and the read moves on to a region that has the write.
    let read = items.read_item::<Version>("p", "a").await.unwrap();
    assert_eq!(read.item, version("a", 1));
    assert_eq!(read.metadata.regions_tried.first(), Some(&east));
    assert_ne!(read.region(), Some(&east));

    // A second driver (no session of its own) reading from East does not see the
    // write, with its default or an eventual read...
    let other =
        meridian_testkit::driver_preferring(&runtime, &emulator, "East US", Duration::from_secs(5))
            .await;
    let theirs = other.container("db", "c");
    let eventual = ReadOptions::default().consistency(ConsistencyLevel::Eventual);
    for options in [ReadOptions::default(), eventual] {
        let error = theirs
            .read_item_with::<Version>("p", "a", &options)
            .await
            .unwrap_err();
        assert_eq!(error.typed_status(), Some(Status::NOT_FOUND));
    }
    // ...but handed the writer's token, which overrides even an eventual read, it does.
    let both = ReadOptions::default()
        .consistency(ConsistencyLevel::Eventual)
        .session_token(token);
    let read = theirs
        .read_item_with::<Version>("p", "a", &both)
        .await
        .unwrap();
    assert_eq!(read.item, version("a", 1));
    assert_ne!(read.region(), Some(&east));
}
