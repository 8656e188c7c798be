//! A lagging region's view: one item by a lookup in the log, or a container's item map
//! with the logged keys as the region sees them (the persistent map shared, only the
//! logged keys' paths copied, never the items).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use serde_json::Value;
use tokio::time::Instant;

use super::Log;
use crate::data::{Container, ItemMap};
use crate::lag::Replication;

impl Replication {
    /// `region`'s items of one container: the current map itself (shared) when the region
    /// sees every logged write, else the map with the logged keys as the region sees them
    /// (counted in `view_copies`; the map shares every node but the logged keys' paths).
    pub(crate) fn region_items(
        &self,
        container: &Container,
        region: &str,
        now: Instant,
    ) -> ItemMap {
        if container
            .log
            .entries
            .iter()
            .all(|e| self.visible(e, region, now))
        {
            return container.items.clone();
        }
        self.view_copies.fetch_add(1, Ordering::Relaxed);
        let mut items = container.items.clone();
        for (key, value) in self.region_values(&container.log, region, now) {
            match value {
                Some(value) => items.insert(key, value),
                None => items.remove(&key),
            };
        }
        items
    }

    /// One item as `region` sees it: a lookup in the log and the map, no copy.
    pub(crate) fn region_item(
        &self,
        container: &Container,
        key: &(String, String),
        region: &str,
        now: Instant,
    ) -> Option<Arc<Value>> {
        let mut first_before: Option<&Option<Arc<Value>>> = None;
        let mut last_seen: Option<&Option<Arc<Value>>> = None;
        for entry in container
            .log
            .entries
            .iter()
            .filter(|e| &e.change.key == key)
        {
            first_before.get_or_insert(&entry.change.before);
            if self.visible(entry, region, now) {
                last_seen = Some(&entry.change.after);
            }
        }
        match last_seen.or(first_before) {
            Some(value) => value.clone(),
            None => container.items.get(key).cloned(),
        }
    }

    /// How many times a lagging region's view of a container was built (its map with the
    /// logged keys replaced): point reads never build one.
    pub(crate) fn view_copies(&self) -> u64 {
        self.view_copies.load(Ordering::Relaxed)
    }

    /// Every logged key's value as `region` sees it: after the last write it sees, else
    /// before the first logged write.
    fn region_values(
        &self,
        log: &Log,
        region: &str,
        now: Instant,
    ) -> BTreeMap<(String, String), Option<Arc<Value>>> {
        let mut values: BTreeMap<(String, String), Option<Arc<Value>>> = BTreeMap::new();
        for entry in &log.entries {
            values
                .entry(entry.change.key.clone())
                .or_insert_with(|| entry.change.before.clone());
        }
        for entry in log.entries.iter().filter(|e| self.visible(e, region, now)) {
            values.insert(entry.change.key.clone(), entry.change.after.clone());
        }
        values
    }
}
