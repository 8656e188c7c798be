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
