//! A gate's settings: the event window and the failure backoff capped at it.

use std::time::Duration;

use crate::backoff::Backoff;

/// Settings of a [`RefreshGate`](crate::RefreshGate).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GateConfig {
    min_interval: Duration,
    region_failure_interval: Duration,
    backoff: Backoff,
}

impl GateConfig {
    /// The default minimum interval between successful event-driven refreshes.
    pub const DEFAULT_MIN_INTERVAL: Duration = Duration::from_secs(5);

    /// Sets the minimum interval between a success and the next event-driven start.
    /// The failure backoff's cap is lowered to it if higher, so a failing account is
    /// retried at least once per window.
    pub fn with_min_interval(mut self, min_interval: Duration) -> Self {
        self.min_interval = min_interval;
        self.region_failure_interval = self.region_failure_interval.min(min_interval);
        self.backoff = Backoff::new(self.backoff.initial(), self.backoff.max().min(min_interval));
        self
    }

    /// Sets the failure backoff (its cap is lowered to `min_interval` if higher).
    pub fn with_backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = if backoff.max() > self.min_interval {
            Backoff::new(backoff.initial(), self.min_interval)
        } else {
            backoff
        };
        self
    }

    /// Sets how long region-failure signals are held after one that learned nothing
    /// (at most `min_interval`; default: `min_interval`). During an outage that does not
    /// change the document this is how often the account is fetched again — and so how
    /// late a failover that follows the outage can be seen, since writers then only meet
    /// the dead region's transport failures, never a 403/3.
    pub fn with_region_failure_interval(mut self, interval: Duration) -> Self {
        self.region_failure_interval = interval.min(self.min_interval);
        self
    }

    /// The minimum interval.
    pub fn min_interval(&self) -> Duration {
        self.min_interval
    }

    /// The interval region-failure signals are held after one that learned nothing.
    pub fn region_failure_interval(&self) -> Duration {
        self.region_failure_interval
    }

    /// The failure backoff.
    pub fn backoff(&self) -> Backoff {
        self.backoff
    }
}

impl Default for GateConfig {
    /// 5 s window; backoff 100 ms doubling, capped at the window.
    fn default() -> Self {
        Self {
            min_interval: Self::DEFAULT_MIN_INTERVAL,
            region_failure_interval: Self::DEFAULT_MIN_INTERVAL,
            backoff: Backoff::default(),
        }
    }
}
