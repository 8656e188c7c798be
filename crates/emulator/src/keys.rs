//! The account's two master keys: both accepted on every request, each regenerable.
//!
//! Like the service, the emulator has a primary and a secondary key so operators can
//! rotate: move clients to the secondary, regenerate the primary, move back. A
//! regenerated key replaces the old one at once: the next request signed with the old
//! key gets 401.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

use crate::auth::{AuthError, MasterKey};

/// The well-known public key of the Cosmos DB emulator: the default master key.
pub const WELL_KNOWN_KEY: &str =
    "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw==";

/// The default secondary key (a fixed, public test value like
/// [`WELL_KNOWN_KEY`](crate::WELL_KNOWN_KEY)).
pub const WELL_KNOWN_SECONDARY_KEY: &str =
    "eOGrNV06ZpQXr9aJwvDSVZstVuIbHjhiwqH9zCA+PwwX+/PoUwt4uRrsit5G9HPQEELzsCcFqKxFsWGiA6B6DQ==";

/// Which of the account's two keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyKind {
    /// The primary key (`--key`).
    Primary,
    /// The secondary key (`--secondary-key`).
    Secondary,
}

/// The account's current keys, base64. (Test data: the emulator is not a vault. `Debug`
/// still redacts them, so they never end up in a log by accident.)
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct AccountKeys {
    /// The primary key.
    pub primary: String,
    /// The secondary key.
    pub secondary: String,
}

impl fmt::Debug for AccountKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccountKeys")
            .field("primary", &"<redacted>")
            .field("secondary", &"<redacted>")
            .finish()
    }
}

/// Both keys, encoded and decoded.
#[derive(Clone)]
pub(crate) struct Keys {
    primary: (String, MasterKey),
    secondary: (String, MasterKey),
}

impl fmt::Debug for Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Keys(<redacted>)")
    }
}

impl Keys {
    /// Both keys from base64; `None` if either is not valid base64.
    pub(crate) fn new(primary: &str, secondary: &str) -> Option<Self> {
        let decode = |key: &str| {
            MasterKey::from_base64(key)
                .ok()
                .map(|decoded| (key.trim().to_string(), decoded))
        };
        Some(Self {
            primary: decode(primary)?,
            secondary: decode(secondary)?,
        })
    }

    /// Verifies a request with `check` (a `MasterKey::verify` call) against the primary
    /// key, then the secondary one. A signature that matches either key is judged on its
    /// date alone (403 if stale).
    pub(crate) fn verify(
        &self,
        check: impl Fn(&MasterKey) -> Result<(), AuthError>,
    ) -> Result<(), AuthError> {
        match check(&self.primary.1) {
            Err(AuthError::BadSignature) => check(&self.secondary.1),
            other => other,
        }
    }

    /// The current keys, base64.
    pub(crate) fn current(&self) -> AccountKeys {
        AccountKeys {
            primary: self.primary.0.clone(),
            secondary: self.secondary.0.clone(),
        }
    }

    /// Replaces `kind` with a fresh random 64-byte key and returns it (base64). The old
    /// key is refused from the next request on.
    pub(crate) fn regenerate(&mut self, kind: KeyKind) -> String {
        let mut bytes = [0u8; 64];
        fastrand::fill(&mut bytes);
        let encoded = STANDARD.encode(bytes);
        let fresh = (encoded.clone(), MasterKey::from_bytes(bytes.to_vec()));
        match kind {
            KeyKind::Primary => self.primary = fresh,
            KeyKind::Secondary => self.secondary = fresh,
        }
        encoded
    }
}
