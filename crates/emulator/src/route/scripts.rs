//! The script routes (`…/sprocs`, `…/triggers`, `…/udfs`): the feeds (`GET` lists, `POST`
//! creates, upserts with `x-ms-documentdb-is-upsert`, or queries) and `GET`, `PUT`,
//! `DELETE` of one. `POST` of a stored procedure (executing it) is refused: the emulator
//! runs no server-side JavaScript.

use std::sync::Arc;

use http::{HeaderMap, Method};
use serde_json::{Value, json};

use super::answer::{Answer, method_not_allowed};
use super::{flag, query_spec};
use crate::api_error::ApiError;
use crate::budget::Charge;
use crate::feed::FeedRequest;
use crate::http::{RequestBody, read_json};
use crate::lock::lock;
use crate::resource::Resource;
use crate::script_kind::ScriptKind;
use crate::scripts::ScriptsAt;
use crate::snapshot::{Snapshot, query_as};
use crate::state::State;

/// The refusal of anything that would run server-side JavaScript: 400 with the reason, as
/// the service answers a feature the account does not support.
pub(super) fn no_javascript(what: &str) -> ApiError {
    ApiError::bad_request(format!(
        "{what}: server-side JavaScript (stored procedures, triggers, user-defined functions) is not supported by this emulator; scripts can be stored, read, replaced and deleted, never executed"
    ))
}

/// A write that names a pre- or post-trigger is refused (the trigger would run).
pub(super) fn check_no_triggers(headers: &HeaderMap) -> Result<(), ApiError> {
    for name in [
        "x-ms-documentdb-pre-trigger-include",
        "x-ms-documentdb-post-trigger-include",
    ] {
        if headers.get(name).is_some_and(|v| !v.is_empty()) {
            return Err(no_javascript(&format!("`{name}`")));
        }
    }
    Ok(())
}

/// The request on `resource` (a [`Resource::Scripts`] or [`Resource::Script`]).
pub(super) async fn serve(
    state: &State,
    method: &Method,
    resource: &Resource,
    headers: &HeaderMap,
    body: impl RequestBody,
    feed: &FeedRequest,
    charge: &Arc<Charge>,
) -> Result<Answer, ApiError> {
    let (at, id) = match resource {
        Resource::Scripts { db, coll, kind } => (
            ScriptsAt {
                db,
                coll,
                kind: *kind,
            },
            None,
        ),
        Resource::Script { db, coll, kind, id } => (
            ScriptsAt {
                db,
                coll,
                kind: *kind,
            },
            Some(id.as_str()),
        ),
        _ => return Err(method_not_allowed(method)),
    };
    let label = match at.kind {
        ScriptKind::StoredProcedure => "StoredProcedures",
        ScriptKind::Trigger => "Triggers",
        ScriptKind::UserDefinedFunction => "UserDefinedFunctions",
    };
    let query = flag(headers, "x-ms-documentdb-isquery")
        || headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/query+json"));
    let answer = match (method, id) {
        (&Method::GET, None) => {
            let all = lock(&state.data).scripts(at)?;
            let count = all.len();
            (200, Some(json!({"_rid": "", label: all, "_count": count})))
        }
        (&Method::POST, None) if query => {
            let spec = query_spec(read_json(body, charge).await?, headers)?;
            let all = lock(&state.data).scripts(at)?;
            let snapshot = Snapshot::of_resources(all.into_iter(), Value::from(""));
            return Ok(Answer::Feed(
                query_as(state, snapshot, spec, feed, charge, label).await?,
            ));
        }
        (&Method::POST, None) => {
            let body = read_json(body, charge).await?;
            let upsert = flag(headers, "x-ms-documentdb-is-upsert");
            lock(&state.data).create_script(at, body, upsert)?
        }
        (&Method::POST, Some(id)) if at.kind == ScriptKind::StoredProcedure => {
            // The stored procedure must exist (404 otherwise), but it is never run.
            lock(&state.data).read_script(at, id)?;
            return Err(no_javascript(&format!("executing stored procedure {id}")));
        }
        (&Method::GET, Some(id)) => lock(&state.data).read_script(at, id)?,
        (&Method::PUT, Some(id)) => {
            let body = read_json(body, charge).await?;
            lock(&state.data).replace_script(at, id, body)?
        }
        (&Method::DELETE, Some(id)) => lock(&state.data).delete_script(at, id)?,
        _ => return Err(method_not_allowed(method)),
    };
    Ok(Answer::Resource(answer.0, answer.1))
}
