//! Continuations of read feeds and queries are positions, not offsets: an item written
//! before the cursor is neither repeated nor makes the next page skip one; a token of
//! another query, or none the emulator issued, is refused (400).

use http::Method;
use meridian_emulator::Emulator;
use serde_json::{Value, json};

use crate::client::{DOCS, Items, Reply, TestClient};
use crate::data_plane::start_with_container;
use crate::query::query;

fn ids(reply: &Reply) -> Vec<String> {
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    reply.json()["Documents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap().to_string())
        .collect()
}

fn continuation(reply: &Reply) -> String {
    reply.headers["x-ms-continuation"]
        .to_str()
        .unwrap()
        .to_string()
}

async fn read_feed(client: &TestClient, base: &str, token: Option<&str>) -> Reply {
    let mut headers = vec![("x-ms-max-item-count", "2")];
    headers.extend(token.map(|t| ("x-ms-continuation", t)));
    let url = format!("{base}dbs/db/colls/c/docs");
    client
        .send(Method::GET, &url, Some(DOCS), &headers, None)
        .await
        .unwrap()
}

async fn ordered(client: &TestClient, base: &str, text: &str, token: Option<&str>) -> Reply {
    let mut headers = vec![
        ("x-ms-max-item-count", "2"),
        ("x-ms-documentdb-query-enablecrosspartition", "True"),
    ];
    headers.extend(token.map(|t| ("x-ms-continuation", t)));
    query(client, base, json!({"query": text}), &headers).await
}

#[tokio::test]
async fn a_continuation_does_not_repeat_an_item_after_an_insert() {
    let (_emulator, client, base) = start_with_container(Emulator::builder()).await;
    let items = Items::new(&client, &base, "p");
    for (id, n) in [("b", 5), ("c", 4), ("d", 3), ("e", 2), ("f", 1)] {
        assert_eq!(
            items
                .create(json!({"id": id, "pk": "p", "n": n}))
                .await
                .status,
            201
        );
    }
    // The read feed, in key order: an item inserted before the cursor is not repeated.
    let first = read_feed(&client, &base, None).await;
    assert_eq!(ids(&first), ["b", "c"]);
    items.create(json!({"id": "a", "pk": "p", "n": 9})).await;
    let second = read_feed(&client, &base, Some(&continuation(&first))).await;
    assert_eq!(ids(&second), ["d", "e"], "neither c again nor a skip");
    // A deleted cursor item does not lose the place either.
    items.delete("e", &[]).await;
    let third = read_feed(&client, &base, Some(&continuation(&second))).await;
    assert_eq!(ids(&third), ["f"]);
    assert!(
        third.headers.get("x-ms-continuation").is_none(),
        "the last page"
    );

    // ORDER BY (descending): an item that sorts before the cursor is not repeated.
    let text = "SELECT * FROM c ORDER BY c.n DESC";
    let page = ordered(&client, &base, text, None).await;
    assert_eq!(ids(&page), ["a", "b"]);
    items.create(json!({"id": "g", "pk": "p", "n": 7})).await;
    let next = ordered(&client, &base, text, Some(&continuation(&page))).await;
    assert_eq!(ids(&next), ["c", "d"]);
    let rest = ordered(&client, &base, text, Some(&continuation(&next))).await;
    assert_eq!(ids(&rest), ["f"]);

    // Another query's token, a read feed's, an offset and garbage: 400.
    let other = ordered(
        &client,
        &base,
        "SELECT * FROM c ORDER BY c.id",
        Some(&continuation(&page)),
    )
    .await;
    assert_eq!(other.status, 400, "{:?}", other.body);
    let feed_token = ordered(&client, &base, text, Some(&continuation(&first))).await;
    assert_eq!(feed_token.status, 400);
    for token in ["meridian-offset:2", "meridian-pos:%%%", "nonsense"] {
        let refused = read_feed(&client, &base, Some(token)).await;
        assert_eq!(refused.status, 400, "{token}");
        let body: Value = refused.json();
        assert!(body["message"].as_str().unwrap().contains("continuation"));
    }
}
