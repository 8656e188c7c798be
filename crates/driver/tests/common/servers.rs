//! Raw TCP servers for hostile-network tests: each counts the connections it accepts.
//! [`RawServer`] is a transparent proxy to another address (closing the client's side
//! when the upstream closes), so a test can count the connections a client opens and see
//! when the server closed them (a black hole is the emulator's `Hang` fault). [`ClosingServer`] is a draining node or a load balancer with no backend
//! (every connection accepted, then closed unanswered), on a thread of its own.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// A listener on 127.0.0.1; dropping it stops accepting and closes every connection.
pub struct RawServer {
    address: SocketAddr,
    accepted: Arc<AtomicUsize>,
    closed_upstream: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl RawServer {
    /// Starts listening on a free port, relaying each connection both ways to
    /// `upstream`.
    pub async fn forward(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&accepted);
        let closed_upstream = Arc::new(AtomicUsize::new(0));
        let closed = Arc::clone(&closed_upstream);
        let task = tokio::spawn(async move {
            let mut relays = tokio::task::JoinSet::new();
            while let Ok((socket, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                relays.spawn(relay(socket, upstream, Arc::clone(&closed)));
            }
        });
        Self {
            address,
            accepted,
            closed_upstream,
            task,
        }
    }

    /// `http://127.0.0.1:{port}/`.
    pub fn url(&self) -> String {
        format!("http://{}/", self.address)
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

/// A [`RawServer`]'s counters, readable from another thread or runtime.
#[derive(Debug, Clone)]
pub struct Counts {
    accepted: Arc<AtomicUsize>,
    closed_upstream: Arc<AtomicUsize>,
}

impl Counts {
    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// `Forward`: relayed connections the upstream closed, the client's side closed too.
    pub fn closed_upstream(&self) -> usize {
        self.closed_upstream.load(Ordering::SeqCst)
    }
}

impl RawServer {
    /// The counters, to read from elsewhere.
    pub fn counts(&self) -> Counts {
        Counts {
            accepted: Arc::clone(&self.accepted),
            closed_upstream: Arc::clone(&self.closed_upstream),
        }
    }
}

impl Drop for RawServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn relay(client: TcpStream, upstream: SocketAddr, closed: Arc<AtomicUsize>) {
    let Ok(server) = TcpStream::connect(upstream).await else {
        return;
    };
    let (mut from_client, mut to_client) = client.into_split();
    let (mut from_server, mut to_server) = server.into_split();
    let up = async {
        let _ = tokio::io::copy(&mut from_client, &mut to_server).await;
        let _ = to_server.shutdown().await;
    };
    let down = async {
        let _ = tokio::io::copy(&mut from_server, &mut to_client).await;
        // Counted once the client's side is closed too (its FIN sent).
        let _ = to_client.shutdown().await;
        closed.fetch_add(1, Ordering::SeqCst);
    };
    tokio::join!(up, down);
}

/// A listener on its own OS thread that closes every connection at once, counting the
/// connections it accepted and closed: it works while the test's runtime is blocked.
pub struct ClosingServer {
    address: SocketAddr,
    counts: Counts,
    stop: Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ClosingServer {
    /// Starts listening on a free port.
    pub fn start() -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let counts = Counts {
            accepted: Arc::new(AtomicUsize::new(0)),
            closed_upstream: Arc::new(AtomicUsize::new(0)),
        };
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (seen, stopping) = (counts.clone(), Arc::clone(&stop));
        let thread = std::thread::spawn(move || {
            while let Ok((socket, _)) = listener.accept() {
                if stopping.load(Ordering::SeqCst) {
                    return;
                }
                seen.accepted.fetch_add(1, Ordering::SeqCst);
                drop(socket);
                seen.closed_upstream.fetch_add(1, Ordering::SeqCst);
            }
        });
        Self {
            address,
            counts,
            stop,
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:{port}/`.
    pub fn url(&self) -> String {
        format!("http://{}/", self.address)
    }

    /// Its counters (`closed_upstream`: connections it has closed).
    pub fn counts(&self) -> Counts {
        self.counts.clone()
    }
}

impl Drop for ClosingServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept.
        let _ = std::net::TcpStream::connect(self.address);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
