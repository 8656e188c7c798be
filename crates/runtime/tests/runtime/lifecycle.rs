//! Building, dropping and shutting down: no task left, no panic, no cycle.

use std::time::Duration;

use meridian_location_store::{OperationKind, OperationOutcome};
use meridian_runtime::{AccountHandle, AttachError, BuildError, Runtime, RuntimeEvent};
use tokio::time::sleep;

use crate::fake::{Behaviour, account_doc, endpoint, regional};
use crate::{attach, builder, serving};

#[test]
fn handles_are_send_sync_debug_and_cheap_to_clone() {
    fn assert_traits<T: Send + Sync + Clone + std::fmt::Debug + 'static>() {}
    assert_traits::<Runtime>();
    assert_traits::<meridian_runtime::AccountHandle>();
    assert_traits::<meridian_runtime::TaskMonitor>();
}

#[test]
fn build_outside_tokio_is_a_typed_error() {
    assert_eq!(
        Runtime::builder().build().unwrap_err(),
        BuildError::NoTokioRuntime
    );
}

#[tokio::test]
async fn invalid_settings_are_typed_errors() {
    let cases = [
        (
            Runtime::builder().refresh_interval(Duration::ZERO),
            "refresh_interval",
        ),
        (Runtime::builder().concurrency(0), "concurrency"),
        (Runtime::builder().jitter_fraction(0.9), "jitter_fraction"),
        (
            Runtime::builder().fetch_timeout(Duration::ZERO),
            "fetch_timeout",
        ),
        (
            Runtime::builder().event_min_interval(Duration::ZERO),
            "event_min_interval",
        ),
    ];
    for (builder, setting) in cases {
        match builder.build() {
            Err(error) => assert_eq!(error.setting(), Some(setting), "{error}"),
            Ok(runtime) => panic!("{setting}: accepted {runtime:?}"),
        }
    }
}

#[tokio::test(start_paused = true)]
async fn runtime_drop_aborts_the_refresh_task() {
    let fetcher = serving(&["acct"]);
    let runtime = builder().build().unwrap();
    let handle = attach(&runtime, "acct", &fetcher).await;
    let monitor = runtime.task_monitor();
    assert_eq!(monitor.live_tasks(), 1, "the loop");
    drop(runtime);
    assert!(monitor.wait_idle(Duration::from_secs(1)).await);
    assert_eq!(monitor.live_tasks(), 0);
    // The loop is gone: no more fetches however long we wait.
    let calls = fetcher.total_calls();
    sleep(Duration::from_secs(3_600)).await;
    assert_eq!(fetcher.total_calls(), calls);
    // The handle still routes on its last topology and drops cleanly.
    assert_eq!(handle.snapshot().topology_generation(), 1);
    drop(handle);
}

#[tokio::test(start_paused = true)]
async fn runtime_drop_with_fetches_in_flight_ends_every_task() {
    let fetcher = serving(&["acct", "other"]);
    let runtime = builder()
        .fetch_timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let handle = attach(&runtime, "acct", &fetcher).await;
    let _other = attach(&runtime, "other", &fetcher).await;
    sleep(Duration::from_secs(6)).await;
    fetcher.set(&endpoint("acct"), Behaviour::Hang);
    fetcher.set(&endpoint("other"), Behaviour::Hang);
    // An event-driven fetch of acct hangs in its own task; at 10 s the loop's tick skips
    // acct (its flight is running) and hangs on other, inside the loop task.
    let trigger = tokio::spawn({
        let handle = handle.clone();
        async move { handle.request_refresh().await }
    });
    sleep(Duration::from_secs(5)).await; // 11 s: the tick at 10 s hangs on other
    let monitor = runtime.task_monitor();
    assert_eq!(
        monitor.live_tasks(),
        2,
        "the loop (running the hanging tick) + the event fetch"
    );
    drop(runtime);
    assert!(monitor.wait_idle(Duration::from_secs(1)).await);
    assert_eq!(monitor.live_tasks(), 0);
    // The joined caller is told the flight was cancelled, not left hanging.
    let outcome = trigger.await.unwrap();
    assert!(!outcome.fetched());
    drop(handle);
}

#[tokio::test(start_paused = true)]
async fn shutdown_waits_for_in_flight_work_then_refuses_new_attaches() {
    let fetcher = serving(&["acct"]);
    let runtime = builder()
        .shutdown_grace(Duration::from_secs(1))
        .build()
        .unwrap();
    let handle = attach(&runtime, "acct", &fetcher).await;
    sleep(Duration::from_secs(6)).await;
    let moved = account_doc("acct", "eastus", &["eastus"]);
    fetcher.set(
        &endpoint("acct"),
        Behaviour::Slow(Duration::from_millis(200), moved),
    );
    let trigger = tokio::spawn({
        let handle = handle.clone();
        async move { handle.request_refresh().await }
    });
    tokio::task::yield_now().await;
    assert!(
        runtime.shutdown().await,
        "the 200 ms fetch finished within the grace"
    );
    assert!(trigger.await.unwrap().fetched());
    assert_eq!(runtime.task_monitor().live_tasks(), 0);
    assert_eq!(
        runtime
            .attach(endpoint("acct"), fetcher.clone())
            .await
            .unwrap_err(),
        AttachError::ShutDown
    );
}

#[tokio::test(start_paused = true)]
async fn shutdown_cancels_what_outlives_the_grace() {
    let fetcher = serving(&["acct"]);
    let runtime = builder()
        .shutdown_grace(Duration::from_millis(500))
        .build()
        .unwrap();
    let handle = attach(&runtime, "acct", &fetcher).await;
    sleep(Duration::from_secs(6)).await;
    fetcher.set(&endpoint("acct"), Behaviour::Hang);
    let trigger = tokio::spawn({
        let handle = handle.clone();
        async move { handle.request_refresh().await }
    });
    tokio::task::yield_now().await;
    assert!(
        !runtime.shutdown().await,
        "the hung fetch outlived the grace"
    );
    assert_eq!(runtime.task_monitor().live_tasks(), 0);
    assert!(!trigger.await.unwrap().fetched());
}

#[tokio::test(start_paused = true)]
async fn a_handle_dropped_after_the_runtime_does_not_panic() {
    let fetcher = serving(&["acct"]);
    let runtime = builder().build().unwrap();
    let handle = attach(&runtime, "acct", &fetcher).await;
    let clone = handle.clone();
    drop(runtime);
    // Triggers after the runtime is gone are answered, not hung or panicking.
    sleep(Duration::from_secs(6)).await;
    assert!(!clone.request_refresh().await.fetched());
    drop(handle);
    drop(clone);
}

/// Accounts "hung" and "gone" on a runtime with one routine slot (the other is reserved
/// for urgent work) and a 25 s fetch timeout; from the next tick (10 s), "hung"'s fetch
/// hangs and holds that slot until 35 s. Returns the runtime, the fetcher and "gone"'s
/// handle ("hung"'s stays attached with the runtime).
async fn gone_behind_a_hung_fetch(
    builder: meridian_runtime::RuntimeBuilder,
) -> (
    Runtime,
    std::sync::Arc<crate::fake::FakeFetcher>,
    AccountHandle,
    AccountHandle,
) {
    let fetcher = serving(&["hung", "gone"]);
    let runtime = builder
        .fetch_timeout(Duration::from_secs(25))
        .build()
        .unwrap();
    let hung = attach(&runtime, "hung", &fetcher).await;
    let gone = attach(&runtime, "gone", &fetcher).await;
    fetcher.set(&endpoint("hung"), Behaviour::Hang);
    (runtime, fetcher, hung, gone)
}

#[tokio::test(start_paused = true)]
async fn an_account_whose_last_handle_left_while_queued_is_not_refreshed() {
    let (runtime, fetcher, _hung, gone) = gone_behind_a_hung_fetch(builder().concurrency(2)).await;
    // Tick 1 (10 s) starts the hung fetch, which holds the slot until 35 s; tick 2 (20 s)
    // skips it and queues "gone" behind it.
    sleep(Duration::from_secs(21)).await;
    let fetched = fetcher.calls_to(&endpoint("gone"));
    let mut events = runtime.events();
    drop(gone);
    // The slot frees at 35 s (the hung flight fails); the queued job finds "gone" gone.
    sleep(Duration::from_secs(20)).await;
    let mut hung_failed = false;
    let mut gone_failed = false;
    while let Ok(event) = events.try_recv() {
        if let RuntimeEvent::RefreshFailed { account, .. } = event {
            hung_failed |= account == endpoint("hung");
            gone_failed |= account == endpoint("gone");
        }
    }
    assert!(hung_failed, "the slot was freed while the test waited");
    assert!(!gone_failed, "no failure for an account that left");
    assert_eq!(fetcher.calls_to(&endpoint("gone")), fetched, "not fetched");
}

#[tokio::test(start_paused = true)]
async fn an_account_whose_last_handle_left_while_queued_is_not_probed() {
    let ttl = builder()
        .concurrency(2)
        .unavailability_ttl(Duration::from_secs(14))
        .first_probe_delay(Duration::from_secs(14));
    let (runtime, fetcher, _hung, gone) = gone_behind_a_hung_fetch(ttl).await;
    let west = regional("gone", "westus");
    let failure = OperationOutcome::response(OperationKind::Read, 503, None);
    crate::report(&gone, &west, &failure);
    // 10 s: the hung fetch takes the slot until 35 s; ~14 s: the mark expires and the
    // probe of "gone" is queued behind it.
    sleep(Duration::from_secs(21)).await;
    let mut events = runtime.events();
    drop(gone);
    sleep(Duration::from_secs(20)).await;
    let mut hung_failed = false;
    while let Ok(event) = events.try_recv() {
        match event {
            RuntimeEvent::RefreshFailed { account, .. } => {
                hung_failed |= account == endpoint("hung")
            }
            RuntimeEvent::ProbeResult { account, .. } => {
                assert_ne!(
                    account,
                    endpoint("gone"),
                    "no probe for an account that left"
                );
            }
            _ => {}
        }
    }
    assert!(hung_failed, "the slot was freed while the test waited");
    assert_eq!(fetcher.probes_of(&west), 0, "not probed");
}

/// An event-driven flight waits for the one slot behind a hung fetch; meanwhile its
/// account's last handle leaves. When the slot frees, nothing is fetched and no failure
/// is reported for an account nobody holds.
#[tokio::test(start_paused = true)]
async fn an_event_flight_whose_last_handle_left_while_waiting_fetches_nothing() {
    let (runtime, fetcher, _hung, gone) = gone_behind_a_hung_fetch(builder().concurrency(1)).await;
    // 10 s: the hung periodic fetch takes the only slot until 35 s.
    sleep(Duration::from_secs(11)).await;
    let fetched = fetcher.calls_to(&endpoint("gone"));
    let forbidden = OperationOutcome::response(OperationKind::Write, 403, Some(3));
    let verdict = crate::report(&gone, &regional("gone", "westus"), &forbidden);
    let mut events = runtime.events();
    drop((verdict, gone));
    sleep(Duration::from_secs(30)).await;
    let mut hung_failed = false;
    while let Ok(event) = events.try_recv() {
        if let RuntimeEvent::RefreshFailed { account, error } = event {
            assert_ne!(account, endpoint("gone"), "no failure reported: {error}");
            hung_failed |= account == endpoint("hung");
        }
    }
    assert!(hung_failed, "the slot was freed while the test waited");
    assert_eq!(fetcher.calls_to(&endpoint("gone")), fetched, "not fetched");
}
