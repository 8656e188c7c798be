//! Connections against a counting HTTP/1.1 server on a real socket (real time, bounded
//! waits).

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

use http_body_util::BodyExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::*;

/// An HTTP/1.1 server answering every request `200 ok`; it counts the connections it
/// accepted and those the client closed.
struct Server {
    url: String,
    accepted: Arc<AtomicUsize>,
    closed: Arc<AtomicUsize>,
}

async fn server() -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/x", listener.local_addr().unwrap());
    let (accepted, closed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (accepts, closes) = (Arc::clone(&accepted), Arc::clone(&closed));
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            accepts.fetch_add(1, SeqCst);
            let closes = Arc::clone(&closes);
            tokio::spawn(async move {
                let (mut seen, mut chunk) = (Vec::new(), [0; 1024]);
                while let Ok(read @ 1..) = socket.read(&mut chunk).await {
                    seen.extend_from_slice(&chunk[..read]);
                    while let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
                        seen.drain(..end + 4);
                        let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                        let _ = socket.write_all(answer).await;
                    }
                }
                closes.fetch_add(1, SeqCst);
            });
        }
    });
    Server {
        url,
        accepted,
        closed,
    }
}

fn connections(horizon: Duration, max_idle: usize) -> Connections {
    let connector = crate::tls::connector(&[], Duration::from_secs(10)).unwrap();
    Connections::new(connector, horizon, max_idle)
}

/// One GET to `url`, its body read; the connection's lease comes back with it.
async fn get<'a>(connections: &'a Connections, url: &str) -> Lease<'a> {
    let mut request = Request::get(url).body(Full::default()).unwrap();
    let (scheme, authority) = Connections::target(&mut request).unwrap();
    let (mut sender, _) = connections.ready(&scheme, &authority).await.unwrap();
    let response = sender.try_send_request(request).await.unwrap();
    let lease = connections.lease(scheme, authority, sender);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&body[..], b"ok");
    lease
}

async fn until(count: &AtomicUsize, wanted: usize) -> bool {
    meridian_testkit::wait_for(Duration::from_secs(10), || async {
        count.load(SeqCst) == wanted
    })
    .await
}

#[tokio::test]
async fn a_connection_is_reused_once_released_and_closed_if_not() {
    let server = server().await;
    let connections = connections(Duration::from_secs(60), 4);
    get(&connections, &server.url).await.release();
    let unreleased = get(&connections, &server.url).await;
    assert_eq!(
        server.accepted.load(SeqCst),
        1,
        "the released one was reused"
    );
    drop(unreleased);
    assert!(
        until(&server.closed, 1).await,
        "an unreleased connection closes"
    );
    get(&connections, &server.url).await.release();
    assert_eq!(server.accepted.load(SeqCst), 2);
}

#[tokio::test]
async fn idle_connections_close_past_the_horizon_with_no_request_to_notice() {
    let server = server().await;
    let connections = connections(Duration::from_millis(200), 4);
    get(&connections, &server.url).await.release();
    assert!(until(&server.closed, 1).await, "the sweeper closed it");
    get(&connections, &server.url).await.release();
    assert_eq!(server.accepted.load(SeqCst), 2);
    assert_eq!(server.closed.load(SeqCst), 1, "the new one is kept");
}

#[tokio::test]
async fn an_endpoint_keeps_at_most_its_idle_bound() {
    let server = server().await;
    let connections = connections(Duration::from_secs(60), 1);
    let (first, second) = tokio::join!(
        get(&connections, &server.url),
        get(&connections, &server.url)
    );
    assert_eq!(server.accepted.load(SeqCst), 2);
    first.release();
    second.release();
    assert!(until(&server.closed, 1).await, "the second is closed");
    get(&connections, &server.url).await.release();
    assert_eq!(server.accepted.load(SeqCst), 2, "the first is reused");
}

/// A server on a thread of its own that answers the first request of each of
/// `connections` connections and closes it when told to; its counts are (accepted,
/// closed).
fn answering_once_then_closing(
    connections: usize,
) -> (
    String,
    std::sync::mpsc::Sender<()>,
    Arc<(AtomicUsize, AtomicUsize)>,
) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/x", listener.local_addr().unwrap());
    let counts = Arc::new((AtomicUsize::new(0), AtomicUsize::new(0)));
    let (close, closing) = std::sync::mpsc::channel();
    let seen = Arc::clone(&counts);
    std::thread::spawn(move || {
        for socket in listener.incoming().take(connections) {
            let mut socket = socket.unwrap();
            seen.0.fetch_add(1, SeqCst);
            let (mut request, mut chunk) = (Vec::new(), [0; 1024]);
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match socket.read(&mut chunk) {
                    Ok(read @ 1..) => request.extend_from_slice(&chunk[..read]),
                    _ => break,
                }
            }
            let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
            socket.write_all(answer).unwrap();
            let _ = closing.recv_timeout(Duration::from_secs(10));
            drop(socket);
            seen.1.fetch_add(1, SeqCst);
        }
    });
    (url, close, counts)
}

#[tokio::test]
async fn a_connection_the_server_closed_while_idle_is_not_reused() {
    let (url, close, counts) = answering_once_then_closing(2);
    let connections = connections(Duration::from_secs(60), 4);
    get(&connections, &url).await.release();
    close.send(()).unwrap();
    // The connection's task has seen the close; the connection is still in the pool.
    let seen = meridian_testkit::wait_for(Duration::from_secs(10), || async {
        let set = connections.lock();
        set.by_endpoint
            .values()
            .flatten()
            .all(|idle| idle.sender.is_closed())
    })
    .await;
    assert!(seen, "the client saw the close");
    assert_eq!(connections.lock().by_endpoint.values().flatten().count(), 1);
    // Taking it would fail the request (the sender is closed): a new one takes it.
    close.send(()).unwrap();
    get(&connections, &url).await.release();
    assert_eq!(
        counts.0.load(SeqCst),
        2,
        "the request went on a new connection"
    );
}

#[tokio::test]
async fn a_connection_still_sending_its_request_is_not_reused() {
    use std::io::{Read, Write};
    // The first connection's server answers as soon as it has the head of a large upload
    // and never reads the body, so the client is still sending it when the answer is in.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/x", listener.local_addr().unwrap());
    let accepted = Arc::new(AtomicUsize::new(0));
    let (done, finished) = std::sync::mpsc::channel::<()>();
    let seen = Arc::clone(&accepted);
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for socket in listener.incoming().take(2) {
            let mut socket = socket.unwrap();
            seen.fetch_add(1, SeqCst);
            let (mut head, mut chunk) = (Vec::new(), [0; 1]);
            while !head.ends_with(b"\r\n\r\n") {
                match socket.read(&mut chunk) {
                    Ok(1) => head.push(chunk[0]),
                    _ => break,
                }
            }
            let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
            let _ = socket.write_all(answer);
            held.push(socket);
        }
        let _ = finished.recv_timeout(Duration::from_secs(30));
    });
    let connections = connections(Duration::from_secs(60), 4);
    let upload = Bytes::from(vec![b'x'; 16 << 20]);
    let mut request = Request::post(&url).body(Full::new(upload)).unwrap();
    let (scheme, authority) = Connections::target(&mut request).unwrap();
    let (mut sender, _) = connections.ready(&scheme, &authority).await.unwrap();
    let response = sender.try_send_request(request).await.unwrap();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&body[..], b"ok");
    connections.lease(scheme, authority, sender).release();
    // Reused, it would hold the next request behind the upload (for ever, here).
    let next = tokio::time::timeout(Duration::from_secs(10), get(&connections, &url)).await;
    assert!(next.is_ok(), "the next request waited behind the upload");
    assert_eq!(accepted.load(SeqCst), 2, "on a new connection");
    drop(done);
}

#[test]
fn a_sweeper_gone_with_its_runtime_is_started_again() {
    // The pool outlives runtimes (a driver's `Runtime` is not a tokio runtime).
    let main = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let server = main.block_on(server());
    let connections = connections(Duration::from_millis(200), 4);
    let first = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    first.block_on(async { get(&connections, &server.url).await.release() });
    // Its sweeper (and the connection's task) end with it.
    drop(first);
    main.block_on(async {
        assert!(until(&server.closed, 1).await);
        get(&connections, &server.url).await.release();
        assert!(until(&server.closed, 2).await, "a new sweeper closed it");
    });
}

#[test]
fn the_host_header_is_the_host_and_a_port_not_the_schemes_default() {
    let host = |url: &str| {
        let uri: Uri = url.parse().unwrap();
        host_header(uri.scheme().unwrap(), uri.authority().unwrap()).unwrap()
    };
    assert_eq!(host("https://a.example:443/x"), "a.example");
    assert_eq!(host("http://127.0.0.1:80/"), "127.0.0.1");
    assert_eq!(host("http://127.0.0.1:8081/"), "127.0.0.1:8081");
    assert_eq!(host("https://a.example/"), "a.example");
    assert_eq!(host("http://[::1]:8081/"), "[::1]:8081");
    assert_eq!(host("https://[::1]:443/"), "[::1]");
    assert_eq!(host("http://h:/"), "h");
    assert_eq!(host("http://user:key@h:1/"), "h:1");
    assert_eq!(host("https://user@h:443/"), "h");
}
