//! Whose credential signs an account's refreshes: the live handles', newest first, the
//! next one on a 401; a dropped handle's leaves the set. Plus the per-account settings
//! check and the typed extension slot.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use meridian_runtime::{AccountSpec, AttachError};
use tokio::time::sleep;

use crate::fake::{Behaviour, FakeFetcher, endpoint};
use crate::{INTERVAL, builder, serving};

/// A fetcher whose credential is refused everywhere.
fn revoked(id: u64) -> Arc<FakeFetcher> {
    let fetcher = Arc::new(FakeFetcher::new().with_credential(id));
    fetcher.set(&endpoint("acct"), Behaviour::Unauthorized);
    for region in ["westus", "eastus", "northeurope"] {
        fetcher.set(
            &crate::fake::regional("acct", region),
            Behaviour::Unauthorized,
        );
    }
    fetcher
}

#[tokio::test(start_paused = true)]
async fn refresh_tries_older_credentials_after_a_401_newest_first() {
    let runtime = builder().build().unwrap();
    let valid = serving(&["acct"]);
    let old = runtime
        .attach(endpoint("acct"), valid.clone())
        .await
        .unwrap();
    let bad = revoked(7);
    let new = runtime.attach(endpoint("acct"), bad.clone()).await.unwrap();
    assert_eq!(
        valid.total_calls(),
        1,
        "the initial fetch, by the first handle"
    );

    sleep(INTERVAL + Duration::from_millis(1)).await;
    // The newest credential first (401), then the older one: the refresh succeeds.
    assert_eq!(bad.calls_to(&endpoint("acct")), 1);
    assert_eq!(valid.calls_to(&endpoint("acct")), 2);
    let stats = new.stats();
    assert_eq!(stats.refresh.failures, 0, "{stats:?}");
    assert_eq!(stats.credential_fallbacks, 1);

    // The valid handle is dropped: its credential leaves the set and the refreshes fail
    // (counted), each trying the one credential left once per endpoint.
    drop(old);
    sleep(INTERVAL).await;
    assert_eq!(
        valid.total_calls(),
        2,
        "a dropped handle's credential is not used"
    );
    let stats = new.stats();
    assert!(stats.refresh.failures >= 1, "{stats:?}");
    assert_eq!(stats.credential_fallbacks, 1);
    assert_eq!(stats.topology_generation, 1, "the last good topology stays");
    // A 401 is not an endpoint failure: no fallback to the regional endpoints.
    assert_eq!(bad.total_calls(), bad.calls_to(&endpoint("acct")));
    assert_eq!(stats.fallback_fetches, 0);
}

#[tokio::test(start_paused = true)]
async fn handles_with_one_credential_are_tried_once() {
    let runtime = builder().build().unwrap();
    let valid = serving(&["acct"]);
    let _first = runtime
        .attach(endpoint("acct"), valid.clone())
        .await
        .unwrap();
    // Two fetcher instances, one credential (the same key): tried once per 401.
    let a = revoked(7);
    let b = revoked(7);
    let _a = runtime.attach(endpoint("acct"), a.clone()).await.unwrap();
    let handle = runtime.attach(endpoint("acct"), b.clone()).await.unwrap();
    // Clones of a handle carry its credential too.
    let _clone = handle.clone();
    sleep(INTERVAL + Duration::from_millis(1)).await;
    assert_eq!(a.total_calls() + b.total_calls(), 1);
    assert_eq!(b.total_calls(), 1, "the newest instance of the credential");
    assert_eq!(handle.stats().credential_fallbacks, 1);
    assert_eq!(handle.stats().refresh.failures, 0);
}

#[tokio::test(start_paused = true)]
async fn a_conflicting_per_account_setting_is_refused() {
    let runtime = builder().build().unwrap();
    let fetcher = serving(&["acct"]);
    let spec = |regions: &[&str], bootstrap: &[&str]| {
        AccountSpec::new(endpoint("acct"))
            .with_preferred_regions(regions.iter().copied())
            .with_bootstrap_endpoints(bootstrap.iter().map(|h| endpoint(h)))
    };
    let first = runtime
        .attach(spec(&["East US"], &["acct-westus"]), fetcher.clone())
        .await
        .unwrap();
    for (conflicting, setting) in [
        (spec(&["West US"], &[]), "preferred_regions"),
        (spec(&[], &["acct-eastus"]), "bootstrap_endpoints"),
    ] {
        let error = runtime
            .attach(conflicting, fetcher.clone())
            .await
            .unwrap_err();
        assert_eq!(error, AttachError::Conflict { setting });
        assert!(error.to_string().contains(setting));
    }
    // Unset or equal: accepted.
    let _unset = runtime
        .attach(spec(&[], &[]), fetcher.clone())
        .await
        .unwrap();
    let _same = runtime
        .attach(spec(&["East US"], &["acct-westus"]), fetcher.clone())
        .await
        .unwrap();
    assert_eq!(
        first.stats().handles,
        3,
        "refused attaches left nothing behind"
    );
}

#[tokio::test(start_paused = true)]
async fn an_extension_is_one_value_per_type_and_runtime() {
    #[derive(Debug, Default)]
    struct Pool(AtomicUsize);
    #[derive(Debug, Default)]
    struct Other;
    let runtime = builder().build().unwrap();
    let inits = AtomicUsize::new(0);
    let first = runtime.extension(|| {
        inits.fetch_add(1, Ordering::SeqCst);
        Pool::default()
    });
    first.0.fetch_add(1, Ordering::SeqCst);
    let again = runtime.clone().extension(|| {
        inits.fetch_add(1, Ordering::SeqCst);
        Pool::default()
    });
    assert!(Arc::ptr_eq(&first, &again));
    assert_eq!(inits.load(Ordering::SeqCst), 1);
    let _other: Arc<Other> = runtime.extension(Other::default);
    let elsewhere = builder().build().unwrap().extension(Pool::default);
    assert_eq!(elsewhere.0.load(Ordering::SeqCst), 0, "per runtime");
    // Dropped with the runtime.
    let weak = Arc::downgrade(&first);
    drop((first, again, runtime));
    assert!(weak.upgrade().is_none());
}
