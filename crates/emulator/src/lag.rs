//! The account's replication settings — consistency, each region's lag, the cap on a
//! container's write log — and the one rule they decide: whether a region sees a logged
//! write yet. The code that walks containers with them is in `replication.rs`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use tokio::time::Instant;

use crate::consistency::Consistency;
use crate::topology::canonical;
use crate::write_log::Entry;

/// The largest replication lag accepted: one hour.
pub const MAX_REPLICATION_LAG: Duration = Duration::from_secs(3_600);

/// The default cap on a container's replication log: writes not yet applied in every
/// region. A write past it is refused (429) until the lagging regions catch up.
pub const DEFAULT_REPLICATION_LOG_LIMIT: usize = 10_000;

/// The account's replication settings.
#[derive(Debug)]
pub(crate) struct Replication {
    pub(crate) consistency: Consistency,
    pub(crate) default_lag: Duration,
    /// Per-region overrides, by canonical name.
    pub(crate) lags: BTreeMap<String, Duration>,
    /// Every region's canonical name: an entry all of them see is dropped.
    pub(crate) regions: BTreeSet<String>,
    /// The most entries one container's log may hold.
    pub(crate) log_limit: usize,
    pub(crate) view_copies: AtomicU64,
}

impl Default for Replication {
    fn default() -> Self {
        Self::new(Consistency::default(), Duration::ZERO)
    }
}

/// Checks a lag against [`MAX_REPLICATION_LAG`].
pub(crate) fn check_lag(lag: Duration) -> Result<Duration, String> {
    if lag > MAX_REPLICATION_LAG {
        Err(format!(
            "the replication lag must be at most {} ms",
            MAX_REPLICATION_LAG.as_millis()
        ))
    } else {
        Ok(lag)
    }
}

impl Replication {
    pub(crate) fn new(consistency: Consistency, lag: Duration) -> Self {
        Self {
            consistency,
            default_lag: lag,
            lags: BTreeMap::new(),
            regions: BTreeSet::new(),
            log_limit: DEFAULT_REPLICATION_LOG_LIMIT,
            view_copies: AtomicU64::new(0),
        }
    }

    /// Caps every container's log at `limit` entries (at least one).
    pub(crate) fn with_log_limit(mut self, limit: usize) -> Self {
        self.log_limit = limit.max(1);
        self
    }

    /// A region joins: entries are kept until it sees them too.
    pub(crate) fn add_region(&mut self, region: &str) {
        self.regions.insert(canonical(region));
    }

    /// Sets the lag of one region, or of every region (clearing per-region overrides).
    pub(crate) fn set_lag(&mut self, region: Option<&str>, lag: Duration) {
        match region {
            Some(region) => {
                self.lags.insert(canonical(region), lag);
            }
            None => {
                self.default_lag = lag;
                self.lags.clear();
            }
        }
    }

    pub(crate) fn lag(&self, region: &str) -> Duration {
        self.canonical_lag(&canonical(region))
    }

    /// The lag of a region named canonically.
    pub(crate) fn canonical_lag(&self, region: &str) -> Duration {
        self.lags.get(region).copied().unwrap_or(self.default_lag)
    }

    pub(crate) fn max_lag(&self) -> Duration {
        self.lags
            .values()
            .copied()
            .fold(self.default_lag, Duration::max)
    }

    pub(crate) fn visible(&self, entry: &Entry, region: &str, now: Instant) -> bool {
        self.sees(entry, &canonical(region), now)
    }

    /// [`visible`](Self::visible) for a region named canonically: no name is rebuilt.
    pub(crate) fn sees(&self, entry: &Entry, region: &str, now: Instant) -> bool {
        self.consistency == Consistency::Strong
            || entry.seen.contains(region)
            || entry
                .at
                .checked_add(self.canonical_lag(region))
                .is_some_and(|due| now >= due)
    }
}
