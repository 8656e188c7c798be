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
    /// A duration setting is outside its bounds.
    #[error("runtime setting `{setting}` is {value:?}; it must be within {min:?}..={max:?}")]
    DurationOutOfRange {
        /// The builder method.
        setting: &'static str,
        /// The value given.
        value: Duration,
        /// The smallest accepted value.
        min: Duration,
        /// The largest accepted value.
        max: Duration,
    },
    /// A count setting is outside its bounds.
    #[error("runtime setting `{setting}` is {value}; it must be within {min}..={max}")]
    CountOutOfRange {
        /// The builder method.
        setting: &'static str,
        /// The value given.
        value: usize,
        /// The smallest accepted value.
        min: usize,
        /// The largest accepted value.
        max: usize,
    },
}

impl BuildError {
    /// The setting that was refused, if a setting was.
    pub fn setting(&self) -> Option<&'static str> {
        match self {
            Self::Invalid { setting, .. }
            | Self::DurationOutOfRange { setting, .. }
            | Self::CountOutOfRange { setting, .. } => Some(setting),
            Self::NoTokioRuntime => None,
        }
    }
}

const MS: Duration = Duration::from_millis(1);
const DAY: Duration = Duration::from_secs(24 * 3_600);
const HOUR: Duration = Duration::from_secs(3_600);

/// The bounds of every duration setting: (name, min, max). Long enough for any real use,
/// short enough that no deadline arithmetic can overflow.
pub(crate) const DURATION_BOUNDS: [(&str, Duration, Duration); 8] = [
    ("refresh_interval", MS, DAY),
    ("event_min_interval", MS, HOUR),
    ("failure_backoff", MS, HOUR),
    ("fetch_timeout", MS, HOUR),
    ("unavailability_ttl", MS, DAY),
    ("probe_interval", MS, DAY),
    ("first_probe_delay", MS, DAY),
    ("shutdown_grace", Duration::ZERO, HOUR),
];

/// How long a fresh mark holds before its first probe, by default: failback about a
/// second after a region returns, and at most one probe per marked endpoint per second
/// per runtime, however many drivers share it.
pub const DEFAULT_FIRST_PROBE_DELAY: Duration = Duration::from_secs(1);

/// Consecutive failures of one partition key range in one region that mark it there, by
/// default (the circuit breaker; automatic failover moves writes at the first refusal).
pub const DEFAULT_PARTITION_FAILURE_THRESHOLD: u32 = 3;

/// The most (container, range, region) entries of partition state one account keeps: at
/// the cap a new failure evicts a counter that marks nothing, or is not tracked.
pub const MAX_PARTITION_ENTRIES: usize = 10_000;

/// The most fetches and probes a runtime runs at once.
pub const MAX_CONCURRENCY: usize = 4_096;

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
    pub(crate) first_probe_delay: Duration,
    pub(crate) shutdown_grace: Duration,
    /// Consecutive failures of one partition key range in one region that mark it there.
    pub(crate) partition_failure_threshold: u32,
    /// The most (container, range, region) entries of partition state per account.
    pub(crate) partition_max_entries: usize,
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
            first_probe_delay: DEFAULT_FIRST_PROBE_DELAY,
            shutdown_grace: Duration::from_secs(5),
            partition_failure_threshold: DEFAULT_PARTITION_FAILURE_THRESHOLD,
            partition_max_entries: MAX_PARTITION_ENTRIES,
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

    /// How many fetches and probes (periodic, event-driven, first fetches) run at once,
    /// runtime-wide.
    pub fn concurrency(&self) -> usize {
        self.concurrency
    }

    /// The minimum interval between signal-driven refreshes that learn nothing.
    pub fn event_min_interval(&self) -> Duration {
        self.event_min_interval
    }

    pub(crate) fn schedule(&self) -> ScheduleConfig {
        ScheduleConfig::new(self.refresh_interval).with_jitter_fraction(self.jitter_fraction)
    }

    pub(crate) fn gate(&self) -> GateConfig {
        // An outage that changes nothing is re-fetched once per fetch timeout at most
        // (5 s with the defaults, as before): a failover that follows it is then seen
        // within one fetch timeout and one fetch.
        GateConfig::default()
            .with_min_interval(self.event_min_interval)
            .with_region_failure_interval(self.fetch_timeout)
            .with_backoff(Backoff::new(self.failure_backoff, self.event_min_interval))
    }

    /// Checks every setting against its bounds; the first one outside them is named.
    pub(crate) fn validate(&self) -> Result<(), BuildError> {
        if !(0.0..=ScheduleConfig::MAX_JITTER_FRACTION).contains(&self.jitter_fraction) {
            return Err(BuildError::Invalid {
                setting: "jitter_fraction",
                reason: "must be within 0.0..=0.5",
            });
        }
        let values = [
            self.refresh_interval,
            self.event_min_interval,
            self.failure_backoff,
            self.fetch_timeout,
            self.unavailability_ttl,
            self.probe_interval,
            self.first_probe_delay,
            self.shutdown_grace,
        ];
        for ((setting, min, max), value) in DURATION_BOUNDS.into_iter().zip(values) {
            if !(min..=max).contains(&value) {
                return Err(BuildError::DurationOutOfRange {
                    setting,
                    value,
                    min,
                    max,
                });
            }
        }
        if !(1..=1_000).contains(&self.partition_failure_threshold) {
            return Err(BuildError::CountOutOfRange {
                setting: "partition_failure_threshold",
                value: usize::try_from(self.partition_failure_threshold).unwrap_or(usize::MAX),
                min: 1,
                max: 1_000,
            });
        }
        if !(1..=MAX_CONCURRENCY).contains(&self.concurrency) {
            return Err(BuildError::CountOutOfRange {
                setting: "concurrency",
                value: self.concurrency,
                min: 1,
                max: MAX_CONCURRENCY,
            });
        }
        Ok(())
    }
}
