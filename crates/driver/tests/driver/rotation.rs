//! Key rotation end to end: the account's refreshes sign with a live driver's key, fall
//! back to another live driver's on 401, and forget a dropped driver's.

use std::time::Duration;

use futures_util::future::join_all;
use meridian_driver::{AccountConfig, Driver, DriverError};
use meridian_emulator::{Emulator, KeyKind, WELL_KNOWN_SECONDARY_KEY};
use meridian_runtime::Runtime;

use crate::wait_for;

/// A runtime that refreshes every 100 ms, so a rotation step sees several ticks.
fn ticking_runtime() -> Runtime {
    Runtime::builder()
        .refresh_interval(Duration::from_millis(100))
        .jitter_fraction(0.0)
        .event_min_interval(Duration::from_millis(50))
        .fetch_timeout(Duration::from_secs(2))
        .build()
        .unwrap()
}

async fn drivers(runtime: &Runtime, emulator: &Emulator, key: &str, n: usize) -> Vec<Driver> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(
            Driver::builder(runtime, AccountConfig::new(emulator.global_endpoint(), key))
                .request_timeout(Duration::from_secs(2))
                .build()
                .await
                .unwrap(),
        );
    }
    out
}

/// Every driver reads the account once; returns the failures.
async fn failed_reads(drivers: &[Driver]) -> usize {
    join_all(drivers.iter().map(Driver::read_account))
        .await
        .iter()
        .filter(|r| r.is_err())
        .count()
}

/// Waits for `n` more periodic ticks of the runtime.
async fn ticks(runtime: &Runtime, n: u64) {
    let target = runtime.ticks() + n;
    assert!(
        wait_for(Duration::from_secs(10), || async {
            runtime.ticks() >= target
        })
        .await,
        "the loop keeps ticking"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_rotation_keeps_refresh_and_ops_working() {
    let emulator = Emulator::builder().start().await.unwrap();
    let runtime = ticking_runtime();
    let mut failures = 0;

    // 10 drivers on the primary.
    let on_primary = drivers(&runtime, &emulator, emulator.key(), 10).await;
    failures += failed_reads(&on_primary).await;

    // Move to the secondary: new drivers, the old ones dropped; regenerate the primary.
    let on_secondary = drivers(&runtime, &emulator, WELL_KNOWN_SECONDARY_KEY, 10).await;
    failures += failed_reads(&on_secondary).await;
    drop(on_primary);
    let new_primary = emulator.regenerate_key(KeyKind::Primary);
    ticks(&runtime, 3).await;
    failures += failed_reads(&on_secondary).await;

    // The reverse: back to the (new) primary, drop the secondary drivers, regenerate
    // the secondary.
    let back_on_primary = drivers(&runtime, &emulator, &new_primary, 10).await;
    failures += failed_reads(&back_on_primary).await;
    drop(on_secondary);
    let new_secondary = emulator.regenerate_key(KeyKind::Secondary);
    ticks(&runtime, 3).await;
    failures += failed_reads(&back_on_primary).await;

    // In place: rotate the live drivers to the new secondary, regenerate the primary.
    for driver in &back_on_primary {
        driver.rotate_key(&new_secondary).unwrap();
    }
    emulator.regenerate_key(KeyKind::Primary);
    ticks(&runtime, 3).await;
    failures += failed_reads(&back_on_primary).await;

    let stats = back_on_primary[0].stats();
    assert_eq!(failures, 0, "no operation failed");
    assert_eq!(stats.refresh.failures, 0, "no refresh failed: {stats:?}");
    assert!(stats.refresh.successes >= 9, "{stats:?}");
    assert_eq!(stats.handles, 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_only_key_surfaces_unauthorized() {
    let emulator = Emulator::builder().start().await.unwrap();
    let runtime = ticking_runtime();
    // An older driver on the secondary, a newer one on the primary.
    let older = drivers(&runtime, &emulator, WELL_KNOWN_SECONDARY_KEY, 1).await;
    let newer = drivers(&runtime, &emulator, emulator.key(), 1).await;

    // The primary is revoked: refreshes fall back to the older driver's key.
    emulator.regenerate_key(KeyKind::Primary);
    assert!(
        wait_for(Duration::from_secs(10), || async {
            newer[0].stats().credential_fallbacks >= 1
        })
        .await,
        "a refresh retried with the other live key"
    );
    let stats = newer[0].stats();
    assert_eq!(stats.refresh.failures, 0, "{stats:?}");

    // Drop the only driver with a valid key: refresh failures are counted, and the
    // driver with the revoked key gets a typed 401, never a silent stale answer.
    drop(older);
    let before = newer[0].stats().refresh.failures;
    assert!(
        wait_for(Duration::from_secs(10), || async {
            newer[0].stats().refresh.failures > before
        })
        .await,
        "the failed refreshes are counted"
    );
    match newer[0].read_account().await {
        Err(error @ DriverError::Unauthorized(_)) => {
            assert_eq!(error.status(), Some(401));
            assert!(!error.to_string().contains(emulator.key()));
        }
        other => panic!("expected 401, got {other:?}"),
    }
}
