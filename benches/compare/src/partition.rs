//! Measurement 8, one failing partition: the container is split into two partition key
//! ranges; one of them fails in West US (the preferred and write region) with one of the
//! emulator's shapes — `unavailable` (503/21008), `write_forbidden` (403/3 on writes),
//! `timeout` (no answer until healed) — while the other range, and the range in East US,
//! keep serving. One client runs four loops at once: reads and upserts of a key in the
//! failing range, reads and upserts of a key in the healthy one. For each loop: the time
//! from the failure to the end of the first successful operation started after it (routed
//! around, or never failed), the operations that returned an error to the caller, and the
//! median latency of the operations that succeeded in the window's second half (what every
//! operation pays once the client has settled). Then, the loops stopped and the failure
//! still on, ten sequential reads of each key: how many reached West US (its listener's
//! counter) says whether the client moved only the failing partition, the whole region, or
//! nothing. One emulator process per run.

use std::time::{Duration, Instant};

use meridian_location_store::{PartitionKeyComponent, PartitionKeyScheme, effective_partition_key};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::clients::{COLL, Client, DB, Fleet, Kind};
use crate::emulator::{EmulatorProcess, count};
use crate::report::{Row, quantile};

/// The runs: (label, the emulator's range failure shape, whether the failing partition is
/// also written). The last run leaves out the failing partition's writes, so that their
/// failures cannot mark the whole region: what is left is the reads' own routing.
pub const SHAPES: [(&str, &str, bool); 4] = [
    ("unavailable", "unavailable", true),
    ("write_forbidden", "write_forbidden", true),
    ("timeout", "timeout", true),
    ("unavailable, no writes to it", "unavailable", false),
];
/// How long the loops run after the failure.
const WINDOW: Duration = Duration::from_secs(10);
/// How long the loops run before it.
const WARM: Duration = Duration::from_secs(1);
/// Reads of each key after the window, to see which region serves them.
const PROBES: u64 = 10;
/// The region the range fails in (preferred for reads, and the write region).
const REGION: &str = "West US";

/// A key in the failing range and one in the healthy range, and the failing range's id.
#[derive(Debug, Clone)]
pub struct Keys {
    /// The range that fails.
    pub failing_range: String,
    /// A partition key the failing range holds.
    pub hot: String,
    /// A partition key the other range holds.
    pub cold: String,
}

/// Splits the seeded container's one range in two (no 410 window) and picks a key in each.
pub async fn split_and_pick(emulator: &EmulatorProcess) -> Result<Keys, String> {
    let path = format!("/_emulator/partitions/{DB}/{COLL}");
    let ranges: Value = emulator.get(&path).await?;
    let first = ranges[0]["id"].as_str().ok_or("no range")?.to_string();
    emulator
        .admin(
            &format!("{path}/split"),
            &json!({"range": first, "window_ms": 0}).to_string(),
        )
        .await?;
    let ranges: Value = emulator.get(&path).await?;
    let ranges = ranges.as_array().ok_or("ranges are not an array")?;
    let bounds = |r: &Value| {
        (
            r["id"].as_str().unwrap_or_default().to_string(),
            r["minInclusive"].as_str().unwrap_or_default().to_string(),
            r["maxExclusive"].as_str().unwrap_or_default().to_string(),
        )
    };
    let (failing, min, max) = bounds(ranges.first().ok_or("no range after the split")?);
    let scheme = PartitionKeyScheme::hash_v2();
    let (mut hot, mut cold) = (None, None);
    for n in 0..256 {
        let key = format!("k{n}");
        let epk = effective_partition_key(&scheme, &[PartitionKeyComponent::String(key.clone())])
            .map_err(|e| format!("epk: {e}"))?;
        let inside = epk.as_str() >= min.as_str() && (max == "FF" || epk.as_str() < max.as_str());
        match (inside, &hot, &cold) {
            (true, None, _) => hot = Some(key),
            (false, _, None) => cold = Some(key),
            _ => {}
        }
        if hot.is_some() && cold.is_some() {
            break;
        }
    }
    Ok(Keys {
        failing_range: failing,
        hot: hot.ok_or("no key in the failing range")?,
        cold: cold.ok_or("no key in the healthy range")?,
    })
}

/// Sets (`Some`) or heals (`None`) the failing range's shape in West US.
pub async fn fail(
    emulator: &EmulatorProcess,
    keys: &Keys,
    shape: Option<&str>,
) -> Result<(), String> {
    emulator
        .admin(
            &format!("/_emulator/partitions/{DB}/{COLL}/fail"),
            &json!({"range": keys.failing_range, "region": REGION, "failure": shape}).to_string(),
        )
        .await
        .map(drop)
}

/// One operation as a loop saw it.
struct Op {
    lane: usize,
    started: Instant,
    ended: Instant,
    ok: bool,
}

/// The four loops: (label, write?, hot?).
const LANES: [(&str, bool, bool); 4] = [
    ("reads, failing partition", false, true),
    ("writes, failing partition", true, true),
    ("reads, other partition", false, false),
    ("writes, other partition", true, false),
];

/// Every shape, one run each, per client kind.
pub async fn run(binary: &str) -> Result<Vec<Row>, String> {
    let mut rows = Vec::new();
    for kind in [Kind::Sdk, Kind::Meridian] {
        for (s, &(shape, failure, written)) in SHAPES.iter().enumerate() {
            let mut lanes = one(binary, kind, failure, written).await?;
            let (hot, cold, _) = lanes.pop().ok_or("no probe")?;
            eprintln!(
                "compare: partition {shape} {}: of {PROBES} reads after the window, {hot} of the failing and {cold} of the other partition reached West US",
                kind.label()
            );
            let n = s as u64;
            for (which, value) in [("failing", hot), ("other", cold as f64)] {
                rows.push(Row::new(
                    &format!("partition {shape}: of {PROBES} reads of the {which} partition after 10 s, reaching West US"),
                    kind.label(),
                    n,
                    value,
                    "reads",
                ));
            }
            for ((label, write, hot), (first, failed, p50)) in LANES.iter().zip(lanes) {
                if *write && *hot && !written {
                    continue;
                }
                eprintln!(
                    "compare: partition {shape} {} {label}: first success {first:.1} ms, {failed} failed, p50 {p50:.2} ms",
                    kind.label()
                );
                let what = |m: &str| format!("partition {shape}: {label}, {m}");
                rows.push(Row::new(
                    &what("first success (ms)"),
                    kind.label(),
                    n,
                    first,
                    "ms",
                ));
                rows.push(Row::new(
                    &what("failed to the caller"),
                    kind.label(),
                    n,
                    failed as f64,
                    "ops",
                ));
                rows.push(Row::new(
                    &what("p50 in the second half (ms)"),
                    kind.label(),
                    n,
                    p50,
                    "ms",
                ));
            }
        }
    }
    Ok(rows)
}

/// One run: per lane, (ms to the first success started after the failure — the window
/// when none, a lower bound —, failed operations, p50 of the second half's successes);
/// then one more entry, (reads of the failing partition reaching West US, the same for the
/// other partition, unused), of [`PROBES`] each after the window, the loops stopped.
async fn one(
    binary: &str,
    kind: Kind,
    shape: &str,
    written: bool,
) -> Result<Vec<(f64, u64, f64)>, String> {
    let emulator = EmulatorProcess::start(binary, &["West US", "East US"])?;
    crate::clients::seed(&emulator.account, 0).await?;
    let keys = split_and_pick(&emulator).await?;
    let fleet = Fleet::build(kind, &emulator.account, 1).await?;
    let client = fleet.clients[0].clone();
    for pk in [&keys.hot, &keys.cold] {
        let item = json!({"id": "x", "pk": pk});
        client.upsert(pk, "x", &item).await?;
        client.read(pk, "x").await?;
    }
    let (tx, mut rx) = mpsc::unbounded_channel();
    let loops: Vec<_> = LANES
        .iter()
        .enumerate()
        .filter(|(_, (_, write, hot))| written || !(*write && *hot))
        .map(|(lane, (_, write, hot))| {
            let (client, tx) = (client.clone(), tx.clone());
            let pk = if *hot {
                keys.hot.clone()
            } else {
                keys.cold.clone()
            };
            let write = *write;
            tokio::spawn(async move { lane_loop(client, lane, write, pk, tx).await })
        })
        .collect();
    drop(tx);
    tokio::time::sleep(WARM).await;
    let result = async {
        fail(&emulator, &keys, Some(shape)).await?;
        let failed_at = Instant::now();
        let (end, half) = (failed_at + WINDOW, failed_at + WINDOW / 2);
        let mut ops = Vec::new();
        while let Ok(Some(op)) = tokio::time::timeout_at(end.into(), rx.recv()).await {
            if op.ended >= failed_at {
                ops.push(op);
            }
        }
        rx.close();
        for handle in &loops {
            handle.abort();
        }
        // Where the settled client sends reads now: the failing partition's should have
        // left West US, the other partition's should still be served there.
        let mut lanes = summarise(&ops, failed_at, half);
        let hot = reads_reaching(&emulator, &client, &keys.hot).await?;
        let cold = reads_reaching(&emulator, &client, &keys.cold).await?;
        lanes.push((hot as f64, cold, f64::NAN));
        Ok::<_, String>(lanes)
    }
    .await;
    // Heal, so that held requests are answered and the loops can stop.
    let _ = fail(&emulator, &keys, None).await;
    rx.close();
    for handle in loops {
        handle.abort();
        let _ = handle.await;
    }
    fleet.shutdown().await;
    result
}

/// Of [`PROBES`] sequential reads of `pk`, how many reached West US (requests its listener
/// counted: a read that fails there and is retried elsewhere counts).
async fn reads_reaching(
    emulator: &EmulatorProcess,
    client: &Client,
    pk: &str,
) -> Result<u64, String> {
    let before = count(&emulator.stats().await?, Some(REGION), "items", "GET");
    for _ in 0..PROBES {
        let _ = client.read(pk, "x").await;
    }
    let after = count(&emulator.stats().await?, Some(REGION), "items", "GET");
    Ok(after.saturating_sub(before))
}

async fn lane_loop(
    client: Client,
    lane: usize,
    write: bool,
    pk: String,
    tx: mpsc::UnboundedSender<Op>,
) {
    for n in 0u64.. {
        let started = Instant::now();
        let ok = if write {
            let item = json!({"id": "x", "pk": pk, "n": n});
            client.upsert(&pk, "x", &item).await.is_ok()
        } else {
            client.read(&pk, "x").await.is_ok()
        };
        let op = Op {
            lane,
            started,
            ended: Instant::now(),
            ok,
        };
        if tx.send(op).is_err() {
            break;
        }
    }
}

fn summarise(ops: &[Op], failed_at: Instant, half: Instant) -> Vec<(f64, u64, f64)> {
    (0..LANES.len())
        .map(|lane| {
            let mine = ops.iter().filter(|op| op.lane == lane);
            let first = mine
                .clone()
                .filter(|op| op.ok && op.started >= failed_at)
                .map(|op| (op.ended - failed_at).as_secs_f64() * 1e3)
                .fold(f64::INFINITY, f64::min);
            let first = if first.is_finite() {
                first
            } else {
                WINDOW.as_secs_f64() * 1e3
            };
            let failed = mine.clone().filter(|op| !op.ok).count() as u64;
            let mut late: Vec<f64> = mine
                .filter(|op| op.ok && op.started >= half)
                .map(|op| (op.ended - op.started).as_secs_f64() * 1e3)
                .collect();
            late.sort_by(f64::total_cmp);
            let p50 = if late.is_empty() {
                f64::NAN
            } else {
                quantile(&late, 0.5)
            };
            (first, failed, p50)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(lane: usize, at: Instant, start_ms: u64, end_ms: u64, ok: bool) -> Op {
        Op {
            lane,
            started: at + Duration::from_millis(start_ms),
            ended: at + Duration::from_millis(end_ms),
            ok,
        }
    }

    #[test]
    fn a_lane_is_summarised_from_the_failure_on() {
        let at = Instant::now();
        let half = at + WINDOW / 2;
        let ops = [
            op(0, at, 0, 40, false),
            op(0, at, 40, 60, true),
            op(0, at, 6_000, 6_002, true),
            op(0, at, 6_002, 6_006, true),
            op(1, at, 0, 3, false),
        ];
        let lanes = summarise(&ops, at, half);
        assert_eq!(lanes.len(), LANES.len());
        let (first, failed, p50) = lanes[0];
        assert!((first - 60.0).abs() < 1e-6, "{first}");
        assert_eq!(failed, 1);
        assert!((p50 - 2.0).abs() < 1e-6, "{p50}");
        // A lane that never succeeded: the window as a lower bound, no p50.
        let (first, failed, p50) = lanes[1];
        assert_eq!(first, WINDOW.as_secs_f64() * 1e3);
        assert_eq!(failed, 1);
        assert!(p50.is_nan());
        // A lane with no operations at all.
        assert_eq!(lanes[2].1, 0);
    }
}
