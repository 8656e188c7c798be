//! Churn and leaks: 10,000 driver create/drop cycles over 100 accounts in one runtime.
//!
//! A test binary of its own, so resident memory measures this test alone.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use meridian_driver::{AccountConfig, Driver};
use meridian_emulator::Emulator;
use meridian_runtime::Runtime;

const CYCLES: usize = 10_000;
const ACCOUNTS: usize = 100;
/// Resident memory may grow by at most this much over the measured cycles.
const RSS_BOUND_BYTES: u64 = 8 * 1024 * 1024;

fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_driver_cycles_leave_nothing_behind() {
    // 25 emulators × 4 endpoints (global + 3 regions, each serves `GET /`) = 100 accounts.
    let mut emulators = Vec::new();
    for i in 0..ACCOUNTS / 4 {
        emulators.push(
            Emulator::builder()
                .account_id(format!("churn{i}"))
                .start()
                .await
                .unwrap(),
        );
    }
    let accounts: Vec<(String, String)> = emulators
        .iter()
        .flat_map(|e| {
            let mut endpoints = vec![e.global_endpoint()];
            endpoints.extend(e.regions().into_iter().map(|r| r.endpoint));
            endpoints
                .into_iter()
                .map(|endpoint| (endpoint, e.key().to_string()))
        })
        .collect();
    assert_eq!(accounts.len(), ACCOUNTS);
    let accounts = Arc::new(accounts);
    let runtime = Runtime::builder()
        .refresh_interval(Duration::from_millis(500))
        .build()
        .unwrap();

    // Half the accounts keep one long-lived driver (registrations churn on a live entry);
    // the other half are created and removed from the registry on every cycle.
    let mut anchors = Vec::new();
    for (endpoint, key) in accounts.iter().step_by(2) {
        anchors.push(
            Driver::builder(&runtime, AccountConfig::new(endpoint.clone(), key.clone()))
                .build()
                .await
                .unwrap(),
        );
    }
    let run_cycles = |from: usize, to: usize| {
        let (runtime, accounts) = (runtime.clone(), Arc::clone(&accounts));
        async move {
            let workers = (0..8).map(|w| {
                let (runtime, accounts) = (runtime.clone(), Arc::clone(&accounts));
                async move {
                    for cycle in (from + w..to).step_by(8) {
                        let (endpoint, key) = &accounts[cycle % ACCOUNTS];
                        let driver = Driver::builder(
                            &runtime,
                            AccountConfig::new(endpoint.clone(), key.clone()),
                        )
                        .build()
                        .await
                        .unwrap();
                        drop(driver);
                    }
                }
            });
            join_all(workers).await;
        }
    };
    // Warm up allocator pools and connection caches, then measure.
    run_cycles(0, 1_000).await;
    let tasks_before = runtime.stats().live_tasks;
    let rss_before = resident_bytes();
    run_cycles(1_000, CYCLES).await;
    let rss_after = resident_bytes();
    let stats = runtime.stats();
    assert_eq!(
        stats.handle_count,
        anchors.len(),
        "only the anchors are registered"
    );
    assert_eq!(stats.account_count, anchors.len());
    drop(anchors);
    let stats = runtime.stats();
    assert_eq!(
        (stats.account_count, stats.handle_count),
        (0, 0),
        "the registry is empty"
    );
    // The loop is the only long-lived task (a tick may be in progress at this instant).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while runtime.stats().live_tasks != 1 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "only the loop remains"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(tasks_before >= 1);
    let growth = rss_after.saturating_sub(rss_before);
    println!(
        "churn: {CYCLES} create/drop cycles over {ACCOUNTS} accounts; resident memory {} -> {} KiB (+{} KiB, bound {} KiB)",
        rss_before / 1024,
        rss_after / 1024,
        growth / 1024,
        RSS_BOUND_BYTES / 1024
    );
    assert!(
        growth <= RSS_BOUND_BYTES,
        "resident memory grew by {growth} bytes"
    );
}
