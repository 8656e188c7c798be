//! Instant arithmetic that never panics, whatever the settings.

use std::time::{Duration, Instant};

/// `at + delay`, or the latest instant the platform can represent after `at` when the sum
/// overflows (an "effectively never" setting such as `Duration::MAX`).
///
/// ```
/// use std::time::{Duration, Instant};
/// use meridian_refresh_core::saturating_add;
///
/// let now = Instant::now();
/// assert_eq!(saturating_add(now, Duration::from_secs(1)), now + Duration::from_secs(1));
/// assert!(saturating_add(now, Duration::MAX) > now + Duration::from_secs(3_600 * 24 * 365));
/// ```
pub fn saturating_add(at: Instant, delay: Duration) -> Instant {
    let mut delay = delay;
    loop {
        if let Some(later) = at.checked_add(delay) {
            return later;
        }
        // Halving converges on the largest representable offset in at most ~94 steps.
        delay /= 2;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_panics_and_never_goes_backwards() {
        let now = Instant::now();
        for delay in [Duration::ZERO, Duration::from_nanos(1), Duration::MAX] {
            assert!(saturating_add(now, delay) >= now);
        }
    }
}
