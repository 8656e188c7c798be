//! One wire request: count it, apply faults, check the master key, route it.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{Method, Request, Response};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use serde_json::json;

use crate::data::{ApiError, ItemRequest};
use crate::faults::{FaultAction, RequestFacts};
use crate::http::{Body, RequestBody, error_response, json_response, read_json, respond};
use crate::resource::{PathClass, Resource};
use crate::state::{State, lock};
use crate::topology::ListenerId;

/// Sub-status of 403 for a write outside the write regions.
pub const SUB_STATUS_WRITE_FORBIDDEN: u32 = 3;
/// Sub-status of 403 from a drained or removed region.
pub const SUB_STATUS_DATABASE_ACCOUNT_NOT_FOUND: u32 = 1008;

pub(crate) async fn handle(
    state: Arc<State>,
    listener: ListenerId,
    peer: SocketAddr,
    request: Request<impl RequestBody>,
) -> Result<Response<Body>, Infallible> {
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    tracing::debug!(listener = listener.label(), %method, %path, "request");

    if path.starts_with("/_emulator") {
        if listener != ListenerId::Global {
            state.count(&listener, PathClass::Other.as_str(), method.as_str());
            return Ok(error_response(&ApiError::new(
                404,
                "NotFound",
                "the admin API is on the global endpoint",
            )));
        }
        state.count(&listener, PathClass::Admin.as_str(), method.as_str());
        if !peer.ip().is_loopback() {
            return Ok(error_response(&ApiError::new(
                403,
                "Forbidden",
                "the admin API answers loopback clients only",
            )));
        }
        return Ok(crate::admin::handle(&state, request).await);
    }

    let Some(resource) = Resource::parse(&path) else {
        state.count(&listener, PathClass::Other.as_str(), method.as_str());
        return Ok(error_response(&ApiError::new(
            404,
            "NotFound",
            format!("no resource at {path}"),
        )));
    };
    let class = resource.class();
    let fault = lock(&state.faults).pick(&RequestFacts {
        listener: listener.label(),
        class: class.as_str(),
        method: method.as_str(),
        path: &path,
    });
    let disturb = match fault {
        None => None,
        Some(FaultAction::Delay { ms }) => {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            None
        }
        Some(FaultAction::TruncatedJson) => Some(Disturb::Truncate),
        Some(FaultAction::Reset) => Some(Disturb::Reset),
        Some(other) => {
            state.count(&listener, class.as_str(), method.as_str());
            return Ok(fault_response(&state, other).await);
        }
    };

    let response = match authorize(&state, &method, &resource, &request) {
        Err(error) => {
            state.count(&listener, PathClass::RejectedAuth.as_str(), method.as_str());
            error_response(&error)
        }
        Ok(()) => {
            state.count(&listener, class.as_str(), method.as_str());
            serve(&state, &listener, method, resource, request)
                .await
                .unwrap_or_else(|error| error_response(&error))
        }
    };
    Ok(match disturb {
        None => response,
        Some(disturb) => disturb.apply(response).await,
    })
}

fn authorize(
    state: &State,
    method: &Method,
    resource: &Resource,
    request: &Request<impl RequestBody>,
) -> Result<(), ApiError> {
    let header = |name: &str| request.headers().get(name).and_then(|v| v.to_str().ok());
    let (resource_type, resource_link) = resource.signing_parts();
    let keys = lock(&state.keys).clone();
    keys.verify(
        method.as_str(),
        resource_type,
        &resource_link,
        header("authorization"),
        header("x-ms-date"),
        SystemTime::now(),
    )
    .map_err(|error| {
        let code = if error.status() == 403 {
            "Forbidden"
        } else {
            "Unauthorized"
        };
        ApiError::new(error.status(), code, error.to_string())
    })
}

async fn serve(
    state: &State,
    listener: &ListenerId,
    method: Method,
    resource: Resource,
    request: Request<impl RequestBody>,
) -> Result<Response<Body>, ApiError> {
    let (not_found, writable) = {
        let topology = lock(&state.topology);
        (
            topology.not_found(listener),
            topology.accepts_writes(listener),
        )
    };
    if not_found {
        return Err(ApiError::new(
            403,
            "Forbidden",
            "DatabaseAccountNotFound: this region no longer serves the account",
        )
        .with_sub_status(SUB_STATUS_DATABASE_ACCOUNT_NOT_FOUND));
    }
    let is_write = matches!(method, Method::POST | Method::PUT | Method::DELETE);
    if is_write && !writable {
        return Err(ApiError::new(
            403,
            "Forbidden",
            "WriteForbidden: this region does not accept writes",
        )
        .with_sub_status(SUB_STATUS_WRITE_FORBIDDEN));
    }
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let item_request = ItemRequest {
        partition_key: header("x-ms-documentdb-partitionkey"),
        if_match: header("if-match"),
        upsert: header("x-ms-documentdb-is-upsert").is_some_and(|v| v.eq_ignore_ascii_case("true")),
    };
    let (status, body) = match (method, resource) {
        (Method::GET, Resource::Account) => (200, Some(lock(&state.topology).account_document())),
        (Method::POST, Resource::Databases) => {
            let body = read_json(request.into_body()).await?;
            lock(&state.data).create_database(body)?
        }
        (Method::GET, Resource::Database { db }) => lock(&state.data).read_database(&db)?,
        (Method::POST, Resource::Containers { db }) => {
            let body = read_json(request.into_body()).await?;
            lock(&state.data).create_container(&db, body)?
        }
        (Method::GET, Resource::Container { db, coll }) => {
            lock(&state.data).read_container(&db, &coll)?
        }
        (Method::POST, Resource::Items { db, coll }) => {
            let body = read_json(request.into_body()).await?;
            lock(&state.data).create_item(&db, &coll, body, &item_request)?
        }
        (Method::GET, Resource::Item { db, coll, id }) => {
            lock(&state.data).read_item(&db, &coll, &id, &item_request)?
        }
        (Method::PUT, Resource::Item { db, coll, id }) => {
            let body = read_json(request.into_body()).await?;
            lock(&state.data).replace_item(&db, &coll, &id, body, &item_request)?
        }
        (Method::DELETE, Resource::Item { db, coll, id }) => {
            lock(&state.data).delete_item(&db, &coll, &id, &item_request)?
        }
        (method, _) => {
            return Err(ApiError::new(
                405,
                "MethodNotAllowed",
                format!("{method} is not supported here"),
            ));
        }
    };
    let mut response = respond(
        status,
        None,
        body.as_ref().map(|b| Bytes::from(b.to_string())),
    );
    if let Some(etag) = body
        .as_ref()
        .and_then(|b| b.get("_etag"))
        .and_then(|e| e.as_str())
    {
        if let Ok(value) = http::HeaderValue::from_str(etag) {
            response.headers_mut().insert(http::header::ETAG, value);
        }
    }
    Ok(response)
}

async fn fault_response(state: &State, action: FaultAction) -> Response<Body> {
    match action {
        FaultAction::Status {
            status,
            sub_status,
            body,
            retry_after_ms,
        } => {
            let body = body.unwrap_or_else(|| json!({"code": "InjectedFault", "message": format!("injected fault: HTTP {status}")}));
            let mut response = respond(status, sub_status, Some(Bytes::from(body.to_string())));
            if let Some(ms) = retry_after_ms {
                response
                    .headers_mut()
                    .insert("x-ms-retry-after-ms", http::HeaderValue::from(ms));
            }
            response
        }
        FaultAction::Body { status, body } => json_response(status, &body),
        FaultAction::MalformedJson => respond(
            200,
            None,
            Some(Bytes::from_static(
                b"{\"id\": \"meridian\", \"_rid\": <<not json>>",
            )),
        ),
        FaultAction::Oversized { bytes } => {
            let padding = "x".repeat(bytes.saturating_sub(16));
            json_response(200, &json!({"id": padding}))
        }
        FaultAction::Hang => {
            state.shutdown.cancelled().await;
            respond(503, None, None)
        }
        // Handled by the caller (they disturb a normal answer).
        FaultAction::Delay { .. } | FaultAction::TruncatedJson | FaultAction::Reset => {
            respond(500, None, None)
        }
    }
}

/// A fault that disturbs the normal answer instead of replacing it.
enum Disturb {
    Truncate,
    Reset,
}

impl Disturb {
    async fn apply(self, response: Response<Body>) -> Response<Body> {
        let (mut parts, body) = response.into_parts();
        let bytes = body
            .collect()
            .await
            .map(|c| c.to_bytes())
            .unwrap_or_default();
        let half = bytes.slice(..bytes.len() / 2);
        parts.headers.remove(http::header::CONTENT_LENGTH);
        let body = match self {
            Self::Truncate => crate::http::full(half),
            Self::Reset => {
                // Promise the full length, send half, then fail the stream: hyper aborts
                // the connection mid-body.
                parts.headers.insert(
                    http::header::CONTENT_LENGTH,
                    http::HeaderValue::from(bytes.len()),
                );
                let frames: Vec<Result<Frame<Bytes>, Box<dyn std::error::Error + Send + Sync>>> = vec![
                    Ok(Frame::data(half)),
                    Err(Box::new(std::io::Error::new(
                        std::io::ErrorKind::ConnectionReset,
                        "injected reset",
                    ))),
                ];
                StreamBody::new(futures_util::stream::iter(frames)).boxed()
            }
        };
        Response::from_parts(parts, body)
    }
}
