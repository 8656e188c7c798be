//! Session tokens: the check of a read or query (a token ahead of the serving region is
//! 404/1002), and the token a response carries, per partition key range it touched.

use http::HeaderMap;
use serde_json::Value;
use tokio::time::Instant;

use super::header;
use crate::api_error::ApiError;
use crate::epk::epk_of_key;
use crate::lock::lock;
use crate::partitions::container_rid;
use crate::replication::{SUB_STATUS_READ_SESSION_NOT_AVAILABLE, session_lsn};
use crate::state::State;

/// A read or query whose session token is ahead of this region is answered 404/1002, so
/// the client retries where its writes are.
pub(super) fn check_session(
    state: &State,
    headers: &HeaderMap,
    db: &str,
    coll: &str,
    region: &str,
    now: Instant,
) -> Result<(), ApiError> {
    let Some(wanted) = header(headers, "x-ms-session-token").and_then(|t| session_lsn(&t)) else {
        return Ok(());
    };
    let data = lock(&state.data);
    let Ok(container) = data.container(db, coll) else {
        return Ok(());
    };
    let reached = data.replication.region_lsn(container, region, now);
    if wanted > reached {
        return Err(ApiError::new(
            404,
            "NotFound",
            format!(
                "ReadSessionNotAvailable: this region has reached LSN {reached}, the session token asks for {wanted}"
            ),
        )
        .with_sub_status(SUB_STATUS_READ_SESSION_NOT_AVAILABLE));
    }
    Ok(())
}

/// The partition key ranges a request on `db/coll` touched, as its session token names
/// them: the range it addresses by id, else the range holding its partition key's EPK,
/// else those overlapping its `x-ms-start-epk`/`x-ms-end-epk`, else every range.
pub(super) fn touched_ranges(
    state: &State,
    db: &str,
    coll: &str,
    headers: &HeaderMap,
) -> Vec<String> {
    let Ok(rid) = container_rid(&state.data, db, coll) else {
        return Vec::new();
    };
    let ranges = state.partitions.ranges(&rid, db, coll);
    // One range (most containers): nothing to hash.
    if let [only] = ranges.as_slice() {
        return vec![only.id.clone()];
    }
    if let Some(id) = header(headers, "x-ms-documentdb-partitionkeyrangeid") {
        let id = id.rsplit(',').next().unwrap_or(&id).trim().to_string();
        if ranges.iter().any(|r| r.id == id) {
            return vec![id];
        }
    }
    let epk = header(headers, "x-ms-documentdb-partitionkey")
        .and_then(|v| serde_json::from_str::<Value>(&v).ok())
        .and_then(|v| epk_of_key(&v));
    if let Some(range) = epk.and_then(|epk| ranges.iter().find(|r| r.holds(&epk))) {
        return vec![range.id.clone()];
    }
    let start = header(headers, "x-ms-start-epk").unwrap_or_default();
    let end = header(headers, "x-ms-end-epk").unwrap_or_default();
    ranges
        .into_iter()
        .filter(|r| (end.is_empty() || r.min < end) && start < r.max)
        .map(|r| r.id)
        .collect()
}

/// `x-ms-session-token` for `ranges` at `lsn`: `<range id>:-1#<lsn>` each, as the
/// service's single-write form (version `-1`, the global LSN), comma-separated.
pub(super) fn session_token(ranges: &[String], lsn: u64) -> Option<String> {
    (!ranges.is_empty()).then(|| {
        ranges
            .iter()
            .map(|id| format!("{id}:-1#{lsn}"))
            .collect::<Vec<_>>()
            .join(",")
    })
}
