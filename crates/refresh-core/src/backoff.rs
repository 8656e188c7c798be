//! Exponential failure backoff with bounded, caller-supplied jitter.

use std::time::Duration;

/// Exponential backoff: `initial`, doubling per consecutive failure, capped at `max`,
/// then shortened by up to `jitter_fraction` of itself so that many accounts failing
/// together do not retry in lockstep.
///
/// ```
/// use std::time::Duration;
/// use meridian_refresh_core::Backoff;
///
/// let backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
/// assert_eq!(backoff.delay(1, 0.0), Duration::from_millis(100));
/// assert_eq!(backoff.delay(2, 0.0), Duration::from_millis(200));
/// assert_eq!(backoff.delay(30, 0.0), Duration::from_secs(5));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    jitter_fraction: f64,
}

impl Backoff {
    /// The default share of a delay that jitter may remove.
    pub const DEFAULT_JITTER_FRACTION: f64 = 0.2;

    /// A backoff from `initial` doubling up to `max`. The cap wins: an `initial` above
    /// `max` is lowered to it, so no delay ever exceeds `max`.
    pub fn new(initial: Duration, max: Duration) -> Self {
        Self {
            initial: initial.min(max),
            max,
            jitter_fraction: Self::DEFAULT_JITTER_FRACTION,
        }
    }

    /// Sets the share of each delay that jitter may remove, clamped to `[0, 1]`.
    pub fn with_jitter_fraction(mut self, fraction: f64) -> Self {
        self.jitter_fraction = clamp_unit(fraction);
        self
    }

    /// The first delay.
    pub fn initial(&self) -> Duration {
        self.initial
    }

    /// The cap.
    pub fn max(&self) -> Duration {
        self.max
    }

    /// The delay after `consecutive_failures` failures (0 means none: no delay).
    ///
    /// `jitter` in `[0, 1]` (clamped) removes up to `jitter_fraction` of the delay; pass
    /// `0.0` for the exact exponential value.
    pub fn delay(&self, consecutive_failures: u32, jitter: f64) -> Duration {
        if consecutive_failures == 0 {
            return Duration::ZERO;
        }
        let doublings = (consecutive_failures - 1).min(32);
        let base = self
            .initial
            .checked_mul(1u32 << doublings.min(31))
            .map_or(self.max, |d| d.min(self.max));
        let factor = 1.0 - self.jitter_fraction * clamp_unit(jitter);
        if factor >= 1.0 {
            return base;
        }
        // `mul_f64` panics when the product overflows (a huge `max`); never grow the delay.
        Duration::try_from_secs_f64(base.as_secs_f64() * factor).map_or(base, |d| d.min(base))
    }
}

impl Default for Backoff {
    /// 100 ms, doubling, capped at 5 s (the default event window).
    fn default() -> Self {
        Self::new(Duration::from_millis(100), Duration::from_secs(5))
    }
}

pub(crate) fn clamp_unit(x: f64) -> f64 {
    if x.is_nan() { 0.0 } else { x.clamp(0.0, 1.0) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_then_caps() {
        let b = Backoff::new(Duration::from_millis(100), Duration::from_millis(1_000));
        let delays: Vec<_> = (0..7).map(|n| b.delay(n, 0.0).as_millis()).collect();
        assert_eq!(delays, vec![0, 100, 200, 400, 800, 1_000, 1_000]);
        assert_eq!(b.delay(u32::MAX, 0.0), Duration::from_millis(1_000));
    }

    #[test]
    fn the_cap_wins_over_a_larger_initial_delay() {
        let b = Backoff::new(Duration::from_secs(10), Duration::from_secs(1));
        assert_eq!(b.initial(), Duration::from_secs(1));
        assert_eq!(b.delay(1, 0.0), Duration::from_secs(1));
        let huge = Backoff::new(Duration::MAX, Duration::MAX);
        assert_eq!(huge.delay(u32::MAX, 0.0), Duration::MAX);
    }

    #[test]
    fn jitter_only_shortens_within_its_fraction() {
        let b = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
        assert_eq!(b.delay(1, 1.0), Duration::from_millis(80));
        assert_eq!(b.delay(1, 0.5), Duration::from_millis(90));
        assert_eq!(
            b.delay(1, 7.0),
            Duration::from_millis(80),
            "jitter is clamped"
        );
        assert_eq!(b.delay(1, f64::NAN), Duration::from_millis(100));
    }
}
