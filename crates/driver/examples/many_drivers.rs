//! 1,000 drivers of one account on one runtime, each doing a read: how many sockets they
//! hold to the emulator and how much resident memory each extra driver costs — shared
//! (the default) against one pool per driver (the behaviour before issue 12, reproduced
//! by giving every driver different transport settings, so none share).
//!
//! ```sh
//! cargo run --release -p meridian-driver --example many_drivers [-- DRIVERS] [current-thread] [sequential] [in-process]
//! ```
//!
//! Linux only (/proc). Each mode runs in a fresh runtime and a fresh emulator. The
//! emulator runs in a child process (this example started again as `serve-emulator`), so
//! the RSS measured is the application's: drivers, pool and operations, not the server's
//! side of the same connections; `in-process` runs it in this process instead, as the
//! first measurements did. One driver reads, then RSS is taken; DRIVERS − 1 more are built (RSS taken:
//! "built") and all read at once (or one after another with `sequential`), then sockets
//! and RSS are taken again. Sockets are this process's established TCP connections whose
//! remote port is one of the emulator's. Per extra driver = (RSS after − RSS after the
//! first) ÷ (DRIVERS − 1). tokio runs multi-threaded with 2 workers, or on one thread
//! with `current-thread`. Goals (issue 12): ≤ 64 sockets and ≤ 4 KiB per extra driver,
//! shared.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
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
    if args.iter().any(|a| a == "serve-emulator") {
        if let Err(error) = serve_emulator() {
            eprintln!("many_drivers serve-emulator: {error}");
            std::process::exit(2);
        }
        return;
    }
    let in_process = args.iter().any(|a| a == "in-process");
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
        Ok(runtime) => runtime.block_on(run(drivers, sequential, in_process)),
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
    /// The size of one `read_account` future: what a queued operation holds.
    future_bytes: usize,
}

async fn run(drivers: usize, sequential: bool, in_process: bool) -> Result<bool> {
    // Shared first, so the unshared run cannot leave a bigger heap behind for it.
    let shared = measure(drivers, true, sequential, in_process).await?;
    let unshared = measure(drivers, false, sequential, in_process).await?;
    let reads = if sequential {
        "one after another"
    } else {
        "all at once"
    };
    let server = if in_process {
        "in this process"
    } else {
        "in a child process"
    };
    println!(
        "{drivers} drivers of one account on one runtime, each doing one read ({reads}; emulator {server}):"
    );
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
    println!(
        "a queued read_account future holds {} bytes",
        shared.future_bytes
    );
    let met = shared.sockets <= 64 && shared.per_driver_kib <= 4.0;
    println!(
        "goals (≤ 64 sockets, ≤ 4 KiB per extra driver): {}",
        if met { "met" } else { "MISSED" }
    );
    Ok(met)
}

/// The emulator the drivers talk to, and what they need to know of it.
struct Server {
    global: String,
    key: String,
    ports: Vec<u16>,
    running: Running,
}

enum Running {
    InProcess(Emulator),
    /// Ends when its standard input closes.
    Child(Child),
}

impl Server {
    async fn start(in_process: bool) -> Result<Self> {
        if in_process {
            let emulator = Emulator::builder().start().await?;
            let ports = ports_of(
                std::iter::once(emulator.global_endpoint())
                    .chain(emulator.regions().into_iter().map(|r| r.endpoint)),
            );
            return Ok(Self {
                global: emulator.global_endpoint(),
                key: emulator.key().to_owned(),
                ports,
                running: Running::InProcess(emulator),
            });
        }
        let mut child = Command::new(std::env::current_exe()?)
            .arg("serve-emulator")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        // The child prints `global URL`, `key KEY`, `region URL`..., then `ready`.
        let (mut global, mut key, mut endpoints) = (None, None, Vec::new());
        for line in BufReader::new(stdout).lines() {
            let line = line?;
            match line.split_once(' ') {
                Some(("global", url)) => global = Some(url.to_owned()),
                Some(("key", k)) => key = Some(k.to_owned()),
                Some(("region", url)) => endpoints.push(url.to_owned()),
                _ if line == "ready" => break,
                _ => return Err(format!("unexpected line from the emulator: {line}").into()),
            }
        }
        let global = global.ok_or("the emulator did not say its endpoint")?;
        let ports = ports_of(std::iter::once(global.clone()).chain(endpoints));
        Ok(Self {
            global,
            key: key.ok_or("the emulator did not say its key")?,
            ports,
            running: Running::Child(child),
        })
    }

    async fn stop(self) -> Result<()> {
        match self.running {
            Running::InProcess(emulator) => emulator.shutdown().await,
            Running::Child(mut child) => {
                drop(child.stdin.take());
                child.wait()?;
            }
        }
        Ok(())
    }
}

fn ports_of(urls: impl Iterator<Item = String>) -> Vec<u16> {
    urls.filter_map(|url| sockets::port_of(&url)).collect()
}

/// The child's side: start an emulator, say where it is, serve until stdin closes.
fn serve_emulator() -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let emulator = Emulator::builder().start().await?;
        let mut out = std::io::stdout().lock();
        writeln!(out, "global {}", emulator.global_endpoint())?;
        writeln!(out, "key {}", emulator.key())?;
        for region in emulator.regions() {
            writeln!(out, "region {}", region.endpoint)?;
        }
        writeln!(out, "ready")?;
        out.flush()?;
        drop(out);
        // Serves until the parent closes our stdin (read on a blocking thread).
        tokio::task::spawn_blocking(|| std::io::stdin().lines().count()).await?;
        emulator.shutdown().await;
        Ok(())
    })
}

async fn measure(
    drivers: usize,
    shared: bool,
    sequential: bool,
    in_process: bool,
) -> Result<Measured> {
    let server = Server::start(in_process).await?;
    let runtime = Runtime::builder()
        .refresh_interval(Duration::from_secs(600))
        .build()?;
    let config = AccountConfig::new(server.global.as_str(), server.key.as_str());
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
    let future_bytes = std::mem::size_of_val(&all[0].read_account());
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
    let sockets = sockets::client_connections_to(&server.ports).ok_or("no /proc/self/net/tcp")?;
    let growth = after.saturating_sub(before);
    drop(all);
    runtime.shutdown().await;
    server.stop().await?;
    let per_extra = |kib: u64| kib as f64 / (drivers - 1) as f64;
    Ok(Measured {
        sockets,
        built_kib: per_extra(built.saturating_sub(before)),
        per_driver_kib: per_extra(growth),
        total_kib: growth,
        future_bytes,
    })
}
