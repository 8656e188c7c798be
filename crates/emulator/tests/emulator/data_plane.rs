//! Point operations: create/read databases, containers and items; 409, 404, 412, 403/3.

use http::Method;
use meridian_emulator::{Emulator, EmulatorBuilder};
use serde_json::json;

use crate::client::{
    COLLECTION, COLLECTIONS, DATABASE, DATABASES, DOCS, Items, Signed, TestClient,
};
use crate::start;

/// Starts an emulator from `builder` with database `db` and container `c` (partition key
/// `/pk`) set up: the emulator, a client with its key and its global endpoint (for
/// `Items::new(&client, &base, pk)`, which borrows them).
pub async fn start_with_container(builder: EmulatorBuilder) -> (Emulator, TestClient, String) {
    let emulator = builder.start().await.unwrap();
    let client = TestClient::new(emulator.key());
    let base = emulator.global_endpoint();
    setup(&client, &base).await;
    (emulator, client, base)
}

pub async fn setup(client: &TestClient, base: &str) {
    let db = client
        .signed(
            Method::POST,
            &format!("{base}dbs"),
            DATABASES,
            Some(json!({"id": "db"})),
        )
        .await;
    assert_eq!(db.status, 201);
    let coll = client
        .signed(
            Method::POST,
            &format!("{base}dbs/db/colls"),
            COLLECTIONS,
            Some(json!({"id": "c", "partitionKey": {"paths": ["/pk"], "kind": "Hash"}})),
        )
        .await;
    assert_eq!(coll.status, 201);
}

#[tokio::test]
async fn item_crud_semantics() {
    let (emulator, client) = start().await;
    let base = emulator.global_endpoint();
    setup(&client, &base).await;
    let items = Items::new(&client, &base, "p1");
    let doc = json!({"id": "a", "pk": "p1", "n": 1});

    let created = items.create(doc.clone()).await;
    assert_eq!(created.status, 201);
    let body = created.json();
    for field in ["_rid", "_self", "_etag", "_ts"] {
        assert!(body.get(field).is_some(), "system property {field}");
    }
    let etag = body["_etag"].as_str().unwrap().to_string();
    assert_eq!(created.headers["etag"], etag.as_str());

    assert_eq!(items.create(doc.clone()).await.status, 409);
    let read = items.read("a").await;
    assert_eq!(
        (read.status.as_u16(), read.json()["n"].clone()),
        (200, json!(1))
    );
    assert_eq!(items.read("missing").await.status, 404);

    let if_match = [("if-match", etag.as_str())];
    let replaced = items
        .replace("a", &if_match, json!({"id": "a", "pk": "p1", "n": 2}))
        .await;
    assert_eq!(replaced.status, 200);
    let stale = items
        .replace("a", &if_match, json!({"id": "a", "pk": "p1", "n": 3}))
        .await;
    assert_eq!(stale.status, 412, "If-Match with the old etag");
    assert_eq!(items.delete("a", &if_match).await.status, 412);

    let existing = json!({"id": "a", "pk": "p1", "n": 4});
    assert_eq!(items.upsert(existing).await.status, 200);
    let fresh = json!({"id": "b", "pk": "p1"});
    assert_eq!(items.upsert(fresh).await.status, 201);
    assert_eq!(items.read("a").await.json()["n"], 4);

    assert_eq!(items.delete("a", &[]).await.status, 204);
    assert_eq!(items.delete("a", &[]).await.status, 404);
    let gone = json!({"id": "a", "pk": "p1"});
    assert_eq!(items.replace("a", &[], gone).await.status, 404);

    let error = items.read("a").await.json();
    assert!(
        error["code"].is_string() && error["message"].is_string(),
        "service-style error body"
    );
}

#[tokio::test]
async fn bad_requests_are_answered_not_crashed_on() {
    let (emulator, client) = start().await;
    let base = emulator.global_endpoint();
    setup(&client, &base).await;
    let items = Items::new(&client, &base, "p1");
    let url = format!("{base}dbs/db/colls/c/docs");
    // Missing partition key header.
    let reply = client
        .signed(
            Method::POST,
            &url,
            DOCS,
            Some(json!({"id": "x", "pk": "p1"})),
        )
        .await;
    assert_eq!(reply.status, 400);
    // Header and body disagree.
    let other = json!({"id": "x", "pk": "other"});
    assert_eq!(items.create(other).await.status, 400);
    // Not an object / no id.
    assert_eq!(items.create(json!([1])).await.status, 400);
    assert_eq!(items.create(json!({"pk": "p1"})).await.status, 400);
    // Malformed JSON body.
    let raw = client
        .send(
            Method::POST,
            &format!("{base}dbs"),
            Some(crate::client::DATABASES),
            &[],
            None,
        )
        .await
        .unwrap();
    assert_eq!(raw.status, 400);
    // Oversized body: 413.
    let big = json!({"id": "big", "pk": "p1", "blob": "x".repeat(3 * 1024 * 1024)});
    assert_eq!(items.create(big).await.status, 413);
    // Missing parents, duplicate containers, unknown paths and methods.
    let missing = client
        .get(&format!("{base}dbs/nope"), Signed::new("dbs", "dbs/nope"))
        .await;
    assert_eq!(missing.status, 404);
    let dup = client
        .signed(
            Method::POST,
            &format!("{base}dbs/db/colls"),
            COLLECTIONS,
            Some(json!({"id": "c", "partitionKey": {"paths": ["/pk"]}})),
        )
        .await;
    assert_eq!(dup.status, 409);
    assert_eq!(
        client
            .send(Method::GET, &format!("{base}nothing/here"), None, &[], None)
            .await
            .unwrap()
            .status,
        404
    );
    let patch = client
        .signed(Method::PATCH, &format!("{base}dbs/db"), DATABASE, None)
        .await;
    assert_eq!(patch.status, 405);
    let read = client
        .get(&format!("{base}dbs/db/colls/c"), COLLECTION)
        .await;
    assert_eq!(read.json()["partitionKey"]["paths"][0], "/pk");
}

#[tokio::test]
async fn writes_outside_the_write_region_are_403_3_and_reads_work_everywhere() {
    let (emulator, client) = start().await;
    let global = emulator.global_endpoint();
    setup(&client, &global).await;
    let west = emulator.region_endpoint("West US").unwrap();
    let east = emulator.region_endpoint("East US").unwrap();
    let in_west = Items::new(&client, &west, "p1");
    let in_east = Items::new(&client, &east, "p1");
    let w = json!({"id": "w", "pk": "p1"});
    assert_eq!(in_west.create(w).await.status, 201);
    let refused = in_east.create(json!({"id": "e", "pk": "p1"})).await;
    assert_eq!(
        (refused.status.as_u16(), refused.sub_status()),
        (403, Some(3))
    );
    // Replication is immediate: the item is readable in every region.
    assert_eq!(in_east.read("w").await.status, 200);

    emulator.failover("East US").unwrap();
    let e = json!({"id": "e", "pk": "p1"});
    assert_eq!(in_east.create(e).await.status, 201);
    let old = in_west.delete("w", &[]).await;
    assert_eq!((old.status.as_u16(), old.sub_status()), (403, Some(3)));
    // The global endpoint behaves as the current write region.
    let in_global = Items::new(&client, &global, "p1");
    assert_eq!(in_global.delete("w", &[]).await.status, 204);
}

#[tokio::test]
async fn multi_write_accepts_writes_in_every_region() {
    let emulator = meridian_emulator::Emulator::builder()
        .multi_write(true)
        .start()
        .await
        .unwrap();
    let client = TestClient::new(emulator.key());
    setup(&client, &emulator.global_endpoint()).await;
    for (i, region) in ["West US", "East US", "North Europe"]
        .into_iter()
        .enumerate()
    {
        let url = emulator.region_endpoint(region).unwrap();
        let id = format!("i{i}");
        let created = Items::new(&client, &url, "p1")
            .create(json!({"id": id, "pk": "p1"}))
            .await;
        assert_eq!(created.status, 201, "{region}");
    }
}
