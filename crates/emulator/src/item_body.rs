//! The one place an item body becomes JSON: every item create, upsert and replace goes
//! through [`decode`], so another encoding (the SDKs' Cosmos binary encoding) plugs in here.

use bytes::Bytes;
use http::HeaderMap;
use serde_json::Value;

use crate::data::ApiError;

/// Decodes an item request body by its `content-type` (JSON when absent).
pub(crate) fn decode(headers: &HeaderMap, body: &Bytes) -> Result<Value, ApiError> {
    let _content_type = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    // A binary decoder dispatches here on its content type / leading byte.
    serde_json::from_slice(body).map_err(|e| {
        ApiError::new(
            400,
            "BadRequest",
            format!("the body is not valid JSON: {e}"),
        )
    })
}
