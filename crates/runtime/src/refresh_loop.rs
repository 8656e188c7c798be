//! The one background task per runtime: it keeps the schedule, queues each tick's and
//! each probe round's work, and runs that work under the runtime-wide slots. It never
//! waits for a fetch, so a hung account shifts nobody's schedule.

use std::collections::VecDeque;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures_util::stream::FuturesUnordered;
use futures_util::{FutureExt, StreamExt};
use meridian_refresh_core::{Schedule, SlotClass, saturating_add};
use tokio::time::Instant;

use crate::account::{AccountState, now};
use crate::credentials::Credentials;
use crate::runtime::Shared;
use crate::tasks::Tasks;
use crate::tick::TickProgress;

/// One unit of queued work.
enum Job {
    /// A periodic refresh, counted towards the tick that queued it.
    Refresh(Arc<AccountState>, Arc<TickProgress>),
    /// A probe round over the account's expired marks.
    Probe(Arc<AccountState>),
}

impl Job {
    fn account(&self) -> &Arc<AccountState> {
        match self {
            Self::Refresh(account, _) | Self::Probe(account) => account,
        }
    }

    /// Suspect work holds at most half the slots: probes (they target endpoints that
    /// failed) and anything of an account whose last fetch failed.
    fn suspect(&self) -> bool {
        matches!(self, Self::Probe(_)) || self.account().is_failing()
    }

    fn flag(&self) -> &AtomicBool {
        let counters = &self.account().counters;
        match self {
            Self::Refresh(..) => &counters.queued,
            Self::Probe(_) => &counters.probe_queued,
        }
    }
}

type Running = FuturesUnordered<Pin<Box<dyn Future<Output = ()> + Send>>>;

/// Jobs waiting for a slot: healthy accounts' and suspect ones' in separate FIFO queues,
/// so a suspect job at the head never holds back a healthy one behind it.
#[derive(Default)]
struct Queue {
    healthy: VecDeque<Job>,
    suspect: VecDeque<Job>,
}

impl Queue {
    fn is_empty(&self) -> bool {
        self.healthy.is_empty() && self.suspect.is_empty()
    }

    /// Queues `job` unless the same kind of job of that account is already queued.
    fn push(&mut self, job: Job) -> bool {
        if job.flag().swap(true, Ordering::AcqRel) {
            return false;
        }
        if job.suspect() {
            self.suspect.push_back(job);
        } else {
            self.healthy.push_back(job);
        }
        true
    }

    /// Starts queued jobs while slots allow.
    fn dispatch(&mut self, shared: &Shared, running: &mut Running) {
        for (queue, suspect) in [(&mut self.healthy, false), (&mut self.suspect, true)] {
            while !queue.is_empty() {
                let Some(slot) = shared.slots.try_acquire(SlotClass::Routine, suspect) else {
                    break;
                };
                let Some(job) = queue.pop_front() else { break };
                job.flag().store(false, Ordering::Release);
                let credentials = Credentials::of(&shared.registry, &job.account().spec.endpoint);
                let work: Pin<Box<dyn Future<Output = ()> + Send>> = match job {
                    Job::Refresh(account, tick) => Box::pin(async move {
                        account.refresh_periodic(credentials, slot).await;
                        drop(tick);
                    }),
                    Job::Probe(account) => Box::pin(account.probe_due(credentials, slot)),
                };
                // Flights catch their fetcher's panics; this catches anything else, so one
                // account's bug never takes the loop down.
                running.push(Box::pin(AssertUnwindSafe(work).catch_unwind().map(|r| {
                    if r.is_err() {
                        tracing::error!("a refresh job panicked; the loop keeps running");
                    }
                })));
            }
        }
    }
}

/// Runs until the runtime stops.
///
/// At each deadline it snapshots the registry (no lock is held afterwards) and queues a
/// periodic refresh of every account — except those whose previous refresh is still
/// running or still queued, which are skipped and counted, so ticks never pile up and a
/// recovered account never bursts. Probe rounds are queued the same way. Queued work
/// starts as routine slots free up; an event-driven refresh takes an urgent slot and
/// never waits behind this queue (see [`FetchSlots`](meridian_refresh_core::FetchSlots)).
pub(crate) async fn run_loop(shared: Arc<Shared>, tasks: Tasks) {
    let config = &shared.config;
    let mut rng = config
        .jitter_seed
        .map_or_else(fastrand::Rng::new, fastrand::Rng::with_seed);
    let mut schedule = Schedule::new(config.schedule(), now());
    let mut tick_at = schedule.deadline(rng.f64());
    let mut probe_at = saturating_add(now(), config.probe_interval);
    let mut queue = Queue::default();
    let mut running = Running::new();
    loop {
        queue.dispatch(&shared, &mut running);
        let released = shared.slots.released();
        tokio::pin!(released);
        released.as_mut().enable();
        if !queue.is_empty() {
            // A slot freed between the dispatch and `enable` would be missed otherwise.
            queue.dispatch(&shared, &mut running);
        }
        let wake = Instant::from_std(tick_at.min(probe_at));
        tokio::select! {
            biased;
            () = tasks.stopped() => break,
            Some(()) = running.next(), if !running.is_empty() => continue,
            () = &mut released, if !queue.is_empty() => continue,
            () = tokio::time::sleep_until(wake) => {}
        }
        if now() >= tick_at {
            queue_tick(&shared, &mut queue);
            let skipped = schedule.advance(now());
            if skipped > 0 {
                tracing::warn!(skipped, "refresh loop woke late; skipping missed ticks");
            }
            tick_at = schedule.deadline(rng.f64());
        }
        if now() >= probe_at {
            for (_, account) in shared.registry.accounts() {
                if account.store.marked_count() > 0 {
                    queue.push(Job::Probe(account));
                }
            }
            probe_at = saturating_add(now(), config.probe_interval);
        }
    }
    // Graceful stop: let the work already running finish (the runtime aborts it after
    // the shutdown grace); queued work is dropped.
    drop(queue);
    while running.next().await.is_some() {}
}

/// Queues one periodic refresh per distinct account; the tick counts as done when the
/// last of them finishes.
fn queue_tick(shared: &Arc<Shared>, queue: &mut Queue) {
    let progress = TickProgress::start(Arc::clone(shared));
    for (_, account) in shared.registry.accounts() {
        if account.gate.in_flight().is_some()
            || !queue.push(Job::Refresh(Arc::clone(&account), Arc::clone(&progress)))
        {
            account
                .counters
                .skipped_busy
                .fetch_add(1, Ordering::Relaxed);
        }
    }
}
