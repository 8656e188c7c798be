//! Benchmark 6: Emulator throughput sanity check: signed `GET /` (the account document) against a
//! bare hyper hello-world server, same client, same connections, same run.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use futures_util::future::join_all;
use hmac::{Hmac, Mac};
use http::Request;
use http_body_util::{BodyExt, Empty, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use meridian_emulator::Emulator;
use sha2::Sha256;
use tokio::net::{TcpListener, TcpStream};

const CLIENTS: usize = 8;

/// A bare hyper server answering every request with a short body.
async fn hello_world() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local addr");
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let service = service_fn(|_req| async {
                    Ok::<_, Infallible>(hyper::Response::new(Full::new(Bytes::from_static(
                        b"hello world",
                    ))))
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

fn authorization(key: &str, date: &str) -> String {
    let key = STANDARD.decode(key).expect("base64 key");
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("any key length");
    mac.update(format!("get\n\n\n{}\n\n", date.to_lowercase()).as_bytes());
    let raw = format!(
        "type=master&ver=1.0&sig={}",
        STANDARD.encode(mac.finalize().into_bytes())
    );
    percent_encoding::utf8_percent_encode(&raw, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// `CLIENTS` keep-alive connections send `total` requests between them; returns the time.
async fn load(addr: SocketAddr, headers: Arc<Vec<(String, String)>>, total: u64) -> Duration {
    let per_client = total.div_ceil(CLIENTS as u64);
    let mut senders = Vec::new();
    for _ in 0..CLIENTS {
        let stream = TcpStream::connect(addr).await.expect("connect");
        let _ = stream.set_nodelay(true);
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .expect("handshake");
        tokio::spawn(connection);
        senders.push(sender);
    }
    let started = Instant::now();
    let clients = senders.into_iter().map(|mut sender| {
        let headers = Arc::clone(&headers);
        async move {
            for _ in 0..per_client {
                let mut request = Request::get("/").header("host", addr.to_string());
                for (name, value) in headers.iter() {
                    request = request.header(name, value);
                }
                sender.ready().await.expect("the connection stays open");
                let response = sender
                    .send_request(request.body(Empty::<Bytes>::new()).expect("request"))
                    .await
                    .expect("response");
                assert!(response.status().is_success());
                let _ = response.into_body().collect().await;
            }
        }
    });
    join_all(clients).await;
    started.elapsed()
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let (emulator, hello) = rt.block_on(async {
        (
            Emulator::builder().start().await.expect("emulator"),
            hello_world().await,
        )
    });
    let emulator_addr: SocketAddr = emulator
        .global_endpoint()
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .expect("addr");
    let date = httpdate::fmt_http_date(SystemTime::now());
    let headers = Arc::new(vec![
        ("x-ms-date".to_string(), date.clone()),
        (
            "authorization".to_string(),
            authorization(emulator.key(), &date),
        ),
    ]);

    let mut group = c.benchmark_group("emulator_get_account");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(3));
    group.throughput(Throughput::Elements(1));
    group.bench_function(
        BenchmarkId::new("emulator_signed_get_account", CLIENTS),
        |b| {
            b.iter_custom(|iters| rt.block_on(load(emulator_addr, Arc::clone(&headers), iters)));
        },
    );
    group.bench_function(BenchmarkId::new("hyper_hello_world", CLIENTS), |b| {
        b.iter_custom(|iters| rt.block_on(load(hello, Arc::clone(&headers), iters)));
    });
    group.finish();
    drop(emulator);
}

criterion_group!(benches, bench);
criterion_main!(benches);
