//! Partition-level failover state: the circuit breaker's threshold, automatic
//! failover's override, probation after a hold, and the entry cap.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use meridian_location_store::{
    Endpoint, OperationKind, PartitionConfig, PartitionDecision, PartitionHealth, PartitionId,
    PartitionOutcome, PartitionRule, Tried,
};

const CB: PartitionRule = PartitionRule::CircuitBreaker;
const READ: OperationKind = OperationKind::Read;

fn west() -> Endpoint {
    Endpoint::parse("https://acct-westus.documents.azure.com/").unwrap()
}

fn health(threshold: u32, max_entries: usize) -> PartitionHealth {
    PartitionHealth::new(PartitionConfig {
        threshold,
        first_hold: Duration::from_secs(1),
        longest_hold: Duration::from_secs(8),
        max_entries,
    })
}

fn demoted(h: &PartitionHealth, p: &PartitionId, kind: OperationKind) -> bool {
    let mut out = Tried::new();
    h.demoted(p, kind, &mut out) && out.contains(&west())
}

#[test]
fn the_circuit_breaker_trips_after_consecutive_failures_of_one_range_only() {
    let h = health(3, 100);
    let (r0, r1) = (PartitionId::new("c", "0"), PartitionId::new("c", "1"));
    let t = Instant::now();
    let fail = |p: &PartitionId| h.record(p, &west(), READ, CB, PartitionOutcome::Failed, t);
    assert_eq!(fail(&r0), PartitionDecision::Nothing);
    assert_eq!(fail(&r0), PartitionDecision::Nothing);
    // A success in between resets the count.
    h.record(&r0, &west(), READ, CB, PartitionOutcome::Healthy, t);
    fail(&r0);
    fail(&r0);
    assert!(matches!(fail(&r0), PartitionDecision::Marked { .. }));
    assert!(demoted(&h, &r0, READ));
    assert!(!demoted(&h, &r0, OperationKind::Write));
    assert!(!demoted(&h, &r1, READ), "the other range is untouched");
    assert_eq!(h.next_expiry(), Some(t + Duration::from_secs(1)));
}

#[test]
fn automatic_failover_moves_writes_at_the_first_refusal() {
    let h = health(3, 100);
    let r0 = PartitionId::new("c", "0");
    let t = Instant::now();
    let write = OperationKind::Write;
    let rule = PartitionRule::AutomaticFailover;
    let d = h.record(
        &r0,
        &west(),
        write,
        rule,
        PartitionOutcome::WriteForbidden,
        t,
    );
    assert!(matches!(d, PartitionDecision::Marked { .. }));
    assert!(h.write_override(&r0, &west()));
    assert!(!demoted(&h, &r0, READ), "reads are not moved");
}

#[test]
fn an_expired_mark_is_on_probation_and_its_next_failure_re_marks_with_a_longer_hold() {
    let h = health(3, 100);
    let r0 = PartitionId::new("c", "0");
    let t = Instant::now();
    for _ in 0..3 {
        h.record(&r0, &west(), READ, CB, PartitionOutcome::Failed, t);
    }
    assert!(h.expire(t + Duration::from_millis(999)).is_empty());
    let t1 = t + Duration::from_secs(1);
    assert_eq!(h.expire(t1).len(), 1);
    assert!(
        !demoted(&h, &r0, READ),
        "on probation the range routes there again"
    );
    assert_eq!(h.next_expiry(), None);
    let d = h.record(&r0, &west(), READ, CB, PartitionOutcome::Failed, t1);
    assert_eq!(
        d,
        PartitionDecision::Marked {
            rule: CB,
            kind: READ,
            until: t1 + Duration::from_secs(2)
        },
        "one failure on probation re-marks, with the hold doubled"
    );
}

#[test]
fn entries_are_capped_evicting_counters_before_refusing() {
    let h = health(2, 2);
    let t = Instant::now();
    let fail = |r: &str| {
        h.record(
            &PartitionId::new("c", r),
            &west(),
            READ,
            CB,
            PartitionOutcome::Failed,
            t,
        )
    };
    fail("0");
    fail("0"); // marked
    fail("1"); // a counter
    fail("2"); // evicts the counter of "1"
    assert_eq!(h.stats().entries, 2);
    fail("2"); // marked: both entries are marks now
    fail("3"); // nothing can go: not tracked
    let stats = h.stats();
    assert_eq!((stats.entries, stats.marks, stats.dropped), (2, 2, 1));
}
