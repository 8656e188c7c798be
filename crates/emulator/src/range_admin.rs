//! Partition key range administration: split a range, merge two, fail one in one region —
//! under `/_emulator/partitions/{db}/{coll}/…` (the typed `Emulator` methods call the same
//! functions).
//!
//! - `GET  …/partitions/{db}/{coll}`: the ranges (`id`, `minInclusive`, `maxExclusive`,
//!   `parents`).
//! - `POST …/split` `{"range": "0", "window_ms": 500}`: two children at the midpoint;
//!   the old id answers 410/1007 for the window, then 410/1002.
//! - `POST …/merge` `{"ranges": ["1", "2"], "window_ms": 500}`: two adjacent ranges into one.
//! - `POST …/fail` `{"range": "0", "region": "East US", "failure": "unavailable"}`
//!   (`write_forbidden`, `timeout`, or `null` to heal).

use std::time::Duration;

use http::{Method, Request, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::api_error::ApiError;
use crate::budget::Charge;
use crate::http::{Body, RequestBody, json_response, read_json, respond};
use crate::partitions::{RangeFailure, container_rid};
use crate::state::State;

/// The 410/1007 window when a request does not give one.
const DEFAULT_WINDOW: Duration = Duration::from_millis(500);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Split {
    pub(crate) range: String,
    #[serde(default)]
    pub(crate) window_ms: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Merge {
    pub(crate) ranges: [String; 2],
    #[serde(default)]
    pub(crate) window_ms: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Fail {
    pub(crate) range: String,
    pub(crate) region: String,
    pub(crate) failure: Option<RangeFailure>,
}

fn window(ms: Option<u64>) -> Duration {
    ms.map_or(DEFAULT_WINDOW, Duration::from_millis)
}

fn refused(message: String) -> ApiError {
    ApiError::new(400, "BadRequest", message)
}

async fn body<T: serde::de::DeserializeOwned>(
    request: Request<impl RequestBody>,
    charge: &Charge,
) -> Result<T, ApiError> {
    let value = read_json(request.into_body(), charge).await?;
    serde_json::from_value(value).map_err(|e| refused(format!("unexpected body: {e}")))
}

pub(crate) fn list(state: &State, db: &str, coll: &str) -> Result<Value, ApiError> {
    let rid = container_rid(&state.data, db, coll)?;
    let ranges = state.partitions.ranges(&rid, db, coll);
    Ok(json!(
        ranges
            .iter()
            .map(|r| json!({
                "id": r.id,
                "minInclusive": r.min,
                "maxExclusive": r.max,
                "parents": r.parents,
            }))
            .collect::<Vec<_>>()
    ))
}

pub(crate) fn split(
    state: &State,
    (db, coll): (&str, &str),
    split: Split,
) -> Result<Value, ApiError> {
    let rid = container_rid(&state.data, db, coll)?;
    let window = window(split.window_ms);
    let children = state
        .partitions
        .split(&rid, db, coll, &split.range, window)
        .map_err(refused)?;
    Ok(json!({ "children": children }))
}

pub(crate) fn merge(
    state: &State,
    (db, coll): (&str, &str),
    merge: &Merge,
) -> Result<Value, ApiError> {
    let rid = container_rid(&state.data, db, coll)?;
    let [a, b] = &merge.ranges;
    let merged = state
        .partitions
        .merge(&rid, db, coll, [a, b], window(merge.window_ms))
        .map_err(refused)?;
    Ok(json!({ "merged": merged }))
}

pub(crate) fn fail(state: &State, (db, coll): (&str, &str), fail: &Fail) -> Result<(), ApiError> {
    if crate::lock::lock(&state.topology)
        .region(&fail.region)
        .is_none()
    {
        return Err(ApiError::new(
            404,
            "NotFound",
            format!("no region {}", fail.region),
        ));
    }
    let rid = container_rid(&state.data, db, coll)?;
    let at = (fail.range.as_str(), fail.region.as_str());
    state
        .partitions
        .fail(&rid, db, coll, at, fail.failure)
        .map_err(refused)
}

/// `…/partitions/{db}/{coll}/{rest}`.
pub(crate) async fn route(
    state: &State,
    method: &Method,
    at: (&str, &str),
    rest: &[&str],
    request: Request<impl RequestBody>,
    charge: &Charge,
) -> Result<Response<Body>, ApiError> {
    Ok(match (method, rest) {
        (&Method::GET, []) => json_response(200, &list(state, at.0, at.1)?),
        (&Method::POST, ["split"]) => {
            json_response(200, &split(state, at, body(request, charge).await?)?)
        }
        (&Method::POST, ["merge"]) => {
            json_response(200, &merge(state, at, &body(request, charge).await?)?)
        }
        (&Method::POST, ["fail"]) => {
            fail(state, at, &body(request, charge).await?)?;
            respond(204, None, None)
        }
        _ => {
            return Err(ApiError::new(
                404,
                "NotFound",
                format!("no admin route {method} partitions/{}", rest.join("/")),
            ));
        }
    })
}
