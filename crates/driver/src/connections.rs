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
use http::uri::{Authority, PathAndQuery, Scheme};
use http::{HeaderValue, Request, Uri};
use http_body_util::Full;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use tokio::task::AbortHandle;
use tower_service::Service;

/// The shortest time between two sweeps: a tiny idle timeout does not make the sweeper
/// spin (its connections are never reused anyway: taking one checks the horizon).
const MIN_SWEEP: Duration = Duration::from_millis(50);

/// A connection's request handle.
pub(crate) type Sender = SendRequest<Full<Bytes>>;

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
    /// Drops every connection idle past `horizon`, and the endpoints left with none.
    fn drop_expired(&mut self, now: Instant, horizon: Duration) {
        self.by_endpoint.retain(|_, idle| {
            expire(idle, now, horizon);
            !idle.is_empty()
        });
    }
}

/// Drops the connections at the front of `idle` (the oldest) that have been idle for the
/// whole `horizon`: none of them would be reused.
fn expire(idle: &mut VecDeque<Idle>, now: Instant, horizon: Duration) {
    while idle
        .front()
        .is_some_and(|c| now.saturating_duration_since(c.since) >= horizon)
    {
        idle.pop_front();
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
    /// Puts the connection back among the idle ones — unless the pool keeps no more, or
    /// the connection is not idle yet: a server that answered before reading a whole
    /// request body leaves it still sending, and the next request would wait behind that
    /// upload instead of going out (rare otherwise: a connection is ready once its
    /// response is read).
    pub(crate) fn release(self) {
        let connections = self.connections;
        if connections.horizon.is_zero() || !self.sender.is_ready() {
            return;
        }
        let now = Instant::now();
        let mut set = connections.lock();
        let idle = set.by_endpoint.entry(self.authority).or_default();
        // Those idle past the horizon would not be reused: they make no room.
        expire(idle, now, connections.horizon);
        if idle.len() >= connections.max_idle_per_endpoint {
            return;
        }
        idle.push_back(Idle {
            scheme: self.scheme,
            sender: self.sender,
            since: now,
        });
        // None yet, or it ended (with the runtime it ran on: the pool outlives runtimes).
        if set.sweeper.as_ref().is_none_or(AbortHandle::is_finished) {
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

    /// Makes `request` (an absolute URL) one for a connection to its endpoint — the
    /// target in origin form (path and query), the endpoint in `Host` — and returns the
    /// endpoint.
    pub(crate) fn target(
        request: &mut Request<Full<Bytes>>,
    ) -> Result<(Scheme, Authority), SendError> {
        let parts = std::mem::take(request.uri_mut()).into_parts();
        let (Some(scheme), Some(authority)) = (parts.scheme, parts.authority) else {
            return Err(SendError::Invalid("not an absolute URL".into()));
        };
        let host = host_header(&scheme, &authority)?;
        request
            .headers_mut()
            .entry(http::header::HOST)
            .or_insert(host);
        *request.uri_mut() = Uri::from(
            parts
                .path_and_query
                .unwrap_or_else(|| PathAndQuery::from_static("/")),
        );
        Ok((scheme, authority))
    }

    /// A connection to the endpoint ready for a request — an idle one, or a new one —
    /// and whether it was reused. A reused connection found closed costs nothing: the
    /// next one is taken.
    ///
    /// The transport sends on it (`try_send_request`) and leases it ([`Self::lease`]);
    /// when it refused the request, [`Self::resend`] says whether the request goes on the
    /// next connection. The pieces, not one `send`: a request's future then holds the
    /// request once.
    pub(crate) async fn ready(
        &self,
        scheme: &Scheme,
        authority: &Authority,
    ) -> Result<(Sender, bool), SendError> {
        loop {
            let (mut sender, reused) = match self.take(scheme, authority) {
                Some(sender) => (sender, true),
                // Boxed: the new connection's stream (TLS state and all) would otherwise
                // sit in every request's future, copied with it.
                None => (Box::pin(self.connect(scheme, authority)).await?, false),
            };
            match sender.ready().await {
                Ok(()) => return Ok((sender, reused)),
                Err(_) if reused => {}
                Err(error) => return Err(SendError::NeverSent(error_chain(&error))),
            }
        }
    }

    /// The connection `sender`, lent to the request it took.
    pub(crate) fn lease(&self, scheme: Scheme, authority: Authority, sender: Sender) -> Lease<'_> {
        Lease {
            connections: self,
            authority,
            scheme,
            sender,
        }
    }

    /// What follows a connection's refusal of a request: the request back, to go on the
    /// next connection — a *reused* connection handed it back unsent (hyper does when the
    /// connection closed before writing it) — or the error. A new connection that handed
    /// it back never sent it; one that wrote the request and then read the server's close
    /// may have (what the reuse horizon prevents).
    pub(crate) fn resend(
        mut refused: hyper::client::conn::TrySendError<Request<Full<Bytes>>>,
        reused: bool,
    ) -> Result<Request<Full<Bytes>>, SendError> {
        match refused.take_message() {
            Some(unsent) if reused => Ok(unsent),
            Some(_) => Err(SendError::NeverSent(error_chain(refused.error()))),
            None => Err(SendError::MaybeSent(error_chain(refused.error()))),
        }
    }

    /// The most recently idle connection to `authority` still within the horizon.
    fn take(&self, scheme: &Scheme, authority: &Authority) -> Option<Sender> {
        let now = Instant::now();
        let mut set = self.lock();
        let idle = set.by_endpoint.get_mut(authority)?;
        expire(idle, now, self.horizon);
        // Closed ones stay until they expire; the other scheme's are not this request's.
        let newest = idle
            .iter()
            .rposition(|c| c.scheme == *scheme && !c.sender.is_closed())?;
        idle.remove(newest).map(|c| c.sender)
    }

    /// A new connection to the endpoint, its dispatcher running on a task of its own.
    async fn connect(&self, scheme: &Scheme, authority: &Authority) -> Result<Sender, SendError> {
        let uri = Uri::builder()
            .scheme(scheme.clone())
            .authority(authority.clone())
            .path_and_query("/")
            .build()
            .map_err(|e| SendError::Invalid(e.to_string()))?;
        let mut connector = self.connector.clone();
        std::future::poll_fn(|cx| connector.poll_ready(cx))
            .await
            .map_err(|error| SendError::NeverSent(error_chain(&*error)))?;
        let io = connector
            .call(uri)
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

/// Every half horizon (at least [`MIN_SWEEP`] apart), drops the connections idle past
/// it; ends when none is idle or the pool is gone.
async fn sweep(idle: Weak<Mutex<IdleSet>>, horizon: Duration) {
    loop {
        tokio::time::sleep((horizon / 2).max(MIN_SWEEP)).await;
        let Some(idle) = idle.upgrade() else { return };
        let mut set = idle.lock().unwrap_or_else(PoisonError::into_inner);
        set.drop_expired(Instant::now(), horizon);
        if set.by_endpoint.is_empty() {
            set.sweeper = None;
            return;
        }
    }
}

/// `Host`: the host, and the port unless it is the scheme's default, as a browser sends
/// it — never credentials written into the endpoint's URL (`user@host`).
fn host_header(scheme: &Scheme, authority: &Authority) -> Result<HeaderValue, SendError> {
    let default_port = match scheme.as_str() {
        "https" => Some(443),
        "http" => Some(80),
        _ => None,
    };
    let value = match authority.port_u16() {
        Some(port) if Some(port) != default_port => {
            if authority.as_str().contains('@') {
                HeaderValue::try_from(format!("{}:{port}", authority.host()))
            } else {
                // `host:port` as written: no copy.
                HeaderValue::from_str(authority.as_str())
            }
        }
        _ => HeaderValue::from_str(authority.host()),
    };
    value.map_err(|e| SendError::Invalid(e.to_string()))
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
