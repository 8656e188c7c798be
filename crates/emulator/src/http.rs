//! Response construction and request-body limits shared by the wire and admin APIs.

use std::convert::Infallible;
use std::error::Error;

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, Limited};
use serde_json::{Value, json};

use crate::data::ApiError;

/// The response body type: a boxed body so faults can stream, stall or break it.
pub type Body = BoxBody<Bytes, Box<dyn Error + Send + Sync>>;

/// Any request body the emulator reads: hyper's `Incoming` on sockets, `Full<Bytes>` for
/// in-process requests ([`Emulator::handle`](crate::Emulator::handle)).
pub(crate) trait RequestBody:
    hyper::body::Body<Data = Bytes, Error: Into<Box<dyn Error + Send + Sync>>> + Send + 'static
{
}

impl<B> RequestBody for B where
    B: hyper::body::Body<Data = Bytes, Error: Into<Box<dyn Error + Send + Sync>>> + Send + 'static
{
}

/// The largest request body accepted (larger: 413).
pub const MAX_REQUEST_BODY: usize = 2 * 1024 * 1024;

/// The REST API version the emulator speaks.
pub const API_VERSION: &str = "2020-07-15";

pub(crate) fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never: Infallible| match never {})
        .boxed()
}

fn activity_id() -> String {
    let (a, b) = (fastrand::u64(..), fastrand::u64(..));
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0x0fff,
        (b >> 48) & 0x3fff | 0x8000,
        b & 0xffff_ffff_ffff
    )
}

/// A response with the service's standard headers.
pub(crate) fn respond(status: u16, sub_status: Option<u32>, body: Option<Bytes>) -> Response<Body> {
    let has_body = body.is_some();
    let mut response = Response::new(full(body.unwrap_or_default()));
    *response.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    headers.insert("x-ms-version", HeaderValue::from_static(API_VERSION));
    if let Ok(id) = HeaderValue::from_str(&activity_id()) {
        headers.insert("x-ms-activity-id", id);
    }
    headers.insert("x-ms-request-charge", HeaderValue::from_static("1"));
    if has_body {
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
    }
    if let Some(sub) = sub_status {
        headers.insert("x-ms-substatus", HeaderValue::from(sub));
    }
    response
}

pub(crate) fn json_response(status: u16, value: &Value) -> Response<Body> {
    respond(status, None, Some(Bytes::from(value.to_string())))
}

pub(crate) fn error_response(error: &ApiError) -> Response<Body> {
    let body = json!({"code": error.code, "message": error.message});
    respond(
        error.status,
        error.sub_status,
        Some(Bytes::from(body.to_string())),
    )
}

/// Reads a request body of at most [`MAX_REQUEST_BODY`] bytes.
pub(crate) async fn read_body(body: impl RequestBody) -> Result<Bytes, ApiError> {
    match Limited::new(body, MAX_REQUEST_BODY).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.is::<http_body_util::LengthLimitError>() => Err(ApiError::new(
            413,
            "RequestEntityTooLarge",
            format!("request bodies are capped at {MAX_REQUEST_BODY} bytes"),
        )),
        Err(_) => Err(ApiError::new(
            400,
            "BadRequest",
            "the request body could not be read",
        )),
    }
}

/// Reads and parses a JSON request body: JSON text, or Cosmos binary JSON (see [`crate::binary`]).
pub(crate) async fn read_json(body: impl RequestBody) -> Result<Value, ApiError> {
    parse_json(&read_body(body).await?)
}

/// Parses a request body: JSON text, or Cosmos binary JSON. The official Rust SDK sends
/// item bodies in binary by default, with `content-type: application/json`: the `0x80`
/// preamble (no JSON text starts with it) is what marks them.
pub(crate) fn parse_json(bytes: &[u8]) -> Result<Value, ApiError> {
    if crate::binary::is_binary(bytes) {
        return crate::binary::decode(bytes).map_err(|e| {
            ApiError::new(
                400,
                "BadRequest",
                format!("the body is not valid binary JSON: {e}"),
            )
        });
    }
    serde_json::from_slice(bytes).map_err(|e| {
        ApiError::new(
            400,
            "BadRequest",
            format!("the body is not valid JSON: {e}"),
        )
    })
}
