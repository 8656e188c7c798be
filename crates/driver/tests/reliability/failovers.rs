//! No lost writes across 100 write-region moves (plus drains, removals and re-adds).

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use meridian_driver::{AccountConfig, Driver, DriverError};
use meridian_emulator::Emulator;
use meridian_location_store::{OperationKind, RouteRequest};
use meridian_runtime::Runtime;
use serde_json::{Value, json};

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
    let driver = Driver::builder(
        &runtime,
        AccountConfig::new(emulator.global_endpoint(), emulator.key()),
    )
    .request_timeout(Duration::from_secs(2))
    .build()
    .await
    .unwrap();
    driver.create_database("db").await.unwrap();
    driver.create_container("db", "c", "/pk").await.unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..2)
        .map(|w| {
            let (driver, stop) = (driver.clone(), Arc::clone(&stop));
            tokio::spawn(async move {
                let container = driver.container("db", "c");
                let (mut acknowledged, mut failed) = (Vec::new(), Vec::new());
                let mut i = 0u32;
                while !stop.load(Ordering::Relaxed) {
                    let id = format!("w{w}-{i}");
                    match container
                        .create_item("p", &json!({"id": id, "pk": "p"}))
                        .await
                    {
                        Ok(_) => acknowledged.push(id),
                        Err(error) => {
                            // A typed error, never a duplicate from a blind retry.
                            assert!(!error.is_conflict(), "{id} was applied twice");
                            assert!(error.failure().is_some(), "untyped failure: {error}");
                            failed.push(error);
                        }
                    }
                    i += 1;
                }
                (acknowledged, failed)
            })
        })
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
    let followed = crate::wait_for(Duration::from_secs(10), || async {
        driver
            .snapshot()
            .route(OperationKind::Write, &RouteRequest::default())
            .as_str()
            == final_region
    })
    .await;
    assert!(followed, "the writers followed the last failover");
    stop.store(true, Ordering::Relaxed);
    let mut acknowledged = Vec::new();
    let mut failed: Vec<DriverError> = Vec::new();
    for writer in writers {
        let (a, f) = tokio::time::timeout(Duration::from_secs(60), writer)
            .await
            .unwrap()
            .unwrap();
        acknowledged.extend(a);
        failed.extend(f);
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
