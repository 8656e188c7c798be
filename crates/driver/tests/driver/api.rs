//! The application-facing API: per-operation options (deadline, excluded regions),
//! response metadata, cancellation and error chains.

use std::error::Error;
use std::time::Duration;

use meridian_driver::{
    AccountConfig, Container, Driver, DriverError, ItemOptions, ReadOptions, RegionName, Runtime,
    Status,
};
use meridian_emulator::{Emulator, FaultAction, FaultRule};
use serde_json::Value;

use crate::order::Order;
use crate::{quiet_runtime, wait_for};

/// Order `id` of `total`, in partition `p`.
fn order(id: &str, total: u32) -> Order {
    Order::new(id, "p", total)
}

/// Three regions (West US writes), a driver preferring East US with a long request
/// timeout (so only the operation's own deadline can end a hung request), one container.
async fn setup(runtime: &Runtime) -> (Emulator, Driver, Container) {
    let emulator = Emulator::builder()
        .regions(["West US", "East US", "North Europe"])
        .start()
        .await
        .unwrap();
    let driver = meridian_testkit::driver_builder(runtime, &emulator)
        .preferred_regions(["East US"])
        .request_timeout(Duration::from_secs(120))
        .max_connections(1)
        .build()
        .await
        .unwrap();
    let db = driver.database("db");
    driver.create_database("db").await.unwrap();
    db.create_container("c", "/pk").await.unwrap();
    (emulator, driver, db.container("c"))
}

fn requests(emulator: &Emulator, listener: &str, method: &str) -> u64 {
    emulator
        .counters()
        .listeners
        .get(listener)
        .and_then(|l| l.by_class.get("items"))
        .and_then(|c| c.get(method))
        .copied()
        .unwrap_or(0)
}

#[tokio::test]
async fn operation_deadline_bounds_total_time() {
    let runtime = quiet_runtime();
    let (emulator, _driver, items) = setup(&runtime).await;
    items.create_item("p", &order("a", 1)).await.unwrap();
    // Hedging off: one request, whose answer never comes (a hedge would be a second).
    let deadline = ReadOptions::default()
        .timeout(Duration::from_millis(300))
        .availability_strategy(meridian_driver::AvailabilityStrategy::disabled());

    // A request that never gets an answer: the request timeout (120 s) would end it
    // much later than this guard; only the operation's deadline can.
    emulator
        .add_fault(FaultRule::on_class("items", FaultAction::Hang))
        .unwrap();
    let hung = tokio::time::timeout(
        Duration::from_secs(60),
        items.read_item_with::<Order>("p", "a", &deadline),
    )
    .await
    .expect("the deadline ends the operation, not the request timeout");
    let error = hung.unwrap_err();
    assert!(error.is_timeout(), "{error}");
    let DriverError::DeadlineExceeded { timeout, failure } = &error else {
        panic!("{error:?}");
    };
    assert_eq!(*timeout, Duration::from_millis(300));
    assert_eq!((failure.status, failure.attempts()), (None, 1));
    emulator.clear_faults();

    // A retry wait that would end past the deadline is not waited out: a 429 asking
    // for 20 s (within the throttle budget) ends the operation at once.
    let throttle = FaultAction::Status {
        status: 429,
        sub_status: None,
        body: None,
        retry_after_ms: Some(20_000),
    };
    emulator
        .add_fault(FaultRule::on_class("items", throttle))
        .unwrap();
    let throttled = tokio::time::timeout(
        Duration::from_secs(15),
        items.read_item_with::<Order>("p", "a", &deadline),
    )
    .await
    .expect("no retry wait runs past the deadline");
    let failure = match throttled.unwrap_err() {
        DriverError::DeadlineExceeded { failure, .. } => failure,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        (failure.status, failure.attempts()),
        (Some(Status::TOO_MANY_REQUESTS), 1)
    );
    emulator.clear_faults();

    // Without trouble, the deadline changes nothing.
    let read = items.read_item_with::<Order>("p", "a", &deadline).await;
    assert_eq!(read.unwrap().item, order("a", 1));
}

#[tokio::test]
async fn operation_deadline_covers_the_wait_for_a_connection() {
    let runtime = quiet_runtime();
    let (emulator, _driver, items) = setup(&runtime).await;
    items.create_item("p", &order("a", 1)).await.unwrap();
    emulator
        .add_fault(FaultRule::on_class("items", FaultAction::Hang))
        .unwrap();
    // The pool's one connection is taken by a read that never gets an answer.
    let before = requests(&emulator, "East US", "GET");
    let hung_items = items.clone();
    let hung = tokio::spawn(async move { hung_items.read_item::<Order>("p", "a").await });
    assert!(
        wait_for(Duration::from_secs(30), || async {
            requests(&emulator, "East US", "GET") > before
        })
        .await,
        "the first read reached the emulator"
    );

    // The next one waits for a free connection; its deadline ends that wait.
    let deadline = ReadOptions::default().timeout(Duration::from_millis(300));
    let queued = tokio::time::timeout(
        Duration::from_secs(60),
        items.read_item_with::<Order>("p", "a", &deadline),
    )
    .await
    .expect("the deadline ends the wait for a connection");
    let DriverError::DeadlineExceeded { timeout, failure } = queued.unwrap_err() else {
        panic!("a deadline error");
    };
    assert_eq!(timeout, Duration::from_millis(300));
    assert_eq!(
        (failure.status, failure.attempts()),
        (None, 0),
        "nothing was sent"
    );
    hung.abort();
    emulator.clear_faults();
}

#[tokio::test]
async fn excluded_regions_skip_a_region() {
    let runtime = quiet_runtime();
    let (emulator, _driver, items) = setup(&runtime).await;
    items.create_item("p", &order("a", 1)).await.unwrap();
    let east = RegionName::new("East US");

    let preferred = items.read_item::<Order>("p", "a").await.unwrap();
    assert_eq!(preferred.region(), Some(&east), "East US is preferred");

    let before = requests(&emulator, "East US", "GET");
    let options = ReadOptions::default().excluded_regions(["East US"]);
    let read = items
        .read_item_with::<Order>("p", "a", &options)
        .await
        .unwrap();
    assert_eq!(read.item, order("a", 1));
    assert_eq!(read.attempts, 1);
    let served = read.region().cloned().unwrap();
    assert_ne!(served, east);
    assert_eq!(read.metadata.regions_tried, vec![served]);
    assert_eq!(
        requests(&emulator, "East US", "GET"),
        before,
        "never sent there"
    );

    // Writes take the option too: excluding the write region leaves the account
    // endpoint, which forwards to it.
    let write = ItemOptions::default().excluded_regions(["North Europe"]);
    let upserted = items
        .upsert_item_with("p", &order("a", 2), &write)
        .await
        .unwrap();
    assert_eq!(upserted.region(), Some(&RegionName::new("West US")));
}

#[tokio::test]
async fn response_metadata_is_populated() {
    let runtime = quiet_runtime();
    let (_emulator, driver, items) = setup(&runtime).await;
    let west = RegionName::new("West US");

    let created = items.create_item("p", &order("a", 1)).await.unwrap();
    let meta = &created.metadata;
    assert_eq!(created.status, 201);
    assert!(meta.request_charge > 0.0, "{meta:?}");
    assert!(meta.activity_id.as_deref().is_some_and(|id| !id.is_empty()));
    assert_eq!(meta.session_token, driver.session_token("db", "c"));
    assert!(meta.session_token.is_some());
    assert_eq!(meta.etag, created.etag);
    assert!(meta.etag.is_some());
    assert_eq!(meta.region.as_ref(), Some(&west));
    assert_eq!(meta.regions_tried, vec![west.clone()]);
    assert_eq!(meta.attempts, 1);

    // `prefer: return=minimal`: no body; the item is the one sent, the etag the header's.
    let minimal = ItemOptions::default().content_response(false);
    let upserted = items
        .upsert_item_with("p", &order("b", 2), &minimal)
        .await
        .unwrap();
    assert_eq!(upserted.item, order("b", 2));
    assert!(upserted.etag.is_some());

    // If-Match with a stale etag: a typed 412 whose failure has the same metadata.
    let stale = ItemOptions::default().if_match(created.etag.clone().unwrap());
    items.upsert_item("p", &order("a", 3)).await.unwrap();
    let error = items
        .replace_item_with("p", "a", &order("a", 4), &stale)
        .await
        .unwrap_err();
    assert!(error.is_precondition_failed(), "{error}");
    assert_eq!(error.typed_status(), Some(Status::PRECONDITION_FAILED));
    let failure = error.failure().unwrap();
    assert_eq!(failure.metadata.region.as_ref(), Some(&west));
    assert_eq!(failure.metadata.attempts, 1);
    assert!(failure.metadata.activity_id.is_some());

    let missing = items.read_item::<Order>("p", "nope").await.unwrap_err();
    assert_eq!(missing.typed_status(), Some(Status::NOT_FOUND));
    assert_eq!(
        missing.failure().unwrap().metadata.region.as_ref(),
        Some(&RegionName::new("East US"))
    );
}

/// Handles an application stores in its own structs and moves into tasks.
fn owned<T: Clone + Send + Sync + 'static>() {}

#[tokio::test]
async fn dropped_operation_leaves_no_task() {
    owned::<Driver>();
    owned::<meridian_driver::Database>();
    owned::<Container>();
    let runtime = quiet_runtime();
    let (emulator, driver, items) = setup(&runtime).await;
    items.create_item("p", &order("a", 1)).await.unwrap();
    let token = driver.session_token("db", "c");
    let monitor = runtime.task_monitor();
    let tasks = monitor.live_tasks();

    // One read hangs in flight on the driver's only connection slot; it is dropped.
    emulator
        .add_fault(FaultRule::on_class("items", FaultAction::Hang).times(1))
        .unwrap();
    // Boxed, so that `drop` drops the future itself (a stack-pinned one lives on).
    let mut read = Box::pin(items.read_item::<Order>("p", "a"));
    let in_flight = tokio::select! {
        _ = &mut read => false,
        arrived = wait_for(Duration::from_secs(30), || async {
            emulator.faults().first().is_some_and(|f| f.hits == 1)
        }) => arrived,
    };
    assert!(in_flight, "the read reached the server and hangs there");
    drop(read);

    // Nothing is left behind: no task, the connection slot is free (max_connections
    // is 1), the session token is unchanged and later operations work.
    assert_eq!(monitor.live_tasks(), tasks);
    let after = tokio::time::timeout(Duration::from_secs(30), items.read_item::<Order>("p", "a"))
        .await
        .expect("the dropped read released its connection slot");
    assert_eq!(after.unwrap().item, order("a", 1));
    assert_eq!(driver.session_token("db", "c"), token);
    let moved = items.clone();
    let written = tokio::spawn(async move { moved.upsert_item("p", &order("a", 2)).await })
        .await
        .unwrap();
    assert_eq!(written.unwrap().item.total, 2);
}

/// Every level of the chain prints something of its own, and no level repeats its
/// cause's message.
fn assert_printed_once(error: &(dyn Error + 'static)) -> usize {
    let mut levels = 0;
    let mut current = Some(error);
    while let Some(level) = current {
        let text = level.to_string();
        assert!(!text.is_empty());
        if let Some(source) = level.source() {
            let cause = source.to_string();
            assert!(
                !text.contains(&cause),
                "`{text}` repeats its source `{cause}`"
            );
        }
        levels += 1;
        current = level.source();
    }
    levels
}

#[tokio::test]
async fn error_sources_are_not_printed_twice() {
    let runtime = quiet_runtime();
    // Configuration: which setting, then why, then the parser's reason.
    let config = Driver::builder(&runtime, AccountConfig::new("not a url", "a2V5"))
        .build()
        .await
        .unwrap_err();
    assert!(matches!(config, DriverError::Config(ref c) if c.setting == "account endpoint"));
    assert!(assert_printed_once(&config) >= 3, "{config:?}");
    let zero = Driver::builder(&runtime, AccountConfig::new("http://127.0.0.1:1/", "a2V5"))
        .max_connections(0)
        .build()
        .await
        .unwrap_err();
    assert_eq!(assert_printed_once(&zero), 3);

    let (emulator, driver, items) = setup(&runtime).await;
    items.create_item("p", &order("a", 1)).await.unwrap();
    // A body of the wrong shape: serialization, then serde's message.
    let shape = items.read_item::<Vec<u32>>("p", "a").await.unwrap_err();
    assert!(matches!(shape, DriverError::Deserialize(_)));
    assert_eq!(assert_printed_once(&shape), 2);
    // A status: one level, the failure is its own.
    let missing = items.read_item::<Value>("p", "nope").await.unwrap_err();
    assert_eq!(assert_printed_once(&missing), 1);
    // A rejected account document: the driver's level, the document's, serde's.
    emulator
        .add_fault(FaultRule::on_class("account", FaultAction::MalformedJson).times(1))
        .unwrap();
    let account = driver.read_account().await.unwrap_err();
    assert!(
        matches!(account, DriverError::InvalidAccount(_)),
        "{account:?}"
    );
    assert_eq!(assert_printed_once(&account), 3);
    // A deadline.
    emulator
        .add_fault(FaultRule::on_class("items", FaultAction::Hang).times(1))
        .unwrap();
    let options = ReadOptions::default().timeout(Duration::from_millis(100));
    let late = items.read_item_with::<Value>("p", "a", &options).await;
    assert_eq!(assert_printed_once(&late.unwrap_err()), 1);
    // The runtime's configuration errors too.
    let build = Runtime::builder()
        .refresh_interval(Duration::ZERO)
        .build()
        .unwrap_err();
    assert_printed_once(&build);
}

/// A `MakeWriter` into a shared buffer.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Self;
    fn make_writer(&'a self) -> Self {
        self.clone()
    }
}

#[tokio::test]
async fn operations_run_in_a_span_with_their_fields() {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(captured.clone())
        .with_max_level(tracing::Level::DEBUG)
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
        .with_ansi(false)
        .finish();
    // This test's runtime runs on this thread: the span's events land here.
    let _guard = tracing::subscriber::set_default(subscriber);
    let runtime = quiet_runtime();
    let (_emulator, _driver, items) = setup(&runtime).await;
    items.create_item("p", &order("a", 1)).await.unwrap();
    let read = items.read_item::<Order>("p", "a").await.unwrap();
    let activity = read.metadata.activity_id.clone().unwrap();
    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let line = log
        .lines()
        .find(|l| l.contains("meridian.operation") && l.contains(&activity) && l.contains("close"))
        .unwrap_or_else(|| panic!("no span with the read's activity id in:\n{log}"));
    for field in [
        "container=\"dbs/db/colls/c\"",
        "kind=Read",
        "attempt=1",
        "region=\"East US\"",
        "status=200",
    ] {
        assert!(line.contains(field), "{field} missing from {line}");
    }
}
