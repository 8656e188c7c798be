//! Head to head: the official Rust Cosmos DB SDK (`azure_data_cosmos` 1.1.0-beta.1, its
//! defaults) and Meridian, against the same `meridian-emulator` binary in the same run.
//! Nine measurements, one emulator process per measurement (per run where a run changes
//! the account): refresh fan-out, cost per client, point operations, failover, region
//! outage for reads, bulk insert, outage shapes, one failing partition, and cost per
//! client with partition state live. Prints a table and writes
//! `target/compare/summary.json`.
//!
//! Run it with `cargo xtask compare`, which builds the emulator in release mode, sets
//! `MERIDIAN_EMULATOR_BIN` and the SDK's 1 s refresh interval
//! (`AZURE_COSMOS_E2E_BACKGROUND_ACCOUNT_REFRESH_INTERVAL_MS=1000`), and builds this
//! workspace with its own target dir (`benches/compare/target`).

mod bulk;
mod clients;
mod cost;
mod emulator;
mod failover;
mod fanout;
mod outage;
mod partition;
mod point_ops;
mod process;
mod report;
mod shapes;

use std::process::ExitCode;

use report::Row;

/// Where the summary goes, relative to the working directory (the repository root).
const SUMMARY: &str = "target/compare/summary.json";
/// The measurements, in order; `cargo xtask compare -- fanout` runs one.
const MEASUREMENTS: [&str; 9] = [
    "fanout",
    "cost",
    "point-ops",
    "failover",
    "outage",
    "bulk",
    "shapes",
    "partition",
    "partition-cost",
];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("compare: cannot start a tokio runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let result = match args.first().map(String::as_str) {
        Some("cost-child") => runtime
            .block_on(cost::child_main(args.get(1).map_or("", String::as_str)))
            .map(|json| println!("{json}")),
        _ => runtime.block_on(run(&args)),
    };
    // Clients' background tasks end with the runtime, within a bound.
    runtime.shutdown_timeout(std::time::Duration::from_secs(5));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("compare: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: &[String]) -> Result<(), String> {
    let binary = std::env::var("MERIDIAN_EMULATOR_BIN")
        .map_err(|_| "MERIDIAN_EMULATOR_BIN is unset: run `cargo xtask compare`".to_string())?;
    match std::env::var(clients::SDK_REFRESH_ENV).as_deref() {
        Ok("1000") => {}
        _ => {
            return Err(format!(
                "{} must be 1000 (Meridian refreshes every 1 s): run `cargo xtask compare`",
                clients::SDK_REFRESH_ENV
            ));
        }
    }
    let chosen: Vec<&str> = if args.is_empty() {
        MEASUREMENTS.to_vec()
    } else {
        args.iter().map(String::as_str).collect()
    };
    let mut rows: Vec<Row> = Vec::new();
    for name in chosen {
        eprintln!("compare: == {name} ==");
        let measured = match name {
            "fanout" => fanout::run(&binary).await,
            "cost" => cost::run(&binary).await,
            "point-ops" => point_ops::run(&binary).await,
            "failover" => failover::run(&binary).await,
            "outage" => outage::run(&binary).await,
            "bulk" => bulk::run(&binary).await,
            "shapes" => shapes::run(&binary).await,
            "partition" => partition::run(&binary).await,
            "partition-cost" => cost::run_partition(&binary).await,
            other => Err(format!(
                "unknown measurement {other}; one of {MEASUREMENTS:?}"
            )),
        };
        rows.extend(measured.map_err(|e| format!("{name}: {e}"))?);
    }
    println!("\n{}", report::table(&rows));
    if let Some(dir) = std::path::Path::new(SUMMARY).parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    std::fs::write(SUMMARY, report::to_json(&rows)).map_err(|e| format!("{SUMMARY}: {e}"))?;
    eprintln!("compare: wrote {SUMMARY}");
    Ok(())
}
