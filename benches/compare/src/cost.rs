//! Measurement 2, cost per client at N = 1,000: resident memory, sockets and threads per
//! extra client, and tasks. Each client kind runs in a child process of its own (this
//! binary with `cost-child`), so no allocator or pool state leaks from one into the next.

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::clients::{Client, Fleet, Kind};
use crate::emulator::{Account, EmulatorProcess};
use crate::partition::Keys;
use crate::process::footprint;
use crate::report::Row;

/// Clients at the end of the measurement.
pub const N: usize = 1_000;
/// Clients per SDK kind with partition state live: building 1,000 SDK clients that each
/// meet a failing partition did not fit [`CHILD_DEADLINE`] on 2 shared cores; Meridian
/// keeps [`N`] (the `n` column says which).
const N_SDK_PARTITION: usize = 200;
/// The environment that hands the child its client count.
const N_ENV: &str = "COMPARE_CLIENTS";
/// The longest one child may take.
const CHILD_DEADLINE: Duration = Duration::from_secs(300);
/// The environment that hands the account to the child (never on its command line).
const ENDPOINT_ENV: &str = "COMPARE_ACCOUNT_ENDPOINT";
const KEY_ENV: &str = "COMPARE_ACCOUNT_KEY";
/// The keys each client reads in the partition variant: `hot,cold`.
const KEYS_ENV: &str = "COMPARE_PARTITION_KEYS";

/// One emulator process and one child process per client kind.
pub async fn run(binary: &str) -> Result<Vec<Row>, String> {
    measure(binary, false).await
}

/// As [`run`], with partition state live: the container split in two ranges, one of them
/// `unavailable` in West US, and every client reads a key in each (so each holds the
/// routing map and has met the failing partition).
pub async fn run_partition(binary: &str) -> Result<Vec<Row>, String> {
    measure(binary, true).await
}

async fn measure(binary: &str, partition: bool) -> Result<Vec<Row>, String> {
    let mut rows = Vec::new();
    let kinds: &[Kind] = if partition {
        &[Kind::Sdk, Kind::Meridian]
    } else {
        &[Kind::Sdk, Kind::SdkSharedRuntime, Kind::Meridian]
    };
    for &kind in kinds {
        let n = if partition && kind != Kind::Meridian {
            N_SDK_PARTITION
        } else {
            N
        };
        let emulator = EmulatorProcess::start(binary, &["West US", "East US"])?;
        crate::clients::seed(&emulator.account, 1).await?;
        let keys = if partition {
            let keys = crate::partition::split_and_pick(&emulator).await?;
            crate::clients::seed_keys(&emulator.account, &[&keys.hot, &keys.cold]).await?;
            crate::partition::fail(&emulator, &keys, Some("unavailable")).await?;
            Some(keys)
        } else {
            None
        };
        let account = emulator.account.clone();
        let output = tokio::task::spawn_blocking(move || child(kind, &account, keys.as_ref(), n))
            .await
            .map_err(|e| format!("cost child: {e}"))??;
        let parsed: Vec<serde_json::Value> = serde_json::from_str(output.trim())
            .map_err(|e| format!("cost child printed no rows ({e}): {output}"))?;
        for row in parsed {
            let name = row["measurement"].as_str().unwrap_or("?");
            let name = if partition {
                format!("{name}, partition state live")
            } else {
                name.to_string()
            };
            rows.push(Row::new(
                &name,
                kind.label(),
                row["n"].as_u64().unwrap_or(0),
                row["value"].as_f64().unwrap_or(f64::NAN),
                row["unit"].as_str().unwrap_or("?"),
            ));
        }
        eprintln!("compare: cost {} done", kind.label());
    }
    Ok(rows)
}

/// Runs this binary as `cost-child KIND` and returns its stdout; killed after the deadline.
fn child(kind: Kind, account: &Account, keys: Option<&Keys>, n: usize) -> Result<String, String> {
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let mut command = Command::new(exe);
    command.env(N_ENV, n.to_string());
    if let Some(keys) = keys {
        command.env(KEYS_ENV, format!("{},{}", keys.hot, keys.cold));
    }
    let mut child = command
        .args(["cost-child", kind.label()])
        .env(ENDPOINT_ENV, &account.global)
        .env(KEY_ENV, account.key())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("cost child: {e}"))?;
    let stdout = child.stdout.take();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut text = String::new();
        if let Some(mut out) = stdout {
            let _ = std::io::Read::read_to_string(&mut out, &mut text);
        }
        let _ = tx.send(text);
    });
    let text = rx.recv_timeout(CHILD_DEADLINE);
    if text.is_err() {
        let _ = child.kill();
    }
    let status = child.wait().map_err(|e| format!("cost child: {e}"))?;
    let text = text.map_err(|_| {
        format!(
            "cost child {}: no answer within {} s",
            kind.label(),
            CHILD_DEADLINE.as_secs()
        )
    })?;
    if status.success() {
        Ok(text)
    } else {
        Err(format!("cost child {} failed: {status}", kind.label()))
    }
}

/// In the child: one client, then N - 1 more (one read each; N from the parent, else
/// [`N`]); prints the rows as JSON.
pub async fn child_main(kind: &str) -> Result<String, String> {
    let kind = Kind::parse(kind).ok_or_else(|| format!("unknown client kind {kind}"))?;
    let endpoint = std::env::var(ENDPOINT_ENV).map_err(|_| format!("{ENDPOINT_ENV} unset"))?;
    let key = std::env::var(KEY_ENV).map_err(|_| format!("{KEY_ENV} unset"))?;
    let account = Account::new(endpoint, key);
    // Each client reads `i0` in `p`, or, with partition state live, `x` in the hot and the
    // cold key (the hot read meets the failing range; it may fail to the caller).
    let keys: Option<Vec<String>> = std::env::var(KEYS_ENV)
        .ok()
        .map(|k| k.split(',').map(str::to_string).collect());
    let touch = async |client: &Client| -> Result<(), String> {
        match &keys {
            None => client.read("p", "i0").await,
            Some(keys) => {
                for key in keys {
                    let _ = client.read(key, "x").await;
                }
                Ok(())
            }
        }
    };
    // The first client pays the one-off costs (runtime, pools); the rest is per client.
    let first = Fleet::build(kind, &account, 1).await?;
    touch(&first.clients[0]).await?;
    settle().await;
    let before = footprint();
    let n_clients = std::env::var(N_ENV)
        .ok()
        .and_then(|n| n.parse::<usize>().ok())
        .filter(|n| *n >= 2)
        .unwrap_or(N);
    let rest = Fleet::build(kind, &account, n_clients - 1).await?;
    for client in &rest.clients {
        touch(client).await?;
    }
    settle().await;
    let after = footprint();
    let extra = (n_clients - 1) as f64;
    let tasks = tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks();
    let n = n_clients as u64;
    let rows = vec![
        crate::report::Row::new(
            "memory per extra client",
            kind.label(),
            n,
            (after.rss_kib as f64 - before.rss_kib as f64) / extra,
            "KiB",
        ),
        Row::new(
            "sockets per extra client",
            kind.label(),
            n,
            (after.sockets as f64 - before.sockets as f64) / extra,
            "sockets",
        ),
        Row::new(
            "sockets at N",
            kind.label(),
            n,
            after.sockets as f64,
            "sockets",
        ),
        Row::new(
            "threads at N",
            kind.label(),
            n,
            after.threads as f64,
            "threads",
        ),
        Row::new("tokio tasks at N", kind.label(), n, tasks as f64, "tasks"),
        Row::new(
            "resident memory at N",
            kind.label(),
            n,
            after.rss_kib as f64 / 1024.0,
            "MiB",
        ),
    ];
    // Both fleets live until the rows are taken; the runtime's own count for Meridian.
    if let Some(live) = rest.meridian_tasks() {
        eprintln!("compare: meridian runtime live tasks at N: {live}");
    }
    rest.shutdown().await;
    first.shutdown().await;
    Ok(crate::report::to_json(&rows))
}

/// Lets background work started by the last build (first refreshes, pool warm-up) settle.
async fn settle() {
    tokio::time::sleep(Duration::from_secs(2)).await;
}
