//! Every container's physical partitions as requests meet them: which range a request
//! addresses (its `x-ms-documentdb-partitionkeyrangeid`, or the range holding its partition
//! key's EPK), whether that range is gone (410/1007 while a split or merge is in progress,
//! then 410/1002) or failing in the serving region (503, 403/3 for writes, or no answer
//! until it heals), and the `pkranges` feed.
//!
//! Layouts are kept here, beside the item store rather than in it, keyed by container name
//! and checked against the container's `_rid` (a recreated container starts afresh). A
//! container nobody split, merged or gave throughput has one range, `"0"`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use http::HeaderMap;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::api_error::ApiError;
use crate::data::DataStore;
use crate::epk::{EpkRange, epk_of_key};
use crate::feed::Page;
use crate::lock::lock;
use crate::outage::SUB_STATUS_SERVER_GENERATED_503;
use crate::ranges::{Layout, PkRange, ranges_for};
use crate::topology::canonical;

mod moved_writes;

/// 410 sub-status: the partition key range is gone (split or merged); refresh `pkranges`.
pub(crate) const SUB_STATUS_PARTITION_KEY_RANGE_GONE: u32 = 1002;
/// 410 sub-status: the range is being split or merged; retry after a refresh.
pub(crate) const SUB_STATUS_COMPLETING_SPLIT: u32 = 1007;
/// 403 sub-status: writes are forbidden here.
const SUB_STATUS_WRITE_FORBIDDEN: u32 = 3;
/// The longest 410/1007 window a split or merge may ask for.
pub(crate) const MAX_SPLIT_WINDOW: Duration = Duration::from_secs(3600);

/// How one partition key range fails in one region.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RangeFailure {
    /// Every request to the range is answered 503 (sub-status 21008).
    Unavailable,
    /// Writes to the range are answered 403/3 (WriteForbidden); reads are served.
    WriteForbidden,
    /// Requests to the range get no answer until it heals (clients time out).
    Timeout,
}

#[derive(Debug)]
struct Entry {
    rid: String,
    layout: Layout,
    /// Ids split or merged away → when their 410/1007 window ends.
    gone: HashMap<String, Instant>,
    /// (range id, canonical region) → how the range fails there.
    failures: HashMap<(String, String), RangeFailure>,
    /// `GET …/pkranges` requests answered (304s included).
    reads: u64,
}

impl Entry {
    fn new(rid: &str, ranges: u64) -> Self {
        Self {
            rid: rid.to_owned(),
            layout: Layout::even(ranges),
            gone: HashMap::new(),
            failures: HashMap::new(),
            reads: 0,
        }
    }
}

/// What a request meets at its partition.
#[derive(Debug, Default)]
pub(crate) struct Gate {
    /// For a request addressed by range id: the range's EPKs (feeds serve only these).
    pub(crate) range: Option<EpkRange>,
    /// Set when the range times out here: wait on it (cancelled when failures change).
    pub(crate) hold: Option<CancellationToken>,
    /// The id of the range serving the request (named, or holding its partition key):
    /// returned in `x-ms-documentdb-partitionkeyrangeid`, as the service does.
    pub(crate) served_by: Option<String>,
}

/// Every container's ranges, gone ids and range failures.
#[derive(Debug, Default)]
pub(crate) struct Partitions {
    entries: Mutex<HashMap<(String, String), Entry>>,
    /// Cancelled (and replaced) whenever a failure changes: timed-out requests wait on it.
    changed: Mutex<CancellationToken>,
}

/// The container's `_rid` (404 if it does not exist).
pub(crate) fn container_rid(
    data: &Mutex<DataStore>,
    db: &str,
    coll: &str,
) -> Result<String, ApiError> {
    let data = lock(data);
    let container = data.container(db, coll)?;
    Ok(container
        .resource
        .get("_rid")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned())
}

/// The throughput a container-creation request asks for (default 400 RU/s).
fn offered_throughput(headers: &HeaderMap) -> u64 {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(manual) = text("x-ms-offer-throughput").and_then(|v| v.trim().parse().ok()) {
        return manual;
    }
    text("x-ms-cosmos-offer-autopilot-settings")
        .and_then(|v| serde_json::from_str::<Value>(v).ok())
        .and_then(|v| v.get("maxThroughput").and_then(Value::as_u64))
        .unwrap_or(400)
}

fn gone(id: &str, sub_status: u32) -> ApiError {
    let what = if sub_status == SUB_STATUS_COMPLETING_SPLIT {
        "is being split or merged"
    } else {
        "is gone (split or merged); refresh the partition key ranges"
    };
    ApiError::new(410, "Gone", format!("partition key range {id} {what}"))
        .with_sub_status(sub_status)
}

impl Partitions {
    fn with_entry<T>(&self, db: &str, coll: &str, rid: &str, f: impl FnOnce(&mut Entry) -> T) -> T {
        let mut entries = lock(&self.entries);
        let entry = entries
            .entry((db.to_owned(), coll.to_owned()))
            .or_insert_with(|| Entry::new(rid, 1));
        if entry.rid != rid {
            *entry = Entry::new(rid, 1);
        }
        f(entry)
    }

    /// A container was created: its ranges from the throughput the request offered.
    pub(crate) fn created(&self, db: &str, coll: &str, rid: &str, headers: &HeaderMap) {
        let entry = Entry::new(rid, ranges_for(offered_throughput(headers)));
        lock(&self.entries).insert((db.to_owned(), coll.to_owned()), entry);
    }

    /// What a request to `db/coll` in `region` meets: 410 for a gone range id, the
    /// range's failure here, and the range a range-addressed feed is limited to.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn gate(
        &self,
        rid: &str,
        db: &str,
        coll: &str,
        headers: &HeaderMap,
        region: &str,
        write: bool,
        now: Instant,
    ) -> Result<Gate, ApiError> {
        let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        // SDKs send the bare id; some prefix it with the collection's rid.
        let range_id = text("x-ms-documentdb-partitionkeyrangeid")
            .map(|v| v.rsplit(',').next().unwrap_or(v).trim().to_owned());
        let epk = || {
            text("x-ms-documentdb-partitionkey")
                .and_then(|v| serde_json::from_str::<Value>(v).ok())
                .and_then(|v| epk_of_key(&v))
        };
        let changed = lock(&self.changed).clone();
        self.with_entry(db, coll, rid, |entry| {
            let mut gate = Gate::default();
            let range: &PkRange = match (&range_id, range_id.is_none().then(epk).flatten()) {
                (Some(id), _) => match entry.layout.get(id) {
                    Some(range) => {
                        gate.range = Some(EpkRange {
                            start: range.min.clone(),
                            end: range.max.clone(),
                        });
                        range
                    }
                    None => {
                        let splitting = entry.gone.get(id).is_some_and(|until| now < *until);
                        return Err(gone(
                            id,
                            if splitting {
                                SUB_STATUS_COMPLETING_SPLIT
                            } else {
                                SUB_STATUS_PARTITION_KEY_RANGE_GONE
                            },
                        ));
                    }
                },
                (None, Some(epk)) => match entry.layout.holding(&epk) {
                    Some(range) => range,
                    None => return Ok(gate),
                },
                (None, None) => return Ok(gate),
            };
            gate.served_by = Some(range.id.clone());
            match entry.failures.get(&(range.id.clone(), canonical(region))) {
                Some(RangeFailure::Unavailable) => Err(ApiError::new(
                    503,
                    "ServiceUnavailable",
                    format!(
                        "partition key range {} is unavailable here (emulated)",
                        range.id
                    ),
                )
                .with_sub_status(SUB_STATUS_SERVER_GENERATED_503)),
                Some(RangeFailure::WriteForbidden) if write => Err(ApiError::new(
                    403,
                    "Forbidden",
                    format!(
                        "WriteForbidden: partition key range {} takes no writes here",
                        range.id
                    ),
                )
                .with_sub_status(SUB_STATUS_WRITE_FORBIDDEN)),
                Some(RangeFailure::Timeout) => {
                    gate.hold = Some(changed);
                    Ok(gate)
                }
                _ => Ok(gate),
            }
        })
    }

    /// `GET …/pkranges`: the ranges (with the etag), or `None` when `if_none_match` is it.
    pub(crate) fn page(
        &self,
        rid: &str,
        db: &str,
        coll: &str,
        if_none_match: Option<&str>,
    ) -> Result<Page, String> {
        self.with_entry(db, coll, rid, |entry| {
            entry.reads += 1;
            let etag = format!("\"{rid}-pkranges-{}\"", entry.layout.generation);
            if if_none_match.map(str::trim) == Some(etag.as_str()) {
                return Err(etag);
            }
            let count = entry.layout.ranges.len();
            let ranges: Vec<Value> = entry
                .layout
                .ranges
                .iter()
                .map(|r| {
                    json!({
                        "_rid": format!("{rid}-range-{}", r.id),
                        "id": r.id,
                        "_etag": etag,
                        "minInclusive": r.min,
                        "maxExclusive": r.max,
                        "ridPrefix": r.id.parse::<u64>().unwrap_or_default(),
                        "_self": format!("dbs/{db}/colls/{coll}/pkranges/{}/", r.id),
                        "throughputFraction": 1.0 / count as f64,
                        "status": "online",
                        "parents": r.parents,
                        "ownedArchivalPKRangeIds": [],
                        "_ts": 0,
                        "_lsn": entry.layout.generation,
                    })
                })
                .collect();
            Ok(Page {
                body: json!({"_rid": rid, "PartitionKeyRanges": ranges, "_count": count}),
                count,
                continuation: None,
                etag: Some(etag),
            })
        })
    }

    /// `GET …/pkranges` requests `db/coll` answered.
    pub(crate) fn reads(&self, db: &str, coll: &str) -> u64 {
        let entries = lock(&self.entries);
        entries
            .get(&(db.to_owned(), coll.to_owned()))
            .map_or(0, |entry| entry.reads)
    }

    /// The ranges now, as `(id, min, max, parents)`.
    pub(crate) fn ranges(&self, rid: &str, db: &str, coll: &str) -> Vec<PkRange> {
        self.with_entry(db, coll, rid, |entry| entry.layout.ranges.clone())
    }

    /// Forgets `db/coll` (deleted), or every container of `db` when `coll` is `None`.
    pub(crate) fn forget(&self, db: &str, coll: Option<&str>) {
        lock(&self.entries).retain(|(d, c), _| d != db || coll.is_some_and(|coll| coll != c));
    }

    /// Splits range `id`; requests naming it get 410/1007 for `window`, then 410/1002.
    pub(crate) fn split(
        &self,
        rid: &str,
        db: &str,
        coll: &str,
        id: &str,
        window: Duration,
    ) -> Result<[String; 2], String> {
        let until = Instant::now() + window.min(MAX_SPLIT_WINDOW);
        self.with_entry(db, coll, rid, |entry| {
            let children = entry.layout.split(id)?;
            entry.gone.insert(id.to_owned(), until);
            Ok(children)
        })
    }

    /// Merges the adjacent ranges `a` and `b`; both ids are gone as after a split.
    pub(crate) fn merge(
        &self,
        rid: &str,
        db: &str,
        coll: &str,
        ids: [&str; 2],
        window: Duration,
    ) -> Result<String, String> {
        let until = Instant::now() + window.min(MAX_SPLIT_WINDOW);
        self.with_entry(db, coll, rid, |entry| {
            let merged = entry.layout.merge(ids[0], ids[1])?;
            for id in ids {
                entry.gone.insert(id.to_owned(), until);
            }
            Ok(merged)
        })
    }

    /// Fails range `id` in `region` (or heals it, with `None`).
    pub(crate) fn fail(
        &self,
        rid: &str,
        db: &str,
        coll: &str,
        (id, region): (&str, &str),
        failure: Option<RangeFailure>,
    ) -> Result<(), String> {
        self.with_entry(db, coll, rid, |entry| {
            if entry.layout.get(id).is_none() {
                return Err(format!("no partition key range {id}"));
            }
            let key = (id.to_owned(), canonical(region));
            match failure {
                Some(failure) => entry.failures.insert(key, failure),
                None => entry.failures.remove(&key),
            };
            Ok(())
        })?;
        let mut changed = lock(&self.changed);
        changed.cancel();
        *changed = CancellationToken::new();
        Ok(())
    }
}
