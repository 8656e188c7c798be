//! An account document validated once: what a fetcher returns and a store installs.

use std::sync::Arc;

use crate::account::{AccountError, DatabaseAccount, Location};

/// An account document that passed every rule of [`DatabaseAccount::validate`], with its
/// locations parsed. The only way to make one is through validation, so
/// [`LocationStore::install`](crate::LocationStore::install) re-validates nothing.
///
/// Cheap to clone (one `Arc`); two clones of one value compare equal without looking at
/// the document.
#[derive(Debug, Clone)]
pub struct ValidatedAccount {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    account: DatabaseAccount,
    readable: Vec<Location>,
    writable: Vec<Location>,
}

impl ValidatedAccount {
    /// Parses and validates a `GET /` body (size cap first, then JSON, then the rules).
    pub fn from_slice(body: &[u8]) -> Result<Self, AccountError> {
        Self::new(DatabaseAccount::from_slice(body)?)
    }

    /// Validates an already parsed document.
    pub fn new(account: DatabaseAccount) -> Result<Self, AccountError> {
        account.validate()?;
        let readable = account.readable()?;
        let writable = account.writable()?;
        Ok(Self {
            inner: Arc::new(Inner {
                account,
                readable,
                writable,
            }),
        })
    }

    /// The document.
    pub fn account(&self) -> &DatabaseAccount {
        &self.inner.account
    }

    /// `readableLocations`, parsed, in document order.
    pub fn readable(&self) -> &[Location] {
        &self.inner.readable
    }

    /// `writableLocations`, parsed, in document order.
    pub fn writable(&self) -> &[Location] {
        &self.inner.writable
    }

    /// Whether `endpoint` is one of the document's regional endpoints.
    pub fn lists(&self, endpoint: &crate::Endpoint) -> bool {
        self.readable()
            .iter()
            .chain(self.writable())
            .any(|l| &l.endpoint == endpoint)
    }
}

impl TryFrom<DatabaseAccount> for ValidatedAccount {
    type Error = AccountError;

    fn try_from(account: DatabaseAccount) -> Result<Self, AccountError> {
        Self::new(account)
    }
}

impl PartialEq for ValidatedAccount {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner) || self.inner.account == other.inner.account
    }
}
