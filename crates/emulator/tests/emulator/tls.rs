//! `--tls`: HTTPS with a self-signed certificate that a client can trust explicitly.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use meridian_emulator::Emulator;
use rustls::pki_types::{CertificateDer, ServerName};

use crate::client::{now_date, sign};

#[tokio::test]
async fn the_account_is_served_over_https_with_the_generated_certificate() {
    let emulator = Emulator::builder().tls(true).start().await.unwrap();
    let endpoint = emulator.global_endpoint();
    assert!(endpoint.starts_with("https://127.0.0.1:"));
    assert!(
        emulator
            .certificate_pem()
            .unwrap()
            .starts_with("-----BEGIN CERTIFICATE-----")
    );

    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from(
            emulator.certificate_der().unwrap().to_vec(),
        ))
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let authority = endpoint
        .trim_start_matches("https://")
        .trim_end_matches('/')
        .to_string();
    let exchange = async {
        let tcp = tokio::net::TcpStream::connect(&authority).await.unwrap();
        let tls = connector
            .connect(ServerName::try_from("127.0.0.1").unwrap(), tcp)
            .await
            .unwrap();
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .unwrap();
        tokio::spawn(connection);
        let date = now_date();
        let request = Request::get("/")
            .header("host", &authority)
            .header("x-ms-date", &date)
            .header("authorization", sign(emulator.key(), "GET", "", "", &date))
            .body(Empty::<Bytes>::new())
            .unwrap();
        let response = sender.send_request(request).await.unwrap();
        let status = response.status();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, body)
    };
    let (status, body) = tokio::time::timeout(Duration::from_secs(10), exchange)
        .await
        .unwrap();
    assert_eq!(status, 200);
    let doc: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let regional = doc["readableLocations"][0]["databaseAccountEndpoint"]
        .as_str()
        .unwrap();
    assert!(
        regional.starts_with("https://"),
        "regional endpoints are https too"
    );

    // A client that does not trust the certificate is refused.
    let untrusting = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(rustls::RootCertStore::empty())
    .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(&authority).await.unwrap();
    let refused = tokio_rustls::TlsConnector::from(Arc::new(untrusting))
        .connect(ServerName::try_from("127.0.0.1").unwrap(), tcp)
        .await;
    assert!(refused.is_err());
}
