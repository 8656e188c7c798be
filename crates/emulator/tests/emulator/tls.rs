//! `--tls`: HTTPS with a self-signed certificate that a client can trust explicitly.

use std::sync::Arc;
use std::time::Duration;

use http_body_util::BodyExt;
use meridian_emulator::Emulator;
use rustls::pki_types::ServerName;

use crate::conn::{authority, signed_get_http1, tls_config, tls_connector};

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

    let connector = tls_connector(&emulator, &[]);
    let authority = authority(&endpoint);
    let exchange = async {
        let tcp = tokio::net::TcpStream::connect(&authority).await.unwrap();
        let tls = connector
            .connect(ServerName::try_from("127.0.0.1").unwrap(), tcp)
            .await
            .unwrap();
        let response = signed_get_http1(tls, &authority, emulator.key()).await;
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
    let untrusting = tls_config(rustls::RootCertStore::empty(), &[]);
    let tcp = tokio::net::TcpStream::connect(&authority).await.unwrap();
    let refused = tokio_rustls::TlsConnector::from(Arc::new(untrusting))
        .connect(ServerName::try_from("127.0.0.1").unwrap(), tcp)
        .await;
    assert!(refused.is_err());
}
