//! The one background task per runtime: it keeps the schedule and dispatches ticks and
//! probe rounds; it never waits for a fetch itself.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures_util::StreamExt;
use futures_util::stream;
use meridian_refresh_core::Schedule;
use tokio::sync::Semaphore;
use tokio::time::Instant;

use crate::account::{AccountState, now};
use crate::runtime::Shared;
use crate::tasks::Tasks;

/// Runs until the runtime stops.
///
/// At each deadline it snapshots the registry (no lock is held afterwards) and starts a
/// tick task that refreshes every distinct account once. Fetches hold one of
/// `concurrency` permits shared by all ticks, and each is bounded by the fetch timeout.
/// The loop does not wait for the tick: an account whose fetch is still running when the
/// next tick fires is joined (skipped) through its gate, so one slow or hung account
/// never shifts anybody else's schedule. Probe rounds run on their own interval, one at
/// a time.
pub(crate) async fn run_loop(shared: Arc<Shared>, tasks: Tasks) {
    let config = &shared.config;
    let mut rng = config
        .jitter_seed
        .map_or_else(fastrand::Rng::new, fastrand::Rng::with_seed);
    let permits = Arc::new(Semaphore::new(config.concurrency));
    let probing = Arc::new(AtomicBool::new(false));
    let mut schedule = Schedule::new(config.schedule(), now());
    let mut tick_at = schedule.deadline(rng.f64());
    let mut probe_at = now() + config.probe_interval;
    loop {
        let wake = Instant::from_std(tick_at.min(probe_at));
        tokio::select! {
            biased;
            () = tasks.stopped() => break,
            () = tokio::time::sleep_until(wake) => {}
        }
        if now() >= tick_at {
            tasks.spawn(run_tick(Arc::clone(&shared), Arc::clone(&permits)));
            let skipped = schedule.advance(now());
            if skipped > 0 {
                tracing::warn!(skipped, "refresh loop woke late; skipping missed ticks");
            }
            tick_at = schedule.deadline(rng.f64());
        }
        if now() >= probe_at {
            if !probing.swap(true, Ordering::AcqRel) {
                tasks.spawn(run_probes(
                    Arc::clone(&shared),
                    Arc::clone(&permits),
                    Arc::clone(&probing),
                ));
            }
            probe_at = now() + config.probe_interval;
        }
    }
}

/// One tick: every registered account once, then the tick is counted and timed.
async fn run_tick(shared: Arc<Shared>, permits: Arc<Semaphore>) {
    let started = Instant::now();
    for_each_account(&shared, &permits, AccountState::refresh_periodic).await;
    let took = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
    shared.last_tick_nanos.store(took.max(1), Ordering::Relaxed);
    shared.ticks.fetch_add(1, Ordering::Relaxed);
}

/// One probe round over every account's expired marks.
async fn run_probes(shared: Arc<Shared>, permits: Arc<Semaphore>, probing: Arc<AtomicBool>) {
    for_each_account(&shared, &permits, AccountState::probe_due).await;
    probing.store(false, Ordering::Release);
}

/// Runs `work` for every registered account, each holding one of the shared permits.
async fn for_each_account<F, Fut>(shared: &Shared, permits: &Arc<Semaphore>, work: F)
where
    F: Fn(Arc<AccountState>) -> Fut,
    Fut: Future<Output = ()>,
{
    let accounts = shared.registry.accounts();
    stream::iter(accounts)
        .for_each_concurrent(shared.config.concurrency, |(_, account)| {
            let permits = Arc::clone(permits);
            let work = &work;
            async move {
                // The semaphore is never closed; a failed acquire would mean shutdown.
                if let Ok(_permit) = permits.acquire_owned().await {
                    work(account).await;
                }
            }
        })
        .await;
}
