//! The periodic refresh schedule: drift-free, jittered, skipping missed ticks.

use std::time::{Duration, Instant};

use crate::backoff::clamp_unit;

const NANOS_PER_SEC: u128 = 1_000_000_000;

/// Settings of a [`Schedule`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScheduleConfig {
    interval: Duration,
    jitter_fraction: f64,
}

impl ScheduleConfig {
    /// The default interval between periodic refreshes.
    pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(300);
    /// The default jitter: each deadline is delayed by up to this share of the interval.
    pub const DEFAULT_JITTER_FRACTION: f64 = 0.1;
    /// The largest jitter fraction accepted; larger values are clamped to it so that a
    /// jittered deadline always falls well before the next base deadline.
    pub const MAX_JITTER_FRACTION: f64 = 0.5;

    /// A schedule every `interval` (at least 1 ms) with the default jitter.
    pub fn new(interval: Duration) -> Self {
        Self {
            interval: interval.max(Duration::from_millis(1)),
            jitter_fraction: Self::DEFAULT_JITTER_FRACTION,
        }
    }

    /// Sets the jitter fraction, clamped to `[0, MAX_JITTER_FRACTION]`.
    pub fn with_jitter_fraction(mut self, fraction: f64) -> Self {
        self.jitter_fraction = clamp_unit(fraction).min(Self::MAX_JITTER_FRACTION);
        self
    }

    /// The interval.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// The jitter fraction.
    pub fn jitter_fraction(&self) -> f64 {
        self.jitter_fraction
    }
}

impl Default for ScheduleConfig {
    /// Every 300 s, up to 10 % jitter.
    fn default() -> Self {
        Self::new(Self::DEFAULT_INTERVAL)
    }
}

/// When the next periodic tick is due.
///
/// Base deadlines step by exactly one interval from the start (`start + k·interval`), so
/// time spent doing the work never accumulates as drift. Each tick fires at its base plus
/// a jitter offset of up to `jitter_fraction · interval`; the offset is not carried
/// forward. A tick that finishes after the next base deadline skips the missed ticks
/// instead of firing them in a burst.
///
/// ```
/// use std::time::{Duration, Instant};
/// use meridian_refresh_core::{Schedule, ScheduleConfig};
///
/// let start = Instant::now();
/// let mut schedule = Schedule::new(ScheduleConfig::new(Duration::from_secs(10)), start);
/// assert_eq!(schedule.deadline(0.0), start + Duration::from_secs(10));
/// // The tick ran late (at 35 s): ticks at 20 s and 30 s are skipped, not burst.
/// assert_eq!(schedule.advance(start + Duration::from_secs(35)), 2);
/// assert_eq!(schedule.deadline(0.0), start + Duration::from_secs(40));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Schedule {
    config: ScheduleConfig,
    base: Instant,
}

impl Schedule {
    /// A schedule whose first base deadline is one interval after `start`.
    pub fn new(config: ScheduleConfig, start: Instant) -> Self {
        Self {
            config,
            base: start + config.interval,
        }
    }

    /// The next tick's deadline for a `jitter` draw in `[0, 1]` (clamped).
    pub fn deadline(&self, jitter: f64) -> Instant {
        self.base + self.jitter_offset(jitter)
    }

    /// The next base deadline (without jitter).
    pub fn base(&self) -> Instant {
        self.base
    }

    /// Marks the current tick done at `now`, moving to the first base deadline after
    /// `now`. Returns how many ticks were skipped because `now` had already passed them.
    pub fn advance(&mut self, now: Instant) -> u64 {
        let interval = self.config.interval;
        let next = self.base + interval;
        if now < next {
            self.base = next;
            return 0;
        }
        // The first base strictly after `now` is `steps` intervals after `next`.
        let behind = now.duration_since(next).as_nanos() / interval.as_nanos();
        let steps = behind + 1;
        let total = interval.as_nanos().saturating_mul(steps);
        let offset = Duration::new(
            u64::try_from(total / NANOS_PER_SEC).unwrap_or(u64::MAX),
            u32::try_from(total % NANOS_PER_SEC).unwrap_or(0),
        );
        self.base = next.checked_add(offset).unwrap_or(now + interval);
        u64::try_from(steps).unwrap_or(u64::MAX)
    }

    /// The settings.
    pub fn config(&self) -> ScheduleConfig {
        self.config
    }

    fn jitter_offset(&self, jitter: f64) -> Duration {
        self.config
            .interval
            .mul_f64(self.config.jitter_fraction * clamp_unit(jitter))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn drift_free_over_a_thousand_ticks_with_jitter_and_slow_work() {
        let start = Instant::now();
        let mut schedule = Schedule::new(ScheduleConfig::new(secs(10)), start);
        for k in 1..=1_000u32 {
            let jitter = f64::from(k % 10) / 10.0;
            let fired = schedule.deadline(jitter);
            // Work takes a while after firing; it must not push later deadlines.
            let finished = fired + Duration::from_millis(2_500);
            assert_eq!(schedule.advance(finished), 0);
            assert_eq!(schedule.base(), start + secs(10) * (k + 1));
        }
    }

    #[test]
    fn jitter_stays_within_its_fraction_and_does_not_accumulate() {
        let start = Instant::now();
        let config = ScheduleConfig::new(secs(100)).with_jitter_fraction(0.1);
        let schedule = Schedule::new(config, start);
        assert_eq!(schedule.deadline(0.0), start + secs(100));
        assert_eq!(schedule.deadline(1.0), start + secs(110));
        assert_eq!(schedule.deadline(0.5), start + secs(105));
        assert_eq!(schedule.deadline(-3.0), start + secs(100));
        assert_eq!(schedule.deadline(9.0), start + secs(110));
    }

    #[test]
    fn jitter_fraction_is_clamped() {
        let config = ScheduleConfig::new(secs(10)).with_jitter_fraction(3.0);
        assert_eq!(
            config.jitter_fraction(),
            ScheduleConfig::MAX_JITTER_FRACTION
        );
        assert_eq!(
            ScheduleConfig::new(Duration::ZERO).interval(),
            Duration::from_millis(1)
        );
    }

    #[test]
    fn missed_ticks_are_skipped_not_burst() {
        let start = Instant::now();
        let mut schedule = Schedule::new(ScheduleConfig::new(secs(10)), start);
        // The tick due at 10 s finished at 10 s + 45 s: bases 20..=50 were missed.
        assert_eq!(schedule.advance(start + secs(55)), 4);
        assert_eq!(schedule.base(), start + secs(60));
        // Exactly on a base deadline counts that deadline as missed too.
        assert_eq!(schedule.advance(start + secs(70)), 1);
        assert_eq!(schedule.base(), start + secs(80));
    }

    #[test]
    fn a_very_long_stall_is_skipped_in_one_step() {
        let start = Instant::now();
        let mut schedule = Schedule::new(ScheduleConfig::new(Duration::from_millis(1)), start);
        let now = start + secs(3_600 * 24 * 365);
        let skipped = schedule.advance(now);
        assert!(schedule.base() > now);
        assert!(schedule.base() <= now + Duration::from_millis(1));
        assert_eq!(skipped, 3_600 * 24 * 365 * 1_000 - 1);
    }
}
