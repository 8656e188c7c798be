//! Hedged attempts: an attempt with no answer after the hedge threshold sends the same
//! request to the next region; the first good answer wins and the other request is
//! dropped (cancelled: its connection is discarded), never reported.
//!
//! At most one hedge per attempt, so at most one extra request in flight per operation.
//! A request that fails as a regional failure (503, timeout, refused...) while the other
//! is still in flight is reported as any failed attempt is (it marks its region) and the
//! other one's answer is awaited; a good answer (anything that is not a regional
//! failure: 2xx, 404, 409, 429...) wins at once. A primary outrun by a good answer counts
//! against its partition key range in its region (the circuit breaker's timeout), so a
//! range hanging in one region is routed around after a few hedges instead of costing the
//! threshold on every read.

use std::future::Future;
use std::pin::{Pin, pin};
use std::time::Duration;

use meridian_location_store::{Endpoint, OperationKind, RegionName, RetryState, Tried, classify};
use meridian_runtime::RoutedOn;

use crate::driver::DriverInner;
use crate::metadata::ResponseMetadata;
use crate::operation::Operation;
use crate::outcome::outcome_of;
use crate::partition_route::PartitionRoute;
use crate::request::signed;
use crate::transport::{HttpResponse, TransportError};

/// Where an attempt went: its endpoint, the region the topology names for it, and what
/// it was routed on.
#[derive(Debug, Clone)]
pub(crate) struct Attempt {
    pub(crate) endpoint: Endpoint,
    pub(crate) region: Option<RegionName>,
    pub(crate) routed: RoutedOn,
}

/// How logs and errors name where an attempt went: its region, or its endpoint when the
/// topology names none. Made only when a log or error needs it.
pub(crate) fn label_of(region: Option<&RegionName>, endpoint: &Endpoint) -> String {
    region.map_or_else(|| endpoint.to_string(), ToString::to_string)
}

/// The attempt whose answer was taken, and that answer.
pub(crate) type Answered = (Attempt, Result<HttpResponse, TransportError>);

/// Whether `result` ends the race: anything but a regional failure (one that would mark
/// its endpoint). An over-large body is final too: the region answered.
fn is_final(operation: &Operation, result: &Result<HttpResponse, TransportError>) -> bool {
    if matches!(result, Err(TransportError::BodyTooLarge(_))) {
        return true;
    }
    classify(&outcome_of(operation, result)).mark.is_none()
}

impl DriverInner {
    /// The hedge threshold of `operation`, if it may be hedged: reads when hedging is on;
    /// idempotent writes only on a multi-write account with writes opted in.
    pub(crate) fn hedge_threshold(&self, operation: &Operation) -> Option<Duration> {
        let strategy = operation.availability.unwrap_or(self.availability);
        let threshold = strategy.threshold()?;
        let hedged = match operation.kind {
            OperationKind::Read => true,
            OperationKind::Write => {
                strategy.hedges_writes()
                    && operation.idempotent
                    && self.handle.with_snapshot(|s| s.is_multi_write())
            }
        };
        hedged.then_some(threshold)
    }

    /// After `threshold` with `send` (the request to `primary`) unanswered: sends the same
    /// request to the next region not yet tried and takes the first good answer. Returns
    /// the attempt answered and its result. The attempt loop waits out the threshold
    /// itself and calls this only then (boxed), so an operation carries none of this
    /// state, and clones nothing, until its hedge is due.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn hedge(
        &self,
        operation: &Operation,
        session_token: Option<&str>,
        primary: Attempt,
        mut send: Pin<&mut impl Future<Output = Result<HttpResponse, TransportError>>>,
        threshold: Duration,
        route: Option<&PartitionRoute>,
        tried: &mut Tried,
        retries: &mut RetryState,
        meta: &mut ResponseMetadata,
    ) -> Answered {
        tried.insert(&primary.endpoint);
        let second = self.handle.with_snapshot(|s| {
            // Not steered by partition marks (a known gap, ARCHITECTURE).
            let endpoint = self.route_next(s, operation, tried, None);
            Attempt {
                region: s.region_of(&endpoint).cloned(),
                routed: self.handle.routed_on(s),
                endpoint,
            }
        });
        if second.endpoint == primary.endpoint {
            // No other region to ask.
            return (primary, send.await);
        }
        let Ok(signer) = self.credential.signer().await else {
            // No token to sign a second request with: the first one stands alone.
            return (primary, send.await);
        };
        let Ok(request) = signed(
            &signer,
            operation.method.clone(),
            &second.endpoint,
            &operation.target,
            &operation.headers,
            session_token,
            operation.body.clone(),
        ) else {
            // The same headers signed for the first request: cannot happen; no hedge.
            return (primary, send.await);
        };
        let primary_activity = meta.activity_id.clone();
        let hedge_activity =
            Some(crate::request::activity_id_of(&request.headers)).filter(|id| !id.is_empty());
        meta.hedged = true;
        meta.record_attempt(
            &second.endpoint,
            second.region.clone(),
            hedge_activity.clone().unwrap_or_default(),
        );
        let name = |a: &Attempt| label_of(a.region.as_ref(), &a.endpoint);
        tracing::debug!(from = %name(&primary), to = %name(&second), ?threshold, "hedging");
        let hedge = pin!(async {
            let admission = self.transport.admit().await?;
            self.transport.send(admission, request).await
        });
        let mut hedge = hedge;
        let (mut primary_won, mut result) = tokio::select! {
            result = &mut send => (true, result),
            result = &mut hedge => (false, result),
        };
        if !primary_won
            && is_final(operation, &result)
            && let Some(route) = route
        {
            // Outrun: the primary is still in flight and will be cancelled, so its own
            // timeout never counts; the range's circuit breaker counts it instead.
            self.handle.report_partition_outrun(
                &route.partition_id(),
                &primary.endpoint,
                operation.kind,
            );
        }
        if !is_final(operation, &result) {
            // A regional failure while the other request is in flight: reported like any
            // failed attempt (it marks its region); the other request decides.
            let failed = if primary_won { &primary } else { &second };
            let outcome = outcome_of(operation, &result);
            let _ = self
                .handle
                .report(&failed.endpoint, &outcome, failed.routed, retries);
            tried.insert(&failed.endpoint);
            result = if primary_won { hedge.await } else { send.await };
            primary_won = !primary_won;
        }
        // The loser, if still in flight, is dropped with this frame: cancelled, unreported.
        let (winner, activity) = if primary_won {
            (primary, primary_activity)
        } else {
            (second, hedge_activity)
        };
        meta.answered_by(&winner.endpoint, winner.region.clone(), activity);
        (winner, result)
    }
}
