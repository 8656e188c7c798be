//! Hand-made connections: TLS client settings that trust the emulator's certificate, and
//! a signed `GET /` over HTTP/1.1 on any stream.

use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Empty;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use meridian_emulator::Emulator;
use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;

use crate::client::{now_date, sign};

/// `host:port` of an `http://` or `https://` endpoint.
pub fn authority(endpoint: &str) -> String {
    endpoint
        .trim_start_matches("http://")
        .trim_start_matches("https://")
        .trim_end_matches('/')
        .to_string()
}

/// A TLS client config (ring, safe protocol versions) trusting `roots` only, offering `alpn`.
pub fn tls_config(roots: RootCertStore, alpn: &[&[u8]]) -> rustls::ClientConfig {
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    config
}

/// A TLS connector trusting the emulator's generated certificate, offering `alpn`.
pub fn tls_connector(emulator: &Emulator, alpn: &[&[u8]]) -> tokio_rustls::TlsConnector {
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from(
            emulator.certificate_der().unwrap().to_vec(),
        ))
        .unwrap();
    tokio_rustls::TlsConnector::from(Arc::new(tls_config(roots, alpn)))
}

/// Sends a `GET /` signed with `key` over an HTTP/1.1 connection on `io`.
pub async fn signed_get_http1<I>(io: I, authority: &str, key: &str) -> Response<Incoming>
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .unwrap();
    tokio::spawn(connection);
    let date = now_date();
    let request = Request::get("/")
        .header("host", authority)
        .header("x-ms-date", &date)
        .header("authorization", sign(key, "GET", "", "", &date))
        .body(Empty::<Bytes>::new())
        .unwrap();
    sender.send_request(request).await.unwrap()
}
