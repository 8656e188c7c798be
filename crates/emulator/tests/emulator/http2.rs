//! HTTP/2 on every listener: h2c with prior knowledge on plain TCP, ALPN under `--tls`.

use std::time::Duration;

use bytes::Bytes;
use http::{Request, Version};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::{TokioExecutor, TokioIo};
use meridian_emulator::{Emulator, FaultAction, FaultRule};
use rustls::pki_types::ServerName;

use crate::client::{now_date, sign};
use crate::conn::{authority, signed_get_http1, tls_connector};

/// Sends signed `GET /` and an unsigned admin `GET /_emulator/stats` over one HTTP/2
/// connection on `io`; returns each answer's (version, status).
async fn two_requests_over_h2<I>(io: I, authority: &str, key: &str) -> Vec<(Version, u16)>
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(io))
            .await
            .unwrap();
    tokio::spawn(connection);
    let date = now_date();
    let signed = Request::get(format!("http://{authority}/"))
        .header("x-ms-date", &date)
        .header("authorization", sign(key, "GET", "", "", &date))
        .body(Empty::<Bytes>::new())
        .unwrap();
    let admin = Request::get(format!("http://{authority}/_emulator/stats"))
        .body(Empty::<Bytes>::new())
        .unwrap();
    let mut answers = Vec::new();
    for request in [signed, admin] {
        let response = sender.send_request(request).await.unwrap();
        let version = response.version();
        let status = response.status().as_u16();
        response.into_body().collect().await.unwrap();
        answers.push((version, status));
    }
    answers
}

#[tokio::test]
async fn http2_prior_knowledge_is_served_on_plain_tcp() {
    let emulator = Emulator::builder().start().await.unwrap();
    let authority = authority(&emulator.global_endpoint());
    let exchange = async {
        let tcp = tokio::net::TcpStream::connect(&authority).await.unwrap();
        two_requests_over_h2(tcp, &authority, emulator.key()).await
    };
    let answers = tokio::time::timeout(Duration::from_secs(10), exchange)
        .await
        .unwrap();
    assert_eq!(
        answers,
        vec![(Version::HTTP_2, 200), (Version::HTTP_2, 200)],
        "the account and the admin API answer over h2c"
    );
    // Counters see HTTP/2 requests like HTTP/1.1 ones.
    assert_eq!(emulator.counters().account_reads(), 1);

    // Fault rules apply to HTTP/2 requests too.
    emulator
        .add_fault(FaultRule::on_class("account", FaultAction::status(503)).times(1))
        .unwrap();
    let faulted = async {
        let tcp = tokio::net::TcpStream::connect(&authority).await.unwrap();
        two_requests_over_h2(tcp, &authority, emulator.key()).await
    };
    let answers = tokio::time::timeout(Duration::from_secs(10), faulted)
        .await
        .unwrap();
    assert_eq!(
        answers,
        vec![(Version::HTTP_2, 503), (Version::HTTP_2, 200)]
    );

    // A wrong signature is refused over HTTP/2 too.
    let refused = async {
        let tcp = tokio::net::TcpStream::connect(&authority).await.unwrap();
        let (mut sender, connection) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp))
                .await
                .unwrap();
        tokio::spawn(connection);
        let date = now_date();
        let wrong = sign("AAAAAAAAAAAAAAAAAAAAAA==", "GET", "", "", &date);
        let request = Request::get(format!("http://{authority}/"))
            .header("x-ms-date", &date)
            .header("authorization", wrong)
            .body(Empty::<Bytes>::new())
            .unwrap();
        sender.send_request(request).await.unwrap().status()
    };
    let status = tokio::time::timeout(Duration::from_secs(10), refused)
        .await
        .unwrap();
    assert_eq!(status, 401);
    emulator.shutdown().await;
}

#[tokio::test]
async fn tls_alpn_offers_h2_and_http1() {
    let emulator = Emulator::builder().tls(true).start().await.unwrap();
    let authority = authority(&emulator.global_endpoint());
    let server_name = ServerName::try_from("127.0.0.1").unwrap();

    let h2 = async {
        let tcp = tokio::net::TcpStream::connect(&authority).await.unwrap();
        let tls = tls_connector(&emulator, &[b"h2", b"http/1.1"])
            .connect(server_name.clone(), tcp)
            .await
            .unwrap();
        let negotiated = tls.get_ref().1.alpn_protocol().map(<[u8]>::to_vec);
        (
            negotiated,
            two_requests_over_h2(tls, &authority, emulator.key()).await,
        )
    };
    let (negotiated, answers) = tokio::time::timeout(Duration::from_secs(10), h2)
        .await
        .unwrap();
    assert_eq!(negotiated.as_deref(), Some(&b"h2"[..]));
    assert_eq!(
        answers,
        vec![(Version::HTTP_2, 200), (Version::HTTP_2, 200)]
    );

    let http1 = async {
        let tcp = tokio::net::TcpStream::connect(&authority).await.unwrap();
        let tls = tls_connector(&emulator, &[b"http/1.1"])
            .connect(server_name.clone(), tcp)
            .await
            .unwrap();
        let negotiated = tls.get_ref().1.alpn_protocol().map(<[u8]>::to_vec);
        let response = signed_get_http1(tls, &authority, emulator.key()).await;
        (negotiated, response.version(), response.status().as_u16())
    };
    let answer = tokio::time::timeout(Duration::from_secs(10), http1)
        .await
        .unwrap();
    assert_eq!(answer, (Some(b"http/1.1".to_vec()), Version::HTTP_11, 200));
    emulator.shutdown().await;
}
