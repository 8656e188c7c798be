//! Failure signals: a real failover is followed at once, whenever it happens; signals
//! that learn nothing are rate-limited; a storm costs one fetch.

use std::time::Duration;

use meridian_location_store::{OperationKind, OperationOutcome, RouteRequest};
use meridian_runtime::{AccountHandle, FlightResult, Verdict};
use tokio::time::{Instant, sleep};

use crate::fake::{Behaviour, account_doc, endpoint, regional};
use crate::{attach, builder, report, serving};

const REGIONS: [&str; 3] = ["westus", "eastus", "northeurope"];

fn write_forbidden() -> OperationOutcome {
    OperationOutcome::response(OperationKind::Write, 403, Some(3))
}

fn write_endpoint(handle: &AccountHandle) -> meridian_location_store::Endpoint {
    handle
        .snapshot()
        .route(OperationKind::Write, &RouteRequest::default())
        .clone()
}

/// Reports a 403/3 from the current write region and waits as the verdict says.
async fn fail_write(handle: &AccountHandle) -> Option<FlightResult> {
    let west = write_endpoint(handle);
    match report(handle, &west, &write_forbidden()) {
        Verdict::Retry { refresh, .. } => handle.await_refresh(refresh, None).await,
        other => panic!("403/3 is retried, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn failover_right_after_start_refreshes_at_once() {
    let fetcher = serving(&["acct"]);
    // The default 5 s window: the failovers below all come inside it.
    let runtime = builder().build().unwrap();
    let handle = attach(&runtime, "acct", &fetcher).await;
    for (after, write) in [(1, "eastus"), (1, "northeurope"), (2, "westus")] {
        sleep(Duration::from_secs(after)).await;
        fetcher.set(
            &endpoint("acct"),
            Behaviour::Serve(account_doc("acct", write, &REGIONS)),
        );
        let failed_at = Instant::now();
        let result = fail_write(&handle).await;
        assert!(
            matches!(result, Some(FlightResult::Refreshed { .. })),
            "{result:?}"
        );
        assert_eq!(
            Instant::now(),
            failed_at,
            "no wait for the window: the refresh started at once"
        );
        assert_eq!(write_endpoint(&handle), regional("acct", write));
    }
    assert_eq!(
        fetcher.total_calls(),
        4,
        "the initial fetch + one per failover"
    );
}

#[tokio::test(start_paused = true)]
async fn signals_that_learn_nothing_are_rate_limited() {
    let fetcher = serving(&["acct"]);
    let runtime = builder().build().unwrap();
    let handle = attach(&runtime, "acct", &fetcher).await;
    sleep(Duration::from_secs(1)).await;
    // A 403/3 while the document still says West US: the fetch learns nothing.
    let first = fail_write(&handle).await;
    assert!(matches!(first, Some(FlightResult::Refreshed { .. })));
    assert_eq!(fetcher.total_calls(), 2);
    let learned_nothing_at = Instant::now();
    // A hundred more, each routed after that fetch: none fetches inside the window.
    for _ in 0..100 {
        let verdict = report(&handle, &write_endpoint(&handle), &write_forbidden());
        let Verdict::Retry { refresh, .. } = verdict else {
            panic!("{verdict:?}")
        };
        assert!(
            refresh.is_needed(),
            "the caller is told to wait for the window"
        );
    }
    assert_eq!(
        fetcher.total_calls(),
        2,
        "one per window after a fetch learned nothing"
    );
    // Waiting as told refreshes once the window opens; the move is then followed.
    fetcher.set(
        &endpoint("acct"),
        Behaviour::Serve(account_doc("acct", "eastus", &REGIONS)),
    );
    let result = fail_write(&handle).await;
    assert!(matches!(result, Some(FlightResult::Refreshed { .. })));
    assert_eq!(Instant::now() - learned_nothing_at, Duration::from_secs(5));
    assert_eq!(fetcher.total_calls(), 3);
    assert_eq!(write_endpoint(&handle), regional("acct", "eastus"));
    let stats = handle.stats().refresh;
    assert!(stats.throttled >= 100, "{stats:?}");
}

#[tokio::test(start_paused = true)]
async fn a_signal_from_an_older_topology_retries_without_fetching() {
    let fetcher = serving(&["acct"]);
    let runtime = builder().build().unwrap();
    let handle = attach(&runtime, "acct", &fetcher).await;
    let west = write_endpoint(&handle);
    let routed = handle.with_snapshot(|s| handle.routed_on(s));
    // Another operation's failure moves the topology on first.
    fetcher.set(
        &endpoint("acct"),
        Behaviour::Serve(account_doc("acct", "eastus", &REGIONS)),
    );
    fail_write(&handle).await;
    let calls = fetcher.total_calls();
    let mut retries = meridian_location_store::RetryState::new(
        meridian_location_store::RetryPolicy::default(),
        3,
    );
    let verdict = handle.report(&west, &write_forbidden(), routed, &mut retries);
    let Verdict::Retry { refresh, .. } = verdict else {
        panic!("{verdict:?}")
    };
    assert!(!refresh.is_needed(), "retry at once on the newer topology");
    assert_eq!(fetcher.total_calls(), calls);
}

/// A signal-driven fetch reads the document; the write region moves an instant later;
/// an operation routed after the fetch started fails and joins it. The fetch returns the
/// old document ("learned nothing") — which must not hold the next signal for the
/// window: the retry's signal starts a fetch at once and the failover is followed.
#[tokio::test(start_paused = true)]
async fn a_failover_during_a_signal_flight_is_followed_at_once() {
    let fetch = Duration::from_secs(1);
    let fetcher = serving(&["acct"]);
    let runtime = builder().build().unwrap();
    let handle = attach(&runtime, "acct", &fetcher).await;
    sleep(Duration::from_secs(6)).await;
    let account = endpoint("acct");
    let west = regional("acct", "westus");
    let old = account_doc("acct", "westus", &["westus", "eastus"]);
    fetcher.set(&account, Behaviour::Slow(fetch, old));
    let forbidden = OperationOutcome::response(OperationKind::Write, 403, Some(3));
    // A storm of 403/3 (say a write region draining) starts a fetch of the old document.
    let Verdict::Retry { refresh: first, .. } = report(&handle, &west, &forbidden) else {
        panic!("retried after a refresh")
    };
    sleep(fetch / 2).await;
    // The failover happens now; a write routed now fails and joins the running fetch.
    let failed_over = Instant::now();
    fetcher.set(
        &account,
        Behaviour::Serve(account_doc("acct", "eastus", &["eastus", "westus"])),
    );
    let Verdict::Retry { refresh: late, .. } = report(&handle, &west, &forbidden) else {
        panic!("retried after a refresh")
    };
    handle.await_refresh(first, None).await;
    handle.await_refresh(late, None).await;
    assert_eq!(handle.snapshot().write_locations()[0].endpoint, west);
    // The late write's retry still goes to West US (the only write region listed) and
    // fails again: its signal must start a fetch now, not in 5 s.
    let Verdict::Retry { refresh: again, .. } = report(&handle, &west, &forbidden) else {
        panic!("retried after a refresh")
    };
    handle.await_refresh(again, None).await;
    assert_eq!(
        handle.snapshot().write_locations()[0].endpoint,
        regional("acct", "eastus"),
        "the failover is followed"
    );
    assert!(
        Instant::now() - failed_over <= fetch,
        "followed {:?} after the failover, more than one fetch",
        Instant::now() - failed_over
    );
}
