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

use crate::api_error::ApiError;
use crate::budget::{Charge, ConnectionBudget};
use crate::faults::{FaultAction, RequestFacts};
use crate::http::{Body, Metered, RequestBody, error_response, hold, json_response, respond};
use crate::lock::lock;
use crate::resource::{PathClass, Resource};
use crate::resource_token::{self, is_resource_token};
use crate::state::State;
use crate::topology::ListenerId;

pub(crate) async fn handle(
    state: Arc<State>,
    listener: ListenerId,
    peer: SocketAddr,
    request: Request<impl RequestBody>,
) -> Result<Response<Body>, Infallible> {
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    tracing::debug!(listener = listener.label(), %method, %path, "request");
    // Everything the request holds is charged to it, its connection and the emulator, and
    // released when the last of the request and its response body is gone.
    let connection = request
        .extensions()
        .get::<ConnectionBudget>()
        .map(|c| Arc::clone(&c.0));
    let charge = Arc::new(Charge::new(Arc::clone(&state.memory), connection));
    let request = {
        let charge = Arc::clone(&charge);
        request.map(|body| Metered::new(body, charge, state.idle_timeout))
    };
    let response = answer(&state, &listener, peer, request, method, &path, &charge).await;
    // Every response is held until it is sent: charged, so stalled readers cannot pin more.
    // One that does not fit is answered as the budget refused it (a small error instead).
    let size = hyper::body::Body::size_hint(response.body()).lower();
    let response = match charge.add(usize::try_from(size).unwrap_or(usize::MAX)) {
        Ok(()) => response,
        Err(refused) => error_response(&refused),
    };
    Ok(response.map(|body| hold(body, charge)))
}

async fn answer(
    state: &Arc<State>,
    listener: &ListenerId,
    peer: SocketAddr,
    request: Request<Metered>,
    method: Method,
    path: &str,
    charge: &Arc<Charge>,
) -> Response<Body> {
    if path.starts_with("/_emulator") {
        if *listener != ListenerId::Global {
            state.count(listener, PathClass::Other.as_str(), &method);
            return error_response(&ApiError::new(
                404,
                "NotFound",
                "the admin API is on the global endpoint",
            ));
        }
        state.count(listener, PathClass::Admin.as_str(), &method);
        // `to_canonical`: on a dual-stack (`::`) listener an IPv4 client is
        // `::ffff:127.0.0.1`, which is loopback too.
        if !peer.ip().to_canonical().is_loopback() {
            return error_response(&ApiError::new(
                403,
                "Forbidden",
                "the admin API answers loopback clients only",
            ));
        }
        return crate::admin::handle(state, request, charge).await;
    }

    let Some(resource) = Resource::parse(path) else {
        state.count(listener, PathClass::Other.as_str(), &method);
        return error_response(&ApiError::new(
            404,
            "NotFound",
            format!("no resource at {path}"),
        ));
    };
    let class = resource.class();
    let fault = lock(&state.faults).pick(&RequestFacts {
        listener: listener.label(),
        class: class.as_str(),
        method: method.as_str(),
        path,
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
            state.count(listener, class.as_str(), &method);
            return fault_response(state, other).await;
        }
    };

    let response = match authorize(state, &method, &resource, &request) {
        Err(error) => {
            state.count(listener, PathClass::RejectedAuth.as_str(), &method);
            error_response(&error)
        }
        Ok(()) => {
            state.count(listener, class.as_str(), &method);
            crate::route::serve(state, listener, method, resource, request, charge)
                .await
                .unwrap_or_else(|error| error_response(&error))
        }
    };
    match disturb {
        None => response,
        Some(disturb) => disturb.apply(response).await,
    }
}

fn authorize(
    state: &State,
    method: &Method,
    resource: &Resource,
    request: &Request<impl RequestBody>,
) -> Result<(), ApiError> {
    let header = |name: &str| request.headers().get(name).and_then(|v| v.to_str().ok());
    if let Some(token) = header("authorization").filter(|a| is_resource_token(a)) {
        let data = lock(&state.data);
        return resource_token::authorize(&data, method, resource, request.headers(), token);
    }
    let (resource_type, resource_link) = resource.signing_parts();
    if let Some(entra) = &state.entra {
        if let Some(jwt) = header("authorization").and_then(crate::entra::aad_token) {
            let is_query = header("x-ms-documentdb-isquery").is_some_and(|v| v == "true");
            let write =
                crate::entra::is_control_plane_write(method.as_str(), resource_type, is_query);
            let global = lock(&state.listeners)
                .get(&ListenerId::Global)
                .map(|slot| state.endpoint(slot.addr))
                .unwrap_or_default();
            return entra.authorize(&global, &jwt, write);
        }
        entra.refuse_keys()?;
    }
    let keys = lock(&state.keys).clone();
    let now = SystemTime::now();
    keys.verify(|key| {
        key.verify(
            method.as_str(),
            resource_type,
            &resource_link,
            header("authorization"),
            header("x-ms-date"),
            now,
        )
    })
    .map_err(|error| {
        let code = if error.status() == 403 {
            "Forbidden"
        } else {
            "Unauthorized"
        };
        ApiError::new(error.status(), code, error.to_string())
    })
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
        FaultAction::Oversized { bytes } => oversized(bytes),
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

/// `{"id":"xxx…"}` of `bytes` bytes (at least the 9 of the braces and quotes), streamed
/// from one static chunk: however large, the body is never built in memory.
fn oversized(bytes: usize) -> Response<Body> {
    const CHUNK: usize = 64 * 1024;
    static PADDING: [u8; CHUNK] = [b'x'; CHUNK];
    const PREFIX: &[u8] = b"{\"id\":\"";
    const SUFFIX: &[u8] = b"\"}";
    let padding = bytes.saturating_sub(PREFIX.len() + SUFFIX.len());
    let total = PREFIX.len() + padding + SUFFIX.len();
    let chunk = Bytes::from_static(&PADDING);
    let (full, rest) = (padding / CHUNK, padding % CHUNK);
    let frames = std::iter::once(Bytes::from_static(PREFIX))
        .chain(std::iter::repeat_n(chunk.clone(), full))
        .chain(std::iter::once(chunk.slice(..rest)))
        .chain(std::iter::once(Bytes::from_static(SUFFIX)))
        .map(|data| Ok::<_, Box<dyn std::error::Error + Send + Sync>>(Frame::data(data)));
    let mut response = respond(200, None, Some(Bytes::new()));
    *response.body_mut() = StreamBody::new(futures_util::stream::iter(frames)).boxed();
    response
        .headers_mut()
        .insert(http::header::CONTENT_LENGTH, http::HeaderValue::from(total));
    response
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
