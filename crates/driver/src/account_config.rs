//! An account to use and how to authenticate: [`AccountConfig`].

use std::fmt;
use std::sync::Arc;

use azure_core::credentials::TokenCredential;

/// Which account to use and how to authenticate: a master key or an Entra ID token
/// credential. `Debug` never shows the key or token.
#[derive(Clone)]
pub struct AccountConfig {
    pub(crate) endpoint: String,
    pub(crate) auth: Auth,
}

/// How a driver authenticates.
#[derive(Clone)]
pub(crate) enum Auth {
    Key(String),
    Token(Arc<dyn TokenCredential>),
}

impl AccountConfig {
    /// The account endpoint (`https://{account}.documents.azure.com/`, or the emulator's
    /// `http://127.0.0.1:8081/`) and its base64 master key.
    pub fn new(endpoint: impl Into<String>, key: impl Into<String>) -> Self {
        Self {
            endpoint: endpoint.into(),
            auth: Auth::Key(key.into()),
        }
    }

    /// The account endpoint and an Entra ID token credential (any `azure_identity`
    /// credential, or your own [`TokenCredential`]), asked for the scope
    /// [`COSMOS_SCOPE`](crate::COSMOS_SCOPE). Its token is cached and refreshed before it
    /// expires **once per runtime**: every driver built with the same `Arc` in one runtime
    /// — and the account's refreshes — share one token. A token identity may use the
    /// data plane only: creating, replacing or deleting databases, containers or
    /// throughput is refused by the service (403, sub-status 5300).
    pub fn with_token_credential(
        endpoint: impl Into<String>,
        credential: Arc<dyn TokenCredential>,
    ) -> Self {
        Self {
            endpoint: endpoint.into(),
            auth: Auth::Token(credential),
        }
    }

    /// The account endpoint as given.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }
}

impl fmt::Debug for AccountConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccountConfig")
            .field("endpoint", &self.endpoint)
            .field(
                "auth",
                &match self.auth {
                    Auth::Key(_) => "key <redacted>",
                    Auth::Token(_) => "token credential",
                },
            )
            .finish()
    }
}
