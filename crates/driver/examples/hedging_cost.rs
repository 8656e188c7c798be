//! What hedging costs a healthy account, and what it buys a slow or hanging region.
//!
//! ```sh
//! cargo run --release -p meridian-driver --example hedging_cost
//! ```
//!
//! Healthy: one in-process emulator, one driver preferring East US, point reads with
//! hedging off and with the default strategy, alternated in rounds in the same run
//! (1 and 64 concurrent callers): reads per second, CPU time per read (the process's,
//! from `/proc/self/stat`: less sensitive than wall time to other load on the machine),
//! p50 / p99 / p99.9 / max latency, and how many reads hedged. Then East US answers reads 500 ms late (`slow`), and then never
//! (`blackhole`): the latency of 40 sequential reads, hedging on (default threshold).

use std::sync::Arc;
use std::time::Duration;

use meridian_driver::{AccountConfig, AvailabilityStrategy, Container, Driver, ReadOptions};
use meridian_emulator::{Emulator, Outage};
use meridian_runtime::Runtime;
use serde_json::{Value, json};
use tokio::time::Instant;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

const ROUNDS: usize = 10;
const READS_PER_ROUND: usize = 3_200;

#[tokio::main]
async fn main() {
    if let Err(error) = measure().await {
        eprintln!("hedging_cost: {error}");
        std::process::exit(2);
    }
}

struct Run {
    latencies: Vec<Duration>,
    elapsed: Duration,
    cpu: Duration,
    hedged: usize,
}

/// This process's user + system CPU time so far (Linux; zero elsewhere).
fn cpu_time() -> Duration {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return Duration::ZERO;
    };
    // Fields after the command's closing parenthesis; utime and stime are the 12th and
    // 13th of them, in clock ticks (100 per second on Linux).
    let rest = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<u64> = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|f| f.parse().ok())
        .collect();
    Duration::from_millis(fields.iter().sum::<u64>() * 10)
}

async fn reads(
    container: &Container,
    options: &ReadOptions,
    callers: usize,
    total: usize,
) -> Result<Run> {
    let options = Arc::new(options.clone());
    let started = Instant::now();
    let cpu = cpu_time();
    let mut tasks = Vec::new();
    for _ in 0..callers {
        let container = container.clone();
        let options = Arc::clone(&options);
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut hedged = 0;
            for _ in 0..total / callers {
                let at = Instant::now();
                let read = container
                    .read_item_with::<Value>("p", "a", &options)
                    .await?;
                latencies.push(at.elapsed());
                hedged += usize::from(read.metadata.hedged);
            }
            Ok::<_, meridian_driver::DriverError>((latencies, hedged))
        }));
    }
    let mut run = Run {
        latencies: Vec::new(),
        elapsed: Duration::ZERO,
        cpu: Duration::ZERO,
        hedged: 0,
    };
    for task in tasks {
        let (latencies, hedged) = task.await??;
        run.latencies.extend(latencies);
        run.hedged += hedged;
    }
    run.elapsed = started.elapsed();
    run.cpu = cpu_time().saturating_sub(cpu);
    Ok(run)
}

fn quantile(sorted: &[Duration], q: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn describe(latencies: &mut [Duration]) -> String {
    latencies.sort();
    format!(
        "p50 {:?} p99 {:?} p99.9 {:?} max {:?}",
        quantile(latencies, 0.5),
        quantile(latencies, 0.99),
        quantile(latencies, 0.999),
        latencies[latencies.len() - 1]
    )
}

async fn measure() -> Result<()> {
    let emulator = Emulator::builder().start().await?;
    let runtime = Runtime::builder().build()?;
    let driver = Driver::builder(
        &runtime,
        AccountConfig::new(emulator.global_endpoint(), emulator.key()),
    )
    .preferred_regions(["East US"])
    .build()
    .await?;
    driver.create_database("db").await?;
    driver.create_container("db", "c", "/pk").await?;
    let container = driver.container("db", "c");
    container
        .create_item("p", &json!({"id": "a", "pk": "p"}))
        .await?;

    let off = ReadOptions::default().availability_strategy(AvailabilityStrategy::disabled());
    let on = ReadOptions::default();
    for callers in [1, 64] {
        reads(&container, &off, callers, 256).await?;
        reads(&container, &on, callers, 256).await?;
        let (mut off_runs, mut on_runs) = (Vec::new(), Vec::new());
        for _ in 0..ROUNDS {
            off_runs.push(reads(&container, &off, callers, READS_PER_ROUND).await?);
            on_runs.push(reads(&container, &on, callers, READS_PER_ROUND).await?);
        }
        for (name, runs) in [("hedging off", &off_runs), ("default hedging", &on_runs)] {
            let total: usize = runs.iter().map(|r| r.latencies.len()).sum();
            let elapsed: Duration = runs.iter().map(|r| r.elapsed).sum();
            let hedged: usize = runs.iter().map(|r| r.hedged).sum();
            let cpu: Duration = runs.iter().map(|r| r.cpu).sum();
            let mut latencies: Vec<Duration> =
                runs.iter().flat_map(|r| r.latencies.clone()).collect();
            println!(
                "healthy, {callers:>2} callers, {name:<15}: {:>8.0} reads/s, {:>5.1} µs CPU/read, {}, {hedged} of {total} hedged",
                total as f64 / elapsed.as_secs_f64(),
                cpu.as_secs_f64() * 1e6 / total as f64,
                describe(&mut latencies)
            );
        }
    }

    for (name, outage) in [
        (
            "slow +500 ms",
            Outage::slow(Duration::from_millis(500)).reads(),
        ),
        ("blackhole", Outage::blackhole().reads()),
    ] {
        emulator.set_outage("East US", outage)?;
        let run = reads(&container, &on, 1, 40).await?;
        let mut latencies = run.latencies;
        println!(
            "East US {name:<12}, 40 sequential reads, default hedging: {}, {} hedged",
            describe(&mut latencies),
            run.hedged
        );
        emulator.region_up("East US")?;
    }
    Ok(())
}
