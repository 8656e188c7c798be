//! The offer routes: `GET /offers` (the feed, one page), `GET` and `PUT /offers/{rid}`.

use std::sync::Arc;

use http::Method;
use serde_json::json;

use crate::api_error::ApiError;
use crate::budget::Charge;
use crate::http::{RequestBody, read_json};
use crate::lock::lock;
use crate::state::State;

/// `GET /offers`: every offer, as the service's feed body.
pub(super) fn list(state: &State) -> (u16, Option<serde_json::Value>) {
    let offers = lock(&state.data).offers();
    let count = offers.len();
    (
        200,
        Some(json!({"_rid": "", "Offers": offers, "_count": count})),
    )
}

/// `GET` or `PUT /offers/{rid}`.
pub(super) async fn offer(
    state: &State,
    method: &Method,
    rid: &str,
    body: impl RequestBody,
    charge: &Arc<Charge>,
) -> Result<(u16, Option<serde_json::Value>), ApiError> {
    match *method {
        Method::GET => lock(&state.data).read_offer(rid),
        Method::PUT => {
            let body = read_json(body, charge).await?;
            lock(&state.data).replace_offer(rid, &body)
        }
        _ => Err(ApiError::new(
            405,
            "MethodNotAllowed",
            format!("{method} is not supported on offers"),
        )),
    }
}

/// The throughput a creation request offers: `x-ms-offer-throughput`, or autoscale's
/// `maxThroughput` in `x-ms-cosmos-offer-autopilot-settings`; `None` when it offers none.
pub(super) fn offered(headers: &http::HeaderMap) -> Option<u64> {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(manual) = text("x-ms-offer-throughput").and_then(|v| v.trim().parse().ok()) {
        return Some(manual);
    }
    text("x-ms-cosmos-offer-autopilot-settings")
        .and_then(|v| serde_json::from_str::<serde_json::Value>(v).ok())
        .and_then(|v| v.get("maxThroughput").and_then(serde_json::Value::as_u64))
}
