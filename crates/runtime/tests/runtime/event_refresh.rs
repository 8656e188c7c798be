//! Event-driven refresh through the gate: single flight, throttle, backoff, reports.

use std::time::Duration;

use futures_util::future::join_all;
use meridian_location_store::{OperationKind, OperationOutcome, RouteRequest};
use meridian_runtime::{FlightResult, RefreshOutcome, Verdict};
use tokio::time::{Instant, sleep, sleep_until};

use crate::fake::{Behaviour, account_doc, endpoint, regional};
use crate::{INTERVAL, attach, builder, report, serving};

#[tokio::test(start_paused = true)]
async fn ten_thousand_triggers_over_many_handles_cost_one_fetch() {
    let fetcher = serving(&["acct"]);
    let runtime = builder()
        .refresh_interval(Duration::from_secs(300))
        .build()
        .unwrap();
    let first = attach(&runtime, "acct", &fetcher).await;
    let handles: Vec<_> = (0..100).map(|_| first.clone()).collect();
    sleep(Duration::from_secs(6)).await; // past the 5 s window of the initial fetch

    // The next document moves the write region; the fetch takes 1 ms.
    let moved = account_doc("acct", "eastus", &["eastus", "westus"]);
    fetcher.set(
        &endpoint("acct"),
        Behaviour::Slow(Duration::from_millis(1), moved),
    );
    let before = fetcher.total_calls();
    let triggers = (0..10_000).map(|i| handles[i % handles.len()].request_refresh());
    let outcomes = join_all(triggers).await;

    assert_eq!(
        fetcher.total_calls() - before,
        1,
        "one fetch for the whole storm"
    );
    let started = outcomes
        .iter()
        .filter(|o| matches!(o, RefreshOutcome::Started(_)))
        .count();
    let joined = outcomes
        .iter()
        .filter(|o| matches!(o, RefreshOutcome::Joined(_)))
        .count();
    assert_eq!((started, joined), (1, 9_999));
    assert!(
        outcomes.iter().all(RefreshOutcome::fetched),
        "every caller saw the result"
    );
    for handle in &handles {
        let write = handle
            .snapshot()
            .route(OperationKind::Write, &RouteRequest::default())
            .clone();
        assert_eq!(
            write,
            regional("acct", "eastus"),
            "every handle sees the new topology"
        );
    }
    let stats = first.stats();
    assert_eq!(stats.refresh.joined, 9_999);
    assert_eq!(stats.handles, 101);
}

#[tokio::test(start_paused = true)]
async fn a_trigger_right_after_a_periodic_success_is_throttled() {
    let fetcher = serving(&["acct"]);
    let runtime = builder().build().unwrap();
    let t0 = Instant::now();
    let handle = attach(&runtime, "acct", &fetcher).await;
    sleep_until(t0 + INTERVAL + Duration::from_millis(10)).await;
    assert_eq!(fetcher.total_calls(), 2, "initial + first tick");
    match handle.request_refresh().await {
        RefreshOutcome::Throttled { until } => {
            assert_eq!(until, (t0 + INTERVAL + Duration::from_secs(5)).into_std());
        }
        other => panic!("expected Throttled, got {other:?}"),
    }
    assert_eq!(fetcher.total_calls(), 2);
    sleep_until(t0 + INTERVAL + Duration::from_secs(5)).await;
    assert!(matches!(
        handle.request_refresh().await,
        RefreshOutcome::Started(FlightResult::Refreshed { .. })
    ));
}

#[tokio::test(start_paused = true)]
async fn a_failed_fetch_does_not_throttle_recovery() {
    let fetcher = serving(&["acct"]);
    let runtime = builder().build().unwrap();
    let handle = attach(&runtime, "acct", &fetcher).await;
    sleep(Duration::from_secs(6)).await;
    // The recovered document differs (a new read region order), so it is a new topology.
    let good = account_doc("acct", "westus", &["eastus", "westus", "northeurope"]);
    // Every endpoint fails: the account endpoint and the regional fallbacks.
    fetcher.set(&endpoint("acct"), Behaviour::Fail);
    assert!(matches!(
        handle.request_refresh().await,
        RefreshOutcome::Started(FlightResult::Failed(_))
    ));
    assert_eq!(
        handle.snapshot().topology_generation(),
        1,
        "last good topology kept"
    );
    // Backoff (100 ms), not the 5 s window.
    match handle.request_refresh().await {
        RefreshOutcome::Throttled { until } => {
            assert!(until <= (Instant::now() + Duration::from_millis(100)).into_std());
        }
        other => panic!("expected a short backoff, got {other:?}"),
    }
    fetcher.set(&endpoint("acct"), Behaviour::Serve(good));
    sleep(Duration::from_millis(100)).await;
    assert!(matches!(
        handle.request_refresh().await,
        RefreshOutcome::Started(FlightResult::Refreshed {
            topology_generation: 2
        })
    ));
}

#[tokio::test(start_paused = true)]
async fn a_write_forbidden_report_marks_and_refreshes_in_the_background() {
    let fetcher = serving(&["acct"]);
    let runtime = builder().build().unwrap();
    let handle = attach(&runtime, "acct", &fetcher).await;
    sleep(Duration::from_secs(6)).await;
    let west = regional("acct", "westus");
    assert_eq!(
        handle
            .snapshot()
            .route(OperationKind::Write, &RouteRequest::default()),
        &west
    );

    let moved = account_doc("acct", "eastus", &["eastus", "westus", "northeurope"]);
    fetcher.set(
        &endpoint("acct"),
        Behaviour::Slow(Duration::from_millis(20), moved),
    );
    let verdict = report(
        &handle,
        &west,
        &OperationOutcome::response(OperationKind::Write, 403, Some(3)),
    );
    let Verdict::Retry { refresh, .. } = verdict else {
        panic!("403/3 is retried, got {verdict:?}")
    };
    assert!(refresh.is_needed(), "the report started a refresh");
    // The driver waits for that refresh: it proceeds on the new topology.
    assert!(matches!(
        handle.await_refresh(refresh, None).await,
        Some(FlightResult::Refreshed { .. })
    ));
    let snapshot = handle.snapshot();
    assert_eq!(
        snapshot.route(OperationKind::Write, &RouteRequest::default()),
        &regional("acct", "eastus")
    );
    assert!(
        snapshot.read_locations().iter().all(|l| l.available),
        "write-forbidden leaves reads alone"
    );
    assert_eq!(fetcher.total_calls(), 2);
}

#[tokio::test(start_paused = true)]
async fn concurrent_first_attaches_make_one_entry_and_one_initial_fetch() {
    let fetcher = serving(&[]);
    let doc = account_doc("acct", "westus", &["westus"]);
    fetcher.set(
        &endpoint("acct"),
        Behaviour::Slow(Duration::from_millis(50), doc),
    );
    let runtime = builder().build().unwrap();
    let attaches = (0..50).map(|_| attach(&runtime, "acct", &fetcher));
    let handles = join_all(attaches).await;
    assert_eq!(fetcher.total_calls(), 1);
    let stats = runtime.stats();
    assert_eq!((stats.account_count, stats.handle_count), (1, 50));
    assert!(
        handles
            .iter()
            .all(|h| h.snapshot().topology_generation() == 1),
        "all joined the initial fetch"
    );
    let mut ids: Vec<u64> = handles.iter().map(|h| h.registration_id()).collect();
    ids.dedup();
    assert_eq!(ids.len(), 50, "no lost registration");
}
