//! The change feed (`A-IM: Incremental Feed`, `Full-Fidelity Feed`): from the beginning,
//! from now, from a point in time and from a continuation (the `etag`, sent back in
//! `If-None-Match`); 304 when nothing is new; paging; a lagging region's view.

use http::Method;
use meridian_emulator::{Emulator, EmulatorBuilder};
use serde_json::{Value, json};

use crate::admin_url;
use crate::client::{COLLECTIONS, DOCS, Items, Reply, TestClient};
use crate::data_plane::start_with_container;

const INCREMENTAL: (&str, &str) = ("a-im", "Incremental Feed");

/// One change-feed request at `base` with `headers` (after `A-IM: Incremental Feed`).
async fn changes(client: &TestClient, base: &str, headers: &[(&str, &str)]) -> Reply {
    let mut all = vec![INCREMENTAL];
    all.extend_from_slice(headers);
    let url = format!("{base}dbs/db/colls/c/docs");
    client
        .send(Method::GET, &url, Some(DOCS), &all, None)
        .await
        .unwrap()
}

fn etag(reply: &Reply) -> String {
    reply.headers["etag"].to_str().unwrap().to_string()
}

fn ids(reply: &Reply) -> Vec<String> {
    let body = reply.json();
    assert_eq!(body["_count"], body["Documents"].as_array().unwrap().len());
    body["Documents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap().to_string())
        .collect()
}

/// Follows the feed from `start` (extra headers of the first request) in pages of
/// `page`, until a 304 (at most 20 pages): the ids seen and the last etag.
async fn drain(
    client: &TestClient,
    base: &str,
    start: &[(&str, &str)],
    page: &str,
) -> (Vec<String>, String) {
    let mut seen = Vec::new();
    let mut headers: Vec<(&str, String)> =
        start.iter().map(|(k, v)| (*k, (*v).to_string())).collect();
    for _ in 0..20 {
        let mut sent: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        sent.push(("x-ms-max-item-count", page));
        let reply = changes(client, base, &sent).await;
        let next = etag(&reply);
        assert!(next.starts_with('"') && next.ends_with('"'), "{next}");
        if reply.status == 304 {
            assert!(reply.body.is_empty());
            return (seen, next);
        }
        assert_eq!(reply.status, 200, "{:?}", reply.body);
        seen.extend(ids(&reply));
        headers = vec![("if-none-match", next)];
    }
    panic!("the feed never went quiet: {seen:?}");
}

async fn upsert(items: &Items<'_>, id: &str, n: i64) {
    let reply = items.upsert(json!({"id": id, "pk": "p", "n": n})).await;
    assert!(reply.status.is_success(), "{:?}", reply.body);
}

#[tokio::test]
async fn change_feed_from_the_beginning_returns_each_change_once() {
    let (_emulator, client, base) = start_with_container(Emulator::builder()).await;
    let items = Items::new(&client, &base, "p");
    for id in ["a", "b", "c"] {
        upsert(&items, id, 1).await;
    }
    upsert(&items, "a", 2).await;
    items.delete("b", &[]).await;
    upsert(&items, "d", 1).await;
    // Latest version: each live item once, in the order of its last write.
    let (seen, last) = drain(&client, &base, &[], "2").await;
    assert_eq!(seen, ["c", "a", "d"]);
    assert_eq!(last, "\"6\"", "the etag is the LSN reached");
    let whole = changes(&client, &base, &[]).await;
    assert_eq!(ids(&whole), ["c", "a", "d"], "one page when it fits");
    assert_eq!(whole.json()["Documents"][1]["n"], 2, "the latest version");
    assert_eq!(etag(&whole), "\"6\"");
}

#[tokio::test]
async fn change_feed_from_now_sees_only_later_writes() {
    let (_emulator, client, base) = start_with_container(Emulator::builder()).await;
    let items = Items::new(&client, &base, "p");
    upsert(&items, "old", 1).await;
    let now = changes(&client, &base, &[("if-none-match", "*")]).await;
    assert_eq!(now.status, 304, "nothing after now yet");
    let from = etag(&now);
    upsert(&items, "new", 1).await;
    upsert(&items, "old", 2).await;
    let later = changes(&client, &base, &[("if-none-match", &from)]).await;
    assert_eq!(ids(&later), ["new", "old"]);

    // From a point in time: a date after every write sees nothing; one before sees all.
    let future = httpdate::fmt_http_date(
        std::time::SystemTime::now() + std::time::Duration::from_secs(3600),
    );
    let after = changes(&client, &base, &[("if-modified-since", &future)]).await;
    assert_eq!(after.status, 304);
    let past =
        httpdate::fmt_http_date(std::time::UNIX_EPOCH + std::time::Duration::from_secs(86_400));
    let since = changes(&client, &base, &[("if-modified-since", &past)]).await;
    assert_eq!(ids(&since), ["new", "old"]);
}

#[tokio::test]
async fn change_feed_continuation_resumes_after_the_last_change() {
    let (_emulator, client, base) = start_with_container(Emulator::builder()).await;
    let items = Items::new(&client, &base, "p");
    let other = Items::new(&client, &base, "q");
    for id in ["a", "b", "c", "d"] {
        upsert(&items, id, 1).await;
    }
    other.create(json!({"id": "x", "pk": "q"})).await;
    let first = changes(&client, &base, &[("x-ms-max-item-count", "2")]).await;
    assert_eq!(ids(&first), ["a", "b"]);
    assert_eq!(
        etag(&first),
        "\"2\"",
        "a cut page continues after its last change"
    );
    // A write to an item already seen moves it to the end; the cursor does not repeat.
    upsert(&items, "a", 2).await;
    let rest = changes(&client, &base, &[("if-none-match", &etag(&first))]).await;
    assert_eq!(ids(&rest), ["c", "d", "x", "a"]);
    // Scoped to one partition key.
    let scoped = [
        ("if-none-match", "\"2\""),
        ("x-ms-documentdb-partitionkey", "[\"q\"]"),
    ];
    assert_eq!(ids(&changes(&client, &base, &scoped).await), ["x"]);
    // A continuation the service never issued is refused.
    let bad = changes(&client, &base, &[("if-none-match", "\"not-an-lsn\"")]).await;
    assert_eq!(bad.status, 400);
    // The container's one range, named as the SDKs name it: every change.
    let range = [("x-ms-documentdb-partitionkeyrangeid", "0")];
    assert_eq!(
        ids(&changes(&client, &base, &range).await),
        ["b", "c", "d", "x", "a"]
    );
}

#[tokio::test]
async fn change_feed_answers_304_when_nothing_is_new() {
    let (_emulator, client, base) = start_with_container(Emulator::builder()).await;
    let empty = changes(&client, &base, &[]).await;
    assert_eq!(empty.status, 304, "an empty container");
    assert_eq!(etag(&empty), "\"0\"");
    let items = Items::new(&client, &base, "p");
    upsert(&items, "a", 1).await;
    let page = changes(&client, &base, &[("if-none-match", "\"0\"")]).await;
    assert_eq!(ids(&page), ["a"]);
    let quiet = changes(&client, &base, &[("if-none-match", &etag(&page))]).await;
    assert_eq!(quiet.status, 304);
    assert!(quiet.body.is_empty());
    assert_eq!(etag(&quiet), etag(&page), "the same etag to ask again with");

    // Full fidelity: refused without a retention policy, every version and delete with one.
    let full = [("a-im", "Full-Fidelity Feed"), ("if-none-match", "*")];
    let url = format!("{base}dbs/db/colls/c/docs");
    let refused = client
        .send(Method::GET, &url, Some(DOCS), &full, None)
        .await
        .unwrap();
    assert_eq!(refused.status, 400);
    let policy = json!({"id": "kept", "partitionKey": {"paths": ["/pk"]},
        "changeFeedPolicy": {"retentionDuration": 10}});
    let url = format!("{base}dbs/db/colls");
    assert_eq!(
        client
            .signed(Method::POST, &url, COLLECTIONS, Some(policy))
            .await
            .status,
        201
    );
    let kept_docs = || crate::client::Signed::new("docs", "dbs/db/colls/kept");
    let url = format!("{base}dbs/db/colls/kept/docs");
    let now = client
        .send(Method::GET, &url, Some(kept_docs()), &full, None)
        .await
        .unwrap();
    assert_eq!(now.status, 304);
    let pk = [("x-ms-documentdb-partitionkey", "[\"p\"]")];
    let write = |method: Method, id: Option<&'static str>, body: Option<Value>| {
        let client = client.clone();
        let base = base.clone();
        async move {
            let link = match id {
                Some(id) => format!("dbs/db/colls/kept/docs/{id}"),
                None => "dbs/db/colls/kept/docs".to_string(),
            };
            let signed = if id.is_some() {
                crate::client::Signed::new("docs", &link)
            } else {
                crate::client::Signed::new("docs", "dbs/db/colls/kept")
            };
            let reply = client
                .send(method, &format!("{base}{link}"), Some(signed), &pk, body)
                .await
                .unwrap();
            assert!(reply.status.is_success(), "{:?}", reply.body);
        }
    };
    write(
        Method::POST,
        None,
        Some(json!({"id": "a", "pk": "p", "n": 1})),
    )
    .await;
    write(
        Method::PUT,
        Some("a"),
        Some(json!({"id": "a", "pk": "p", "n": 2})),
    )
    .await;
    write(Method::DELETE, Some("a"), None).await;
    let from = [
        ("a-im", "Full-Fidelity Feed"),
        ("if-none-match", &etag(&now)),
    ];
    let all = client
        .send(Method::GET, &url, Some(kept_docs()), &from, None)
        .await
        .unwrap();
    assert_eq!(all.status, 200, "{:?}", all.body);
    let ops: Vec<Value> = all.json()["Documents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["metadata"]["operationType"].clone())
        .collect();
    assert_eq!(ops, [json!("create"), json!("replace"), json!("delete")]);
}

#[tokio::test]
async fn change_feed_in_a_lagging_region_shows_that_regions_view() {
    let builder: EmulatorBuilder = Emulator::builder().regions(["West US", "East US"]);
    let (emulator, client, _) = start_with_container(builder).await;
    let west = emulator.region_endpoint("West US").unwrap();
    let east = emulator.region_endpoint("East US").unwrap();
    let set_lag = |body: Value| {
        let client = client.clone();
        let url = admin_url(&emulator, "replication");
        async move {
            let reply = client.admin(Method::POST, &url, Some(body)).await;
            assert_eq!(reply.status, 204, "{:?}", reply.body);
        }
    };
    let items = Items::new(&client, &west, "p");
    upsert(&items, "a", 1).await;
    set_lag(json!({"lag_ms": 60_000})).await;
    upsert(&items, "a", 2).await;
    upsert(&items, "b", 1).await;

    let in_west = changes(&client, &west, &[]).await;
    assert_eq!(ids(&in_west), ["a", "b"]);
    assert_eq!(etag(&in_west), "\"3\"");
    let in_east = changes(&client, &east, &[]).await;
    assert_eq!(ids(&in_east), ["a"], "East has not seen b");
    assert_eq!(
        in_east.json()["Documents"][0]["n"],
        1,
        "nor a's second version"
    );
    assert_eq!(etag(&in_east), "\"1\"", "East's LSN");
    let ahead = changes(&client, &east, &[("if-none-match", "\"3\"")]).await;
    assert_eq!(
        ahead.status, 304,
        "a continuation from West: nothing new in East yet"
    );
    assert_eq!(etag(&ahead), "\"3\"", "the continuation never goes back");

    set_lag(json!({"region": "East US", "lag_ms": 0})).await;
    // No lag: East has every write at once, and its feed resumes where it stood.
    let caught_up = changes(&client, &east, &[("if-none-match", &etag(&in_east))]).await;
    assert_eq!(ids(&caught_up), ["a", "b"]);
    assert_eq!(caught_up.json()["Documents"][0]["n"], 2);
    assert_eq!(etag(&caught_up), "\"3\"");
}

#[tokio::test]
async fn change_feed_after_a_forced_failover_shows_the_surviving_versions() {
    let builder: EmulatorBuilder = Emulator::builder().regions(["West US", "East US"]);
    let (emulator, client, _) = start_with_container(builder).await;
    let west = emulator.region_endpoint("West US").unwrap();
    let east = emulator.region_endpoint("East US").unwrap();
    let items = Items::new(&client, &west, "p");
    upsert(&items, "a", 1).await;
    let admin = |path: &str, body: Value| {
        let client = client.clone();
        let url = admin_url(&emulator, path);
        async move { client.admin(Method::POST, &url, Some(body)).await }
    };
    let lag = admin("replication", json!({"lag_ms": 60_000})).await;
    assert_eq!(lag.status, 204);
    upsert(&items, "a", 2).await;
    upsert(&items, "b", 1).await;
    let failover = admin(
        "failover",
        json!({"write_region": "East US", "mode": "forced"}),
    )
    .await;
    assert!(failover.status.is_success(), "{:?}", failover.body);
    // West's unreplicated writes are lost: a is back at its first version, b is gone.
    let after = changes(&client, &east, &[]).await;
    assert_eq!(ids(&after), ["a"]);
    assert_eq!(after.json()["Documents"][0]["n"], 1);
    upsert(&Items::new(&client, &east, "p"), "c", 1).await;
    let next = changes(&client, &east, &[("if-none-match", &etag(&after))]).await;
    assert_eq!(ids(&next), ["c"]);
    assert_eq!(ids(&changes(&client, &east, &[]).await), ["a", "c"]);
}

#[tokio::test]
async fn change_feed_scoped_to_an_epk_range_sees_that_partition_key_only() {
    let (_emulator, client, base) = start_with_container(Emulator::builder()).await;
    let v2 = json!({"id": "v2", "partitionKey": {"paths": ["/pk"], "kind": "Hash", "version": 2}});
    let url = format!("{base}dbs/db/colls");
    assert_eq!(
        client
            .signed(Method::POST, &url, COLLECTIONS, Some(v2))
            .await
            .status,
        201
    );
    let docs = || crate::client::Signed::new("docs", "dbs/db/colls/v2");
    for (id, pk) in [("a", "p1"), ("b", "eu"), ("c", "p1")] {
        let header = format!("[\"{pk}\"]");
        let pk_header = [("x-ms-documentdb-partitionkey", header.as_str())];
        let body = Some(json!({"id": id, "pk": pk}));
        let url = format!("{base}dbs/db/colls/v2/docs");
        let reply = client
            .send(Method::POST, &url, Some(docs()), &pk_header, body)
            .await
            .unwrap();
        assert_eq!(reply.status, 201);
    }
    // The effective partition key of "p1", as the SDKs compute it (hash V2).
    let p1 = "062B23DEC15212F01B9A85F4E93A940C";
    let scoped = [
        INCREMENTAL,
        ("x-ms-documentdb-partitionkeyrangeid", "0"),
        ("x-ms-read-key-type", "EffectivePartitionKeyRange"),
        ("x-ms-start-epk", p1),
        ("x-ms-end-epk", p1),
    ];
    let url = format!("{base}dbs/db/colls/v2/docs");
    let reply = client
        .send(Method::GET, &url, Some(docs()), &scoped, None)
        .await
        .unwrap();
    assert_eq!(ids(&reply), ["a", "c"]);
    // A V1 container (no version) is refused rather than answered unscoped.
    let v1 = changes(&client, &base, &scoped[1..]).await;
    assert_eq!(v1.status, 400);
}
