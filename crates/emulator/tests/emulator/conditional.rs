//! Conditional requests as the service has them: `If-None-Match` on reads (304 with the
//! etag), `If-None-Match: *` on creates and upserts, `If-Match` on every write.

use http::Method;
use serde_json::json;

use crate::client::Items;
use crate::data_plane::start_with_container;
use meridian_emulator::Emulator;

#[tokio::test]
async fn if_none_match_on_read_answers_304() {
    let (_emulator, client, base) = start_with_container(Emulator::builder()).await;
    let items = Items::new(&client, &base, "p");
    let created = items.create(json!({"id": "a", "pk": "p", "n": 1})).await;
    let etag = created.json()["_etag"].as_str().unwrap().to_string();

    let same = items
        .send(Method::GET, Some("a"), &[("if-none-match", &etag)], None)
        .await;
    assert_eq!(same.status, 304, "the etag is current");
    assert!(same.body.is_empty(), "a 304 has no body");
    assert_eq!(same.headers["etag"], etag.as_str());

    items
        .replace("a", &[], json!({"id": "a", "pk": "p", "n": 2}))
        .await;
    let changed = items
        .send(Method::GET, Some("a"), &[("if-none-match", &etag)], None)
        .await;
    assert_eq!(changed.status, 200, "the item changed since");
    assert_eq!(changed.json()["n"], 2);
    assert_ne!(changed.headers["etag"], etag.as_str());
}

#[tokio::test]
async fn create_with_if_none_match_star_refuses_an_existing_item() {
    let (_emulator, client, base) = start_with_container(Emulator::builder()).await;
    let items = Items::new(&client, &base, "p");
    let star = [("if-none-match", "*")];
    let upsert = [
        ("x-ms-documentdb-is-upsert", "true"),
        ("if-none-match", "*"),
    ];
    let first = items
        .send(
            Method::POST,
            None,
            &upsert,
            Some(json!({"id": "a", "pk": "p", "n": 1})),
        )
        .await;
    assert_eq!(first.status, 201, "no such item yet: the upsert creates it");

    let again = items
        .send(
            Method::POST,
            None,
            &upsert,
            Some(json!({"id": "a", "pk": "p", "n": 2})),
        )
        .await;
    assert_eq!(again.status, 412, "{:?}", again.body);
    let create = items
        .send(
            Method::POST,
            None,
            &star,
            Some(json!({"id": "a", "pk": "p", "n": 3})),
        )
        .await;
    assert_eq!(create.status, 412, "{:?}", create.body);
    assert_eq!(
        items.read("a").await.json()["n"],
        1,
        "the item is untouched"
    );

    // If-Match on the other writes: a stale etag is refused, `*` matches any item.
    let etag = items.read("a").await.json()["_etag"]
        .as_str()
        .unwrap()
        .to_string();
    let stale = [("if-match", "\"stale\"")];
    let body = json!({"id": "a", "pk": "p", "n": 4});
    assert_eq!(items.replace("a", &stale, body.clone()).await.status, 412);
    let ops = json!({"operations": [{"op": "set", "path": "/n", "value": 5}]});
    assert_eq!(items.patch("a", &stale, ops.clone()).await.status, 412);
    assert_eq!(items.delete("a", &stale).await.status, 412);
    let stale_upsert = [
        ("x-ms-documentdb-is-upsert", "true"),
        ("if-match", "\"stale\""),
    ];
    let upserted = items
        .send(Method::POST, None, &stale_upsert, Some(body.clone()))
        .await;
    assert_eq!(upserted.status, 412);
    assert_eq!(
        items.replace("a", &[("if-match", "*")], body).await.status,
        200
    );
    assert_eq!(
        items.patch("a", &[("if-match", "*")], ops).await.status,
        200
    );
    assert_ne!(items.read("a").await.json()["_etag"], etag.as_str());
}
