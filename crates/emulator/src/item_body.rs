//! The one place an item body becomes JSON: every item create, upsert and replace goes
//! through [`decode`]: JSON text, or the Cosmos binary encoding the official Rust SDK sends
//! by default (recognised by its leading byte, whatever the `content-type` says).

use bytes::Bytes;
use http::HeaderMap;
use serde_json::Value;

use crate::api_error::ApiError;
use crate::budget::Charge;

/// Decodes an item request body (the headers are not needed: the SDK labels binary
/// bodies `application/json`, and the `0x80` preamble tells them apart).
/// The decoded value is charged to the request at its decoded size.
pub(crate) fn decode(
    _headers: &HeaderMap,
    body: &Bytes,
    charge: &Charge,
) -> Result<Value, ApiError> {
    crate::http::parse_json(body, charge)
}
