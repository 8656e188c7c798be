//! Master-key request signing, as the service defines it (independent of the emulator).
//!
//! `authorization` = URL-encode(`type=master&ver=1.0&sig=` + base64(HMAC-SHA256(key,
//! lowercase(verb) \n resourceType \n resourceLink \n lowercase(x-ms-date) \n \n))).

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use sha2::Sha256;
use zeroize::Zeroizing;

/// What `encodeURIComponent` leaves alone; the service's own header values use it.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'!')
    .remove(b'~')
    .remove(b'*')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')');

/// The decoded master key. Never printed: `Debug` shows `<redacted>`; the bytes are
/// zeroed when the last copy is dropped.
///
/// It also keeps the MAC keyed with it (HMAC's inner and outer pad states, derived once), so
/// a signature costs the message's hashing only — two of its five SHA-256 blocks were the
/// key's. hmac 0.12 cannot zero that state on drop; it lives as long as the key, as every
/// per-request MAC state did before, on the stack.
#[derive(Clone)]
pub(crate) struct MasterKey(Zeroizing<Vec<u8>>, Hmac<Sha256>);

impl MasterKey {
    /// Decodes a base64 master key; the error never echoes the input.
    pub(crate) fn from_base64(key: &str) -> Result<Self, &'static str> {
        let bytes = STANDARD
            .decode(key.trim())
            .map_err(|_| "the account key is not valid base64")?;
        if bytes.is_empty() {
            return Err("the account key is empty");
        }
        // HMAC accepts keys of any length.
        let mac = Hmac::<Sha256>::new_from_slice(&bytes)
            .map_err(|_| "the account key cannot key HMAC-SHA256")?;
        Ok(Self(Zeroizing::new(bytes), mac))
    }

    /// The raw key bytes (for the credential's process-local fingerprint only).
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.0
    }

    /// The `authorization` header value for one request. The string to sign is fed to the
    /// MAC piece by piece and the signature encoded on the stack: the header value is the
    /// one allocation.
    pub(crate) fn authorization(
        &self,
        verb: &str,
        resource_type: &str,
        resource_link: &str,
        date: &str,
    ) -> String {
        let mut mac = self.1.clone();
        update_lowercase(&mut mac, verb);
        mac.update(b"\n");
        mac.update(resource_type.as_bytes());
        mac.update(b"\n");
        mac.update(resource_link.as_bytes());
        mac.update(b"\n");
        update_lowercase(&mut mac, date);
        mac.update(b"\n\n");
        let digest = mac.finalize().into_bytes();
        // base64 of 32 bytes is 44 characters.
        let mut signature = [0u8; 44];
        let written = STANDARD
            .encode_slice(digest, &mut signature)
            .unwrap_or_default();
        let signature = std::str::from_utf8(&signature[..written]).unwrap_or_default();
        // `type=master&ver=1.0&sig=`, encoded; each signature byte is at most `%XX`.
        const PREFIX: &str = "type%3Dmaster%26ver%3D1.0%26sig%3D";
        let mut header = String::with_capacity(PREFIX.len() + 3 * signature.len());
        header.push_str(PREFIX);
        header.extend(utf8_percent_encode(signature, COMPONENT));
        header
    }
}

/// The `authorization` header value for an Entra ID token: `type=aad&ver=1.0&sig=<token>`,
/// URL-encoded as the service's header values are.
pub(crate) fn aad_authorization(token: &str) -> String {
    const PREFIX: &str = "type%3Daad%26ver%3D1.0%26sig%3D";
    let mut header = String::with_capacity(PREFIX.len() + token.len() + 8);
    header.push_str(PREFIX);
    header.extend(utf8_percent_encode(token, COMPONENT));
    header
}

/// Feeds `text` lower-cased (ASCII, as the service lower-cases verbs and dates) to `mac`,
/// through a stack buffer.
fn update_lowercase(mac: &mut Hmac<Sha256>, text: &str) {
    let mut buffer = [0u8; 64];
    for chunk in text.as_bytes().chunks(buffer.len()) {
        let lower = &mut buffer[..chunk.len()];
        lower.copy_from_slice(chunk);
        lower.make_ascii_lowercase();
        mac.update(lower);
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Public vectors of the service's signing scheme.
    const V1_KEY: &str =
        "8F8xXXOptJxkblM1DBXW7a6NMI5oE8NnwPGYBmwxLCKfejOK7B7yhcCHMGvN3PBrlMLIOeol1Hv9RCdzAZR5sg==";
    const V2_KEY: &str = "dsZQi3KtZmCv1ljt3VNWNm7sQUF1y5rJfC6kv5JiwvW0EndXdDku/dkKBp8/ufDToSxL";

    fn signature_of(header: &str) -> String {
        let decoded = percent_encoding::percent_decode_str(header)
            .decode_utf8()
            .unwrap();
        decoded
            .strip_prefix("type=master&ver=1.0&sig=")
            .unwrap()
            .to_string()
    }

    #[test]
    fn public_vectors() {
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
        for (key, verb, kind, link, date, expected) in cases {
            let header = MasterKey::from_base64(key)
                .unwrap()
                .authorization(verb, kind, link, date);
            assert_eq!(signature_of(&header), expected, "{kind} {link}");
        }
    }

    #[test]
    fn the_v2_header_value_matches_byte_for_byte() {
        let key = MasterKey::from_base64(V2_KEY).unwrap();
        assert_eq!(
            key.authorization(
                "GET",
                "dbs",
                "dbs/ToDoList",
                "Thu, 27 Apr 2017 00:51:12 GMT"
            ),
            "type%3Dmaster%26ver%3D1.0%26sig%3DKvBM8vONofkv3yKm%2F8zD9MEGlbu6jjHDJBp4E9c2ZZI%3D"
        );
    }

    #[test]
    fn bad_keys_are_refused_without_echoing_them() {
        let err = MasterKey::from_base64("s3cr3t!!").unwrap_err();
        assert!(!err.contains("s3cr3t"));
        assert!(MasterKey::from_base64("").is_err());
        assert_eq!(
            format!("{:?}", MasterKey::from_base64(V1_KEY).unwrap()),
            "MasterKey(<redacted>)"
        );
    }
}
