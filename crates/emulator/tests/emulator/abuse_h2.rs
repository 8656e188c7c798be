//! Issue #24 over HTTP/2: the idle timeout and the memory budget apply to h2 connections
//! as to HTTP/1.1 ones (PINGs are not activity; stream bodies share one budget).

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use http::Request;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty, StreamBody};
use hyper::body::Frame;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use meridian_emulator::{Emulator, MIN_MEMORY_BUDGET, SUB_STATUS_BUDGET_EXCEEDED};
use tokio::sync::mpsc;

use crate::client::{now_date, sign};
use crate::conn::authority;
use crate::eventually;

type Body = BoxBody<Bytes, Infallible>;

/// An HTTP/2 client connection to `authority` that PINGs every 50 ms; returns its sender
/// and the task driving the connection (it ends when the server closes it).
async fn h2_connect(
    authority: &str,
) -> (
    hyper::client::conn::http2::SendRequest<Body>,
    tokio::task::JoinHandle<()>,
) {
    let tcp = tokio::net::TcpStream::connect(authority).await.unwrap();
    let (sender, connection) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
        .timer(TokioTimer::new())
        .keep_alive_interval(Duration::from_millis(50))
        .keep_alive_while_idle(true)
        .handshake(TokioIo::new(tcp))
        .await
        .unwrap();
    let task = tokio::spawn(async move {
        let _ = connection.await;
    });
    (sender, task)
}

#[tokio::test]
async fn idle_http2_connections_are_closed_by_the_idle_timeout() {
    let emulator = Emulator::builder()
        .idle_timeout(Duration::from_millis(300))
        .start()
        .await
        .unwrap();
    let authority = authority(&emulator.global_endpoint());
    let (mut sender, connection) = h2_connect(&authority).await;
    let date = now_date();
    let request = Request::get(format!("http://{authority}/"))
        .header("x-ms-date", &date)
        .header("authorization", sign(emulator.key(), "GET", "", "", &date))
        .body(Empty::new().boxed())
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.status(), 200);
    response.into_body().collect().await.unwrap();
    // The client keeps PINGing; the server closes the connection anyway once it has had
    // no request for the idle timeout.
    let closed = tokio::time::timeout(Duration::from_secs(10), connection).await;
    assert!(closed.is_ok(), "the idle h2 connection was never closed");
    emulator.shutdown().await;
}

/// A signed item create whose body is fed from the returned channel.
fn streamed_create(authority: &str, key: &str) -> (Request<Body>, mpsc::Sender<Bytes>) {
    let (tx, rx) = mpsc::channel::<Bytes>(4);
    let frames = futures_util::stream::unfold(rx, |mut rx| async move {
        let data = rx.recv().await?;
        Some((Ok::<_, Infallible>(Frame::data(data)), rx))
    });
    let date = now_date();
    let request = Request::post(format!("http://{authority}/dbs/db/colls/c/docs"))
        .header("x-ms-date", &date)
        .header(
            "authorization",
            sign(key, "POST", "docs", "dbs/db/colls/c", &date),
        )
        .header("x-ms-documentdb-partitionkey", "[\"p\"]")
        .body(StreamBody::new(frames).boxed())
        .unwrap();
    (request, tx)
}

#[tokio::test]
async fn http2_stream_bodies_share_a_bounded_budget() {
    let budget = MIN_MEMORY_BUDGET + 2 * 1024 * 1024;
    let emulator = Emulator::builder()
        .memory_budget(budget)
        .start()
        .await
        .unwrap();
    let authority = authority(&emulator.global_endpoint());
    let (sender, _connection) = h2_connect(&authority).await;
    // Eight streams on one connection each send 1 MiB and hold their bodies open: six fit
    // the budget, the others are told to come back later.
    let chunk = Bytes::from(vec![b' '; 256 * 1024]);
    let mut bodies = Vec::new();
    let mut answers = Vec::new();
    for _ in 0..8 {
        let (request, tx) = streamed_create(&authority, emulator.key());
        let mut sender = sender.clone();
        answers.push(tokio::spawn(async move {
            let response = sender.send_request(request).await.unwrap();
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            (status, headers)
        }));
        let chunk = chunk.clone();
        let feed = tx.clone();
        tokio::spawn(async move {
            for _ in 0..4 {
                if feed.send(chunk.clone()).await.is_err() {
                    return;
                }
            }
        });
        bodies.push(tx);
    }
    eventually("two streams are refused", || {
        answers.iter().filter(|a| a.is_finished()).count() >= 2
    })
    .await;
    let mut refused = Vec::new();
    let mut pending = Vec::new();
    for answer in answers {
        if answer.is_finished() {
            refused.push(answer.await.unwrap());
        } else {
            pending.push(answer);
        }
    }
    let answers = pending;
    for (status, headers) in &refused {
        assert_eq!(*status, 429);
        assert_eq!(
            headers["x-ms-substatus"].to_str().unwrap(),
            SUB_STATUS_BUDGET_EXCEEDED.to_string()
        );
        assert!(headers.contains_key("x-ms-retry-after-ms"));
    }
    let memory = emulator.memory();
    assert!(memory.peak <= budget, "{memory:?}");
    assert!(memory.refused >= 2, "{memory:?}");
    // The held bodies end (not valid JSON): everything they held is released.
    drop(bodies);
    for answer in answers {
        let (status, _) = answer.await.unwrap();
        assert!(status == 400 || status == 429, "{status}");
    }
    eventually("everything the bodies held is released", || {
        emulator.memory().in_use == 0
    })
    .await;
    emulator.shutdown().await;
}

#[tokio::test]
async fn an_idle_http2_peer_that_never_answers_is_dropped() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let emulator = Emulator::builder()
        .idle_timeout(Duration::from_millis(300))
        .start()
        .await
        .unwrap();
    let authority = authority(&emulator.global_endpoint());
    // The preface and an empty SETTINGS frame, then silence: no SETTINGS ack, no PING ack,
    // so HTTP/2's graceful shutdown can never complete on its own.
    let mut tcp = tokio::net::TcpStream::connect(&authority).await.unwrap();
    tcp.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        .await
        .unwrap();
    let drained = async {
        let mut buf = [0u8; 4096];
        loop {
            match tcp.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    let closed = tokio::time::timeout(Duration::from_secs(10), drained).await;
    assert!(closed.is_ok(), "the silent h2 peer was never dropped");
    emulator.shutdown().await;
}
