//! What one attempt's result means: the outcome reported to the runtime, and the
//! message a failure carries.

use std::time::Duration;

use meridian_location_store::{OperationOutcome, TransportErrorKind};
use serde_json::Value;

use crate::fetcher::sub_status;
use crate::operation::Operation;
use crate::transport::{HttpResponse, TransportError};

pub(crate) fn outcome_of(
    operation: &Operation,
    result: &Result<HttpResponse, TransportError>,
) -> OperationOutcome {
    let outcome = match result {
        Ok(response) => {
            let mut outcome =
                OperationOutcome::response(operation.kind, response.status, sub_status(response));
            const RETRY_AFTER_MS: http::HeaderName =
                http::HeaderName::from_static("x-ms-retry-after-ms");
            if let Some(ms) = response
                .headers
                .get(&RETRY_AFTER_MS)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
            {
                outcome = outcome.with_retry_after(Duration::from_millis(ms));
            }
            outcome
        }
        Err(error) => {
            let (kind, sent) = match error {
                // Refused, or a new connection closed before it took the request: a
                // region failure. A stale *pooled* connection never arrives here unsent:
                // the transport re-sends what a reused connection hands back unsent
                // (`Connections::resend`; one that took the request before seeing the
                // close is `Broken`).
                TransportError::Connect(_) => (TransportErrorKind::ConnectionRefused, false),
                TransportError::Invalid(_) => (TransportErrorKind::Other, false),
                TransportError::Timeout(_) => (TransportErrorKind::Timeout, true),
                TransportError::Broken(_) => (TransportErrorKind::ConnectionReset, true),
                TransportError::BodyTooLarge(_) => (TransportErrorKind::Other, true),
            };
            OperationOutcome::transport(operation.kind, kind, sent)
        }
    };
    outcome.idempotent(operation.idempotent)
}

pub(crate) fn message_of(result: &Result<HttpResponse, TransportError>) -> String {
    match result {
        Ok(response) if (300..400).contains(&response.status) => format!(
            "HTTP {} is a redirect; not followed (the service never redirects)",
            response.status
        ),
        Ok(response) if !(200..600).contains(&response.status) => {
            format!(
                "HTTP {} is not a final answer the service gives",
                response.status
            )
        }
        Ok(response) => serde_json::from_slice::<Value>(&response.body)
            .ok()
            .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_string))
            .unwrap_or_else(|| format!("HTTP {}", response.status)),
        Err(error) => error.to_string(),
    }
}
