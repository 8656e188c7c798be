//! Response construction and request-body limits shared by the wire and admin APIs: a
//! body is charged to its request's memory budget as it arrives and must arrive in time.

use std::convert::Infallible;
use std::error::Error;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::combinators::{BoxBody, UnsyncBoxBody};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Frame;
use serde_json::{Value, json};
use tokio::time::Sleep;

use crate::api_error::ApiError;
use crate::budget::{Charge, value_size};

/// Sub-status of 403 for a write outside the write regions.
pub const SUB_STATUS_WRITE_FORBIDDEN: u32 = 3;
/// Sub-status of 403 from a drained or removed region.
pub const SUB_STATUS_DATABASE_ACCOUNT_NOT_FOUND: u32 = 1008;

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
    let mut body = json!({"code": error.code, "message": error.message});
    if let Some(info) = &error.additional_info {
        body["additionalErrorInfo"] = Value::from(info.as_str());
    }
    // The service sets `x-ms-substatus` on every error, `0` when there is no finer cause.
    let mut response = respond(
        error.status,
        Some(error.sub_status.unwrap_or(0)),
        Some(Bytes::from(body.to_string())),
    );
    if let Some(ms) = error.retry_after_ms {
        response
            .headers_mut()
            .insert("x-ms-retry-after-ms", HeaderValue::from(ms));
    }
    response
}

/// Reads a request body of at most [`MAX_REQUEST_BODY`] bytes. A body a [`Metered`]
/// wrapper refused (budget, read timeout) is answered as the wrapper said.
pub(crate) async fn read_body(body: impl RequestBody) -> Result<Bytes, ApiError> {
    match Limited::new(body, MAX_REQUEST_BODY).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.is::<http_body_util::LengthLimitError>() => Err(ApiError::too_large(
            format!("request bodies are capped at {MAX_REQUEST_BODY} bytes"),
        )),
        Err(error) => match error.downcast::<Refused>() {
            Ok(refused) => Err(refused.0),
            Err(_) => Err(ApiError::new(
                400,
                "BadRequest",
                "the request body could not be read",
            )),
        },
    }
}

/// Reads and parses a JSON request body: JSON text, or Cosmos binary JSON (see
/// [`crate::binary`]); the decoded value is charged to the request.
pub(crate) async fn read_json(body: impl RequestBody, charge: &Charge) -> Result<Value, ApiError> {
    parse_json(&read_body(body).await?, charge)
}

/// Parses a request body: JSON text, or Cosmos binary JSON. The official Rust SDK sends
/// item bodies in binary by default, with `content-type: application/json`: the `0x80`
/// preamble (no JSON text starts with it) is what marks them. The decoded value is charged
/// to the request at its decoded size: a binary body decoding past [`MAX_DECODED_BODY`]
/// bytes is refused with 413 before it is built.
pub(crate) fn parse_json(bytes: &[u8], charge: &Charge) -> Result<Value, ApiError> {
    let value = if crate::binary::is_binary(bytes) {
        crate::binary::decode_within(bytes, MAX_DECODED_BODY).map_err(|e| match e {
            crate::binary::BinaryError::TooLarge { .. } => ApiError::too_large(format!(
                "the binary body decodes to more than {MAX_DECODED_BODY} bytes"
            )),
            e => ApiError::new(
                400,
                "BadRequest",
                format!("the body is not valid binary JSON: {e}"),
            ),
        })?
    } else {
        serde_json::from_slice(bytes).map_err(|e| {
            ApiError::new(
                400,
                "BadRequest",
                format!("the body is not valid JSON: {e}"),
            )
        })?
    };
    charge.add(value_size(&value))?;
    Ok(value)
}

/// The most memory a decoded request body may take (see [`value_size`]).
pub(crate) const MAX_DECODED_BODY: usize = 16 * 1024 * 1024;

/// Why a [`Metered`] body stopped: the budget refused a frame, or the body was too slow.
#[derive(Debug)]
struct Refused(ApiError);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.message)
    }
}

impl Error for Refused {}

/// A request body charged to its request as it arrives, which must arrive whole before a
/// deadline (else 408).
pub(crate) struct Metered {
    inner: UnsyncBoxBody<Bytes, Box<dyn Error + Send + Sync>>,
    charge: Arc<Charge>,
    deadline: Pin<Box<Sleep>>,
    timeout: Duration,
}

impl Metered {
    pub(crate) fn new(body: impl RequestBody, charge: Arc<Charge>, timeout: Duration) -> Self {
        Self {
            inner: body.map_err(Into::into).boxed_unsync(),
            charge,
            deadline: Box::pin(tokio::time::sleep(timeout)),
            timeout,
        }
    }
}

impl hyper::body::Body for Metered {
    type Data = Bytes;
    type Error = Box<dyn Error + Send + Sync>;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref()
                    && let Err(refused) = this.charge.add(data.len())
                {
                    return Poll::Ready(Some(Err(Box::new(Refused(refused)))));
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Pending => match this.deadline.as_mut().poll(cx) {
                Poll::Ready(()) => {
                    let timeout = ApiError::new(
                        408,
                        "RequestTimeout",
                        format!(
                            "the request body did not arrive within {} ms",
                            this.timeout.as_millis()
                        ),
                    );
                    Poll::Ready(Some(Err(Box::new(Refused(timeout)))))
                }
                Poll::Pending => Poll::Pending,
            },
            other => other,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

/// `body`, holding `guard` until the body is dropped (sent, or its connection closed); its
/// size hint is kept, so a full body still gets its `content-length`.
pub(crate) fn hold<G: Send + Sync + Unpin + 'static>(body: Body, guard: G) -> Body {
    Holding {
        body,
        _guard: guard,
    }
    .boxed()
}

struct Holding<G> {
    body: Body,
    _guard: G,
}

impl<G: Unpin> hyper::body::Body for Holding<G> {
    type Data = Bytes;
    type Error = Box<dyn Error + Send + Sync>;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.body.size_hint()
    }
}
