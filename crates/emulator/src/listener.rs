//! Listeners: bind, accept, serve connections (HTTP/1.1 and HTTP/2, on the same terms:
//! idle timeout, connection limit, a memory budget per connection); take a region down
//! and bring it back; a region's outage shape is met before a request is served.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http::Request;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::budget::{Budget, CONNECTION_MEMORY_LIMIT, ConnectionBudget};
use crate::disruption::Disruption;
use crate::idle::Activity;
use crate::limits::AcceptBackoff;
use crate::lock::lock;
use crate::state::{ListenerSlot, State};
use crate::topology::{ListenerId, TopologyError};

/// The most concurrent HTTP/2 streams per connection: a client needs a few; a hostile
/// one cannot hold hundreds of bodies on one connection.
pub const MAX_CONCURRENT_STREAMS: u32 = 16;

fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    // Bringing a region back up rebinds its port while old connections may linger.
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

impl State {
    /// Binds `addr` for `id`, starts accepting, and returns the bound address.
    pub(crate) fn start_listener(
        self: &Arc<Self>,
        id: ListenerId,
        addr: SocketAddr,
    ) -> Result<SocketAddr, TopologyError> {
        let listener = bind(addr).map_err(|e| TopologyError::Bind(format!("{addr}: {e}")))?;
        let bound = listener
            .local_addr()
            .map_err(|e| TopologyError::Bind(e.to_string()))?;
        let token = self.shutdown.child_token();
        lock(&self.listeners).insert(
            id.clone(),
            ListenerSlot {
                addr: bound,
                running: Some(token.clone()),
            },
        );
        let state = Arc::clone(self);
        self.tasks.spawn(accept_loop(state, id, listener, token));
        Ok(bound)
    }

    /// Closes `id`'s listener and its connections: new connections are refused.
    pub(crate) fn stop_listener(&self, id: &ListenerId) {
        if let Some(slot) = lock(&self.listeners).get_mut(id)
            && let Some(token) = slot.running.take()
        {
            token.cancel();
        }
    }

    /// Rebinds `id`'s listener on its old address (no-op if it is up).
    pub(crate) fn restart_listener(self: &Arc<Self>, id: &ListenerId) -> Result<(), TopologyError> {
        let addr = {
            let listeners = lock(&self.listeners);
            let slot = listeners
                .get(id)
                .ok_or_else(|| TopologyError::UnknownRegion(id.label().to_string()))?;
            if slot.running.is_some() {
                return Ok(());
            }
            slot.addr
        };
        self.start_listener(id.clone(), addr).map(|_| ())
    }
}

/// Accepts while a connection slot is free: at the limit, new connections wait in the
/// kernel's backlog. A failed accept (EMFILE, ENFILE...) backs off (10 ms doubling to
/// 1 s) and is logged at most once per second.
async fn accept_loop(
    state: Arc<State>,
    id: ListenerId,
    listener: TcpListener,
    token: CancellationToken,
) {
    let mut backoff = AcceptBackoff::new();
    loop {
        // Wait for a free slot without keeping it, so that a listener nobody connects to
        // holds none.
        let free = tokio::select! {
            biased;
            () = token.cancelled() => break,
            free = state.connections.acquire() => free,
        };
        match free {
            Ok(free) => drop(free),
            Err(_) => break,
        }
        let accepted = tokio::select! {
            biased;
            () = token.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, peer)) => {
                backoff.succeeded();
                // Another listener may have taken the last slot meanwhile: then this one
                // connection waits for a slot (at most one per listener).
                let permit = tokio::select! {
                    biased;
                    () = token.cancelled() => break,
                    permit = Arc::clone(&state.connections).acquire_owned() => match permit {
                        Ok(permit) => permit,
                        Err(_) => break,
                    },
                };
                let conn =
                    serve_connection(Arc::clone(&state), id.clone(), stream, peer, token.clone());
                state.tasks.spawn(async move {
                    conn.await;
                    drop(permit);
                });
            }
            Err(error) => {
                let (delay, log) = backoff.failed(tokio::time::Instant::now());
                if let Some(unlogged) = log {
                    tracing::warn!(
                        listener = id.label(),
                        %error,
                        unlogged,
                        retry_in = ?delay,
                        "accept failed"
                    );
                }
                tokio::select! {
                    () = token.cancelled() => break,
                    () = tokio::time::sleep(delay) => {}
                }
            }
        }
    }
}

async fn serve_connection(
    state: Arc<State>,
    id: ListenerId,
    stream: TcpStream,
    peer: SocketAddr,
    token: CancellationToken,
) {
    let _ = stream.set_nodelay(true);
    // A client that sends nothing is closed after the idle timeout: the HTTP/1-or-2
    // detection below waits for the first bytes, and no HTTP timer runs before them.
    let mut first = [0u8; 1];
    let first_bytes = tokio::time::timeout(state.idle_timeout, stream.peek(&mut first));
    let spoke = tokio::select! {
        () = token.cancelled() => return,
        spoke = first_bytes => spoke,
    };
    if !matches!(spoke, Ok(Ok(n)) if n > 0) {
        tracing::debug!(listener = id.label(), %peer, "closing a connection that sent nothing");
        return;
    }
    match state.tls.clone() {
        None => serve_io(state, id, stream, peer, token).await,
        Some(tls) => {
            let handshake =
                tokio::time::timeout(Duration::from_secs(10), tls.acceptor.accept(stream));
            let accepted = tokio::select! {
                () = token.cancelled() => return,
                accepted = handshake => accepted,
            };
            match accepted {
                Ok(Ok(stream)) => serve_io(state, id, stream, peer, token).await,
                Ok(Err(error)) => {
                    tracing::debug!(listener = id.label(), %error, "TLS handshake failed")
                }
                Err(_) => tracing::debug!(listener = id.label(), "TLS handshake timed out"),
            }
        }
    }
}

async fn serve_io<I>(
    state: Arc<State>,
    id: ListenerId,
    io: I,
    peer: SocketAddr,
    token: CancellationToken,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let down = token.clone();
    let idle_timeout = state.idle_timeout;
    let activity = Activity::new();
    let budget = ConnectionBudget(Arc::new(Budget::new(CONNECTION_MEMORY_LIMIT)));
    let requests = Arc::clone(&activity);
    let service = service_fn(move |mut request: Request<Incoming>| {
        request.extensions_mut().insert(budget.clone());
        let busy = requests.start();
        let disruption =
            state
                .outages
                .disrupt(&id, request.method(), request.headers(), down.clone());
        let counted = disruption
            .is_some()
            .then(|| (Arc::clone(&state), id.clone()));
        let method = request.method().clone();
        let served = crate::service::handle(Arc::clone(&state), id.clone(), peer, request);
        let down = down.clone();
        async move {
            // A region taken down answers nothing, even on a connection accepted before:
            // the request fails as a dropped connection, never a late success.
            if down.is_cancelled() {
                return Err(RegionDown);
            }
            // An outage shape comes before anything the account would do.
            if let Some(disruption) = disruption {
                if let Some((state, id)) = counted {
                    state.count(&id, "outage", &method);
                }
                match disruption.await {
                    Disruption::None => {}
                    Disruption::Answer(response) => {
                        return Ok(response.map(|body| crate::http::hold(body, busy)));
                    }
                    Disruption::Drop => return Err(RegionDown),
                }
            }
            let response = served.await.map_err(|never| match never {})?;
            // The request is in flight until its response body is sent or dropped.
            Ok(response.map(|body| crate::http::hold(body, busy)))
        }
    });
    // HTTP/1.1 or HTTP/2, told apart by the connection preface: h2c with prior knowledge
    // on plain TCP, and whatever ALPN picked (`h2` or `http/1.1`) under TLS.
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(idle_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(MAX_CONCURRENT_STREAMS)
        .max_pending_accept_reset_streams(MAX_CONCURRENT_STREAMS as usize)
        .keep_alive_interval(Duration::from_secs(30))
        .keep_alive_timeout(Duration::from_secs(20));
    let connection = builder.serve_connection(TokioIo::new(io), service);
    let mut connection = std::pin::pin!(connection);
    // The idle timeout, for both protocols: a connection with no request in flight for
    // that long is shut down gracefully (HTTP/2: GOAWAY; PINGs do not count).
    loop {
        let idle_at = activity.idle_since().unwrap_or_else(Instant::now) + idle_timeout;
        tokio::select! {
            () = token.cancelled() => return,
            result = connection.as_mut() => {
                if let Err(error) = result {
                    tracing::debug!(%error, "connection ended with an error");
                }
                return;
            }
            () = tokio::time::sleep_until(idle_at) => {
                let idle = activity
                    .idle_since()
                    .is_some_and(|since| since.elapsed() >= idle_timeout);
                if idle {
                    tracing::debug!(%peer, "closing an idle connection");
                    connection.as_mut().graceful_shutdown();
                    break;
                }
            }
        }
    }
    // HTTP/2's graceful shutdown waits for the peer to acknowledge a PING: a peer that
    // never does is dropped after a grace period as long as the idle timeout (at most 5 s).
    let grace = idle_timeout.min(Duration::from_secs(5));
    tokio::select! {
        () = token.cancelled() => {}
        _ = connection.as_mut() => {}
        () = tokio::time::sleep(grace) => {
            tracing::debug!(%peer, "dropping an idle connection that did not close");
        }
    }
}

/// The error a connection's service returns for a request that reached a listener after
/// it was taken down: hyper then closes the connection without an answer.
#[derive(Debug)]
struct RegionDown;

impl std::fmt::Display for RegionDown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the listener was taken down")
    }
}

impl std::error::Error for RegionDown {}
