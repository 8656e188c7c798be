//! Saturated slots: hung accounts never pile up ticks, never delay healthy accounts or
//! event-driven refreshes, and never burst when they recover.

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use meridian_runtime::{AccountHandle, FlightResult, RefreshOutcome, Runtime};
use tokio::time::{Instant, sleep, sleep_until};

use crate::fake::{Behaviour, FakeFetcher, account_doc, endpoint};
use crate::{INTERVAL, attach, builder, serving};

const CONCURRENCY: usize = 8;

struct Fleet {
    runtime: Runtime,
    fetcher: Arc<FakeFetcher>,
    hung: Vec<String>,
    healthy: Vec<String>,
    _handles: Vec<AccountHandle>,
}

/// 8 accounts that will hang and 4 healthy ones, concurrency 8, a fetch timeout longer
/// than the interval (a hung flight spans ticks). Until their first fetch times out the
/// hung accounts are not known to fail, so on the first tick they may hold the periodic
/// slots for one fetch timeout; from then on they hold at most half.
async fn fleet() -> Fleet {
    let hung: Vec<String> = (0..8).map(|i| format!("hung{i}")).collect();
    let healthy: Vec<String> = (0..4).map(|i| format!("ok{i}")).collect();
    let names: Vec<&str> = hung.iter().chain(&healthy).map(String::as_str).collect();
    let fetcher = serving(&names);
    let runtime = builder()
        .concurrency(CONCURRENCY)
        .fetch_timeout(Duration::from_secs(15))
        .build()
        .unwrap();
    let mut handles = Vec::new();
    for name in &names {
        handles.push(attach(&runtime, name, &fetcher).await);
    }
    for name in &hung {
        fetcher.set(&endpoint(name), Behaviour::Hang);
    }
    Fleet {
        runtime,
        fetcher,
        hung,
        healthy,
        _handles: handles,
    }
}

#[tokio::test(start_paused = true)]
async fn saturated_slots_never_pile_up_ticks() {
    let fleet = fleet().await;
    let t0 = Instant::now();
    let before: Vec<usize> = fleet
        .healthy
        .iter()
        .map(|n| fleet.fetcher.calls_to(&endpoint(n)))
        .collect();
    let monitor = fleet.runtime.task_monitor();
    let mut peak_tasks = 0;
    for k in 1..=30u32 {
        sleep_until(t0 + INTERVAL * k + Duration::from_millis(1)).await;
        peak_tasks = peak_tasks.max(monitor.live_tasks());
    }
    assert!(
        peak_tasks <= CONCURRENCY + 3,
        "live tasks stay bounded: {peak_tasks}"
    );
    assert!(fleet.fetcher.max_in_flight() <= CONCURRENCY);
    for (name, before) in fleet.healthy.iter().zip(before) {
        let ticks = fleet.fetcher.calls_to(&endpoint(name)) - before;
        assert!(
            ticks.abs_diff(30) <= 1,
            "{name}: fetched {ticks} times in 30 ticks"
        );
    }
    let stats = fleet.runtime.stats();
    for name in &fleet.hung {
        // One flight at a time (each 15 s), the ticks in between skipped and counted.
        let calls = fleet.fetcher.calls_to(&endpoint(name));
        assert!(calls <= 1 + 30 * 10 / 15 + 1, "{name}: {calls} fetches");
        let account = stats
            .accounts
            .iter()
            .find(|a| a.endpoint == endpoint(name))
            .unwrap();
        assert!(account.skipped_busy >= 10, "{name}: {account:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn no_burst_after_hung_accounts_recover() {
    let fleet = fleet().await;
    let t0 = Instant::now();
    sleep_until(t0 + INTERVAL * 10).await;
    for name in &fleet.hung {
        fleet.fetcher.set(
            &endpoint(name),
            Behaviour::Serve(account_doc(name, "westus", &["westus", "eastus"])),
        );
    }
    let recovered = Instant::now();
    sleep_until(t0 + INTERVAL * 20 + Duration::from_millis(1)).await;
    for name in fleet.hung.iter().chain(&fleet.healthy) {
        let times = fleet.fetcher.call_times(&endpoint(name));
        let after: Vec<Instant> = times.into_iter().filter(|t| *t >= recovered).collect();
        let mut per_tick = std::collections::BTreeMap::new();
        for at in &after {
            let tick = (*at - t0).as_millis() / INTERVAL.as_millis();
            *per_tick.entry(tick).or_insert(0u32) += 1;
        }
        assert!(
            per_tick.values().all(|&n| n <= 1),
            "{name}: at most one periodic fetch per tick after recovery: {per_tick:?}"
        );
        assert!(
            after.len() >= 8,
            "{name}: back on schedule ({})",
            after.len()
        );
    }
}

#[tokio::test(start_paused = true)]
async fn concurrency_limit_covers_event_and_initial_fetches() {
    let fetcher = Arc::new(FakeFetcher::new());
    for name in ["a", "b", "c"] {
        fetcher.set(
            &endpoint(name),
            Behaviour::Slow(
                Duration::from_secs(1),
                account_doc(name, "westus", &["westus"]),
            ),
        );
    }
    let runtime = builder()
        .concurrency(1)
        .refresh_interval(Duration::from_secs(300))
        .build()
        .unwrap();
    // Three first fetches at once...
    let handles = join_all(["a", "b", "c"].map(|n| attach(&runtime, n, &fetcher))).await;
    assert_eq!(
        fetcher.max_in_flight(),
        1,
        "first fetches share the one slot"
    );
    sleep(Duration::from_secs(6)).await;
    // ...then three event-driven refreshes at once.
    let outcomes = join_all(handles.iter().map(AccountHandle::request_refresh)).await;
    assert!(outcomes.iter().all(RefreshOutcome::fetched), "{outcomes:?}");
    assert_eq!(fetcher.total_calls(), 6);
    assert_eq!(fetcher.max_in_flight(), 1, "event fetches share it too");
}

#[tokio::test(start_paused = true)]
async fn event_refresh_not_blocked_by_hung_periodic_fetches() {
    let names = ["hung0", "hung1", "hung2", "ok"];
    let fetcher = serving(&names);
    let runtime = builder()
        .concurrency(2)
        .fetch_timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let mut handles = Vec::new();
    for name in names {
        handles.push(attach(&runtime, name, &fetcher).await);
    }
    for name in &names[..3] {
        fetcher.set(&endpoint(name), Behaviour::Hang);
    }
    // The first tick's periodic fetches hang and hold every slot periodic work may take
    // (and the explicit trigger below is past the window of ok's own periodic fetch).
    sleep(INTERVAL + Duration::from_secs(6)).await;
    assert!(fetcher.in_flight() >= 1, "a periodic fetch hangs");
    let ok = &handles[3];
    fetcher.set(
        &endpoint("ok"),
        Behaviour::Slow(
            Duration::from_millis(10),
            account_doc("ok", "eastus", &["eastus"]),
        ),
    );
    let asked = Instant::now();
    let outcome = ok.request_refresh().await;
    assert!(
        matches!(
            outcome,
            RefreshOutcome::Started(FlightResult::Refreshed { .. })
        ),
        "{outcome:?}"
    );
    assert_eq!(
        Instant::now() - asked,
        Duration::from_millis(10),
        "the event fetch took the reserved slot at once"
    );
    assert_eq!(ok.snapshot().topology_generation(), 2);
}

/// 70 accounts whose fetches take 1 s each, 8 slots and a 5 s interval: the periodic
/// workers never run out of queued work. An account whose last fetch failed is suspect,
/// so its failover refresh may not take the reserved slot; it takes the first slot a
/// periodic worker hands back between two jobs — one 1 s fetch at most.
#[tokio::test(start_paused = true)]
async fn a_failing_accounts_failover_refresh_waits_for_one_fetch_at_most() {
    let fetch = Duration::from_secs(1);
    let fetcher = Arc::new(FakeFetcher::new());
    let names: Vec<String> = (0..70).map(|i| format!("busy{i}")).collect();
    for name in &names {
        fetcher.set(
            &endpoint(name),
            Behaviour::Slow(fetch, account_doc(name, "westus", &["westus", "eastus"])),
        );
    }
    let runtime = builder()
        .concurrency(8)
        .refresh_interval(Duration::from_secs(5))
        .build()
        .unwrap();
    let handles = join_all(names.iter().map(|n| attach(&runtime, n, &fetcher))).await;
    let target = &handles[0];
    let account = endpoint(&names[0]);
    // Its fetches start failing: after its next periodic refresh it is suspect.
    fetcher.set(&account, Behaviour::Fail);
    let failures = target.stats().refresh.failures;
    while target.stats().refresh.failures == failures {
        sleep(Duration::from_millis(100)).await;
    }
    sleep(Duration::from_secs(3)).await;
    assert!(fetcher.in_flight() >= 7, "the periodic workers are busy");
    // The service fails over and answers again; a write meets 403/3.
    let moved = account_doc(&names[0], "eastus", &["eastus", "westus"]);
    fetcher.set(&account, Behaviour::Serve(moved));
    let west = crate::fake::regional(&names[0], "westus");
    let forbidden = meridian_location_store::OperationOutcome::response(
        meridian_location_store::OperationKind::Write,
        403,
        Some(3),
    );
    let failed_over = Instant::now();
    let meridian_runtime::Verdict::Retry { refresh, .. } = crate::report(target, &west, &forbidden)
    else {
        panic!("a 403/3 is retried after a refresh")
    };
    // Bounded, so the test fails rather than waits forever if the refresh starves.
    let result = tokio::time::timeout(INTERVAL * 6, target.await_refresh(refresh, None)).await;
    assert!(
        matches!(result, Ok(Some(FlightResult::Refreshed { .. }))),
        "no refresh within a minute: {result:?}"
    );
    assert!(
        Instant::now() - failed_over <= fetch,
        "the failover refresh waited {:?}, more than one fetch",
        Instant::now() - failed_over
    );
    assert_eq!(
        target.snapshot().write_locations()[0].region.as_str(),
        "eastus"
    );
}
