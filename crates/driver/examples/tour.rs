//! The Meridian tour: two in-process emulators, one runtime, 50 drivers.
//!
//! ```sh
//! cargo run --release -p meridian-driver --example tour
//! ```
//!
//! It shows, with numbers the emulators counted themselves:
//! 1. one refresh loop: 2 `GET /` per tick (one per account), not 50;
//! 2. a write-region failover: a storm of writes meets 403/3, one gated refresh, every write
//!    lands in the new region;
//! 3. a region outage: reads move away, then fail back only after a successful probe;
//! 4. a key rotation: drivers move to the secondary key, the primary is regenerated, then
//!    back in place with `rotate_key`; the account's refreshes and reads never fail;
//! 5. replication lag: an eventual read in a lagging region is stale; a session read
//!    (the driver's session token) sees the driver's own write;
//! 6. queries: a cross-partition count and an `ORDER BY` read in pages;
//! 7. the change feed: from now, three writes stream once each, then it goes quiet (304);
//! 8. a clean shutdown, then a summary table. Exits 0 in well under 30 s, non-zero if any
//!    promise above is broken.

use std::collections::HashMap;
use std::error::Error;
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use futures_util::{StreamExt, TryStreamExt};
use meridian_driver::{AccountConfig, ChangeFeedOptions, ChangeFeedPage, Driver, Query};
use meridian_emulator::{Emulator, KeyKind};
use meridian_location_store::OperationKind;
use meridian_runtime::{Runtime, RuntimeEvent, RuntimeStats};
use meridian_testkit::{WriteLog, Writer, create_database_and_container};
use serde_json::{Value, json};

type Result<T> = std::result::Result<T, Box<dyn Error + Send + Sync>>;

const REGIONS: [&str; 3] = ["West US", "East US", "North Europe"];
const DRIVERS: usize = 50;

fn check(condition: bool, what: &str) -> Result<()> {
    if condition {
        Ok(())
    } else {
        Err(format!("tour check failed: {what}").into())
    }
}

struct Account {
    name: &'static str,
    emulator: Emulator,
    drivers: Vec<Driver>,
}

impl Account {
    fn reads(&self) -> u64 {
        self.emulator.counters().get("global", "account", "GET")
    }
}

/// The live progress line: redrawn in place on a terminal, printed once (`force`) in logs.
fn progress(runtime: &Runtime, accounts: &[Account], note: &str, force: bool) {
    if !force && !std::io::stdout().is_terminal() {
        return;
    }
    let stats = runtime.stats();
    let reads: Vec<String> = accounts
        .iter()
        .map(|a| format!("{} GET / {:>2}", a.name, a.reads()))
        .collect();
    print!(
        "\r  tick {:>2} | {} | drivers {} | {:<40}",
        stats.ticks,
        reads.join(" | "),
        stats.handle_count,
        note
    );
    let _ = std::io::stdout().flush();
}

async fn wait_ticks(
    runtime: &Runtime,
    accounts: &[Account],
    ticks: u64,
    limit: Duration,
) -> Result<()> {
    let deadline = Instant::now() + limit;
    while runtime.stats().ticks < ticks {
        check(Instant::now() < deadline, "ticks arrive on schedule")?;
        progress(runtime, accounts, "waiting for the loop...", false);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    progress(runtime, accounts, "", true);
    println!();
    Ok(())
}

/// Step 4: with a lag longer than the step, an eventual read in East US sees the old
/// version; a read with the session token is sent back (404/1002) and served elsewhere.
/// A cross-partition aggregate and an `ORDER BY` read page by page, over the 25 items the
/// failover storm wrote.
async fn query_step(alpha: &Account) -> Result<()> {
    let items = alpha.drivers[0].container("tour", "items");
    let count: Vec<u64> = items
        .query::<u64>(Query::new(
            "SELECT VALUE COUNT(1) FROM c WHERE STARTSWITH(c.id, 'storm-')",
        ))
        .try_collect()
        .await?;
    println!("  SELECT VALUE COUNT(1) ... : {count:?}");
    check(
        count == [DRIVERS as u64 / 2],
        "the count sees every storm write",
    )?;
    let ordered = Query::new("SELECT c.id FROM c WHERE STARTSWITH(c.id, 'storm-') ORDER BY c.id")
        .max_item_count(10);
    let mut pages = items.query::<Value>(ordered).pages();
    let (mut ids, mut sizes, mut charge) = (Vec::new(), Vec::new(), 0.0);
    while let Some(page) = pages.next().await {
        let page = page?;
        sizes.push(page.items.len());
        charge += page.request_charge;
        ids.extend(
            page.items
                .iter()
                .filter_map(|v| v["id"].as_str().map(str::to_string)),
        );
    }
    println!("  ORDER BY c.id in pages of at most 10: {sizes:?}, {charge} RU in all");
    let mut sorted = ids.clone();
    sorted.sort();
    check(
        ids.len() == DRIVERS / 2 && ids == sorted,
        "every storm write comes back, in order",
    )
}

/// Step 7: a feed from now drains at once; three writes then stream, each once, in pages
/// of two; the feed goes quiet (every range answered 304) and stays so when asked again.
async fn change_feed_step(alpha: &Account) -> Result<()> {
    let items = alpha.drivers[0].container("tour", "items");
    let drain = |options: ChangeFeedOptions| {
        // At most 20 pages: a feed that never goes quiet breaks the promise.
        items
            .change_feed::<Value>(options)
            .take(20)
            .try_collect::<Vec<ChangeFeedPage<Value>>>()
    };
    let now = drain(ChangeFeedOptions::from_now()).await?;
    let token = now
        .last()
        .map(|p| p.continuation.clone())
        .ok_or("no page")?;
    for n in 0..3 {
        items
            .upsert_item("feed", &json!({"id": format!("feed-{n}"), "pk": "feed"}))
            .await?;
    }
    let pages = drain(ChangeFeedOptions::from_continuation(token).max_item_count(2)).await?;
    let sizes: Vec<usize> = pages.iter().map(|p| p.items.len()).collect();
    let ids: Vec<&str> = pages
        .iter()
        .flat_map(|p| &p.items)
        .filter_map(|v| v["id"].as_str())
        .collect();
    let last = pages.last().ok_or("no page")?;
    println!(
        "  pages {sizes:?}: {ids:?}; the last drained: {}",
        last.drained
    );
    check(
        ids == ["feed-0", "feed-1", "feed-2"] && last.drained && last.items.is_empty(),
        "the feed streams each new write once, then drains",
    )?;
    let again = drain(ChangeFeedOptions::from_continuation(&last.continuation)).await?;
    println!(
        "  asked again: {} page(s), drained: {}",
        again.len(),
        again[0].drained
    );
    check(
        again.len() == 1 && again[0].drained,
        "a drained feed stays quiet (304) until the next write",
    )
}

async fn session_step(beta: &Account) -> Result<()> {
    let driver = &beta.drivers[0];
    let items = driver.container("tour", "items");
    let east = beta
        .emulator
        .region_endpoint("East US")
        .ok_or("no East US")?;
    let region_of = |endpoint| {
        driver
            .snapshot()
            .region_of(endpoint)
            .map(ToString::to_string)
            .unwrap_or_default()
    };
    items
        .upsert_item("p", &json!({"id": "session", "pk": "p", "version": 1}))
        .await?;
    beta.emulator
        .set_replication_lag(None, Duration::from_secs(60))?;
    items
        .upsert_item("p", &json!({"id": "session", "pk": "p", "version": 2}))
        .await?;
    let eventual = items.read_item_eventual::<Value>("p", "session").await?;
    println!(
        "  wrote version 2; eventual read (no session token) in {}: version {} (stale)",
        region_of(&eventual.endpoint),
        eventual.item["version"]
    );
    check(
        eventual.endpoint.as_str() == east && eventual.item["version"] == 1,
        "an eventual read in the lagging region is stale",
    )?;
    let session = items.read_item::<Value>("p", "session").await?;
    println!(
        "  session read (token {}): East US answered 404/1002; {} served version {} after {} attempts",
        driver.session_token("tour", "items").unwrap_or_default(),
        region_of(&session.endpoint),
        session.item["version"],
        session.attempts
    );
    check(
        session.item["version"] == 2 && session.attempts > 1,
        "a session read sees the driver's own write",
    )?;
    beta.emulator.set_replication_lag(None, Duration::ZERO)?;
    Ok(())
}

#[tokio::main]
async fn main() {
    let started = Instant::now();
    match tour().await {
        Ok(()) => println!(
            "\ntour finished in {:.1} s",
            started.elapsed().as_secs_f64()
        ),
        Err(error) => {
            eprintln!("\n{error}");
            std::process::exit(1);
        }
    }
}

async fn tour() -> Result<()> {
    println!(
        "Meridian tour: two accounts, {} regions each, one runtime, {DRIVERS} drivers\n",
        REGIONS.len()
    );
    let runtime = start_runtime()?;
    let mut accounts = start_accounts(&runtime).await?;
    one_loop_step(&runtime, &accounts).await?;
    // Background writers on both accounts for steps 2 and 3.
    let writers: Vec<Writer> = accounts
        .iter()
        .map(|account| {
            Writer::start(
                &account.drivers[1],
                "tour",
                "items",
                format!("{}-", account.name),
                Duration::from_millis(20),
            )
        })
        .collect();
    failover_step(&accounts[0]).await?;
    outage_step(&runtime, &accounts).await?;
    let mut logs = Vec::new();
    for writer in writers {
        logs.push(writer.stop(Duration::from_secs(30)).await);
    }
    let lost_per_account = verify_writes(&accounts, &logs).await?;

    // 4. Key rotation on alpha, while the loop keeps refreshing it every 2 s.
    println!("\n4. Key rotation on alpha: to the secondary key and back");
    rotate_keys(&runtime, &mut accounts).await?;

    // 5. Replication lag: stale reads, and read-your-writes with the session token.
    println!("\n5. Replication lag on beta (60 s): West US writes, East US lags");
    session_step(&accounts[1]).await?;

    // 6. Queries across partitions, routed and retried like reads.
    println!("\n6. Queries on alpha: the storm's writes, counted and listed in pages");
    query_step(&accounts[0]).await?;

    // 7. The change feed: new writes once each, then quiet.
    println!("\n7. Change feed on alpha: from now, three writes, then quiet (304)");
    change_feed_step(&accounts[0]).await?;

    let final_stats = shutdown_step(runtime).await?;
    summary(&accounts, &logs, &lost_per_account, &final_stats)?;
    for account in accounts {
        account.emulator.shutdown().await;
    }
    Ok(())
}

/// The runtime every driver of the tour shares, with its events printed as they happen.
fn start_runtime() -> Result<Runtime> {
    let runtime = Runtime::builder()
        .refresh_interval(Duration::from_secs(2))
        .jitter_fraction(0.02)
        .event_min_interval(Duration::from_millis(500))
        .fetch_timeout(Duration::from_secs(1))
        .unavailability_ttl(Duration::from_millis(1_500))
        .probe_interval(Duration::from_millis(250))
        .build()?;
    // The runtime's events, printed as they happen.
    let mut events = runtime.events();
    tokio::spawn(async move {
        while let Ok(event) = events.recv().await {
            if let Some(line) = describe(&event) {
                println!("  [event] {line}");
            }
        }
    });

    Ok(runtime)
}

/// Two accounts (one emulator each) with the tour's drivers spread over them, and the
/// container every step uses.
async fn start_accounts(runtime: &Runtime) -> Result<Vec<Account>> {
    let mut accounts = Vec::new();
    for name in ["alpha", "beta"] {
        let emulator = Emulator::builder()
            .account_id(name)
            .regions(REGIONS)
            .start()
            .await?;
        println!("  account {name:<5} global {}", emulator.global_endpoint());
        accounts.push(Account {
            name,
            emulator,
            drivers: Vec::new(),
        });
    }
    for i in 0..DRIVERS {
        let account = &mut accounts[i % 2];
        let driver = meridian_testkit::driver_builder(runtime, &account.emulator)
            // beta's readers prefer East US (each driver routes by its own preference).
            .preferred_regions(if account.name == "beta" {
                vec!["East US"]
            } else {
                vec![]
            })
            .request_timeout(Duration::from_secs(1))
            .build()
            .await?;
        account.drivers.push(driver);
    }
    for account in &accounts {
        create_database_and_container(&account.drivers[0], "tour", "items").await;
    }

    Ok(accounts)
}

/// Step 1: one `GET /` per account per tick, however many drivers.
async fn one_loop_step(runtime: &Runtime, accounts: &[Account]) -> Result<()> {
    // 1. One loop per runtime.
    println!("\n1. One refresh loop for {DRIVERS} drivers (2 s interval)");
    // Start counting right after a tick completed, so no tick is half-counted.
    let first = runtime.ticks() + 1;
    wait_ticks(runtime, accounts, first, Duration::from_secs(8)).await?;
    let reads_before: Vec<u64> = accounts.iter().map(Account::reads).collect();
    let ticks_before = runtime.ticks();
    wait_ticks(runtime, accounts, ticks_before + 2, Duration::from_secs(8)).await?;
    let ticks = runtime.stats().ticks - ticks_before;
    for (account, before) in accounts.iter().zip(&reads_before) {
        let fetched = account.reads() - before;
        println!(
            "  {}: {fetched} GET / in {ticks} ticks ({} drivers share one entry)",
            account.name,
            account.drivers.len()
        );
        check(fetched == ticks, "one GET / per account per tick")?;
    }

    Ok(())
}

/// Step 2: a storm of writes meets a write-region failover on alpha.
async fn failover_step(alpha: &Account) -> Result<()> {
    // 2. A write-region failover.
    println!("\n2. Write-region failover on alpha: West US -> East US");
    let refresh_before = alpha.drivers[0].stats().refresh;
    alpha.emulator.failover("East US")?;
    let container_writes = alpha.drivers.iter().enumerate().map(|(i, driver)| {
        let driver = driver.clone();
        async move {
            driver
                .container("tour", "items")
                .create_item("p", &json!({"id": format!("storm-{i}"), "pk": "p"}))
                .await
        }
    });
    let results = join_all(container_writes).await;
    let mut landed: HashMap<String, usize> = HashMap::new();
    let mut met_403 = 0;
    for result in &results {
        let response = result
            .as_ref()
            .map_err(|e| format!("a storm write failed: {e}"))?;
        let region = alpha.drivers[0]
            .snapshot()
            .region_of(&response.endpoint)
            .map(ToString::to_string)
            .unwrap_or_default();
        *landed.entry(region).or_default() += 1;
        if response.attempts > 1 {
            met_403 += 1;
        }
    }
    let refresh = alpha.drivers[0].stats().refresh;
    let refreshes = refresh.attempts - refresh_before.attempts;
    println!(
        "  {} concurrent writes: {met_403} met 403/3 first; landed {landed:?}",
        results.len()
    );
    println!(
        "  gated refreshes: {refreshes} fetch; of the other 403/3 signals {} joined it, {} came after it started (superseded), {} throttled",
        refresh.joined - refresh_before.joined,
        refresh.superseded - refresh_before.superseded,
        refresh.throttled - refresh_before.throttled
    );
    check(
        landed.len() == 1 && landed.contains_key("East US"),
        "every write lands in the new write region",
    )?;
    check(
        refreshes <= 2,
        "a storm of 403/3 costs one gated refresh (plus at most one periodic tick)",
    )?;

    Ok(())
}

/// Step 3: beta's preferred read region goes down, then fails back after a probe.
async fn outage_step(runtime: &Runtime, accounts: &[Account]) -> Result<()> {
    // 3. A region outage on beta, then probe-gated failback.
    println!("\n3. Outage of East US on beta (its preferred read region)");
    let beta = &accounts[1];
    let reader = beta.drivers[0].container("tour", "items");
    reader
        .upsert_item("p", &json!({"id": "probe-me", "pk": "p"}))
        .await?;
    let east = beta
        .emulator
        .region_endpoint("East US")
        .ok_or("no East US")?;
    let before = reader.read_item::<Value>("p", "probe-me").await?;
    check(before.endpoint.as_str() == east, "reads start in East US")?;
    beta.emulator.region_down("East US")?;
    let moved = reader.read_item::<Value>("p", "probe-me").await?;
    let moved_region = beta.drivers[0]
        .snapshot()
        .region_of(&moved.endpoint)
        .map(ToString::to_string)
        .unwrap_or_default();
    println!(
        "  East US down: the next read took {} attempts and was served by {moved_region}",
        moved.attempts
    );
    check(
        moved.endpoint.as_str() != east,
        "reads move away from a down region",
    )?;
    tokio::time::sleep(Duration::from_millis(1_800)).await;
    let failures = beta.drivers[0].stats().probe_failures;
    println!("  after the 1.5 s TTL: {failures} failed probe(s), reads still elsewhere");
    check(failures >= 1, "probes run once the mark expires")?;
    beta.emulator.region_up("East US")?;
    let up_at = Instant::now();
    let deadline = up_at + Duration::from_secs(5);
    loop {
        let routed = beta.drivers[0].route(OperationKind::Read);
        if routed.as_str() == east {
            break;
        }
        check(Instant::now() < deadline, "failback after East US returns")?;
        progress(
            runtime,
            accounts,
            "East US is up; waiting for a probe...",
            false,
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    if std::io::stdout().is_terminal() {
        println!();
    }
    let back = reader.read_item::<Value>("p", "probe-me").await?;
    println!(
        "  East US up: failed back {:.0} ms later after a successful probe; reads served by East US again",
        up_at.elapsed().as_secs_f64() * 1e3
    );
    check(back.endpoint.as_str() == east, "reads return to East US")?;

    Ok(())
}

/// Reads back every write the writers saw acknowledged; how many are missing per account.
async fn verify_writes(accounts: &[Account], logs: &[WriteLog]) -> Result<Vec<usize>> {
    let mut lost_per_account = Vec::new();
    for (account, log) in accounts.iter().zip(logs) {
        let container = account.drivers[2].container("tour", "items");
        let mut lost = 0;
        for id in &log.acknowledged {
            if container.read_item::<Value>("p", id).await.is_err() {
                lost += 1;
            }
        }
        lost_per_account.push(lost);
    }
    let lost: usize = lost_per_account.iter().sum();
    check(lost == 0, "no acknowledged write is lost")?;

    Ok(lost_per_account)
}

/// Step 7: a clean shutdown; the runtime's last stats.
async fn shutdown_step(runtime: Runtime) -> Result<RuntimeStats> {
    // 7. Clean shutdown.
    println!("\n8. Shutdown");
    let final_stats = runtime.stats();
    let monitor = runtime.task_monitor();
    let graceful = runtime.shutdown().await;
    println!(
        "  runtime stopped (graceful: {graceful}); live tasks: {}",
        monitor.live_tasks()
    );
    check(monitor.live_tasks() == 0, "no task of the runtime remains")?;

    Ok(final_stats)
}

/// The summary table.
fn summary(
    accounts: &[Account],
    logs: &[WriteLog],
    lost_per_account: &[usize],
    final_stats: &RuntimeStats,
) -> Result<()> {
    println!(
        "\n  account | GET / (global) | refresh attempts | joined | throttled | probes | writes ok | failed | lost"
    );
    println!(
        "  --------+----------------+------------------+--------+-----------+--------+-----------+--------+-----"
    );
    let (mut acknowledged, mut failed) = (0, 0);
    let lost: usize = lost_per_account.iter().sum();
    for ((account, log), lost) in accounts.iter().zip(logs).zip(lost_per_account) {
        let stats = final_stats
            .accounts
            .iter()
            .find(|a| a.endpoint.as_str() == account.emulator.global_endpoint())
            .ok_or("account missing from stats")?;
        acknowledged += log.acknowledged.len();
        failed += log.failed.len();
        println!(
            "  {:<7} | {:>14} | {:>16} | {:>6} | {:>9} | {:>6} | {:>9} | {:>6} | {:>4}",
            account.name,
            account.reads(),
            stats.refresh.attempts,
            stats.refresh.joined,
            stats.refresh.throttled,
            stats.probes,
            log.acknowledged.len(),
            log.failed.len(),
            lost
        );
    }
    println!(
        "  ticks: {} | failovers: 1 | outages: 1 | writes acknowledged {acknowledged}, failed {failed}, lost {lost}",
        final_stats.ticks
    );
    Ok(())
}

/// Waits (at most 8 s) until the loop completes one more tick.
async fn next_tick(runtime: &Runtime) -> Result<()> {
    let target = runtime.ticks() + 1;
    let deadline = Instant::now() + Duration::from_secs(8);
    while runtime.ticks() < target {
        check(Instant::now() < deadline, "ticks arrive on schedule")?;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

/// Moves alpha's drivers to the secondary key (new drivers, the old ones dropped),
/// regenerates the primary, then rotates them back in place to the new primary and
/// regenerates the secondary. Refreshes and reads must never fail.
async fn rotate_keys(runtime: &Runtime, accounts: &mut [Account]) -> Result<()> {
    async fn read_all(drivers: &[Driver]) -> Result<usize> {
        let reads = drivers
            .iter()
            .map(|driver| async move { driver.read_account().await.map(|_| ()) });
        let failed = join_all(reads).await.iter().filter(|r| r.is_err()).count();
        Ok(failed)
    }
    let alpha = &mut accounts[0];
    let before = alpha.drivers[0].stats().refresh;
    let secondary = alpha.emulator.keys().secondary;
    let mut moved = Vec::with_capacity(alpha.drivers.len());
    for _ in 0..alpha.drivers.len() {
        moved.push(
            Driver::builder(
                runtime,
                AccountConfig::new(alpha.emulator.global_endpoint(), secondary.as_str()),
            )
            .request_timeout(Duration::from_secs(1))
            .build()
            .await?,
        );
    }
    let count = moved.len();
    alpha.drivers = moved; // the drivers on the old primary are dropped here
    let new_primary = alpha.emulator.regenerate_key(KeyKind::Primary);
    next_tick(runtime).await?;
    let mut failed = read_all(&alpha.drivers).await?;
    println!("  {count} drivers on the secondary key, primary regenerated: {failed} failed reads");
    for driver in &alpha.drivers {
        driver.rotate_key(&new_primary)?;
    }
    alpha.emulator.regenerate_key(KeyKind::Secondary);
    next_tick(runtime).await?;
    failed += read_all(&alpha.drivers).await?;
    let after = alpha.drivers[0].stats().refresh;
    println!(
        "  rotated back in place to the new primary, secondary regenerated: {} refreshes, {} failed; {failed} failed reads",
        after.attempts - before.attempts,
        after.failures - before.failures
    );
    check(failed == 0, "no read fails across the rotation")?;
    check(
        after.failures == before.failures,
        "no refresh fails across the rotation",
    )?;
    check(
        after.successes >= before.successes + 2,
        "the account kept refreshing",
    )?;
    Ok(())
}

/// One line per event worth showing (the first topology of each account is not).
fn describe(event: &RuntimeEvent) -> Option<String> {
    Some(match event {
        RuntimeEvent::TopologyChanged {
            account,
            old_write_region: Some(old),
            new_write_region: Some(new),
            ..
        } => format!("{account}: write region {old} -> {new}"),
        RuntimeEvent::EndpointMarked { account, endpoint } => {
            format!("{account}: {endpoint} marked unavailable")
        }
        RuntimeEvent::EndpointUnmarked { account, endpoint } => {
            format!("{account}: {endpoint} back in rotation")
        }
        RuntimeEvent::RefreshFailed { account, error } => {
            format!("{account}: refresh failed ({error})")
        }
        _ => return None,
    })
}
