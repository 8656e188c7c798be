//! The route's partition seams: the gate a data-plane request passes at its partition key
//! range, the `pkranges` feed, and a new container's ranges.

use http::HeaderMap;
use serde_json::Value;
use tokio::time::Instant;

use super::answer::Answer;
use crate::api_error::ApiError;
use crate::epk::EpkRange;
use crate::feed::Scope;
use crate::partitions::container_rid;
use crate::state::State;

/// Passes `db/coll`'s partition gate for a request in `region`: 410 for a gone range id,
/// the range's failure here (a timed-out range holds the request until it heals or the
/// emulator stops). Returns the range a range-addressed request is limited to, and the
/// id of the range serving the request.
pub(super) async fn gate(
    state: &State,
    (db, coll): (&str, &str),
    headers: &HeaderMap,
    region: &str,
    write: bool,
    now: Instant,
) -> Result<(Option<EpkRange>, Option<String>), ApiError> {
    // A missing container is answered by the operation itself (404).
    let Ok(rid) = container_rid(&state.data, db, coll) else {
        return Ok((None, None));
    };
    let gate = state
        .partitions
        .gate(&rid, db, coll, headers, region, write, now)?;
    if let Some(hold) = gate.hold {
        tokio::select! {
            () = hold.cancelled() => {}
            () = state.shutdown.cancelled() => {}
        }
    }
    Ok((gate.range, gate.served_by))
}

/// A feed or query addressed by range id sees only that range's items.
pub(super) fn narrow(scope: Scope, range: Option<&EpkRange>) -> Scope {
    match (scope, range) {
        (Scope::All, Some(range)) => Scope::Range(range.clone()),
        (scope, _) => scope,
    }
}

/// `GET …/pkranges`, or 304 when `If-None-Match` names the current ranges.
pub(super) fn pkranges(
    state: &State,
    db: &str,
    coll: &str,
    headers: &HeaderMap,
) -> Result<Answer, ApiError> {
    let rid = container_rid(&state.data, db, coll)?;
    let if_none_match = headers.get("if-none-match").and_then(|v| v.to_str().ok());
    Ok(match state.partitions.page(&rid, db, coll, if_none_match) {
        Ok(page) => Answer::Feed(page),
        Err(etag) => Answer::NotModified(Some(etag)),
    })
}

/// A container was created: its ranges from the throughput the request offered.
pub(super) fn created(state: &State, db: &str, resource: Option<&Value>, headers: &HeaderMap) {
    let field = |name: &str| resource.and_then(|r| r.get(name)).and_then(Value::as_str);
    if let (Some(coll), Some(rid)) = (field("id"), field("_rid")) {
        state.partitions.created(db, coll, rid, headers);
    }
}
