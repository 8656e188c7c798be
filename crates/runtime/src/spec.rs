//! What identifies an account in a runtime and how it is routed: [`AccountSpec`].

use meridian_location_store::{Endpoint, RegionName, StoreConfig};

/// What identifies an account in a runtime (its endpoint) and how it is routed.
///
/// The endpoint is the registry key: every attach with the same endpoint shares one
/// account state. Preferred regions and bootstrap endpoints are per account: they come
/// from the first attach, and a later attach that sets a different value is refused
/// ([`AttachError::Conflict`](crate::AttachError::Conflict)). (A driver routes by its own
/// preferred regions per request instead; see `RouteRequest::preferred_regions`.)
#[derive(Clone)]
pub struct AccountSpec {
    pub(crate) endpoint: Endpoint,
    /// The location store's settings; of those only the preferred regions are per
    /// account (the runtime sets the unavailability TTL).
    pub(crate) store: StoreConfig,
    pub(crate) bootstrap_endpoints: Vec<Endpoint>,
}

impl AccountSpec {
    /// The account at `endpoint` (its account endpoint).
    pub fn new(endpoint: Endpoint) -> Self {
        Self {
            endpoint,
            store: StoreConfig::default(),
            bootstrap_endpoints: Vec::new(),
        }
    }

    /// Preferred regions, most preferred first.
    pub fn with_preferred_regions<I, R>(mut self, regions: I) -> Self
    where
        I: IntoIterator<Item = R>,
        R: Into<RegionName>,
    {
        self.store = self.store.with_preferred_regions(regions);
        self
    }

    /// Regional endpoints to fetch the account document from while no document is known
    /// and the account endpoint fails (a cold start during an account-endpoint outage).
    pub fn with_bootstrap_endpoints(
        mut self,
        endpoints: impl IntoIterator<Item = Endpoint>,
    ) -> Self {
        self.bootstrap_endpoints = endpoints.into_iter().collect();
        self
    }

    /// The account endpoint.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// The first per-account setting of `requested` (a later attach) that is set and
    /// differs from this (the account's) spec.
    pub(crate) fn conflict(&self, requested: &AccountSpec) -> Option<&'static str> {
        let preferred_regions = requested.store.preferred_regions();
        if !preferred_regions.is_empty() && preferred_regions != self.store.preferred_regions() {
            return Some("preferred_regions");
        }
        if !requested.bootstrap_endpoints.is_empty()
            && requested.bootstrap_endpoints != self.bootstrap_endpoints
        {
            return Some("bootstrap_endpoints");
        }
        None
    }
}

/// Shows the per-account settings only: the store's unavailability TTL in `store` is not
/// the account's (the runtime sets it), so printing it would mislead.
impl std::fmt::Debug for AccountSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountSpec")
            .field("endpoint", &self.endpoint)
            .field("preferred_regions", &self.store.preferred_regions())
            .field("bootstrap_endpoints", &self.bootstrap_endpoints)
            .finish()
    }
}

impl From<Endpoint> for AccountSpec {
    fn from(endpoint: Endpoint) -> Self {
        Self::new(endpoint)
    }
}
