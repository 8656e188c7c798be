//! 1,000 drivers of one account on one runtime, each doing a read: how many sockets they
//! hold to the emulator and how much resident memory each extra driver costs — shared
//! (the default) against one pool per driver (the behaviour before issue 12, reproduced
//! by giving every driver different transport settings, so none share).
//!
//! ```sh
//! cargo run --release -p meridian-driver --example many_drivers [-- DRIVERS] [current-thread] [sequential]
//! ```
//!
//! Linux only (/proc). Each mode runs in a fresh runtime and emulator within this
//! process: one driver reads, then RSS is taken; DRIVERS − 1 more are built (RSS taken:
//! "built") and all read at once (or one after another with `sequential`), then sockets
//! and RSS are taken again. Sockets are this process's established TCP connections whose
//! remote port is one of the emulator's. Per extra driver = (RSS after − RSS after the
//! first) ÷ (DRIVERS − 1). tokio runs multi-threaded with 2 workers, or on one thread
//! with `current-thread`. Goals (issue 12): ≤ 64 sockets and ≤ 4 KiB per extra driver,
//! shared.

use std::time::Duration;

use futures_util::future::join_all;
use meridian_driver::{AccountConfig, Driver};
use meridian_emulator::Emulator;
use meridian_runtime::Runtime;

#[path = "../tests/common/sockets.rs"]
mod sockets;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let drivers = args
        .iter()
        .find_map(|a| a.parse().ok())
        .unwrap_or(1_000usize)
        .max(2);
    let sequential = args.iter().any(|a| a == "sequential");
    let runtime = if args.iter().any(|a| a == "current-thread") {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
    };
    let outcome = match runtime {
        Ok(runtime) => runtime.block_on(run(drivers, sequential)),
        Err(error) => Err(error.into()),
    };
    match outcome {
        Ok(true) => {}
        Ok(false) => std::process::exit(1),
        Err(error) => {
            eprintln!("many_drivers: {error}");
            std::process::exit(2);
        }
    }
}

struct Measured {
    sockets: usize,
    built_kib: f64,
    per_driver_kib: f64,
    total_kib: u64,
}

async fn run(drivers: usize, sequential: bool) -> Result<bool> {
    // Shared first, so the unshared run cannot leave a bigger heap behind for it.
    let shared = measure(drivers, true, sequential).await?;
    let unshared = measure(drivers, false, sequential).await?;
    let reads = if sequential {
        "one after another"
    } else {
        "all at once"
    };
    println!("{drivers} drivers of one account on one runtime, each doing one read ({reads}):");
    println!(
        "| mode | sockets to the emulator | RSS per extra driver, built | RSS per extra driver, after the reads | RSS growth |"
    );
    println!("|---|---|---|---|---|");
    for (name, m) in [("shared pool", &shared), ("pool per driver", &unshared)] {
        println!(
            "| {name} | {} | {:.1} KiB | {:.1} KiB | {} KiB |",
            m.sockets, m.built_kib, m.per_driver_kib, m.total_kib
        );
    }
    let met = shared.sockets <= 64 && shared.per_driver_kib <= 4.0;
    println!(
        "goals (≤ 64 sockets, ≤ 4 KiB per extra driver): {}",
        if met { "met" } else { "MISSED" }
    );
    Ok(met)
}

async fn measure(drivers: usize, shared: bool, sequential: bool) -> Result<Measured> {
    let emulator = Emulator::builder().start().await?;
    let ports: Vec<u16> = std::iter::once(emulator.global_endpoint())
        .chain(emulator.regions().into_iter().map(|r| r.endpoint))
        .filter_map(|url| sockets::port_of(&url))
        .collect();
    let runtime = Runtime::builder()
        .refresh_interval(Duration::from_secs(600))
        .build()?;
    let config = AccountConfig::new(emulator.global_endpoint(), emulator.key());
    let build = |i: usize| {
        let builder = Driver::builder(&runtime, config.clone());
        // Distinct settings: no two drivers share a pool.
        let builder = if shared {
            builder
        } else {
            builder.max_connections(1_000 + i)
        };
        builder.build()
    };
    let mut all = vec![build(0).await?];
    all[0].read_account().await?;
    let before = sockets::resident_kib().ok_or("no /proc/self/status")?;
    for i in 1..drivers {
        all.push(build(i).await?);
    }
    let built = sockets::resident_kib().ok_or("no /proc/self/status")?;
    if sequential {
        for driver in &all {
            driver.read_account().await?;
        }
    }
    // Each read's document is dropped as it completes: what is measured is the drivers,
    // not a thousand account documents held by the harness.
    let reads = all
        .iter()
        .map(|driver| async move { driver.read_account().await.map(|_| ()) });
    if !sequential {
        for result in join_all(reads).await {
            result?;
        }
    }
    let after = sockets::resident_kib().ok_or("no /proc/self/status")?;
    let sockets = sockets::client_connections_to(&ports).ok_or("no /proc/self/net/tcp")?;
    let growth = after.saturating_sub(before);
    drop(all);
    runtime.shutdown().await;
    emulator.shutdown().await;
    let per_extra = |kib: u64| kib as f64 / (drivers - 1) as f64;
    Ok(Measured {
        sockets,
        built_kib: per_extra(built.saturating_sub(before)),
        per_driver_kib: per_extra(growth),
        total_kib: growth,
    })
}
