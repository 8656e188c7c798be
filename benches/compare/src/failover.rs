//! Measurement 4, failover: one client upserting back to back; the write region moves
//! (`/_emulator/failover`) 1 s, 3 s or 10 s after the client started. The latency is from
//! the moment the failover call returned to the end of the first successful write that
//! started after it (it can only have landed in the new write region); every write that
//! returned an error to the caller in the meantime is counted. Worst of 5 runs, one
//! emulator process per run.

use std::time::{Duration, Instant};

use serde_json::json;
use tokio::sync::mpsc;

use crate::clients::{Fleet, Kind};
use crate::emulator::EmulatorProcess;
use crate::report::Row;

/// Seconds after the client started.
const AFTER: [u64; 3] = [1, 3, 10];
/// Runs per offset.
const RUNS: usize = 5;
/// The longest a write may take to succeed after the failover.
const DEADLINE: Duration = Duration::from_secs(30);

/// What the writer saw of one write.
struct Write {
    started: Instant,
    ended: Instant,
    ok: bool,
}

/// Every offset, five runs each, per client kind.
pub async fn run(binary: &str) -> Result<Vec<Row>, String> {
    let mut rows = Vec::new();
    for kind in [Kind::Sdk, Kind::Meridian] {
        for after in AFTER {
            let (mut worst, mut failed, mut runs) = (0.0f64, 0u64, Vec::new());
            for _ in 0..RUNS {
                let (ms, errors) = one(binary, kind, Duration::from_secs(after)).await?;
                worst = worst.max(ms);
                failed += errors;
                runs.push(format!("{ms:.1}"));
            }
            eprintln!(
                "compare: failover {} after {after} s: worst {worst:.1} ms (runs {}), {failed} failed writes",
                kind.label(),
                runs.join(", ")
            );
            let label = kind.label();
            rows.push(Row::new(
                "failover first write, worst of 5",
                label,
                after,
                worst,
                "ms",
            ));
            rows.push(Row::new(
                "failover failed writes, 5 runs",
                label,
                after,
                failed as f64,
                "writes",
            ));
        }
    }
    Ok(rows)
}

async fn one(binary: &str, kind: Kind, after: Duration) -> Result<(f64, u64), String> {
    let emulator = EmulatorProcess::start(binary, &["West US", "East US"])?;
    crate::clients::seed(&emulator.account, 0).await?;
    let fleet = Fleet::build(kind, &emulator.account, 1).await?;
    let started = tokio::time::Instant::now();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let client = fleet.clients[0].clone();
    let writer = tokio::spawn(async move {
        for n in 0u64.. {
            let id = format!("w{}", n % 64);
            let item = json!({"id": id, "pk": "p", "n": n});
            let at = Instant::now();
            let ok = client.upsert("p", &id, &item).await.is_ok();
            let write = Write {
                started: at,
                ended: Instant::now(),
                ok,
            };
            if tx.send(write).is_err() {
                break;
            }
        }
    });
    tokio::time::sleep_until(started + after).await;
    let result = async {
        emulator
            .admin(
                "/_emulator/failover",
                &json!({"write_region": "East US"}).to_string(),
            )
            .await?;
        let moved_at = Instant::now();
        let mut failed = 0u64;
        loop {
            let write = tokio::time::timeout(DEADLINE, rx.recv())
                .await
                .map_err(|_| format!("no write within {} s of the failover", DEADLINE.as_secs()))?
                .ok_or("the writer stopped")?;
            if write.ended < moved_at {
                continue;
            }
            if !write.ok {
                failed += 1;
            } else if write.started >= moved_at {
                let ms = (write.ended - moved_at).as_secs_f64() * 1e3;
                return Ok::<_, String>((ms, failed));
            }
        }
    }
    .await;
    rx.close();
    writer.abort();
    let _ = writer.await;
    fleet.shutdown().await;
    result
}
