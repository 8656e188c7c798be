//! The resource model the official SDKs expect (issue 31): hierarchical partition keys,
//! base64 rids and rid-based `_self` links, the content-path headers, database and
//! container queries, a sub-status on every error, the container's default policies.

use http::Method;
use meridian_emulator::Emulator;
use serde_json::{Value, json};

use crate::client::{COLLECTION, COLLECTIONS, DATABASES, Items, Signed, TestClient};
use crate::data_plane::setup;
use crate::start;

/// Creates container `h` in database `db` with a two-level MultiHash key `/a`, `/b`.
async fn multihash(client: &TestClient, base: &str) -> Value {
    let body = json!({"id": "h", "partitionKey": {"paths": ["/a", "/b"], "kind": "MultiHash", "version": 2}});
    let reply = client
        .signed(
            Method::POST,
            &format!("{base}dbs/db/colls"),
            COLLECTIONS,
            Some(body),
        )
        .await;
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    reply.json()
}

/// Sends to container `h`'s items (`id` `None`: the feed) with `pk` as the key header.
async fn h_items(
    client: &TestClient,
    base: &str,
    method: Method,
    id: Option<&str>,
    pk: &str,
    extra: &[(&str, &str)],
    body: Option<Value>,
) -> crate::client::Reply {
    let link = match id {
        Some(id) => format!("dbs/db/colls/h/docs/{id}"),
        None => "dbs/db/colls/h".to_string(),
    };
    let path = id.map_or("dbs/db/colls/h/docs".to_string(), |_| link.clone());
    let mut headers = vec![("x-ms-documentdb-partitionkey", pk)];
    headers.extend_from_slice(extra);
    client
        .send(
            method,
            &format!("{base}{path}"),
            Some(Signed::new("docs", &link)),
            &headers,
            body,
        )
        .await
        .unwrap()
}

#[tokio::test]
async fn multihash_containers_accept_full_and_prefix_keys() {
    let (emulator, client) = start().await;
    let base = emulator.global_endpoint();
    setup(&client, &base).await;
    let created = multihash(&client, &base).await;
    assert_eq!(created["partitionKey"]["kind"], "MultiHash");
    for (id, a, b) in [("1", "x", "p"), ("2", "x", "q"), ("3", "y", "p")] {
        let pk = format!("[\"{a}\",\"{b}\"]");
        let item = json!({"id": id, "a": a, "b": b});
        let reply = h_items(&client, &base, Method::POST, None, &pk, &[], Some(item)).await;
        assert_eq!(reply.status, 201, "{:?}", reply.body);
    }
    // The full key reads the item; a key that is not the item's is refused on write.
    let read = h_items(
        &client,
        &base,
        Method::GET,
        Some("2"),
        r#"["x","q"]"#,
        &[],
        None,
    )
    .await;
    assert_eq!(read.status, 200);
    assert_eq!(read.json()["b"], "q");
    let wrong = json!({"id": "4", "a": "x", "b": "p"});
    let reply = h_items(
        &client,
        &base,
        Method::POST,
        None,
        r#"["x","q"]"#,
        &[],
        Some(wrong),
    )
    .await;
    assert_eq!(reply.status, 400);
    // A prefix scopes a query and a read feed to every item under it.
    let query = json!({"query": "SELECT VALUE c.id FROM c", "parameters": []});
    let headers = [
        ("x-ms-documentdb-isquery", "true"),
        ("content-type", "application/query+json"),
    ];
    let reply = h_items(
        &client,
        &base,
        Method::POST,
        None,
        r#"["x"]"#,
        &headers,
        Some(query.clone()),
    )
    .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(reply.json()["Documents"], json!(["1", "2"]));
    let reply = h_items(
        &client,
        &base,
        Method::POST,
        None,
        r#"["y","p"]"#,
        &headers,
        Some(query),
    )
    .await;
    assert_eq!(reply.json()["Documents"], json!(["3"]));
    let feed = h_items(&client, &base, Method::GET, None, r#"["x"]"#, &[], None).await;
    assert_eq!(feed.json()["_count"], 2);
    // A batch runs in one whole key: a prefix is refused for the whole request.
    let ops = json!([{"operationType": "Read", "id": "1"}]);
    let batch = [
        ("x-ms-cosmos-is-batch-request", "True"),
        ("x-ms-cosmos-batch-atomic", "True"),
    ];
    let whole = h_items(
        &client,
        &base,
        Method::POST,
        None,
        r#"["x","p"]"#,
        &batch,
        Some(ops.clone()),
    )
    .await;
    assert_eq!(whole.status, 200, "{:?}", whole.body);
    let prefix = h_items(
        &client,
        &base,
        Method::POST,
        None,
        r#"["x"]"#,
        &batch,
        Some(ops),
    )
    .await;
    assert_eq!(prefix.status, 400);
    assert!(String::from_utf8_lossy(&prefix.body).contains("Partition key provided either"));
    // Still one path for Hash, at most three for MultiHash.
    for pk in [
        json!({"paths": ["/a", "/b"], "kind": "Hash"}),
        json!({"paths": ["/a", "/b", "/c", "/d"], "kind": "MultiHash", "version": 2}),
    ] {
        let body = json!({"id": "bad", "partitionKey": pk});
        let reply = client
            .signed(
                Method::POST,
                &format!("{base}dbs/db/colls"),
                COLLECTIONS,
                Some(body),
            )
            .await;
        assert_eq!(reply.status, 400);
    }
}

/// Decodes a rid (base64 with `-` for `/`).
fn rid_bytes(rid: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(rid.replace('-', "/"))
        .unwrap()
}

#[tokio::test]
async fn items_have_base64_rids_and_id_based_self_links() {
    let (emulator, client) = start().await;
    let base = emulator.global_endpoint();
    setup(&client, &base).await;
    let db = client
        .get(&format!("{base}dbs/db"), Signed::new("dbs", "dbs/db"))
        .await
        .json();
    let coll = client
        .get(&format!("{base}dbs/db/colls/c"), COLLECTION)
        .await
        .json();
    let items = Items::new(&client, &base, "p");
    let item = items.create(json!({"id": "a", "pk": "p"})).await.json();
    let [db_rid, coll_rid, item_rid] =
        [&db, &coll, &item].map(|r| r["_rid"].as_str().unwrap().to_string());
    assert_eq!(rid_bytes(&db_rid).len(), 4);
    assert_eq!(rid_bytes(&coll_rid)[..4], rid_bytes(&db_rid)[..]);
    assert_eq!(rid_bytes(&item_rid)[..8], rid_bytes(&coll_rid)[..]);
    assert_eq!(rid_bytes(&item_rid).len(), 16);
    assert_eq!(db["_self"], format!("dbs/{db_rid}/"));
    assert_eq!(coll["_self"], format!("dbs/{db_rid}/colls/{coll_rid}/"));
    assert_eq!(
        item["_self"],
        format!("dbs/{db_rid}/colls/{coll_rid}/docs/{item_rid}/")
    );
    // A replace keeps the item's rid; the item stays addressable by its id.
    let replaced = items
        .replace("a", &[], json!({"id": "a", "pk": "p", "n": 1}))
        .await;
    assert_eq!(replaced.json()["_rid"], item_rid.as_str());
    assert_eq!(items.read("a").await.json()["_self"], item["_self"]);
    // Addressable by its `_self` link too, signed with its rid (as SDKs sign rid paths).
    let by_rid = format!("{base}{}", item["_self"].as_str().unwrap());
    let pk = [("x-ms-documentdb-partitionkey", r#"["p"]"#)];
    // SDKs sign a rid path's rid in lower case.
    let lower = item_rid.to_lowercase();
    let signed = Signed::new("docs", &lower);
    let read = client
        .send(Method::GET, &by_rid, Some(signed), &pk, None)
        .await
        .unwrap();
    assert_eq!(read.status, 200, "{:?}", read.body);
    assert_eq!(read.json()["id"], "a");
    let signed = Signed::new("docs", &lower);
    let deleted = client
        .send(Method::DELETE, &by_rid, Some(signed), &pk, None)
        .await
        .unwrap();
    assert_eq!(deleted.status, 204);
    assert_eq!(items.read("a").await.status, 404);
}

#[tokio::test]
async fn item_responses_carry_the_content_path_headers() {
    let (emulator, client) = start().await;
    let base = emulator.global_endpoint();
    setup(&client, &base).await;
    let coll = client
        .get(&format!("{base}dbs/db/colls/c"), COLLECTION)
        .await
        .json();
    let items = Items::new(&client, &base, "p");
    for reply in [
        items.create(json!({"id": "a", "pk": "p"})).await,
        items.read("a").await,
        items.send(Method::GET, None, &[], None).await,
    ] {
        assert_eq!(reply.headers["x-ms-alt-content-path"], "dbs/db/colls/c");
        assert_eq!(
            reply.headers["x-ms-content-path"],
            coll["_rid"].as_str().unwrap()
        );
    }
}

async fn query_feed(client: &TestClient, url: &str, signed: Signed<'_>, sql: &str) -> Value {
    let body = json!({"query": sql, "parameters": [{"name": "@id", "value": "db"}]});
    let headers = [
        ("x-ms-documentdb-isquery", "true"),
        ("content-type", "application/query+json"),
    ];
    let reply = client
        .send(Method::POST, url, Some(signed), &headers, Some(body))
        .await
        .unwrap();
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    reply.json()
}

#[tokio::test]
async fn database_and_container_queries_are_reads_in_any_region() {
    let emulator = Emulator::builder()
        .regions(["West US", "East US"])
        .start()
        .await
        .unwrap();
    let client = TestClient::new(emulator.key());
    setup(&client, &emulator.global_endpoint()).await;
    // East US is a read region: a create there is 403/3, a query is served.
    let east = emulator.region_endpoint("East US").unwrap();
    let create = client
        .signed(
            Method::POST,
            &format!("{east}dbs"),
            DATABASES,
            Some(json!({"id": "x"})),
        )
        .await;
    assert_eq!(
        (create.status.as_u16(), create.sub_status()),
        (403, Some(3))
    );
    let sql = "SELECT * FROM root r WHERE r.id = @id";
    let dbs = query_feed(&client, &format!("{east}dbs"), DATABASES, sql).await;
    assert_eq!(dbs["_count"], 1);
    assert_eq!(dbs["Databases"][0]["id"], "db");
    let sql = "SELECT * FROM root r WHERE r.id = 'c'";
    let colls = query_feed(&client, &format!("{east}dbs/db/colls"), COLLECTIONS, sql).await;
    assert_eq!(colls["DocumentCollections"][0]["id"], "c");
    assert_eq!(colls["_count"], 1);
}

#[tokio::test]
async fn every_error_carries_a_substatus() {
    let (emulator, client) = start().await;
    let base = emulator.global_endpoint();
    setup(&client, &base).await;
    let items = Items::new(&client, &base, "p");
    let missing = items.read("nope").await;
    let conflict = client
        .signed(
            Method::POST,
            &format!("{base}dbs"),
            DATABASES,
            Some(json!({"id": "db"})),
        )
        .await;
    let bad = items.create(json!({"no": "id"})).await;
    let unsigned = client
        .send(Method::GET, &format!("{base}dbs"), None, &[], None)
        .await
        .unwrap();
    for (reply, status) in [(missing, 404), (conflict, 409), (bad, 400), (unsigned, 401)] {
        assert_eq!(reply.status.as_u16(), status);
        assert_eq!(
            reply.sub_status(),
            Some(0),
            "{status} carries x-ms-substatus: 0"
        );
    }
}

#[tokio::test]
async fn container_bodies_carry_the_default_policies() {
    let (emulator, client) = start().await;
    let base = emulator.global_endpoint();
    setup(&client, &base).await;
    let coll = client
        .get(&format!("{base}dbs/db/colls/c"), COLLECTION)
        .await
        .json();
    assert_eq!(coll["indexingPolicy"]["indexingMode"], "consistent");
    assert_eq!(coll["indexingPolicy"]["includedPaths"][0]["path"], "/*");
    assert_eq!(coll["conflictResolutionPolicy"]["mode"], "LastWriterWins");
}

#[tokio::test]
async fn delete_all_items_of_a_partition_key() {
    let (emulator, client) = start().await;
    let base = emulator.global_endpoint();
    setup(&client, &base).await;
    let (p, q) = (
        Items::new(&client, &base, "p"),
        Items::new(&client, &base, "q"),
    );
    for id in ["a", "b", "c"] {
        assert_eq!(p.create(json!({"id": id, "pk": "p"})).await.status, 201);
    }
    assert_eq!(q.create(json!({"id": "a", "pk": "q"})).await.status, 201);
    let url = format!("{base}dbs/db/colls/c/operations/partitionkeydelete");
    let signed = Signed::new("colls", "dbs/db/colls/c");
    let headers = [("x-ms-documentdb-partitionkey", r#"["p"]"#)];
    let reply = client
        .send(Method::POST, &url, Some(signed), &headers, None)
        .await
        .unwrap();
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    for id in ["a", "b", "c"] {
        assert_eq!(p.read(id).await.status, 404);
    }
    assert_eq!(
        q.read("a").await.status,
        200,
        "another partition keeps its items"
    );
    // The deletes are writes like any other: the change feed's LSN moved past them.
    let feed = p.send(Method::GET, None, &[], None).await;
    assert_eq!(feed.json()["_count"], 0);
    assert_eq!(feed.headers["x-ms-session-token"], "0:-1#7");
}

#[tokio::test]
async fn conflict_feeds_are_empty_and_reads_name_their_location() {
    let (emulator, client) = start().await;
    let base = emulator.global_endpoint();
    setup(&client, &base).await;
    let conflicts = client
        .get(
            &format!("{base}dbs/db/colls/c/conflicts"),
            Signed::new("conflicts", "dbs/db/colls/c"),
        )
        .await;
    assert_eq!(conflicts.status, 200);
    assert_eq!(conflicts.json()["Conflicts"], json!([]));
    let items = Items::new(&client, &base, "p");
    items.create(json!({"id": "a", "pk": "p"})).await;
    let read = items.read("a").await;
    let location = read.headers["content-location"].to_str().unwrap();
    assert_eq!(location, format!("{base}dbs/db/colls/c/docs/a"));
}

#[tokio::test]
async fn queries_report_metrics_when_asked() {
    let (emulator, client) = start().await;
    let base = emulator.global_endpoint();
    setup(&client, &base).await;
    let items = Items::new(&client, &base, "p");
    items.create(json!({"id": "a", "pk": "p"})).await;
    let query = json!({"query": "SELECT * FROM c", "parameters": []});
    let headers = [
        ("x-ms-documentdb-isquery", "true"),
        ("content-type", "application/query+json"),
        ("x-ms-documentdb-populatequerymetrics", "true"),
        ("x-ms-cosmos-populateindexmetrics", "true"),
    ];
    let reply = items
        .send(Method::POST, None, &headers, Some(query.clone()))
        .await;
    let metrics = reply.headers["x-ms-documentdb-query-metrics"]
        .to_str()
        .unwrap();
    assert!(metrics.split(';').all(|m| m.contains('=')));
    assert!(metrics.contains("outputDocumentCount=1"));
    let index = reply.headers["x-ms-cosmos-index-utilization"]
        .to_str()
        .unwrap();
    use base64::Engine;
    let index = base64::engine::general_purpose::STANDARD
        .decode(index)
        .unwrap();
    let index: Value = serde_json::from_slice(&index).unwrap();
    // Scoped by its partition key, the query used the key's index.
    assert_eq!(index["UtilizedSingleIndexes"][0]["IndexSpec"], "/pk/?");
    // Not asked, not sent.
    let plain = items
        .send(Method::POST, None, &headers[..2], Some(query))
        .await;
    assert!(!plain.headers.contains_key("x-ms-documentdb-query-metrics"));
}

#[tokio::test]
async fn offers_read_query_and_replace_throughput() {
    let (emulator, client) = start().await;
    let base = emulator.global_endpoint();
    setup(&client, &base).await;
    let coll = client
        .get(&format!("{base}dbs/db/colls/c"), COLLECTION)
        .await
        .json();
    let offers = || Signed::new("offers", "");
    let feed = client.get(&format!("{base}offers"), offers()).await.json();
    assert_eq!(feed["_count"], 1);
    // The SDKs find a container's offer by querying for its `_self`.
    let body = json!({"query": "SELECT * FROM root r WHERE r.resource = @link",
                      "parameters": [{"name": "@link", "value": coll["_self"]}]});
    let headers = [
        ("x-ms-documentdb-isquery", "true"),
        ("content-type", "application/query+json"),
    ];
    let url = format!("{base}offers");
    let found = client
        .send(Method::POST, &url, Some(offers()), &headers, Some(body))
        .await
        .unwrap();
    let offer = found.json()["Offers"][0].clone();
    assert_eq!(offer["offerResourceId"], coll["_rid"]);
    assert_eq!(offer["content"]["offerThroughput"], 400);
    let rid = &offer["_rid"].as_str().unwrap().to_lowercase();
    let link = format!("{base}{}", offer["_self"].as_str().unwrap());
    let mut replaced = offer.clone();
    replaced["content"]["offerThroughput"] = json!(1000);
    let reply = client
        .send(
            Method::PUT,
            &link,
            Some(Signed::new("offers", rid)),
            &[],
            Some(replaced),
        )
        .await
        .unwrap();
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let read = client.get(&link, Signed::new("offers", rid)).await.json();
    assert_eq!(read["content"]["offerThroughput"], 1000);
    // Below the minimum: 400, nothing changed.
    let mut low = offer.clone();
    low["content"]["offerThroughput"] = json!(10);
    let reply = client
        .send(
            Method::PUT,
            &link,
            Some(Signed::new("offers", rid)),
            &[],
            Some(low),
        )
        .await
        .unwrap();
    assert_eq!(reply.status, 400);
    let read = client.get(&link, Signed::new("offers", rid)).await.json();
    assert_eq!(read["content"]["offerThroughput"], 1000);
}

#[tokio::test]
async fn default_ttl_is_validated_as_the_service_does() {
    let (emulator, client) = start().await;
    let base = emulator.global_endpoint();
    setup(&client, &base).await;
    for (ttl, status) in [
        (json!(-10), 400),
        (json!(0), 400),
        (json!(-1), 201),
        (json!(5), 201),
    ] {
        let id = format!("t{status}{}", ttl.as_i64().unwrap());
        let body = json!({"id": id, "partitionKey": {"paths": ["/pk"]}, "defaultTtl": ttl});
        let url = format!("{base}dbs/db/colls");
        let reply = client
            .signed(Method::POST, &url, COLLECTIONS, Some(body))
            .await;
        assert_eq!(reply.status.as_u16(), status, "defaultTtl {ttl}");
    }
}

#[tokio::test]
async fn a_replace_may_change_the_id() {
    let (emulator, client) = start().await;
    let base = emulator.global_endpoint();
    setup(&client, &base).await;
    let items = Items::new(&client, &base, "p");
    items.create(json!({"id": "a", "pk": "p"})).await;
    items.create(json!({"id": "taken", "pk": "p"})).await;
    let taken = items
        .replace("a", &[], json!({"id": "taken", "pk": "p"}))
        .await;
    assert_eq!(taken.status, 409);
    let moved = items
        .replace("a", &[], json!({"id": "b", "pk": "p", "n": 1}))
        .await;
    assert_eq!(moved.status, 200, "{:?}", moved.body);
    assert_eq!(items.read("a").await.status, 404);
    assert_eq!(items.read("b").await.json()["n"], 1);
}

#[tokio::test]
async fn replace_container_changes_ttl_and_indexing_policy() {
    let (emulator, client) = start().await;
    let base = emulator.global_endpoint();
    setup(&client, &base).await;
    let url = format!("{base}dbs/db/colls/c");
    let before = client.get(&url, COLLECTION).await.json();
    let mut body = before.clone();
    body["defaultTtl"] = json!(60);
    body["indexingPolicy"] =
        json!({"indexingMode": "consistent", "excludedPaths": [{"path": "/big/*"}]});
    let reply = client
        .signed(Method::PUT, &url, COLLECTION, Some(body.clone()))
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let after = client.get(&url, COLLECTION).await.json();
    assert_eq!(after["defaultTtl"], 60);
    let excluded = after["indexingPolicy"]["excludedPaths"].as_array().unwrap();
    assert_eq!(excluded.len(), 2, "/big/* and /\"_etag\"/?");
    assert_eq!(after["_rid"], before["_rid"]);
    assert_ne!(after["_etag"], before["_etag"]);
    // Neither the partition key nor a TTL the service refuses can be set.
    let mut key = body.clone();
    key["partitionKey"]["paths"] = json!(["/other"]);
    let mut ttl = body;
    ttl["defaultTtl"] = json!(-10);
    for bad in [key, ttl] {
        let reply = client
            .signed(Method::PUT, &url, COLLECTION, Some(bad))
            .await;
        assert_eq!(reply.status, 400);
    }
    assert_eq!(client.get(&url, COLLECTION).await.json()["defaultTtl"], 60);
}

#[tokio::test]
async fn users_and_permissions_are_kept_renamed_and_deleted() {
    let (emulator, client) = start().await;
    let base = emulator.global_endpoint();
    setup(&client, &base).await;
    let users = format!("{base}dbs/db/users");
    let sign_users = || Signed::new("users", "dbs/db");
    let created = client
        .signed(
            Method::POST,
            &users,
            sign_users(),
            Some(json!({"id": "u1"})),
        )
        .await;
    assert_eq!(created.status, 201);
    let again = client
        .signed(
            Method::POST,
            &users,
            sign_users(),
            Some(json!({"id": "u1"})),
        )
        .await;
    assert_eq!(again.status, 409);
    let perms = format!("{base}dbs/db/users/u1/permissions");
    let body = json!({"id": "p1", "permissionMode": "Read", "resource": "dbs/db/colls/c"});
    let sign_perms = |user: &'static str| Signed::new("permissions", user);
    let perm = client
        .signed(
            Method::POST,
            &perms,
            sign_perms("dbs/db/users/u1"),
            Some(body),
        )
        .await;
    assert_eq!(perm.status, 201);
    assert!(perm.json()["_token"].is_string());
    // A replace with a new id renames the user, its permissions with it.
    let renamed = client
        .signed(
            Method::PUT,
            &format!("{users}/u1"),
            Signed::new("users", "dbs/db/users/u1"),
            Some(json!({"id": "u2"})),
        )
        .await;
    assert_eq!(renamed.status, 200);
    let moved = client
        .get(
            &format!("{base}dbs/db/users/u2/permissions"),
            sign_perms("dbs/db/users/u2"),
        )
        .await
        .json();
    assert_eq!(moved["Permissions"][0]["id"], "p1");
    let list = client.get(&users, sign_users()).await.json();
    assert_eq!(
        (list["_count"].clone(), list["Users"][0]["id"].clone()),
        (json!(1), json!("u2"))
    );
    let gone = client
        .signed(
            Method::DELETE,
            &format!("{users}/u2"),
            Signed::new("users", "dbs/db/users/u2"),
            None,
        )
        .await;
    assert_eq!(gone.status, 204);
    let read = client
        .get(
            &format!("{users}/u2"),
            Signed::new("users", "dbs/db/users/u2"),
        )
        .await;
    assert_eq!(read.status, 404);
}
