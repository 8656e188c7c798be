//! The loop's queue of periodic refreshes and probe rounds, and what one job does.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use meridian_location_store::Endpoint;
use meridian_refresh_core::{ListedAccount, SubscriberLink};

use crate::account::AccountState;
use crate::credentials::Credentials;
use crate::fetcher::AccountFetcher;
use crate::tick::TickProgress;

/// One account a tick (or probe round) listed: its state, and a link to its registry
/// entry through which the job reads its live handles' credentials when its fetch starts —
/// with no registry lookup. A job holds its own account only, never the whole list.
pub(crate) struct Listed {
    state: Arc<AccountState>,
    link: SubscriberLink<Arc<dyn AccountFetcher>>,
}

impl Listed {
    /// The job's hold on one account of a tick's list.
    pub(crate) fn of(
        listed: &ListedAccount<Endpoint, Arc<dyn AccountFetcher>, Arc<AccountState>>,
    ) -> Self {
        Self {
            state: Arc::clone(&listed.shared),
            link: listed.link(),
        }
    }

    pub(crate) fn state(&self) -> &Arc<AccountState> {
        &self.state
    }

    /// The credentials of the account's handles alive now.
    fn credentials(&self) -> Credentials {
        Credentials::newest_first(self.link.subscribers())
    }
}

/// One unit of queued work. While it exists it holds its account's flag for its kind
/// ("queued or running"), so the loop never queues a second refresh or probe round of
/// one account while one waits or runs; dropping it — done, cancelled, or thrown away
/// with the queue when the loop stops or panics — releases the flag.
pub(crate) struct Job {
    listed: Listed,
    kind: JobKind,
    /// Whether this job set its account's flag (a refused duplicate did not).
    claimed: bool,
}

enum JobKind {
    /// A periodic refresh. The tick that queued it counts as done when its last job is
    /// dropped: held, never read.
    Refresh { _tick: Arc<TickProgress> },
    /// A probe round over the account's expired marks.
    Probe,
}

/// Which slots a job may take: suspect work (probes, accounts whose last fetch failed)
/// holds at most half of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    Healthy,
    Suspect,
}

impl Job {
    /// A periodic refresh of `listed`, counted towards `tick`.
    pub(crate) fn refresh(listed: Listed, tick: Arc<TickProgress>) -> Self {
        Self {
            listed,
            kind: JobKind::Refresh { _tick: tick },
            claimed: false,
        }
    }

    /// A probe round over `listed`'s expired marks.
    pub(crate) fn probe(listed: Listed) -> Self {
        Self {
            listed,
            kind: JobKind::Probe,
            claimed: false,
        }
    }

    fn account(&self) -> &Arc<AccountState> {
        self.listed.state()
    }

    fn class(&self) -> Class {
        if matches!(self.kind, JobKind::Probe) || self.account().is_failing() {
            Class::Suspect
        } else {
            Class::Healthy
        }
    }

    /// The account's "queued or running" flag for this kind of job.
    fn flag(&self) -> &AtomicBool {
        let counters = &self.account().counters;
        match self.kind {
            JobKind::Refresh { .. } => &counters.queued,
            JobKind::Probe => &counters.probe_queued,
        }
    }

    /// Sets the account's flag; `false` if another job of this kind already holds it.
    fn claim(&mut self) -> bool {
        self.claimed = !self.flag().swap(true, Ordering::AcqRel);
        self.claimed
    }

    /// Runs the job (the caller holds a slot), signed with the credentials of the
    /// account's handles alive now; with none — the last one left after the job was
    /// queued — there is nobody to refresh or probe for, and nothing is done.
    pub(crate) async fn run(self) {
        let credentials = self.listed.credentials();
        if credentials.is_empty() {
            return;
        }
        let state = self.listed.state();
        match self.kind {
            JobKind::Refresh { .. } => state.refresh_periodic(&credentials).await,
            JobKind::Probe => state.probe_due(&credentials).await,
        }
    }
}

impl Drop for Job {
    fn drop(&mut self) {
        if self.claimed {
            self.flag().store(false, Ordering::Release);
        }
    }
}

/// Jobs waiting for a worker, healthy and suspect in separate FIFO queues (so a suspect
/// job at the head never holds back a healthy one), and how many workers drain each.
#[derive(Default)]
pub(crate) struct WorkQueue {
    healthy: VecDeque<Job>,
    suspect: VecDeque<Job>,
    /// Workers started but not yet at their first job, per class. A worker busy with a
    /// job (perhaps a hung one) takes nothing else until it is done, so only these count
    /// as capacity for the jobs waiting.
    starting: [usize; 2],
}

impl WorkQueue {
    /// Queues `job` unless the same kind of job of that account is already queued or
    /// running.
    pub(crate) fn push(&mut self, mut job: Job) -> bool {
        if !job.claim() {
            return false;
        }
        match job.class() {
            Class::Healthy => self.healthy.push_back(job),
            Class::Suspect => self.suspect.push_back(job),
        }
        true
    }

    /// Whether `class` has more queued jobs than starting workers to take them.
    pub(crate) fn wants_worker(&self, class: Class) -> bool {
        self.jobs(class).len() > self.starting[class as usize]
    }

    pub(crate) fn worker_started(&mut self, class: Class) {
        self.starting[class as usize] += 1;
    }

    /// The next job of `class` for a worker (`first`: its first look). A worker that
    /// gets `None` retires; between jobs a worker takes the next at once, in this call.
    pub(crate) fn next_job(&mut self, class: Class, first: bool) -> Option<Job> {
        if first {
            self.starting[class as usize] = self.starting[class as usize].saturating_sub(1);
        }
        match class {
            Class::Healthy => self.healthy.pop_front(),
            Class::Suspect => self.suspect.pop_front(),
        }
    }

    /// Drops every queued job (releasing their accounts' flags).
    pub(crate) fn clear(&mut self) {
        self.healthy.clear();
        self.suspect.clear();
    }

    fn jobs(&self, class: Class) -> &VecDeque<Job> {
        match class {
            Class::Healthy => &self.healthy,
            Class::Suspect => &self.suspect,
        }
    }
}
