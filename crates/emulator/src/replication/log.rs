//! Keeping a container's replication log bounded: entries leave once every region has
//! applied them, and a write that would take the log past its cap is refused (429, with
//! the wait until the oldest entry is applied everywhere).

use std::time::Duration;

use tokio::time::Instant;

use crate::api_error::ApiError;
use crate::consistency::Consistency;
use crate::data::{Container, DataStore};
use crate::lag::Replication;
use crate::write_log::Entry;

impl Replication {
    /// Whether every region sees `entry` at `now`.
    fn applied_everywhere(&self, entry: &Entry, now: Instant) -> bool {
        self.consistency == Consistency::Strong
            || entry
                .at
                .checked_add(self.max_lag())
                .is_some_and(|due| now >= due)
            || (!self.regions.is_empty() && self.regions.iter().all(|r| self.sees(entry, r, now)))
    }

    /// Drops the oldest entries while every region has applied them.
    pub(crate) fn trim(&self, container: &mut Container, now: Instant) {
        let entries = &mut container.log.entries;
        while entries
            .front()
            .is_some_and(|e| self.applied_everywhere(e, now))
        {
            entries.pop_front();
        }
    }

    /// Before a write: 429 (with the wait until the oldest entry is applied everywhere)
    /// when the container's log is at its cap after trimming. Under the cap it does not
    /// trim: [`stamp`](Self::stamp) trims after the write, at the same instant, so each
    /// write trims once.
    pub(crate) fn make_room(
        &self,
        container: &mut Container,
        now: Instant,
    ) -> Result<(), ApiError> {
        if container.log.entries.len() < self.log_limit {
            return Ok(());
        }
        self.trim(container, now);
        let held = container.log.entries.len();
        if held < self.log_limit {
            return Ok(());
        }
        let wait = container
            .log
            .entries
            .front()
            .and_then(|e| e.at.checked_add(self.max_lag()))
            .map_or(Duration::ZERO, |due| due.saturating_duration_since(now));
        let ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX).max(1);
        Err(ApiError::new(
            429,
            "TooManyRequests",
            format!(
                "the container's replication log holds {held} writes not yet applied in every region (the cap): retry once the lagging regions catch up, or lower the replication lag"
            ),
        )
        .with_retry_after(ms))
    }

    /// Trims every container's log (after a lag change or a failover).
    pub(crate) fn trim_all(&self, data: &mut DataStore, now: Instant) {
        for container in data
            .databases
            .values_mut()
            .flat_map(|d| d.containers.values_mut())
        {
            self.trim(container, now);
        }
    }
}
