//! A hostile or unlucky network: servers closing idle connections, redirects, account
//! documents listing many unreachable regions.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use meridian_driver::{AccountConfig, Driver, DriverError, OperationKind, RuntimeEvent};
use meridian_emulator::{Emulator, FaultAction, FaultRule};
use meridian_location_store::{MAX_CROSS_REGION_RETRIES, MAX_LOCATIONS};
use meridian_runtime::{FlightResult, RefreshOutcome};
use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;

use crate::servers::{ClosingServer, RawServer};
use crate::{driver, quiet_runtime};

/// The account endpoint and key of an emulator running, with a counting proxy in front of
/// its only region (West US), on a runtime and thread of their own — as a separate
/// process would, they close idle connections whatever the test's thread is doing.
/// Dropping the sender stops them.
struct RemoteServer {
    endpoint: String,
    key: String,
    proxy: crate::servers::Counts,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RemoteServer {
    fn start(idle: Duration) -> Self {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let emulator = Emulator::builder()
                    .regions(["West US"])
                    .idle_timeout(idle)
                    .start()
                    .await
                    .unwrap();
                let west = emulator.region_endpoint("West US").unwrap();
                let upstream = west
                    .trim_start_matches("http://")
                    .trim_end_matches('/')
                    .parse()
                    .unwrap();
                let proxy = RawServer::forward(upstream).await;
                let mut document = emulator.account_document();
                let west = json!([{"name": "West US", "databaseAccountEndpoint": proxy.url()}]);
                document["readableLocations"] = west.clone();
                document["writableLocations"] = west;
                let account = FaultAction::Body {
                    status: 200,
                    body: document,
                };
                emulator
                    .add_fault(FaultRule::on_class("account", account))
                    .unwrap();
                let _ = ready_tx.send((
                    emulator.global_endpoint(),
                    emulator.key().to_string(),
                    proxy.counts(),
                ));
                let _ = stop_rx.await;
                emulator.shutdown().await;
            });
        });
        let (endpoint, key, proxy) = ready_rx.recv_timeout(Duration::from_secs(30)).unwrap();
        Self {
            endpoint,
            key,
            proxy,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }
}

impl Drop for RemoteServer {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Blocks this thread — and so, on a current-thread runtime, every task of the test's
/// runtime — until `condition` holds (at most 30 s).
fn block_until(condition: impl Fn() -> bool) -> bool {
    let limit = std::time::Instant::now() + Duration::from_secs(30);
    while !condition() {
        if std::time::Instant::now() > limit {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    true
}

#[tokio::test]
async fn idle_connection_closed_by_server_is_retried_safely() {
    // The server closes connections idle for SERVER_IDLE. The driver keeps pooled
    // connections for CLIENT_IDLE, a little longer (a server's idle clock starts before
    // the client's), but reuses one only while it has been idle less than the reuse
    // horizon, 6 s (CLIENT_IDLE less a guard of 2 s). West US is reached through a proxy
    // that counts the connections the driver opens and sees the server close them.
    const SERVER_IDLE: Duration = Duration::from_secs(7);
    const CLIENT_IDLE: Duration = Duration::from_secs(8);
    const WRITES: usize = 10;
    let server = RemoteServer::start(SERVER_IDLE);
    let proxy = server.proxy.clone();
    // The test's runtime has one thread: while it is blocked below, the driver's pooled
    // connections cannot notice that the server closed them.
    let runtime = quiet_runtime();
    let driver = Driver::builder(
        &runtime,
        AccountConfig::new(server.endpoint.clone(), server.key.clone()),
    )
    .request_timeout(Duration::from_secs(10))
    .pool_idle_timeout(CLIENT_IDLE)
    .build()
    .await
    .unwrap();
    meridian_testkit::create_database_and_container(&driver, "db", "items").await;
    let items = driver.container("db", "items");
    let create = |id: String| {
        let items = items.clone();
        async move {
            items
                .create_item("p", &json!({"id": id, "pk": "p"}))
                .await
                .map(|created| (created.status, created.attempts))
        }
    };

    // Pooled connections are reused: one after another, ten creates open at most two new
    // connections (none if the setup's is reused; two if the last one is not back in the
    // pool when the next create starts) — without reuse they would open ten.
    let before = proxy.accepted();
    for i in 0..WRITES {
        assert_eq!(create(format!("warm-{i}")).await.unwrap(), (201, 1));
    }
    let opened = proxy.accepted() - before;
    assert!(opened <= 2, "{WRITES} creates opened {opened} connections");

    // The server closes every one of them while the driver still holds them (idle less
    // than CLIENT_IDLE but past the horizon), and the driver's runtime is blocked, so the
    // pool has not seen the close. Reused, such a connection would take the create and
    // then read the close: maybe applied. The guard keeps it out of use: the create goes
    // out once, on exactly one new connection, in one attempt.
    let all = proxy.accepted();
    let closed = block_until(|| proxy.closed_upstream() == all);
    assert!(closed, "the server closed its idle connections");
    let result = create("after-close".to_string()).await;
    match result {
        Ok(outcome) => assert_eq!(outcome, (201, 1), "created once, no driver retry"),
        Err(error) => panic!("the create over a closed pooled connection failed: {error:?}"),
    }
    assert_eq!(proxy.accepted(), all + 1, "exactly one new connection");
    let read = items.read_item::<Value>("p", "after-close").await.unwrap();
    assert_eq!(read.item["id"], "after-close");
    drop(server);
}

#[tokio::test]
async fn a_region_that_closes_every_connection_is_failed_over() {
    // A draining node or a load balancer with no backend, listed first for reads and
    // writes: every connection is accepted and closed before a byte is read. The new
    // connection closes before it takes the request, so the request never leaves the
    // client: a region failure, not a stale pooled connection and not a write that may
    // have landed. Mark the endpoint, signal a refresh, go on to West US — a create too.
    let emulator = Emulator::builder()
        .regions(["West US"])
        .start()
        .await
        .unwrap();
    let setup = driver(&quiet_runtime(), &emulator).await;
    meridian_testkit::create_database_and_container(&setup, "db", "items").await;
    let closing = ClosingServer::start();
    let seen = closing.counts();
    let west = emulator.region_endpoint("West US").unwrap();
    let locations = json!([
        {"name": "Nowhere", "databaseAccountEndpoint": closing.url()},
        {"name": "West US", "databaseAccountEndpoint": west},
    ]);
    let mut document = emulator.account_document();
    document["readableLocations"] = locations.clone();
    document["writableLocations"] = locations;
    emulator
        .add_fault(FaultRule::on_class(
            "account",
            FaultAction::Body {
                status: 200,
                body: document,
            },
        ))
        .unwrap();
    // The test's runtime has one thread. Once an operation has started connecting to the
    // closing server, this task holds that thread until the server has closed the
    // connection, so the driver meets the close before it could write: without this, a
    // busy machine may let the request out first (then a create is rightly
    // MaybeApplied).
    // It sleeps until an operation is about to start (`armed`), so it never spins.
    let closes = Arc::new(AtomicUsize::new(0));
    let armed = Arc::new(tokio::sync::Notify::new());
    let (expected, woken) = (Arc::clone(&closes), Arc::clone(&armed));
    let counts = seen.clone();
    let holder = tokio::spawn(async move {
        loop {
            woken.notified().await;
            let target = expected.load(Ordering::SeqCst);
            block_until(|| counts.closed_upstream() >= target);
        }
    });
    for kind in [OperationKind::Write, OperationKind::Read] {
        // A runtime of its own per kind: the first failure marks the endpoint for both.
        let runtime = quiet_runtime();
        let mut events = runtime.events();
        let driver = driver(&runtime, &emulator).await;
        assert_eq!(driver.route(kind).as_str(), closing.url());
        let items = driver.container("db", "items");
        // The container's definition and routing map, read once per runtime before its
        // first item operation, are read here, away from the closing region: what
        // follows counts the item operation's own attempts.
        let _ = items
            .clone()
            .excluding(["Nowhere"])
            .read_item::<Value>("p", "warm-up")
            .await;
        let (accepted, refreshes) = (seen.accepted(), emulator.counters().account_reads());
        // Set just before the operation connects (no await in between); the holder runs
        // at the operation's first await, its connect.
        closes.store(accepted + 1, Ordering::SeqCst);
        armed.notify_one();
        let served = match kind {
            OperationKind::Write => items
                .create_item("p", &json!({"id": "a", "pk": "p"}))
                .await
                .map(|created| (created.endpoint, created.attempts)),
            _ => items
                .read_item::<Value>("p", "a")
                .await
                .map(|read| (read.endpoint, read.attempts)),
        };
        let (endpoint, attempts) = served.unwrap_or_else(|e| panic!("{kind:?}: {e:?}"));
        assert_eq!(
            endpoint.as_str(),
            west,
            "{kind:?} ends in the healthy region"
        );
        assert_eq!(
            attempts, 2,
            "{kind:?}: the closing region once, then West US"
        );
        assert_eq!(
            seen.accepted(),
            accepted + 1,
            "{kind:?}: tried the closing region once"
        );
        let marked = tokio::time::timeout(Duration::from_secs(30), async {
            loop {
                match events.recv().await {
                    Ok(RuntimeEvent::EndpointMarked { endpoint, .. }) => return endpoint,
                    Ok(_) | Err(RecvError::Lagged(_)) => {}
                    Err(error) => panic!("{error}"),
                }
            }
        })
        .await
        .expect("the closing endpoint is marked");
        assert_eq!(marked.as_str(), closing.url(), "{kind:?}");
        let signalled = crate::wait_for(Duration::from_secs(10), || async {
            emulator.counters().account_reads() > refreshes
        })
        .await;
        assert!(signalled, "{kind:?}: the failure signalled a refresh");
    }
    holder.abort();
    // The create was applied once (a second application would have been a 409).
    emulator.clear_faults();
    setup
        .container("db", "items")
        .read_item::<Value>("p", "a")
        .await
        .unwrap();
    emulator.shutdown().await;
}

/// The result of the next account refresh this driver starts or joins (waiting out the
/// rate limit; at most 10 tries).
async fn refresh(driver: &Driver) -> FlightResult {
    for _ in 0..10 {
        match driver.request_refresh().await {
            RefreshOutcome::Started(result) | RefreshOutcome::Joined(result) => return result,
            RefreshOutcome::Throttled { until } => {
                tokio::time::sleep_until(tokio::time::Instant::from_std(until)).await;
            }
            other => panic!("unexpected refresh outcome {other:?}"),
        }
    }
    panic!("no refresh started in 10 tries");
}

#[tokio::test]
async fn redirect_is_an_error_not_success() {
    let emulator = Emulator::builder().start().await.unwrap();
    let runtime = quiet_runtime();
    let driver = driver(&runtime, &emulator).await;
    driver.create_database("db").await.unwrap();
    driver.create_container("db", "items", "/pk").await.unwrap();
    let items = driver.container("db", "items");
    items
        .create_item("p", &json!({"id": "a", "pk": "p"}))
        .await
        .unwrap();

    let redirect = |status| FaultAction::Status {
        status,
        sub_status: Some(7),
        body: Some(json!({"id": "a", "pk": "p", "message": "moved"})),
        retry_after_ms: None,
    };
    for status in [301, 302, 307] {
        emulator
            .add_fault(FaultRule::on_class("items", redirect(status)).times(2))
            .unwrap();
        let read = items.read_item::<Value>("p", "a").await;
        let upsert = items.upsert_item("p", &json!({"id": "a", "pk": "p"})).await;
        for (what, error) in [
            ("read_item", read.map(|r| r.status).unwrap_err()),
            ("upsert_item", upsert.map(|r| r.status).unwrap_err()),
        ] {
            assert!(
                matches!(error, DriverError::UnexpectedStatus(_)),
                "{what} {status}: {error:?}"
            );
            assert_eq!(error.status(), Some(status));
            assert_eq!(error.sub_status(), Some(7));
            assert_eq!(error.failure().unwrap().attempts(), 1, "not retried");
            let text = error.to_string();
            assert!(text.contains("not followed"), "{what}: {text}");
        }
        emulator.clear_faults();
    }

    // A redirect carrying a valid account document: read_account refuses it, and so
    // does the runtime's own fetch (the topology stays as it was).
    let document = emulator.account_document();
    let generation = driver.snapshot().topology_generation();
    emulator
        .add_fault(FaultRule::on_class(
            "account",
            FaultAction::Body {
                status: 302,
                body: document,
            },
        ))
        .unwrap();
    let read = driver.read_account().await;
    assert!(
        matches!(read, Err(DriverError::UnexpectedStatus(_))),
        "{read:?}"
    );
    assert!(
        matches!(refresh(&driver).await, FlightResult::Failed(_)),
        "the runtime's fetch refuses the redirect too"
    );
    assert_eq!(driver.snapshot().topology_generation(), generation);
    emulator.clear_faults();
    assert!(driver.read_account().await.is_ok());
    emulator.shutdown().await;
}

/// An account document whose readable regions are `count` closed ports (connection
/// refused at once), writing in the emulator's own region.
fn many_unreachable_regions(emulator: &Emulator, count: usize) -> Value {
    // Held together so that every port is distinct, then closed.
    let listeners: Vec<_> = (0..count)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    let closed: Vec<u16> = listeners
        .iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect();
    drop(listeners);
    let mut document = emulator.account_document();
    document["readableLocations"] = closed
        .iter()
        .enumerate()
        .map(|(i, port)| {
            json!({"name": format!("Nowhere {i}"),
                   "databaseAccountEndpoint": format!("http://127.0.0.1:{port}/")})
        })
        .collect();
    document
}

#[tokio::test]
async fn retry_budget_is_bounded_with_many_regions() {
    let emulator = Emulator::builder()
        .regions(["West US"])
        .start()
        .await
        .unwrap();
    emulator
        .add_fault(FaultRule::on_class(
            "account",
            FaultAction::Body {
                status: 200,
                body: many_unreachable_regions(&emulator, MAX_LOCATIONS),
            },
        ))
        .unwrap();
    let runtime = quiet_runtime();
    let driver = driver(&runtime, &emulator).await;
    assert_eq!(driver.snapshot().read_locations().len(), MAX_LOCATIONS);

    let started = std::time::Instant::now();
    let error = driver
        .container("db", "items")
        .read_item::<Value>("p", "a")
        .await
        .unwrap_err();
    eprintln!(
        "{MAX_LOCATIONS} unreachable regions: gave up after {:?}",
        started.elapsed()
    );
    assert!(matches!(error, DriverError::Exhausted(_)), "{error:?}");
    let failure = error.failure().unwrap();
    let bound = u32::try_from(MAX_CROSS_REGION_RETRIES).unwrap() + 1;
    assert_eq!(
        failure.attempts(),
        bound,
        "{MAX_LOCATIONS} regions, still at most {bound} attempts"
    );
    assert_eq!(
        failure.metadata.regions_tried.len(),
        MAX_CROSS_REGION_RETRIES + 1
    );

    // Past the location cap the document is invalid: the runtime's refresh fails and
    // the last good topology stays (the parser's error is checked in location-store).
    emulator.clear_faults();
    emulator
        .add_fault(FaultRule::on_class(
            "account",
            FaultAction::Body {
                status: 200,
                body: many_unreachable_regions(&emulator, MAX_LOCATIONS * 30),
            },
        ))
        .unwrap();
    let generation = driver.snapshot().topology_generation();
    assert!(matches!(refresh(&driver).await, FlightResult::Failed(_)));
    assert_eq!(driver.snapshot().topology_generation(), generation);
    assert_eq!(driver.snapshot().read_locations().len(), MAX_LOCATIONS);
    emulator.shutdown().await;
}
