//! Measurement 5, region outage for reads: one client reading back to back, preferring
//! West US (the write region is East US). `/_emulator/regions/West US/down`: the time from
//! that call's return to the end of the first successful read started after it (West US
//! refuses connections, so it was served elsewhere). Then `/up`: the time until the West
//! US listener counts a read again (its counters polled every 10 ms).

use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use crate::clients::{Fleet, Kind};
use crate::emulator::{EmulatorProcess, count};
use crate::report::Row;

/// The longest reads may take to move away from the down region.
const OUTAGE_DEADLINE: Duration = Duration::from_secs(30);
/// The longest reads may take to come back to the preferred region.
const FAILBACK_DEADLINE: Duration = Duration::from_secs(90);
/// The region taken down (`%20`: it goes in a path).
const PREFERRED: &str = "West US";

/// One emulator process per client kind.
pub async fn run(binary: &str) -> Result<Vec<Row>, String> {
    let mut rows = Vec::new();
    for kind in [Kind::Sdk, Kind::Meridian] {
        let (outage, failback, failed) = one(binary, kind).await?;
        eprintln!(
            "compare: outage {}: reads elsewhere after {outage:.1} ms ({failed} failed), back after {failback:.0} ms",
            kind.label()
        );
        let label = kind.label();
        rows.push(Row::new(
            "outage: reads succeed elsewhere",
            label,
            1,
            outage,
            "ms",
        ));
        rows.push(Row::new(
            "outage: failed reads",
            label,
            1,
            failed as f64,
            "reads",
        ));
        rows.push(Row::new(
            "failback: reads return to preferred",
            label,
            1,
            failback,
            "ms",
        ));
    }
    Ok(rows)
}

async fn one(binary: &str, kind: Kind) -> Result<(f64, f64, u64), String> {
    let emulator = EmulatorProcess::start(binary, &["East US", PREFERRED])?;
    crate::clients::seed(&emulator.account, 1).await?;
    let fleet = Fleet::build(kind, &emulator.account, 1).await?;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let client = fleet.clients[0].clone();
    let reader = tokio::spawn(async move {
        loop {
            let at = Instant::now();
            let ok = client.read("p", "i0").await.is_ok();
            if tx.send((at, Instant::now(), ok)).is_err() {
                break;
            }
        }
    });
    let result = async {
        // Reads are served by the preferred region before it goes down.
        tokio::time::sleep(Duration::from_secs(1)).await;
        let stats = emulator.stats().await?;
        if count(&stats, Some(PREFERRED), "items", "GET") == 0 {
            return Err(format!("{} did not read from {PREFERRED}", kind.label()));
        }
        let path = "/_emulator/regions/West%20US";
        emulator.admin(&format!("{path}/down"), "").await?;
        let down_at = Instant::now();
        let mut failed = 0u64;
        let outage = loop {
            let (started, ended, ok) = tokio::time::timeout(OUTAGE_DEADLINE, rx.recv())
                .await
                .map_err(|_| "no read answered during the outage".to_string())?
                .ok_or("the reader stopped")?;
            if ended < down_at {
                continue;
            }
            if !ok {
                failed += 1;
            } else if started >= down_at {
                break (ended - down_at).as_secs_f64() * 1e3;
            }
        };
        // Stay down a little, as an outage would, then come back.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let before = count(&emulator.stats().await?, Some(PREFERRED), "items", "GET");
        emulator.admin(&format!("{path}/up"), "").await?;
        let up_at = Instant::now();
        let failback = loop {
            while rx.try_recv().is_ok() {}
            let now = count(&emulator.stats().await?, Some(PREFERRED), "items", "GET");
            if now > before {
                break up_at.elapsed().as_secs_f64() * 1e3;
            }
            if up_at.elapsed() >= FAILBACK_DEADLINE {
                // Not back within the deadline: reported as the deadline, a lower bound.
                break FAILBACK_DEADLINE.as_secs_f64() * 1e3;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        Ok::<_, String>((outage, failback, failed))
    }
    .await;
    rx.close();
    reader.abort();
    let _ = reader.await;
    fleet.shutdown().await;
    result
}
