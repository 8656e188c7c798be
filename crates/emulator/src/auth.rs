//! Master-key authorization: parsing the header and verifying the signature.
//!
//! The service's scheme: `authorization` is the form-URL-encoded
//! `type=master&ver=1.0&sig=<base64 HMAC-SHA256>`, keyed with the base64-decoded master
//! key over `lowercase(verb)\nresourceType\nresourceLink\nlowercase(x-ms-date)\n\n`.
//! This is the emulator's own implementation, independent of the driver's signer.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use percent_encoding::percent_decode_str;
use sha2::Sha256;

/// How far `x-ms-date` may be from the emulator's clock, either way, in whole seconds
/// (the service allows 15 minutes).
pub const MAX_CLOCK_SKEW: Duration = Duration::from_secs(15 * 60);

/// Why a request was not authorized.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// A required header is absent (401).
    #[error("required header `{0}` is missing")]
    Missing(&'static str),
    /// A header is present but not in the expected form (401).
    #[error("the `{0}` header is malformed")]
    Malformed(&'static str),
    /// The signature does not match (401).
    #[error("the authorization signature does not match")]
    BadSignature,
    /// `x-ms-date` is more than 15 minutes from now (403).
    #[error("the request date is more than 15 minutes from the server's clock")]
    StaleDate,
}

impl AuthError {
    /// The status the service answers with.
    pub fn status(&self) -> u16 {
        match self {
            Self::StaleDate => 403,
            _ => 401,
        }
    }
}

/// The decoded parts of an `authorization` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    /// The raw HMAC bytes.
    pub signature: Vec<u8>,
}

/// Parses an `authorization` header value. Percent-decoding keeps `+` (base64) intact.
pub fn parse_authorization(value: &str) -> Result<Authorization, AuthError> {
    let malformed = AuthError::Malformed("authorization");
    let decoded = percent_decode_str(value)
        .decode_utf8()
        .map_err(|_| malformed.clone())?;
    let (mut kind, mut version, mut signature) = (None, None, None);
    for pair in decoded.split('&') {
        let (name, value) = pair.split_once('=').ok_or_else(|| malformed.clone())?;
        let slot = match name {
            "type" => &mut kind,
            "ver" => &mut version,
            "sig" => &mut signature,
            _ => return Err(malformed),
        };
        if slot.replace(value).is_some() {
            return Err(malformed);
        }
    }
    if kind != Some("master") || version != Some("1.0") {
        return Err(malformed);
    }
    let signature = STANDARD
        .decode(signature.ok_or_else(|| malformed.clone())?)
        .map_err(|_| malformed.clone())?;
    if signature.len() != 32 {
        return Err(malformed);
    }
    Ok(Authorization { signature })
}

/// The master key, decoded once. Its `Debug` never shows the bytes.
#[derive(Clone)]
pub struct MasterKey(Vec<u8>);

impl MasterKey {
    /// Decodes a base64 master key.
    pub fn from_base64(key: &str) -> Result<Self, base64::DecodeError> {
        STANDARD.decode(key.trim()).map(Self)
    }

    /// A key from its raw bytes.
    pub(crate) fn from_bytes(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    /// Verifies a request's `authorization` and `x-ms-date` header values for `verb` on
    /// (`resource_type`, `resource_link`) at `now`: the signature first (constant-time
    /// comparison, `Mac::verify_slice`), then the date's freshness.
    pub fn verify(
        &self,
        verb: &str,
        resource_type: &str,
        resource_link: &str,
        authorization: Option<&str>,
        date: Option<&str>,
        now: SystemTime,
    ) -> Result<(), AuthError> {
        let authorization = authorization.ok_or(AuthError::Missing("authorization"))?;
        let date = date.ok_or(AuthError::Missing("x-ms-date"))?;
        self.verify_signature(verb, resource_type, resource_link, authorization, date)?;
        let sent_at =
            httpdate::parse_http_date(date).map_err(|_| AuthError::Malformed("x-ms-date"))?;
        // HTTP dates have whole seconds: compare against `now` cut to whole seconds too,
        // or a date 15 minutes behind would be refused for the fraction of a second the
        // header lost, while one 15 minutes ahead would pass.
        let now = now.duration_since(UNIX_EPOCH).map_or(now, |since| {
            UNIX_EPOCH + Duration::from_secs(since.as_secs())
        });
        let skew = match now.duration_since(sent_at) {
            Ok(behind) => behind,
            Err(ahead) => ahead.duration(),
        };
        if skew > MAX_CLOCK_SKEW {
            return Err(AuthError::StaleDate);
        }
        Ok(())
    }

    /// Verifies only the signature of `authorization` over the string to sign built from
    /// `verb`, `resource_type`, `resource_link` and `date` (the header value as sent).
    pub fn verify_signature(
        &self,
        verb: &str,
        resource_type: &str,
        resource_link: &str,
        authorization: &str,
        date: &str,
    ) -> Result<(), AuthError> {
        let parsed = parse_authorization(authorization)?;
        let mac = self.mac(verb, resource_type, resource_link, date)?;
        mac.verify_slice(&parsed.signature)
            .map_err(|_| AuthError::BadSignature)
    }
}

impl MasterKey {
    /// The HMAC over the string to sign, ready to finalize or verify.
    fn mac(
        &self,
        verb: &str,
        resource_type: &str,
        resource_link: &str,
        date: &str,
    ) -> Result<Hmac<Sha256>, AuthError> {
        let string_to_sign = format!(
            "{}\n{}\n{}\n{}\n\n",
            verb.to_lowercase(),
            resource_type,
            resource_link,
            date.to_lowercase()
        );
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.0).map_err(|_| AuthError::BadSignature)?;
        mac.update(string_to_sign.as_bytes());
        Ok(mac)
    }

    /// The URL-encoded `authorization` header value for `verb` on (`resource_type`,
    /// `resource_link`) at `date` (the `x-ms-date` value): what a client sends. For the
    /// request-handling fuzz target, which signs its inputs to reach the data plane.
    pub fn sign(&self, verb: &str, resource_type: &str, resource_link: &str, date: &str) -> String {
        let signature = self
            .mac(verb, resource_type, resource_link, date)
            .map(|mac| STANDARD.encode(mac.finalize().into_bytes()))
            .unwrap_or_default();
        let raw = format!("type=master&ver=1.0&sig={signature}");
        percent_encoding::utf8_percent_encode(&raw, percent_encoding::NON_ALPHANUMERIC).to_string()
    }
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Public vectors of the service's signing scheme (V1-V3).
    const V1_KEY: &str =
        "8F8xXXOptJxkblM1DBXW7a6NMI5oE8NnwPGYBmwxLCKfejOK7B7yhcCHMGvN3PBrlMLIOeol1Hv9RCdzAZR5sg==";
    const V2_KEY: &str = "dsZQi3KtZmCv1ljt3VNWNm7sQUF1y5rJfC6kv5JiwvW0EndXdDku/dkKBp8/ufDToSxL";

    fn header(sig: &str) -> String {
        let raw = format!("type=master&ver=1.0&sig={sig}");
        percent_encoding::utf8_percent_encode(&raw, percent_encoding::NON_ALPHANUMERIC).to_string()
    }

    fn at(date: &str) -> SystemTime {
        httpdate::parse_http_date(date).unwrap()
    }

    #[test]
    fn public_vectors_verify() {
        let cases = [
            (
                V1_KEY,
                "GET",
                "colls",
                "dbs/MyDatabase/colls/MyCollection",
                "Mon, 01 Jan 1900 01:00:00 GMT",
                "vrHmd02almbIg1e4htVWH+Eg/OhEHip3VTwFivZLH0A=",
            ),
            (
                V2_KEY,
                "GET",
                "dbs",
                "dbs/ToDoList",
                "Thu, 27 Apr 2017 00:51:12 GMT",
                "KvBM8vONofkv3yKm/8zD9MEGlbu6jjHDJBp4E9c2ZZI=",
            ),
            (
                V1_KEY,
                "GET",
                "",
                "",
                "Mon, 01 Jan 1900 01:00:00 GMT",
                "EtqBV39jcbuJkOHeG7s6LFVj47ONglzefbcwgqB8Sts=",
            ),
        ];
        for (key, verb, kind, link, date, sig) in cases {
            let key = MasterKey::from_base64(key).unwrap();
            assert_eq!(
                key.verify_signature(verb, kind, link, &header(sig), date),
                Ok(()),
                "{kind} {link}"
            );
            assert_eq!(
                key.sign(verb, kind, link, date),
                header(sig),
                "sign {kind} {link}"
            );
            // One flipped bit in the date breaks it.
            assert_eq!(
                key.verify_signature(verb, kind, link, &header(sig), &date.replace("GMT", "UTC")),
                Err(AuthError::BadSignature)
            );
        }
    }

    #[test]
    fn the_v2_header_value_parses_as_sent_by_the_service() {
        let value =
            "type%3Dmaster%26ver%3D1.0%26sig%3DKvBM8vONofkv3yKm%2F8zD9MEGlbu6jjHDJBp4E9c2ZZI%3D";
        let key = MasterKey::from_base64(V2_KEY).unwrap();
        let date = "Thu, 27 Apr 2017 00:51:12 GMT";
        assert_eq!(
            key.verify(
                "GET",
                "dbs",
                "dbs/ToDoList",
                Some(value),
                Some(date),
                at(date)
            ),
            Ok(())
        );
    }

    #[test]
    fn rejections_have_the_services_codes() {
        let key = MasterKey::from_base64(V2_KEY).unwrap();
        let date = "Thu, 27 Apr 2017 00:51:12 GMT";
        let good = header("KvBM8vONofkv3yKm/8zD9MEGlbu6jjHDJBp4E9c2ZZI=");
        let verify = |verb, link, auth: Option<&str>, d: Option<&str>, now| {
            key.verify(verb, "dbs", link, auth, d, now)
        };
        assert_eq!(
            verify("GET", "dbs/ToDoList", None, Some(date), at(date)),
            Err(AuthError::Missing("authorization"))
        );
        assert_eq!(
            verify("GET", "dbs/ToDoList", Some(&good), None, at(date)),
            Err(AuthError::Missing("x-ms-date"))
        );
        assert_eq!(
            verify("POST", "dbs/ToDoList", Some(&good), Some(date), at(date)),
            Err(AuthError::BadSignature),
            "wrong verb"
        );
        assert_eq!(
            verify("GET", "dbs/Other", Some(&good), Some(date), at(date)),
            Err(AuthError::BadSignature),
            "wrong link"
        );
        let later = at(date) + Duration::from_secs(16 * 60);
        assert_eq!(
            verify("GET", "dbs/ToDoList", Some(&good), Some(date), later),
            Err(AuthError::StaleDate)
        );
        assert_eq!(AuthError::StaleDate.status(), 403);
        let earlier = at(date) - Duration::from_secs(16 * 60);
        assert_eq!(
            verify("GET", "dbs/ToDoList", Some(&good), Some(date), earlier),
            Err(AuthError::StaleDate)
        );
        let wrong_key = MasterKey::from_base64(V1_KEY).unwrap();
        assert_eq!(
            wrong_key.verify(
                "GET",
                "dbs",
                "dbs/ToDoList",
                Some(&good),
                Some(date),
                at(date)
            ),
            Err(AuthError::BadSignature)
        );
    }

    #[test]
    fn malformed_headers_are_401() {
        for value in [
            "",
            "garbage",
            "type=master&ver=1.0",
            "type=resource&ver=1.0&sig=AAAA",
            "type=master&ver=2.0&sig=KvBM8vONofkv3yKm/8zD9MEGlbu6jjHDJBp4E9c2ZZI=",
            "type=master&ver=1.0&sig=not-base64!",
            "type=master&ver=1.0&sig=AAAA",
            "type=master&type=master&ver=1.0&sig=KvBM8vONofkv3yKm/8zD9MEGlbu6jjHDJBp4E9c2ZZI=",
            "%ff%fe",
        ] {
            let err = parse_authorization(value).unwrap_err();
            assert_eq!(err.status(), 401, "{value:?}");
        }
        let key = MasterKey::from_base64(V2_KEY).unwrap();
        let good = header("KvBM8vONofkv3yKm/8zD9MEGlbu6jjHDJBp4E9c2ZZI=");
        let unparseable = key
            .verify(
                "GET",
                "dbs",
                "dbs/ToDoList",
                Some(&good),
                Some("yesterday"),
                SystemTime::now(),
            )
            .unwrap_err();
        assert_eq!(unparseable.status(), 401);
    }

    #[test]
    fn the_key_is_redacted_in_debug() {
        let key = MasterKey::from_base64(V1_KEY).unwrap();
        assert_eq!(format!("{key:?}"), "MasterKey(<redacted>)");
    }
}
