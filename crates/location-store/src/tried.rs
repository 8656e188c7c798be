//! The endpoints one operation has already tried, for routing its retries.

use std::collections::HashSet;

use crate::endpoint::Endpoint;

/// The endpoints an operation already tried. Membership is a hash lookup, so a routing
/// step over `n` locations costs O(n) however many attempts came before (a list scanned
/// per candidate made every step O(n · attempts)).
///
/// ```
/// use meridian_location_store::{Endpoint, Tried};
/// let west = Endpoint::parse("https://acct-westus.documents.azure.com/").unwrap();
/// let mut tried = Tried::new();
/// assert!(tried.insert(&west));
/// assert!(!tried.insert(&west), "already there");
/// assert!(tried.contains(&west));
/// assert_eq!(tried.len(), 1);
/// ```
#[derive(Debug, Clone, Default)]
pub struct Tried {
    endpoints: HashSet<Endpoint, foldhash::fast::RandomState>,
}

impl Tried {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `endpoint`; `false` if it was already there (then nothing is cloned).
    pub fn insert(&mut self, endpoint: &Endpoint) -> bool {
        if self.endpoints.contains(endpoint) {
            return false;
        }
        self.endpoints.insert(endpoint.clone())
    }

    /// Whether `endpoint` was tried.
    pub fn contains(&self, endpoint: &Endpoint) -> bool {
        self.endpoints.contains(endpoint)
    }

    /// How many distinct endpoints were tried.
    pub fn len(&self) -> usize {
        self.endpoints.len()
    }

    /// Whether nothing was tried yet.
    pub fn is_empty(&self) -> bool {
        self.endpoints.is_empty()
    }
}

impl FromIterator<Endpoint> for Tried {
    fn from_iter<I: IntoIterator<Item = Endpoint>>(iter: I) -> Self {
        Self {
            endpoints: iter.into_iter().collect(),
        }
    }
}
