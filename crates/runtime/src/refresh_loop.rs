//! The one background task per runtime: it keeps the schedule, queues each tick's and
//! each probe round's work, and runs that work itself under the runtime-wide slots. It
//! never waits for a fetch, so a hung account shifts nobody's schedule. Its supervisor
//! restarts it after a panic.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use futures_util::stream::FuturesUnordered;
use futures_util::{FutureExt, StreamExt};
use meridian_refresh_core::{Schedule, SlotClass, saturating_add};
use tokio::time::Instant;

use crate::account::now;
use crate::shared::Shared;
use crate::slots::SlotGuard;
use crate::tasks::Tasks;
use crate::tick::TickProgress;
use crate::work::{Class, Job, Listed, WorkQueue};

type Worker = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Runs until the runtime stops.
///
/// At each deadline it snapshots the registry (no lock is held afterwards) and queues a
/// periodic refresh of every account — except one whose refresh is still running or still
/// queued, which is skipped and counted, so ticks never pile up and a recovered account
/// never bursts. Probe rounds
/// are queued the same way. Workers, one per routine slot they hold, drain the queue
/// inside this task; an event-driven refresh takes an urgent slot in its own task and
/// never waits behind this queue (see [`FetchSlots`](meridian_refresh_core::FetchSlots)).
pub(crate) async fn run_loop(shared: Arc<Shared>, tasks: Tasks) {
    let config = &shared.config;
    let mut rng = config
        .jitter_seed
        .map_or_else(fastrand::Rng::new, fastrand::Rng::with_seed);
    // A restarted loop keeps the schedule of the one that panicked.
    let saved = shared.saved_schedule();
    let (mut schedule, mut tick_at) = saved.unwrap_or_else(|| {
        let schedule = Schedule::new(config.schedule(), now());
        (schedule, schedule.deadline(rng.f64()))
    });
    shared.save_schedule(schedule, tick_at);
    let mut probe_at = saturating_add(now(), config.probe_interval);
    // A restart after a panic may have lost a ring the old loop took but never acted
    // on (its queued probe rounds went with it): every mark is in a store, so the alarm
    // is set again from them.
    for listed in shared.registry.accounts().iter() {
        let account = &listed.shared;
        let expiries = [
            account.store.next_mark_expiry(),
            account.partitions.next_expiry(),
        ];
        for at in expiries.into_iter().flatten() {
            shared.alarm.arm(at);
        }
    }
    let queue = Arc::new(Mutex::new(WorkQueue::default()));
    if saved.is_some() {
        // Restarted: the refreshes the old loop had queued went with it, so every account
        // is queued once now (one busy with a flight is skipped, as at any tick).
        queue_tick(&shared, &mut lock(&queue));
    }
    let mut workers: FuturesUnordered<Worker> = FuturesUnordered::new();
    let sleep = tokio::time::sleep_until(Instant::from_std(tick_at.min(probe_at)));
    tokio::pin!(sleep);
    loop {
        #[cfg(feature = "fault-injection")]
        if shared.inject_panic.swap(false, Ordering::AcqRel) {
            panic!("refresh loop panic injected by a test");
        }
        let released = shared.slots.released();
        tokio::pin!(released);
        // Registered before starting workers, so a slot freed after that is not missed.
        released.as_mut().enable();
        let waiting = start_workers(&shared, &queue, &mut workers);
        let due = shared.alarm.next().map_or(probe_at, |at| at.min(probe_at));
        let wake = Instant::from_std(tick_at.min(due));
        if sleep.deadline() != wake {
            sleep.as_mut().reset(wake);
        }
        tokio::select! {
            biased;
            () = tasks.stopped() => break,
            Some(()) = workers.next(), if !workers.is_empty() => continue,
            () = &mut released, if waiting => continue,
            () = shared.alarm.moved() => continue,
            () = &mut sleep => {}
        }
        if now() >= tick_at {
            queue_tick(&shared, &mut lock(&queue));
            let skipped = schedule.advance(now());
            if skipped > 0 {
                tracing::warn!(skipped, "refresh loop woke late; skipping missed ticks");
            }
            tick_at = schedule.deadline(rng.f64());
            shared.save_schedule(schedule, tick_at);
        }
        let rang = shared.alarm.take_due(now());
        if rang || now() >= probe_at {
            let mut queue = lock(&queue);
            for listed in shared.registry.accounts().iter() {
                // Partition marks are lifted here, in the loop, without I/O: the range's
                // next operation is its probe (see `partitions.rs`).
                listed.shared.expire_partitions();
                if listed.shared.store.marked_count() > 0 {
                    queue.push(Job::probe(Listed::of(listed)));
                }
            }
            if !rang {
                probe_at = saturating_add(now(), config.probe_interval);
            }
        }
    }
    // Graceful stop: queued work is dropped, work already running may finish (the
    // runtime aborts it after the shutdown grace).
    lock(&queue).clear();
    while workers.next().await.is_some() {}
}

/// Starts a worker for each class with more queued jobs than workers, while slots allow.
/// Returns whether work is left waiting for a slot.
fn start_workers(
    shared: &Arc<Shared>,
    queue: &Arc<Mutex<WorkQueue>>,
    workers: &mut FuturesUnordered<Worker>,
) -> bool {
    let mut waiting = false;
    for class in [Class::Healthy, Class::Suspect] {
        loop {
            if !lock(queue).wants_worker(class) {
                break;
            }
            let suspect = class == Class::Suspect;
            let Some(slot) = shared.slots.try_acquire(SlotClass::Routine, suspect) else {
                waiting = true;
                break;
            };
            lock(queue).worker_started(class);
            workers.push(Box::pin(work(
                Arc::clone(shared),
                Arc::clone(queue),
                class,
                slot,
            )));
        }
    }
    waiting
}

/// One worker: holds one slot and runs queued jobs of its class one after another until
/// none is left, so a tick over many accounts costs no task, box or wake-up per account.
/// Between two jobs it hands its slot back if urgent work waits for one (the loop starts
/// another worker once the urgent work has its slot), so an event-driven refresh waits
/// for one job at most, never for the whole queue.
async fn work(shared: Arc<Shared>, queue: Arc<Mutex<WorkQueue>>, class: Class, slot: SlotGuard) {
    let mut first = true;
    loop {
        if !first && shared.slots.should_yield(&slot) {
            break;
        }
        let next = lock(&queue).next_job(class, first);
        first = false;
        let Some(job) = next else { break };
        // Flights catch their fetcher's panics; this catches anything else, so one
        // account's bug never takes the loop down.
        if AssertUnwindSafe(job.run()).catch_unwind().await.is_err() {
            tracing::error!("a refresh job panicked; the loop keeps running");
        }
    }
}

/// Queues one periodic refresh per distinct account; the tick counts as done when the
/// last of them finishes.
fn queue_tick(shared: &Arc<Shared>, queue: &mut WorkQueue) {
    let progress = TickProgress::start(Arc::clone(&shared.tick_counters));
    for listed in shared.registry.accounts().iter() {
        let account = &listed.shared;
        if account.gate.is_flying()
            || !queue.push(Job::refresh(Listed::of(listed), Arc::clone(&progress)))
        {
            account
                .counters
                .skipped_busy
                .fetch_add(1, Ordering::Relaxed);
        }
    }
}

fn lock(queue: &Mutex<WorkQueue>) -> MutexGuard<'_, WorkQueue> {
    // Nothing panics while the queue is locked; a poisoned lock is still consistent.
    queue.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Runs the loop and restarts it if it panics: the panic is logged at `error`, counted in
/// [`RuntimeHealth::loop_restarts`], and refreshing goes on. (Fetcher panics never get
/// this far: each flight catches its own.)
pub(crate) async fn supervise(shared: Arc<Shared>, tasks: Tasks) {
    loop {
        shared.loop_running.store(true, Ordering::Release);
        let run = AssertUnwindSafe(run_loop(Arc::clone(&shared), tasks.clone()));
        let ended = run.catch_unwind().await;
        shared.loop_running.store(false, Ordering::Release);
        match ended {
            Ok(()) => return,
            Err(_) if tasks.is_stopping() => return,
            Err(_) => {
                shared.loop_restarts.fetch_add(1, Ordering::Relaxed);
                tracing::error!("the refresh loop panicked; restarting it");
            }
        }
    }
}
