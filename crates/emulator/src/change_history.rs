//! A container's change history: the index of its items by the LSN of their last write
//! (the latest-version change feed reads it from a continuation on, instead of scanning
//! every item), and the item versions and deletes for the full-fidelity change feed
//! (`A-IM: Full-Fidelity Feed`, "all versions and deletes"), kept only when the
//! container's `changeFeedPolicy` has a retention (as the service keeps them only then) and
//! capped at [`HISTORY_LIMIT`] versions, the oldest leaving first.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

/// The most versions one container's history keeps.
pub(crate) const HISTORY_LIMIT: usize = 10_000;

/// One write as the full-fidelity feed shows it.
#[derive(Debug, Clone)]
pub(crate) struct Version {
    pub(crate) lsn: u64,
    pub(crate) key: (String, String),
    pub(crate) before: Option<Arc<Value>>,
    pub(crate) after: Option<Arc<Value>>,
    /// When it was written (Unix seconds): `metadata.crts`.
    pub(crate) ts: u64,
}

/// A container's history: the LSN index, and the versions when its policy has a retention.
#[derive(Debug, Default)]
pub(crate) struct History {
    enabled: bool,
    versions: VecDeque<Version>,
    /// The LSN of each item's last write → its key (persistent: a feed clones it cheaply).
    by_lsn: imbl::OrdMap<u64, Key>,
}

/// An item's key: (partition key as canonical JSON, id).
pub(crate) type Key = (String, String);

/// The `_lsn` an item was stamped with.
pub(crate) fn lsn_of(item: &Value) -> Option<u64> {
    item.get("_lsn").and_then(Value::as_u64)
}

impl History {
    /// The history a container with this resource body keeps: enabled when
    /// `changeFeedPolicy.retentionDuration` (minutes) is positive.
    pub(crate) fn for_container(resource: &Value) -> Self {
        let retention = resource
            .pointer("/changeFeedPolicy/retentionDuration")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        Self {
            enabled: retention > 0,
            ..Self::default()
        }
    }

    /// Whether the container's policy allows the full-fidelity feed.
    pub(crate) fn enabled(&self) -> bool {
        self.enabled
    }

    /// Indexes one write and keeps it (when enabled), dropping the oldest past the cap.
    pub(crate) fn record(
        &mut self,
        lsn: u64,
        key: &(String, String),
        before: Option<&Arc<Value>>,
        after: Option<&Arc<Value>>,
    ) {
        if let Some(old) = before.and_then(|b| lsn_of(b)) {
            self.by_lsn.remove(&old);
        }
        if after.is_some() {
            self.by_lsn.insert(lsn, key.clone());
        }
        if !self.enabled {
            return;
        }
        if self.versions.len() >= HISTORY_LIMIT {
            self.versions.pop_front();
        }
        let ts = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        self.versions.push_back(Version {
            lsn,
            key: key.clone(),
            before: before.cloned(),
            after: after.cloned(),
            ts,
        });
    }

    /// The LSN index (a clone sharing every node).
    pub(crate) fn index(&self) -> imbl::OrdMap<u64, Key> {
        self.by_lsn.clone()
    }

    /// Rebuilds the LSN index from `items`, after a write to them that bypassed
    /// [`record`](Self::record) (a forced failover putting back older versions).
    pub(crate) fn reindex<'a>(
        &mut self,
        items: impl IntoIterator<Item = (&'a Key, &'a Arc<Value>)>,
    ) {
        self.by_lsn = items
            .into_iter()
            .filter_map(|(key, item)| Some((lsn_of(item)?, key.clone())))
            .collect();
    }

    /// The versions kept, oldest first (a clone sharing the item values).
    pub(crate) fn versions(&self) -> Vec<Version> {
        self.versions.iter().cloned().collect()
    }
}

impl Version {
    /// The entry the full-fidelity feed answers for this write: `current`, `previous`
    /// (for replaces and deletes) and `metadata`.
    pub(crate) fn entry(&self) -> Value {
        let operation = match (&self.before, &self.after) {
            (_, None) => "delete",
            (None, Some(_)) => "create",
            (Some(_), Some(_)) => "replace",
        };
        let mut metadata = json!({
            "operationType": operation,
            "lsn": self.lsn,
            "crts": self.ts,
            "timeToLiveExpired": false,
        });
        if let Some(previous) = self.before.as_deref().and_then(|b| b.get("_lsn")) {
            metadata["previousImageLSN"] = previous.clone();
        }
        if self.after.is_none() {
            metadata["id"] = json!(self.key.1);
            let pk: Value = serde_json::from_str(&self.key.0).unwrap_or(Value::Null);
            metadata["partitionKey"] = json!([pk]);
        }
        let current = self.after.as_deref().cloned().unwrap_or_else(|| json!({}));
        let mut entry = json!({"current": current, "metadata": metadata});
        if let Some(before) = &self.before {
            entry["previous"] = Value::clone(before);
        }
        entry
    }
}
