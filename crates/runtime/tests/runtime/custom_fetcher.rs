//! The runtime on its own, as a crate people depend on without the driver: a fetcher of
//! the user's own (no HTTP at all) keeps its account's topology fresh.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use meridian_location_store::{
    Endpoint, OperationKind, OperationOutcome, RetryPolicy, RetryState, RouteRequest,
    ValidatedAccount,
};
use meridian_runtime::{AccountFetcher, AccountHandle, FetchFuture, Runtime, Verdict};

/// Serves whatever document its directory holds now, and counts what it is asked.
#[derive(Default)]
struct Directory {
    document: Mutex<Vec<u8>>,
    fetches: AtomicUsize,
}

impl Directory {
    fn write_region(&self, region: &str) {
        let document = serde_json::json!({
            "id": "acct",
            "_rid": "acct.example",
            "writableLocations": [
                {"name": region, "databaseAccountEndpoint": format!("https://{region}.example/")}
            ],
            "readableLocations": [
                {"name": "westus", "databaseAccountEndpoint": "https://westus.example/"},
                {"name": "eastus", "databaseAccountEndpoint": "https://eastus.example/"}
            ]
        });
        *self.document.lock().unwrap() = document.to_string().into_bytes();
    }
}

impl AccountFetcher for Directory {
    fn fetch_account<'a>(&'a self, _: &'a Endpoint) -> FetchFuture<'a, ValidatedAccount> {
        self.fetches.fetch_add(1, Ordering::SeqCst);
        let document = self.document.lock().unwrap().clone();
        Box::pin(async move { Ok(ValidatedAccount::from_slice(&document)?) })
    }

    fn probe<'a>(&'a self, _: &'a Endpoint) -> FetchFuture<'a, ()> {
        Box::pin(async { Ok(()) })
    }
}

fn writes_go_to(handle: &AccountHandle) -> String {
    handle.with_snapshot(|snapshot| {
        let endpoint = snapshot.route(OperationKind::Write, &RouteRequest::default());
        snapshot
            .region_of(endpoint)
            .map(ToString::to_string)
            .unwrap_or_default()
    })
}

#[tokio::test(start_paused = true)]
async fn runtime_keeps_a_custom_fetchers_topology_fresh_without_the_driver() {
    let interval = Duration::from_secs(10);
    let runtime = Runtime::builder()
        .refresh_interval(interval)
        .jitter_fraction(0.0)
        .build()
        .unwrap();
    let account = Endpoint::parse("https://acct.example/").unwrap();
    // Two users of one account, each with its own fetcher (its own credential).
    let (first, second) = (
        Arc::new(Directory::default()),
        Arc::new(Directory::default()),
    );
    first.write_region("westus");
    second.write_region("westus");
    let a = runtime
        .attach(account.clone(), first.clone())
        .await
        .unwrap();
    let b = runtime.attach(account, second.clone()).await.unwrap();
    let fetches = || first.fetches.load(Ordering::SeqCst) + second.fetches.load(Ordering::SeqCst);
    assert_eq!(fetches(), 1, "one first fetch for the account");
    assert_eq!(writes_go_to(&a), "westus");

    // The write region moves. Nobody reports anything; the next tick fetches the account
    // once (not once per handle) and both handles see the move.
    first.write_region("eastus");
    second.write_region("eastus");
    tokio::time::sleep(interval + Duration::from_secs(1)).await;
    assert_eq!(fetches(), 2, "one fetch per tick for two handles");
    assert_eq!(
        (writes_go_to(&a), writes_go_to(&b)),
        ("eastus".into(), "eastus".into())
    );

    // It moves back, and a write meets 403/3 before the next tick: reported through a
    // handle, it starts a refresh at once, and the retry waits for it.
    first.write_region("westus");
    second.write_region("westus");
    let (endpoint, routed) = a.with_snapshot(|snapshot| {
        let endpoint = snapshot.route(OperationKind::Write, &RouteRequest::default());
        (endpoint.clone(), a.routed_on(snapshot))
    });
    let mut retries = RetryState::new(RetryPolicy::default(), 2);
    let forbidden = OperationOutcome::response(OperationKind::Write, 403, Some(3));
    let Verdict::Retry { refresh, .. } = a.report(&endpoint, &forbidden, routed, &mut retries)
    else {
        panic!("403/3 is retried after a refresh");
    };
    let before = tokio::time::Instant::now();
    assert!(
        a.await_refresh(refresh, None).await.is_some(),
        "a refresh was awaited"
    );
    assert_eq!(before.elapsed(), Duration::ZERO, "no tick was waited for");
    assert_eq!(fetches(), 3);
    assert_eq!(
        (writes_go_to(&a), writes_go_to(&b)),
        ("westus".into(), "westus".into())
    );

    assert!(runtime.shutdown().await, "the loop ended cleanly");
}
