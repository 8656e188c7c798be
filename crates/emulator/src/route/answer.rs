//! What the data layer answered, and the response it becomes: status, body, and the
//! headers SDKs read (etag, item count, continuation, session token, request charge).

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Response};
use serde_json::Value;

use super::Kind;
use crate::data::ItemRequest;
use crate::feed::Page;
use crate::http::{Body, respond};

/// What the data layer answered, before it becomes a response.
pub(super) enum Answer {
    /// A single resource (or none, for 204).
    Resource(u16, Option<Value>),
    /// One page of a feed.
    Feed(Page),
    /// 304: the caller's etag is current (the etag, when the answer names one).
    NotModified(Option<String>),
}

pub(super) fn resource_answer((status, body): (u16, Option<Value>)) -> Answer {
    Answer::Resource(status, body)
}

pub(super) fn response(
    answer: Answer,
    kind: Kind,
    session_token: Option<String>,
    minimal: bool,
) -> Response<Body> {
    let mut response = match answer {
        Answer::NotModified(etag) => {
            let mut response = respond(304, None, None);
            if let Some(etag) = etag.and_then(|e| HeaderValue::from_str(&e).ok()) {
                response.headers_mut().insert(http::header::ETAG, etag);
            }
            response
        }
        Answer::Resource(status, body) => {
            let etag = body
                .as_ref()
                .and_then(|b| b.get("_etag"))
                .and_then(Value::as_str)
                .and_then(|e| HeaderValue::from_str(e).ok());
            // `prefer: return=minimal`: a write answers with its status and headers only.
            let body = body.filter(|_| !(minimal && kind == Kind::Write));
            let mut response = respond(status, None, body.map(|b| Bytes::from(b.to_string())));
            if let Some(etag) = etag {
                response.headers_mut().insert(http::header::ETAG, etag);
            }
            response
        }
        Answer::Feed(page) => {
            let etag = page.etag.and_then(|e| HeaderValue::from_str(&e).ok());
            let mut response = respond(200, None, Some(Bytes::from(page.body.to_string())));
            let headers = response.headers_mut();
            headers.insert("x-ms-item-count", HeaderValue::from(page.count));
            if let Some(token) = page
                .continuation
                .and_then(|t| HeaderValue::from_str(&t).ok())
            {
                headers.insert("x-ms-continuation", token);
            }
            if let Some(etag) = etag {
                headers.insert(http::header::ETAG, etag);
            }
            response
        }
    };
    let headers = response.headers_mut();
    if let Some(token) = session_token.and_then(|t| HeaderValue::from_str(&t).ok()) {
        headers.insert("x-ms-session-token", token);
    }
    // Nominal charges: a point read 1 RU, a query 2.5, a write 5.
    let charge = match kind {
        Kind::Read | Kind::QueryPlan => "1",
        Kind::Query => "2.5",
        Kind::Write => "5",
    };
    headers.insert("x-ms-request-charge", HeaderValue::from_static(charge));
    response
}

/// The headers that name an item request's container, as the service sends them:
/// `x-ms-alt-content-path` (by ids) and `x-ms-content-path` (its rid). SDKs key their
/// session tokens by the pair (with the container rid in the item's `_self`).
pub(super) fn content_paths(db: &str, coll: &str, container: &Value) -> HeaderMap {
    let mut headers = HeaderMap::new();
    if let Ok(path) = HeaderValue::from_str(&format!("dbs/{db}/colls/{coll}")) {
        headers.insert("x-ms-alt-content-path", path);
    }
    if let Some(rid) = container["_rid"]
        .as_str()
        .and_then(|r| HeaderValue::from_str(r).ok())
    {
        headers.insert("x-ms-content-path", rid);
    }
    headers
}

/// `content-location`: the address the request was served at (scheme, `Host` or the h2
/// authority, and path), as the service names the regional endpoint that answered.
pub(super) fn content_location(scheme: &str, headers: &HeaderMap, uri: &http::Uri) -> HeaderMap {
    let mut out = HeaderMap::new();
    let path = uri.path();
    let host = headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| uri.authority().map(http::uri::Authority::as_str));
    if let Some(value) =
        host.and_then(|h| HeaderValue::from_str(&format!("{scheme}://{h}{path}")).ok())
    {
        out.insert(http::header::CONTENT_LOCATION, value);
    }
    out
}

/// 304 with the item's etag when the read's `If-None-Match` names it (or is `*`).
pub(super) fn not_modified(request: &ItemRequest, item: Option<&Value>) -> Option<Answer> {
    let etag = item?.get("_etag").and_then(Value::as_str)?;
    let wanted = request.if_none_match.as_deref()?.trim();
    (wanted == "*" || wanted == etag).then(|| Answer::NotModified(Some(etag.to_string())))
}

/// 405 for a method the addressed resource does not take.
pub(super) fn method_not_allowed(method: &http::Method) -> crate::api_error::ApiError {
    crate::api_error::ApiError::new(
        405,
        "MethodNotAllowed",
        format!("{method} is not supported here"),
    )
}
