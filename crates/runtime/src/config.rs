//! Runtime settings and their validation.

use std::time::Duration;

use meridian_refresh_core::{Backoff, GateConfig, ScheduleConfig};

/// Why [`RuntimeBuilder::build`](crate::RuntimeBuilder::build) refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// `build()` was called outside a tokio runtime: there is nowhere to run the loop.
    #[error("Runtime::builder().build() must be called inside a tokio runtime")]
    NoTokioRuntime,
    /// A setting is out of range.
    #[error("invalid runtime setting `{setting}`: {reason}")]
    Invalid {
        /// The builder method.
        setting: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
}

/// The validated settings of a runtime.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    pub(crate) refresh_interval: Duration,
    pub(crate) jitter_fraction: f64,
    pub(crate) jitter_seed: Option<u64>,
    pub(crate) event_min_interval: Duration,
    pub(crate) failure_backoff: Duration,
    pub(crate) fetch_timeout: Duration,
    pub(crate) concurrency: usize,
    pub(crate) unavailability_ttl: Duration,
    pub(crate) probe_interval: Duration,
    pub(crate) shutdown_grace: Duration,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        Self {
            refresh_interval: ScheduleConfig::DEFAULT_INTERVAL,
            jitter_fraction: ScheduleConfig::DEFAULT_JITTER_FRACTION,
            jitter_seed: None,
            event_min_interval: GateConfig::DEFAULT_MIN_INTERVAL,
            failure_backoff: Duration::from_millis(100),
            fetch_timeout: Duration::from_secs(10),
            concurrency: 8,
            unavailability_ttl: Duration::from_secs(60),
            probe_interval: Duration::from_secs(10),
            shutdown_grace: Duration::from_secs(5),
        }
    }
}

impl RuntimeConfig {
    /// The periodic refresh interval.
    pub fn refresh_interval(&self) -> Duration {
        self.refresh_interval
    }

    /// The per-fetch (and per-probe) timeout.
    pub fn fetch_timeout(&self) -> Duration {
        self.fetch_timeout
    }

    /// How many accounts a tick fetches at once.
    pub fn concurrency(&self) -> usize {
        self.concurrency
    }

    pub(crate) fn schedule(&self) -> ScheduleConfig {
        ScheduleConfig::new(self.refresh_interval).with_jitter_fraction(self.jitter_fraction)
    }

    pub(crate) fn gate(&self) -> GateConfig {
        GateConfig::default()
            .with_min_interval(self.event_min_interval)
            .with_backoff(Backoff::new(self.failure_backoff, self.event_min_interval))
    }

    pub(crate) fn validate(&self) -> Result<(), BuildError> {
        let invalid = |setting, reason| Err(BuildError::Invalid { setting, reason });
        if self.refresh_interval.is_zero() {
            return invalid("refresh_interval", "must be greater than zero");
        }
        if !(0.0..=ScheduleConfig::MAX_JITTER_FRACTION).contains(&self.jitter_fraction) {
            return invalid("jitter_fraction", "must be within 0.0..=0.5");
        }
        if self.event_min_interval.is_zero() {
            return invalid("event_min_interval", "must be greater than zero");
        }
        if self.failure_backoff.is_zero() {
            return invalid("failure_backoff", "must be greater than zero");
        }
        if self.fetch_timeout.is_zero() {
            return invalid("fetch_timeout", "must be greater than zero");
        }
        if self.concurrency == 0 {
            return invalid("concurrency", "must be at least 1");
        }
        if self.unavailability_ttl.is_zero() {
            return invalid("unavailability_ttl", "must be greater than zero");
        }
        if self.probe_interval.is_zero() {
            return invalid("probe_interval", "must be greater than zero");
        }
        Ok(())
    }
}
