//! Every task the runtime spawns, tracked and cancellable as one group.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The runtime's task group: the refresh loop's supervisor (the loop runs every tick's and
/// probe round's work itself, in its own task) and every flight started outside it (an
/// attach's first fetch, event-driven refreshes).
///
/// Two levels: *stop* (graceful: the loop exits, nothing new is spawned, fetches in
/// flight may finish) and *abort* (every task is dropped at its next poll). Aborting
/// implies stopping.
#[derive(Debug, Clone)]
pub(crate) struct Tasks {
    tracker: TaskTracker,
    abort: CancellationToken,
    stop: CancellationToken,
    /// Set before `stop` is cancelled: every operation asks whether the runtime is
    /// stopping, and a token's `is_cancelled` locks the token's mutex — one mutex for
    /// every caller of the runtime, a hot line moving between cores on each operation.
    stopping: Arc<AtomicBool>,
    handle: tokio::runtime::Handle,
}

impl Tasks {
    pub(crate) fn new(handle: tokio::runtime::Handle) -> Self {
        let abort = CancellationToken::new();
        Self {
            tracker: TaskTracker::new(),
            stop: abort.child_token(),
            abort,
            stopping: Arc::new(AtomicBool::new(false)),
            handle,
        }
    }

    /// Spawns `future` in the group; it is dropped unfinished if the group is aborted.
    /// Returns `false` (and drops `future` at once) once the group is stopping.
    pub(crate) fn spawn(&self, future: impl Future<Output = ()> + Send + 'static) -> bool {
        if self.is_stopping() {
            return false;
        }
        let cancel = self.abort.clone();
        self.tracker.spawn_on(
            async move {
                tokio::select! {
                    biased;
                    () = cancel.cancelled() => {}
                    () = future => {}
                }
            },
            &self.handle,
        );
        true
    }

    /// Graceful: the loop exits at its next wake-up and nothing new is spawned.
    pub(crate) fn stop(&self) {
        self.stopping.store(true, Ordering::Release);
        self.stop.cancel();
        self.tracker.close();
    }

    /// Immediate: every task is dropped at its next poll.
    pub(crate) fn abort(&self) {
        self.stopping.store(true, Ordering::Release);
        self.abort.cancel();
        self.tracker.close();
    }

    pub(crate) fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::Acquire)
    }

    pub(crate) fn stopped(&self) -> tokio_util::sync::WaitForCancellationFuture<'_> {
        self.stop.cancelled()
    }

    pub(crate) fn monitor(&self) -> TaskMonitor {
        TaskMonitor {
            tracker: self.tracker.clone(),
        }
    }
}

/// A view of the runtime's tasks that outlives the runtime, so a test (or an operator)
/// can prove that nothing of the runtime is left running after it is dropped.
#[derive(Debug, Clone)]
pub struct TaskMonitor {
    tracker: TaskTracker,
}

impl TaskMonitor {
    /// Tasks of the runtime still alive: the loop and any first or event-driven fetch in
    /// flight.
    pub fn live_tasks(&self) -> usize {
        self.tracker.len()
    }

    /// Waits until the runtime is shut down or dropped and every task has ended, at most
    /// `limit`. Returns whether that happened in time.
    pub async fn wait_idle(&self, limit: Duration) -> bool {
        tokio::time::timeout(limit, self.tracker.wait())
            .await
            .is_ok()
    }
}
