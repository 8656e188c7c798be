//! Validated, cheaply cloned endpoint URLs.

use std::fmt;
use std::sync::Arc;

/// Why a string is not an endpoint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EndpointError {
    /// Not an absolute URL (a relative URL such as `/dbs` lands here).
    #[error("not an absolute URL: {0}")]
    NotAbsolute(url::ParseError),
    /// A scheme other than `http` or `https`.
    #[error("scheme `{0}` is not http or https")]
    Scheme(String),
    /// A URL without a host.
    #[error("URL has no host")]
    NoHost,
}

/// An absolute `http(s)` endpoint URL in normalized form (`https://host:port/`).
///
/// Clones share one allocation, so snapshots and routing decisions copy it freely.
///
/// ```
/// use meridian_location_store::Endpoint;
/// let endpoint = Endpoint::parse("https://acct-westus.documents.azure.com:443").unwrap();
/// assert_eq!(endpoint.as_str(), "https://acct-westus.documents.azure.com/");
/// assert!(Endpoint::parse("/relative").is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Endpoint(Arc<str>);

impl Endpoint {
    /// Parses and normalizes an absolute `http` or `https` URL.
    pub fn parse(input: &str) -> Result<Self, EndpointError> {
        let url = url::Url::parse(input).map_err(EndpointError::NotAbsolute)?;
        match url.scheme() {
            "http" | "https" => {}
            other => return Err(EndpointError::Scheme(other.to_string())),
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(EndpointError::NoHost);
        }
        Ok(Self(Arc::from(url.as_str())))
    }

    /// The normalized URL.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for Endpoint {
    type Err = EndpointError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_http_and_https_and_normalizes() {
        assert_eq!(
            Endpoint::parse("http://127.0.0.1:8081").unwrap().as_str(),
            "http://127.0.0.1:8081/"
        );
        assert_eq!(
            Endpoint::parse("HTTPS://Host.Example:443/")
                .unwrap()
                .as_str(),
            "https://host.example/"
        );
    }

    #[test]
    fn rejects_relative_other_schemes_and_hostless() {
        assert!(matches!(
            Endpoint::parse("/dbs"),
            Err(EndpointError::NotAbsolute(_))
        ));
        assert!(matches!(
            Endpoint::parse("host:443"),
            Err(EndpointError::Scheme(_))
        ));
        assert!(matches!(
            Endpoint::parse("ftp://h/"),
            Err(EndpointError::Scheme(_))
        ));
        assert!(Endpoint::parse("").is_err());
    }
}
