//! Fetch fallback (regional, bootstrap) and probe-gated failback from the loop.

use std::time::Duration;

use meridian_location_store::{OperationKind, OperationOutcome, RouteRequest};
use meridian_runtime::AccountSpec;
use tokio::time::sleep;

use crate::fake::{Behaviour, FakeFetcher, account_doc, endpoint, regional};
use crate::{attach, builder, serving};

#[tokio::test(start_paused = true)]
async fn falls_back_to_the_last_documents_regional_endpoints() {
    let fetcher = serving(&["acct"]);
    let runtime = builder().build().unwrap();
    let handle = attach(&runtime, "acct", &fetcher).await;
    sleep(Duration::from_secs(6)).await;
    fetcher.set(&endpoint("acct"), Behaviour::Fail);
    // westus (first in read order) is down too; eastus answers.
    fetcher.set(&regional("acct", "westus"), Behaviour::Fail);
    let moved = account_doc("acct", "eastus", &["eastus", "westus"]);
    fetcher.set(&regional("acct", "eastus"), Behaviour::Serve(moved));
    assert!(handle.request_refresh().await.fetched());
    assert_eq!(fetcher.calls_to(&regional("acct", "westus")), 1);
    assert_eq!(fetcher.calls_to(&regional("acct", "eastus")), 1);
    assert_eq!(handle.stats().fallback_fetches, 2);
    assert_eq!(
        handle
            .snapshot()
            .route(OperationKind::Write, &RouteRequest::default()),
        &regional("acct", "eastus")
    );
}

#[tokio::test(start_paused = true)]
async fn a_flight_falls_back_to_at_most_three_regional_endpoints() {
    let regions: Vec<String> = (0..10).map(|i| format!("r{i}")).collect();
    let names: Vec<&str> = regions.iter().map(String::as_str).collect();
    let fetcher = std::sync::Arc::new(FakeFetcher::new());
    fetcher.set(
        &endpoint("acct"),
        Behaviour::Serve(account_doc("acct", "r0", &names)),
    );
    let runtime = builder().build().unwrap();
    let handle = attach(&runtime, "acct", &fetcher).await;
    sleep(Duration::from_secs(6)).await;
    // The account endpoint and every one of the ten regions fail.
    fetcher.set(&endpoint("acct"), Behaviour::Fail);
    let before = fetcher.total_calls();
    assert!(!handle.request_refresh().await.fetched());
    assert_eq!(
        fetcher.total_calls() - before,
        1 + meridian_runtime::MAX_FALLBACK_ENDPOINTS,
        "the account endpoint and three regional ones, not ten"
    );
}

#[tokio::test(start_paused = true)]
async fn a_cold_start_uses_the_bootstrap_endpoints() {
    let fetcher = std::sync::Arc::new(FakeFetcher::new());
    fetcher.set(&endpoint("acct"), Behaviour::Hang);
    let bootstrap = regional("acct", "eastus");
    fetcher.set(
        &bootstrap,
        Behaviour::Serve(account_doc("acct", "eastus", &["eastus"])),
    );
    let runtime = builder().build().unwrap();
    let spec = AccountSpec::new(endpoint("acct")).with_bootstrap_endpoints([bootstrap.clone()]);
    let handle = runtime.attach(spec, fetcher.clone()).await.unwrap();
    assert_eq!(
        handle.snapshot().topology_generation(),
        1,
        "bootstrapped while global hangs"
    );
    assert_eq!(handle.snapshot().account_id(), Some("acct"));
    assert_eq!(fetcher.calls_to(&bootstrap), 1);
}

#[tokio::test(start_paused = true)]
async fn without_bootstrap_a_cold_start_failure_routes_to_the_account_endpoint() {
    let fetcher = std::sync::Arc::new(FakeFetcher::new());
    fetcher.set(&endpoint("acct"), Behaviour::Fail);
    let runtime = builder().build().unwrap();
    let handle = attach(&runtime, "acct", &fetcher).await;
    assert_eq!(handle.snapshot().topology_generation(), 0);
    assert_eq!(
        handle
            .snapshot()
            .route(OperationKind::Read, &RouteRequest::default()),
        &endpoint("acct")
    );
    assert_eq!(handle.stats().refresh.failures, 1);
}

#[tokio::test(start_paused = true)]
async fn the_loop_probes_expired_marks_and_only_a_successful_probe_fails_back() {
    let fetcher = serving(&["acct"]);
    let runtime = builder()
        .unavailability_ttl(Duration::from_secs(3))
        .first_probe_delay(Duration::from_secs(3))
        .probe_interval(Duration::from_secs(1))
        .build()
        .unwrap();
    let handle = attach(&runtime, "acct", &fetcher).await;
    let west = regional("acct", "westus");
    let report =
        meridian_location_store::OperationOutcome::response(OperationKind::Read, 503, None);
    crate::report(&handle, &west, &report);
    assert_eq!(
        handle
            .snapshot()
            .route(OperationKind::Read, &RouteRequest::default()),
        &regional("acct", "eastus")
    );
    assert_eq!(
        handle
            .snapshot()
            .route(OperationKind::Write, &RouteRequest::default()),
        &west,
        "a failed read marks the read scope only"
    );

    fetcher.set_probe(&west, false);
    sleep(Duration::from_millis(3_500)).await;
    assert_eq!(
        fetcher.probes_of(&west),
        1,
        "probed once the TTL ended, not before"
    );
    assert!(
        !handle
            .snapshot()
            .read_locations()
            .iter()
            .find(|l| l.endpoint == west)
            .unwrap()
            .available
    );

    fetcher.set_probe(&west, true);
    sleep(Duration::from_secs(3)).await;
    assert_eq!(
        fetcher.probes_of(&west),
        2,
        "the failed probe restarted the TTL"
    );
    assert_eq!(
        handle
            .snapshot()
            .route(OperationKind::Read, &RouteRequest::default()),
        &west,
        "failed back"
    );
    let stats = handle.stats();
    assert_eq!(
        (stats.probes, stats.probe_failures, stats.marked_endpoints),
        (2, 1, 0)
    );
}

#[tokio::test(start_paused = true)]
async fn a_mark_is_probed_when_its_ttl_ends_not_at_the_next_round() {
    let fetcher = serving(&["acct"]);
    // Probe rounds every 10 s; marks last 3 s.
    let runtime = builder()
        .unavailability_ttl(Duration::from_secs(3))
        .first_probe_delay(Duration::from_secs(3))
        .probe_interval(Duration::from_secs(10))
        .build()
        .unwrap();
    let handle = attach(&runtime, "acct", &fetcher).await;
    sleep(Duration::from_secs(1)).await;
    let west = regional("acct", "westus");
    let outage =
        meridian_location_store::OperationOutcome::response(OperationKind::Read, 503, None);
    crate::report(&handle, &west, &outage);
    sleep(Duration::from_millis(2_900)).await;
    assert_eq!(fetcher.probes_of(&west), 0, "not before the TTL ends");
    sleep(Duration::from_millis(200)).await;
    assert_eq!(
        fetcher.probes_of(&west),
        1,
        "probed when the mark expired (4 s), not at 10 s"
    );
    assert_eq!(
        handle
            .snapshot()
            .route(OperationKind::Read, &RouteRequest::default()),
        &west,
        "and back in rotation"
    );
}

/// Two marks set a second apart, probe rounds only every minute: each is probed when its
/// own TTL ends — the second too, though the alarm rang for the first.
#[tokio::test(start_paused = true)]
async fn every_mark_is_probed_when_its_own_ttl_ends() {
    let fetcher = serving(&["acct"]);
    let runtime = builder()
        .unavailability_ttl(Duration::from_secs(3))
        .first_probe_delay(Duration::from_secs(3))
        .probe_interval(Duration::from_secs(60))
        .build()
        .unwrap();
    let handle = attach(&runtime, "acct", &fetcher).await;
    let (west, east) = (regional("acct", "westus"), regional("acct", "eastus"));
    let outage = OperationOutcome::response(OperationKind::Read, 503, None);
    sleep(Duration::from_secs(1)).await;
    crate::report(&handle, &west, &outage);
    sleep(Duration::from_secs(1)).await;
    crate::report(&handle, &east, &outage);
    sleep(Duration::from_millis(2_100)).await;
    assert_eq!(fetcher.probes_of(&west), 1, "west: probed at its expiry");
    assert_eq!(fetcher.probes_of(&east), 0, "east: not before its own");
    sleep(Duration::from_secs(1)).await;
    assert_eq!(
        fetcher.probes_of(&east),
        1,
        "east: probed when its own TTL ended, not at the next round"
    );
    assert_eq!(handle.stats().marked_endpoints, 0, "both back in rotation");
}

/// A probe that hangs (until the fetch timeout) must not be joined by a second probe of
/// the same endpoint from the next round or alarm.
#[tokio::test(start_paused = true)]
async fn probes_of_one_endpoint_never_overlap() {
    let fetcher = serving(&["acct"]);
    let runtime = builder()
        .concurrency(8)
        .unavailability_ttl(Duration::from_secs(1))
        .probe_interval(Duration::from_secs(1))
        .fetch_timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let handle = attach(&runtime, "acct", &fetcher).await;
    let west = regional("acct", "westus");
    fetcher.hang_probes(&west);
    let outage = OperationOutcome::response(OperationKind::Read, 503, None);
    crate::report(&handle, &west, &outage);
    // Twenty probe rounds while the first probe hangs.
    sleep(Duration::from_secs(21)).await;
    assert_eq!(fetcher.probes_of(&west), 1, "one probe, still hanging");
    assert_eq!(fetcher.max_probes_in_flight(&west), 1);
    // The timeout ends it (a failure: the TTL restarts); the next probe comes after.
    sleep(Duration::from_secs(12)).await;
    assert_eq!(fetcher.probes_of(&west), 2);
    assert_eq!(fetcher.max_probes_in_flight(&west), 1);
}
