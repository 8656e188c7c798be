//! The transport's connections: HTTP/1.1 over TCP or TLS, kept per endpoint between
//! requests, the most recently idle reused first and none once idle past the reuse
//! horizon.
//!
//! Not hyper-util's legacy client: per request it clones its connector, races a pool
//! checkout against a lazy connect, formats the `Host` header, attaches connection info
//! to every response and, when the body is still to be read, spawns a task to put the
//! connection back — a tenth of a bare client's work per request
//! (`benches/RESULTS.md` §12). The driver bounds its connections itself
//! ([`PooledTransport`](crate::shared::PooledTransport)) and reads every body whole, so
//! here a request takes an idle connection or opens one, and the connection goes back
//! when its body is in ([`Lease::release`]).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::uri::{Authority, Scheme};
use http::{HeaderValue, Request, Response, Uri};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use tokio::task::AbortHandle;
use tower_service::Service;

type Sender = SendRequest<Full<Bytes>>;

/// Why a request got no response head.
#[derive(Debug)]
pub(crate) enum SendError {
    /// The request certainly never left: no connection could be made, or a new one closed
    /// or handed the request back before writing it. Repeating it anywhere is harmless,
    /// and the endpoint is failing.
    NeverSent(String),
    /// The request may have been written before the connection failed.
    MaybeSent(String),
    /// The URL has no scheme or host.
    Invalid(String),
}

/// The idle connections and how to open new ones. Shared by the drivers of one pool.
pub(crate) struct Connections {
    connector: HttpsConnector<HttpConnector>,
    idle: Arc<Mutex<IdleSet>>,
    /// How long an idle connection may be reused; zero keeps none.
    horizon: Duration,
    max_idle_per_endpoint: usize,
}

/// Idle connections by endpoint, oldest first, and the task sweeping them, if running.
#[derive(Default)]
struct IdleSet {
    by_endpoint: HashMap<Authority, VecDeque<Idle>, foldhash::fast::RandomState>,
    sweeper: Option<AbortHandle>,
}

impl Drop for IdleSet {
    /// The pool is gone: so is its sweeper (it holds the set only while sweeping).
    fn drop(&mut self) {
        if let Some(sweeper) = self.sweeper.take() {
            sweeper.abort();
        }
    }
}

struct Idle {
    scheme: Scheme,
    sender: Sender,
    since: Instant,
}

impl IdleSet {
    /// Drops every connection idle since before `oldest` (they would not be reused).
    fn drop_expired(&mut self, oldest: Instant) {
        self.by_endpoint.retain(|_, idle| {
            while idle.front().is_some_and(|c| c.since < oldest) {
                idle.pop_front();
            }
            !idle.is_empty()
        });
    }
}

/// A connection lent to one request: [`release`](Self::release) it once the response
/// body is in, and the next request may reuse it; dropped unreleased (an error, a
/// timeout, a body left unread), the connection closes.
pub(crate) struct Lease<'a> {
    connections: &'a Connections,
    authority: Authority,
    scheme: Scheme,
    sender: Sender,
}

impl Lease<'_> {
    /// Puts the connection back among the idle ones (unless the pool keeps no more).
    pub(crate) fn release(self) {
        let connections = self.connections;
        if connections.horizon.is_zero() || self.sender.is_closed() {
            return;
        }
        let now = Instant::now();
        let mut set = connections.lock();
        let idle = set.by_endpoint.entry(self.authority).or_default();
        if idle.len() >= connections.max_idle_per_endpoint {
            return;
        }
        idle.push_back(Idle {
            scheme: self.scheme,
            sender: self.sender,
            since: now,
        });
        if set.sweeper.is_none() {
            set.sweeper = connections.spawn_sweeper();
        }
    }
}

impl Connections {
    pub(crate) fn new(
        connector: HttpsConnector<HttpConnector>,
        horizon: Duration,
        max_idle_per_endpoint: usize,
    ) -> Self {
        Self {
            connector,
            idle: Arc::default(),
            horizon,
            max_idle_per_endpoint,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, IdleSet> {
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sends `request` (an absolute URL) on an idle connection to its endpoint, or on a
    /// new one. A reused connection found closed, or one that hands the request back
    /// unsent (hyper does when the connection closes before writing it), costs nothing:
    /// the request goes on the next one. One that wrote the request and then read the
    /// server's close fails it as maybe sent — what the reuse horizon prevents.
    pub(crate) async fn send(
        &self,
        mut request: Request<Full<Bytes>>,
    ) -> Result<(Response<Incoming>, Lease<'_>), SendError> {
        let uri = request.uri().clone();
        let (Some(scheme), Some(authority)) = (uri.scheme(), uri.authority()) else {
            return Err(SendError::Invalid(format!("{uri} is not an absolute URL")));
        };
        let host = host_header(scheme, authority)?;
        request
            .headers_mut()
            .entry(http::header::HOST)
            .or_insert(host);
        *request.uri_mut() = origin_form(&uri)?;
        loop {
            let (mut sender, reused) = match self.take(scheme, authority) {
                Some(sender) => (sender, true),
                None => (self.connect(&uri).await?, false),
            };
            if let Err(error) = sender.ready().await {
                if reused {
                    continue;
                }
                return Err(SendError::NeverSent(error_chain(&error)));
            }
            match sender.try_send_request(request).await {
                Ok(response) => {
                    let lease = Lease {
                        connections: self,
                        authority: authority.clone(),
                        scheme: scheme.clone(),
                        sender,
                    };
                    return Ok((response, lease));
                }
                Err(mut error) => match error.take_message() {
                    // A stale pooled connection gave it back: the next connection.
                    Some(unsent) if reused => request = unsent,
                    Some(_) => return Err(SendError::NeverSent(error_chain(error.error()))),
                    None => return Err(SendError::MaybeSent(error_chain(error.error()))),
                },
            }
        }
    }

    /// The most recently idle connection to `authority` still within the horizon.
    fn take(&self, scheme: &Scheme, authority: &Authority) -> Option<Sender> {
        let now = Instant::now();
        let mut set = self.lock();
        let idle = set.by_endpoint.get_mut(authority)?;
        while let Some(connection) = idle.pop_back() {
            if now.saturating_duration_since(connection.since) >= self.horizon {
                // The rest idled longer still.
                idle.clear();
                break;
            }
            if connection.scheme == *scheme && !connection.sender.is_closed() {
                return Some(connection.sender);
            }
        }
        None
    }

    /// A new connection to `uri`'s endpoint, its dispatcher running on a task of its own.
    async fn connect(&self, uri: &Uri) -> Result<Sender, SendError> {
        let mut connector = self.connector.clone();
        std::future::poll_fn(|cx| connector.poll_ready(cx))
            .await
            .map_err(|error| SendError::NeverSent(error_chain(&*error)))?;
        let io = connector
            .call(uri.clone())
            .await
            .map_err(|error| SendError::NeverSent(error_chain(&*error)))?;
        let (sender, connection) = http1::Builder::new()
            .handshake::<_, Full<Bytes>>(io)
            .await
            .map_err(|error| SendError::NeverSent(error_chain(&error)))?;
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "connection closed with an error");
            }
        });
        Ok(sender)
    }

    /// Starts the task that closes connections idle past the horizon while any are idle;
    /// none without a runtime to run it on (connections then expire when next looked at).
    fn spawn_sweeper(&self) -> Option<AbortHandle> {
        let runtime = tokio::runtime::Handle::try_current().ok()?;
        let (idle, horizon) = (Arc::downgrade(&self.idle), self.horizon);
        Some(runtime.spawn(sweep(idle, horizon)).abort_handle())
    }
}

/// Every half horizon, drops the connections idle past it; ends when none is idle or
/// the pool is gone.
async fn sweep(idle: Weak<Mutex<IdleSet>>, horizon: Duration) {
    loop {
        tokio::time::sleep(horizon / 2).await;
        let Some(idle) = idle.upgrade() else { return };
        let mut set = idle.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(oldest) = Instant::now().checked_sub(horizon) {
            set.drop_expired(oldest);
        }
        if set.by_endpoint.is_empty() {
            set.sweeper = None;
            return;
        }
    }
}

/// `Host`: the authority without the scheme's default port, as a browser sends it.
fn host_header(scheme: &Scheme, authority: &Authority) -> Result<HeaderValue, SendError> {
    let default_port = match scheme.as_str() {
        "https" => Some(443),
        "http" => Some(80),
        _ => None,
    };
    let host = if authority.port_u16().is_some() && authority.port_u16() == default_port {
        authority.host()
    } else {
        authority.as_str()
    };
    HeaderValue::from_str(host).map_err(|e| SendError::Invalid(e.to_string()))
}

/// The request target HTTP/1.1 sends to an origin server: path and query only.
fn origin_form(uri: &Uri) -> Result<Uri, SendError> {
    let mut parts = http::uri::Parts::default();
    parts.path_and_query = Some(
        uri.path_and_query()
            .cloned()
            .unwrap_or_else(|| http::uri::PathAndQuery::from_static("/")),
    );
    Uri::from_parts(parts).map_err(|e| SendError::Invalid(e.to_string()))
}

/// An error and its sources on one line (hyper's top-level messages are terse).
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
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
mod tests;
