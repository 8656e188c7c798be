//! The routing hot path allocates nothing: `snapshot()` (or `with_snapshot`) and `route`
//! for reads and writes, with and without per-request options (a caller's own preferred
//! regions included), counted by dhat's heap
//! statistics. A test binary of its own, because it installs the global allocator.
#![allow(clippy::unwrap_used)]

use std::time::Instant;

use meridian_location_store::*;
use serde_json::json;

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

#[test]
fn snapshot_and_route_allocate_nothing() {
    let _profiler = dhat::Profiler::builder().testing().build();
    let location = |r: &str| json!({"name": r, "databaseAccountEndpoint": format!("https://acct-{r}.documents.example/")});
    let doc = json!({"id": "acct", "_rid": "acct.documents.example",
        "writableLocations": [location("westus")],
        "readableLocations": [location("westus"), location("eastus"), location("northeurope")]});
    let store: LocationStore = LocationStore::new(
        Endpoint::parse("https://acct.documents.example/").unwrap(),
        StoreConfig::default().with_preferred_regions(["East US"]),
    );
    store.install(
        ValidatedAccount::from_slice(doc.to_string().as_bytes()).unwrap(),
        Instant::now(),
    );
    let excluded = [RegionName::new("East US")];
    let tried: Tried = [Endpoint::parse("https://acct-westus.documents.example/").unwrap()]
        .into_iter()
        .collect();
    // A driver's own preference list (the per-driver path shares the account's snapshot).
    let own = [RegionName::new("North Europe"), RegionName::new("West US")];
    let options = [
        RouteRequest::default(),
        RouteRequest {
            excluded_regions: &excluded,
            ..RouteRequest::default()
        },
        RouteRequest {
            avoid: Some(&tried),
            use_write_region: true,
            ..RouteRequest::default()
        },
        RouteRequest {
            preferred_regions: &own,
            ..RouteRequest::default()
        },
        RouteRequest {
            preferred_regions: &own,
            excluded_regions: &excluded,
            avoid: Some(&tried),
            ..RouteRequest::default()
        },
    ];

    // arc-swap registers a per-thread node on a thread's first load (once, then reused);
    // that is set-up, not the hot path.
    let _ = store.snapshot().generation();
    store.with_snapshot(|s| s.generation());

    let before = dhat::HeapStats::get();
    let mut total = 0;
    for i in 0..10_000 {
        let request = &options[i % options.len()];
        let snapshot = store.snapshot();
        total += snapshot.route(OperationKind::Read, request).as_str().len();
        total += snapshot.route(OperationKind::Write, request).as_str().len();
        total += store.with_snapshot(|s| s.route(OperationKind::Read, request).as_str().len());
    }
    let after = dhat::HeapStats::get();
    assert!(total > 0);
    // 30,000 routed calls (6,000 per option): an allocation on any path, even one option's,
    // would add thousands of blocks. On a loaded machine a slow run (~2 s instead of 20 ms)
    // sees a handful of blocks that are not the hot path's — the same 4 with or without the
    // per-preference path, on main before issue 12 too — so the bound is "none per call".
    let allocated = after.total_blocks - before.total_blocks;
    assert!(
        allocated < 100,
        "the hot path allocated: {allocated} blocks over 30,000 calls"
    );
}
