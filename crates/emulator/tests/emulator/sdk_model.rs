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
    let doc = permission(&client, &base, "doc", "all", "dbs/db/colls/c/docs/1", None).await;
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

/// A session token's parts: (range id, version, global LSN), checking each is
/// `<range>:<version>#<global LSN>` with numbers where the service has them.
fn token_parts(token: &str) -> Vec<(String, i64, u64)> {
    token
        .split(',')
        .map(|part| {
            let (range, vector) = part.split_once(':').unwrap_or_else(|| panic!("{token}"));
            let mut fields = vector.split('#');
            let version = fields.next().unwrap().parse::<i64>().unwrap();
            let global = fields.next().unwrap().parse::<u64>().unwrap();
            for region in fields {
                let (id, lsn) = region.split_once('=').unwrap_or_else(|| panic!("{token}"));
                assert!(
                    id.parse::<u32>().is_ok() && lsn.parse::<u64>().is_ok(),
                    "{token}"
                );
            }
            assert!(range.parse::<u32>().is_ok(), "{token}");
            (range.to_string(), version, global)
        })
        .collect()
}

#[tokio::test]
async fn session_tokens_have_the_services_per_range_form() {
    let (emulator, client) = start().await;
    let base = emulator.global_endpoint();
    setup(&client, &base).await;
    // 30,000 RU/s: three partition key ranges.
    let body = json!({"id": "r", "partitionKey": {"paths": ["/pk"], "kind": "Hash", "version": 2}});
    let made = client
        .send(
            Method::POST,
            &format!("{base}dbs/db/colls"),
            Some(COLLECTIONS),
            &[("x-ms-offer-throughput", "30000")],
            Some(body),
        )
        .await
        .unwrap();
    assert_eq!(made.status, 201);
    let ranges = client
        .get(
            &format!("{base}dbs/db/colls/r/pkranges"),
            Signed::new("pkranges", "dbs/db/colls/r"),
        )
        .await
        .json();
    let ids: Vec<String> = ranges["PartitionKeyRanges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 3);
    // Each write names the one range holding its key, at the container's LSN.
    let mut written = Vec::new();
    for n in 0..12u64 {
        let key = format!("[\"k{n}\"]");
        let reply = client
            .send(
                Method::POST,
                &format!("{base}dbs/db/colls/r/docs"),
                Some(Signed::new("docs", "dbs/db/colls/r")),
                &[("x-ms-documentdb-partitionkey", &key)],
                Some(json!({"id": format!("i{n}"), "pk": format!("k{n}")})),
            )
            .await
            .unwrap();
        assert_eq!(reply.status, 201);
        let token = reply.headers["x-ms-session-token"].to_str().unwrap();
        let parts = token_parts(token);
        assert_eq!(parts.len(), 1, "{token}");
        assert_eq!((parts[0].1, parts[0].2), (-1, n + 1), "{token}");
        written.push((format!("i{n}"), parts[0].0.clone()));
    }
    // … the range whose own feed holds the item; a range's feed names that range alone.
    let mut seen = Vec::new();
    for id in &ids {
        let feed = client
            .send(
                Method::GET,
                &format!("{base}dbs/db/colls/r/docs"),
                Some(Signed::new("docs", "dbs/db/colls/r")),
                &[("x-ms-documentdb-partitionkeyrangeid", id)],
                None,
            )
            .await
            .unwrap();
        let token = feed.headers["x-ms-session-token"].to_str().unwrap();
        assert_eq!(token_parts(token), vec![(id.clone(), -1, 12)], "{token}");
        for item in ids_of(&feed) {
            seen.push((item, id.clone()));
        }
    }
    seen.sort();
    written.sort();
    assert_eq!(
        seen, written,
        "each write's token names the range that holds it"
    );
    // A cross-partition query touches every range: one token each, comma-separated.
    let query = client
        .send(
            Method::POST,
            &format!("{base}dbs/db/colls/r/docs"),
            Some(Signed::new("docs", "dbs/db/colls/r")),
            &[
                ("x-ms-documentdb-isquery", "true"),
                ("content-type", "application/query+json"),
                ("x-ms-documentdb-query-enablecrosspartition", "true"),
            ],
            Some(json!({"query": "SELECT * FROM c"})),
        )
        .await
        .unwrap();
    assert_eq!(query.status, 200, "{:?}", query.body);
    let token = query.headers["x-ms-session-token"].to_str().unwrap();
    let mut parts = token_parts(token);
    parts.sort();
    let mut every: Vec<(String, i64, u64)> = ids.iter().map(|id| (id.clone(), -1, 12)).collect();
    every.sort();
    assert_eq!(parts, every, "{token}");
    emulator.shutdown().await;
}

fn ids_of(reply: &Reply) -> Vec<String> {
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    reply.json()["Documents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn scripts_are_stored_but_never_executed() {
    let (emulator, client) = start().await;
    let base = emulator.global_endpoint();
    setup(&client, &base).await;
    let feed = |kind: &str| format!("{base}dbs/db/colls/c/{kind}");
    let signed = |kind: &'static str| Signed::new(kind, "dbs/db/colls/c");
    for kind in ["sprocs", "triggers", "udfs"] {
        let url = feed(kind);
        let mut body = json!({"id": "s1", "body": "function() {}"});
        if kind == "triggers" {
            body["triggerType"] = json!("Pre");
            body["triggerOperation"] = json!("All");
        }
        let made = client
            .signed(Method::POST, &url, signed(kind), Some(body.clone()))
            .await;
        assert_eq!(made.status, 201, "{kind}: {:?}", made.body);
        assert!(
            made.json()["_self"]
                .as_str()
                .unwrap()
                .contains(&format!("/{kind}/"))
        );
        let again = client
            .signed(Method::POST, &url, signed(kind), Some(body.clone()))
            .await;
        assert_eq!(again.status, 409, "{kind}");
        let list = client.get(&url, signed(kind)).await;
        assert_eq!(list.json()["_count"], 1, "{kind}");
        let link = format!("dbs/db/colls/c/{kind}/s1");
        let one = || Signed::new(kind, &link);
        body["body"] = json!("function() { return 2; }");
        let replaced = client
            .signed(Method::PUT, &format!("{base}{link}"), one(), Some(body))
            .await;
        assert_eq!(replaced.status, 200, "{kind}");
        assert_eq!(replaced.json()["_rid"], made.json()["_rid"], "{kind}");
        let read = client.get(&format!("{base}{link}"), one()).await;
        assert_eq!(read.json()["body"], "function() { return 2; }", "{kind}");
        // Addressable by its rid `_self` link too (signed by its rid, in lower case).
        let self_link = made.json()["_self"]
            .as_str()
            .unwrap()
            .trim_end_matches('/')
            .to_string();
        let rid = made.json()["_rid"].as_str().unwrap().to_lowercase();
        let by_rid = client
            .get(&format!("{base}{self_link}"), Signed::new(kind, &rid))
            .await;
        assert_eq!(by_rid.status, 200, "{kind}: {:?}", by_rid.body);
        assert_eq!(by_rid.json()["id"], "s1");
    }
    // Executing a stored procedure, or a write naming a trigger, is refused: no JavaScript.
    let link = "dbs/db/colls/c/sprocs/s1";
    let run = client
        .send(
            Method::POST,
            &format!("{base}{link}"),
            Some(Signed::new("sprocs", link)),
            &[("x-ms-documentdb-partitionkey", r#"["a"]"#)],
            Some(json!([])),
        )
        .await
        .unwrap();
    assert_eq!(run.status, 400, "{:?}", run.body);
    assert!(String::from_utf8_lossy(&run.body).contains("not supported"));
    let items = Items::new(&client, &base, "a");
    let trigger = [("x-ms-documentdb-pre-trigger-include", "s1")];
    let body = Some(json!({"id": "x", "pk": "a"}));
    let write = items.send(Method::POST, None, &trigger, body).await;
    assert_eq!(write.status, 400, "{:?}", write.body);
    assert_eq!(items.read("x").await.status, 404, "nothing was written");
    // Deleted with their container.
    let url = feed("udfs");
    let coll = Signed::new("colls", "dbs/db/colls/c");
    let gone = client
        .signed(Method::DELETE, &format!("{base}dbs/db/colls/c"), coll, None)
        .await;
    assert_eq!(gone.status, 204);
    setup_container(&client, &base).await;
    assert_eq!(client.get(&url, signed("udfs")).await.json()["_count"], 0);
    emulator.shutdown().await;
}

async fn setup_container(client: &TestClient, base: &str) {
    let body = json!({"id": "c", "partitionKey": {"paths": ["/pk"], "kind": "Hash"}});
    let url = format!("{base}dbs/db/colls");
    assert_eq!(
        client
            .signed(Method::POST, &url, COLLECTIONS, Some(body))
            .await
            .status,
        201
    );
}

#[tokio::test]
async fn creations_offer_their_throughput() {
    let (emulator, client) = start().await;
    let base = emulator.global_endpoint();
    let throughput = [("x-ms-offer-throughput", "1000")];
    for (id, headers) in [("shared", &throughput[..]), ("plain", &[][..])] {
        let url = format!("{base}dbs");
        let made = client
            .send(
                Method::POST,
                &url,
                Some(Signed::new("dbs", "")),
                headers,
                Some(json!({"id": id})),
            )
            .await;
        assert_eq!(made.unwrap().status, 201);
    }
    let body = json!({"id": "big", "partitionKey": {"paths": ["/pk"], "kind": "Hash"}});
    let url = format!("{base}dbs/plain/colls");
    let signed = Some(Signed::new("colls", "dbs/plain"));
    let headers = [("x-ms-offer-throughput", "10100")];
    let made = client
        .send(Method::POST, &url, signed, &headers, Some(body))
        .await
        .unwrap();
    assert_eq!(made.status, 201);
    let offers = client
        .get(&format!("{base}offers"), Signed::new("offers", ""))
        .await
        .json();
    let throughput_of = |rid: &Value| {
        offers["Offers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| &o["offerResourceId"] == rid)
            .map(|o| o["content"]["offerThroughput"].as_u64().unwrap())
    };
    let mut rids = Vec::new();
    for (kind, path) in [
        ("dbs", "dbs/shared"),
        ("dbs", "dbs/plain"),
        ("colls", "dbs/plain/colls/big"),
    ] {
        let read = client
            .get(&format!("{base}{path}"), Signed::new(kind, path))
            .await;
        rids.push(read.json()["_rid"].clone());
    }
    let [shared, plain, big] = [&rids[0], &rids[1], &rids[2]];
    assert_eq!(throughput_of(shared), Some(1000), "{offers}");
    assert_eq!(
        throughput_of(plain),
        None,
        "a database without throughput has no offer"
    );
    assert_eq!(throughput_of(big), Some(10100), "{offers}");
    emulator.shutdown().await;
}

#[tokio::test]
async fn container_reads_report_quota_and_partition_statistics() {
    let (emulator, client) = start().await;
    let base = emulator.global_endpoint();
    setup(&client, &base).await;
    let items = Items::new(&client, &base, "a");
    for id in ["1", "2"] {
        assert_eq!(items.create(json!({"id": id, "pk": "a"})).await.status, 201);
    }
    let url = format!("{base}dbs/db/colls/c");
    let signed = || Some(Signed::new("colls", "dbs/db/colls/c"));
    let plain = client
        .send(Method::GET, &url, signed(), &[], None)
        .await
        .unwrap();
    assert!(plain.headers.get("x-ms-resource-usage").is_none());
    assert!(plain.json().get("statistics").is_none());
    let asked = [
        ("x-ms-documentdb-populatequotainfo", "true"),
        ("x-ms-documentdb-populatepartitionstatistics", "true"),
    ];
    let read = client
        .send(Method::GET, &url, signed(), &asked, None)
        .await
        .unwrap();
    let usage = read.headers["x-ms-resource-usage"].to_str().unwrap();
    assert!(usage.contains("documentsCount=2"), "{usage}");
    let progress = "x-ms-documentdb-collection-index-transformation-progress";
    assert_eq!(read.headers[progress], "100");
    assert!(
        read.headers
            .get("x-ms-documentdb-collection-lazy-indexing-progress")
            .is_none()
    );
    let statistics = read.json()["statistics"].clone();
    assert_eq!(statistics[0]["documentCount"], 2, "{statistics}");
    emulator.shutdown().await;
}

#[tokio::test]
async fn a_partition_key_mismatch_is_400_with_sub_status_1001() {
    let (emulator, client) = start().await;
    let base = emulator.global_endpoint();
    setup(&client, &base).await;
    let items = Items::new(&client, &base, "a");
    let reply = items.create(json!({"id": "1", "pk": "b"})).await;
    assert_eq!(reply.status, 400, "{:?}", reply.body);
    assert_eq!(reply.sub_status(), Some(1001));
    emulator.shutdown().await;
}
