//! Table-driven routing tests: ordering, preferences, exclusions, marks, TTL and probes.
//!
//! Every case runs a list of events against a fresh store through one `check` helper
//! and compares the published read and write orders, rendered as `"Region, Region*"`
//! where `*` means marked unavailable for that list.

#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use meridian_location_store::*;
use serde_json::json;

const WEST: &str = "West US 2";
const EAST: &str = "East US 2";
const NORTH: &str = "North Europe";

fn endpoint(region: &str) -> Endpoint {
    let host = RegionName::new(region).canonical().to_string();
    Endpoint::parse(&format!("https://acct-{host}.documents.azure.com:443/")).unwrap()
}

fn global() -> Endpoint {
    Endpoint::parse("https://acct.documents.azure.com/").unwrap()
}

/// An account document whose writable and readable regions are given in order.
fn account(writable: &[&str], readable: &[&str], multi_write: bool) -> ValidatedAccount {
    let locations = |regions: &[&str]| -> Vec<_> {
        regions
            .iter()
            .map(|r| json!({"name": r, "databaseAccountEndpoint": endpoint(r).as_str()}))
            .collect()
    };
    let doc = json!({
        "id": "acct", "_rid": "acct.documents.azure.com",
        "writableLocations": locations(writable),
        "readableLocations": locations(readable),
        "enableMultipleWriteLocations": multi_write,
    });
    ValidatedAccount::from_slice(&serde_json::to_vec(&doc).unwrap()).unwrap()
}

fn single_write() -> ValidatedAccount {
    account(&[WEST], &[WEST, EAST, NORTH], false)
}

fn multi_write() -> ValidatedAccount {
    account(&[WEST, EAST, NORTH], &[WEST, EAST, NORTH], true)
}

#[allow(clippy::large_enum_variant)]
enum Ev {
    Install(ValidatedAccount),
    Mark(&'static str, MarkScope, MarkReason, u64),
    Probe(&'static str, bool, u64),
}

struct Expect {
    read: &'static str,
    write: &'static str,
}

fn render(locations: &[RoutedLocation]) -> String {
    locations
        .iter()
        .map(|l| format!("{}{}", l.region, if l.available { "" } else { "*" }))
        .collect::<Vec<_>>()
        .join(", ")
}

fn store(preferred: &[&str]) -> LocationStore {
    LocationStore::new(
        global(),
        StoreConfig::default().with_preferred_regions(preferred.iter().copied()),
    )
}

fn run(store: &LocationStore, t0: Instant, events: Vec<Ev>) {
    for event in events {
        match event {
            Ev::Install(doc) => {
                store.install(doc, t0).topology_generation();
            }
            Ev::Mark(region, scope, reason, at) => {
                store.mark_unavailable(&endpoint(region), scope, reason, t0 + secs(at));
            }
            Ev::Probe(region, ok, at) => store.record_probe(&endpoint(region), ok, t0 + secs(at)),
        }
    }
}

fn check(name: &str, preferred: &[&str], events: Vec<Ev>, expect: Expect) {
    let store = store(preferred);
    run(&store, Instant::now(), events);
    let snapshot = store.snapshot();
    assert_eq!(
        render(snapshot.read_locations()),
        expect.read,
        "{name}: read order"
    );
    assert_eq!(
        render(snapshot.write_locations()),
        expect.write,
        "{name}: write order"
    );
}

/// The single-write account installed, West US marked unavailable for reads at 0 s, then
/// `more`.
fn west_read_marked(more: impl IntoIterator<Item = Ev>) -> Vec<Ev> {
    let mut events = vec![
        Install(single_write()),
        Mark(WEST, Read, ServiceUnavailable, 0),
    ];
    events.extend(more);
    events
}

/// A store without preferences that has run `events` from now; and that now.
fn started(events: Vec<Ev>) -> (LocationStore, Instant) {
    let store = store(&[]);
    let t0 = Instant::now();
    run(&store, t0, events);
    (store, t0)
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

use Ev::*;
use MarkReason::*;
use MarkScope::*;

#[test]
fn ordering_marks_and_refresh_table() {
    let cases: Vec<(&str, &[&str], Vec<Ev>, Expect)> = vec![
        (
            "document order without preferences",
            &[],
            vec![Install(single_write())],
            Expect {
                read: "West US 2, East US 2, North Europe",
                write: "West US 2",
            },
        ),
        (
            "preferred first in preference order, rest in document order",
            &[NORTH, EAST],
            vec![Install(single_write())],
            Expect {
                read: "North Europe, East US 2, West US 2",
                write: "West US 2",
            },
        ),
        (
            "preferences compare canonically and unknown regions are ignored",
            &["northeurope", "Mars Central"],
            vec![Install(single_write())],
            Expect {
                read: "North Europe, West US 2, East US 2",
                write: "West US 2",
            },
        ),
        (
            "single-write ignores preferences for writes",
            &[EAST],
            vec![Install(account(&[WEST, EAST], &[WEST, EAST], false))],
            Expect {
                read: "East US 2, West US 2",
                write: "West US 2, East US 2",
            },
        ),
        (
            "multi-write orders writes by preference",
            &[NORTH, EAST],
            vec![Install(multi_write())],
            Expect {
                read: "North Europe, East US 2, West US 2",
                write: "North Europe, East US 2, West US 2",
            },
        ),
        (
            "a read mark demotes to the tail, writes untouched",
            &[],
            west_read_marked([]),
            Expect {
                read: "East US 2, North Europe, West US 2*",
                write: "West US 2",
            },
        ),
        (
            "write-forbidden never blocks reads, even when asked for both",
            &[],
            vec![Install(single_write()), Mark(WEST, Both, WriteForbidden, 0)],
            Expect {
                read: "West US 2, East US 2, North Europe",
                write: "West US 2*",
            },
        ),
        (
            "everything marked: still listed, order kept",
            &[],
            vec![
                Install(single_write()),
                Mark(WEST, Both, ConnectionFailed, 0),
                Mark(EAST, Both, ConnectionFailed, 0),
                Mark(NORTH, Both, ConnectionFailed, 0),
            ],
            Expect {
                read: "West US 2*, East US 2*, North Europe*",
                write: "West US 2*",
            },
        ),
        (
            "marks survive a refresh that still lists the region",
            &[],
            vec![
                Install(single_write()),
                Mark(EAST, Read, Timeout, 0),
                Install(single_write()),
            ],
            Expect {
                read: "West US 2, North Europe, East US 2*",
                write: "West US 2",
            },
        ),
        (
            "marks of un-advertised endpoints are dropped",
            &[],
            vec![
                Install(single_write()),
                Mark(NORTH, Both, ServiceUnavailable, 0),
                Install(account(&[WEST], &[WEST, EAST], false)),
                Install(single_write()),
            ],
            Expect {
                read: "West US 2, East US 2, North Europe",
                write: "West US 2",
            },
        ),
        (
            "expired mark stays demoted until a probe succeeds",
            &[],
            west_read_marked([Probe(WEST, false, 61)]),
            Expect {
                read: "East US 2, North Europe, West US 2*",
                write: "West US 2",
            },
        ),
        (
            "a successful probe after the TTL returns the endpoint",
            &[],
            west_read_marked([Probe(WEST, true, 60)]),
            Expect {
                read: "West US 2, East US 2, North Europe",
                write: "West US 2",
            },
        ),
        (
            "a probe before the TTL ends changes nothing",
            &[],
            west_read_marked([Probe(WEST, true, 30)]),
            Expect {
                read: "East US 2, North Europe, West US 2*",
                write: "West US 2",
            },
        ),
        (
            "failover: the new document moves the write region, old marks follow the endpoint",
            &[],
            vec![
                Install(single_write()),
                Mark(WEST, Write, WriteForbidden, 0),
                Install(account(&[EAST], &[EAST, WEST, NORTH], false)),
            ],
            Expect {
                read: "East US 2, West US 2, North Europe",
                write: "East US 2",
            },
        ),
    ];
    for (name, preferred, events, expect) in cases {
        check(name, preferred, events, expect);
    }
}

#[test]
fn probe_lifecycle_candidate_then_back_or_ttl_restart() {
    let (store, t0) = started(vec![
        Install(single_write()),
        Mark(EAST, Read, ServiceUnavailable, 0),
    ]);
    assert!(store.due_probes(t0 + secs(59)).is_empty(), "inside the TTL");
    assert_eq!(store.due_probes(t0 + secs(60)), vec![endpoint(EAST)]);

    // A failed probe restarts the TTL from the probe.
    store.record_probe(&endpoint(EAST), false, t0 + secs(61));
    assert!(store.due_probes(t0 + secs(61 + 59)).is_empty());
    assert_eq!(store.due_probes(t0 + secs(61 + 60)), vec![endpoint(EAST)]);

    // A successful probe returns it to rotation and it is no longer due.
    store.record_probe(&endpoint(EAST), true, t0 + secs(121));
    assert!(store.due_probes(t0 + secs(1_000)).is_empty());
    assert!(
        store
            .snapshot()
            .read_locations()
            .iter()
            .all(|l| l.available)
    );
    assert_eq!(store.marked_count(), 0);
}

#[test]
fn un_advertised_endpoints_are_never_probed() {
    let (store, t0) = started(vec![
        Install(single_write()),
        Mark(NORTH, Read, ServiceUnavailable, 0),
        Install(account(&[WEST], &[WEST, EAST], false)),
    ]);
    assert!(store.due_probes(t0 + secs(3_600)).is_empty());
}

#[test]
fn marking_again_extends_but_never_shortens() {
    let (store, t0) = started(vec![
        Install(single_write()),
        Mark(EAST, Read, Timeout, 30),
        Mark(EAST, Read, Timeout, 0),
    ]);
    let (read, write) = store.marks_of(&endpoint(EAST));
    assert_eq!(read.unwrap().expires, t0 + secs(90));
    assert_eq!(write, None);
}

#[test]
fn route_excludes_regions_avoids_tried_endpoints_and_falls_back_to_global() {
    let store = store(&[]);
    assert_eq!(
        store
            .snapshot()
            .route(OperationKind::Read, &RouteRequest::default()),
        &global(),
        "no topology yet"
    );
    run(&store, Instant::now(), vec![Install(single_write())]);
    let snapshot = store.snapshot();
    let route = |request: RouteRequest<'_>| snapshot.route(OperationKind::Read, &request).clone();

    assert_eq!(route(RouteRequest::default()), endpoint(WEST));
    let excluded = [RegionName::new("westus2")];
    assert_eq!(
        route(RouteRequest {
            excluded_regions: &excluded,
            ..Default::default()
        }),
        endpoint(EAST)
    );
    let tried: Tried = [endpoint(WEST), endpoint(EAST)].into_iter().collect();
    assert_eq!(
        route(RouteRequest {
            avoid: Some(&tried),
            ..Default::default()
        }),
        endpoint(NORTH)
    );
    let all: Tried = [endpoint(WEST), endpoint(EAST), endpoint(NORTH)]
        .into_iter()
        .collect();
    assert_eq!(
        route(RouteRequest {
            avoid: Some(&all),
            ..Default::default()
        }),
        endpoint(WEST),
        "everything tried: start over rather than give nothing"
    );
    let everything = [
        RegionName::new(WEST),
        RegionName::new(EAST),
        RegionName::new(NORTH),
    ];
    assert_eq!(
        route(RouteRequest {
            excluded_regions: &everything,
            ..Default::default()
        }),
        global(),
        "everything excluded: the account endpoint"
    );
    assert_eq!(
        route(RouteRequest {
            use_write_region: true,
            ..Default::default()
        }),
        endpoint(WEST)
    );
}

#[test]
fn multi_write_routes_writes_across_regions_single_write_to_the_first() {
    let multi = store(&[EAST]);
    run(&multi, Instant::now(), vec![Install(multi_write())]);
    let write = |s: &LocationStore, avoid: &[Endpoint]| {
        let avoid: Tried = avoid.iter().cloned().collect();
        s.snapshot()
            .route(
                OperationKind::Write,
                &RouteRequest {
                    avoid: Some(&avoid),
                    ..Default::default()
                },
            )
            .clone()
    };
    assert_eq!(write(&multi, &[]), endpoint(EAST));
    assert_eq!(write(&multi, &[endpoint(EAST)]), endpoint(WEST));

    let single = store(&[EAST]);
    run(&single, Instant::now(), vec![Install(single_write())]);
    assert_eq!(write(&single, &[]), endpoint(WEST));
    assert_eq!(
        write(&single, &[endpoint(WEST)]),
        endpoint(WEST),
        "single-write has one write region to go to"
    );
}

#[test]
fn generations_track_changes_and_topology_separately() {
    let store = store(&[]);
    let first = store.snapshot();
    assert_eq!((first.generation(), first.topology_generation()), (0, 0));
    assert_eq!(
        store
            .install(single_write(), Instant::now())
            .topology_generation(),
        1
    );
    store.mark_unavailable(&endpoint(EAST), Read, Timeout, Instant::now());
    let now = store.snapshot();
    assert_eq!((now.generation(), now.topology_generation()), (2, 1));
    assert_eq!(now.account_id(), Some("acct"));
    // The old snapshot is untouched.
    assert_eq!(first.generation(), 0);
}

#[test]
fn an_identical_document_changes_nothing() {
    let store = store(&[]);
    assert_eq!(
        store
            .install(single_write(), Instant::now())
            .topology_generation(),
        1
    );
    let before = store.snapshot();
    assert_eq!(
        store
            .install(single_write(), Instant::now())
            .topology_generation(),
        1
    );
    let after = store.snapshot();
    assert!(
        std::sync::Arc::ptr_eq(&before, &after),
        "no new snapshot was published"
    );
    assert_eq!(
        store
            .install(multi_write(), Instant::now())
            .topology_generation(),
        2
    );
}

#[test]
fn a_rejected_document_keeps_the_last_good_topology() {
    let store = store(&[]);
    store
        .install(single_write(), Instant::now())
        .topology_generation();
    let before = store.snapshot();
    let mut bad = single_write().account().clone();
    bad.readable_locations.clear();
    // A rejected document never becomes installable: validation is the only way in.
    assert!(matches!(
        ValidatedAccount::new(bad),
        Err(AccountError::Empty {
            field: "readableLocations"
        })
    ));
    let after = store.snapshot();
    assert_eq!(after.generation(), before.generation());
    assert_eq!(
        render(after.read_locations()),
        "West US 2, East US 2, North Europe"
    );
    assert_eq!(store.account().unwrap().account().id, "acct");
}

#[test]
fn per_request_preferred_regions_override_the_snapshot_order() {
    // The snapshot prefers East; callers with their own preferences share it.
    let shared = store(&[EAST]);
    run(&shared, Instant::now(), vec![Install(single_write())]);
    let snapshot = shared.snapshot();
    let read = |preferred: &[RegionName], avoid: &[Endpoint]| {
        let tried: Tried = avoid.iter().cloned().collect();
        snapshot
            .route(
                OperationKind::Read,
                &RouteRequest {
                    preferred_regions: preferred,
                    avoid: Some(&tried),
                    ..Default::default()
                },
            )
            .clone()
    };
    let north = [RegionName::new(NORTH), RegionName::new(WEST)];
    assert_eq!(
        read(&[], &[]),
        endpoint(EAST),
        "no preference: the snapshot's"
    );
    assert_eq!(read(&north, &[]), endpoint(NORTH));
    assert_eq!(read(&north, &[endpoint(NORTH)]), endpoint(WEST));
    assert_eq!(
        read(&north, &[endpoint(NORTH), endpoint(WEST)]),
        endpoint(EAST),
        "then the rest in the snapshot's order"
    );
    let unknown = [RegionName::new("Mars Central")];
    assert_eq!(read(&unknown, &[]), endpoint(EAST));

    // A marked preferred region goes after every available one.
    shared.mark_unavailable(&endpoint(NORTH), Read, Timeout, Instant::now());
    let snapshot = shared.snapshot();
    let request = RouteRequest {
        preferred_regions: &north,
        ..Default::default()
    };
    assert_eq!(
        snapshot.route(OperationKind::Read, &request),
        &endpoint(WEST)
    );
    let everything_else: Tried = [endpoint(WEST), endpoint(EAST)].into_iter().collect();
    let request = RouteRequest {
        preferred_regions: &north,
        avoid: Some(&everything_else),
        ..Default::default()
    };
    assert_eq!(
        snapshot.route(OperationKind::Read, &request),
        &endpoint(NORTH)
    );

    // Writes of a single-write account have one order whatever the preference.
    let request = RouteRequest {
        preferred_regions: &north,
        ..Default::default()
    };
    assert_eq!(
        snapshot.route(OperationKind::Write, &request),
        &endpoint(WEST)
    );
    // Multi-write: writes follow the caller's preference too.
    let multi = store(&[EAST]);
    run(&multi, Instant::now(), vec![Install(multi_write())]);
    assert_eq!(
        multi.snapshot().route(OperationKind::Write, &request),
        &endpoint(NORTH)
    );
}
