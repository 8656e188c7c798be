//! Drives an in-process Meridian emulator with the official Rust Cosmos DB SDK
//! (`azure_data_cosmos` 1.1.0-beta.1), used with its defaults, and prints a pass/fail
//! table: one row per scenario. Exits 1 if any scenario fails; never panics.
//!
//! Run it with `cargo xtask interop` (it builds with its own target dir, `interop/target`).

mod scenarios;
mod split;
mod wire;

use std::future::Future;
use std::pin::Pin;
use std::process::ExitCode;
use std::time::Duration;

use meridian_emulator::Emulator;

/// What one scenario observed.
#[derive(Debug)]
pub enum Outcome {
    /// It did what a user of the SDK expects.
    Pass(String),
    /// It did not; the detail says what happened instead.
    Fail(String),
    /// It cannot run with the SDK's default features; the detail says why.
    Skip(String),
}

/// A scenario's result, or the reason it did not get one.
pub type Step = Result<String, String>;

type ScenarioFuture<'a> = Pin<Box<dyn Future<Output = Outcome> + Send + 'a>>;

/// The longest one scenario may take (the SDK retries connection failures for a while).
const SCENARIO_DEADLINE: Duration = Duration::from_secs(90);

fn main() -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("interop: cannot start a tokio runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let rows = runtime.block_on(run());
    print_table(&rows);
    if rows
        .iter()
        .any(|(_, outcome)| matches!(outcome, Outcome::Fail(_)))
    {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

async fn run() -> Vec<(&'static str, Outcome)> {
    let emulator = match Emulator::builder()
        .regions(["West US", "East US"])
        .start()
        .await
    {
        Ok(emulator) => emulator,
        Err(e) => return vec![("emulator start", Outcome::Fail(e.to_string()))],
    };
    let mut world = scenarios::World::new(&emulator);
    let mut rows = Vec::new();
    for (name, scenario) in scenarios::ALL {
        let outcome = run_one(scenario(&mut world)).await;
        eprintln!("interop: {name}: {outcome:?}");
        rows.push((*name, outcome));
    }
    drop(world);
    emulator.shutdown().await;
    rows
}

/// Runs one scenario, so that a panic inside the SDK or a scenario becomes a failed row,
/// bounded by [`SCENARIO_DEADLINE`].
async fn run_one(scenario: ScenarioFuture<'_>) -> Outcome {
    let caught = futures_util::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(scenario));
    match tokio::time::timeout(SCENARIO_DEADLINE, caught).await {
        Ok(Ok(outcome)) => outcome,
        Ok(Err(_)) => Outcome::Fail("panicked".into()),
        Err(_) => Outcome::Fail(format!("no answer within {}s", SCENARIO_DEADLINE.as_secs())),
    }
}

fn print_table(rows: &[(&str, Outcome)]) {
    let width = rows.iter().map(|(name, _)| name.len()).max().unwrap_or(8);
    println!("\n| {:width$} | result | detail |", "scenario");
    println!("|{}|--------|--------|", "-".repeat(width + 2));
    for (name, outcome) in rows {
        let (result, detail) = match outcome {
            Outcome::Pass(d) => ("PASS", d),
            Outcome::Fail(d) => ("FAIL", d),
            Outcome::Skip(d) => ("SKIP", d),
        };
        let detail: String = detail
            .chars()
            .take(600)
            .collect::<String>()
            .replace('\n', " ");
        println!("| {name:width$} | {result:6} | {detail} |");
    }
    let count = |f: fn(&Outcome) -> bool| rows.iter().filter(|(_, o)| f(o)).count();
    println!(
        "\n{} passed, {} failed, {} skipped",
        count(|o| matches!(o, Outcome::Pass(_))),
        count(|o| matches!(o, Outcome::Fail(_))),
        count(|o| matches!(o, Outcome::Skip(_))),
    );
}
