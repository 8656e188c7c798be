//! Writers marking, probing and installing while readers route: every snapshot a reader
//! sees is whole, and generations never go backwards.

#![allow(clippy::unwrap_used)]

use std::sync::Barrier;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use meridian_location_store::*;
use serde_json::json;

fn endpoint(i: usize) -> Endpoint {
    Endpoint::parse(&format!("http://127.0.0.{}:8081/", i + 1)).unwrap()
}

fn account(regions: usize) -> ValidatedAccount {
    let locations: Vec<_> = (0..regions)
        .map(|i| json!({"name": format!("Region {i}"), "databaseAccountEndpoint": endpoint(i).as_str()}))
        .collect();
    let doc = json!({"id": "acct", "_rid": "acct.example", "writableLocations": [locations[0]],
        "readableLocations": locations});
    ValidatedAccount::from_slice(&serde_json::to_vec(&doc).unwrap()).unwrap()
}

#[test]
fn two_writers_and_two_readers() {
    let store: LocationStore = LocationStore::new(
        Endpoint::parse("http://127.0.0.1:8081/").unwrap(),
        StoreConfig::default().with_unavailability_ttl(Duration::ZERO),
    );
    store
        .install(account(4), Instant::now())
        .topology_generation();
    let barrier = Barrier::new(4);
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let readers: Vec<_> = (0..2)
            .map(|_| {
                scope.spawn(|| {
                    barrier.wait();
                    let (mut last, mut reads) = (0, 0u64);
                    while !stop.load(Ordering::Acquire) {
                        let snapshot = store.snapshot();
                        assert!(snapshot.generation() >= last, "generation went backwards");
                        last = snapshot.generation();
                        let n = snapshot.read_locations().len();
                        assert!(n == 3 || n == 4, "torn snapshot with {n} regions");
                        let routed = snapshot.route(OperationKind::Read, &RouteRequest::default());
                        assert!(snapshot.region_of(routed).is_some());
                        reads += 1;
                    }
                    reads
                })
            })
            .collect();
        let marker = scope.spawn(|| {
            barrier.wait();
            for i in 0..5_000 {
                let e = endpoint(i % 4);
                store.mark_unavailable(&e, MarkScope::Read, MarkReason::Timeout, Instant::now());
                store.record_probe(&e, i % 3 == 0, Instant::now());
            }
        });
        let refresher = scope.spawn(|| {
            barrier.wait();
            for i in 0..2_000 {
                store
                    .install(account(3 + i % 2), Instant::now())
                    .topology_generation();
            }
        });
        marker.join().unwrap();
        refresher.join().unwrap();
        stop.store(true, Ordering::Release);
        for reader in readers {
            assert!(reader.join().unwrap() > 0);
        }
    });
    assert_eq!(store.snapshot().topology_generation(), 2_001);
}
