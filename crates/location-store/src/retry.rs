//! Retry budgets: how many retries of each class one operation may spend.

use std::time::Duration;

use meridian_refresh_core::Backoff;

use crate::outcome::{Action, GiveUpReason, RetryClass, RetryTarget};

/// The most cross-region retries one operation may spend, however many regions the
/// account lists: the budget is `min(regions + 1, MAX_CROSS_REGION_RETRIES)`, so an
/// account with many unreachable regions cannot stretch one operation to minutes.
pub const MAX_CROSS_REGION_RETRIES: usize = 10;

/// Budgets for one operation's retries.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Cumulative delay allowed for backend failovers (403/3, 403/1008). Default 5 s.
    pub failover_budget: Duration,
    /// Backoff between backend-failover retries after the first (immediate) one.
    /// Default 100 ms doubling to 1 s.
    pub failover_backoff: Backoff,
    /// Most backend-failover retries, whatever the budget and backoff say (so a zero
    /// backoff still ends). Default 16.
    pub max_failover_retries: u32,
    /// Most 429 retries. Default 9.
    pub max_throttle_retries: u32,
    /// Most total 429 wait. Default 30 s.
    pub max_throttle_wait: Duration,
    /// Most same-region retries after a partition move (410/1002...). Default 3.
    pub max_partition_retries: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            failover_budget: Duration::from_secs(5),
            failover_backoff: Backoff::new(Duration::from_millis(100), Duration::from_secs(1)),
            max_failover_retries: 16,
            max_throttle_retries: 9,
            max_throttle_wait: Duration::from_secs(30),
            max_partition_retries: 3,
        }
    }
}

impl RetryPolicy {
    /// Sets the cumulative backend-failover budget (any value; sums saturate).
    pub fn with_failover_budget(mut self, budget: Duration) -> Self {
        self.failover_budget = budget;
        self
    }

    /// Sets the backoff between backend-failover retries.
    pub fn with_failover_backoff(mut self, backoff: Backoff) -> Self {
        self.failover_backoff = backoff;
        self
    }

    /// Sets the most backend-failover retries of one operation.
    pub fn with_max_failover_retries(mut self, retries: u32) -> Self {
        self.max_failover_retries = retries;
        self
    }
}

/// The next step of an operation's retry loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Retry at `target` after `delay`.
    Retry {
        /// Where.
        target: RetryTarget,
        /// How long to wait first.
        delay: Duration,
    },
    /// The last response is the answer.
    Done,
    /// Stop: the outcome says retrying is wrong.
    GiveUp(GiveUpReason),
    /// Stop: the retry class's budget is spent.
    Exhausted(RetryClass),
}

/// The budgets one operation has spent so far.
///
/// ```
/// use meridian_location_store::{classify, Next, OperationKind, OperationOutcome, RetryPolicy, RetryState};
///
/// let mut retries = RetryState::new(RetryPolicy::default(), 2);
/// let unavailable = classify(&OperationOutcome::response(OperationKind::Read, 503, None));
/// // Two regions: at most three cross-region retries.
/// for _ in 0..3 {
///     assert!(matches!(retries.next(&unavailable.action, 0.0), Next::Retry { .. }));
/// }
/// assert!(matches!(retries.next(&unavailable.action, 0.0), Next::Exhausted(_)));
/// ```
#[derive(Debug, Clone)]
pub struct RetryState {
    policy: RetryPolicy,
    regions: usize,
    failover_retries: u32,
    failover_spent: Duration,
    cross_region_retries: usize,
    session_retries: u32,
    throttle_retries: u32,
    throttle_waited: Duration,
    partition_retries: u32,
}

impl RetryState {
    /// Fresh budgets for an operation over `regions` candidate regions.
    pub fn new(policy: RetryPolicy, regions: usize) -> Self {
        Self {
            policy,
            regions,
            failover_retries: 0,
            failover_spent: Duration::ZERO,
            cross_region_retries: 0,
            session_retries: 0,
            throttle_retries: 0,
            throttle_waited: Duration::ZERO,
            partition_retries: 0,
        }
    }

    /// Spends budget for `action`. `jitter` in `[0, 1]` shortens failover backoffs.
    pub fn next(&mut self, action: &Action, jitter: f64) -> Next {
        let (target, class, after) = match *action {
            Action::Done => return Next::Done,
            Action::GiveUp(reason) => return Next::GiveUp(reason),
            Action::Retry {
                target,
                class,
                after,
            } => (target, class, after),
        };
        let delay = match class {
            RetryClass::BackendFailover => {
                let delay = if self.failover_retries == 0 {
                    Duration::ZERO
                } else {
                    self.policy
                        .failover_backoff
                        .delay(self.failover_retries, jitter)
                };
                let spent = self.failover_spent.saturating_add(delay);
                if self.failover_retries >= self.policy.max_failover_retries
                    || spent > self.policy.failover_budget
                {
                    return Next::Exhausted(class);
                }
                self.failover_retries += 1;
                self.failover_spent = spent;
                delay
            }
            RetryClass::CrossRegion => {
                let budget = self.regions.saturating_add(1).min(MAX_CROSS_REGION_RETRIES);
                if self.cross_region_retries >= budget {
                    return Next::Exhausted(class);
                }
                self.cross_region_retries += 1;
                Duration::ZERO
            }
            RetryClass::Throttle => {
                let waited = self.throttle_waited.saturating_add(after);
                if self.throttle_retries >= self.policy.max_throttle_retries
                    || waited > self.policy.max_throttle_wait
                {
                    return Next::Exhausted(class);
                }
                self.throttle_retries += 1;
                self.throttle_waited = waited;
                after
            }
            RetryClass::SessionRead => {
                // 404/1002: the region has not caught up with the session. With more than
                // two regions the next region may have; then the write region, which has.
                let route = if self.regions > 2 {
                    [RetryTarget::NextRegion, RetryTarget::WriteRegion].as_slice()
                } else {
                    [RetryTarget::WriteRegion].as_slice()
                };
                let Some(&next) = route.get(self.session_retries as usize) else {
                    return Next::Exhausted(class);
                };
                self.session_retries += 1;
                return Next::Retry {
                    target: next,
                    delay: Duration::ZERO,
                };
            }
            RetryClass::PartitionMove => {
                if self.partition_retries >= self.policy.max_partition_retries {
                    return Next::Exhausted(class);
                }
                self.partition_retries += 1;
                Duration::ZERO
            }
        };
        Next::Retry { target, delay }
    }
}
