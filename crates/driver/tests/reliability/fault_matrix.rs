//! Every fault the emulator can put on `GET /`, on the periodic and the event-driven path:
//! the last good topology stays in use, operations keep working where a healthy region
//! exists, stats count the failure, a warning names the account, clearing the fault
//! recovers on the next refresh, and another account in the same runtime keeps its
//! schedule.

use std::time::Duration;

use meridian_driver::{AccountConfig, Driver};
use meridian_emulator::{Emulator, FaultAction, FaultRule};
use meridian_runtime::{FlightResult, RefreshOutcome, Runtime};
use serde_json::{Value, json};

use crate::{capture, wait_for};

const FETCH_TIMEOUT: Duration = Duration::from_millis(300);

#[derive(Debug, Clone, Copy)]
enum Fault {
    Status500,
    Status503,
    Throttled429,
    WriteForbidden,
    AccountNotFound,
    DelayPastTimeout,
    Hang,
    ConnectionRefused,
    ResetMidBody,
    TruncatedJson,
    MalformedJson,
    MissingWritableLocations,
    EmptyLocations,
    RelativeUrl,
    FiveMegabytes,
}

fn status(status: u16, sub_status: Option<u32>, retry_after_ms: Option<u64>) -> FaultAction {
    FaultAction::Status {
        status,
        sub_status,
        body: None,
        retry_after_ms,
    }
}

struct Harness {
    faulted: Emulator,
    healthy: Emulator,
    runtime: Runtime,
    driver: Driver,
    other: Driver,
    account: String,
    fault: Fault,
}

impl Harness {
    async fn new(fault: Fault) -> Self {
        capture::install();
        let faulted = Emulator::builder()
            .account_id("faulted")
            .start()
            .await
            .unwrap();
        let healthy = Emulator::builder()
            .account_id("healthy")
            .start()
            .await
            .unwrap();
        let runtime = Runtime::builder()
            .refresh_interval(Duration::from_millis(200))
            .jitter_fraction(0.0)
            .event_min_interval(Duration::from_millis(50))
            .failure_backoff(Duration::from_millis(20))
            .fetch_timeout(FETCH_TIMEOUT)
            .probe_interval(Duration::from_millis(100))
            .build()
            .unwrap();
        // For connection refused the account endpoint is a region that will go down.
        let account = match fault {
            Fault::ConnectionRefused => faulted.region_endpoint("North Europe").unwrap(),
            _ => faulted.global_endpoint(),
        };
        let build = |endpoint: String, key: &str| {
            Driver::builder(&runtime, AccountConfig::new(endpoint, key))
                .request_timeout(Duration::from_secs(2))
                .build()
        };
        let driver = build(account.clone(), faulted.key()).await.unwrap();
        let other = build(healthy.global_endpoint(), healthy.key())
            .await
            .unwrap();
        driver.create_database("db").await.unwrap();
        driver.create_container("db", "c", "/pk").await.unwrap();
        driver
            .container("db", "c")
            .create_item("p", &json!({"id": "kept", "pk": "p"}))
            .await
            .unwrap();
        Self {
            faulted,
            healthy,
            runtime,
            driver,
            other,
            account,
            fault,
        }
    }

    fn inject(&self) {
        let e = &self.faulted;
        let body = |edit: fn(&mut Value)| {
            let mut doc = e.account_document();
            edit(&mut doc);
            FaultAction::Body {
                status: 200,
                body: doc,
            }
        };
        let action = match self.fault {
            Fault::Status500 => status(500, None, None),
            Fault::Status503 => status(503, None, None),
            Fault::Throttled429 => status(429, Some(3200), Some(100)),
            Fault::WriteForbidden => status(403, Some(3), None),
            Fault::AccountNotFound => status(403, Some(1008), None),
            Fault::DelayPastTimeout => FaultAction::Delay {
                ms: FETCH_TIMEOUT.as_millis() as u64 * 3,
            },
            Fault::Hang => FaultAction::Hang,
            Fault::ConnectionRefused => {
                e.region_down("North Europe").unwrap();
                status(503, None, None)
            }
            Fault::ResetMidBody => FaultAction::Reset,
            Fault::TruncatedJson => FaultAction::TruncatedJson,
            Fault::MalformedJson => FaultAction::MalformedJson,
            Fault::MissingWritableLocations => body(|d| {
                d.as_object_mut().unwrap().remove("writableLocations");
            }),
            Fault::EmptyLocations => body(|d| {
                d["writableLocations"] = json!([]);
                d["readableLocations"] = json!([]);
            }),
            Fault::RelativeUrl => {
                body(|d| d["readableLocations"][0]["databaseAccountEndpoint"] = json!("/dbs/"))
            }
            Fault::FiveMegabytes => FaultAction::Oversized {
                bytes: 5 * 1024 * 1024,
            },
        };
        // Every listener's `GET /`, so the regional fallbacks fail too.
        e.add_fault(FaultRule::on_class("account", action)).unwrap();
    }

    fn clear(&self) {
        self.faulted.clear_faults();
        if let Fault::ConnectionRefused = self.fault {
            self.faulted.region_up("North Europe").unwrap();
        }
    }

    /// The topology the driver routes on must be the last good one, and reads must work.
    async fn assert_kept(&self, generation: u64, path: &str) {
        let snapshot = self.driver.snapshot();
        assert_eq!(
            snapshot.topology_generation(),
            generation,
            "{:?}/{path}: topology replaced",
            self.fault
        );
        assert_eq!(snapshot.account_id(), Some("faulted"));
        assert_eq!(
            snapshot.read_locations().len(),
            3,
            "{:?}/{path}: regions lost",
            self.fault
        );
        let read = self
            .driver
            .container("db", "c")
            .read_item::<Value>("p", "kept")
            .await;
        assert!(
            read.is_ok(),
            "{:?}/{path}: reads stopped working: {read:?}",
            self.fault
        );
    }
}

async fn run(fault: Fault) {
    let h = Harness::new(fault).await;
    let other_before = h.healthy.counters().get("global", "account", "GET");
    let ticks_before = h.runtime.stats().ticks;

    // Periodic path.
    let generation = h.driver.snapshot().topology_generation();
    let failures = h.driver.stats().refresh.failures;
    h.inject();
    assert!(
        wait_for(Duration::from_secs(10), || async {
            h.driver.stats().refresh.failures > failures
        })
        .await,
        "{fault:?}/periodic: the failure was not counted"
    );
    h.assert_kept(generation, "periodic").await;
    assert!(
        !capture::lines_with(&["WARN", "account refresh failed", &h.account]).is_empty(),
        "{fault:?}: no warning names the account"
    );
    h.clear();
    let successes = h.driver.stats().refresh.successes;
    assert!(
        wait_for(Duration::from_secs(10), || async {
            h.driver.stats().refresh.successes > successes
        })
        .await,
        "{fault:?}/periodic: no recovery after the fault cleared"
    );

    // Event-driven path.
    let generation = h.driver.snapshot().topology_generation();
    let failures = h.driver.stats().refresh.failures;
    h.inject();
    let mut failed = false;
    for _ in 0..100 {
        match h.driver.request_refresh().await {
            RefreshOutcome::Started(FlightResult::Failed(_))
            | RefreshOutcome::Joined(FlightResult::Failed(_)) => {
                failed = true;
                break;
            }
            _ => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
    assert!(
        failed,
        "{fault:?}/event: the triggered refresh did not fail"
    );
    assert!(h.driver.stats().refresh.failures > failures);
    h.assert_kept(generation, "event").await;
    h.clear();
    let recovered = wait_for(Duration::from_secs(10), || async {
        h.driver.request_refresh().await.fetched()
    })
    .await;
    assert!(
        recovered,
        "{fault:?}/event: no recovery after the fault cleared"
    );

    // The other account kept its schedule: one fetch per completed tick, no failure.
    let ticks = h.runtime.stats().ticks - ticks_before;
    let other = h.healthy.counters().get("global", "account", "GET") - other_before;
    assert!(ticks >= 2, "{fault:?}: the loop kept ticking");
    assert!(
        other >= ticks,
        "{fault:?}: the healthy account was fetched {other} times in {ticks} ticks"
    );
    assert_eq!(h.other.stats().refresh.failures, 0);
    assert!(h.runtime.shutdown().await || matches!(fault, Fault::Hang));
}

macro_rules! matrix {
    ($($name:ident => $fault:expr,)*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                run($fault).await;
            }
        )*
        /// The faults × paths this file covers, for RELIABILITY.md.
        #[test]
        fn matrix_size() {
            let faults = [$(stringify!($name)),*];
            assert_eq!(faults.len() * 2, 30, "15 faults × periodic and event-driven");
        }
    };
}

matrix! {
    http_500 => Fault::Status500,
    http_503 => Fault::Status503,
    http_429_with_retry_after => Fault::Throttled429,
    http_403_3_write_forbidden => Fault::WriteForbidden,
    http_403_1008_account_not_found => Fault::AccountNotFound,
    delay_past_the_fetch_timeout => Fault::DelayPastTimeout,
    hang => Fault::Hang,
    connection_refused => Fault::ConnectionRefused,
    reset_mid_body => Fault::ResetMidBody,
    truncated_json => Fault::TruncatedJson,
    malformed_json => Fault::MalformedJson,
    valid_json_missing_writable_locations => Fault::MissingWritableLocations,
    empty_location_lists => Fault::EmptyLocations,
    relative_location_url => Fault::RelativeUrl,
    five_megabyte_body => Fault::FiveMegabytes,
}
