//! Failback in seconds: a marked endpoint is probed on a short backed-off schedule and
//! returns as soon as a probe succeeds; a flapping one is held longer each time.

use std::time::Duration;

use meridian_location_store::{Endpoint, OperationKind, OperationOutcome, RouteRequest};
use meridian_runtime::{AccountHandle, DEFAULT_FIRST_PROBE_DELAY};
use tokio::time::{Instant, sleep};

use crate::fake::regional;
use crate::{attach, builder, report, serving};

fn reads_from(handle: &AccountHandle, endpoint: &Endpoint) -> bool {
    handle
        .snapshot()
        .route(OperationKind::Read, &RouteRequest::default())
        == endpoint
}

fn outage() -> OperationOutcome {
    OperationOutcome::response(OperationKind::Read, 503, None)
}

#[tokio::test(start_paused = true)]
async fn failback_follows_the_regions_return_within_seconds() {
    let fetcher = serving(&["acct"]);
    // The default schedule: a 60 s TTL, the first probe after 1 s.
    let runtime = builder().build().unwrap();
    let mut handles = Vec::new();
    for _ in 0..5 {
        handles.push(attach(&runtime, "acct", &fetcher).await);
    }
    sleep(Duration::from_secs(1)).await;
    let west = regional("acct", "westus");
    fetcher.set_probe(&west, false);
    // Five drivers see the region fail.
    for handle in &handles {
        report(handle, &west, &outage());
    }
    assert!(!reads_from(&handles[0], &west));

    // Down for 30 s: still demoted; probed all along, at most once a second, however
    // many drivers share the runtime.
    sleep(Duration::from_secs(30)).await;
    assert!(!reads_from(&handles[0], &west));
    let probes = fetcher.probes_of(&west);
    assert!((10..=30).contains(&probes), "{probes} probes in 30 s");

    // The region returns: reads follow within 2 s, far inside the 60 s TTL.
    fetcher.set_probe(&west, true);
    let back = Instant::now();
    while !reads_from(&handles[0], &west) {
        assert!(
            back.elapsed() <= DEFAULT_FIRST_PROBE_DELAY * 2,
            "not failed back {:?} after the region returned",
            back.elapsed()
        );
        sleep(Duration::from_millis(50)).await;
    }
    assert!(handles.iter().all(|h| reads_from(h, &west)));
    assert_eq!(handles[0].stats().marked_endpoints, 0);
}

#[tokio::test(start_paused = true)]
async fn a_flapping_region_is_not_failed_back_on_each_blip() {
    let fetcher = serving(&["acct"]);
    let ttl = Duration::from_secs(60);
    let runtime = builder().unavailability_ttl(ttl).build().unwrap();
    let handle = attach(&runtime, "acct", &fetcher).await;
    sleep(Duration::from_secs(1)).await;
    let west = regional("acct", "westus");

    // Each blip: the region fails one operation, and answers probes at once. Re-marked
    // as soon as it is back, it is held twice as long as the time before: 1, 2, 4... s,
    // at most the TTL; one probe per blip, none before its hold ends.
    let blip = || async {
        report(&handle, &west, &outage());
        let marked = Instant::now();
        while !reads_from(&handle, &west) {
            assert!(marked.elapsed() <= ttl * 2, "never failed back");
            sleep(Duration::from_millis(50)).await;
        }
        marked.elapsed()
    };
    for strike in 0..8u32 {
        let expected = (DEFAULT_FIRST_PROBE_DELAY * 2u32.pow(strike)).min(ttl);
        let held = blip().await;
        assert!(
            held >= expected && held <= expected + Duration::from_millis(100),
            "blip {strike}: held {held:?}, expected {expected:?}"
        );
        assert_eq!(fetcher.probes_of(&west), strike as usize + 1);
    }

    // Stable for a TTL after its last failback: the next blip is a first one again.
    sleep(ttl).await;
    let held = blip().await;
    assert!(
        held >= DEFAULT_FIRST_PROBE_DELAY
            && held <= DEFAULT_FIRST_PROBE_DELAY + Duration::from_millis(100),
        "{held:?}"
    );
}
