//! Extreme settings, panicking fetchers and late reports: nothing panics, nothing dies
//! silently, nothing is probed forever.

use std::time::Duration;

use meridian_location_store::{Backoff, OperationKind, OperationOutcome, RetryPolicy, RetryState};
use meridian_runtime::{FetchError, FlightResult, RefreshOutcome, Runtime, Verdict};
use tokio::time::{Instant, sleep};

use crate::fake::{Behaviour, account_doc, endpoint, regional};
use crate::{INTERVAL, attach, builder, report, serving};

#[tokio::test(start_paused = true)]
async fn extreme_settings_are_rejected_or_saturate() {
    let cases = [
        (builder().probe_interval(Duration::MAX), "probe_interval"),
        (builder().concurrency(usize::MAX), "concurrency"),
        (
            builder().refresh_interval(Duration::MAX),
            "refresh_interval",
        ),
        (
            builder().event_min_interval(Duration::MAX),
            "event_min_interval",
        ),
        (
            builder().unavailability_ttl(Duration::MAX),
            "unavailability_ttl",
        ),
    ];
    for (builder, setting) in cases {
        let error = builder.build().expect_err(setting);
        assert_eq!(error.setting(), Some(setting));
        let message = error.to_string();
        assert!(
            message.contains(setting) && message.contains("..="),
            "{message}"
        );
    }
    // The largest accepted values run: attach, refresh, report, probe — no panic.
    let fetcher = serving(&["acct"]);
    let runtime = Runtime::builder()
        .refresh_interval(Duration::from_secs(24 * 3_600))
        .probe_interval(Duration::from_secs(24 * 3_600))
        .event_min_interval(Duration::from_secs(3_600))
        .failure_backoff(Duration::from_secs(3_600))
        .unavailability_ttl(Duration::from_secs(24 * 3_600))
        .concurrency(meridian_runtime::MAX_CONCURRENCY)
        .build()
        .unwrap();
    let handle = attach(&runtime, "acct", &fetcher).await;
    let outcome = OperationOutcome::response(OperationKind::Read, 503, None);
    report(&handle, &regional("acct", "westus"), &outcome);
    assert!(matches!(
        handle.request_refresh().await,
        RefreshOutcome::Throttled { .. }
    ));
    sleep(Duration::from_secs(2 * 24 * 3_600)).await;
    assert!(runtime.health().is_healthy());
    // The sixth: a failover budget of Duration::MAX saturates; the attempt cap ends it.
    let policy = RetryPolicy::default().with_failover_budget(Duration::MAX);
    let mut retries = RetryState::new(policy, 3);
    let forbidden = meridian_location_store::classify(&OperationOutcome::response(
        OperationKind::Write,
        403,
        Some(3),
    ));
    let retried = (0..1_000)
        .take_while(|_| {
            matches!(
                retries.next(&forbidden.action, 0.5),
                meridian_location_store::Next::Retry { .. }
            )
        })
        .count();
    assert_eq!(retried, policy.max_failover_retries as usize);
}

#[tokio::test(start_paused = true)]
async fn failure_backoff_capped_at_window() {
    let fetcher = serving(&[]);
    let runtime = builder()
        .failure_backoff(Duration::from_secs(10))
        .event_min_interval(Duration::from_secs(1))
        .build()
        .unwrap();
    let handle = attach(&runtime, "acct", &fetcher).await; // the initial fetch fails
    assert_eq!(handle.stats().refresh.failures, 1);
    let failed_at = Instant::now();
    match handle.request_refresh().await {
        RefreshOutcome::Throttled { until } => {
            let wait = until - failed_at.into_std();
            assert!(
                wait <= Duration::from_secs(1),
                "backoff {wait:?} exceeds the 1 s window"
            );
        }
        other => panic!("expected Throttled, got {other:?}"),
    }
    sleep(Duration::from_secs(1)).await;
    assert!(matches!(
        handle.request_refresh().await,
        RefreshOutcome::Started(FlightResult::Failed(_))
    ));
}

#[tokio::test(start_paused = true)]
async fn retries_bounded_with_zero_backoff() {
    let fetcher = serving(&["acct"]);
    let runtime = builder().build().unwrap();
    let handle = attach(&runtime, "acct", &fetcher).await;
    let policy = RetryPolicy::default()
        .with_failover_backoff(Backoff::new(Duration::ZERO, Duration::ZERO))
        .with_max_failover_retries(5);
    let mut retries = RetryState::new(policy, 3);
    let west = regional("acct", "westus");
    let outcome = OperationOutcome::response(OperationKind::Write, 403, Some(3));
    let mut attempts = 0;
    let verdict = loop {
        attempts += 1;
        let routed = handle.with_snapshot(|s| handle.routed_on(s));
        match handle.report(&west, &outcome, routed, &mut retries) {
            Verdict::Retry { delay, refresh, .. } => {
                assert_eq!(delay, Duration::ZERO);
                handle.await_refresh(refresh, Some(Instant::now())).await;
            }
            other => break other,
        }
        assert!(attempts < 100, "retries never end");
    };
    assert!(matches!(verdict, Verdict::Exhausted(_)), "{verdict:?}");
    assert_eq!(attempts, 6, "the first attempt and five retries");
}

#[tokio::test(start_paused = true)]
async fn panicking_fetcher_does_not_kill_the_loop() {
    let fetcher = serving(&["good", "bad"]);
    let runtime = builder().build().unwrap();
    let good = attach(&runtime, "good", &fetcher).await;
    let bad = attach(&runtime, "bad", &fetcher).await;
    fetcher.set(&endpoint("bad"), Behaviour::Panic);
    let t0 = Instant::now();
    let before = fetcher.calls_to(&endpoint("good"));
    sleep(INTERVAL * 5 + Duration::from_millis(1)).await;
    assert_eq!(
        fetcher.calls_to(&endpoint("good")) - before,
        5,
        "the good account keeps its schedule"
    );
    assert!(bad.stats().fetcher_panics >= 5, "{:?}", bad.stats());
    assert_eq!(
        bad.snapshot().topology_generation(),
        1,
        "last good topology kept"
    );
    let health = runtime.health();
    assert!(health.is_healthy(), "{health:?}");
    assert_eq!(
        health.loop_restarts, 0,
        "a fetcher's panic never reaches the loop"
    );
    // An event-driven refresh of the bad account fails with a typed error, never hangs.
    sleep_past_window(t0).await;
    match bad.request_refresh().await {
        RefreshOutcome::Started(FlightResult::Failed(error)) => {
            assert!(matches!(*error, FetchError::Panicked { .. }), "{error}");
        }
        other => panic!("{other:?}"),
    }
    // A panic in the loop itself (a bug in it) is caught by the supervisor, which
    // restarts the loop: the good account is refreshed again on schedule.
    runtime.inject_loop_panic();
    sleep(INTERVAL + Duration::from_millis(1)).await;
    let health = runtime.health();
    assert_eq!(health.loop_restarts, 1, "{health:?}");
    assert!(health.loop_running, "{health:?}");
    let before = fetcher.calls_to(&endpoint("good"));
    sleep(INTERVAL * 3).await;
    assert_eq!(fetcher.calls_to(&endpoint("good")) - before, 3);
    drop(good);
}

/// The loop panics while periodic refreshes are still queued: the restarted loop must
/// not take those accounts for busy forever (their "queued" flags go with the queue).
#[tokio::test(start_paused = true)]
async fn accounts_are_refreshed_after_a_supervised_loop_restart() {
    let fetcher = serving(&["hung", "a", "b"]);
    let runtime = builder()
        .concurrency(1)
        .fetch_timeout(Duration::from_secs(25))
        .build()
        .unwrap();
    let mut handles = Vec::new();
    for name in ["hung", "a", "b"] {
        handles.push(attach(&runtime, name, &fetcher).await);
    }
    fetcher.set(&endpoint("hung"), Behaviour::Hang);
    let t0 = Instant::now();
    // At 9 s an event-driven refresh of "hung" takes the one slot until 34 s; tick 1
    // (10 s) queues "a" and "b" behind it. The loop panics when it wakes for tick 2.
    tokio::time::sleep_until(t0 + Duration::from_secs(9)).await;
    let hung = handles[0].clone();
    tokio::spawn(async move { hung.request_refresh().await });
    tokio::time::sleep_until(t0 + INTERVAL + Duration::from_secs(5)).await;
    let before: Vec<usize> = ["a", "b"].map(|n| fetcher.calls_to(&endpoint(n))).into();
    runtime.inject_loop_panic();
    sleep(INTERVAL).await;
    assert_eq!(runtime.health().loop_restarts, 1);
    assert!(runtime.health().loop_running);
    fetcher.set(
        &endpoint("hung"),
        Behaviour::Serve(account_doc("hung", "westus", &["westus", "eastus"])),
    );
    sleep(INTERVAL * 10).await;
    for (name, before) in ["a", "b"].iter().zip(before) {
        let fetched = fetcher.calls_to(&endpoint(name)) - before;
        assert!(
            fetched >= 9,
            "{name}: {fetched} fetches in 10 ticks after the restart"
        );
    }
}

async fn sleep_past_window(_t0: Instant) {
    sleep(Duration::from_secs(6)).await;
}

#[tokio::test(start_paused = true)]
async fn late_report_for_removed_endpoint_is_ignored() {
    let fetcher = serving(&["acct"]);
    let runtime = builder()
        .unavailability_ttl(Duration::from_secs(2))
        .probe_interval(Duration::from_secs(1))
        .build()
        .unwrap();
    let handle = attach(&runtime, "acct", &fetcher).await;
    let north = regional("acct", "northeurope");
    let routed_on_old = handle.with_snapshot(|s| handle.routed_on(s));
    // A refresh removes North Europe...
    fetcher.set(
        &endpoint("acct"),
        Behaviour::Serve(account_doc("acct", "westus", &["westus", "eastus"])),
    );
    sleep(Duration::from_secs(6)).await;
    assert!(handle.request_refresh().await.fetched());
    assert_eq!(handle.snapshot().topology_generation(), 2);
    // ...then a report about it arrives late, from an operation routed before.
    let mut retries = RetryState::new(RetryPolicy::default(), 3);
    let outcome = OperationOutcome::response(OperationKind::Read, 503, None);
    handle.report(&north, &outcome, routed_on_old, &mut retries);
    assert_eq!(handle.stats().marked_endpoints, 0, "nothing marked");
    // Identical documents and a long wait: North Europe is never probed.
    sleep(INTERVAL * 6).await;
    assert_eq!(fetcher.probes_of(&north), 0);
    assert_eq!(handle.stats().marked_endpoints, 0);
}
