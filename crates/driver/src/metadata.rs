//! What every response and failure says about how it was served.

use std::sync::Arc;

use http::{HeaderMap, HeaderName};

use crate::session::SESSION_TOKEN_HEADER;
use meridian_location_store::{Endpoint, RegionName};

/// How an operation was served: charge, ids, tokens, where and in how many attempts.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct ResponseMetadata {
    /// `x-ms-request-charge` of the last response (request units), 0 if absent.
    pub request_charge: f64,
    /// The `x-ms-activity-id` the driver sent with the last attempt (the service logs
    /// it; the operation's tracing span carries it too). Quote it when asking the
    /// service about a request.
    pub activity_id: Option<String>,
    /// `x-ms-session-token` of the last response.
    pub session_token: Option<String>,
    /// `etag` of the last response (for `If-Match` / `If-None-Match`).
    pub etag: Option<String>,
    /// The region of the last attempt (on success: the region that served), if the
    /// topology names the endpoint.
    pub region: Option<RegionName>,
    /// The endpoint of the last attempt.
    pub endpoint: Option<Endpoint>,
    /// Every region tried, in order, each once.
    pub regions_tried: Vec<RegionName>,
    /// Requests sent, retries and hedges included.
    pub attempts: u32,
    /// Whether a hedge ran: a second request went to another region because the first
    /// had no answer within the hedge threshold. [`region`](Self::region) is the one
    /// whose answer was taken.
    pub hedged: bool,
    /// The partition key range an item operation addressed, as the driver resolved it
    /// from the container's routing map before sending (re-resolved after a split or
    /// merge); `None` for other operations, or when no map could be had. Not sent: the
    /// service routes point operations by partition key.
    pub partition_key_range_id: Option<Arc<str>>,
}

/// Response headers read on every operation, as names ready to look up (no parse per
/// lookup).
const REQUEST_CHARGE: HeaderName = HeaderName::from_static("x-ms-request-charge");

fn text(headers: &HeaderMap, name: &HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}

impl ResponseMetadata {
    /// Takes the per-response fields from `headers`.
    pub(crate) fn record_response(&mut self, headers: &HeaderMap) {
        self.request_charge = headers
            .get(&REQUEST_CHARGE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|c| c.is_finite() && *c >= 0.0)
            .unwrap_or(0.0);
        self.session_token = text(headers, &SESSION_TOKEN_HEADER);
        self.etag = text(headers, &http::header::ETAG);
    }

    /// Starts an attempt at `endpoint` in `region`, sent with `activity_id`.
    pub(crate) fn record_attempt(
        &mut self,
        endpoint: &Endpoint,
        region: Option<RegionName>,
        activity_id: String,
    ) {
        self.attempts += 1;
        self.endpoint = Some(endpoint.clone());
        // No id when the attempt never got a connection slot (nothing was sent).
        self.activity_id = Some(activity_id).filter(|id| !id.is_empty());
        self.request_charge = 0.0;
        self.session_token = None;
        self.etag = None;
        if let Some(region) = &region
            && !self.regions_tried.contains(region)
        {
            self.regions_tried.push(region.clone());
        }
        self.region = region;
    }

    /// The answer taken came from `endpoint` in `region`, sent with `activity_id`
    /// (after a hedge, whichever of the two requests won).
    pub(crate) fn answered_by(
        &mut self,
        endpoint: &Endpoint,
        region: Option<RegionName>,
        activity_id: Option<String>,
    ) {
        self.endpoint = Some(endpoint.clone());
        self.region = region;
        self.activity_id = activity_id;
    }
}
