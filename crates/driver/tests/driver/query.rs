//! Queries, read feeds and patch against the in-process emulator: single-partition with
//! parameters, cross-partition ORDER BY over pages, aggregates, routing like reads.

use std::time::Duration;

use futures_util::{StreamExt, TryStreamExt};
use meridian_driver::{Container, Driver, Page, PatchOperations, Query};
use meridian_emulator::{Emulator, FaultAction, FaultRule};
use meridian_runtime::Runtime;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::{driver, quiet_runtime};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Order {
    id: String,
    pk: String,
    total: i64,
}

fn order(id: u32, pk: &str, total: i64) -> Order {
    Order {
        id: format!("o{id}"),
        pk: pk.into(),
        total,
    }
}

/// Seven orders over three partitions, totals 10..=70 in a scrambled insertion order.
async fn seed(orders: &Container) -> Vec<Order> {
    let seeded: Vec<Order> = [(1, "eu", 30), (2, "us", 70), (3, "eu", 10), (4, "asia", 50)]
        .into_iter()
        .chain([(5, "us", 20), (6, "asia", 60), (7, "eu", 40)])
        .map(|(id, pk, total)| order(id, pk, total))
        .collect();
    for o in &seeded {
        orders.create_item(o.pk.as_str(), o).await.unwrap();
    }
    seeded
}

/// An emulator, a quiet runtime, a driver, and the empty container `shop/orders`.
async fn shop() -> (Emulator, Runtime, Driver, Container) {
    let emulator = Emulator::builder().start().await.unwrap();
    let runtime = quiet_runtime();
    let driver = driver(&runtime, &emulator).await;
    opened(emulator, runtime, driver).await
}

/// [`shop`] in West US (writes) and East US, with a driver whose reads prefer East US.
async fn east_shop() -> (Emulator, Runtime, Driver, Container) {
    let emulator = meridian_testkit::west_and_east().await;
    let runtime = quiet_runtime();
    let driver =
        meridian_testkit::driver_preferring(&runtime, &emulator, "East US", Duration::from_secs(5))
            .await;
    opened(emulator, runtime, driver).await
}

/// Creates `shop/orders` with `driver`; returns it with what it runs on.
async fn opened(
    emulator: Emulator,
    runtime: Runtime,
    driver: Driver,
) -> (Emulator, Runtime, Driver, Container) {
    setup(&driver).await;
    let orders = driver.container("shop", "orders");
    (emulator, runtime, driver, orders)
}

async fn setup(driver: &Driver) {
    driver.create_database("shop").await.unwrap();
    driver
        .create_container("shop", "orders", "/pk")
        .await
        .unwrap();
}

#[tokio::test]
async fn query_single_partition_with_parameters() {
    let (emulator, _runtime, _driver, orders) = shop().await;
    seed(&orders).await;

    let query = || {
        Query::new("SELECT * FROM c WHERE c.total >= @min AND c.pk = @pk ORDER BY c.total")
            .param("@min", 20)
            .param("@pk", "eu")
            .partition_key("eu")
    };
    let found: Vec<Order> = orders.query(query()).try_collect().await.unwrap();
    assert_eq!(found, vec![order(1, "eu", 30), order(7, "eu", 40)]);

    // The parameter is bound, not spliced: another value, another answer; and the
    // partition key scopes the query (no `eu` filter in the SQL: still only `us`).
    let us: Vec<i64> = orders
        .query::<i64>(
            Query::new("SELECT VALUE c.total FROM c WHERE c.total > @min")
                .param("@min", json!(0))
                .partition_key("us"),
        )
        .try_collect()
        .await
        .unwrap();
    let mut us = us;
    us.sort_unstable();
    assert_eq!(us, vec![20, 70]);

    // One result per page: each page resumes from the previous page's continuation.
    let first: Page<Order> = orders
        .query(query().max_item_count(1))
        .pages()
        .next()
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.items, vec![order(1, "eu", 30)]);
    assert!(first.request_charge > 0.0);
    let token = first.continuation.expect("a second result remains");
    let rest: Vec<Order> = orders
        .query(query().max_item_count(1).continuation(token))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(rest, vec![order(7, "eu", 40)]);

    // A refusal of the service is a typed error in the stream.
    let error = orders
        .query::<Order>(Query::new("SELECT * FROM c WHERE c.total > @unbound").partition_key("eu"))
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(400), "{error}");
    emulator.shutdown().await;
}

#[tokio::test]
async fn query_cross_partition_order_by_pages() {
    let (emulator, _runtime, _driver, orders) = shop().await;
    seed(&orders).await;

    let query = Query::new("SELECT * FROM c WHERE c.total > @min ORDER BY c.total DESC")
        .param("@min", 10)
        .max_item_count(2);
    let pages: Vec<Page<Order>> = orders
        .query(query.clone())
        .pages()
        .try_collect()
        .await
        .unwrap();
    let sizes: Vec<usize> = pages.iter().map(|p| p.items.len()).collect();
    assert_eq!(sizes, vec![2, 2, 2], "six results, two per page request");
    assert!(pages.iter().all(|p| p.request_charge > 0.0));
    // Each page but the last resumes the merge (see `resume.rs`).
    assert!(pages[..2].iter().all(|p| p.continuation.is_some()));
    assert!(pages[2].continuation.is_none());
    let totals: Vec<i64> = pages
        .iter()
        .flat_map(|p| p.items.iter().map(|o| o.total))
        .collect();
    assert_eq!(totals, vec![70, 60, 50, 40, 30, 20]);

    // The item stream gives the same results in the same order, across partitions.
    let items: Vec<Order> = orders.query(query).try_collect().await.unwrap();
    assert_eq!(items.len(), 6);
    assert_eq!(items[0], order(2, "us", 70));
    assert_eq!(items[5], order(5, "us", 20));

    // The plan's TOP and OFFSET/LIMIT apply to the merged results.
    let top: Vec<i64> = orders
        .query::<i64>(
            Query::new("SELECT TOP 3 VALUE c.total FROM c ORDER BY c.total").max_item_count(2),
        )
        .try_collect()
        .await
        .unwrap();
    assert_eq!(top, vec![10, 20, 30]);
    let window: Vec<i64> = orders
        .query::<i64>(Query::new(
            "SELECT VALUE c.total FROM c ORDER BY c.total DESC OFFSET 2 LIMIT 3",
        ))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(window, vec![50, 40, 30]);
    emulator.shutdown().await;
}

#[tokio::test]
async fn query_aggregate_count() {
    let (emulator, _runtime, _driver, orders) = shop().await;

    let count = |sql: &'static str| {
        let orders = orders.clone();
        async move {
            orders
                .query::<serde_json::Value>(Query::new(sql).param("@min", 25))
                .try_collect::<Vec<_>>()
                .await
                .unwrap()
        }
    };
    assert_eq!(count("SELECT VALUE COUNT(1) FROM c").await, vec![json!(0)]);
    assert_eq!(
        count("SELECT VALUE MAX(c.total) FROM c").await,
        Vec::<serde_json::Value>::new()
    );
    seed(&orders).await;
    for (sql, want) in [
        ("SELECT VALUE COUNT(1) FROM c", json!(7)),
        (
            "SELECT VALUE COUNT(1) FROM c WHERE c.total > @min",
            json!(5),
        ),
        ("SELECT VALUE SUM(c.total) FROM c", json!(280)),
        ("SELECT VALUE MIN(c.total) FROM c", json!(10)),
        ("SELECT VALUE MAX(c.total) FROM c", json!(70)),
        ("SELECT VALUE AVG(c.total) FROM c", json!(40.0)),
    ] {
        assert_eq!(count(sql).await, vec![want], "{sql}");
    }

    let single: Vec<u64> = orders
        .query::<u64>(Query::new("SELECT VALUE COUNT(1) FROM c").partition_key("eu"))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(single, vec![3]);
    let page = orders
        .query::<u64>(Query::new("SELECT VALUE COUNT(1) FROM c"))
        .pages()
        .next()
        .await
        .unwrap()
        .unwrap();
    assert_eq!(page.items, vec![7]);
    assert!(page.request_charge > 0.0);
    emulator.shutdown().await;
}

#[tokio::test]
async fn query_pages_are_routed_and_retried_like_reads() {
    let (emulator, _runtime, _driver, orders) = east_shop().await;
    seed(&orders).await;
    emulator.reset_counters();
    // The first query request in the read region fails with 503: retried elsewhere.
    emulator
        .add_fault(
            FaultRule::on_class("items", FaultAction::status(503))
                .on_listener("East US")
                .times(1),
        )
        .unwrap();
    let totals: Vec<i64> = orders
        .query::<i64>(Query::new("SELECT VALUE c.total FROM c ORDER BY c.total").max_item_count(3))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(totals, vec![10, 20, 30, 40, 50, 60, 70]);
    assert_eq!(
        emulator.faults()[0].hits,
        1,
        "a query request went to East US first"
    );
    assert!(emulator.counters().get("West US", "items", "POST") >= 1);
    emulator.shutdown().await;
}

#[tokio::test]
async fn read_all_pages_through_every_item() {
    let (emulator, _runtime, _driver, orders) = shop().await;
    let seeded = seed(&orders).await;

    let mut all: Vec<Order> = orders.read_all().try_collect().await.unwrap();
    all.sort_by_key(|o| o.total);
    let mut expected = seeded.clone();
    expected.sort_by_key(|o| o.total);
    assert_eq!(all, expected);

    let pages: Vec<Page<Order>> = orders
        .read_feed(Query::new("").max_item_count(3))
        .pages()
        .try_collect()
        .await
        .unwrap();
    let sizes: Vec<usize> = pages.iter().map(|p| p.items.len()).collect();
    assert_eq!(sizes, vec![3, 3, 1]);
    assert!(pages[0].continuation.is_some() && pages[2].continuation.is_none());

    let eu = orders
        .read_feed::<Order>(Query::new("").partition_key("eu"))
        .count()
        .await;
    assert_eq!(eu, 3);
    emulator.shutdown().await;
}

#[tokio::test]
async fn patch_item_applies_operations_and_its_condition() {
    let (emulator, _runtime, _driver, orders) = shop().await;
    orders
        .create_item(
            "eu",
            &json!({"id": "p", "pk": "eu", "total": 1, "tags": ["a"]}),
        )
        .await
        .unwrap();

    let patch = PatchOperations::new()
        .incr("/total", 41)
        .add("/tags/-", "b")
        .set("/status", "paid");
    let patched = orders
        .patch_item::<serde_json::Value>("eu", "p", &patch)
        .await
        .unwrap();
    assert_eq!(patched.item["total"], json!(42));
    assert_eq!(patched.item["tags"], json!(["a", "b"]));
    assert_eq!(patched.item["status"], json!("paid"));
    assert!(patched.etag.is_some());

    let guarded = PatchOperations::new()
        .remove("/status")
        .condition("FROM c WHERE c.total > 100");
    let refused = orders
        .patch_item::<serde_json::Value>("eu", "p", &guarded)
        .await
        .unwrap_err();
    assert!(refused.is_precondition_failed(), "{refused}");
    let read = orders
        .read_item::<serde_json::Value>("eu", "p")
        .await
        .unwrap();
    assert_eq!(read.item["status"], json!("paid"), "all or none");
    emulator.shutdown().await;
}

#[tokio::test]
async fn queries_in_a_session_see_their_writes_across_a_lagging_region() {
    let (emulator, _runtime, _driver, orders) = east_shop().await;
    // East US does not see a write for a minute: far longer than the test.
    emulator
        .set_replication_lag(None, Duration::from_secs(60))
        .unwrap();
    seed(&orders).await;
    // Each page carries the session token; East US answers 404/1002 and the page is
    // read again where the writes are.
    let count: Vec<u64> = orders
        .query::<u64>(Query::new("SELECT VALUE COUNT(1) FROM c"))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(count, vec![7]);
    let eu: Vec<Order> = orders
        .query::<Order>(Query::new("SELECT * FROM c").partition_key("eu"))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(eu.len(), 3);
    assert!(emulator.counters().get("East US", "items", "POST") >= 1);
    emulator.shutdown().await;
}

#[tokio::test]
async fn cross_partition_queries_fan_out_and_merge_every_range() {
    let (emulator, _runtime, _driver, orders) = shop().await;
    seed(&orders).await;
    // Range 0 split in two: "asia" lands in range 1, "eu" and "us" in range 2, so the
    // output shows that both ranges were read, merged in order, and their aggregates
    // combined.
    let children = emulator
        .split_range(("shop", "orders"), "0", std::time::Duration::ZERO)
        .unwrap();
    assert_eq!(children, ["1", "2"]);
    // A pass-through rule counts the range listings.
    let mut rule = FaultRule::on_class("containers", FaultAction::Delay { ms: 0 });
    rule.when.path_prefix = Some("/dbs/shop/colls/orders/pkranges".into());
    emulator.add_fault(rule).unwrap();

    let pages: Vec<Page<i64>> = orders
        .query::<i64>(
            Query::new("SELECT VALUE c.total FROM c ORDER BY c.total DESC").max_item_count(3),
        )
        .pages()
        .try_collect()
        .await
        .unwrap();
    let totals: Vec<i64> = pages.iter().flat_map(|p| p.items.clone()).collect();
    assert_eq!(totals, vec![70, 60, 50, 40, 30, 20, 10]);
    // A page ends when a range must be read again before the merge can go on.
    assert!(pages.len() >= 2, "{} pages", pages.len());
    let count: Vec<u64> = orders
        .query::<u64>(Query::new("SELECT VALUE COUNT(1) FROM c"))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(count, vec![7]);
    let avg: Vec<f64> = orders
        .query::<f64>(Query::new("SELECT VALUE AVG(c.total) FROM c"))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(avg, vec![40.0]);
    let top: Vec<i64> = orders
        .query::<i64>(Query::new(
            "SELECT TOP 3 VALUE c.total FROM c WHERE c.total > 10",
        ))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(top.len(), 3, "TOP applies across ranges: {top:?}");
    assert_eq!(emulator.faults()[0].hits, 4, "one range listing per query");
    emulator.shutdown().await;
}
