//! A container's write log: its recent item writes, each with the value before and after,
//! the region it came from and when. Replication reads it to work out what a lagging region
//! sees; it is the one record of writes every feature that replays them reads. Its
//! [`History`] keeps what the change feed reads for longer than replication needs: the LSN
//! index of the items' last writes, and (when the container's policy asks) every version.

use std::collections::{BTreeSet, VecDeque};
use std::sync::Arc;

use serde_json::Value;
use tokio::time::Instant;

use crate::change_history::History;

/// One item write, before it is stamped with its origin and time.
#[derive(Debug, Clone)]
pub(crate) struct Change {
    pub(crate) key: (String, String),
    pub(crate) before: Option<Arc<Value>>,
    pub(crate) after: Option<Arc<Value>>,
}

/// One stamped write: the change, the regions that saw it at once, where and when.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub(crate) change: Change,
    /// Canonical names of the regions that saw the write at once.
    pub(crate) seen: BTreeSet<String>,
    pub(crate) origin: String,
    pub(crate) at: Instant,
}

/// A container's replication log.
#[derive(Debug, Default)]
pub(crate) struct Log {
    /// Writes of the request being served, stamped when it ends.
    pub(crate) pending: Vec<Change>,
    pub(crate) entries: VecDeque<Entry>,
    /// What the change feed reads: never trimmed by replication.
    pub(crate) history: History,
}

impl Log {
    /// The log of a container with this resource body (its `changeFeedPolicy` says
    /// whether every version is kept).
    pub(crate) fn for_container(resource: &Value) -> Self {
        Self {
            history: History::for_container(resource),
            ..Self::default()
        }
    }

    /// Logs the write that took the container to `lsn`.
    pub(crate) fn record(&mut self, lsn: u64, change: Change) {
        let Change { key, before, after } = &change;
        self.history
            .record(lsn, key, before.as_ref(), after.as_ref());
        self.pending.push(change);
    }

    /// How many writes the log holds (stamped, not yet applied everywhere).
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }
}
