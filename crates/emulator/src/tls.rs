//! HTTPS with a self-signed certificate generated at start (`--tls`).

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::TlsAcceptor;

/// A TLS acceptor and the PEM of the certificate it presents (for clients to trust).
#[derive(Clone)]
pub(crate) struct TlsConfig {
    pub(crate) acceptor: TlsAcceptor,
    pub(crate) certificate_pem: String,
    pub(crate) certificate_der: Vec<u8>,
}

impl TlsConfig {
    /// A fresh self-signed certificate for `localhost`, the bound `ip` and the advertised
    /// `host` (brackets of an IPv6 literal removed).
    pub(crate) fn self_signed(ip: IpAddr, host: &str) -> Result<Self, String> {
        let mut names = vec!["localhost".to_string(), ip.to_string()];
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        if !names.contains(&host) {
            names.push(host);
        }
        let certified = rcgen::generate_simple_self_signed(names).map_err(|e| e.to_string())?;
        let cert = CertificateDer::from(certified.cert.der().to_vec());
        let key =
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(certified.key_pair.serialize_der()));
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_no_client_auth()
            .with_single_cert(vec![cert], key)
            .map_err(|e| e.to_string())?;
        // ALPN: HTTP/2 first, as the service offers it; HTTP/1.1 for everyone else.
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Self {
            acceptor: TlsAcceptor::from(Arc::new(config)),
            certificate_pem: certified.cert.pem(),
            certificate_der: certified.cert.der().to_vec(),
        })
    }
}

impl fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsConfig").finish_non_exhaustive()
    }
}
