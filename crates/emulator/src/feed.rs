//! Feeds: database and container lists, item read feeds, queries and query plans, and
//! partition key ranges; pagination with `x-ms-max-item-count` and `x-ms-continuation`,
//! and pages capped at [`MAX_PAGE_BYTES`].

use std::sync::Arc;

use serde_json::{Value, json};

use crate::api_error::{ApiError, ApiResult};
use crate::budget::json_len;
use crate::data::DataStore;
use crate::query::QuerySpec;

/// The page size when a request names none (or `-1`, "as many as the service likes").
pub(crate) const DEFAULT_PAGE: usize = 100;
/// The largest page served, whatever the request asks.
pub(crate) const MAX_PAGE: usize = 1000;
/// The most bytes of items in one page, as the service caps its pages (4 MB): a page
/// ends early, with a continuation, rather than grow past it.
pub const MAX_PAGE_BYTES: usize = 4 * 1024 * 1024;

/// Paging headers of a feed request.
#[derive(Debug, Default)]
pub(crate) struct FeedRequest {
    /// `x-ms-max-item-count`, raw.
    pub(crate) max_item_count: Option<String>,
    /// `x-ms-continuation`, raw.
    pub(crate) continuation: Option<String>,
}

/// One page of a feed: the body and the headers that go with it.
#[derive(Debug)]
pub(crate) struct Page {
    pub(crate) body: Value,
    pub(crate) count: usize,
    pub(crate) continuation: Option<String>,
    /// The feed's etag, for feeds that have one (partition key ranges).
    pub(crate) etag: Option<String>,
}

/// Which items a query or read feed sees.
#[derive(Debug)]
pub(crate) enum Scope {
    /// One logical partition: the `x-ms-documentdb-partitionkey` header, raw.
    Partition(String),
    /// Every partition (cross-partition query, or a read feed without a key).
    All,
    /// One physical partition: the EPKs of the range a request's
    /// `x-ms-documentdb-partitionkeyrangeid` names.
    Range(crate::epk::EpkRange),
}

const CONTINUATION_PREFIX: &str = "meridian-offset:";

impl FeedRequest {
    pub(crate) fn page_size(&self) -> Result<usize, ApiError> {
        match self.max_item_count.as_deref().map(str::parse::<i64>) {
            None | Some(Ok(-1)) => Ok(DEFAULT_PAGE),
            Some(Ok(n)) if n > 0 => Ok(usize::try_from(n).unwrap_or(MAX_PAGE).min(MAX_PAGE)),
            _ => Err(ApiError::bad_request(
                "x-ms-max-item-count must be a positive integer or -1",
            )),
        }
    }

    fn offset(&self) -> Result<usize, ApiError> {
        match self.continuation.as_deref() {
            None | Some("") => Ok(0),
            Some(token) => token
                .strip_prefix(CONTINUATION_PREFIX)
                .and_then(|n| n.parse().ok())
                .ok_or_else(|| {
                    ApiError::bad_request("x-ms-continuation is not a token this emulator issued")
                }),
        }
    }
}

/// Cuts the page `feed` asks for out of `results`, under the feed's field name.
pub(crate) fn paginate(
    results: Vec<Arc<Value>>,
    feed: &FeedRequest,
    rid: &Value,
    field: &str,
) -> Result<Page, ApiError> {
    let size = feed.page_size()?;
    let offset = feed.offset()?.min(results.len());
    let mut end = offset.saturating_add(size).min(results.len());
    // At most MAX_PAGE_BYTES of items (but always one): the rest is for the next page.
    let mut bytes = 0usize;
    for (index, item) in results.iter().enumerate().take(end).skip(offset) {
        bytes = bytes.saturating_add(json_len(item) + 1);
        if bytes > MAX_PAGE_BYTES && index > offset {
            end = index;
            break;
        }
    }
    let continuation = (end < results.len()).then(|| format!("{CONTINUATION_PREFIX}{end}"));
    let page: Vec<Value> = results
        .into_iter()
        .skip(offset)
        .take(end - offset)
        .map(|item| Arc::try_unwrap(item).unwrap_or_else(|shared| Value::clone(&shared)))
        .collect();
    let count = page.len();
    Ok(Page {
        body: json!({"_rid": rid, field: page, "_count": count}),
        count,
        continuation,
        etag: None,
    })
}

/// A resource's `_rid` (`""` if it has none), as a feed's page names it.
pub(crate) fn rid(resource: &Value) -> Value {
    resource.get("_rid").cloned().unwrap_or_else(|| json!(""))
}

impl DataStore {
    /// `GET /dbs`.
    pub(crate) fn list_databases(&self, feed: &FeedRequest) -> Result<Page, ApiError> {
        let all = self
            .databases
            .values()
            .map(|d| Arc::new(d.resource.clone()))
            .collect();
        paginate(all, feed, &json!(""), "Databases")
    }

    /// The conflict feed of a container (a read or a query): always empty, as the
    /// emulator resolves every write by last writer wins.
    pub(crate) fn conflicts(&self, db: &str, coll: &str) -> Result<Page, ApiError> {
        let container = self.container(db, coll)?;
        paginate(
            Vec::new(),
            &FeedRequest::default(),
            &rid(&container.resource),
            "Conflicts",
        )
    }

    /// `GET /dbs/{db}/colls`.
    pub(crate) fn list_containers(&self, db: &str, feed: &FeedRequest) -> Result<Page, ApiError> {
        let database = self.database(db)?;
        let all = database
            .containers
            .values()
            .map(|c| Arc::new(c.resource.clone()))
            .collect();
        paginate(all, feed, &rid(&database.resource), "DocumentCollections")
    }

    /// `DELETE /dbs/{db}`, with everything in it.
    pub(crate) fn delete_database(&mut self, db: &str) -> ApiResult {
        let prefix = format!("dbs/{db}/");
        self.principals.retain(|feed, _| !feed.starts_with(&prefix));
        let removed = self.databases.remove(db);
        let removed = removed.ok_or_else(|| ApiError::not_found(&format!("database {db}")))?;
        for container in removed.containers.values() {
            self.forget_scripts(&container.resource);
        }
        Ok((204, None))
    }

    /// Drops the scripts of a deleted container (`resource`, its body).
    fn forget_scripts(&mut self, resource: &Value) {
        let prefix = format!("{}/", resource["_rid"].as_str().unwrap_or_default());
        self.scripts.retain(|feed, _| !feed.starts_with(&prefix));
    }

    /// `DELETE /dbs/{db}/colls/{coll}`, with its items.
    pub(crate) fn delete_container(&mut self, db: &str, coll: &str) -> ApiResult {
        let removed = self
            .databases
            .get_mut(db)
            .ok_or_else(|| ApiError::not_found(&format!("database {db}")))?
            .containers
            .remove(coll)
            .ok_or_else(|| ApiError::not_found(&format!("container {coll}")))?;
        self.forget_scripts(&removed.resource);
        Ok((204, None))
    }

    /// The query plan for `spec` over an existing container.
    pub(crate) fn query_plan(
        &self,
        db: &str,
        coll: &str,
        spec: &QuerySpec,
    ) -> Result<Value, ApiError> {
        self.container(db, coll)?;
        spec.plan().map_err(crate::query::query_error)
    }
}
