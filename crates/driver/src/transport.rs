//! The HTTP transport: an internal trait, and its default over hyper-util + rustls.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request};
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;

/// One request, fully built (signed) by the caller.
#[derive(Debug, Clone)]
pub(crate) struct HttpRequest {
    pub(crate) method: Method,
    pub(crate) url: String,
    pub(crate) headers: Vec<(HeaderName, HeaderValue)>,
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
    /// Could not connect: the request was never sent.
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

/// hyper-util's pooled client over rustls (webpki roots, plus certificates the user chose
/// to trust), with a per-request timeout and a response body cap.
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
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(max_idle_per_host)
            .build(connector);
        Ok(Self {
            client,
            timeout,
            max_body,
        })
    }

    async fn exchange(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        let mut builder = Request::builder().method(request.method).uri(&request.url);
        for (name, value) in request.headers {
            builder = builder.header(name, value);
        }
        let request = builder
            .body(Full::new(request.body.unwrap_or_default()))
            .map_err(|e| TransportError::Invalid(e.to_string()))?;
        let response = self.client.request(request).await.map_err(|error| {
            if error.is_connect() {
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

impl Transport for HyperTransport {
    fn send(&self, request: HttpRequest) -> SendFuture<'_> {
        Box::pin(async move {
            tokio::time::timeout(self.timeout, self.exchange(request))
                .await
                .unwrap_or(Err(TransportError::Timeout(self.timeout)))
        })
    }
}

fn webpki_roots_anchors() -> impl Iterator<Item = rustls::pki_types::TrustAnchor<'static>> {
    webpki_roots::TLS_SERVER_ROOTS.iter().cloned()
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
