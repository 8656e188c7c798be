//! The user and permission routes: the feeds (`GET` lists, `POST` creates, upserts with
//! `x-ms-documentdb-is-upsert`, or queries with `x-ms-documentdb-isquery`) and `GET`,
//! `PUT`, `DELETE` of one.

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
use crate::principals::Owner;
use crate::resource::Resource;
use crate::resource_token::{expiry_secs, mint_into};
use crate::snapshot::{Snapshot, query_as};
use crate::state::State;

/// The request on `resource` (a [`Resource::Principals`] or [`Resource::Principal`]).
pub(super) async fn serve(
    state: &State,
    method: &Method,
    resource: &Resource,
    headers: &HeaderMap,
    body: impl RequestBody,
    feed: &FeedRequest,
    charge: &Arc<Charge>,
) -> Result<Answer, ApiError> {
    let (db, user, id) = match resource {
        Resource::Principals { db, user } => (db, user.as_deref(), None),
        Resource::Principal { db, user, id } => (db, user.as_deref(), Some(id.as_str())),
        _ => return Err(method_not_allowed(method)),
    };
    let owner = Owner { db, user };
    let label = if user.is_some() {
        "Permissions"
    } else {
        "Users"
    };
    let query = flag(headers, "x-ms-documentdb-isquery")
        || headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/query+json"));
    // A permission is answered with a fresh resource token (`resource_token.rs`).
    let expires = match user {
        Some(_) => Some(lock(&state.data).clock.now_secs() + expiry_secs(headers)?),
        None => None,
    };
    let mint = |values: &mut [Value]| {
        if let Some(expires) = expires {
            let data = lock(&state.data);
            for value in values {
                mint_into(&data.token_secret, value, expires);
            }
        }
    };
    let answer = match (method, id) {
        (&Method::GET, None) => {
            let mut all = lock(&state.data).principals(owner)?;
            mint(&mut all);
            let count = all.len();
            (200, Some(json!({"_rid": "", label: all, "_count": count})))
        }
        (&Method::POST, None) if query => {
            let spec = query_spec(read_json(body, charge).await?, headers)?;
            let mut all = lock(&state.data).principals(owner)?;
            mint(&mut all);
            let snapshot = Snapshot::of_resources(all.into_iter(), Value::from(""));
            return Ok(Answer::Feed(
                query_as(state, snapshot, spec, feed, charge, label).await?,
            ));
        }
        (&Method::POST, None) => {
            let body = read_json(body, charge).await?;
            let upsert = flag(headers, "x-ms-documentdb-is-upsert");
            lock(&state.data).create_principal(owner, body, upsert)?
        }
        (&Method::GET, Some(id)) => lock(&state.data).read_principal(owner, id)?,
        (&Method::PUT, Some(id)) => {
            let body = read_json(body, charge).await?;
            lock(&state.data).replace_principal(owner, id, body)?
        }
        (&Method::DELETE, Some(id)) => lock(&state.data).delete_principal(owner, id)?,
        _ => return Err(method_not_allowed(method)),
    };
    let (status, mut body) = answer;
    if let Some(body) = &mut body {
        mint(std::slice::from_mut(body));
    }
    Ok(Answer::Resource(status, body))
}
