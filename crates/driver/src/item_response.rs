//! An item operation's answer: the item, parsed once into the caller's type, with where
//! and how it was served.

use bytes::Bytes;
use meridian_location_store::{Endpoint, RegionName};
use serde::de::DeserializeOwned;

use crate::error::DriverError;
use crate::metadata::ResponseMetadata;
use crate::operation::Success;

/// An item with the response metadata.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ItemResponse<T> {
    /// The item as the service returned it (or, for a write with
    /// [`content_response(false)`](crate::ItemOptions::content_response), as it was sent).
    pub item: T,
    /// Its `_etag`, for `If-Match`.
    pub etag: Option<String>,
    /// The endpoint that answered.
    pub endpoint: Endpoint,
    /// Requests sent, retries included.
    pub attempts: u32,
    /// HTTP status (201 created, 200 replaced...).
    pub status: u16,
    /// Charge, activity id, session token, serving region and regions tried.
    pub metadata: ResponseMetadata,
}

impl<T> ItemResponse<T> {
    /// The region that served the response, if the topology names it.
    pub fn region(&self) -> Option<&RegionName> {
        self.metadata.region.as_ref()
    }

    /// The request charge (request units).
    pub fn request_charge(&self) -> f64 {
        self.metadata.request_charge
    }
}

/// The item itself, or with `prefer: return=minimal`, the item as it was sent. The body is
/// parsed once, straight into `T`; the etag comes from the `etag` header (the body's
/// `_etag` is read only when a response lacks the header).
pub(crate) fn item_response<T: DeserializeOwned>(
    success: Success,
    sent: Option<&Bytes>,
    container: &str,
) -> Result<ItemResponse<T>, DriverError> {
    #[derive(serde::Deserialize)]
    struct EtagOnly {
        #[serde(rename = "_etag")]
        etag: Option<String>,
    }
    let body = match sent {
        Some(sent) if success.body.is_empty() => sent,
        _ => &success.body,
    };
    let item = crate::decode::from_slice(body, container)?;
    let etag = match &success.metadata.etag {
        Some(etag) => Some(etag.clone()),
        None => serde_json::from_slice::<EtagOnly>(body)
            .ok()
            .and_then(|only| only.etag),
    };
    Ok(ItemResponse {
        item,
        etag,
        endpoint: success.endpoint,
        attempts: success.attempts,
        status: success.status,
        metadata: success.metadata,
    })
}
