//! Reads that take time — queries and read feeds — over a snapshot of one container as
//! the serving region sees it: the store's lock is held only to take the snapshot (a clone
//! of the container's persistent item map, sharing every node), never while a query
//! evaluates, so point reads and writes proceed meanwhile (a write copies only its key's
//! path in the map). Queries evaluate on a blocking thread, within their work
//! budget.

use std::sync::Arc;

use serde_json::Value;
use tokio::time::Instant;

use crate::api_error::ApiError;
use crate::budget::Charge;
use crate::cursor::{Positioned, paginate};
use crate::data::{DataStore, ItemMap, in_partition, partition_key};
use crate::epk::EpkRange;
use crate::feed::{FeedRequest, Page, Scope, rid};
use crate::query::{Key, Position, QuerySpec};
use crate::range_pages;
use crate::ranges::PkRange;
use crate::state::State;

/// One container's items as a region saw them at one instant.
#[derive(Debug)]
pub(crate) struct Snapshot {
    items: ItemMap,
    /// The partition a scoped read sees (canonical JSON), or every partition.
    only: Option<String>,
    /// The physical partition a range-addressed read sees.
    range: Option<EpkRange>,
    /// The container's `_rid`, for the page.
    rid: Value,
    /// The container's `defaultTtl` and the clock's seconds when taken: expired items are
    /// left out (`ttl.rs`).
    ttl: (Option<i64>, u64),
}

impl Snapshot {
    /// A snapshot of resources that are not items (databases, containers), keyed by id,
    /// for queries over their feeds.
    pub(crate) fn of_resources(resources: impl Iterator<Item = Value>, rid: Value) -> Self {
        let items = resources
            .map(|r| {
                let id = r["id"].as_str().unwrap_or_default().to_string();
                ((String::new(), id), Arc::new(r))
            })
            .collect();
        Self {
            items,
            only: None,
            range: None,
            rid,
            ttl: (None, 0),
        }
    }

    /// Takes the snapshot (under the caller's lock): `region`'s view at `now`.
    pub(crate) fn take(
        data: &DataStore,
        db: &str,
        coll: &str,
        region: &str,
        now: Instant,
        scope: &Scope,
    ) -> Result<Self, ApiError> {
        let container = data.container(db, coll)?;
        let (only, range) = match scope {
            Scope::All => (None, None),
            Scope::Partition(header) => (Some(partition_key(Some(header))?.0), None),
            Scope::Range(range) => (None, Some(range.clone())),
        };
        Ok(Self {
            items: data.replication.region_items(container, region, now),
            only,
            range,
            rid: rid(&container.resource),
            ttl: (
                crate::ttl::default_ttl(&container.resource),
                container.clock.now_secs(),
            ),
        })
    }

    /// The items the read sees, with their keys, in key order.
    fn entries(&self) -> impl Iterator<Item = (&Key, &Arc<Value>)> {
        self.items
            .iter()
            .filter(|((pk, _), _)| {
                self.only
                    .as_deref()
                    .is_none_or(|only| in_partition(only, pk))
            })
            .filter(|((pk, _), _)| self.range.as_ref().is_none_or(|range| range.contains(pk)))
            .filter(|(_, item)| !crate::ttl::expired(self.ttl.0, item, self.ttl.1))
    }

    fn items(&self) -> impl Iterator<Item = (&Key, &Value)> {
        self.entries().map(|(key, item)| (key, item.as_ref()))
    }

    /// What tells this container's continuations from another's (with `of`, a query's).
    fn fingerprint(&self, of: u64) -> u64 {
        let rid = self.rid.as_str().unwrap_or_default();
        crate::query::fnv1a([rid.as_bytes(), &of.to_le_bytes()])
    }

    /// One page of the read feed: a continuation names the last item's key.
    pub(crate) fn read_feed(&self, feed: &FeedRequest) -> Result<Page, ApiError> {
        let rows = self
            .entries()
            .map(|(key, item)| {
                let position = Position {
                    keys: Vec::new(),
                    key: key.clone(),
                };
                (Some(position), Arc::clone(item))
            })
            .collect();
        paginate(rows, feed, self.fingerprint(0), &self.rid, "Documents")
    }
}

/// Runs `spec` over the snapshot and answers the page `feed` asks for. Over every range
/// of a container with several (`ranges`), pages follow the ranges (see `range_pages`).
pub(crate) async fn query(
    state: &State,
    snapshot: Snapshot,
    spec: QuerySpec,
    feed: &FeedRequest,
    charge: &Arc<Charge>,
    ranges: &[PkRange],
) -> Result<Page, ApiError> {
    let rid = snapshot.rid.clone();
    let fingerprint = snapshot.fingerprint(spec.fingerprint());
    let rows = evaluate(state, snapshot, spec, charge).await?;
    range_pages::paginate_by_range(rows, ranges, feed, fingerprint, &rid)
}

/// [`query`] over any resources, answered under `label` (`Databases`,
/// `DocumentCollections`).
pub(crate) async fn query_as(
    state: &State,
    snapshot: Snapshot,
    spec: QuerySpec,
    feed: &FeedRequest,
    charge: &Arc<Charge>,
    label: &str,
) -> Result<Page, ApiError> {
    let rid = snapshot.rid.clone();
    let fingerprint = snapshot.fingerprint(spec.fingerprint());
    let rows = evaluate(state, snapshot, spec, charge).await?;
    paginate(rows, feed, fingerprint, &rid, label)
}

/// Every result of `spec` over the snapshot, each with its position.
async fn evaluate(
    state: &State,
    snapshot: Snapshot,
    spec: QuerySpec,
    charge: &Arc<Charge>,
) -> Result<Vec<Positioned>, ApiError> {
    let gate = Arc::clone(&state.queries);
    let budget = state.query_budget;
    let charge = Arc::clone(charge);
    // The turn moves into the thread: it is given back when the evaluation ends, even if
    // this request is dropped meanwhile.
    let turn = gate.turn().await?;
    let run = tokio::task::spawn_blocking(move || {
        let _turn = turn;
        let _running = gate.enter();
        spec.run_charged(snapshot.items(), budget, charge)
    });
    let results = run
        .await
        .map_err(|_| ApiError::new(500, "InternalServerError", "the query did not finish"))??;
    Ok(results
        .into_iter()
        .map(|(position, row)| (position, Arc::new(row)))
        .collect())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;
    use tokio::time::Instant;

    use super::Snapshot;
    use crate::data::DataStore;
    use crate::feed::Scope;

    /// A write while a snapshot lives (a query held in its evaluation) does not copy the
    /// container's item map: every item but the few beside the written key stays held by
    /// one map only, shared by the snapshot and the store.
    #[test]
    fn a_write_under_a_snapshot_does_not_copy_the_container() {
        const ITEMS: usize = 10_000;
        let mut data = DataStore::default();
        data.create_database(json!({"id": "db"})).unwrap();
        let container = json!({"id": "c", "partitionKey": {"paths": ["/pk"]}});
        data.create_container("db", container).unwrap();
        let now = Instant::now();
        let DataStore {
            databases,
            replication,
            ..
        } = &mut data;
        let items = databases
            .get_mut("db")
            .unwrap()
            .containers
            .get_mut("c")
            .unwrap();
        for n in 0..ITEMS {
            let key = ("\"p\"".to_string(), format!("{n:05}"));
            items.record(key, Some(json!({"id": format!("{n:05}"), "pk": "p"})));
        }
        // Without lag every region has applied them: the log lets go of them.
        replication.stamp(items, "West US", now);
        let snapshot = Snapshot::take(&data, "db", "c", "West US", now, &Scope::All);
        let snapshot = snapshot.unwrap();
        let items = data.container_mut("db", "c").unwrap();
        items.record(("\"p\"".into(), "new".into()), Some(json!({"id": "new"})));
        let copied = items
            .items
            .values()
            .filter(|item| Arc::strong_count(item) > 1)
            .count();
        assert!(copied < ITEMS / 10, "{copied} of {ITEMS} items held twice");
        assert_eq!(snapshot.items().count(), ITEMS, "the snapshot is unchanged");
    }
}
