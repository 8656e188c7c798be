//! Measurement 2, cost per client at N = 1,000: resident memory, sockets and threads per
//! extra client, and tasks. Each client kind runs in a child process of its own (this
//! binary with `cost-child`), so no allocator or pool state leaks from one into the next.

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::clients::{Fleet, Kind};
use crate::emulator::{Account, EmulatorProcess};
use crate::process::footprint;
use crate::report::Row;

/// Clients at the end of the measurement.
pub const N: usize = 1_000;
/// The longest one child may take.
const CHILD_DEADLINE: Duration = Duration::from_secs(300);
/// The environment that hands the account to the child (never on its command line).
const ENDPOINT_ENV: &str = "COMPARE_ACCOUNT_ENDPOINT";
const KEY_ENV: &str = "COMPARE_ACCOUNT_KEY";

/// One emulator process and one child process per client kind.
pub async fn run(binary: &str) -> Result<Vec<Row>, String> {
    let mut rows = Vec::new();
    for kind in [Kind::Sdk, Kind::SdkSharedRuntime, Kind::Meridian] {
        let emulator = EmulatorProcess::start(binary, &["West US", "East US"])?;
        crate::clients::seed(&emulator.account, 1).await?;
        let account = emulator.account.clone();
        let output = tokio::task::spawn_blocking(move || child(kind, &account))
            .await
            .map_err(|e| format!("cost child: {e}"))??;
        let parsed: Vec<serde_json::Value> = serde_json::from_str(output.trim())
            .map_err(|e| format!("cost child printed no rows ({e}): {output}"))?;
        for row in parsed {
            rows.push(Row::new(
                row["measurement"].as_str().unwrap_or("?"),
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
fn child(kind: Kind, account: &Account) -> Result<String, String> {
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let mut child = Command::new(exe)
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

/// In the child: one client, then N - 1 more (one read each); prints the rows as JSON.
pub async fn child_main(kind: &str) -> Result<String, String> {
    let kind = Kind::parse(kind).ok_or_else(|| format!("unknown client kind {kind}"))?;
    let endpoint = std::env::var(ENDPOINT_ENV).map_err(|_| format!("{ENDPOINT_ENV} unset"))?;
    let key = std::env::var(KEY_ENV).map_err(|_| format!("{KEY_ENV} unset"))?;
    let account = Account::new(endpoint, key);
    // The first client pays the one-off costs (runtime, pools); the rest is per client.
    let first = Fleet::build(kind, &account, 1).await?;
    first.clients[0].read("p", "i0").await?;
    settle().await;
    let before = footprint();
    let rest = Fleet::build(kind, &account, N - 1).await?;
    for client in &rest.clients {
        client.read("p", "i0").await?;
    }
    settle().await;
    let after = footprint();
    let extra = (N - 1) as f64;
    let tasks = tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks();
    let n = N as u64;
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
