//! The resource model's rules the official SDKs' suites check (issue 31, part B):
//! resource tokens, TTL on the emulator's clock, session tokens per partition key range.

use std::time::Duration;

use http::Method;
use serde_json::{Value, json};

use crate::client::{COLLECTIONS, Items, Reply, Signed, TestClient, now_date};
use crate::data_plane::setup;
use crate::start;

/// Sends `method` to `path` (under `base`) with a resource token as the credential.
async fn with_token(
    client: &TestClient,
    base: &str,
    token: &str,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> Reply {
    let date = now_date();
    let mut all = vec![("authorization", token), ("x-ms-date", date.as_str())];
    all.extend_from_slice(headers);
    client
        .send(method, &format!("{base}{path}"), None, &all, body)
        .await
        .unwrap()
}

/// Creates user `u` (once) and a permission on `resource` with `mode` (and a partition
/// key, if any); returns its `_token`.
async fn permission(
    client: &TestClient,
    base: &str,
    id: &str,
    mode: &str,
    resource: &str,
    pk: Option<Value>,
) -> String {
    let users = Signed::new("users", "dbs/db");
    let _ = client
        .signed(
            Method::POST,
            &format!("{base}dbs/db/users"),
            users,
            Some(json!({"id": "u"})),
        )
        .await;
    let mut body = json!({"id": id, "permissionMode": mode, "resource": resource});
    if let Some(pk) = pk {
        body["resourcePartitionKey"] = pk;
    }
    let reply = client
        .signed(
            Method::POST,
            &format!("{base}dbs/db/users/u/permissions"),
            Signed::new("permissions", "dbs/db/users/u"),
            Some(body),
        )
        .await;
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    let token = reply.json()["_token"].as_str().unwrap().to_string();
    assert!(token.starts_with("type=resource&ver=1.0&sig="), "{token}");
    token
}

#[tokio::test]
async fn resource_tokens_grant_only_their_permission() {
    let (emulator, client) = start().await;
    let base = emulator.global_endpoint();
    setup(&client, &base).await;
    let other = json!({"id": "other", "partitionKey": {"paths": ["/pk"], "kind": "Hash"}});
    let made = client
        .signed(
            Method::POST,
            &format!("{base}dbs/db/colls"),
            COLLECTIONS,
            Some(other),
        )
        .await;
    assert_eq!(made.status, 201);
    let items = Items::new(&client, &base, "a");
    for id in ["1", "2"] {
        assert_eq!(items.create(json!({"id": id, "pk": "a"})).await.status, 201);
    }
    let read = permission(&client, &base, "read", "Read", "dbs/db/colls/c", None).await;
    let doc = permission(&client, &base, "doc", "All", "dbs/db/colls/c/docs/1", None).await;
    let pk_a = Some(json!(["a"]));
    let all_a = permission(&client, &base, "all-a", "All", "dbs/db/colls/c", pk_a).await;
    let pk = [("x-ms-documentdb-partitionkey", r#"["a"]"#)];

    // Read: the container, its items (point read, feed, query), the account.
    for (method, path) in [
        (Method::GET, "dbs/db/colls/c"),
        (Method::GET, "dbs/db/colls/c/docs/1"),
        (Method::GET, "dbs/db/colls/c/docs"),
        (Method::GET, "dbs/db/colls/c/pkranges"),
        (Method::GET, ""),
    ] {
        let reply = with_token(&client, &base, &read, method, path, &pk, None).await;
        assert_eq!(reply.status, 200, "{path}: {:?}", reply.body);
    }
    let query = [
        ("x-ms-documentdb-isquery", "true"),
        ("content-type", "application/query+json"),
        ("x-ms-documentdb-partitionkey", r#"["a"]"#),
    ];
    let body = Some(json!({"query": "SELECT * FROM c"}));
    let reply = with_token(
        &client,
        &base,
        &read,
        Method::POST,
        "dbs/db/colls/c/docs",
        &query,
        body,
    )
    .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    // … but never writes, nor anything outside the container.
    let refused = [
        (Method::DELETE, "dbs/db/colls/c/docs/1", None),
        (
            Method::POST,
            "dbs/db/colls/c/docs",
            Some(json!({"id": "3", "pk": "a"})),
        ),
        (Method::DELETE, "dbs/db/colls/c", None),
        (Method::GET, "dbs/db/colls/other", None),
        (Method::GET, "dbs/db/colls/other/docs", None),
        (Method::GET, "dbs", None),
        (Method::GET, "dbs/db/users", None),
    ];
    for (method, path, body) in refused {
        let reply = with_token(&client, &base, &read, method.clone(), path, &pk, body).await;
        assert_eq!(reply.status, 403, "{method} {path}: {:?}", reply.body);
    }

    // A document's token: that document, every operation; not its neighbour.
    let reply = with_token(
        &client,
        &base,
        &doc,
        Method::GET,
        "dbs/db/colls/c/docs/2",
        &pk,
        None,
    );
    assert_eq!(reply.await.status, 403);
    let reply = with_token(
        &client,
        &base,
        &doc,
        Method::GET,
        "dbs/db/colls/c/docs/1",
        &pk,
        None,
    );
    assert_eq!(reply.await.status, 200);
    let replaced = Some(json!({"id": "1", "pk": "a", "v": 2}));
    let reply = with_token(
        &client,
        &base,
        &doc,
        Method::PUT,
        "dbs/db/colls/c/docs/1",
        &pk,
        replaced,
    );
    assert_eq!(reply.await.status, 200);

    // A permission with a partition key: writes of that key only.
    let write = |id: &str, key: &str| Some(json!({"id": id, "pk": key}));
    let docs = "dbs/db/colls/c/docs";
    let reply = with_token(
        &client,
        &base,
        &all_a,
        Method::POST,
        docs,
        &pk,
        write("4", "a"),
    );
    assert_eq!(reply.await.status, 201);
    let pk_b = [("x-ms-documentdb-partitionkey", r#"["b"]"#)];
    let reply = with_token(
        &client,
        &base,
        &all_a,
        Method::POST,
        docs,
        &pk_b,
        write("5", "b"),
    );
    assert_eq!(reply.await.status, 403);

    // A forged token, one of a deleted permission, an expired one: 401.
    let forged = read.replacen("sig=", "sig=A", 1);
    let reply = with_token(
        &client,
        &base,
        &forged,
        Method::GET,
        "dbs/db/colls/c",
        &pk,
        None,
    );
    assert_eq!(reply.await.status, 401);
    let deleted = client
        .signed(
            Method::DELETE,
            &format!("{base}dbs/db/users/u/permissions/doc"),
            Signed::new("permissions", "dbs/db/users/u/permissions/doc"),
            None,
        )
        .await;
    assert_eq!(deleted.status, 204);
    let reply = with_token(
        &client,
        &base,
        &doc,
        Method::GET,
        "dbs/db/colls/c/docs/1",
        &pk,
        None,
    );
    assert_eq!(reply.await.status, 401);
    emulator.advance_clock(Duration::from_secs(3600));
    let reply = with_token(
        &client,
        &base,
        &read,
        Method::GET,
        "dbs/db/colls/c",
        &pk,
        None,
    );
    assert_eq!(reply.await.status, 401, "a token lives an hour by default");
    emulator.shutdown().await;
}

/// Sends `method` to container `coll`'s items (`id` `None`: the feed), keyed `["a"]`.
async fn on(
    client: &TestClient,
    base: &str,
    coll: &str,
    method: Method,
    id: Option<&str>,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> Reply {
    let feed = format!("dbs/db/colls/{coll}/docs");
    let (path, link) = match id {
        Some(id) => (format!("{feed}/{id}"), format!("{feed}/{id}")),
        None => (feed, format!("dbs/db/colls/{coll}")),
    };
    let mut all = vec![("x-ms-documentdb-partitionkey", r#"["a"]"#)];
    all.extend_from_slice(headers);
    let signed = Signed::new("docs", &link);
    let url = format!("{base}{path}");
    client
        .send(method, &url, Some(signed), &all, body)
        .await
        .unwrap()
}

/// The ids a feed page (read feed, query or change feed) lists, sorted.
fn ids(reply: &Reply) -> Vec<String> {
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let mut ids: Vec<String> = reply.json()["Documents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

async fn feeds(client: &TestClient, base: &str, coll: &str) -> [Vec<String>; 3] {
    let read_feed = on(client, base, coll, Method::GET, None, &[], None).await;
    let query_headers = [
        ("x-ms-documentdb-isquery", "true"),
        ("content-type", "application/query+json"),
    ];
    let body = Some(json!({"query": "SELECT * FROM c"}));
    let query = on(client, base, coll, Method::POST, None, &query_headers, body).await;
    let changes = [("a-im", "Incremental Feed")];
    let change_feed = on(client, base, coll, Method::GET, None, &changes, None).await;
    [ids(&read_feed), ids(&query), ids(&change_feed)]
}

#[tokio::test]
async fn expired_items_vanish_from_reads_queries_and_feeds() {
    let (emulator, client) = start().await;
    let base = emulator.global_endpoint();
    setup(&client, &base).await;
    for (id, ttl) in [("t", json!(10)), ("off", Value::Null)] {
        let mut body = json!({"id": id, "partitionKey": {"paths": ["/pk"], "kind": "Hash"}});
        if !ttl.is_null() {
            body["defaultTtl"] = ttl;
        }
        let url = format!("{base}dbs/db/colls");
        let made = client
            .signed(Method::POST, &url, COLLECTIONS, Some(body))
            .await;
        assert_eq!(made.status, 201, "{:?}", made.body);
    }
    // An item's own `ttl` is -1 or a positive integer.
    for bad in [json!(0), Value::Null, json!(-10), json!(1.5), json!("5")] {
        let body = Some(json!({"id": "bad", "pk": "a", "ttl": bad}));
        let reply = on(&client, &base, "t", Method::POST, None, &[], body).await;
        assert_eq!(reply.status, 400, "ttl {bad}: {:?}", reply.body);
    }
    for (id, ttl) in [("short", None), ("never", Some(-1)), ("long", Some(100))] {
        let mut body = json!({"id": id, "pk": "a"});
        if let Some(ttl) = ttl {
            body["ttl"] = json!(ttl);
        }
        let reply = on(
            &client,
            &base,
            "t",
            Method::POST,
            None,
            &[],
            body.clone().into(),
        )
        .await;
        assert_eq!(reply.status, 201, "{:?}", reply.body);
        body["ttl"] = json!(5);
        let reply = on(&client, &base, "off", Method::POST, None, &[], Some(body)).await;
        assert_eq!(reply.status, 201, "{:?}", reply.body);
    }
    let every = ["long", "never", "short"].map(String::from).to_vec();
    assert_eq!(
        feeds(&client, &base, "t").await,
        [every.clone(), every.clone(), every.clone()]
    );

    // The container's default (10 s) passes: `short` is gone from every read.
    emulator.advance_clock(Duration::from_secs(10));
    let read = on(&client, &base, "t", Method::GET, Some("short"), &[], None).await;
    assert_eq!(read.status, 404, "{:?}", read.body);
    let left = ["long", "never"].map(String::from).to_vec();
    assert_eq!(
        feeds(&client, &base, "t").await,
        [left.clone(), left.clone(), left]
    );
    // Its id is free again: the next write purged it (a delete in the write log).
    let again = Some(json!({"id": "short", "pk": "a"}));
    let reply = on(&client, &base, "t", Method::POST, None, &[], again).await;
    assert_eq!(reply.status, 201, "{:?}", reply.body);

    // An item's own ttl (100 s) passes; -1 never expires; TTL off keeps everything.
    emulator.advance_clock(Duration::from_secs(100));
    let left = vec!["never".to_string()];
    assert_eq!(
        feeds(&client, &base, "t").await,
        [left.clone(), left.clone(), left]
    );
    assert_eq!(
        feeds(&client, &base, "off").await,
        [every.clone(), every.clone(), every]
    );
    let read = on(&client, &base, "t", Method::GET, Some("never"), &[], None).await;
    assert_eq!(read.status, 200);
    emulator.shutdown().await;
}
