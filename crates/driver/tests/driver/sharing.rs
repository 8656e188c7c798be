//! Many drivers on one runtime: one connection pool, each driver's own preferred regions,
//! per-account settings that conflict are refused.

use std::time::Duration;

use futures_util::future::join_all;
use meridian_driver::{
    AccountConfig, DEFAULT_MAX_CONNECTIONS, Driver, DriverError, RefreshOutcome,
};
use meridian_emulator::{Emulator, FaultAction, FaultRule};
use meridian_location_store::OperationKind;
use serde_json::{Value, json};

use crate::quiet_runtime;
use crate::sockets::{client_connections_to, port_of};

fn config(emulator: &Emulator) -> AccountConfig {
    AccountConfig::new(emulator.global_endpoint(), emulator.key())
}

fn emulator_ports(emulator: &Emulator) -> Vec<u16> {
    std::iter::once(emulator.global_endpoint())
        .chain(emulator.regions().into_iter().map(|r| r.endpoint))
        .filter_map(|url| port_of(&url))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drivers_share_one_connection_pool() {
    let emulator = Emulator::builder().start().await.unwrap();
    let runtime = quiet_runtime();
    let mut drivers = Vec::new();
    for _ in 0..200 {
        drivers.push(
            Driver::builder(&runtime, config(&emulator))
                .request_timeout(Duration::from_secs(10))
                .build()
                .await
                .unwrap(),
        );
    }
    // Every driver reads at once, twice over.
    for _ in 0..2 {
        let reads = join_all(drivers.iter().map(Driver::read_account)).await;
        assert!(reads.iter().all(Result::is_ok), "every read succeeds");
    }
    let Some(sockets) = client_connections_to(&emulator_ports(&emulator)) else {
        eprintln!("no /proc here: the socket count is not checked");
        return;
    };
    assert!(sockets >= 1);
    assert!(
        sockets <= 64,
        "{sockets} sockets for 200 drivers (a pool per driver opens one each)"
    );
    // The reads all went to the read region: at most the pool's bound there.
    let read_region = port_of(&emulator.region_endpoint("West US").unwrap()).unwrap();
    let to_region = client_connections_to(&[read_region]).unwrap_or(0);
    assert!(
        (1..=DEFAULT_MAX_CONNECTIONS).contains(&to_region),
        "{to_region} sockets to the read region"
    );
    // One account, refreshed once: the initial fetch only.
    let stats = drivers[0].stats();
    assert_eq!(stats.handles, 200);
    assert_eq!(stats.refresh.attempts, 1);

    // A driver with other transport settings gets a pool of its own, bounded as asked.
    let narrow = Driver::builder(&runtime, config(&emulator))
        .max_connections(2)
        .build()
        .await
        .unwrap();
    let clones: Vec<Driver> = (0..20).map(|_| narrow.clone()).collect();
    let reads = join_all(clones.iter().map(Driver::read_account)).await;
    assert!(reads.iter().all(Result::is_ok));
    // A connection hyper opened while another was on its way back to the full pool is
    // closed when it gets there: wait (bounded) for such stragglers to finish closing.
    let ports = emulator_ports(&emulator);
    let settled = crate::wait_for(Duration::from_secs(10), || async {
        client_connections_to(&ports).unwrap_or(0) <= sockets + 2
    })
    .await;
    let after = client_connections_to(&ports).unwrap_or(0);
    assert!(
        settled,
        "{after} sockets after 20 reads on a 2-connection pool (was {sockets})"
    );
    assert!(matches!(
        Driver::builder(&runtime, config(&emulator))
            .max_connections(0)
            .build()
            .await,
        Err(DriverError::Config(_))
    ));
}

#[tokio::test]
async fn drivers_with_different_preferred_regions_route_by_their_own() {
    let emulator = Emulator::builder().start().await.unwrap();
    let runtime = quiet_runtime();
    let build = |regions: &'static [&'static str]| {
        Driver::builder(&runtime, config(&emulator))
            .preferred_regions(regions.iter().copied())
            .request_timeout(Duration::from_secs(2))
            .build()
    };
    let east = build(&["East US"]).await.unwrap();
    let north = build(&["North Europe", "East US"]).await.unwrap();
    let plain = build(&[]).await.unwrap();
    east.create_database("db").await.unwrap();
    east.create_container("db", "c", "/pk").await.unwrap();
    east.container("db", "c")
        .create_item("p", &json!({"id": "a", "pk": "p"}))
        .await
        .unwrap();

    let read_at = |driver: &Driver| {
        let driver = driver.clone();
        async move {
            driver
                .container("db", "c")
                .read_item::<Value>("p", "a")
                .await
                .unwrap()
                .endpoint
                .to_string()
        }
    };
    let region = |name: &str| emulator.region_endpoint(name).unwrap();
    assert_eq!(read_at(&east).await, region("East US"));
    assert_eq!(read_at(&north).await, region("North Europe"));
    assert_eq!(read_at(&plain).await, region("West US"), "document order");
    assert_eq!(east.route(OperationKind::Read).as_str(), region("East US"));
    assert_eq!(
        north.route(OperationKind::Read).as_str(),
        region("North Europe")
    );
    // Per request: excluded regions on top of the driver's own preference.
    let excluding = |driver: &Driver, regions: &'static [&'static str]| {
        let driver = driver.clone();
        async move {
            driver
                .container("db", "c")
                .excluding(regions.iter().copied())
                .read_item::<Value>("p", "a")
                .await
                .unwrap()
                .endpoint
                .to_string()
        }
    };
    assert_eq!(excluding(&east, &["East US"]).await, region("West US"));
    assert_eq!(
        excluding(&north, &["North Europe"]).await,
        region("East US")
    );
    assert_eq!(
        read_at(&north).await,
        region("North Europe"),
        "per request only"
    );

    // One account, one topology, one initial fetch for all three.
    assert_eq!(runtime.stats().account_count, 1);
    assert_eq!(plain.stats().refresh.attempts, 1);

    // North Europe goes down: the driver preferring it moves to its next choice, the
    // others are unaffected.
    emulator.region_down("North Europe").unwrap();
    assert_eq!(read_at(&north).await, region("East US"));
    assert_eq!(read_at(&east).await, region("East US"));
    assert_eq!(read_at(&plain).await, region("West US"));
}

#[tokio::test]
async fn conflicting_per_account_setting_is_an_error() {
    let emulator = Emulator::builder().start().await.unwrap();
    let runtime = quiet_runtime();
    let west = emulator.region_endpoint("West US").unwrap();
    let east = emulator.region_endpoint("East US").unwrap();
    let first = Driver::builder(&runtime, config(&emulator))
        .bootstrap_endpoints([west.clone()])
        .build()
        .await
        .unwrap();
    let conflicting = Driver::builder(&runtime, config(&emulator))
        .bootstrap_endpoints([east])
        .build()
        .await;
    match conflicting {
        Err(DriverError::ConflictingSetting { setting }) => {
            assert_eq!(setting, "bootstrap_endpoints");
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    // Unset takes the account's; the same value is no conflict.
    let _unset = Driver::builder(&runtime, config(&emulator))
        .build()
        .await
        .unwrap();
    let _same = Driver::builder(&runtime, config(&emulator))
        .bootstrap_endpoints([west])
        .build()
        .await
        .unwrap();
    // The refused driver left nothing registered.
    assert_eq!(first.stats().handles, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refreshes_are_not_starved_by_operations_holding_the_pool() {
    // An outage: the preferred read region is a black hole (requests accepted, never
    // answered) and reads hang there for their whole request timeout, holding every
    // slot of a two-connection pool. The refresh that would route around the outage
    // must not queue behind them: fetches and probes take no operation slot (the
    // runtime's own fetch limit bounds them).
    const SLOTS: usize = 2;
    let emulator = meridian_testkit::west_and_east().await;
    emulator
        .add_fault(FaultRule::on_class("items", FaultAction::Hang).on_listener("West US"))
        .unwrap();
    let hung_reads = || emulator.counters().get("West US", "items", "GET");
    // The runtime gives a fetch 2 s; an operation's request waits up to 60 s.
    let runtime = quiet_runtime();
    let driver = meridian_testkit::driver_builder(&runtime, &emulator)
        .preferred_regions(["West US"])
        .max_connections(SLOTS)
        .request_timeout(Duration::from_secs(60))
        .build()
        .await
        .unwrap();
    assert_eq!(
        driver.route(OperationKind::Read).as_str(),
        emulator.region_endpoint("West US").unwrap()
    );
    let hung: Vec<_> = (0..SLOTS)
        .map(|_| {
            let items = driver.container("db", "items");
            tokio::spawn(async move { items.read_item::<Value>("p", "a").await })
        })
        .collect();
    // Each read holds its slot while its request is in flight.
    let holding = crate::wait_for(Duration::from_secs(30), || async {
        hung_reads() == SLOTS as u64
    })
    .await;
    assert!(
        holding,
        "{} of {SLOTS} reads reached the black hole",
        hung_reads()
    );

    let refreshes = emulator.counters().account_reads();
    let mut fetched = None;
    for _ in 0..10 {
        match driver.request_refresh().await {
            RefreshOutcome::Throttled { until } => {
                tokio::time::sleep_until(tokio::time::Instant::from_std(until)).await;
            }
            outcome => {
                fetched = Some(outcome);
                break;
            }
        }
    }
    let outcome = fetched.expect("a refresh started within 10 tries");
    assert!(outcome.fetched(), "the refresh completed: {outcome:?}");
    assert!(
        emulator.counters().account_reads() > refreshes,
        "it reached the account endpoint"
    );
    assert!(
        hung.iter().all(|read| !read.is_finished()),
        "the reads still held every slot while the refresh ran"
    );
    assert_eq!(hung_reads(), SLOTS as u64);
    for read in hung {
        read.abort();
    }
}
