//! The change feed and conditional reads against the in-process emulator.
//!
//! The driver reads however many ranges `…/pkranges` lists, one source each with its own
//! etag in the merged continuation: the emulator splits the container's range in two,
//! each serving only its own items, so every change comes once.

use std::collections::BTreeSet;

use futures_util::{StreamExt, TryStreamExt};
use meridian_driver::{ChangeFeedOptions, ChangeFeedPage, Container, ReadOptions, ReadOutcome};
use meridian_emulator::{Emulator, FaultAction, FaultRule};
use serde_json::{Value, json};

use crate::{driver, quiet_runtime};

async fn drain(orders: &Container, options: ChangeFeedOptions) -> Vec<ChangeFeedPage<Value>> {
    // At most 50 pages: a feed that never drains fails here rather than running on.
    let pages: Vec<ChangeFeedPage<Value>> = orders
        .change_feed(options)
        .take(50)
        .try_collect()
        .await
        .unwrap();
    let (last, rest) = pages.split_last().expect("at least the drained page");
    assert!(
        last.drained && last.items.is_empty(),
        "the stream ends drained"
    );
    assert!(rest.iter().all(|p| !p.drained && !p.items.is_empty()));
    pages
}

fn ids(pages: &[ChangeFeedPage<Value>]) -> Vec<String> {
    pages
        .iter()
        .flat_map(|p| &p.items)
        .map(|item| item["id"].as_str().unwrap().to_string())
        .collect()
}

async fn write(orders: &Container, id: &str, pk: &str, total: i64) {
    let item = json!({"id": id, "pk": pk, "total": total});
    orders.upsert_item(pk, &item).await.unwrap();
}

#[tokio::test]
async fn driver_change_feed_streams_every_change_once_across_ranges() {
    let emulator = Emulator::builder().start().await.unwrap();
    let runtime = quiet_runtime();
    let driver = driver(&runtime, &emulator).await;
    driver.create_database("shop").await.unwrap();
    driver
        .create_container("shop", "orders", "/pk")
        .await
        .unwrap();
    let orders = driver.container("shop", "orders");
    for (id, pk) in [
        ("o1", "eu"),
        ("o2", "us"),
        ("o3", "eu"),
        ("o4", "asia"),
        ("o5", "us"),
    ] {
        write(&orders, id, pk, 1).await;
    }
    write(&orders, "o1", "eu", 2).await;

    // From the beginning, two at a time: every item once, at its latest version.
    let pages = drain(
        &orders,
        ChangeFeedOptions::from_beginning().max_item_count(2),
    )
    .await;
    let seen = ids(&pages);
    assert_eq!(seen, ["o2", "o3", "o4", "o5", "o1"]);
    assert_eq!(
        pages.iter().flat_map(|p| &p.items).last().unwrap()["total"],
        2
    );
    assert!(pages.iter().all(|p| p.request_charge > 0.0));
    let saved = pages.last().unwrap().continuation.clone();

    // Later writes, read from the saved continuation by a fresh stream: only those.
    write(&orders, "o6", "asia", 1).await;
    write(&orders, "o2", "us", 5).await;
    let resumed = drain(&orders, ChangeFeedOptions::from_continuation(&saved)).await;
    assert_eq!(ids(&resumed), ["o6", "o2"]);
    // Resuming from a page in the middle continues right after it.
    let mid = pages[0].continuation.clone();
    let rest = drain(&orders, ChangeFeedOptions::from_continuation(mid)).await;
    let rest: BTreeSet<String> = ids(&rest).into_iter().collect();
    assert_eq!(
        rest,
        ["o1", "o2", "o4", "o5", "o6"].map(String::from).into()
    );

    // From now: drained at once; a write after it is the next change.
    let now = drain(&orders, ChangeFeedOptions::from_now()).await;
    assert_eq!(now.len(), 1);
    write(&orders, "o7", "eu", 1).await;
    let after = ChangeFeedOptions::from_continuation(&now[0].continuation);
    assert_eq!(ids(&drain(&orders, after).await), ["o7"]);

    // One partition key: its changes only; its token keeps that scope.
    let eu = drain(
        &orders,
        ChangeFeedOptions::from_beginning().partition_key("eu"),
    )
    .await;
    assert_eq!(ids(&eu), ["o3", "o1", "o7"]);
    let token = eu.last().unwrap().continuation.clone();
    let mixed = ChangeFeedOptions::from_continuation(&token);
    let refused = orders
        .change_feed::<Value>(mixed)
        .try_collect::<Vec<_>>()
        .await;
    assert!(matches!(
        refused,
        Err(meridian_driver::DriverError::Config(_))
    ));
    let garbage = ChangeFeedOptions::from_continuation("\"12\"");
    let refused = orders
        .change_feed::<Value>(garbage)
        .try_collect::<Vec<_>>()
        .await;
    assert!(matches!(
        refused,
        Err(meridian_driver::DriverError::Config(_))
    ));

    // Two ranges (range 0 split: "asia" in range 1, "eu" and "us" in range 2): each read
    // in turn from its own etag, each change once.
    let children = emulator
        .split_range(("shop", "orders"), "0", std::time::Duration::ZERO)
        .unwrap();
    assert_eq!(children, ["1", "2"]);
    // A pass-through rule counts the range listings.
    let mut rule = FaultRule::on_class("containers", FaultAction::Delay { ms: 0 });
    rule.when.path_prefix = Some("/dbs/shop/colls/orders/pkranges".into());
    emulator.add_fault(rule).unwrap();
    let pages = drain(
        &orders,
        ChangeFeedOptions::from_beginning().max_item_count(4),
    )
    .await;
    let seen = ids(&pages);
    assert_eq!(seen.len(), 7, "seven items, once each: {seen:?}");
    let once: BTreeSet<&String> = seen.iter().collect();
    assert_eq!(once.len(), 7);
    // Resumed after the first page: its range goes on after it, the other from the start.
    let first = ChangeFeedOptions::from_continuation(&pages[0].continuation);
    let read = pages[0].items.len();
    assert_eq!(ids(&drain(&orders, first).await).len(), 7 - read);
    let last = ChangeFeedOptions::from_continuation(&pages.last().unwrap().continuation);
    assert_eq!(drain(&orders, last).await.len(), 1, "both ranges drained");
    assert_eq!(
        emulator.faults()[0].hits,
        1,
        "listed once, then kept in the token"
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn read_if_changed_answers_not_modified_as_a_typed_outcome() {
    let emulator = Emulator::builder().start().await.unwrap();
    let runtime = quiet_runtime();
    let driver = driver(&runtime, &emulator).await;
    driver.create_database("shop").await.unwrap();
    driver
        .create_container("shop", "orders", "/pk")
        .await
        .unwrap();
    let orders = driver.container("shop", "orders");
    let created = orders
        .create_item("eu", &json!({"id": "a", "pk": "eu", "total": 1}))
        .await
        .unwrap();
    let etag = created.etag.clone().unwrap();
    let options = ReadOptions::default().if_none_match(&etag);
    let outcome = orders
        .read_item_if_changed::<Value>("eu", "a", &options)
        .await
        .unwrap();
    let ReadOutcome::NotModified(not_modified) = outcome else {
        panic!("expected 304");
    };
    assert_eq!(not_modified.etag.as_deref(), Some(etag.as_str()));
    write(&orders, "a", "eu", 2).await;
    let changed = orders
        .read_item_if_changed::<Value>("eu", "a", &options)
        .await
        .unwrap();
    assert_eq!(changed.item().unwrap().item["total"], 2);
    emulator.shutdown().await;
}
