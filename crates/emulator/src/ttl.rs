//! Time to live: a container's `defaultTtl` and an item's own `ttl`, on the emulator's
//! clock (`clock.rs`). As the service: without `defaultTtl` nothing expires; with `-1`
//! only items with a positive `ttl` do; with `n > 0` every item `n` seconds after its
//! `_ts` unless its own `ttl` says otherwise (`-1`: never). An item `ttl` of `0`, `null`,
//! below `-1` or not an integer is 400.
//!
//! Reads (point reads, snapshots for queries and read feeds, the change feed) leave out an
//! expired item at once; the container's expiry index lets the next write purge expired
//! items through [`Container::record`], so the delete enters the one write log like any
//! other (replication, the change feed's history and batch rollback see it).

use serde_json::{Map, Value};

use crate::api_error::ApiError;
use crate::data::Container;

/// Checks an item body's `ttl`, if it has one: `-1` or a positive 32-bit integer.
pub(crate) fn check_item_ttl(item: &Map<String, Value>) -> Result<(), ApiError> {
    let Some(ttl) = item.get("ttl") else {
        return Ok(());
    };
    match ttl.as_i64() {
        Some(-1) => Ok(()),
        Some(n) if n > 0 && n <= i64::from(i32::MAX) => Ok(()),
        _ => Err(ApiError::bad_request(
            "The value of the ttl property must be -1 or a positive integer",
        )),
    }
}

/// The container's `defaultTtl`: `None` when TTL is off.
pub(crate) fn default_ttl(container: &Value) -> Option<i64> {
    container.get("defaultTtl").and_then(Value::as_i64)
}

/// When `item` expires (epoch seconds), under a container whose `defaultTtl` is
/// `default`; `None` if it never does.
pub(crate) fn expires_at(default: Option<i64>, item: &Value) -> Option<u64> {
    let default = default?;
    let ttl = item.get("ttl").and_then(Value::as_i64).unwrap_or(default);
    let ts = item.get("_ts").and_then(Value::as_u64)?;
    u64::try_from(ttl)
        .ok()
        .filter(|&t| t > 0)
        .map(|t| ts.saturating_add(t))
}

/// Whether `item` has expired at `now` (epoch seconds) under `default`.
pub(crate) fn expired(default: Option<i64>, item: &Value, now: u64) -> bool {
    expires_at(default, item).is_some_and(|at| at <= now)
}

impl Container {
    /// Keeps the expiry index in step with one write of `key` (from `before` to `after`).
    pub(crate) fn index_expiry(
        &mut self,
        key: &(String, String),
        before: Option<&Value>,
        after: Option<&Value>,
    ) {
        let default = default_ttl(&self.resource);
        if let Some(at) = before.and_then(|b| expires_at(default, b)) {
            self.expiry.remove(&(at, key.clone()));
        }
        if let Some(at) = after.and_then(|a| expires_at(default, a)) {
            self.expiry.insert((at, key.clone()));
        }
    }

    /// Rebuilds the expiry index (after the container's `defaultTtl` changed).
    pub(crate) fn reindex_expiry(&mut self) {
        let default = default_ttl(&self.resource);
        self.expiry = self
            .items
            .iter()
            .filter_map(|(key, item)| expires_at(default, item).map(|at| (at, key.clone())))
            .collect();
    }

    /// Whether `item` has expired now, under this container's `defaultTtl`.
    pub(crate) fn is_expired(&self, item: &Value) -> bool {
        expired(default_ttl(&self.resource), item, self.clock.now_secs())
    }

    /// Deletes every item that has expired (each delete logged as any other); returns how
    /// many. Costs a look at the index when nothing has.
    pub(crate) fn purge_expired(&mut self) -> usize {
        let now = self.clock.now_secs();
        let mut purged = 0;
        while let Some((at, key)) = self.expiry.get_min().cloned() {
            if at > now {
                break;
            }
            self.expiry.remove(&(at, key.clone()));
            if self
                .items
                .get(&key)
                .is_some_and(|item| self.is_expired(item))
            {
                self.record(key, None);
                purged += 1;
            }
        }
        purged
    }
}
