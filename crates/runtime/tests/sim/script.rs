//! One seed's run: random settings, a random script of events, operations per account,
//! and the checker — all on the paused clock, all from one seed.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use meridian_location_store::{
    OperationKind, OperationOutcome, RetryPolicy, RetryState, RouteRequest, TransportErrorKind,
    classify,
};
use meridian_runtime::{AccountHandle, Runtime, Verdict};
use tokio::time::{Instant, sleep};

use crate::check::{Bounds, Checker, Seen};
use crate::trace;
use crate::world::{Fault, REGIONS, World, account_endpoint, regional};

/// Each account's live handles, newest last, with the key each signs with.
type Handles = Arc<Mutex<Vec<Vec<(Arc<AccountHandle>, u64)>>>>;

const RUN: Duration = Duration::from_secs(90);

pub async fn play(seed: u64) -> Result<Seen, String> {
    // The runtime draws failure jitter from fastrand's thread-local generator.
    fastrand::seed(seed);
    let mut rng = fastrand::Rng::with_seed(seed);
    let bounds = Bounds {
        op_period: Duration::from_millis(rng.u64(100..=500)),
        fetch_timeout: Duration::from_millis(rng.u64(100..=300)),
        interval: Duration::from_secs(rng.u64(20..=60)),
        jitter: [0.0, 0.1, 0.5][rng.usize(..3)],
        ttl: Duration::from_millis(rng.u64(500..=8_000)),
        event_window: Duration::from_secs(15),
        accounts: rng.usize(1..=4),
    };
    let concurrency = [1, 2, 3, 8][rng.usize(..4)];
    // From a generator of its own, so every seed plays the same script as before the
    // probe schedule existed.
    let schedule = fastrand::Rng::with_seed(seed ^ 0x9E37_79B9_7F4A_7C15).usize(..4);
    let first_probe_delay = Duration::from_millis([100, 250, 1_000, 10_000][schedule]);
    let runtime = Runtime::builder()
        .refresh_interval(bounds.interval)
        .jitter_fraction(bounds.jitter)
        .jitter_seed(seed)
        .fetch_timeout(bounds.fetch_timeout)
        .unavailability_ttl(bounds.ttl)
        .first_probe_delay(first_probe_delay)
        .probe_interval(Duration::from_secs(120))
        .event_min_interval(bounds.event_window)
        .concurrency(concurrency)
        .shutdown_grace(Duration::from_secs(1))
        .build()
        .map_err(|e| format!("build: {e}"))?;
    let world = World::default();
    world.lock().concurrency = concurrency;
    world.lock().first_probe_delay = first_probe_delay.min(bounds.ttl);
    let handles: Handles = Arc::default();
    for i in 0..bounds.accounts {
        world.add_account(format!("acct{i}"));
        handles.lock().unwrap().push(Vec::new());
        attach(&runtime, &world, &handles, i).await;
    }
    let checker = Arc::new(Mutex::new(Checker::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let operations = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for i in 0..bounds.accounts {
        tasks.push(tokio::spawn(operate(
            i,
            seed.wrapping_add(1 + i as u64),
            bounds,
            world.clone(),
            Arc::clone(&handles),
            Arc::clone(&checker),
            Arc::clone(&stop),
            Arc::clone(&operations),
        )));
    }
    let end = Instant::now() + RUN;
    let mut next_check = Instant::now();
    while Instant::now() < end {
        let next_event = Instant::now() + Duration::from_millis(rng.u64(50..=3_000));
        while next_check < next_event {
            tokio::time::sleep_until(next_check).await;
            check(&world, &handles, &runtime, &checker, &bounds)?;
            next_check += Duration::from_millis(100);
        }
        tokio::time::sleep_until(next_event).await;
        event(&mut rng, &runtime, &world, &handles).await;
    }
    stop.store(true, Ordering::Release);
    for task in tasks {
        task.await
            .map_err(|e| format!("an operation task failed: {e}"))?;
    }
    checker.lock().unwrap().operations_stopped = true;
    check(&world, &handles, &runtime, &checker, &bounds)?;
    let mut seen = checker.lock().unwrap().seen;
    seen.loop_restarts = runtime.health().loop_restarts;
    seen.operations = operations.load(Ordering::Relaxed);
    handles.lock().unwrap().clear();
    let monitor = runtime.task_monitor();
    runtime.shutdown().await;
    if monitor.live_tasks() != 0 {
        return Err(format!(
            "{} tasks left after shutdown",
            monitor.live_tasks()
        ));
    }
    Ok(seen)
}

fn check(
    world: &World,
    handles: &Handles,
    runtime: &Runtime,
    checker: &Mutex<Checker>,
    bounds: &Bounds,
) -> Result<(), String> {
    let snapshots: Vec<_> = handles
        .lock()
        .unwrap()
        .iter()
        .map(|held| held.last().map(|(h, _)| h.snapshot()))
        .collect();
    let mut world = world.lock();
    checker
        .lock()
        .unwrap()
        .step(&mut world, &snapshots, runtime, bounds);
    match world.violations.first() {
        Some(violation) => Err(violation.clone()),
        None => Ok(()),
    }
}

async fn attach(runtime: &Runtime, world: &World, handles: &Handles, index: usize) {
    let (name, key) = {
        let world = world.lock();
        let account = &world.accounts[index];
        (account.name.clone(), *account.valid_keys.last().unwrap())
    };
    let fetcher = world.fetcher(index, key);
    let Ok(handle) = runtime.attach(account_endpoint(&name), fetcher).await else {
        return;
    };
    let mut all = handles.lock().unwrap();
    if all[index].is_empty() {
        world.lock().accounts[index].alive_since = Some(Instant::now());
    }
    all[index].push((Arc::new(handle), key));
}

fn detach(world: &World, handles: &Handles, index: usize, which: usize) {
    let mut all = handles.lock().unwrap();
    if all[index].is_empty() {
        return;
    }
    let which = which % all[index].len();
    all[index].remove(which);
    if all[index].is_empty() {
        let mut world = world.lock();
        world.accounts[index].alive_since = None;
        world.accounts[index].last_death = Some(Instant::now());
    }
}

/// One random event of the script.
async fn event(rng: &mut fastrand::Rng, runtime: &Runtime, world: &World, handles: &Handles) {
    let index = rng.usize(..world.lock().accounts.len());
    let now = Instant::now();
    let roll = rng.u32(..100);
    trace(|| format!("event {roll} on acct{index}"));
    match roll {
        0..=24 => {
            let mut world = world.lock();
            let account = &mut world.accounts[index];
            account.write = (account.write + rng.usize(1..REGIONS.len())) % REGIONS.len();
            account.failed_over = Some(now);
        }
        25..=44 => {
            let region = rng.usize(..REGIONS.len());
            let mut world = world.lock();
            let down = &mut world.accounts[index].down[region];
            *down = !*down;
        }
        45..=59 => {
            let fault = match rng.u32(..6) {
                0 => Fault::Hang,
                1 => Fault::Fail,
                2 => Fault::Slow(Duration::from_millis(rng.u64(10..=400))),
                3 => Fault::Panic,
                _ => Fault::None,
            };
            let mut world = world.lock();
            let account = &mut world.accounts[index];
            if account.fault != Fault::None || fault != Fault::None {
                account.last_fault = Some(now);
            }
            account.fault = fault;
        }
        60..=71 => attach(runtime, world, handles, index).await,
        72..=81 => detach(world, handles, index, rng.usize(..8)),
        82..=89 => {
            // Key rotation: a driver with the new key first, then the old drivers go,
            // then the old key is revoked.
            let new_key = {
                let mut world = world.lock();
                let keys = &mut world.accounts[index].valid_keys;
                let key = keys.last().copied().unwrap_or(0) + 1;
                keys.push(key);
                key
            };
            attach(runtime, world, handles, index).await;
            handles.lock().unwrap()[index].retain(|(_, key)| *key == new_key);
            world.lock().accounts[index].valid_keys = vec![new_key];
        }
        90..=92 => {
            let mut world = world.lock();
            let account = &mut world.accounts[index];
            account.down = [false; 3];
            account.fault = Fault::None;
            account.last_fault = Some(now);
        }
        _ => runtime.inject_loop_panic(),
    }
}

/// One account's operations: every period, a write then a read (alternating), routed on
/// the current snapshot, answered by the world, reported, and retried as the verdict says.
#[allow(clippy::too_many_arguments)]
async fn operate(
    index: usize,
    seed: u64,
    bounds: Bounds,
    world: World,
    handles: Handles,
    checker: Arc<Mutex<Checker>>,
    stop: Arc<AtomicBool>,
    operations: Arc<AtomicU64>,
) {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut write = true;
    while !stop.load(Ordering::Acquire) {
        sleep(bounds.op_period).await;
        let Some(handle) = handles.lock().unwrap()[index]
            .last()
            .map(|(h, _)| Arc::clone(h))
        else {
            continue;
        };
        let kind = if write {
            OperationKind::Write
        } else {
            OperationKind::Read
        };
        write = !write;
        operations.fetch_add(1, Ordering::Relaxed);
        let mut retries = RetryState::new(RetryPolicy::default(), REGIONS.len());
        for _ in 0..8 {
            let snapshot = handle.snapshot();
            let routed = handle.routed_on(&snapshot);
            let endpoint = snapshot.route(kind, &RouteRequest::default()).clone();
            let outcome = answer(&world, index, &endpoint, kind, &mut rng);
            if classify(&outcome).mark.is_some() {
                checker
                    .lock()
                    .unwrap()
                    .marked
                    .insert(endpoint.clone(), Instant::now());
            }
            let verdict = handle.report(&endpoint, &outcome, routed, &mut retries);
            trace(|| {
                format!(
                    "acct{index} {kind:?} {endpoint} {:?} -> {verdict:?}",
                    outcome.result
                )
            });
            match verdict {
                Verdict::Retry { refresh, delay, .. } => {
                    let deadline = Instant::now() + Duration::from_secs(5);
                    handle.await_refresh(refresh, Some(deadline)).await;
                    sleep(delay).await;
                }
                _ => break,
            }
        }
    }
}

/// What the service answers an attempt at `endpoint`.
fn answer(
    world: &World,
    index: usize,
    endpoint: &meridian_location_store::Endpoint,
    kind: OperationKind,
    rng: &mut fastrand::Rng,
) -> OperationOutcome {
    let world = world.lock();
    let account = &world.accounts[index];
    let region = (0..REGIONS.len()).find(|&r| regional(&account.name, r) == *endpoint);
    let ok = OperationOutcome::response(kind, 200, None);
    let Some(region) = region else { return ok };
    if account.down[region] {
        return match rng.u32(..4) {
            0 => OperationOutcome::response(kind, 503, None),
            1 => OperationOutcome::transport(kind, TransportErrorKind::ConnectionRefused, false),
            2 => OperationOutcome::transport(kind, TransportErrorKind::ConnectionReset, true),
            _ => OperationOutcome::transport(kind, TransportErrorKind::Timeout, true),
        }
        .idempotent(true);
    }
    if kind == OperationKind::Write && region != account.write {
        return OperationOutcome::response(kind, 403, Some(3));
    }
    ok
}
