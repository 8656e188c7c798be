//! Every outage shape of the write region under a write loop, with the failover that
//! follows it: no write the driver acknowledged is lost.

use std::time::Duration;

use meridian_emulator::{Emulator, Outage};
use meridian_testkit::{WriteLog, Writer, create_database_and_container, driver, routes_writes_to};
use serde_json::Value;

use crate::{quiet_runtime, wait_for};

#[tokio::test]
async fn no_outage_shape_loses_an_acknowledged_write() {
    let shapes = [
        ("refuse", Outage::refuse()),
        ("blackhole", Outage::blackhole()),
        ("unavailable", Outage::unavailable()),
        ("slow", Outage::slow(Duration::from_millis(300))),
    ];
    for (name, shape) in shapes {
        let emulator = Emulator::builder().start().await.unwrap();
        let runtime = quiet_runtime();
        let driver = driver(&runtime, &emulator).await;
        create_database_and_container(&driver, "db", "c").await;
        let writer = Writer::start(&driver, "db", "c", "w", Duration::from_millis(5));
        let container = driver.container("db", "c");
        // Some writes before the outage (a bound for a wedged loop, not a timing check).
        let writing = wait_for(Duration::from_secs(10), || async {
            container.read_item::<Value>("p", "w2").await.is_ok()
        });
        assert!(writing.await, "{name}: the loop writes");

        // The write region fails in this shape, and the account fails over.
        emulator.set_outage("West US", shape).unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        emulator.failover("East US").unwrap();
        let east = emulator.region_endpoint("East US").unwrap();
        assert!(
            routes_writes_to(&driver, &east, Duration::from_secs(20)).await,
            "{name}: the writes follow the failover"
        );
        emulator.region_up("West US").unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;

        let WriteLog {
            acknowledged,
            failed,
        } = writer.stop(Duration::from_secs(30)).await;
        assert!(
            acknowledged.len() >= 3,
            "{name}: {} acknowledged",
            acknowledged.len()
        );
        for id in &acknowledged {
            let read = container.read_item::<Value>("p", id).await;
            assert!(
                read.is_ok(),
                "{name}: acknowledged write {id} is gone: {:?} (failed: {})",
                read.err(),
                failed.len()
            );
        }
    }
}
