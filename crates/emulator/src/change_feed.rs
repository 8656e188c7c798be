//! The change feed: a `GET …/docs` with `A-IM: Incremental Feed` (latest version: each
//! item once, at its last write, in LSN order) or `A-IM: Full-Fidelity Feed` (every
//! version and delete, when the container's policy keeps them), as the serving region
//! sees the container.
//!
//! Where it starts: from the beginning (no condition), from now (`If-None-Match: *`),
//! from a point in time (`If-Modified-Since`, an HTTP date) or after a continuation
//! (`If-None-Match: "<lsn>"`, the `etag` of an earlier page). Every answer carries the
//! `etag` to send next; when nothing is new it is a 304. Pages hold at most
//! `x-ms-max-item-count` changes and [`MAX_PAGE_BYTES`].

use std::sync::Arc;
use std::time::UNIX_EPOCH;

use http::HeaderMap;
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::api_error::ApiError;
use crate::budget::json_len;
use crate::change_history::{Key, Version};
use crate::data::{DataStore, ItemMap, in_partition, partition_key};
use crate::epk::EpkRange;
use crate::feed::{DEFAULT_PAGE, MAX_PAGE, MAX_PAGE_BYTES, Page, Scope, rid};

/// Which changes the feed shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// `Incremental Feed`: each item's latest version.
    LatestVersion,
    /// `Full-Fidelity Feed`: every version and delete.
    AllVersions,
}

/// Where the feed starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Start {
    Beginning,
    Now,
    /// Changes made at or after this Unix second.
    Since(u64),
    /// Changes after this LSN (a continuation).
    After(u64),
}

/// A change-feed request, read from its headers.
#[derive(Debug)]
pub(crate) struct ChangeFeedRequest {
    mode: Mode,
    start: Start,
    page: usize,
    scope: Scope,
    /// `x-ms-start-epk` / `x-ms-end-epk`: a range of the hash space (as the SDKs scope a
    /// feed to a partition key or a feed range).
    epk: Option<EpkRange>,
    /// The physical partition a range-addressed feed is limited to (the emulator's own
    /// hash places items in ranges whatever the container's hash version).
    range: Option<EpkRange>,
}

/// What the feed answers.
#[derive(Debug)]
pub(crate) enum Changes {
    /// Some changes, with the etag to continue from.
    Page(Page),
    /// 304: nothing new; the etag to continue from.
    Quiet(String),
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

/// The LSN a continuation etag names: `"12"` (as the service sends it) or `12`.
fn parse_lsn(etag: &str) -> Option<u64> {
    etag.trim().trim_matches('"').parse().ok()
}

impl ChangeFeedRequest {
    /// Limits the feed to the physical partition its range id names (an EPK range the
    /// request also names narrows it further).
    pub(crate) fn narrow(&mut self, range: Option<EpkRange>) {
        self.range = range;
    }

    /// The change-feed request `headers` make, if they ask for one (`A-IM`); 400 for a
    /// mode, start or page size the service would refuse.
    pub(crate) fn from_headers(headers: &HeaderMap) -> Result<Option<Self>, ApiError> {
        let Some(a_im) = header(headers, "a-im") else {
            return Ok(None);
        };
        let mode = if a_im.eq_ignore_ascii_case("Incremental Feed") {
            Mode::LatestVersion
        } else if a_im.eq_ignore_ascii_case("Full-Fidelity Feed") {
            Mode::AllVersions
        } else {
            return Err(ApiError::bad_request(format!(
                "A-IM must be \"Incremental Feed\" or \"Full-Fidelity Feed\", not {a_im:?}"
            )));
        };
        let start = match (
            header(headers, "if-none-match"),
            header(headers, "if-modified-since"),
        ) {
            (Some("*"), _) => Start::Now,
            (Some(etag), _) => Start::After(parse_lsn(etag).ok_or_else(|| {
                ApiError::bad_request(
                    "If-None-Match must be * or the etag of an earlier change-feed page",
                )
            })?),
            (None, Some(date)) => {
                let at = httpdate::parse_http_date(date)
                    .map_err(|_| ApiError::bad_request("If-Modified-Since must be an HTTP date"))?;
                Start::Since(at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()))
            }
            (None, None) => Start::Beginning,
        };
        if mode == Mode::AllVersions && matches!(start, Start::Beginning | Start::Since(_)) {
            return Err(ApiError::bad_request(
                "the full-fidelity change feed starts from now or from a continuation only",
            ));
        }
        let page = match header(headers, "x-ms-max-item-count").map(str::parse::<i64>) {
            None | Some(Ok(-1)) => DEFAULT_PAGE,
            Some(Ok(n)) if n > 0 => usize::try_from(n).unwrap_or(MAX_PAGE).min(MAX_PAGE),
            _ => {
                return Err(ApiError::bad_request(
                    "x-ms-max-item-count must be a positive integer or -1",
                ));
            }
        };
        // A range id limits the feed to its range (see `narrow`).
        let scope = match header(headers, "x-ms-documentdb-partitionkey") {
            Some(pk) => Scope::Partition(pk.to_string()),
            None => Scope::All,
        };
        let epk = match (
            header(headers, "x-ms-start-epk"),
            header(headers, "x-ms-end-epk"),
        ) {
            (Some(start), Some(end)) => Some(EpkRange {
                start: start.to_ascii_uppercase(),
                end: end.to_ascii_uppercase(),
            }),
            _ => None,
        };
        Ok(Some(Self {
            mode,
            start,
            page,
            scope,
            epk,
            range: None,
        }))
    }
}

/// One change the feed shows: its LSN and body.
struct Change {
    lsn: u64,
    body: Arc<Value>,
}

fn u64_field(item: &Value, field: &str) -> u64 {
    item.get(field).and_then(Value::as_u64).unwrap_or(0)
}

/// What a change-feed request reads, taken under the store's lock (a clone of the
/// region's persistent item map, or of the kept versions) and then served without it.
pub(crate) struct ChangeView {
    items: ItemMap,
    /// The LSN index, when the region sees every write (else the items are scanned).
    index: Option<imbl::OrdMap<u64, Key>>,
    versions: Vec<Version>,
    /// The LSN the region has reached.
    reached: u64,
    rid: Value,
}

impl ChangeView {
    /// `region`'s view of the container at `now`, as `request` needs it; 400 for a
    /// full-fidelity request the container's policy does not allow.
    pub(crate) fn take(
        data: &DataStore,
        db: &str,
        coll: &str,
        region: &str,
        now: Instant,
        request: &ChangeFeedRequest,
    ) -> Result<Self, ApiError> {
        let container = data.container(db, coll)?;
        let version = container.resource.pointer("/partitionKey/version");
        if request.epk.is_some() && version.and_then(Value::as_u64) != Some(2) {
            return Err(ApiError::bad_request(
                "x-ms-start-epk / x-ms-end-epk are served for hash V2 partition keys only (partitionKey.version 2)",
            ));
        }
        let reached = data.replication.region_lsn(container, region, now);
        // A region that sees every write reads the container's LSN index.
        let index = (reached == container.lsn).then(|| container.log.history.index());
        let (items, versions) = match request.mode {
            Mode::LatestVersion => (
                without_expired(
                    container,
                    data.replication.region_items(container, region, now),
                ),
                Vec::new(),
            ),
            Mode::AllVersions if container.log.history.enabled() => {
                (ItemMap::new(), container.log.history.versions())
            }
            Mode::AllVersions => {
                return Err(ApiError::bad_request(
                    "the full-fidelity change feed needs a changeFeedPolicy with a retentionDuration on the container",
                ));
            }
        };
        Ok(Self {
            items,
            index,
            versions,
            reached,
            rid: rid(&container.resource),
        })
    }
}

/// `items` without the container's expired items (the expiry index up to now: a look at
/// its first entry when nothing has expired).
fn without_expired(container: &crate::data::Container, mut items: ItemMap) -> ItemMap {
    let now = container.clock.now_secs();
    for (at, key) in &container.expiry {
        if *at > now {
            break;
        }
        if items
            .get(key)
            .is_some_and(|item| container.is_expired(item))
        {
            items.remove(key);
        }
    }
    items
}

impl ChangeView {
    /// One page of the changes `request` asks for, or 304 when nothing is new.
    pub(crate) fn answer(self, request: &ChangeFeedRequest) -> Result<Changes, ApiError> {
        let only = match &request.scope {
            Scope::All | Scope::Range(_) => None,
            Scope::Partition(header) => Some(partition_key(Some(header))?.0),
        };
        let reached = self.reached;
        let in_scope = |pk: &str| {
            only.as_deref().is_none_or(|only| in_partition(only, pk))
                && request.epk.as_ref().is_none_or(|range| range.contains(pk))
                && request
                    .range
                    .as_ref()
                    .is_none_or(|range| range.contains(pk))
        };
        let after = match request.start {
            Start::Beginning | Start::Since(_) => 0,
            Start::Now => reached,
            Start::After(lsn) => lsn,
        };
        let since = match request.start {
            Start::Since(ts) => ts,
            _ => 0,
        };
        // Only what is new is kept (and, for full fidelity, rendered).
        let new = |lsn: u64, ts: u64| lsn > after && ts >= since;
        let mut fresh: Vec<Change> = match (request.mode, &self.index) {
            // From the index: in LSN order, one past the page (to tell a cut page).
            (Mode::LatestVersion, Some(index)) => index
                .range(after.saturating_add(1)..)
                .filter(|(_, key)| in_scope(&key.0))
                .filter_map(|(lsn, key)| {
                    let item = self.items.get(key)?;
                    new(*lsn, u64_field(item, "_ts")).then(|| Change {
                        lsn: *lsn,
                        body: Arc::clone(item),
                    })
                })
                .take(request.page.saturating_add(1))
                .collect(),
            (Mode::LatestVersion, None) => self
                .items
                .iter()
                .filter(|((pk, _), item)| {
                    in_scope(pk) && new(u64_field(item, "_lsn"), u64_field(item, "_ts"))
                })
                .map(|(_, item)| Change {
                    lsn: u64_field(item, "_lsn"),
                    body: Arc::clone(item),
                })
                .collect(),
            (Mode::AllVersions, _) => self
                .versions
                .into_iter()
                // A lagging region shows the writes it has reached.
                .filter(|v| v.lsn <= reached && in_scope(&v.key.0) && new(v.lsn, v.ts))
                .map(|v| Change {
                    lsn: v.lsn,
                    body: Arc::new(v.entry()),
                })
                .collect(),
        };
        fresh.sort_by_key(|c| c.lsn);
        let total = fresh.len();
        let mut bytes = 0usize;
        let mut taken = Vec::new();
        for change in fresh.into_iter().take(request.page) {
            bytes = bytes.saturating_add(json_len(&change.body) + 1);
            if bytes > MAX_PAGE_BYTES && !taken.is_empty() {
                break;
            }
            taken.push(change);
        }
        let Some(last) = taken.last().map(|c| c.lsn) else {
            return Ok(Changes::Quiet(etag(after.max(reached))));
        };
        // A cut page continues after its last change; a whole one after all the region has.
        let next = if taken.len() < total {
            last
        } else {
            last.max(reached)
        };
        let count = taken.len();
        let documents: Vec<Value> = taken.into_iter().map(|c| Value::clone(&c.body)).collect();
        Ok(Changes::Page(Page {
            body: json!({"_rid": self.rid, "Documents": documents, "_count": count}),
            count,
            continuation: None,
            etag: Some(etag(next)),
        }))
    }
}

/// The etag a change-feed answer carries: the LSN, quoted as the service quotes it.
fn etag(lsn: u64) -> String {
    format!("\"{lsn}\"")
}
