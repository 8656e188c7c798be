//! No lost writes across 100 write-region moves (plus drains, removals and re-adds).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use meridian_driver::DriverError;
use meridian_emulator::Emulator;
use meridian_runtime::Runtime;
use meridian_testkit::{self as testkit, Writer, create_database_and_container, routes_writes_to};
use serde_json::Value;

const REGIONS: [&str; 4] = ["West US", "East US", "North Europe", "Japan East"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_write_survives_a_hundred_failovers() {
    let emulator = Arc::new(Emulator::builder().regions(REGIONS).start().await.unwrap());
    let runtime = Runtime::builder()
        .refresh_interval(Duration::from_secs(600))
        .event_min_interval(Duration::from_millis(20))
        .failure_backoff(Duration::from_millis(10))
        .unavailability_ttl(Duration::from_millis(200))
        .probe_interval(Duration::from_millis(50))
        .build()
        .unwrap();
    let driver = testkit::driver(&runtime, &emulator).await;
    create_database_and_container(&driver, "db", "c").await;

    let writers: Vec<_> = (0..2)
        .map(|w| Writer::start(&driver, "db", "c", format!("w{w}-"), Duration::ZERO))
        .collect();

    let mut rng = fastrand::Rng::with_seed(7);
    let mut write_region = "West US";
    for round in 0..100 {
        tokio::time::sleep(Duration::from_millis(rng.u64(5..40))).await;
        let next = loop {
            let candidate = REGIONS[rng.usize(..REGIONS.len())];
            if candidate != write_region {
                break candidate;
            }
        };
        // Make sure the target is advertised and serving before it takes writes.
        let _ = emulator.add_region(next);
        let _ = emulator.region_up(next);
        emulator.failover(next).unwrap();
        write_region = next;
        // A few times, disturb a region that is not the write region.
        if round % 20 == 10 {
            let victim = REGIONS
                .iter()
                .copied()
                .find(|r| *r != write_region)
                .unwrap();
            match round / 20 {
                0 | 3 => emulator.drain_region(victim).unwrap(),
                1 => emulator.remove_region(victim).unwrap(),
                _ => {
                    emulator.remove_region(victim).unwrap();
                    emulator.add_region(victim).unwrap();
                }
            }
        }
    }
    // Let the writers meet the last failover: the driver routes writes to the final region.
    let final_region = emulator.region_endpoint(write_region).unwrap();
    let followed = routes_writes_to(&driver, &final_region, Duration::from_secs(10)).await;
    assert!(followed, "the writers followed the last failover");
    let mut acknowledged = Vec::new();
    let mut failed: Vec<DriverError> = Vec::new();
    for writer in writers {
        let log = writer.stop(Duration::from_secs(60)).await;
        acknowledged.extend(log.acknowledged);
        failed.extend(log.failed.into_iter().map(|(_, error)| error));
    }
    // Every failure is typed (the writer itself checks none is a conflict: no blind retry
    // applied a write twice).
    for error in &failed {
        assert!(error.failure().is_some(), "untyped failure: {error}");
    }
    assert!(
        acknowledged.len() >= 100,
        "the writers made progress: {}",
        acknowledged.len()
    );
    let unique: HashSet<&String> = acknowledged.iter().collect();
    assert_eq!(unique.len(), acknowledged.len());
    // Read every acknowledged write back through a region that serves reads.
    for region in REGIONS {
        let _ = emulator.region_up(region);
        let _ = emulator.add_region(region);
    }
    let container = driver.container("db", "c");
    for id in &acknowledged {
        let read = container.read_item::<Value>("p", id).await;
        assert!(read.is_ok(), "acknowledged write {id} is missing: {read:?}");
    }
    println!(
        "failovers: 100 write-region moves, {} writes acknowledged, {} failed with typed errors, 0 lost",
        acknowledged.len(),
        failed.len()
    );
    assert!(
        failed.len() * 10 <= acknowledged.len(),
        "failovers are mostly transparent: {} failed",
        failed.len()
    );
}
