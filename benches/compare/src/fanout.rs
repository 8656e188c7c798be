//! Measurement 1, refresh fan-out: N clients of one account, one read each, then the
//! account reads (`GET /`, every listener) the emulator counts over 10 s.

use std::time::Duration;

use crate::clients::{Fleet, Kind};
use crate::emulator::{EmulatorProcess, count};
use crate::report::Row;

/// The client counts.
pub const NS: [usize; 4] = [1, 10, 50, 1_000];
/// How long `GET /` is counted.
const WINDOW: Duration = Duration::from_secs(10);

/// One emulator process per (N, client).
pub async fn run(binary: &str) -> Result<Vec<Row>, String> {
    let mut rows = Vec::new();
    for n in NS {
        for kind in [Kind::Sdk, Kind::SdkSharedRuntime, Kind::Meridian] {
            let rate = one(binary, kind, n).await?;
            eprintln!(
                "compare: fanout {} n={n}: {rate:.1} GET / per s",
                kind.label()
            );
            rows.push(Row::new(
                "fanout GET / per s",
                kind.label(),
                n as u64,
                rate,
                "GET/s",
            ));
        }
    }
    Ok(rows)
}

async fn one(binary: &str, kind: Kind, n: usize) -> Result<f64, String> {
    let emulator = EmulatorProcess::start(binary, &["West US", "East US"])?;
    crate::clients::seed(&emulator.account, 1).await?;
    let fleet = Fleet::build(kind, &emulator.account, n).await?;
    for client in &fleet.clients {
        client.read("p", "i0").await?;
    }
    emulator.admin("/_emulator/stats/reset", "").await?;
    tokio::time::sleep(WINDOW).await;
    let stats = emulator.stats().await?;
    fleet.shutdown().await;
    Ok(count(&stats, None, "account", "GET") as f64 / WINDOW.as_secs_f64())
}
