//! Replication lag between regions, session tokens and failover modes.
//!
//! The data store holds every container's *current* items: every write applied, in the
//! order the writes arrived (which, under the store's one lock, is timestamp order, so the
//! current state is the last-writer-wins merge of every region's writes). Each container
//! also keeps a replication log of its recent item writes — the value before and after,
//! the regions that saw the write at once (its origin) and when it happened. A region sees
//! a write once it is its origin or once the region's lag has passed since the write;
//! nothing runs in the background: a region's view is worked out when it is read,
//! comparing each entry's due time with `now` (tokio's clock, so tests can pause it).
//!
//! A region's view of one item is the value after the last write it sees, or, when it sees
//! none of the logged writes, the value before the first one. Its log sequence number
//! (LSN) is the container's LSN minus the writes it does not see yet. Entries every region
//! sees are dropped, so with no lag (the default) the log stays empty and every region
//! reads the current state, exactly as without replication.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

use serde::Deserialize;
use serde_json::Value;
use tokio::time::Instant;

use crate::data::{Container, DataStore};
use crate::lag::Replication;
use crate::topology::{canonical, same_region};
use crate::write_log::{Entry, Log};

/// Sub-status of 404 for a read whose session token is ahead of the region
/// (ReadSessionNotAvailable).
pub const SUB_STATUS_READ_SESSION_NOT_AVAILABLE: u32 = 1002;

/// How a failover treats writes the new write region has not seen yet.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum FailoverMode {
    /// The new write region catches up first: nothing is lost. The default.
    #[default]
    Graceful,
    /// As in an unplanned outage: the old write region's writes the new write region has
    /// not seen are lost.
    Forced,
}

impl Replication {
    /// Before a lag changes: records, for every logged write, the regions that already see
    /// it, so raising a lag never takes back what a region has shown.
    pub(crate) fn settle(&self, data: &mut DataStore, regions: &[String], now: Instant) {
        for container in data
            .databases
            .values_mut()
            .flat_map(|d| d.containers.values_mut())
        {
            for entry in &mut container.log.entries {
                for region in regions {
                    if self.visible(entry, region, now) {
                        entry.seen.insert(canonical(region));
                    }
                }
            }
        }
    }

    /// Stamps the writes a request made in `origin` and drops the oldest entries while
    /// every region has applied them.
    pub(crate) fn stamp(&self, container: &mut Container, origin: &str, now: Instant) {
        let log = &mut container.log;
        for change in log.pending.drain(..) {
            log.entries.push_back(Entry {
                change,
                seen: BTreeSet::from([canonical(origin)]),
                origin: canonical(origin),
                at: now,
            });
        }
        self.trim(container, now);
    }

    /// The LSN `region` has reached in `container`.
    pub(crate) fn region_lsn(&self, container: &Container, region: &str, now: Instant) -> u64 {
        let unseen = container
            .log
            .entries
            .iter()
            .filter(|e| !self.visible(e, region, now))
            .count();
        container.lsn.saturating_sub(unseen as u64)
    }

    /// Moves the write region from `old` to `new`. Graceful: `new` sees every logged
    /// write at once. Forced: `old`'s writes `new` has not seen are removed from every
    /// region; returns how many.
    pub(crate) fn failover(
        &self,
        data: &mut DataStore,
        old: &str,
        new: &str,
        mode: FailoverMode,
        now: Instant,
    ) -> u64 {
        let mut dropped = 0u64;
        for container in data
            .databases
            .values_mut()
            .flat_map(|d| d.containers.values_mut())
        {
            match mode {
                FailoverMode::Graceful => {
                    for entry in &mut container.log.entries {
                        entry.seen.insert(canonical(new));
                    }
                }
                FailoverMode::Forced => {
                    dropped += self.drop_unseen(container, old, new, now);
                }
            }
        }
        dropped
    }

    fn drop_unseen(&self, container: &mut Container, old: &str, new: &str, now: Instant) -> u64 {
        let lost = |e: &Entry| same_region(&e.origin, old) && !self.visible(e, new, now);
        if !container.log.entries.iter().any(lost) {
            return 0;
        }
        // The value before each key's first logged write: what remains when every logged
        // write of that key is lost.
        let mut base: BTreeMap<(String, String), Option<Arc<Value>>> = BTreeMap::new();
        for entry in &container.log.entries {
            base.entry(entry.change.key.clone())
                .or_insert_with(|| entry.change.before.clone());
        }
        let before = container.log.entries.len();
        let (kept, gone): (VecDeque<Entry>, VecDeque<Entry>) =
            container.log.entries.drain(..).partition(|e| !lost(e));
        container.log.entries = kept;
        let mut first_seen = BTreeSet::new();
        for entry in &mut container.log.entries {
            if first_seen.insert(entry.change.key.clone()) {
                entry.change.before = base.get(&entry.change.key).cloned().flatten();
            }
        }
        for key in gone.iter().map(|e| &e.change.key) {
            let current = container
                .log
                .entries
                .iter()
                .rev()
                .find(|e| &e.change.key == key)
                .map_or_else(
                    || base.get(key).cloned().flatten(),
                    |e| e.change.after.clone(),
                );
            let items = &mut container.items;
            match current {
                Some(value) => items.insert(key.clone(), value),
                None => items.remove(key),
            };
        }
        container.log.history.reindex(&container.items);
        container.reindex_expiry();
        let dropped = (before - container.log.entries.len()) as u64;
        container.lsn = container.lsn.saturating_sub(dropped);
        dropped
    }
}

/// The LSN a session token asks for: the largest global LSN over its comma-separated
/// `range:token` parts (`0:-1#12` or the older `0:12`). `None` when nothing parses.
pub(crate) fn session_lsn(token: &str) -> Option<u64> {
    token
        .split(',')
        .filter_map(|part| {
            let value = part.split_once(':').map_or(part, |(_, v)| v);
            let lsn = match value.split('#').nth(1) {
                Some(global) => global,
                None => value,
            };
            lsn.trim().parse::<u64>().ok()
        })
        .max()
}

mod log;
#[cfg(test)]
mod tests;
mod view;
