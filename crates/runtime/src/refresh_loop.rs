//! The one background task per runtime: periodic ticks and probes.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use futures_util::StreamExt;
use futures_util::stream;
use meridian_refresh_core::Schedule;
use tokio::time::Instant;

use crate::account::now;
use crate::runtime::Shared;
use crate::tasks::Tasks;

/// Runs until the runtime stops. Each tick takes a snapshot of the registry (no lock is
/// held afterwards), then refreshes every distinct account once, `concurrency` at a
/// time, each fetch bounded by the fetch timeout. Probes of expired marks run on their
/// own interval, also from this task.
pub(crate) async fn run_loop(shared: Arc<Shared>, tasks: Tasks) {
    let config = &shared.config;
    let mut rng = config
        .jitter_seed
        .map_or_else(fastrand::Rng::new, fastrand::Rng::with_seed);
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
            let tick_started = Instant::now();
            let accounts = shared.registry.accounts();
            stream::iter(accounts)
                .for_each_concurrent(config.concurrency, |(_, account)| {
                    account.refresh_periodic()
                })
                .await;
            let took = u64::try_from(tick_started.elapsed().as_nanos()).unwrap_or(u64::MAX);
            shared.last_tick_nanos.store(took.max(1), Ordering::Relaxed);
            shared.ticks.fetch_add(1, Ordering::Relaxed);
            let skipped = schedule.advance(now());
            if skipped > 0 {
                tracing::warn!(
                    skipped,
                    "refresh tick overran its interval; skipping missed ticks"
                );
            }
            tick_at = schedule.deadline(rng.f64());
        }
        if now() >= probe_at {
            let accounts = shared.registry.accounts();
            stream::iter(accounts)
                .for_each_concurrent(config.concurrency, |(_, account)| account.probe_due())
                .await;
            probe_at = now() + config.probe_interval;
        }
    }
}
