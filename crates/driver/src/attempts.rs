//! One operation's attempt loop: route, send, report, retry or stop.

use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use meridian_location_store::{
    Endpoint, GiveUpReason, OperationKind, RetryState, RetryTarget, RouteRequest, Tried,
    saturating_add,
};
use meridian_runtime::Verdict;
use tokio::time::Instant;
use tracing::Instrument;

use crate::driver::DriverInner;
use crate::error::{DriverError, Failure};
use crate::fetcher::sub_status;
use crate::hedge::{Attempt, label_of};
use crate::operation::{Operation, Success};
use crate::outcome::{message_of, outcome_of};
use crate::partition_route::PartitionRoute;
use crate::progress::Progress;
use crate::request::{Unsendable, activity_id_of, signed};
use crate::shared::Admission;
use crate::status::Status;
use crate::transport::TransportError;

impl DriverInner {
    /// Sends `operation` until it succeeds, gives up, a retry budget runs out or its
    /// deadline passes. Each attempt takes a fresh routing snapshot; its outcome goes to
    /// the account's one [`report`](crate::AccountHandle::report) call, which
    /// marks, refreshes and spends the retry budget, and says what to do next. After a
    /// failure signal the retry waits for a topology at least as new as one fetched
    /// after the failure. Runs in a `meridian.operation` span, the wait for a pool slot
    /// included.
    ///
    /// Cancellation-safe: dropping the future drops the attempt in flight (its pooled
    /// connection is discarded) and leaves nothing behind; a dropped write may have
    /// been applied.
    pub(crate) async fn execute(&self, operation: &Operation) -> Result<Success, DriverError> {
        if self.runtime.is_shut_down() {
            return Err(DriverError::Shutdown);
        }
        let span = tracing::debug_span!(
            "meridian.operation",
            account = %self.handle.endpoint(),
            container = operation.session.as_ref().map_or("", |s| &*s.container),
            kind = ?operation.kind,
            method = %operation.method,
            attempt = tracing::field::Empty,
            region = tracing::field::Empty,
            activity_id = tracing::field::Empty,
            status = tracing::field::Empty,
            range = operation.range_id().unwrap_or(""),
        );
        let deadline = operation.timeout.map(|timeout| (after(timeout), timeout));
        // A free slot is taken at once. Queued behind a busy pool, an operation holds only
        // a small future: the attempt loop's state (1.9 KiB) is allocated once a
        // slot is free, so a thousand queued operations cost a thousand slot waits.
        let admission = match self.transport.try_admit() {
            Some(admission) => Ok(admission),
            None => Box::pin(self.wait_for_slot(deadline, &span)).await?,
        };
        Box::pin(self.admitted(operation, deadline, admission, span)).await
    }

    /// Waits for a slot of the pool (within the deadline, if any).
    async fn wait_for_slot(
        &self,
        deadline: Option<(Instant, Duration)>,
        span: &tracing::Span,
    ) -> Result<Result<Admission<'_>, TransportError>, DriverError> {
        let admit = self.transport.admit().instrument(span.clone());
        match deadline {
            None => Ok(admit.await),
            Some((at, timeout)) => tokio::time::timeout_at(at, admit)
                .await
                .map_err(|_| Progress::default().deadline_exceeded(timeout)),
        }
    }

    /// [`execute`](Self::execute) once the first attempt's slot wait is over.
    async fn admitted(
        &self,
        operation: &Operation,
        deadline: Option<(Instant, Duration)>,
        admission: Result<Admission<'_>, TransportError>,
        span: tracing::Span,
    ) -> Result<Success, DriverError> {
        let mut progress = Progress::default();
        let attempts = self
            .attempts(operation, deadline, Some(admission), &mut progress)
            .instrument(span);
        let Some((at, timeout)) = deadline else {
            return attempts.await;
        };
        // The whole attempt loop is under the deadline: a request in flight, a refresh
        // wait or a backoff is cut short when it passes.
        let result = tokio::time::timeout_at(at, attempts).await;
        result.unwrap_or_else(|_| {
            let meta = &progress.meta;
            let region = meta.region.as_ref().or(meta.regions_tried.last());
            let region = region.map_or_else(String::new, ToString::to_string);
            let account = self.handle.endpoint().as_str();
            self.failures
                .failed(account, &region, progress.status, "the deadline passed");
            Err(progress.deadline_exceeded(timeout))
        })
    }

    async fn attempts(
        &self,
        operation: &Operation,
        deadline: Option<(Instant, Duration)>,
        mut first: Option<Result<Admission<'_>, TransportError>>,
        progress: &mut Progress,
    ) -> Result<Success, DriverError> {
        let regions = self
            .handle
            .with_snapshot(|s| s.locations(operation.kind).len());
        let mut retries = RetryState::new(self.retry_policy, regions.max(1));
        // The partition key range this operation addresses is known before its first
        // attempt (`operation.partition`); re-resolved when it turns out to be gone.
        let mut rerouted = None;
        let mut tried = Tried::new();
        let mut last: Option<Endpoint> = None;
        let mut target = RetryTarget::NextRegion;
        // A read carries the newest session token of its container, so a region that has
        // not caught up answers 404/1002 (and the read moves on) instead of stale data.
        // A token the caller passed wins.
        let session_header = operation.session_token.clone().or_else(|| {
            operation
                .session
                .as_ref()
                .filter(|s| s.send && operation.kind == OperationKind::Read)
                .and_then(|s| self.sessions.get(&s.container))
        });
        // The container's own token sent: an answer echoing it has nothing new.
        let sent_held = operation.session_token.is_none() && session_header.is_some();
        // The failover budget bounds the waits for refreshes; it starts at the first
        // failover signal, not at the operation's start (an operation throttled for a
        // while still waits for the refresh its first 403/3 starts).
        let mut failover_deadline: Option<Instant> = None;
        let span = tracing::Span::current();
        loop {
            // One snapshot per attempt: the endpoint, its region and what the retry logic
            // compares against all come from the same topology.
            // `steer` lives in this block only: the loop's state keeps no room for it.
            let (mut routed, mut endpoint, mut region) = {
                let steer = self.steer(in_force(&rerouted, operation), operation);
                self.handle.with_snapshot(|s| {
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
                        _ => self.route_next(s, operation, &tried, steer.as_ref()),
                    };
                    let region = s.region_of(&endpoint).cloned();
                    (self.handle.routed_on(s), endpoint, region)
                })
            };
            // Signed once a connection slot is free: a queued operation holds no request.
            let admission = match first.take() {
                Some(admission) => admission,
                None => self.transport.admit().await,
            };
            let result = match admission {
                Ok(admission) => {
                    // The signer and the request live in this block only, so the
                    // operation's state keeps no room for them while it waits.
                    let send = {
                        // After admission: a token is checked for expiry as late as
                        // possible.
                        let signer = match self.credential.signer_now() {
                            Some(signer) => signer,
                            // A token to fetch first (boxed: rare, and large).
                            None => Box::pin(self.credential.signer())
                                .await
                                .map_err(DriverError::Credential)?,
                        };
                        let request = signed(
                            &signer,
                            operation.method.clone(),
                            &endpoint,
                            &operation.target,
                            &operation.headers,
                            session_header.as_deref(),
                            operation.body.clone(),
                        )
                        .map_err(|Unsendable(header)| DriverError::InvalidHeader { header })?;
                        progress.meta.record_attempt(
                            &endpoint,
                            region.clone(),
                            activity_id_of(&request.headers),
                        );
                        self.transport.send(admission, request)
                    };
                    if !span.is_disabled() {
                        span.record("attempt", progress.meta.attempts);
                        span.record("region", label_of(region.as_ref(), &endpoint).as_str());
                        if let Some(id) = &progress.meta.activity_id {
                            span.record("activity_id", id.as_str());
                        }
                    }
                    let mut send = pin!(send);
                    let threshold = self.hedge_threshold(operation);
                    let answered = match threshold {
                        None => Ok(send.as_mut().await),
                        Some(threshold) => tokio::select! {
                            biased;
                            result = send.as_mut() => Ok(result),
                            () = tokio::time::sleep(threshold) => Err(threshold),
                        },
                    };
                    match answered {
                        Ok(result) => result,
                        // No answer within the threshold: hedged (rare; boxed).
                        Err(threshold) => {
                            let primary = Attempt {
                                endpoint: endpoint.clone(),
                                region: region.clone(),
                                routed,
                            };
                            let (answered, result) = Box::pin(self.hedge(
                                operation,
                                session_header.as_deref(),
                                primary,
                                send.as_mut(),
                                threshold,
                                in_force(&rerouted, operation),
                                &mut tried,
                                &mut retries,
                                &mut progress.meta,
                            ))
                            .await;
                            if answered.endpoint != endpoint && !span.is_disabled() {
                                let label = label_of(answered.region.as_ref(), &answered.endpoint);
                                span.record("region", label.as_str());
                            }
                            (endpoint, routed) = (answered.endpoint, answered.routed);
                            region = answered.region;
                            result
                        }
                    }
                }
                Err(error) => {
                    progress
                        .meta
                        .record_attempt(&endpoint, region.clone(), String::new());
                    Err(error)
                }
            };
            if let Err(TransportError::BodyTooLarge(limit)) = result {
                // The region answered; the answer is too big to accept. Not a regional
                // failure and not worth repeating elsewhere.
                return Err(DriverError::ResponseTooLarge {
                    limit,
                    region: label_of(region.as_ref(), &endpoint),
                });
            }
            progress.status = result
                .as_ref()
                .ok()
                .map(|r| Status::new(r.status, sub_status(r)));
            if let Ok(response) = &result {
                progress.meta.record_response(&response.headers);
                span.record("status", response.status);
            }
            let outcome = outcome_of(operation, &result);
            let on = in_force(&rerouted, operation);
            let verdict = self.report_attempt(on, &endpoint, &outcome, routed, &mut retries);
            let failure = |progress: &Progress| Failure {
                status: progress.status,
                message: message_of(&result),
                metadata: Box::new(progress.meta.clone()),
            };
            if let Some(route) = in_force(&rerouted, operation) {
                let served = result.as_ref().ok().map(|r| &r.headers);
                if Self::range_moved(route, progress.status, served) {
                    // Boxed: only an operation whose range moved carries the refresh.
                    let deadline = deadline.map(|(at, _)| at);
                    let excluded = &operation.excluded_regions;
                    let moved = Box::pin(self.reroute(route, excluded, deadline)).await;
                    rerouted = moved.or(rerouted);
                }
            }
            let route = in_force(&rerouted, operation);
            progress.meta.partition_key_range_id = route.map(|p| Arc::clone(&p.range_id));
            match verdict {
                Verdict::Done => {
                    return match result {
                        Ok(response) => {
                            if let Some(session) = &operation.session {
                                let sent = session_header.as_deref().filter(|_| sent_held);
                                let headers = &response.headers;
                                self.sessions.update(&session.container, headers, sent);
                            }
                            Ok(Success {
                                status: response.status,
                                body: response.body,
                                endpoint,
                                attempts: progress.meta.attempts,
                                // The operation ends here: its metadata moves, not copied.
                                metadata: std::mem::take(&mut progress.meta),
                                headers: response.headers,
                            })
                        }
                        Err(_) => Err(DriverError::Exhausted(failure(progress))),
                    };
                }
                Verdict::GiveUp(reason) => {
                    let label = label_of(region.as_ref(), &endpoint);
                    let failure = failure(progress);
                    tracing::debug!(region = %label, status = ?failure.status, ?reason, "operation gave up");
                    if !matches!(reason, GiveUpReason::ClientError) {
                        let account = self.handle.endpoint().as_str();
                        self.failures
                            .failed(account, &label, failure.status, &failure.message);
                    }
                    return Err(match reason {
                        GiveUpReason::Unauthorized => DriverError::Unauthorized(failure),
                        GiveUpReason::MaybeApplied => DriverError::MaybeApplied(failure),
                        GiveUpReason::UnexpectedStatus => DriverError::UnexpectedStatus(failure),
                        _ => DriverError::Status(failure),
                    });
                }
                Verdict::Exhausted(class) => {
                    let label = label_of(region.as_ref(), &endpoint);
                    let failure = failure(progress);
                    tracing::debug!(region = %label, ?class, attempts = failure.metadata.attempts, "operation retries exhausted");
                    let account = self.handle.endpoint().as_str();
                    self.failures
                        .failed(account, &label, failure.status, &failure.message);
                    return Err(DriverError::Exhausted(failure));
                }
                Verdict::Retry {
                    target: next,
                    delay,
                    refresh,
                } => {
                    tried.insert(&endpoint);
                    tracing::debug!(region = %label_of(region.as_ref(), &endpoint), ?next, ?delay, status = ?progress.status, "retrying");
                    let started_waiting = Instant::now();
                    // Boxed: only a retry pays for this future's space, not every
                    // operation waiting in the pool's queue.
                    if refresh.is_needed() {
                        let until = *failover_deadline.get_or_insert_with(|| {
                            let until = after(self.retry_policy.failover_budget);
                            deadline.map_or(until, |(deadline, _)| until.min(deadline))
                        });
                        Box::pin(self.handle.await_refresh(refresh, Some(until))).await;
                    }
                    // Time spent waiting for the refresh counts towards the backoff.
                    let remaining = delay.saturating_sub(started_waiting.elapsed());
                    if let Some((deadline, timeout)) = deadline {
                        // A backoff that would end past the deadline is not waited out.
                        if Instant::now()
                            .checked_add(remaining)
                            .is_none_or(|end| end >= deadline)
                        {
                            return Err(progress.deadline_exceeded(timeout));
                        }
                    }
                    if !remaining.is_zero() {
                        tokio::time::sleep(remaining).await;
                    }
                    if self.runtime.is_shut_down() {
                        return Err(DriverError::Shutdown);
                    }
                    target = next;
                    last = Some(endpoint);
                }
                _ => {
                    return Err(DriverError::Exhausted(failure(progress)));
                }
            }
        }
    }
}

/// The range an operation addresses now: the one it was re-resolved to after its range
/// moved, else the one resolved before its first attempt.
fn in_force<'a>(
    rerouted: &'a Option<PartitionRoute>,
    operation: &'a Operation,
) -> Option<&'a PartitionRoute> {
    rerouted.as_ref().or(operation.partition.as_ref())
}

/// `delay` from now, saturating (a `Duration::MAX` budget must not panic).
fn after(delay: Duration) -> Instant {
    Instant::from_std(saturating_add(Instant::now().into_std(), delay))
}
