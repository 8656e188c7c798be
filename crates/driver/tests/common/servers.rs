//! Raw TCP servers for hostile-network tests: each counts the connections it accepts.
//! `CloseAtOnce` is a draining node or a load balancer with no backend (every connection
//! accepted, then closed unanswered); `Hold` is a black hole (accepted, never answered);
//! `Forward` is a transparent proxy to another address (closing the client's side when
//! the upstream closes), so a test can count the connections a client opens.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// What a [`RawServer`] does with each connection it accepts.
#[derive(Debug, Clone, Copy)]
pub enum Behaviour {
    /// Close it at once, reading nothing.
    CloseAtOnce,
    /// Keep it open and never answer.
    Hold,
    /// Relay bytes both ways to this address.
    Forward(SocketAddr),
}

/// A listener on 127.0.0.1; dropping it stops accepting and closes every connection.
pub struct RawServer {
    address: SocketAddr,
    accepted: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl RawServer {
    /// Starts listening on a free port.
    pub async fn start(behaviour: Behaviour) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&accepted);
        let task = tokio::spawn(async move {
            let mut held = Vec::new();
            let mut relays = tokio::task::JoinSet::new();
            while let Ok((socket, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                match behaviour {
                    Behaviour::CloseAtOnce => drop(socket),
                    Behaviour::Hold => held.push(socket),
                    Behaviour::Forward(upstream) => {
                        relays.spawn(relay(socket, upstream));
                    }
                }
            }
        });
        Self {
            address,
            accepted,
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

impl Drop for RawServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn relay(mut client: TcpStream, upstream: SocketAddr) {
    let Ok(mut server) = TcpStream::connect(upstream).await else {
        return;
    };
    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
}
