//! The session check of a read or query: a token ahead of the serving region is 404/1002.

use http::HeaderMap;
use tokio::time::Instant;

use super::header;
use crate::api_error::ApiError;
use crate::lock::lock;
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
