//! Events → effects: what an operation's outcome means for routing.
//!
//! [`classify`] is a pure function from an [`OperationOutcome`] to an [`Effect`]: what to
//! mark, whether to ask for an urgent account refresh, and whether to retry (where) or
//! give up. Retry *budgets* live in [`RetryState`](crate::RetryState).
//!
//! | outcome | mark | refresh | action |
//! |---|---|---|---|
//! | 2xx | – | – | done |
//! | 403/3 WriteForbidden | write | yes | next region (backend failover) |
//! | 403/1008 DatabaseAccountNotFound | both | yes | next region (backend failover) |
//! | 503 | op's scope | – | next region (safe for any write: not applied) |
//! | 500, other 5xx, 408, 410 (not a partition move) | op's scope | – | next region; non-idempotent write: give up (may be applied) |
//! | 410/1002, 410/1007, 410/1008 (partition moved, split, migration) | – | – | same region |
//! | 404/1002 read session not available | – | – | next region (3+ regions), then the write region |
//! | 429 | – | – | same region after `x-ms-retry-after-ms` |
//! | 401 | – | – | give up (auth) |
//! | other 4xx | – | – | give up |
//! | 1xx, 3xx, outside 100–599 | – | – | give up (unexpected status: redirects are never followed, the service never redirects) |
//! | connection refused, or a fresh connection closed before the request was written (never sent) | both | yes | next region |
//! | stale pooled connection (reused, closed by the server before the request was written) | – | – | same region, safe for any write |
//! | stale pooled connection, request may have been written | – | – | same region; non-idempotent write: give up (may be applied) |
//! | reset, timeout, other transport error | both | yes | next region; non-idempotent write that may have been sent: give up |
//!
//! 410 with sub-status 1002/1007/1008 means the partition moved inside the region; it is
//! not a regional failure, so it is retried in place and marks nothing.
//!
//! A stale pooled connection is for a caller whose HTTP stack tells a reused connection
//! from a new one. The driver never reports it: hyper-util re-sends what a reused
//! connection hands back unsent, so what the driver sees unsent came from a new connection
//! and is reported as connection refused.

use std::time::Duration;

use crate::marks::{MarkReason, MarkScope};
use crate::snapshot::OperationKind;

/// A transport failure, before any status was received.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TransportErrorKind {
    /// The connection was refused, or a *fresh* connection closed before any byte of the
    /// request was written (a draining node, a load balancer with no backend): the
    /// request was never sent, and the endpoint is failing.
    ConnectionRefused,
    /// A *reused* pooled connection turned out closed by the server (an idle timeout):
    /// no sign the endpoint is unwell. With `sent = false` (nothing written) any
    /// operation may repeat it; otherwise only an idempotent one.
    StaleConnection,
    /// The connection was reset.
    ConnectionReset,
    /// No response within the request timeout.
    Timeout,
    /// Any other transport error (TLS, protocol, body cap...).
    Other,
}

/// What happened to one attempt of an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OperationOutcome {
    /// Read or write.
    pub kind: OperationKind,
    /// Whether repeating the operation is harmless (reads, upserts, replaces, deletes).
    pub idempotent: bool,
    /// The response or the transport failure.
    pub result: AttemptResult,
}

/// The response or transport failure of one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptResult {
    /// The service answered.
    Response {
        /// HTTP status.
        status: u16,
        /// `x-ms-substatus`, if present.
        sub_status: Option<u32>,
        /// `x-ms-retry-after-ms`, if present.
        retry_after: Option<Duration>,
    },
    /// No answer.
    Transport {
        /// What failed.
        error: TransportErrorKind,
        /// Whether the request may have reached the service.
        sent: bool,
    },
}

impl OperationOutcome {
    /// A response with `status` and optional sub-status. Reads are idempotent, writes are
    /// not, until [`idempotent`](Self::idempotent) says otherwise.
    pub fn response(kind: OperationKind, status: u16, sub_status: Option<u32>) -> Self {
        Self {
            kind,
            idempotent: kind == OperationKind::Read,
            result: AttemptResult::Response {
                status,
                sub_status,
                retry_after: None,
            },
        }
    }

    /// A transport failure.
    pub fn transport(kind: OperationKind, error: TransportErrorKind, sent: bool) -> Self {
        Self {
            kind,
            idempotent: kind == OperationKind::Read,
            result: AttemptResult::Transport { error, sent },
        }
    }

    /// Sets whether the operation is idempotent.
    pub fn idempotent(mut self, idempotent: bool) -> Self {
        self.idempotent = idempotent;
        self
    }

    /// Sets the server's `x-ms-retry-after-ms` (ignored for non-responses).
    pub fn with_retry_after(mut self, after: Duration) -> Self {
        if let AttemptResult::Response { retry_after, .. } = &mut self.result {
            *retry_after = Some(after);
        }
        self
    }
}

/// Where a retry goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RetryTarget {
    /// The next region in the (refreshed) order, avoiding ones already tried.
    NextRegion,
    /// The same endpoint.
    SameRegion,
    /// The first write region (a read after 404/1002).
    WriteRegion,
}

/// Which budget a retry draws from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RetryClass {
    /// 403/3, 403/1008: the backend moved; immediate first retry, then backoff within a
    /// cumulative time budget.
    BackendFailover,
    /// A regional failure: at most `min(regions + 1,`
    /// [`MAX_CROSS_REGION_RETRIES`](crate::MAX_CROSS_REGION_RETRIES)`)` such retries.
    CrossRegion,
    /// 429: same region after the server's delay, bounded in count and total wait.
    Throttle,
    /// 404/1002: the next region (with three or more), then the write region.
    SessionRead,
    /// 410 partition move: same region, a few times.
    PartitionMove,
}

/// Why an operation stops without a retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum GiveUpReason {
    /// 401: the key or signature was refused. Retrying cannot help.
    Unauthorized,
    /// Another 4xx: the caller's request is the problem (404, 409, 412...).
    ClientError,
    /// A non-idempotent write may have been applied; a blind retry could duplicate it.
    MaybeApplied,
    /// A status the service never answers with (1xx, 3xx, or outside 100–599). Only 2xx
    /// is success; a redirect is not followed, since the service never redirects.
    UnexpectedStatus,
}

/// What to do after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// The response is the answer.
    Done,
    /// Try again.
    Retry {
        /// Where.
        target: RetryTarget,
        /// Which budget it draws from.
        class: RetryClass,
        /// The server-requested delay (429); other classes get theirs from the budget.
        after: Duration,
    },
    /// Stop now.
    GiveUp(GiveUpReason),
}

/// The effects of one outcome on routing state and on the operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Effect {
    /// Continue, retry or stop.
    pub action: Action,
    /// Mark the attempted endpoint unavailable for this scope and reason.
    pub mark: Option<(MarkScope, MarkReason)>,
    /// Ask for an urgent (gated) account refresh.
    pub refresh: bool,
}

/// Sub-status 3 of 403: writes are forbidden in this region.
pub const SUB_STATUS_WRITE_FORBIDDEN: u32 = 3;
/// Sub-status 1008 of 403: the region does not (or no longer) serve the account.
pub const SUB_STATUS_DATABASE_ACCOUNT_NOT_FOUND: u32 = 1008;
/// Sub-status 1002 of 404: the read session is not available in this region.
pub const SUB_STATUS_READ_SESSION_NOT_AVAILABLE: u32 = 1002;

/// Sub-statuses of 410 meaning the partition key range moved (1002 gone, 1007 split or
/// merge completing, 1008 the partition migrated): refresh the routing map, retry there.
pub const PARTITION_MOVE_SUB_STATUSES: [u32; 3] = [1002, 1007, 1008];

/// Maps an outcome to its effect (see the module docs for the table).
pub fn classify(outcome: &OperationOutcome) -> Effect {
    let scope = match outcome.kind {
        OperationKind::Read => MarkScope::Read,
        OperationKind::Write => MarkScope::Write,
    };
    let unsafe_to_repeat = outcome.kind == OperationKind::Write && !outcome.idempotent;
    let next = |class| Action::Retry {
        target: RetryTarget::NextRegion,
        class,
        after: Duration::ZERO,
    };
    let give_up = |reason| Effect {
        action: Action::GiveUp(reason),
        mark: None,
        refresh: false,
    };
    let regional = |reason, maybe_applied: bool| Effect {
        action: if maybe_applied && unsafe_to_repeat {
            Action::GiveUp(GiveUpReason::MaybeApplied)
        } else {
            next(RetryClass::CrossRegion)
        },
        mark: Some((scope, reason)),
        refresh: false,
    };
    match outcome.result {
        AttemptResult::Transport {
            error: TransportErrorKind::StaleConnection,
            sent,
        } => Effect {
            // An idle connection the server closed: the endpoint is fine. Not a regional
            // failure, so no mark and no refresh. A retry is safe only if nothing was
            // written, or the operation is idempotent.
            action: if sent && unsafe_to_repeat {
                Action::GiveUp(GiveUpReason::MaybeApplied)
            } else {
                Action::Retry {
                    target: RetryTarget::SameRegion,
                    class: RetryClass::CrossRegion,
                    after: Duration::ZERO,
                }
            },
            mark: None,
            refresh: false,
        },
        AttemptResult::Transport { error, sent } => {
            let maybe_applied = sent && error != TransportErrorKind::ConnectionRefused;
            Effect {
                refresh: true,
                ..regional_both(regional(MarkReason::ConnectionFailed, maybe_applied), error)
            }
        }
        AttemptResult::Response {
            status,
            sub_status,
            retry_after,
        } => match (status, sub_status) {
            (200..=299, _) => Effect {
                action: Action::Done,
                mark: None,
                refresh: false,
            },
            (403, Some(SUB_STATUS_WRITE_FORBIDDEN)) => Effect {
                action: next(RetryClass::BackendFailover),
                mark: Some((MarkScope::Write, MarkReason::WriteForbidden)),
                refresh: true,
            },
            (403, Some(SUB_STATUS_DATABASE_ACCOUNT_NOT_FOUND)) => Effect {
                action: next(RetryClass::BackendFailover),
                mark: Some((MarkScope::Both, MarkReason::AccountNotFound)),
                refresh: true,
            },
            (401, _) => give_up(GiveUpReason::Unauthorized),
            (404, Some(SUB_STATUS_READ_SESSION_NOT_AVAILABLE)) => Effect {
                action: Action::Retry {
                    target: RetryTarget::WriteRegion,
                    class: RetryClass::SessionRead,
                    after: Duration::ZERO,
                },
                mark: None,
                refresh: false,
            },
            (429, _) => Effect {
                action: Action::Retry {
                    target: RetryTarget::SameRegion,
                    class: RetryClass::Throttle,
                    after: retry_after.unwrap_or(Duration::ZERO),
                },
                mark: None,
                refresh: false,
            },
            (410, Some(sub)) if PARTITION_MOVE_SUB_STATUSES.contains(&sub) => Effect {
                action: Action::Retry {
                    target: RetryTarget::SameRegion,
                    class: RetryClass::PartitionMove,
                    after: Duration::ZERO,
                },
                mark: None,
                refresh: false,
            },
            (503, _) => regional(MarkReason::ServiceUnavailable, false),
            (408, _) => regional(MarkReason::Timeout, true),
            (410, _) => regional(MarkReason::Gone, true),
            (500..=599, _) => regional(MarkReason::ServerError, true),
            (400..=499, _) => give_up(GiveUpReason::ClientError),
            _ => give_up(GiveUpReason::UnexpectedStatus),
        },
    }
}

/// Transport failures make the whole region suspect: mark both scopes, with the reason
/// matching the failure.
fn regional_both(effect: Effect, error: TransportErrorKind) -> Effect {
    let reason = match error {
        TransportErrorKind::Timeout => MarkReason::Timeout,
        _ => MarkReason::ConnectionFailed,
    };
    Effect {
        mark: Some((MarkScope::Both, reason)),
        ..effect
    }
}
