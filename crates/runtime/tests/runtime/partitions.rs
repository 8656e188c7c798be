//! Partition-level failover in the runtime: marks shared by every handle of the account,
//! lifted by the one loop when their hold ends, and no task per driver or partition.

use std::time::Duration;

use meridian_location_store::{
    Endpoint, OperationKind, OperationOutcome, PartitionId, RetryPolicy, RetryState, Tried,
};
use meridian_runtime::{AccountHandle, RuntimeEvent, Verdict};
use tokio::time::sleep;

use crate::fake::regional;
use crate::{attach, builder, serving};

const HOLD: Duration = Duration::from_secs(2);

fn range(id: usize) -> PartitionId {
    PartitionId::new("dbs/db/colls/c", id.to_string())
}

/// One read of `partition` answered 503 in `endpoint`'s region.
fn fail(handle: &AccountHandle, partition: &PartitionId, endpoint: &Endpoint) -> Verdict {
    let routed = handle.with_snapshot(|s| handle.routed_on(s));
    let mut retries = RetryState::new(RetryPolicy::default(), 3);
    let outcome = OperationOutcome::response(OperationKind::Read, 503, None);
    handle.report_partition(partition, endpoint, &outcome, routed, &mut retries)
}

fn demoted(handle: &AccountHandle, partition: &PartitionId, endpoint: &Endpoint) -> bool {
    let mut out = Tried::new();
    handle.partition_demoted(partition, OperationKind::Read, &mut out) && out.contains(endpoint)
}

#[tokio::test(start_paused = true)]
async fn partition_failback_runs_in_the_one_loop() {
    let fetcher = serving(&["acct"]);
    let runtime = builder()
        .first_probe_delay(HOLD)
        .partition_failure_threshold(3)
        .build()
        .unwrap();
    let mut handles = Vec::new();
    for _ in 0..100 {
        handles.push(attach(&runtime, "acct", &fetcher).await);
    }
    sleep(Duration::from_millis(100)).await;
    let monitor = runtime.task_monitor();
    let tasks = monitor.live_tasks();
    let mut events = runtime.events();
    let west = regional("acct", "westus");

    // Fifty ranges fail in West US, each seen by three different drivers.
    for r in 0..50 {
        for d in 0..3 {
            let _ = fail(&handles[(r * 3 + d) % handles.len()], &range(r), &west);
        }
    }
    assert!((0..50).all(|r| handles.iter().all(|h| demoted(h, &range(r), &west))));
    assert!(
        !demoted(&handles[0], &range(50), &west),
        "other ranges are untouched"
    );
    assert_eq!(
        handles[0].stats().marked_endpoints,
        0,
        "the region itself is not marked"
    );
    assert_eq!(monitor.live_tasks(), tasks, "a mark starts no task");

    // No operation runs: only the loop can lift the marks when their hold ends.
    sleep(HOLD + Duration::from_millis(10)).await;
    assert!((0..50).all(|r| !demoted(&handles[0], &range(r), &west)));
    let mut failed_back = 0;
    while let Ok(event) = events.try_recv() {
        if matches!(event, RuntimeEvent::PartitionFailedBack { .. }) {
            failed_back += 1;
        }
    }
    assert_eq!(failed_back, 50);
    assert_eq!(monitor.live_tasks(), tasks, "the failback ran in the loop");

    // On probation: one more failure re-marks the range at once, for a doubled hold.
    let _ = fail(&handles[7], &range(3), &west);
    assert!(demoted(&handles[0], &range(3), &west));
    sleep(HOLD + Duration::from_millis(10)).await;
    assert!(demoted(&handles[0], &range(3), &west), "held twice as long");
    sleep(HOLD).await;
    assert!(!demoted(&handles[0], &range(3), &west));
}

#[tokio::test(start_paused = true)]
async fn a_thousand_drivers_with_partition_marks_live_keep_a_constant_number_of_tasks() {
    let fetcher = serving(&["acct", "other"]);
    let runtime = builder().first_probe_delay(HOLD).build().unwrap();
    let first = attach(&runtime, "acct", &fetcher).await;
    sleep(Duration::from_millis(100)).await;
    let monitor = runtime.task_monitor();
    let tasks = monitor.live_tasks();
    assert_eq!(tasks, 1, "the loop");

    // A thousand drivers (handles) over two accounts, each failing its own range.
    let mut handles = vec![first];
    for d in 1..1_000 {
        let account = if d % 2 == 0 { "acct" } else { "other" };
        handles.push(attach(&runtime, account, &fetcher).await);
    }
    sleep(Duration::from_millis(100)).await;
    for (d, handle) in handles.iter().enumerate() {
        let account = if d % 2 == 0 { "acct" } else { "other" };
        let west = regional(account, "westus");
        for _ in 0..3 {
            let _ = fail(handle, &range(d), &west);
        }
        assert!(demoted(handle, &range(d), &west));
    }
    assert_eq!(monitor.live_tasks(), tasks, "1,000 drivers, 1,000 marks");
    let marks: usize = ["acct", "other"]
        .iter()
        .map(|a| {
            runtime
                .stats()
                .accounts
                .iter()
                .find(|s| s.endpoint == crate::fake::endpoint(a))
                .map_or(0, |s| s.partitions.marks)
        })
        .sum();
    assert_eq!(marks, 1_000);

    // Through failback, probation and re-marks, still the same tasks.
    for round in 0..3 {
        sleep(HOLD * (1 << round) + Duration::from_millis(10)).await;
        assert_eq!(monitor.live_tasks(), tasks, "round {round}");
        for (d, handle) in handles.iter().enumerate().step_by(7) {
            let account = if d % 2 == 0 { "acct" } else { "other" };
            let _ = fail(handle, &range(d), &regional(account, "westus"));
        }
        assert_eq!(monitor.live_tasks(), tasks, "round {round}");
    }
}
