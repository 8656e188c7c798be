//! The HTTP transport: an internal trait, and its default — hyper's HTTP/1.1 client on the
//! driver's own [`Connections`](crate::connections::Connections).

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use futures_util::FutureExt;
use http::{HeaderMap, Method, Request};
use http_body_util::{BodyExt, Full, Limited};

use crate::connections::{Connections, SendError};

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

/// HTTP/1.1 over TCP or rustls (webpki roots, plus certificates the user chose to trust)
/// on the driver's own [`Connections`], with a per-request timeout, a response body cap,
/// and idle connections reused only within [`reuse_horizon`] of the configured idle
/// timeout.
pub(crate) struct HyperTransport {
    connections: Connections,
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
        let connector = crate::tls::connector(trusted, timeout)?;
        // A connection that took a request before it saw the server's close fails the
        // request as maybe sent: the reuse horizon keeps that from happening. One the
        // server closed first hands the request back unsent, and it goes on the next
        // connection (`Connections::send`).
        let connections = Connections::new(
            connector,
            reuse_horizon(pool_idle_timeout),
            max_idle_per_host,
        );
        Ok(Self {
            connections,
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
            let mut request = hyper_request;
            let (scheme, authority) = Connections::target(&mut request).map_err(refused)?;
            // A reused connection that hands the request back unsent passes it on.
            let connections = &self.connections;
            let (response, lease) = loop {
                let (mut sender, reused) = connections
                    .ready(&scheme, &authority)
                    .await
                    .map_err(refused)?;
                match sender.try_send_request(request).await {
                    Ok(response) => break (response, connections.lease(scheme, authority, sender)),
                    Err(error) => request = Connections::resend(error, reused).map_err(refused)?,
                }
            };
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
            // The body is in: the connection may take the next request.
            lease.release();
            Ok(HttpResponse {
                status: parts.status.as_u16(),
                headers: parts.headers,
                body,
            })
        }
    }
}

/// A request no connection took, as the transport's error: never sent, or maybe sent.
fn refused(error: SendError) -> TransportError {
    match error {
        SendError::NeverSent(e) => TransportError::Connect(e),
        SendError::MaybeSent(e) => TransportError::Broken(e),
        SendError::Invalid(e) => TransportError::Invalid(e),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_requests_future_does_not_carry_a_connection_being_opened() {
        // Boxed once per request, and every byte of it copied into the box. Opening a
        // connection is boxed where it happens, or the new connection's stream (TLS state
        // and all) would sit in every request's future: 2,616 bytes.
        let transport = HyperTransport::new(
            &[],
            Duration::from_secs(1),
            1024,
            Duration::from_secs(20),
            4,
        )
        .unwrap();
        let request = HttpRequest {
            method: Method::GET,
            url: "http://127.0.0.1:1/".into(),
            headers: HeaderMap::new(),
            body: None,
        };
        let future = transport.send(request);
        let size = std::mem::size_of_val(&*future);
        println!("a request's boxed future: {size} bytes");
        assert!(size <= 1_400, "{size} bytes");
    }
}
