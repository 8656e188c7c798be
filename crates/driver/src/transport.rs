//! The HTTP transport: an internal trait, and its default over hyper-util + rustls.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::FutureExt;
use http::{HeaderMap, Method, Request};
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;

/// One request, fully built (signed) by the caller.
#[derive(Debug, Clone)]
pub(crate) struct HttpRequest {
    pub(crate) method: Method,
    pub(crate) url: String,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Option<Bytes>,
}

/// A whole response (the body is read under the size cap).
#[derive(Debug, Clone)]
pub(crate) struct HttpResponse {
    pub(crate) status: u16,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

/// Why a request got no (complete) response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum TransportError {
    /// No connection took the request: the connection was refused, or a new connection
    /// closed before the request was written. The request was never sent (repeating it
    /// cannot apply it twice), and the endpoint is failing.
    #[error("connection failed: {0}")]
    Connect(String),
    /// No complete response within the request timeout.
    #[error("no response within {0:?}")]
    Timeout(Duration),
    /// The connection broke after the request may have been sent.
    #[error("connection broken: {0}")]
    Broken(String),
    /// The response body is larger than the cap; it was not buffered.
    #[error("response body over the {0}-byte cap")]
    BodyTooLarge(usize),
    /// The request could not be built (bad URL or header).
    #[error("invalid request: {0}")]
    Invalid(String),
}

pub(crate) type SendFuture<'a> =
    Pin<Box<dyn Future<Output = Result<HttpResponse, TransportError>> + Send + 'a>>;

/// Sends requests. The driver's only I/O seam.
pub(crate) trait Transport: Send + Sync + 'static {
    fn send(&self, request: HttpRequest) -> SendFuture<'_>;
}

/// How long a pooled connection may have been idle and still be reused: the configured
/// idle timeout less a guard of a quarter of it (at most 2 s). Servers close idle
/// connections on their own clock, which starts a little before ours (when they finish
/// writing the response); without the guard, a connection reused just before a server
/// with the same timeout closes it carries the request into the close, and the write
/// fails after it may have been sent.
pub(crate) fn reuse_horizon(idle_timeout: Duration) -> Duration {
    idle_timeout.saturating_sub((idle_timeout / 4).min(Duration::from_secs(2)))
}

/// hyper-util's pooled client over rustls (webpki roots, plus certificates the user chose
/// to trust), with a per-request timeout, a response body cap, and idle connections
/// dropped before [`reuse_horizon`] of the configured idle timeout.
pub(crate) struct HyperTransport {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    timeout: Duration,
    max_body: usize,
}

impl HyperTransport {
    pub(crate) fn new(
        trusted: &[Vec<u8>],
        timeout: Duration,
        max_body: usize,
        pool_idle_timeout: Duration,
        max_idle_per_host: usize,
    ) -> Result<Self, String> {
        let mut roots = RootCertStore::empty();
        roots.extend(webpki_roots_anchors());
        for der in trusted {
            roots
                .add(CertificateDer::from(der.clone()))
                .map_err(|e| format!("a trusted certificate was refused: {e}"))?;
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(timeout));
        http.set_nodelay(true);
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let horizon = reuse_horizon(pool_idle_timeout);
        let mut builder = Client::builder(TokioExecutor::new());
        // The timer lets the pool close expired connections in the background; the
        // horizon is also checked whenever a connection is taken from the pool. A request
        // a *reused* connection hands back unsent (the server closed it first) is re-sent
        // by hyper on a new connection, so such a hand-back never reaches the driver (see
        // `SendStage::never_sent`). A closed connection that took the request before it
        // saw the close fails as maybe sent: the reuse horizon keeps that from happening.
        builder
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(horizon)
            .retry_canceled_requests(true);
        builder.pool_max_idle_per_host(if horizon.is_zero() {
            0
        } else {
            max_idle_per_host
        });
        let client = builder.build(connector);
        Ok(Self {
            client,
            timeout,
            max_body,
        })
    }

    /// One request and its whole response. Not an `async fn`: the async block holds the
    /// request once (an `async fn` keeps its argument and a moved copy).
    #[allow(
        clippy::manual_async_fn,
        reason = "the async block is smaller, see above"
    )]
    fn exchange(
        &self,
        request: HttpRequest,
    ) -> impl Future<Output = Result<HttpResponse, TransportError>> + Send + '_ {
        async move {
            // The names and values are typed already: they go into the map as they are, and
            // the URL's bytes become the URI's without a copy.
            let uri = http::Uri::try_from(request.url)
                .map_err(|e| TransportError::Invalid(e.to_string()))?;
            let mut hyper_request = Request::new(Full::new(request.body.unwrap_or_default()));
            *hyper_request.method_mut() = request.method;
            *hyper_request.uri_mut() = uri;
            *hyper_request.headers_mut() = request.headers;
            let request = hyper_request;
            let response = self.client.request(request).await.map_err(|error| {
                let stage = SendStage {
                    connect: error.is_connect(),
                    kind: hyper_kind(&error),
                    on_a_connection: error.connect_info().is_some(),
                };
                if stage.never_sent() {
                    TransportError::Connect(error_chain(&error))
                } else {
                    TransportError::Broken(error_chain(&error))
                }
            })?;
            let (parts, body) = response.into_parts();
            let declared = parts
                .headers
                .get(http::header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<usize>().ok());
            if declared.is_some_and(|len| len > self.max_body) {
                return Err(TransportError::BodyTooLarge(self.max_body));
            }
            let body = Limited::new(body, self.max_body)
                .collect()
                .await
                .map_err(|error| {
                    if error.is::<http_body_util::LengthLimitError>() {
                        TransportError::BodyTooLarge(self.max_body)
                    } else {
                        TransportError::Broken(error.to_string())
                    }
                })?
                .to_bytes();
            Ok(HttpResponse {
                status: parts.status.as_u16(),
                headers: parts.headers,
                body,
            })
        }
    }
}

impl Transport for HyperTransport {
    fn send(&self, request: HttpRequest) -> SendFuture<'_> {
        // The timeout over the exchange, boxed as it is (no async block around it holding
        // the request a second time): the box stays within the allocator's per-thread
        // cache, which serves blocks up to about a kilobyte without a lock.
        let timeout = self.timeout;
        Box::pin(
            tokio::time::timeout(timeout, self.exchange(request))
                .map(move |answer| answer.unwrap_or(Err(TransportError::Timeout(timeout)))),
        )
    }
}

fn webpki_roots_anchors() -> impl Iterator<Item = rustls::pki_types::TrustAnchor<'static>> {
    webpki_roots::TLS_SERVER_ROOTS.iter().cloned()
}

/// hyper-util's error kind, which has no public accessor in 0.1: its `Display` is
/// `client error ({kind:?})` (0.1.21).
fn hyper_kind(error: &hyper_util::client::legacy::Error) -> HyperKind {
    match error.to_string().as_str() {
        "client error (Canceled)" => HyperKind::Canceled,
        "client error (SendRequest)" => HyperKind::SendRequest,
        _ => HyperKind::Other,
    }
}

/// The hyper-util error kinds the transport tells apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HyperKind {
    /// Given up before any byte was written: a connection handed the request back, or a
    /// connection attempt gave way to another one.
    Canceled,
    /// Sending failed, or (without connection info) a new connection failed its
    /// handshake before it could take a request.
    SendRequest,
    Other,
}

/// How far a failed request got, from what hyper-util's error says.
#[derive(Debug, Clone, Copy)]
struct SendStage {
    /// `is_connect()`: no connection could be made.
    connect: bool,
    kind: HyperKind,
    /// `connect_info()` is set: hyper-util attaches it once a connection was handed the
    /// request (every error of its `try_send_request`), never before.
    on_a_connection: bool,
}

impl SendStage {
    /// Whether the request certainly never left the client, so repeating it anywhere is
    /// harmless — and, since the endpoint refused or dropped a *new* connection, the
    /// region is failing (mark, refresh, next region):
    /// - a connect error;
    /// - a new connection that closed during its handshake, before it took the request
    ///   (`SendRequest` with no connection info: a draining node or a load balancer with
    ///   no backend accepts and closes);
    /// - `Canceled`: the connection handed the request back unsent. With
    ///   `retry_canceled_requests` hyper-util re-sends such a request itself when the
    ///   connection was *reused* (a stale pooled connection), so the ones that reach the
    ///   driver come from a *fresh* connection.
    ///
    /// Anything else may have been written: a non-idempotent write must not be repeated.
    fn never_sent(self) -> bool {
        self.connect
            || self.kind == HyperKind::Canceled
            || (self.kind == HyperKind::SendRequest && !self.on_a_connection)
    }
}

/// An error and its sources on one line (hyper's top-level messages are terse).
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_errors_before_a_connection_took_the_request_are_never_sent() {
        let stage = |connect, kind, on_a_connection| SendStage {
            connect,
            kind,
            on_a_connection,
        };
        // Refused; a new connection closed in its handshake; handed back unsent.
        assert!(stage(true, HyperKind::Other, false).never_sent());
        assert!(stage(false, HyperKind::SendRequest, false).never_sent());
        assert!(stage(false, HyperKind::Canceled, true).never_sent());
        // Written to a connection that then failed: may have been sent.
        assert!(!stage(false, HyperKind::SendRequest, true).never_sent());
        assert!(!stage(false, HyperKind::Other, true).never_sent());
        assert!(!stage(false, HyperKind::Other, false).never_sent());
    }
}
