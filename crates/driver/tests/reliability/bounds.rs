//! Resource bounds: response bodies capped in the driver, no unbounded queue in the
//! runtime's trigger path.

use std::time::Duration;

use meridian_driver::DriverError;
use meridian_emulator::{Emulator, FaultAction, FaultRule};
use meridian_location_store::{OperationKind, OperationOutcome, RetryPolicy, RetryState};
use meridian_runtime::Runtime;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_megabyte_answer_is_refused_with_a_typed_error() {
    let emulator = Emulator::builder().start().await.unwrap();
    let runtime = Runtime::builder()
        .refresh_interval(Duration::from_secs(600))
        .build()
        .unwrap();
    let driver = meridian_testkit::driver_builder(&runtime, &emulator)
        .request_timeout(Duration::from_secs(10))
        .build()
        .await
        .unwrap();
    emulator
        .add_fault(FaultRule::on_class(
            "account",
            FaultAction::Oversized {
                bytes: 100 * 1024 * 1024,
            },
        ))
        .unwrap();
    match driver.read_account().await {
        Err(DriverError::ResponseTooLarge { limit, .. }) => {
            assert_eq!(limit, meridian_driver::DEFAULT_MAX_RESPONSE_BYTES)
        }
        other => panic!("expected ResponseTooLarge, got {other:?}"),
    }
    // The refresh path refuses it too, and keeps the last good topology.
    assert!(!driver.request_refresh().await.fetched());
    assert_eq!(driver.snapshot().topology_generation(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storm_of_reports_spawns_at_most_one_fetch() {
    let emulator = Emulator::builder().start().await.unwrap();
    let runtime = Runtime::builder()
        .refresh_interval(Duration::from_secs(600))
        .event_min_interval(Duration::from_millis(1))
        .build()
        .unwrap();
    let driver = meridian_testkit::default_driver(&runtime, &emulator).await;
    // Slow the refresh so the storm happens while it is in flight.
    emulator
        .add_fault(FaultRule::on_class(
            "account",
            FaultAction::Delay { ms: 200 },
        ))
        .unwrap();
    let west = driver.snapshot().write_locations()[0].endpoint.clone();
    let monitor = runtime.task_monitor();
    // The initial fetch's task has handed over its result; wait until it has also ended.
    assert!(
        crate::wait_for(Duration::from_secs(10), || async {
            monitor.live_tasks() == 1
        })
        .await,
        "only the loop is left after the initial fetch"
    );
    let outcome = OperationOutcome::response(OperationKind::Write, 403, Some(3));
    // 100,000 operations routed at the same moment, all refused with 403/3: each one's
    // report carries what it was routed on. However fast or slow they arrive, the first
    // starts the one refresh; the rest join it or find it already done (superseded).
    let handle = driver.account_handle();
    let routed = handle.with_snapshot(|s| handle.routed_on(s));
    let mut peak = 0;
    for _ in 0..100_000 {
        let mut retries = RetryState::new(RetryPolicy::default(), 1);
        let _ = handle.report(&west, &outcome, routed, &mut retries);
        peak = peak.max(monitor.live_tasks());
    }
    assert!(
        peak <= 2,
        "the loop and one flight at a time, saw {peak} tasks: {:?}",
        driver.stats().refresh
    );
    let stats = driver.stats().refresh;
    assert_eq!(
        stats.attempts, 2,
        "the initial fetch and one flight: {stats:?}"
    );
    assert_eq!(stats.joined + stats.superseded, 99_999, "{stats:?}");
}
