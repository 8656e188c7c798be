//! How the driver opens a connection: TCP (no Nagle delay, the request timeout as the
//! connect timeout) and, for `https` endpoints, rustls with the webpki roots plus the
//! certificates the user chose to trust (an emulator's, a private CA's).

use std::sync::Arc;
use std::time::Duration;

use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;

/// The connector for `http` and `https` endpoints, HTTP/1.1 only.
pub(crate) fn connector(
    trusted: &[Vec<u8>],
    connect_timeout: Duration,
) -> Result<HttpsConnector<HttpConnector>, String> {
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    for der in trusted {
        roots
            .add(CertificateDer::from(der.clone()))
            .map_err(|e| format!("a trusted certificate was refused: {e}"))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_connect_timeout(Some(connect_timeout));
    http.set_nodelay(true);
    Ok(hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .wrap_connector(http))
}
