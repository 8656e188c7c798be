//! Continuations for read feeds and queries keyed by position, not by offset: a token
//! names the last result its page held (its `ORDER BY` values and its item's key) and the
//! query or feed it belongs to, so the next page starts right after that result however
//! many items were written before it meanwhile — none is repeated, none skipped. A token
//! that is malformed, or that another query or container issued, is refused (400).

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use crate::api_error::ApiError;
use crate::budget::json_len;
use crate::feed::{FeedRequest, MAX_PAGE_BYTES, Page};
use crate::query::Position;

/// What a token starts with.
const PREFIX: &str = "meridian-pos:";

/// One result and its position (`None`: an aggregate's single result).
pub(crate) type Positioned = (Option<Position>, Arc<Value>);

fn refused(why: &str) -> ApiError {
    ApiError::bad_request(format!(
        "x-ms-continuation is not a continuation of this query or feed: {why}"
    ))
}

/// The position a token names, if it belongs to `fingerprint`.
fn read_token(token: &str, fingerprint: u64) -> Result<Position, ApiError> {
    let encoded = token
        .strip_prefix(PREFIX)
        .ok_or_else(|| refused("not a token this emulator issued"))?;
    let bytes = URL_SAFE_NO_PAD
        .decode(encoded)
        .map_err(|_| refused("malformed"))?;
    let value: Value = serde_json::from_slice(&bytes).map_err(|_| refused("malformed"))?;
    if value.get("f").and_then(Value::as_str) != Some(format!("{fingerprint:016x}").as_str()) {
        return Err(refused("it belongs to another query or container"));
    }
    value
        .get("p")
        .and_then(Position::from_json)
        .ok_or_else(|| refused("malformed"))
}

fn write_token(position: &Position, fingerprint: u64) -> String {
    let value = json!({"f": format!("{fingerprint:016x}"), "p": position.to_json()});
    format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(value.to_string()))
}

/// The page `feed` asks for out of `rows` (in the order their positions give): the
/// results after the continuation's position, at most the page size and
/// [`MAX_PAGE_BYTES`] (but always one), under the feed's field name.
pub(crate) fn paginate(
    rows: Vec<Positioned>,
    feed: &FeedRequest,
    fingerprint: u64,
    rid: &Value,
    field: &str,
) -> Result<Page, ApiError> {
    let (start, _) = start_after(&rows, feed, fingerprint)?;
    let limit = rows.len();
    let bounds = Bounds {
        start,
        limit,
        at_limit: None,
    };
    page(rows, bounds, feed, fingerprint, rid, field)
}

/// Where the page `feed` asks for starts in `rows`: the index of the first result after
/// the continuation's position (0 without one), and that position.
pub(crate) fn start_after(
    rows: &[Positioned],
    feed: &FeedRequest,
    fingerprint: u64,
) -> Result<(usize, Option<Position>), ApiError> {
    match feed.continuation.as_deref().map(str::trim) {
        None | Some("") => Ok((0, None)),
        Some(token) => {
            let after = read_token(token, fingerprint)?;
            if let Some(Some(first)) = rows.first().map(|(p, _)| p)
                && !first.same_shape(&after)
            {
                return Err(refused("it belongs to another query"));
            }
            let start = rows.partition_point(|(position, _)| {
                position.as_ref().is_none_or(|p| p.cmp_to(&after).is_le())
            });
            Ok((start, Some(after)))
        }
    }
}

/// The rows a page may hold: from `start` to at most `limit` (exclusive); a page that
/// reaches `limit` continues from `at_limit` (none: the results end there).
pub(crate) struct Bounds {
    pub(crate) start: usize,
    pub(crate) limit: usize,
    pub(crate) at_limit: Option<Position>,
}

/// The page of `rows` within `bounds`: at most the page size and [`MAX_PAGE_BYTES`] (but
/// always one result when there is one).
pub(crate) fn page(
    rows: Vec<Positioned>,
    bounds: Bounds,
    feed: &FeedRequest,
    fingerprint: u64,
    rid: &Value,
    field: &str,
) -> Result<Page, ApiError> {
    let size = feed.page_size()?;
    let limit = bounds.limit.min(rows.len());
    let start = bounds.start.min(limit);
    let mut end = start.saturating_add(size).min(limit);
    let mut bytes = 0usize;
    for (index, (_, item)) in rows.iter().enumerate().take(end).skip(start) {
        bytes = bytes.saturating_add(json_len(item) + 1);
        if bytes > MAX_PAGE_BYTES && index > start {
            end = index;
            break;
        }
    }
    let continuation = if end < limit && end > start {
        rows.get(end - 1)
            .and_then(|(last, _)| last.as_ref())
            .map(|last| write_token(last, fingerprint))
    } else if end == limit {
        bounds
            .at_limit
            .as_ref()
            .map(|next| write_token(next, fingerprint))
    } else {
        None
    };
    let page: Vec<Value> = rows
        .into_iter()
        .skip(start)
        .take(end - start)
        .map(|(_, item)| Arc::try_unwrap(item).unwrap_or_else(|shared| Value::clone(&shared)))
        .collect();
    let count = page.len();
    Ok(Page {
        body: json!({"_rid": rid, field: page, "_count": count}),
        count,
        continuation,
        etag: None,
    })
}
