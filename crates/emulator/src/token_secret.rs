//! The secret resource tokens are signed with (`resource_token.rs`): random per emulator,
//! kept in the data store, never shown. A leaf, so the store can hold it without importing
//! the token checks that read the store.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The secret tokens are signed with: random per emulator, never shown.
#[derive(Clone)]
pub(crate) struct Secret([u8; 32]);

impl Default for Secret {
    fn default() -> Self {
        let mut bytes = [0u8; 32];
        fastrand::fill(&mut bytes);
        Self(bytes)
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl Secret {
    pub(crate) fn mac(&self, payload: &str) -> Option<Hmac<Sha256>> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).ok()?;
        mac.update(payload.as_bytes());
        Some(mac)
    }
}
