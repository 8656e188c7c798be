//! One operation's attempt loop: route, send, report, retry or stop.

use std::borrow::Cow;
use std::time::Duration;

use bytes::Bytes;
use http::Method;
use meridian_location_store::{
    Endpoint, GiveUpReason, OperationKind, OperationOutcome, RegionName, RetryState, RetryTarget,
    RouteRequest, TransportErrorKind, Tried,
};
use meridian_runtime::Verdict;
use serde_json::Value;
use tokio::time::Instant;

use crate::driver::DriverInner;
use crate::error::{DriverError, Failure};
use crate::fetcher::sub_status;
use crate::request::{Target, signed};
use crate::session::{SESSION_TOKEN, SessionUse};
use crate::transport::{HttpResponse, TransportError};

/// One operation, described once and sent as many times as its retries allow.
#[derive(Debug, Clone)]
pub(crate) struct Operation {
    pub(crate) method: Method,
    pub(crate) target: Target,
    pub(crate) kind: OperationKind,
    pub(crate) idempotent: bool,
    pub(crate) headers: Vec<(&'static str, String)>,
    pub(crate) body: Option<Bytes>,
    /// Regions this operation must not be routed to.
    pub(crate) excluded_regions: Vec<RegionName>,
    /// The container whose session token the operation sends (reads) and keeps.
    pub(crate) session: Option<SessionUse>,
}

/// A successful response.
#[derive(Debug, Clone)]
pub(crate) struct Success {
    pub(crate) status: u16,
    pub(crate) body: Bytes,
    pub(crate) endpoint: Endpoint,
    pub(crate) attempts: u32,
    /// The response headers (continuation, request charge...).
    pub(crate) headers: http::HeaderMap,
}

impl Operation {
    pub(crate) fn read(target: Target) -> Self {
        Self {
            method: Method::GET,
            target,
            kind: OperationKind::Read,
            idempotent: true,
            headers: Vec::new(),
            body: None,
            excluded_regions: Vec::new(),
            session: None,
        }
    }

    pub(crate) fn write(
        method: Method,
        target: Target,
        idempotent: bool,
        body: Option<Bytes>,
    ) -> Self {
        Self {
            method,
            target,
            kind: OperationKind::Write,
            idempotent,
            headers: Vec::new(),
            body,
            excluded_regions: Vec::new(),
            session: None,
        }
    }

    /// Takes part in `container`'s session; `send`: carry its token (reads).
    pub(crate) fn session(mut self, container: String, send: bool) -> Self {
        self.session = Some(SessionUse { container, send });
        self
    }

    pub(crate) fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub(crate) fn excluding(mut self, regions: &[RegionName]) -> Self {
        self.excluded_regions = regions.to_vec();
        self
    }
}

fn outcome_of(
    operation: &Operation,
    result: &Result<HttpResponse, TransportError>,
) -> OperationOutcome {
    let outcome = match result {
        Ok(response) => {
            let mut outcome =
                OperationOutcome::response(operation.kind, response.status, sub_status(response));
            if let Some(ms) = response
                .headers
                .get("x-ms-retry-after-ms")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
            {
                outcome = outcome.with_retry_after(Duration::from_millis(ms));
            }
            outcome
        }
        Err(error) => {
            let (kind, sent) = match error {
                TransportError::Connect(_) => (TransportErrorKind::ConnectionRefused, false),
                TransportError::NotSent(_) => (TransportErrorKind::StaleConnection, false),
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

fn message_of(result: &Result<HttpResponse, TransportError>) -> String {
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

impl DriverInner {
    /// Sends `operation` until it succeeds, gives up, or a retry budget runs out. Each
    /// attempt takes a fresh routing snapshot; its outcome goes to the account's one
    /// [`report`](meridian_runtime::AccountHandle::report) call, which marks, refreshes
    /// and spends the retry budget, and says what to do next. After a failure signal the
    /// retry waits for a topology at least as new as one fetched after the failure.
    pub(crate) async fn execute(&self, operation: &Operation) -> Result<Success, DriverError> {
        if self.runtime.is_shut_down() {
            return Err(DriverError::ShutDown);
        }
        let regions = self
            .handle
            .with_snapshot(|s| s.locations(operation.kind).len());
        let mut retries = RetryState::new(self.retry_policy, regions.max(1));
        let mut tried = Tried::new();
        let mut last: Option<Endpoint> = None;
        let mut regions_tried: Vec<String> = Vec::new();
        let mut target = RetryTarget::NextRegion;
        let mut attempts = 0u32;
        // A read carries the newest session token of its container, so a region that has
        // not caught up answers 404/1002 (and the read moves on) instead of stale data.
        let session_header = operation
            .session
            .as_ref()
            .filter(|s| s.send && operation.kind == OperationKind::Read)
            .and_then(|s| self.sessions.get(&s.container));
        let headers: Cow<'_, [(&'static str, String)]> = match session_header {
            Some(token) => {
                let mut headers = operation.headers.clone();
                headers.push((SESSION_TOKEN, token));
                Cow::Owned(headers)
            }
            None => Cow::Borrowed(&operation.headers),
        };
        let failover_deadline = Instant::now()
            .checked_add(self.retry_policy.failover_budget)
            .unwrap_or_else(far_future);
        loop {
            // One snapshot per attempt: the endpoint, its region and what the retry logic
            // compares against all come from the same topology.
            let (routed, endpoint, region) = self.handle.with_snapshot(|s| {
                let endpoint = match (target, &last) {
                    (RetryTarget::SameRegion, Some(last)) => last.clone(),
                    (RetryTarget::WriteRegion, _) => {
                        let request = RouteRequest {
                            use_write_region: true,
                            preferred_regions: &self.preferred_regions,
                            excluded_regions: &operation.excluded_regions,
                            ..RouteRequest::default()
                        };
                        s.route(operation.kind, &request).clone()
                    }
                    _ => {
                        let request = RouteRequest {
                            avoid: Some(&tried),
                            preferred_regions: &self.preferred_regions,
                            excluded_regions: &operation.excluded_regions,
                            ..RouteRequest::default()
                        };
                        s.route(operation.kind, &request).clone()
                    }
                };
                let region = s
                    .region_of(&endpoint)
                    .map_or_else(|| endpoint.to_string(), ToString::to_string);
                (self.handle.routed_on(s), endpoint, region)
            });
            attempts += 1;
            // Signed once a connection slot is free: a queued operation holds no request.
            let result = match self.transport.admit().await {
                Ok(admission) => {
                    let request = signed(
                        &self.credential.key(),
                        operation.method.clone(),
                        &endpoint,
                        &operation.target,
                        &headers,
                        operation.body.clone(),
                    );
                    self.transport.send(admission, request).await
                }
                Err(error) => Err(error),
            };
            if let Err(TransportError::BodyTooLarge(limit)) = result {
                // The region answered; the answer is too big to accept. Not a regional
                // failure and not worth repeating elsewhere.
                return Err(DriverError::ResponseTooLarge { limit, region });
            }
            let outcome = outcome_of(operation, &result);
            let verdict = self
                .handle
                .report(&endpoint, &outcome, routed, &mut retries);
            if !regions_tried.contains(&region) {
                regions_tried.push(region.clone());
            }
            tried.insert(&endpoint);
            let failure = |result: &Result<HttpResponse, TransportError>| {
                let (status, sub) = match result {
                    Ok(r) => (Some(r.status), sub_status(r)),
                    Err(_) => (None, None),
                };
                Failure {
                    status,
                    sub_status: sub,
                    regions_tried: regions_tried.clone(),
                    attempts,
                    message: message_of(result),
                }
            };
            match verdict {
                Verdict::Done => {
                    return match result {
                        Ok(response) => {
                            if let Some(session) = &operation.session {
                                self.sessions.update(&session.container, &response.headers);
                            }
                            Ok(Success {
                                status: response.status,
                                body: response.body,
                                endpoint,
                                attempts,
                                headers: response.headers,
                            })
                        }
                        Err(_) => Err(DriverError::Exhausted(failure(&result))),
                    };
                }
                Verdict::GiveUp(reason) => {
                    let failure = failure(&result);
                    tracing::debug!(%region, status = ?failure.status, ?reason, "operation gave up");
                    return Err(match reason {
                        GiveUpReason::Unauthorized => DriverError::Unauthorized(failure),
                        GiveUpReason::MaybeApplied => DriverError::MaybeApplied(failure),
                        GiveUpReason::UnexpectedStatus => DriverError::UnexpectedStatus(failure),
                        _ => DriverError::Status(failure),
                    });
                }
                Verdict::Exhausted(class) => {
                    let failure = failure(&result);
                    tracing::warn!(%region, ?class, attempts, "operation retries exhausted");
                    return Err(DriverError::Exhausted(failure));
                }
                Verdict::Retry {
                    target: next,
                    delay,
                    refresh,
                } => {
                    tracing::debug!(%region, ?next, ?delay, status = ?result.as_ref().ok().map(|r| r.status), "retrying");
                    let started_waiting = Instant::now();
                    // Boxed: only a retry pays for this future's space, not every
                    // operation waiting in the pool's queue.
                    Box::pin(self.handle.await_refresh(refresh, Some(failover_deadline))).await;
                    // Time spent waiting for the refresh counts towards the backoff.
                    let remaining = delay.saturating_sub(started_waiting.elapsed());
                    if !remaining.is_zero() {
                        tokio::time::sleep(remaining).await;
                    }
                    if self.runtime.is_shut_down() {
                        return Err(DriverError::ShutDown);
                    }
                    target = next;
                    last = Some(endpoint);
                }
                _ => {
                    return Err(DriverError::Exhausted(failure(&result)));
                }
            }
        }
    }
}

/// A deadline nobody reaches (a `Duration::MAX` budget must not panic).
fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(100 * 365 * 24 * 3_600)
}
