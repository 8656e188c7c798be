//! Runtime drop with fetches in flight: every task ends, nothing panics, nobody hangs.
//! (Since issue 12 a live driver keeps the loop running after the last `Runtime` handle
//! is dropped; the explicit shutdown through the driver is what ends it here.)

use std::time::Duration;

use meridian_emulator::{Emulator, FaultAction, FaultRule};
use meridian_runtime::Runtime;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runtime_drop_with_fetches_in_flight_ends_every_task() {
    let emulator = Emulator::builder().start().await.unwrap();
    let runtime = Runtime::builder()
        .refresh_interval(Duration::from_millis(50))
        .event_min_interval(Duration::from_millis(10))
        .fetch_timeout(Duration::from_secs(30))
        .shutdown_grace(Duration::from_millis(100))
        .build()
        .unwrap();
    let driver = meridian_testkit::default_driver(&runtime, &emulator).await;
    emulator
        .add_fault(FaultRule::on_class("account", FaultAction::Hang))
        .unwrap();
    // Wait until a periodic fetch is really in flight (the emulator has seen it hang)...
    assert!(
        crate::wait_for(Duration::from_secs(5), || async {
            emulator.faults()[0].hits >= 1
        })
        .await
    );
    // ...and join it from an event-driven trigger.
    let trigger = tokio::spawn({
        let driver = driver.clone();
        async move { driver.request_refresh().await }
    });
    let monitor = runtime.task_monitor();
    assert!(
        crate::wait_for(Duration::from_secs(5), || async {
            driver.stats().refresh.joined >= 1
        })
        .await,
        "the trigger joined the hanging flight"
    );
    assert!(
        monitor.live_tasks() >= 1,
        "the loop, which runs the hanging periodic fetch"
    );
    drop(runtime);
    assert!(
        monitor.live_tasks() >= 1,
        "the driver keeps the loop alive without a runtime handle"
    );
    driver.runtime().shutdown().await;
    assert!(
        monitor.wait_idle(Duration::from_secs(5)).await,
        "every task ended"
    );
    assert_eq!(monitor.live_tasks(), 0);
    let outcome = tokio::time::timeout(Duration::from_secs(5), trigger)
        .await
        .unwrap()
        .unwrap();
    assert!(
        !outcome.fetched(),
        "the joined caller is told, not left hanging"
    );
    // The driver still routes on its last good topology.
    assert_eq!(driver.snapshot().topology_generation(), 1);
}
