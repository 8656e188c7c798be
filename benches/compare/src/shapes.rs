//! Measurement 6, outage shapes (issue 29), each client with its defaults (the SDK's and
//! Meridian's hedging on), preferring West US (the write region is East US):
//!
//! - `slow`: West US answers reads 500 ms late; p50 and p99 of 40 sequential reads;
//! - `blackhole` / `unavailable` on West US: the time from the shape's start to the end of
//!   the first successful read started after it, and from `up` to the first read West US
//!   counts again (its counters polled every 10 ms);
//! - the first write after each shape starts on the write region (East US), which then
//!   fails over to West US: from the failover call's return to the end of the first
//!   successful write started after it.
//!
//! A wait past its deadline (30 s; 90 s for `up`) is reported as the deadline: a lower bound.
//!
//! One emulator process per client kind and shape.

use std::time::{Duration, Instant};

use serde_json::json;
use tokio::sync::mpsc;

use crate::clients::{Fleet, Kind};
use crate::emulator::{EmulatorProcess, count};
use crate::report::{Row, quantile};

const PREFERRED: &str = "West US";
const PATH: &str = "/_emulator/regions/West%20US";
const DEADLINE: Duration = Duration::from_secs(30);
const FAILBACK_DEADLINE: Duration = Duration::from_secs(90);
const SLOW_READS: usize = 40;

/// Every shape, per client kind.
pub async fn run(binary: &str) -> Result<Vec<Row>, String> {
    let mut rows = Vec::new();
    for kind in [Kind::Sdk, Kind::Meridian] {
        let label = kind.label();
        let (p50, p99) = slow(binary, kind).await?;
        eprintln!("compare: shapes {label}: slow +500 ms reads p50 {p50:.0} ms p99 {p99:.0} ms");
        rows.push(Row::new("slow +500 ms: read p50", label, 1, p50, "ms"));
        rows.push(Row::new("slow +500 ms: read p99", label, 1, p99, "ms"));
        for shape in ["blackhole", "unavailable"] {
            let (elsewhere, back) = reads(binary, kind, shape).await?;
            eprintln!(
                "compare: shapes {label}: {shape}: reads elsewhere after {elsewhere:.0} ms, back {back:.0} ms after up"
            );
            rows.push(Row::new(
                &format!("{shape}: reads succeed elsewhere"),
                label,
                1,
                elsewhere,
                "ms",
            ));
            rows.push(Row::new(
                &format!("{shape}: reads back after up"),
                label,
                1,
                back,
                "ms",
            ));
        }
        for shape in ["refuse", "blackhole", "unavailable", "slow"] {
            let first = write(binary, kind, shape).await?;
            eprintln!(
                "compare: shapes {label}: {shape} + failover: first write after {first:.0} ms"
            );
            rows.push(Row::new(
                &format!("{shape} + failover: first write"),
                label,
                1,
                first,
                "ms",
            ));
        }
    }
    Ok(rows)
}

/// Milliseconds from `since` to the end of the first successful request started after it;
/// past [`DEADLINE`], the deadline (a lower bound).
async fn first_success(
    rx: &mut mpsc::UnboundedReceiver<(Instant, Instant, bool)>,
    since: Instant,
) -> Result<f64, String> {
    loop {
        let left = DEADLINE.saturating_sub(since.elapsed());
        match tokio::time::timeout(left, rx.recv()).await {
            Err(_) => return Ok(DEADLINE.as_secs_f64() * 1e3),
            Ok(None) => return Err("the client loop stopped".into()),
            Ok(Some((started, ended, ok))) if ok && started >= since => {
                return Ok((ended - since).as_secs_f64() * 1e3);
            }
            Ok(Some(_)) => {}
        }
    }
}

fn outage_body(shape: &str, applies_to: &str) -> String {
    match shape {
        "slow" => json!({"shape": "slow", "delay_ms": 500, "applies_to": applies_to}),
        other => json!({"shape": other, "applies_to": applies_to}),
    }
    .to_string()
}

async fn started(binary: &str, kind: Kind) -> Result<(EmulatorProcess, Fleet), String> {
    let emulator = EmulatorProcess::start(binary, &["East US", PREFERRED])?;
    crate::clients::seed(&emulator.account, 1).await?;
    let fleet = Fleet::build(kind, &emulator.account, 1).await?;
    Ok((emulator, fleet))
}

async fn slow(binary: &str, kind: Kind) -> Result<(f64, f64), String> {
    let (emulator, fleet) = started(binary, kind).await?;
    let client = &fleet.clients[0];
    let result = async {
        for _ in 0..16 {
            client.read("p", "i0").await?;
        }
        emulator
            .admin(&format!("{PATH}/outage"), &outage_body("slow", "reads"))
            .await?;
        let mut latencies = Vec::with_capacity(SLOW_READS);
        for _ in 0..SLOW_READS {
            let at = Instant::now();
            tokio::time::timeout(DEADLINE, client.read("p", "i0"))
                .await
                .map_err(|_| "a read outlived the deadline".to_string())??;
            latencies.push(at.elapsed().as_secs_f64() * 1e3);
        }
        latencies.sort_by(f64::total_cmp);
        Ok::<_, String>((quantile(&latencies, 0.5), quantile(&latencies, 0.99)))
    }
    .await;
    fleet.shutdown().await;
    result
}

async fn reads(binary: &str, kind: Kind, shape: &str) -> Result<(f64, f64), String> {
    let (emulator, fleet) = started(binary, kind).await?;
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
        tokio::time::sleep(Duration::from_secs(1)).await;
        if count(&emulator.stats().await?, Some(PREFERRED), "items", "GET") == 0 {
            return Err(format!("{} did not read from {PREFERRED}", kind.label()));
        }
        emulator
            .admin(&format!("{PATH}/outage"), &outage_body(shape, "both"))
            .await?;
        let shape_at = Instant::now();
        let elsewhere = first_success(&mut rx, shape_at).await?;
        tokio::time::sleep(Duration::from_secs(2)).await;
        let before = count(&emulator.stats().await?, Some(PREFERRED), "items", "GET");
        emulator.admin(&format!("{PATH}/up"), "").await?;
        let up_at = Instant::now();
        let back = loop {
            while rx.try_recv().is_ok() {}
            let now = count(&emulator.stats().await?, Some(PREFERRED), "items", "GET");
            if now > before {
                break up_at.elapsed().as_secs_f64() * 1e3;
            }
            if up_at.elapsed() >= FAILBACK_DEADLINE {
                break FAILBACK_DEADLINE.as_secs_f64() * 1e3;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        Ok::<_, String>((elsewhere, back))
    }
    .await;
    rx.close();
    reader.abort();
    let _ = reader.await;
    fleet.shutdown().await;
    result
}

async fn write(binary: &str, kind: Kind, shape: &str) -> Result<f64, String> {
    let (emulator, fleet) = started(binary, kind).await?;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let client = fleet.clients[0].clone();
    let writer = tokio::spawn(async move {
        for i in 0u64.. {
            let id = format!("w{i}");
            let at = Instant::now();
            let ok = client
                .upsert("p", &id, &json!({"id": id, "pk": "p"}))
                .await
                .is_ok();
            if tx.send((at, Instant::now(), ok)).is_err() {
                break;
            }
        }
    });
    let result = async {
        tokio::time::sleep(Duration::from_secs(1)).await;
        emulator
            .admin(
                "/_emulator/regions/East%20US/outage",
                &outage_body(shape, "both"),
            )
            .await?;
        emulator
            .admin("/_emulator/failover", r#"{"write_region":"West US"}"#)
            .await?;
        first_success(&mut rx, Instant::now()).await
    }
    .await;
    rx.close();
    writer.abort();
    let _ = writer.await;
    fleet.shutdown().await;
    result
}
