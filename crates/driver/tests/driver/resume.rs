//! Cross-partition queries resume from their continuation, in a new driver (as after a
//! process restart): the token holds every range's state, `ORDER BY` merges included.

use futures_util::{StreamExt, TryStreamExt};
use meridian_driver::{Container, DriverError, Page, Query};
use meridian_emulator::Emulator;
use serde_json::{Value, json};

use crate::{driver, quiet_runtime};

async fn write(orders: &Container, id: &str, pk: &str, total: i64) {
    let item = json!({"id": id, "pk": pk, "total": total});
    orders.create_item(pk, &item).await.unwrap();
}

fn totals(pages: &[Page<Value>]) -> Vec<i64> {
    pages
        .iter()
        .flat_map(|p| p.items.iter().map(|o| o["total"].as_i64().unwrap()))
        .collect()
}

#[tokio::test]
async fn a_cross_partition_order_by_query_resumes_from_its_continuation() {
    let emulator = Emulator::builder().start().await.unwrap();
    let token;
    let concat_token;
    {
        let runtime = quiet_runtime();
        let driver = driver(&runtime, &emulator).await;
        driver.create_database("shop").await.unwrap();
        driver
            .create_container("shop", "orders", "/pk")
            .await
            .unwrap();
        let orders = driver.container("shop", "orders");
        for (id, pk, total) in [("o1", "eu", 30), ("o2", "us", 70), ("o3", "eu", 10)] {
            write(&orders, id, pk, total).await;
        }
        for (id, pk, total) in [("o4", "asia", 50), ("o5", "us", 20), ("o6", "asia", 60)] {
            write(&orders, id, pk, total).await;
        }
        let query = Query::new("SELECT * FROM c ORDER BY c.total DESC").max_item_count(2);
        let mut pages = orders.query::<Value>(query).pages();
        let first = pages.next().await.unwrap().unwrap();
        assert_eq!(totals(std::slice::from_ref(&first)), [70, 60]);
        token = first.continuation.expect("more remain");
        let mut all = orders
            .query::<Value>(Query::new("SELECT * FROM c").max_item_count(4))
            .pages();
        let first = all.next().await.unwrap().unwrap();
        assert_eq!(first.items.len(), 4);
        concat_token = first.continuation.expect("more remain");
        // The process "restarts": this driver and its runtime are dropped.
    }
    let runtime = quiet_runtime();
    let driver = driver(&runtime, &emulator).await;
    let orders = driver.container("shop", "orders");
    // Written meanwhile: one before the cursor (never shown), one after it.
    write(&orders, "o7", "eu", 100).await;
    write(&orders, "o8", "us", 55).await;
    let query = Query::new("SELECT * FROM c ORDER BY c.total DESC").max_item_count(2);
    let rest: Vec<Page<Value>> = orders
        .query::<Value>(query.continuation(&token))
        .pages()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(
        totals(&rest),
        [55, 50, 30, 20, 10],
        "each once, none before the cursor"
    );
    assert!(rest.last().unwrap().continuation.is_none());

    // Without ORDER BY: the ranges in turn, resumed just as well.
    let all = Query::new("SELECT * FROM c").max_item_count(4);
    let rest: Vec<Value> = orders
        .query::<Value>(all.continuation(&concat_token))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(rest.len(), 4, "the two left and the two new ones: {rest:?}");

    // Another query's token, or a string the driver never made: refused, nothing sent.
    let other = Query::new("SELECT * FROM c ORDER BY c.id").continuation(&token);
    let refused = orders.query::<Value>(other).try_collect::<Vec<_>>().await;
    assert!(
        matches!(refused, Err(DriverError::Config(_))),
        "{refused:?}"
    );
    let garbage = Query::new("SELECT * FROM c ORDER BY c.id").continuation("meridian-xq1:@@");
    let refused = orders.query::<Value>(garbage).try_collect::<Vec<_>>().await;
    assert!(matches!(refused, Err(DriverError::Config(_))));

    // Two ranges (range 0 split: "asia" in range 1, "eu" and "us" in range 2): a page can
    // end with results of a range still buffered; the token has that range read its page
    // again and drop what was returned. Resuming after every page gives the
    // uninterrupted run.
    let children = emulator
        .split_range(("shop", "orders"), "0", std::time::Duration::ZERO)
        .unwrap();
    assert_eq!(children, ["1", "2"]);
    let query = || Query::new("SELECT * FROM c ORDER BY c.total DESC").max_item_count(3);
    let whole: Vec<Page<Value>> = orders.query(query()).pages().try_collect().await.unwrap();
    let mut stitched = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..50 {
        let resumed = match &token {
            Some(token) => query().continuation(token),
            None => query(),
        };
        let page = orders
            .query::<Value>(resumed)
            .pages()
            .next()
            .await
            .unwrap()
            .unwrap();
        stitched.push(page.clone());
        token = page.continuation;
        if token.is_none() {
            break;
        }
    }
    assert_eq!(totals(&stitched), totals(&whole));
    assert_eq!(totals(&whole).len(), 8, "eight items, once each");
    emulator.shutdown().await;
}
