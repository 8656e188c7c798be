//! Measurement 3, point operations: reads and upserts per second and p50/p99 latency with 1
//! and 64 concurrent callers over one client; a fixed number of operations, warm-up excluded,
//! the median of three rounds in which the two clients alternate.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::clients::{Client, Fleet, Kind};
use crate::emulator::{EmulatorProcess, count};
use crate::report::{Row, quantile};

/// Concurrent callers.
const CALLERS: [usize; 2] = [1, 64];
/// Operations per phase (split evenly over the callers).
const OPS: usize = 3_200;
/// Warm-up operations per phase, not measured.
const WARM_UP: usize = 256;
/// Rounds per phase and client, alternating the clients.
const ROUNDS: usize = 3;
/// Distinct items read and written.
const ITEMS: usize = 64;
/// The longest one phase may take.
const PHASE_DEADLINE: Duration = Duration::from_secs(120);

#[derive(Debug, Clone, Copy)]
enum Op {
    Read,
    Write,
}

/// One emulator process per client kind, both alive for the whole measurement; every
/// phase runs [`ROUNDS`] times, the two clients alternating, so that both see the same
/// background load; each row is the median of its rounds.
pub async fn run(binary: &str) -> Result<Vec<Row>, String> {
    let kinds = [Kind::Sdk, Kind::Meridian];
    let mut sides = Vec::new();
    for kind in kinds {
        let emulator = EmulatorProcess::start(binary, &["West US", "East US"])?;
        crate::clients::seed(&emulator.account, ITEMS).await?;
        let fleet = Fleet::build(kind, &emulator.account, 1).await?;
        sides.push((kind, emulator, fleet));
    }
    let mut rows = Vec::new();
    for callers in CALLERS {
        for (op, name) in [(Op::Read, "read"), (Op::Write, "write")] {
            // Per side: (ops per s, p50, p99) of every round.
            let mut rounds: Vec<Vec<[f64; 3]>> = vec![Vec::new(); sides.len()];
            for _ in 0..ROUNDS {
                for (side, (_, _, fleet)) in sides.iter().enumerate() {
                    let client = &fleet.clients[0];
                    phase(client, op, callers, WARM_UP).await?;
                    let (per_s, mut latencies) = phase(client, op, callers, OPS).await?;
                    latencies.sort_by(f64::total_cmp);
                    rounds[side].push([
                        per_s,
                        quantile(&latencies, 0.5),
                        quantile(&latencies, 0.99),
                    ]);
                }
            }
            for ((kind, _, _), measured) in sides.iter().zip(&rounds) {
                let [per_s, p50, p99] = [0, 1, 2].map(|i| median(measured.iter().map(|r| r[i])));
                let listed: Vec<String> = measured.iter().map(|r| format!("{:.3}", r[2])).collect();
                eprintln!(
                    "compare: {name} {} x{callers}: {per_s:.0}/s p50 {p50:.3} ms p99 {p99:.3} ms (p99 per round: {})",
                    kind.label(),
                    listed.join(", ")
                );
                let (label, n) = (kind.label(), callers as u64);
                rows.push(Row::new(
                    &format!("{name}s per s"),
                    label,
                    n,
                    per_s,
                    "ops/s",
                ));
                rows.push(Row::new(&format!("{name} p50"), label, n, p50, "ms"));
                rows.push(Row::new(&format!("{name} p99"), label, n, p99, "ms"));
            }
        }
    }
    for (kind, emulator, fleet) in sides {
        // Every measured read reached the emulator (none was answered from a cache).
        let reads = count(&emulator.stats().await?, None, "items", "GET");
        let expected = (ROUNDS * CALLERS.len() * (OPS + WARM_UP)) as u64;
        if reads < expected {
            return Err(format!(
                "{}: the emulator counted {reads} reads of {expected}",
                kind.label()
            ));
        }
        fleet.shutdown().await;
    }
    Ok(rows)
}

/// The median of `values` (the upper middle one of an even count); 0 when empty.
fn median(values: impl Iterator<Item = f64>) -> f64 {
    let mut sorted: Vec<f64> = values.collect();
    sorted.sort_by(f64::total_cmp);
    sorted.get(sorted.len() / 2).copied().unwrap_or(0.0)
}

/// `ops` operations over `callers` concurrent callers: operations per second and every
/// latency in ms. Any failed operation fails the phase.
async fn phase(
    client: &Client,
    op: Op,
    callers: usize,
    ops: usize,
) -> Result<(f64, Vec<f64>), String> {
    let per_caller = ops.div_ceil(callers);
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for caller in 0..callers {
        let client = client.clone();
        tasks.spawn(async move {
            let mut latencies = Vec::with_capacity(per_caller);
            for i in 0..per_caller {
                let id = format!("i{}", (caller + i * callers) % ITEMS);
                let at = Instant::now();
                match op {
                    Op::Read => client.read("p", &id).await?,
                    Op::Write => {
                        let item = json!({"id": id, "pk": "p", "n": i});
                        client.upsert("p", &id, &item).await?
                    }
                }
                latencies.push(at.elapsed().as_secs_f64() * 1e3);
            }
            Ok::<_, String>(latencies)
        });
    }
    let collect = async {
        let mut all = Vec::with_capacity(per_caller * callers);
        while let Some(joined) = tasks.join_next().await {
            all.extend(joined.map_err(|e| format!("caller: {e}"))??);
        }
        Ok::<_, String>(all)
    };
    let all = tokio::time::timeout(PHASE_DEADLINE, collect)
        .await
        .map_err(|_| format!("a phase took over {} s", PHASE_DEADLINE.as_secs()))??;
    let per_s = all.len() as f64 / started.elapsed().as_secs_f64();
    Ok((per_s, all))
}

#[cfg(test)]
mod tests {
    use super::median;

    #[test]
    fn median_is_the_middle_round() {
        assert_eq!(median([3.0, 0.1, 0.5].into_iter()), 0.5);
        assert_eq!(median([2.0, 1.0].into_iter()), 2.0);
        assert_eq!(median(std::iter::empty()), 0.0);
    }
}
