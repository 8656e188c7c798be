//! Point reads and upserts by the driver against the floor (the testkit's `BareClient`:
//! sign, send, read the body, parse it), for counting the client's instructions per
//! operation under callgrind — the measure of §10 of `benches/RESULTS.md` that does not move
//! with the machine's load.
//!
//! ```sh
//! cargo build --release -p meridian-benches --example point_instructions
//! for op in read upsert; do for client in floor meridian; do
//!   valgrind --tool=callgrind --collect-atstart=no --toggle-collect='*measured_ops*' \
//!     --callgrind-out-file=target/callgrind.$op.$client \
//!     target/release/examples/point_instructions $client $op   # [callers], 1 by default
//! done; done
//! callgrind_annotate target/callgrind.read.meridian | head -30
//! ```
//!
//! The emulator runs on a thread of its own; the client on a current-thread runtime on the
//! main thread, so everything the client does for an operation (hyper's connection task
//! too) runs inside `measured_ops`, and only that is counted. Set-up (container, item,
//! warm-up) is not. Without valgrind it prints the wall time.

use std::time::{Duration, Instant};

use meridian_driver::{AccountConfig, Container, Driver, Runtime};
use meridian_emulator::Emulator;
use meridian_testkit::BareClient;
use serde::{Deserialize, Serialize};

const OPERATIONS: u64 = 1_000;

#[derive(Debug, Serialize, Deserialize)]
struct Order {
    id: String,
    pk: String,
    total: u64,
}

#[inline(never)]
fn measured_ops(
    rt: &tokio::runtime::Runtime,
    floor: bool,
    upsert: bool,
    callers: u64,
    bare: &BareClient,
    c: &Container,
) {
    rt.block_on(async {
        // `callers` operations in flight at once, OPERATIONS in all.
        let each = (0..callers).map(|_| async {
            for _ in 0..OPERATIONS / callers {
                one(floor, upsert, bare, c).await;
            }
        });
        futures_util::future::join_all(each).await;
    });
}

async fn one(floor: bool, upsert: bool, bare: &BareClient, c: &Container) {
    let sent = Order {
        id: "o1".into(),
        pk: "p".into(),
        total: 42,
    };
    let order: Order = match (floor, upsert) {
        (true, false) => bare.read("p", "o1").await,
        (true, true) => bare.upsert("p", &sent).await,
        (false, false) => c.read_item("p", "o1").await.expect("the item").item,
        (false, true) => c.upsert_item("p", &sent).await.expect("the upsert").item,
    };
    assert_eq!(order.total, 42);
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (floor, upsert) = match args.iter().map(String::as_str).take(2).collect::<Vec<_>>()[..] {
        ["floor", "read"] => (true, false),
        ["floor", "upsert"] => (true, true),
        ["meridian", "read"] => (false, false),
        ["meridian", "upsert"] => (false, true),
        _ => {
            eprintln!("usage: point_instructions floor|meridian read|upsert [callers]");
            std::process::exit(2);
        }
    };
    // Callers at once (one by default): with many, what concurrency adds on one thread.
    let callers: u64 = args
        .get(2)
        .and_then(|n| n.parse().ok())
        .filter(|n| (1..=OPERATIONS).contains(n))
        .unwrap_or(1);
    let (tx, rx) = std::sync::mpsc::channel();
    let server = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("the emulator's runtime");
        rt.block_on(async {
            let emulator = Emulator::builder()
                .regions(["West US", "East US"])
                .start()
                .await
                .expect("the emulator starts");
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            let region = emulator.regions()[0].endpoint.clone();
            let key = emulator.key().to_string();
            let _ = tx.send((emulator.global_endpoint(), region, key, stop));
            let _ = stopped.await;
            emulator.shutdown().await;
        });
    });
    let (endpoint, region, key, stop) = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the emulator started");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("the client's runtime");
    let (runtime, container) = rt.block_on(async {
        let runtime = Runtime::builder().build().expect("a runtime");
        let driver = Driver::builder(&runtime, AccountConfig::new(&endpoint, &key))
            .preferred_regions(["West US"])
            .build()
            .await
            .expect("a driver");
        driver.create_database("db").await.expect("the database");
        driver
            .create_container("db", "c", "/pk")
            .await
            .expect("the container");
        let container = driver.container("db", "c");
        let order = Order {
            id: "o1".into(),
            pk: "p".into(),
            total: 42,
        };
        container.upsert_item("p", &order).await.expect("the item");
        (runtime, container)
    });
    let bare = BareClient::for_endpoint(&region, &key, "db", "c");
    // Warm-up, not counted: connections open, the session token known.
    rt.block_on(async {
        for _ in 0..20 {
            one(floor, upsert, &bare, &container).await;
        }
    });
    let started = Instant::now();
    measured_ops(&rt, floor, upsert, callers, &bare, &container);
    println!(
        "{OPERATIONS} operations ({args:?}): {:?}",
        started.elapsed()
    );
    rt.block_on(runtime.shutdown());
    let _ = stop.send(());
    let _ = server.join();
}
