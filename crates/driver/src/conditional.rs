//! Conditional reads: `If-None-Match` answered as a typed outcome — the item, or "not
//! modified" (the service's 304) — rather than as an error.

use serde::de::DeserializeOwned;

use crate::container::{Container, PartitionKey};
use crate::error::DriverError;
use crate::item_response::ItemResponse;
use crate::metadata::ResponseMetadata;
use crate::options::ReadOptions;
use crate::status::Status;

/// What a conditional read found.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ReadOutcome<T> {
    /// The item changed since the etag sent (or none was sent): its current version.
    Item(ItemResponse<T>),
    /// 304: the item's etag is still the one sent; nothing was transferred.
    NotModified(NotModified),
}

/// A 304 answer to a read with `If-None-Match`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct NotModified {
    /// The item's current etag (the one sent), as the service echoed it.
    pub etag: Option<String>,
    /// Charge, activity id, region and attempts.
    pub metadata: ResponseMetadata,
}

impl<T> ReadOutcome<T> {
    /// The item, if it changed.
    pub fn item(self) -> Option<ItemResponse<T>> {
        match self {
            Self::Item(item) => Some(item),
            Self::NotModified(_) => None,
        }
    }

    /// Whether the service answered 304.
    pub fn is_not_modified(&self) -> bool {
        matches!(self, Self::NotModified(_))
    }
}

impl Container {
    /// Reads an item with `options`, answering its
    /// [`if_none_match`](ReadOptions::if_none_match) as a typed outcome: the item if its
    /// etag is no longer the one given, else [`ReadOutcome::NotModified`] (the service's
    /// 304). Any other failure is an error, as for
    /// [`read_item_with`](Container::read_item_with).
    pub async fn read_item_if_changed<T: DeserializeOwned>(
        &self,
        pk: impl Into<PartitionKey>,
        id: &str,
        options: &ReadOptions,
    ) -> Result<ReadOutcome<T>, DriverError> {
        match self.read_item_with(pk, id, options).await {
            Ok(item) => Ok(ReadOutcome::Item(item)),
            Err(error) if error.typed_status() == Some(Status::NOT_MODIFIED) => {
                let metadata = error.failure().map(|f| (*f.metadata).clone());
                let metadata = metadata.unwrap_or_default();
                Ok(ReadOutcome::NotModified(NotModified {
                    etag: metadata.etag.clone(),
                    metadata,
                }))
            }
            Err(error) => Err(error),
        }
    }
}
