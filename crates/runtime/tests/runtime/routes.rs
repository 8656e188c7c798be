//! Routing maps on the paused clock with a fake `pkranges` fetcher: one fetch per
//! container for every handle, a storm of stale maps refreshed once, incremental
//! refreshes by etag, and a failed refresh that keeps the last good map.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::future::join_all;
use meridian_runtime::{FetchError, FetchFuture, RangesAnswer, RangesFetcher};
use serde_json::json;

use crate::{attach, builder, serving};

/// `(id, min, max, parents)` of one range.
type Range = (String, String, String, Vec<String>);

/// What the fake answers next, and what it was asked.
#[derive(Default)]
struct FakeRanges {
    /// `(id, min, max, parents)` of the current ranges, and their etag.
    ranges: Mutex<(Vec<Range>, u32)>,
    fail: std::sync::atomic::AtomicBool,
    calls: AtomicUsize,
    /// The etag each call sent.
    sent: Mutex<Vec<Option<String>>>,
}

impl FakeRanges {
    fn new(ranges: &[(&str, &str, &str, &[&str])]) -> Self {
        let fake = Self::default();
        fake.set(ranges);
        fake
    }

    fn set(&self, ranges: &[(&str, &str, &str, &[&str])]) {
        let mut current = self.ranges.lock().unwrap();
        current.0 = ranges
            .iter()
            .map(|(id, min, max, parents)| {
                let parents = parents.iter().map(|p| (*p).to_owned()).collect();
                (
                    (*id).to_owned(),
                    (*min).to_owned(),
                    (*max).to_owned(),
                    parents,
                )
            })
            .collect();
        current.1 += 1;
    }
}

impl RangesFetcher for FakeRanges {
    fn fetch_ranges<'a>(&'a self, etag: Option<&'a str>) -> FetchFuture<'a, RangesAnswer> {
        Box::pin(async move {
            self.calls.fetch_add(1, Ordering::SeqCst);
            self.sent.lock().unwrap().push(etag.map(str::to_owned));
            // An answer takes a while: concurrent callers meet the flight in the air.
            tokio::time::sleep(Duration::from_millis(100)).await;
            if self.fail.load(Ordering::SeqCst) {
                return Err(FetchError::Status {
                    status: 503,
                    sub_status: None,
                });
            }
            let (ranges, version) = self.ranges.lock().unwrap().clone();
            let current = format!("\"v{version}\"");
            if etag == Some(current.as_str()) {
                return Ok(RangesAnswer::NotModified);
            }
            let listed: Vec<_> = ranges
                .iter()
                .map(|(id, min, max, parents)| {
                    json!({"id": id, "minInclusive": min, "maxExclusive": max, "parents": parents})
                })
                .collect();
            Ok(RangesAnswer::Ranges {
                body: json!({"PartitionKeyRanges": listed})
                    .to_string()
                    .into_bytes(),
                etag: Some(current),
            })
        })
    }
}

const TWO: [(&str, &str, &str, &[&str]); 2] = [("0", "", "80", &[]), ("1", "80", "FF", &[])];
const SPLIT: [(&str, &str, &str, &[&str]); 3] = [
    ("2", "", "40", &["0"]),
    ("3", "40", "80", &["0"]),
    ("1", "80", "FF", &[]),
];

#[tokio::test(start_paused = true)]
async fn one_fetch_per_container_for_a_hundred_handles() {
    let fetcher = serving(&["acct"]);
    let runtime = builder().build().unwrap();
    let handles = join_all((0..100).map(|_| attach(&runtime, "acct", &fetcher))).await;
    let ranges = [FakeRanges::new(&TWO), FakeRanges::new(&TWO)];
    let asks = handles.iter().flat_map(|handle| {
        ranges.iter().enumerate().map(move |(c, fake)| async move {
            let link = format!("dbs/d/colls/c{c}");
            handle.routing_map(&link, fake, None).await.unwrap()
        })
    });
    for map in join_all(asks).await {
        assert_eq!(map.range_of("7F").unwrap().id(), "0");
    }
    assert_eq!(
        ranges.each_ref().map(|r| r.calls.load(Ordering::SeqCst)),
        [1, 1]
    );
    assert_eq!(handles[0].routing_map_fetches("dbs/d/colls/c0"), 1);
    runtime.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_storm_of_stale_maps_is_one_incremental_refresh() {
    let fetcher = serving(&["acct"]);
    let runtime = builder().build().unwrap();
    let handles = join_all((0..100).map(|_| attach(&runtime, "acct", &fetcher))).await;
    let fake = FakeRanges::new(&TWO);
    let link = "dbs/d/colls/c";
    let stale = handles[0].routing_map(link, &fake, None).await.unwrap();
    fake.set(&SPLIT);
    // Every handle met range 0 gone, at once.
    let refreshed = join_all(
        handles
            .iter()
            .map(|handle| handle.refresh_routing_map(link, &fake, &stale, None)),
    )
    .await;
    for map in refreshed {
        let map = map.unwrap();
        assert_eq!(map.range_of("3F").unwrap().id(), "2");
        assert!(map.generation() > stale.generation());
    }
    assert_eq!(
        fake.calls.load(Ordering::SeqCst),
        2,
        "the first fetch, one refresh"
    );
    let sent = fake.sent.lock().unwrap().clone();
    assert_eq!(
        sent,
        [None, Some("\"v1\"".to_owned())],
        "the refresh sends the etag"
    );
    // A late report on the stale map learns from the refresh already made.
    handles[7]
        .refresh_routing_map(link, &fake, &stale, None)
        .await
        .unwrap();
    assert_eq!(fake.calls.load(Ordering::SeqCst), 2);
    runtime.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_failed_refresh_keeps_the_last_good_map() {
    let fetcher = serving(&["acct"]);
    let runtime = builder().build().unwrap();
    let handle = attach(&runtime, "acct", &fetcher).await;
    let fake = FakeRanges::new(&TWO);
    let link = "dbs/d/colls/c";
    let good = handle.routing_map(link, &fake, None).await.unwrap();
    fake.fail.store(true, Ordering::SeqCst);
    let after = handle
        .refresh_routing_map(link, &fake, &good, None)
        .await
        .unwrap();
    assert_eq!(after.generation(), good.generation(), "never backwards");
    assert_eq!(after.range_of("90").unwrap().id(), "1");
    // A 304 keeps it too, and does not count as a change.
    fake.fail.store(false, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(10)).await;
    let same = handle
        .refresh_routing_map(link, &fake, &good, None)
        .await
        .unwrap();
    assert_eq!(same.generation(), good.generation());
    assert_eq!(fake.calls.load(Ordering::SeqCst), 3);
    runtime.shutdown().await;
}
