//! The event → effect matrix and the retry budgets.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use meridian_location_store::*;

use OperationKind::{Read, Write};

/// A retry of `class` to `target` after `after`.
fn retry(target: RetryTarget, class: RetryClass, after: Duration) -> Action {
    Action::Retry {
        target,
        class,
        after,
    }
}

/// An immediate retry of `class` in the next region.
fn next_region(class: RetryClass) -> Action {
    retry(RetryTarget::NextRegion, class, Duration::ZERO)
}

fn effect(action: Action, mark: Option<(MarkScope, MarkReason)>, refresh: bool) -> Effect {
    Effect {
        action,
        mark,
        refresh,
    }
}

fn response(kind: OperationKind, status: u16, sub: Option<u32>) -> OperationOutcome {
    OperationOutcome::response(kind, status, sub)
}

fn transport(kind: OperationKind, error: TransportErrorKind, sent: bool) -> OperationOutcome {
    OperationOutcome::transport(kind, error, sent)
}

#[test]
fn event_effect_matrix() {
    use MarkReason as M;
    use MarkScope as S;
    use RetryClass as C;
    use RetryTarget as R;
    use TransportErrorKind as T;
    let cross = next_region(C::CrossRegion);
    let failover = next_region(C::BackendFailover);
    let maybe_applied = Action::GiveUp(GiveUpReason::MaybeApplied);
    let unexpected = Action::GiveUp(GiveUpReason::UnexpectedStatus);
    let moved = retry(R::SameRegion, C::PartitionMove, Duration::ZERO);
    let session = retry(R::WriteRegion, C::SessionRead, Duration::ZERO);
    let throttled = retry(R::SameRegion, C::Throttle, Duration::from_millis(250));
    let same_region = retry(R::SameRegion, C::CrossRegion, Duration::ZERO);
    let create = |o: OperationOutcome| o.idempotent(false);
    let upsert = |o: OperationOutcome| o.idempotent(true);

    let rows: Vec<(&str, OperationOutcome, Effect)> = vec![
        (
            "200 read",
            response(Read, 200, None),
            effect(Action::Done, None, false),
        ),
        (
            "201 create",
            create(response(Write, 201, None)),
            effect(Action::Done, None, false),
        ),
        (
            "304",
            response(Read, 304, None),
            effect(unexpected, None, false),
        ),
        (
            "302 upsert",
            upsert(response(Write, 302, None)),
            effect(unexpected, None, false),
        ),
        (
            "101 read",
            response(Read, 101, None),
            effect(unexpected, None, false),
        ),
        (
            "600 read",
            response(Read, 600, None),
            effect(unexpected, None, false),
        ),
        (
            "403/3 write",
            create(response(Write, 403, Some(3))),
            effect(failover, Some((S::Write, M::WriteForbidden)), true),
        ),
        (
            "403/1008 read",
            response(Read, 403, Some(1008)),
            effect(failover, Some((S::Both, M::AccountNotFound)), true),
        ),
        (
            "403/1008 create",
            create(response(Write, 403, Some(1008))),
            effect(failover, Some((S::Both, M::AccountNotFound)), true),
        ),
        (
            "403 other",
            response(Read, 403, None),
            effect(Action::GiveUp(GiveUpReason::ClientError), None, false),
        ),
        (
            "503 read",
            response(Read, 503, None),
            effect(cross, Some((S::Read, M::ServiceUnavailable)), false),
        ),
        (
            "503 create: not applied, safe",
            create(response(Write, 503, None)),
            effect(cross, Some((S::Write, M::ServiceUnavailable)), true),
        ),
        (
            "500 read",
            response(Read, 500, None),
            effect(cross, Some((S::Read, M::ServerError)), false),
        ),
        (
            "500 create",
            create(response(Write, 500, None)),
            effect(maybe_applied, Some((S::Write, M::ServerError)), true),
        ),
        (
            "500 upsert",
            upsert(response(Write, 500, None)),
            effect(cross, Some((S::Write, M::ServerError)), true),
        ),
        (
            "502 read",
            response(Read, 502, None),
            effect(cross, Some((S::Read, M::ServerError)), false),
        ),
        (
            "408 read",
            response(Read, 408, None),
            effect(cross, Some((S::Read, M::Timeout)), false),
        ),
        (
            "408 create",
            create(response(Write, 408, None)),
            effect(maybe_applied, Some((S::Write, M::Timeout)), true),
        ),
        (
            "410 read",
            response(Read, 410, None),
            effect(cross, Some((S::Read, M::Gone)), false),
        ),
        (
            "410 create",
            create(response(Write, 410, None)),
            effect(maybe_applied, Some((S::Write, M::Gone)), true),
        ),
        (
            "410/1002 partition moved",
            response(Read, 410, Some(1002)),
            effect(moved, None, false),
        ),
        (
            "410/1007 split",
            create(response(Write, 410, Some(1007))),
            effect(moved, None, false),
        ),
        (
            "404/1002 session",
            response(Read, 404, Some(1002)),
            effect(session, None, false),
        ),
        (
            "429 with retry-after",
            response(Read, 429, Some(3200)).with_retry_after(Duration::from_millis(250)),
            effect(throttled, None, false),
        ),
        (
            "401",
            response(Read, 401, None),
            effect(Action::GiveUp(GiveUpReason::Unauthorized), None, false),
        ),
        (
            "404",
            response(Read, 404, None),
            effect(Action::GiveUp(GiveUpReason::ClientError), None, false),
        ),
        (
            "409",
            create(response(Write, 409, None)),
            effect(Action::GiveUp(GiveUpReason::ClientError), None, false),
        ),
        (
            "412",
            upsert(response(Write, 412, None)),
            effect(Action::GiveUp(GiveUpReason::ClientError), None, false),
        ),
        (
            "refused read",
            transport(Read, T::ConnectionRefused, false),
            effect(cross, Some((S::Both, M::ConnectionFailed)), true),
        ),
        (
            "refused create: never sent, safe",
            create(transport(Write, T::ConnectionRefused, true)),
            effect(cross, Some((S::Both, M::ConnectionFailed)), true),
        ),
        (
            "reset read",
            transport(Read, T::ConnectionReset, true),
            effect(cross, Some((S::Both, M::ConnectionFailed)), true),
        ),
        (
            "reset create after send",
            create(transport(Write, T::ConnectionReset, true)),
            effect(maybe_applied, Some((S::Both, M::ConnectionFailed)), true),
        ),
        (
            "reset create before send",
            create(transport(Write, T::ConnectionReset, false)),
            effect(cross, Some((S::Both, M::ConnectionFailed)), true),
        ),
        (
            "timeout create",
            create(transport(Write, T::Timeout, true)),
            effect(maybe_applied, Some((S::Both, M::Timeout)), true),
        ),
        (
            "timeout upsert",
            upsert(transport(Write, T::Timeout, true)),
            effect(cross, Some((S::Both, M::Timeout)), true),
        ),
        (
            "other read",
            transport(Read, T::Other, true),
            effect(cross, Some((S::Both, M::ConnectionFailed)), true),
        ),
        (
            "stale pooled connection, create: same region, no mark, no refresh",
            create(transport(Write, T::StaleConnection, false)),
            effect(same_region, None, false),
        ),
    ];
    for (name, outcome, expected) in rows {
        assert_eq!(classify(&outcome), expected, "{name}");
    }
}

#[test]
fn a_sent_stale_connection_failure_never_resends_a_create() {
    // A stale pooled connection is only harmless while nothing was written. Once the
    // request may have been sent, a create may have been applied: give up, never retry
    // it in the same region (or anywhere). An idempotent write or a read still retries.
    let stale = |kind, sent| transport(kind, TransportErrorKind::StaleConnection, sent);
    let create = classify(&stale(Write, true).idempotent(false));
    assert_eq!(
        create.action,
        Action::GiveUp(GiveUpReason::MaybeApplied),
        "{create:?}"
    );
    assert_eq!((create.mark, create.refresh), (None, false));
    let mut retries = RetryState::new(RetryPolicy::default(), 3);
    assert_eq!(
        retries.next(&create.action, 0.0),
        Next::GiveUp(GiveUpReason::MaybeApplied)
    );
    let same_region = retry(
        RetryTarget::SameRegion,
        RetryClass::CrossRegion,
        Duration::ZERO,
    );
    for (what, outcome) in [
        ("upsert, sent", stale(Write, true).idempotent(true)),
        ("read, sent", stale(Read, true)),
        ("create, never sent", stale(Write, false).idempotent(false)),
    ] {
        assert_eq!(
            classify(&outcome),
            effect(same_region, None, false),
            "{what}"
        );
    }
}

#[test]
fn backend_failover_first_immediate_then_backoff_within_the_budget() {
    let mut retries = RetryState::new(RetryPolicy::default(), 3);
    let action = classify(&response(Write, 403, Some(3))).action;
    let mut delays = Vec::new();
    loop {
        match retries.next(&action, 0.0) {
            Next::Retry { target, delay } => {
                assert_eq!(target, RetryTarget::NextRegion);
                delays.push(delay.as_millis());
            }
            Next::Exhausted(RetryClass::BackendFailover) => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    // 0 + 100 + 200 + 400 + 800 + 1000 + 1000 + 1000 = 4500; one more 1000 would pass 5 s.
    assert_eq!(delays, vec![0, 100, 200, 400, 800, 1_000, 1_000, 1_000]);
}

#[test]
fn a_smaller_failover_budget_is_respected() {
    let policy = RetryPolicy::default().with_failover_budget(Duration::from_millis(300));
    let mut retries = RetryState::new(policy, 3);
    let action = classify(&response(Read, 403, Some(1008))).action;
    let mut count = 0;
    while let Next::Retry { .. } = retries.next(&action, 0.0) {
        count += 1;
    }
    assert_eq!(count, 3, "0 + 100 + 200 fits 300 ms, 400 more does not");
}

#[test]
fn cross_region_retries_are_bounded_by_regions_plus_one() {
    for regions in [1usize, 3] {
        let mut retries = RetryState::new(RetryPolicy::default(), regions);
        let action = classify(&response(Read, 503, None)).action;
        let mut count = 0;
        while let Next::Retry { .. } = retries.next(&action, 0.0) {
            count += 1;
        }
        assert_eq!(count, regions + 1);
    }
}

#[test]
fn cross_region_budget_has_a_fixed_cap() {
    for regions in [MAX_CROSS_REGION_RETRIES, 100, 3_000, usize::MAX] {
        let mut retries = RetryState::new(RetryPolicy::default(), regions);
        let action = classify(&response(Read, 503, None)).action;
        let mut count = 0;
        while let Next::Retry { .. } = retries.next(&action, 0.0) {
            count += 1;
        }
        assert_eq!(count, MAX_CROSS_REGION_RETRIES, "{regions} regions");
    }
}

#[test]
fn session_retry_happens_once_in_the_write_region() {
    // Two regions: the next region is the write region.
    let mut retries = RetryState::new(RetryPolicy::default(), 2);
    let action = classify(&response(Read, 404, Some(1002))).action;
    assert_eq!(
        retries.next(&action, 0.0),
        Next::Retry {
            target: RetryTarget::WriteRegion,
            delay: Duration::ZERO
        }
    );
    assert_eq!(
        retries.next(&action, 0.0),
        Next::Exhausted(RetryClass::SessionRead)
    );
}

#[test]
fn session_retry_tries_the_next_region_then_the_write_region() {
    let mut retries = RetryState::new(RetryPolicy::default(), 3);
    let action = classify(&response(Read, 404, Some(1002))).action;
    let retry = |target| Next::Retry {
        target,
        delay: Duration::ZERO,
    };
    assert_eq!(retries.next(&action, 0.0), retry(RetryTarget::NextRegion));
    assert_eq!(retries.next(&action, 0.0), retry(RetryTarget::WriteRegion));
    assert_eq!(
        retries.next(&action, 0.0),
        Next::Exhausted(RetryClass::SessionRead)
    );
}

#[test]
fn throttle_retries_wait_the_servers_delay_and_are_bounded() {
    let mut retries = RetryState::new(RetryPolicy::default(), 3);
    let action =
        classify(&response(Read, 429, None).with_retry_after(Duration::from_secs(4))).action;
    let mut waited = Duration::ZERO;
    while let Next::Retry { target, delay } = retries.next(&action, 0.0) {
        assert_eq!(target, RetryTarget::SameRegion);
        waited += delay;
    }
    assert_eq!(
        waited,
        Duration::from_secs(28),
        "7 × 4 s fits 30 s, an 8th does not"
    );
}

#[test]
fn budgets_are_independent_and_give_ups_are_immediate() {
    let mut retries = RetryState::new(RetryPolicy::default(), 1);
    let regional = classify(&response(Read, 503, None)).action;
    let failover = classify(&response(Read, 403, Some(1008))).action;
    for _ in 0..2 {
        assert!(matches!(retries.next(&regional, 0.0), Next::Retry { .. }));
    }
    assert!(matches!(
        retries.next(&regional, 0.0),
        Next::Exhausted(RetryClass::CrossRegion)
    ));
    assert!(
        matches!(retries.next(&failover, 0.0), Next::Retry { .. }),
        "separate budget"
    );
    let unauthorized = classify(&response(Read, 401, None)).action;
    assert_eq!(
        retries.next(&unauthorized, 0.0),
        Next::GiveUp(GiveUpReason::Unauthorized)
    );
    assert_eq!(retries.next(&Action::Done, 0.0), Next::Done);
}
