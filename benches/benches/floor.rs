//! Benchmark 10: what an operation costs above the protocol — Meridian's driver against the
//! floor, a bare hyper client that signs each request, reads the body and parses it into
//! the item type, and does nothing else (no routing, retries, session, metadata, spans or
//! pool bounds). Same emulator, same run, alternating rounds; reads and upserts at 1 and 64
//! callers; at 64 callers Meridian also with 64 connections, as many as the floor opens
//! (its default bound, 32, queues half the callers). Reported: throughput, p50/p99, the
//! client's CPU per operation (the client runtime's threads only, from
//! `/proc/self/task/*/schedstat`; the emulator runs on its own named threads in the same
//! process) and the whole process's.
//!
//! `cargo bench -p meridian-benches --bench floor` measures: 20,000 operations per phase,
//! five rounds, each ratio the median of the rounds' ratios. Arguments narrow it: `-- read`
//! or `-- upsert` (one kind), `-- 1` or `-- 64` (one number of callers), `-- meridian` or
//! `-- floor` (one client, as under a profiler). Environment: `FLOOR_OPS`, `FLOOR_ROUNDS`,
//! `FLOOR_CLIENT_THREADS` (2), `FLOOR_MAX_CONNECTIONS` (the driver's default). Run in test
//! mode (`cargo test --benches`) it does one small round of each and checks both clients
//! work. Not a criterion benchmark: criterion times one closure, this needs CPU per
//! operation and percentiles per phase.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use meridian_driver::{AccountConfig, Container, Driver, Runtime};
use meridian_emulator::Emulator;
use meridian_testkit::BareClient;
use serde::{Deserialize, Serialize};

/// Items in the container; reads pick them in turn.
const ITEMS: usize = 1_000;
/// Partition key values the items spread over.
const PARTITIONS: usize = 10;
/// The client runtime's thread name: its threads' CPU is the client's.
const CLIENT_THREAD: &str = "floor-client";

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Item {
    id: String,
    pk: String,
    value: u64,
    name: String,
}

fn item(n: usize) -> Item {
    Item {
        id: format!("i{n}"),
        pk: format!("p{}", n % PARTITIONS),
        value: n as u64,
        name: format!("item number {n} of the floor benchmark"),
    }
}

async fn meridian_read(container: &Container, n: usize) -> Item {
    let item = item(n);
    container
        .read_item::<Item>(item.pk.as_str(), &item.id)
        .await
        .expect("a read")
        .item
}

async fn meridian_upsert(container: &Container, n: usize) -> Item {
    let item = item(n);
    container
        .upsert_item(item.pk.as_str(), &item)
        .await
        .expect("an upsert")
        .item
}

/// The client runtime's threads so far.
#[derive(Debug, Clone, Copy, Default)]
struct ClientCpu {
    /// Time on a CPU, in nanoseconds (`schedstat`: the scheduler's own account, exact —
    /// `stat`'s user and system ticks are sampled at the timer tick and charge a whole
    /// tick to whichever thread is running when it fires).
    on_cpu_ns: u64,
    /// User and system ticks (`stat`), for the kernel's share only.
    user_ticks: u64,
    system_ticks: u64,
    /// Context switches, voluntary and involuntary: each is a sleep or a preemption,
    /// where the kernel time goes.
    switches: u64,
    /// Time on a CPU of every thread of the process, the emulator's included: the
    /// kernel charges loopback TCP work to whichever side's thread runs it (a send
    /// runs the receiving socket's processing too), so the client's share of the same
    /// work moves with timing; the sum does not.
    process_ns: u64,
}

fn client_cpu() -> ClientCpu {
    let mut cpu = ClientCpu::default();
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return cpu;
    };
    for task in tasks.flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
            continue;
        };
        // `pid (comm) state ...`: fields after the closing parenthesis, utime 14th, stime 15th.
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let on_cpu_ns = std::fs::read_to_string(task.path().join("schedstat"))
            .ok()
            .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
            .unwrap_or(0);
        cpu.process_ns += on_cpu_ns;
        if !stat[open + 1..close].starts_with(CLIENT_THREAD) {
            continue;
        }
        cpu.on_cpu_ns += on_cpu_ns;
        let fields: Vec<&str> = stat[close + 2..].split(' ').collect();
        let field = |i: usize| {
            fields
                .get(i)
                .and_then(|f| f.parse::<u64>().ok())
                .unwrap_or(0)
        };
        cpu.user_ticks += field(11);
        cpu.system_ticks += field(12);
        if let Ok(status) = std::fs::read_to_string(task.path().join("status")) {
            cpu.switches += status
                .lines()
                .filter(|l| l.contains("ctxt_switches"))
                .filter_map(|l| l.split_whitespace().last()?.parse::<u64>().ok())
                .sum::<u64>();
        }
    }
    cpu
}

/// One phase: `callers` tasks share `ops` operations.
#[derive(Debug, Clone, Copy)]
struct Phase {
    per_second: f64,
    p50: Duration,
    p99: Duration,
    cpu_per_op: Duration,
    /// The kernel's share of that CPU.
    system_share: f64,
    /// Context switches of the client's threads per operation.
    switches_per_op: f64,
    /// CPU per operation of the whole process (client and emulator).
    process_per_op: Duration,
}

async fn phase<F, Fut>(ops: usize, callers: usize, op: F) -> Phase
where
    F: Fn(usize) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = Item> + Send,
{
    let before = client_cpu();
    let started = Instant::now();
    let tasks = (0..callers).map(|caller| {
        let op = op.clone();
        tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(ops / callers + 1);
            let mut n = caller;
            while n < ops {
                let at = Instant::now();
                let item = op(n % ITEMS).await;
                latencies.push(at.elapsed());
                assert_eq!(item.value, (n % ITEMS) as u64, "the right item");
                n += callers;
            }
            latencies
        })
    });
    let mut latencies: Vec<Duration> = join_all(tasks)
        .await
        .into_iter()
        .flat_map(|r| r.expect("no caller panics"))
        .collect();
    let took = started.elapsed();
    let after = client_cpu();
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize];
    let system = after.system_ticks.saturating_sub(before.system_ticks);
    let ticks = after.user_ticks.saturating_sub(before.user_ticks) + system;
    let on_cpu = after.on_cpu_ns.saturating_sub(before.on_cpu_ns);
    Phase {
        per_second: ops as f64 / took.as_secs_f64(),
        p50: at(0.50),
        p99: at(0.99),
        cpu_per_op: Duration::from_nanos(on_cpu / ops.max(1) as u64),
        system_share: system as f64 / ticks.max(1) as f64,
        switches_per_op: after.switches.saturating_sub(before.switches) as f64 / ops as f64,
        process_per_op: Duration::from_nanos(
            after.process_ns.saturating_sub(before.process_ns) / ops.max(1) as u64,
        ),
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// One row of the table: `phases`' medians and, per round, their ratios to the floor's
/// (a round's phases run back to back, so a machine that slows down for a while slows
/// both).
fn print_row(name: &str, callers: usize, client: &str, bare: &[Phase], phases: &[Phase]) {
    let rate = median(phases.iter().map(|p| p.per_second).collect());
    let mid = phases
        .iter()
        .find(|p| p.per_second == rate)
        .copied()
        .expect("the median is one of them");
    let cpu = median(phases.iter().map(|p| p.cpu_per_op.as_secs_f64()).collect());
    let process = median(
        phases
            .iter()
            .map(|p| p.process_per_op.as_secs_f64())
            .collect(),
    );
    let per_round =
        |f: fn(&Phase) -> f64| median(bare.iter().zip(phases).map(|(b, o)| f(o) / f(b)).collect());
    let (ratio, cpu_ratio, process_ratio) = if client == "floor" {
        ("1".to_string(), "1".to_string(), "1".to_string())
    } else {
        (
            format!("{:.2}", per_round(|p| p.per_second)),
            format!("{:.2}", per_round(|p| p.cpu_per_op.as_secs_f64())),
            format!("{:.2}", per_round(|p| p.process_per_op.as_secs_f64())),
        )
    };
    println!(
        "| {name} | {callers} | {client} | {rate:.0} | {:?} | {:?} | {:.1} µs | {:.0} % | {:.2} | {ratio} | {cpu_ratio} | {:.1} µs | {process_ratio} |",
        mid.p50,
        mid.p99,
        cpu * 1e6,
        mid.system_share * 100.0,
        mid.switches_per_op,
        process * 1e6,
    );
}

fn main() {
    let measuring = std::env::args().any(|a| a == "--bench");
    let (ops, rounds) = if measuring { (20_000, 5) } else { (200, 1) };
    // `FLOOR_OPS` / `FLOOR_ROUNDS` override them (longer phases for a profiler).
    let setting = |name: &str, default: usize| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .filter(|n| *n > 0)
            .unwrap_or(default)
    };
    let (ops, rounds) = (setting("FLOOR_OPS", ops), setting("FLOOR_ROUNDS", rounds));

    let server = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("emulator")
        .enable_all()
        .build()
        .expect("the emulator's runtime");
    let emulator = server.block_on(async {
        Emulator::builder()
            .regions(["West US", "East US"])
            .start()
            .await
            .expect("the emulator starts")
    });
    let client_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(setting("FLOOR_CLIENT_THREADS", 2))
        .thread_name(CLIENT_THREAD)
        .enable_all()
        .build()
        .expect("the client's runtime");
    let floor = Arc::new(client_rt.block_on(async { BareClient::new(&emulator, "db", "c") }));
    // The driver with its defaults, and one allowed as many connections as the floor
    // opens at 64 callers: the default bound (32) queues half of those callers, so the
    // client has half as many requests in flight to wait for together.
    let (runtime, container, unbounded) = client_rt.block_on(async {
        let runtime = Runtime::builder().build().expect("a runtime");
        let container = |max_connections: usize| {
            let runtime = &runtime;
            let emulator = &emulator;
            async move {
                let config = AccountConfig::new(emulator.global_endpoint(), emulator.key());
                let driver = Driver::builder(runtime, config)
                    .preferred_regions(["West US"])
                    .max_connections(max_connections)
                    .build()
                    .await
                    .expect("a driver");
                driver.container("db", "c")
            }
        };
        let default_connections = setting(
            "FLOOR_MAX_CONNECTIONS",
            meridian_driver::DEFAULT_MAX_CONNECTIONS,
        );
        let setup = Driver::builder(
            &runtime,
            AccountConfig::new(emulator.global_endpoint(), emulator.key()),
        )
        .build()
        .await
        .expect("a driver");
        setup.create_database("db").await.expect("the database");
        setup
            .create_container("db", "c", "/pk")
            .await
            .expect("the container");
        let (ours, unbounded) = (container(default_connections).await, container(64).await);
        for n in 0..ITEMS {
            meridian_upsert(&ours, n).await;
        }
        // Its container's definition and routing map fetched before any phase.
        meridian_read(&unbounded, 0).await;
        (runtime, ours, unbounded)
    });

    println!(
        "floor benchmark: {ops} operations per phase, {rounds} alternating round(s), \
         driver defaults vs a bare signed hyper client"
    );
    println!(
        "| operation | callers | client | ops/s (median) | p50 | p99 | CPU/op | system | switches/op | ÷ floor ops/s | ÷ floor CPU/op | process CPU/op | ÷ floor |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    // `-- read` or `-- upsert` measures one kind only.
    let only = |kind: &str| std::env::args().any(|a| a == kind);
    let kinds = match (only("read"), only("upsert")) {
        (true, false) => vec![false],
        (false, true) => vec![true],
        _ => vec![false, true],
    };
    // `-- 64` (or `-- 1`) measures one number of callers; `-- meridian` (or `-- floor`)
    // runs one client only, for a profiler (its ratios then read 1).
    let callers_list: Vec<usize> = match (only("1"), only("64")) {
        (true, false) => vec![1],
        (false, true) => vec![64],
        _ => vec![1, 64],
    };
    let (run_floor, run_ours) = match (only("floor"), only("meridian")) {
        (true, false) => (true, false),
        (false, true) => (false, true),
        _ => (true, true),
    };
    for upsert in kinds {
        for &callers in &callers_list {
            // At 64 callers, Meridian twice: with its defaults, and with 64 connections.
            let mut clients = vec![("Meridian", container.clone())];
            if callers > meridian_driver::DEFAULT_MAX_CONNECTIONS {
                clients.push(("Meridian, 64 connections", unbounded.clone()));
            }
            let mut bare = Vec::new();
            let mut ours: Vec<Vec<Phase>> = vec![Vec::new(); clients.len()];
            for _ in 0..rounds {
                if run_floor {
                    let f = Arc::clone(&floor);
                    bare.push(client_rt.block_on(phase(ops, callers, move |n| {
                        let f = Arc::clone(&f);
                        async move {
                            let item = item(n);
                            if upsert {
                                f.upsert(&item.pk, &item).await
                            } else {
                                f.read(&item.pk, &item.id).await
                            }
                        }
                    })));
                }
                for ((_, container), phases) in clients.iter().zip(&mut ours) {
                    if !run_ours {
                        continue;
                    }
                    let c = container.clone();
                    phases.push(client_rt.block_on(phase(ops, callers, move |n| {
                        let c = c.clone();
                        async move {
                            if upsert {
                                meridian_upsert(&c, n).await
                            } else {
                                meridian_read(&c, n).await
                            }
                        }
                    })));
                }
            }
            // One client only (a profiler's run): its rows are compared with themselves.
            if bare.is_empty() {
                bare = ours[0].clone();
            } else if ours[0].is_empty() {
                ours = vec![bare.clone(); clients.len()];
            }
            let name = if upsert { "upsert" } else { "read" };
            print_row(name, callers, "floor", &bare, &bare);
            for ((client, _), phases) in clients.iter().zip(&ours) {
                print_row(name, callers, client, &bare, phases);
            }
        }
    }
    client_rt.block_on(runtime.shutdown());
    drop(emulator);
}
