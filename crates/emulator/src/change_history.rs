//! A container's history of item versions and deletes, for the full-fidelity change feed
//! (`A-IM: Full-Fidelity Feed`, "all versions and deletes"): kept only when the
//! container's `changeFeedPolicy` has a retention (as the service keeps it only then), and
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

/// A container's history (empty and unused unless its policy has a retention).
#[derive(Debug, Default)]
pub(crate) struct History {
    enabled: bool,
    versions: VecDeque<Version>,
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
            versions: VecDeque::new(),
        }
    }

    /// Whether the container's policy allows the full-fidelity feed.
    pub(crate) fn enabled(&self) -> bool {
        self.enabled
    }

    /// Keeps one write (when enabled), dropping the oldest past the cap.
    pub(crate) fn record(
        &mut self,
        lsn: u64,
        key: &(String, String),
        before: Option<&Arc<Value>>,
        after: Option<&Arc<Value>>,
    ) {
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
