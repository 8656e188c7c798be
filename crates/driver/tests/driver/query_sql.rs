//! DISTINCT, GROUP BY, JOIN and subqueries across partitions through the query plan
//! (issue 27), against the in-process emulator.
//!
//! The emulator serves one partition key range, so these run the plan-driven pipeline over
//! one range with items under several partition key values; combining several ranges' groups
//! and duplicates is checked by `group::tests` in the driver.

use futures_util::TryStreamExt;
use meridian_driver::{Container, Query};
use meridian_emulator::Emulator;
use serde_json::{Value, json};

use crate::{driver, quiet_runtime};

fn sorted(mut rows: Vec<Value>) -> Vec<Value> {
    rows.sort_by_key(Value::to_string);
    rows
}

async fn all(orders: &Container, sql: &str) -> Vec<Value> {
    orders
        .query::<Value>(Query::new(sql).max_item_count(2))
        .try_collect()
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

#[tokio::test]
async fn driver_merges_distinct_and_group_by_across_ranges() {
    let emulator = Emulator::builder().start().await.unwrap();
    let runtime = quiet_runtime();
    let driver = driver(&runtime, &emulator).await;
    driver.create_database("shop").await.unwrap();
    driver
        .create_container("shop", "orders", "/pk")
        .await
        .unwrap();
    let orders = driver.container("shop", "orders");
    for (id, pk, city, total, tags) in [
        ("o1", "eu", "Oslo", 30, vec!["a", "b"]),
        ("o2", "us", "Lima", 70, vec!["b"]),
        ("o3", "eu", "Oslo", 10, vec![]),
        ("o4", "asia", "Rome", 50, vec!["a"]),
        ("o5", "us", "Oslo", 20, vec!["c", "a"]),
        ("o6", "asia", "Lima", 60, vec!["b"]),
    ] {
        let doc = json!({"id": id, "pk": pk, "city": city, "total": total, "tags": tags});
        orders.create_item(pk, &doc).await.unwrap();
    }
    // Two ranges: "asia" in range 1, "eu" and "us" in range 2, so Lima (o2 in one range, o6
    // in the other) is one distinct value and one group only once the driver merges them.
    let children = emulator
        .split_range(("shop", "orders"), "0", std::time::Duration::ZERO)
        .unwrap();
    assert_eq!(children, ["1", "2"]);

    // DISTINCT, unordered (any order) and ordered (with ORDER BY), in pages of two.
    assert_eq!(
        sorted(all(&orders, "SELECT DISTINCT VALUE c.city FROM c").await),
        vec![json!("Lima"), json!("Oslo"), json!("Rome")]
    );
    assert_eq!(
        all(
            &orders,
            "SELECT DISTINCT VALUE c.city FROM c ORDER BY c.city DESC"
        )
        .await,
        vec![json!("Rome"), json!("Oslo"), json!("Lima")]
    );
    assert_eq!(
        sorted(all(&orders, "SELECT DISTINCT c.city, c.pk FROM c").await).len(),
        5
    );

    // GROUP BY with aggregates, combined per group.
    assert_eq!(
        sorted(
            all(
                &orders,
                "SELECT c.city, COUNT(1) AS n, SUM(c.total) AS total, AVG(c.total) AS mean FROM c GROUP BY c.city",
            )
            .await
        ),
        vec![
            json!({"city": "Lima", "n": 2, "total": 130, "mean": 65.0}),
            json!({"city": "Oslo", "n": 3, "total": 60, "mean": 20.0}),
            json!({"city": "Rome", "n": 1, "total": 50, "mean": 50.0}),
        ]
    );
    assert_eq!(
        sorted(all(&orders, "SELECT VALUE MAX(c.total) FROM c GROUP BY c.pk").await),
        vec![json!(30), json!(60), json!(70)]
    );
    // A field-list aggregate without GROUP BY is one group across partitions.
    assert_eq!(
        all(&orders, "SELECT COUNT(1) AS n, MIN(c.total) AS low FROM c").await,
        vec![json!({"n": 6, "low": 10})]
    );

    // JOIN and subqueries need no merge: the plan passes them through.
    assert_eq!(
        sorted(
            all(
                &orders,
                "SELECT VALUE t FROM c JOIN t IN c.tags WHERE c.city = 'Oslo'"
            )
            .await
        ),
        vec![json!("a"), json!("a"), json!("b"), json!("c")]
    );
    assert_eq!(
        sorted(
            all(
                &orders,
                "SELECT VALUE c.id FROM c WHERE EXISTS(SELECT VALUE t FROM t IN c.tags WHERE t = 'a')",
            )
            .await
        ),
        vec![json!("o1"), json!("o4"), json!("o5")]
    );
    assert_eq!(
        sorted(all(&orders, "SELECT DISTINCT VALUE t FROM c JOIN t IN c.tags").await),
        vec![json!("a"), json!("b"), json!("c")]
    );
    emulator.shutdown().await;
}
