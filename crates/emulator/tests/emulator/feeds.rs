//! Feeds, management and the headers SDKs read: pkranges, read feed, database and
//! container lists and deletes, PATCH, session tokens, `prefer: return=minimal`.

use http::Method;
use serde_json::{Value, json};

use crate::client::{
    COLLECTION, COLLECTIONS, DATABASE, DATABASES, DOCS, Items, Reply, Signed, TestClient,
};
use crate::data_plane::setup;
use crate::start;

/// A signed `GET` of `url`, with `headers`.
async fn get(
    client: &TestClient,
    url: &str,
    signed: Signed<'_>,
    headers: &[(&str, &str)],
) -> Reply {
    client
        .send(Method::GET, url, Some(signed), headers, None)
        .await
        .unwrap()
}

/// Creates item `id` in partition `pk`, with `n` 1 and `tags` `["a"]`.
async fn create(
    client: &TestClient,
    base: &str,
    id: &str,
    pk: &str,
    headers: &[(&str, &str)],
) -> Reply {
    let body = json!({"id": id, "pk": pk, "n": 1, "tags": ["a"]});
    let items = Items::new(client, base, pk);
    items.send(Method::POST, None, headers, Some(body)).await
}

/// `method` on container `c` at `base`, signed, without a body.
async fn on_container(client: &TestClient, method: Method, base: &str) -> Reply {
    let url = format!("{base}dbs/db/colls/c");
    client.signed(method, &url, COLLECTION, None).await
}

/// A patch that sets `/x` to 1.
fn set_x() -> Value {
    json!({"operations": [{"op": "set", "path": "/x", "value": 1}]})
}

fn session_lsn(reply: &Reply) -> u64 {
    let token = reply.headers["x-ms-session-token"].to_str().unwrap();
    let lsn = token
        .strip_prefix("0:-1#")
        .unwrap_or_else(|| panic!("token {token}"));
    lsn.parse().unwrap()
}

#[tokio::test]
async fn pkranges_have_the_service_shape_and_an_etag() {
    let (emulator, client) = start().await;
    let base = emulator.global_endpoint();
    setup(&client, &base).await;
    let url = format!("{base}dbs/db/colls/c/pkranges");
    let signed = || Signed::new("pkranges", "dbs/db/colls/c");
    let incremental = ("a-im", "Incremental Feed");
    let first = get(&client, &url, signed(), &[incremental]).await;
    assert_eq!(first.status, 200);
    let body = first.json();
    assert_eq!(body["_count"], 1);
    let range = &body["PartitionKeyRanges"][0];
    assert_eq!(range["id"], "0");
    assert_eq!(range["minInclusive"], "");
    assert_eq!(range["maxExclusive"], "FF");
    assert_eq!(range["parents"], json!([]));
    assert_eq!(range["status"], "online");
    for field in ["_rid", "ridPrefix", "throughputFraction", "_etag", "_self"] {
        assert!(range.get(field).is_some(), "{field}");
    }
    assert_eq!(first.headers["x-ms-item-count"], "1");
    let etag = first.headers["etag"].to_str().unwrap().to_string();

    let if_none_match = [incremental, ("if-none-match", &etag)];
    let unchanged = get(&client, &url, signed(), &if_none_match).await;
    assert_eq!(unchanged.status, 304);
    assert!(unchanged.body.is_empty());
    let if_none_match = [incremental, ("if-none-match", "\"other\"")];
    let stale = get(&client, &url, signed(), &if_none_match).await;
    assert_eq!(stale.status, 200);

    let missing = client
        .signed(
            Method::GET,
            &format!("{base}dbs/db/colls/nope/pkranges"),
            Signed::new("pkranges", "dbs/db/colls/nope"),
            None,
        )
        .await;
    assert_eq!(missing.status, 404);
}

#[tokio::test]
async fn read_feed_pages_through_items() {
    let (emulator, client) = start().await;
    let base = emulator.global_endpoint();
    setup(&client, &base).await;
    for (id, pk) in [("a", "p1"), ("b", "p1"), ("c", "p2")] {
        assert_eq!(create(&client, &base, id, pk, &[]).await.status, 201);
    }
    let url = format!("{base}dbs/db/colls/c/docs");
    let first = get(&client, &url, DOCS, &[("x-ms-max-item-count", "2")]).await;
    assert_eq!(first.status, 200);
    assert_eq!(first.json()["Documents"].as_array().unwrap().len(), 2);
    assert_eq!(first.headers["x-ms-item-count"], "2");
    let token = first.headers["x-ms-continuation"]
        .to_str()
        .unwrap()
        .to_string();
    let page = [("x-ms-max-item-count", "2"), ("x-ms-continuation", &token)];
    let second = get(&client, &url, DOCS, &page).await;
    assert_eq!(second.json()["_count"], 1);
    assert!(second.headers.get("x-ms-continuation").is_none());
    let p1 = get(
        &client,
        &url,
        DOCS,
        &[("x-ms-documentdb-partitionkey", "[\"p1\"]")],
    )
    .await;
    assert_eq!(p1.json()["_count"], 2);
}

#[tokio::test]
async fn database_and_container_feeds_and_deletes() {
    let (emulator, client) = start().await;
    let base = emulator.global_endpoint();
    setup(&client, &base).await;
    let dbs = client
        .signed(Method::GET, &format!("{base}dbs"), DATABASES, None)
        .await;
    assert_eq!(dbs.status, 200);
    assert_eq!(dbs.json()["Databases"][0]["id"], "db");
    assert_eq!(dbs.json()["_count"], 1);
    let colls = client
        .signed(
            Method::GET,
            &format!("{base}dbs/db/colls"),
            COLLECTIONS,
            None,
        )
        .await;
    assert_eq!(colls.json()["DocumentCollections"][0]["id"], "c");
    assert_eq!(colls.headers["x-ms-item-count"], "1");

    // Deletes are writes: refused in a read region, done in the write region.
    let east = emulator.region_endpoint("East US").unwrap();
    let refused = on_container(&client, Method::DELETE, &east).await;
    assert_eq!(
        (refused.status.as_u16(), refused.sub_status()),
        (403, Some(3))
    );
    let deleted = on_container(&client, Method::DELETE, &base).await;
    assert_eq!(deleted.status, 204);
    let gone = on_container(&client, Method::GET, &base).await;
    assert_eq!(gone.status, 404);
    let again = on_container(&client, Method::DELETE, &base).await;
    assert_eq!(again.status, 404);

    assert_eq!(
        client
            .signed(Method::DELETE, &format!("{base}dbs/db"), DATABASE, None)
            .await
            .status,
        204
    );
    assert_eq!(
        client
            .signed(Method::GET, &format!("{base}dbs/db"), DATABASE, None)
            .await
            .status,
        404
    );
    let empty = client
        .signed(Method::GET, &format!("{base}dbs"), DATABASES, None)
        .await;
    assert_eq!(empty.json()["_count"], 0);
}

#[tokio::test]
async fn patch_applies_operations_and_conditions() {
    let (emulator, client) = start().await;
    let base = emulator.global_endpoint();
    setup(&client, &base).await;
    let items = Items::new(&client, &base, "p1");
    let created = create(&client, &base, "a", "p1", &[]).await;
    let etag = created.json()["_etag"].as_str().unwrap().to_string();
    let ops = json!({"operations": [
        {"op": "add", "path": "/tags/-", "value": "b"},
        {"op": "set", "path": "/color", "value": "red"},
        {"op": "replace", "path": "/n", "value": 10},
        {"op": "incr", "path": "/n", "value": 5},
        {"op": "incr", "path": "/hits", "value": 1},
        {"op": "remove", "path": "/tags/0"},
    ]});
    let patched = items.patch("a", &[], ops).await;
    assert_eq!(patched.status, 200, "{:?}", patched.body);
    let body = patched.json();
    assert_eq!(
        (body["n"].clone(), body["hits"].clone()),
        (json!(15), json!(1))
    );
    assert_eq!(
        (body["color"].clone(), body["tags"].clone()),
        (json!("red"), json!(["b"]))
    );
    assert_ne!(body["_etag"], etag.as_str(), "a patch is a new version");
    assert_eq!(patched.headers["etag"], body["_etag"].as_str().unwrap());

    let condition =
        |c: &str| json!({"operations": [{"op": "set", "path": "/x", "value": 1}], "condition": c});
    let failed = items
        .patch("a", &[], condition("FROM c WHERE c.n > 100"))
        .await;
    assert_eq!(failed.status, 412);
    let held = items
        .patch("a", &[], condition("from c where c.n = 15"))
        .await;
    assert_eq!(held.status, 200);
    let if_match = [("if-match", etag.as_str())];
    let stale = items.patch("a", &if_match, condition("FROM c")).await;
    assert_eq!(stale.status, 412, "If-Match applies to PATCH too");

    for bad in [
        json!({"operations": [{"op": "replace", "path": "/missing", "value": 1}]}),
        json!({"operations": [{"op": "remove", "path": "/missing"}]}),
        json!({"operations": [{"op": "incr", "path": "/color", "value": 1}]}),
        json!({"operations": [{"op": "set", "path": "/pk", "value": "p2"}]}),
        json!({"operations": [{"op": "set", "path": "/id", "value": "b"}]}),
        json!({"operations": []}),
        json!({"operations": [{"op": "set", "path": "/x", "value": 1}], "condition": "FROM c WHERE JOIN"}),
    ] {
        let reply = items.patch("a", &[], bad.clone()).await;
        assert_eq!(reply.status, 400, "{bad}");
    }
    let missing = items.patch("nope", &[], condition("FROM c")).await;
    assert_eq!(missing.status, 404);
    // The bare array of operations (Node's SDK sends that) is accepted too.
    let bare = json!([{"op": "set", "path": "/bare", "value": true}]);
    let reply = items.patch("a", &[], bare).await;
    assert_eq!(
        (reply.status.as_u16(), reply.json()["bare"].clone()),
        (200, json!(true))
    );
    // All or nothing: the refused patches left the item as it was.
    let read = items.read("a").await;
    assert_eq!(
        (read.json()["n"].clone(), read.json()["x"].clone()),
        (json!(15), json!(1))
    );

    let east = emulator.region_endpoint("East US").unwrap();
    let in_east = Items::new(&client, &east, "p1");
    let refused = in_east.patch("a", &[], condition("FROM c")).await;
    assert_eq!(
        (refused.status.as_u16(), refused.sub_status()),
        (403, Some(3))
    );
}

#[tokio::test]
async fn session_tokens_grow_with_each_write_and_reads_carry_them() {
    let (emulator, client) = start().await;
    let base = emulator.global_endpoint();
    setup(&client, &base).await;
    let first = create(&client, &base, "a", "p1", &[]).await;
    let second = create(&client, &base, "b", "p1", &[]).await;
    let (one, two) = (session_lsn(&first), session_lsn(&second));
    assert!(two > one, "{one} then {two}");
    let items = Items::new(&client, &base, "p1");
    let patched = items.patch("a", &[], set_x()).await;
    let three = session_lsn(&patched);
    assert!(three > two);
    let read = items.read("a").await;
    assert_eq!(session_lsn(&read), three, "a read does not advance the LSN");
    for header in ["x-ms-activity-id", "x-ms-request-charge", "etag"] {
        assert!(read.headers.contains_key(header), "{header}");
    }
    assert_eq!(read.headers["etag"], read.json()["_etag"].as_str().unwrap());
}

#[tokio::test]
async fn prefer_return_minimal_omits_the_body_of_writes() {
    let (emulator, client) = start().await;
    let base = emulator.global_endpoint();
    setup(&client, &base).await;
    let minimal = ("prefer", "return=minimal");
    let created = create(&client, &base, "a", "p1", &[minimal]).await;
    assert_eq!(created.status, 201);
    assert!(created.body.is_empty());
    assert!(created.headers.contains_key("etag"));
    assert!(created.headers.contains_key("x-ms-session-token"));
    let patched = Items::new(&client, &base, "p1")
        .patch("a", &[minimal], set_x())
        .await;
    assert_eq!(patched.status, 200);
    assert!(patched.body.is_empty());
    let full = create(&client, &base, "b", "p1", &[]).await;
    assert_eq!(full.json()["id"], "b");
}
