//! The loop: one fetch per distinct account per tick, drift-free, jittered, bounded.

use std::time::Duration;

use tokio::time::{Instant, sleep, sleep_until};

use crate::fake::{Behaviour, account_doc, endpoint};
use crate::{INTERVAL, attach, builder, serving};

async fn fleet(handles: usize, accounts: usize) {
    let names: Vec<String> = (0..accounts).map(|i| format!("acct{i}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let fetcher = serving(&refs);
    let runtime = builder().build().unwrap();
    let t0 = Instant::now();
    let mut held = Vec::new();
    for i in 0..handles {
        held.push(attach(&runtime, refs[i % accounts], &fetcher).await);
    }
    assert_eq!(
        fetcher.total_calls(),
        accounts,
        "one initial fetch per account"
    );
    for tick in 1..=10u32 {
        sleep_until(t0 + INTERVAL * tick + Duration::from_millis(1)).await;
        assert_eq!(
            fetcher.total_calls(),
            accounts * (1 + tick as usize),
            "N={handles} M={accounts}: exactly M fetches at tick {tick}"
        );
    }
    let stats = runtime.stats();
    assert_eq!(
        (stats.account_count, stats.handle_count, stats.ticks),
        (accounts, handles, 10)
    );
}

#[tokio::test(start_paused = true)]
async fn one_fetch_per_account_per_tick_for_1_handle() {
    fleet(1, 1).await;
}

#[tokio::test(start_paused = true)]
async fn one_fetch_per_account_per_tick_for_10_handles() {
    fleet(10, 3).await;
}

#[tokio::test(start_paused = true)]
async fn one_fetch_per_account_per_tick_for_1000_handles() {
    fleet(1_000, 7).await;
}

#[tokio::test(start_paused = true)]
async fn handles_attach_and_drop_mid_run_and_an_account_leaves_with_its_last_handle() {
    let fetcher = serving(&["a", "b"]);
    let runtime = builder().build().unwrap();
    let t0 = Instant::now();
    let a1 = attach(&runtime, "a", &fetcher).await;
    let a2 = a1.clone();
    sleep_until(t0 + INTERVAL + Duration::from_millis(1)).await;
    let b = attach(&runtime, "b", &fetcher).await;
    assert_eq!(
        (
            fetcher.calls_to(&endpoint("a")),
            fetcher.calls_to(&endpoint("b"))
        ),
        (2, 1)
    );

    drop(a1);
    sleep_until(t0 + INTERVAL * 2 + Duration::from_millis(1)).await;
    assert_eq!(
        fetcher.calls_to(&endpoint("a")),
        3,
        "a2 still keeps a in the loop"
    );
    assert_eq!(fetcher.calls_to(&endpoint("b")), 2);

    drop(a2);
    assert_eq!(runtime.stats().account_count, 1);
    sleep_until(t0 + INTERVAL * 5 + Duration::from_millis(1)).await;
    assert_eq!(fetcher.calls_to(&endpoint("a")), 3, "a left the loop");
    assert_eq!(fetcher.calls_to(&endpoint("b")), 5);
    drop(b);
    assert_eq!(runtime.stats().account_count, 0);
}

#[tokio::test(start_paused = true)]
async fn no_drift_over_100_ticks_even_when_fetches_are_slow() {
    let fetcher = serving(&[]);
    let doc = account_doc("slow", "westus", &["westus"]);
    fetcher.set(
        &endpoint("slow"),
        Behaviour::Slow(Duration::from_millis(1_500), doc),
    );
    let runtime = builder().build().unwrap();
    let t0 = Instant::now();
    let _handle = attach(&runtime, "slow", &fetcher).await;
    sleep_until(t0 + INTERVAL * 100 + Duration::from_secs(5)).await;
    let times = fetcher.call_times(&endpoint("slow"));
    assert_eq!(times.len(), 101);
    assert_eq!(
        runtime.stats().last_tick,
        Some(Duration::from_millis(1_500)),
        "the tick took as long as its slow fetch"
    );
    for (k, at) in times.iter().enumerate().skip(1) {
        assert_eq!(*at, t0 + INTERVAL * k as u32, "tick {k} drifted");
    }
}

#[tokio::test(start_paused = true)]
async fn jitter_spreads_two_runtimes_ticks_within_bounds() {
    let fetcher = serving(&["a", "b"]);
    let interval = Duration::from_secs(100);
    let build = |seed| {
        crate::builder()
            .refresh_interval(interval)
            .jitter_fraction(0.5)
            .jitter_seed(seed)
            .build()
            .unwrap()
    };
    let (r1, r2) = (build(1), build(2));
    let t0 = Instant::now();
    let _a = r1.attach(endpoint("a"), fetcher.clone()).await.unwrap();
    let _b = r2.attach(endpoint("b"), fetcher.clone()).await.unwrap();
    sleep_until(t0 + interval * 20).await;
    let (ta, tb) = (
        fetcher.call_times(&endpoint("a")),
        fetcher.call_times(&endpoint("b")),
    );
    assert_eq!((ta.len(), tb.len()), (20, 20));
    let mut differing = 0;
    for k in 1..20 {
        let base = t0 + interval * k as u32;
        for at in [ta[k], tb[k]] {
            assert!(
                at >= base && at <= base + interval / 2,
                "tick {k} outside its jitter window"
            );
        }
        if ta[k] != tb[k] {
            differing += 1;
        }
    }
    assert!(
        differing >= 15,
        "two runtimes' ticks should rarely coincide ({differing}/19 differ)"
    );
}

#[tokio::test(start_paused = true)]
async fn a_hung_fetch_times_out_and_others_keep_their_schedule() {
    let fetcher = serving(&["ok1", "ok2"]);
    let runtime = builder()
        .fetch_timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let t0 = Instant::now();
    let _ok1 = attach(&runtime, "ok1", &fetcher).await;
    let _ok2 = attach(&runtime, "ok2", &fetcher).await;
    let hung_doc = account_doc("hung", "westus", &["westus"]);
    fetcher.set(&endpoint("hung"), Behaviour::Serve(hung_doc));
    let hung = attach(&runtime, "hung", &fetcher).await;
    fetcher.set(&endpoint("hung"), Behaviour::Hang);

    sleep_until(t0 + INTERVAL * 3 + Duration::from_secs(3)).await;
    for name in ["ok1", "ok2"] {
        let times = fetcher.call_times(&endpoint(name));
        assert_eq!(times.len(), 4, "{name} kept its schedule");
        assert_eq!(
            times[3],
            t0 + INTERVAL * 3,
            "{name} was not delayed by the hung account"
        );
    }
    let stats = hung.stats();
    assert_eq!(stats.refresh.failures, 3, "each hung tick timed out");
    assert_eq!(stats.topology_generation, 1, "the last good topology stays");
    assert_eq!(runtime.stats().ticks, 3);
}

#[tokio::test(start_paused = true)]
async fn a_fetch_hanging_longer_than_the_interval_shifts_nobody_elses_ticks() {
    let fetcher = serving(&["ok"]);
    // The timeout is longer than two intervals: the hung account's flight spans ticks.
    let runtime = builder().fetch_timeout(INTERVAL * 5 / 2).build().unwrap();
    let t0 = Instant::now();
    let _ok = attach(&runtime, "ok", &fetcher).await;
    let hung_doc = account_doc("hung", "westus", &["westus"]);
    fetcher.set(&endpoint("hung"), Behaviour::Serve(hung_doc));
    let hung = attach(&runtime, "hung", &fetcher).await;
    fetcher.set(&endpoint("hung"), Behaviour::Hang);

    sleep_until(t0 + INTERVAL * 6 + Duration::from_millis(1)).await;
    let ok_times = fetcher.call_times(&endpoint("ok"));
    let expected: Vec<Instant> = (0..=6u32).map(|k| t0 + INTERVAL * k).collect();
    assert_eq!(
        ok_times, expected,
        "every tick on time despite the hung account"
    );
    // The hung account is fetched once per flight, not once per tick: ticks that fire
    // while its flight runs join it.
    // Flights start at 10 s (times out at 35 s) and 40 s (still running at 60 s).
    assert_eq!(
        fetcher.calls_to(&endpoint("hung")),
        1 + 2,
        "initial + two 25 s flights"
    );
    assert_eq!(hung.stats().refresh.failures, 1);
    assert_eq!(hung.stats().refresh.attempts, 1 + 2);
}

#[tokio::test(start_paused = true)]
async fn the_concurrency_limit_is_respected() {
    let names: Vec<String> = (0..20).map(|i| format!("acct{i}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let fetcher = serving(&refs);
    let runtime = builder().concurrency(4).build().unwrap();
    let mut held = Vec::new();
    for name in &refs {
        held.push(attach(&runtime, name, &fetcher).await);
    }
    for name in &refs {
        let doc = account_doc(name, "westus", &["westus"]);
        fetcher.set(
            &endpoint(name),
            Behaviour::Slow(Duration::from_millis(500), doc),
        );
    }
    sleep(INTERVAL + Duration::from_secs(5)).await;
    assert_eq!(fetcher.total_calls(), 40);
    assert_eq!(
        fetcher.max_in_flight(),
        3,
        "periodic work leaves one of the 4 slots to event-driven refreshes"
    );
}
