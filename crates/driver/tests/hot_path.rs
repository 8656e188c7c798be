//! What one operation costs the client, counted in allocations on the client's thread
//! against the floor (`meridian_testkit::BareClient`: sign, send, read the body, parse it).
//! A test binary of its own: `allocation-counter` installs the global allocator and counts
//! per thread; the emulator runs on a thread of its own, whose allocations are not counted.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use meridian_driver::{AccountConfig, Container, Driver, Runtime};
use meridian_emulator::Emulator;
use meridian_testkit::BareClient;
use serde::{Deserialize, Serialize};

/// Allocations on this thread while `f` runs to completion on `rt` (a current-thread
/// runtime, so every task it polls — hyper's connection tasks too — runs here).
fn allocations<F: std::future::Future>(rt: &tokio::runtime::Runtime, f: F) -> u64 {
    allocation_counter::measure(|| {
        rt.block_on(f);
    })
    .count_total
}

#[derive(Debug, Serialize, Deserialize)]
struct Order {
    id: String,
    pk: String,
    total: u64,
}

const READS: u64 = 200;

/// An emulator on a thread of its own, a driver and the floor client on a current-thread
/// runtime of this thread, one item to read, and both clients warmed up.
struct Bench {
    rt: tokio::runtime::Runtime,
    runtime: Runtime,
    container: Container,
    bare: BareClient,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<std::thread::JoinHandle<()>>,
}

impl Bench {
    fn start() -> Self {
        let (tx, rx) = std::sync::mpsc::channel();
        let server = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let emulator = Emulator::builder()
                    .regions(["West US", "East US"])
                    .start()
                    .await
                    .unwrap();
                let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
                let region = emulator.regions()[0].endpoint.clone();
                let key = emulator.key().to_string();
                tx.send((emulator.global_endpoint(), region, key, stop))
                    .unwrap();
                let _ = stopped.await;
                emulator.shutdown().await;
            });
        });
        let (endpoint, region, key, stop) = rx.recv_timeout(Duration::from_secs(30)).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let (runtime, container) = rt.block_on(async {
            let runtime = Runtime::builder().build().unwrap();
            let driver = Driver::builder(&runtime, AccountConfig::new(&endpoint, &key))
                .preferred_regions(["West US"])
                .build()
                .await
                .unwrap();
            driver.create_database("db").await.unwrap();
            driver.create_container("db", "c", "/pk").await.unwrap();
            let container = driver.container("db", "c");
            let order = Order {
                id: "o1".into(),
                pk: "p".into(),
                total: 42,
            };
            container.upsert_item("p", &order).await.unwrap();
            (runtime, container)
        });
        let bench = Self {
            rt,
            runtime,
            container,
            bare: BareClient::for_endpoint(&region, &key, "db", "c"),
            stop: Some(stop),
            server: Some(server),
        };
        // Warm both: connections open, the session token known, caches filled.
        bench.floor_reads(20);
        bench.driver_reads(20);
        bench
    }

    /// Allocations per read of the floor client.
    fn floor_reads(&self, reads: u64) -> u64 {
        allocations(&self.rt, async {
            for _ in 0..reads {
                let order: Order = self.bare.read("p", "o1").await;
                assert_eq!(order.total, 42);
            }
        }) / reads
    }

    /// Allocations per read of the driver.
    fn driver_reads(&self, reads: u64) -> u64 {
        allocations(&self.rt, async {
            for _ in 0..reads {
                let read = self.container.read_item::<Order>("p", "o1").await.unwrap();
                assert_eq!(read.item.total, 42);
            }
        }) / reads
    }
}

impl Drop for Bench {
    fn drop(&mut self) {
        self.rt.block_on(self.runtime.shutdown());
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.join();
        }
    }
}

/// How many allocations a read may make beyond the floor's. The driver allocates what it
/// returns and keeps (the response metadata: activity id, session token, etag; the regions
/// tried) and what an operation needs (its target, its partition-key header, the session
/// token it sends), and saves about as many where the floor is careless (it formats the
/// date, the string to sign and the signature on the heap, and its pool's client adds
/// some per request): measured 38 against the floor's 54.
/// The slack of two is for allocations whose count depends on timing (a timer level, a
/// pool's list growing), not for waste.
const DRIVER_EXTRA: u64 = 2;

/// What a read allocates now (session 8), so one more per read fails the test, not only
/// one more than the floor.
const MEASURED: u64 = 38;

#[test]
fn a_read_on_the_happy_path_allocates_only_its_buffers() {
    let bench = Bench::start();
    let floor = bench.floor_reads(READS);
    let ours = bench.driver_reads(READS);
    eprintln!("allocations per read: floor {floor}, Meridian {ours}");
    assert!(floor > 0, "the counter counts");
    assert!(
        ours <= floor + DRIVER_EXTRA,
        "floor {floor}, Meridian {ours}: more than the driver's {DRIVER_EXTRA} extra"
    );
    assert!(
        ours <= MEASURED + DRIVER_EXTRA,
        "Meridian {ours}: more than the {MEASURED} (+{DRIVER_EXTRA}) measured"
    );
}

#[test]
fn spans_cost_nothing_when_their_level_is_off() {
    let bench = Bench::start();
    let floor = bench.floor_reads(READS);
    let untraced = bench.driver_reads(READS);
    // A subscriber that keeps INFO and above: the operation span (DEBUG) is off.
    let info = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_writer(std::io::sink)
        .finish();
    let off = tracing::subscriber::with_default(info, || bench.driver_reads(READS));
    // The same subscriber at DEBUG: the span is built, so the measure can see it.
    let debug = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_writer(std::io::sink)
        .finish();
    let on = tracing::subscriber::with_default(debug, || bench.driver_reads(READS));
    eprintln!("allocations per read: no subscriber {untraced}, span off {off}, span on {on}");
    assert_eq!(off, untraced, "a span whose level is off allocates nothing");
    // Nor does preparing its fields: the budget of a read has no room for a span.
    assert!(off <= floor + DRIVER_EXTRA, "floor {floor}, span off {off}");
    assert!(on > off, "the measure sees the span when it is on");
}

/// The most an item operation's future may hold. An operation in flight is this future
/// inside its caller's, plus the attempt loop's state, boxed once a pool slot is free: it
/// is the caller's memory per operation, and at many callers the cache lines each poll
/// touches (the attempt loop's state was 3.4 KiB, and these futures 1.4 KiB, before
/// issue 33).
const MAX_FUTURE_BYTES: usize = 1_152;

#[test]
fn an_item_operations_future_stays_small() {
    let bench = Bench::start();
    let container = &bench.container;
    let order = Order {
        id: "o1".into(),
        pk: "p".into(),
        total: 42,
    };
    // Made, measured and dropped unpolled: nothing is sent.
    let read = std::mem::size_of_val(&container.read_item::<Order>("p", "o1"));
    let upsert = std::mem::size_of_val(&container.upsert_item("p", &order));
    eprintln!("future bytes: read_item {read}, upsert_item {upsert}");
    assert!(
        read <= MAX_FUTURE_BYTES && upsert <= MAX_FUTURE_BYTES,
        "read_item {read}, upsert_item {upsert}: more than {MAX_FUTURE_BYTES}"
    );
}
