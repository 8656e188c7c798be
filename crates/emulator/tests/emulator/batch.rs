//! Transactional batch and bulk (`x-ms-cosmos-is-batch-request: True`): wire shape,
//! atomicity, the 100-operation limit, replication, and bulk's per-operation answers.
//!
//! Real sockets, real time: the lagging phase uses a lag far longer than any test step,
//! and "caught up" lowers the lag at run time — no assertion depends on machine speed.

use std::time::Duration;

use http::Method;
use meridian_emulator::{Emulator, FailoverMode};
use serde_json::{Value, json};

use crate::client::{DOCS, Items, Reply, TestClient};
use crate::data_plane::setup;
use crate::start;

/// Sends `ops` as a batch to container `c` at `base`: atomic in partition `pk`, or (with
/// `pk` `None`) as bulk to partition key range 0.
async fn batch(client: &TestClient, base: &str, pk: Option<&str>, ops: Value) -> Reply {
    let pk_header = pk.map(|pk| format!("[\"{pk}\"]"));
    let mut headers = vec![("x-ms-cosmos-is-batch-request", "True")];
    match &pk_header {
        Some(pk) => headers.extend([
            ("x-ms-cosmos-batch-atomic", "True"),
            ("x-ms-documentdb-partitionkey", pk.as_str()),
        ]),
        None => headers.extend([
            ("x-ms-cosmos-batch-atomic", "false"),
            ("x-ms-documentdb-partitionkeyrangeid", "0"),
        ]),
    }
    let url = format!("{base}dbs/db/colls/c/docs");
    client
        .send(Method::POST, &url, Some(DOCS), &headers, Some(ops))
        .await
        .unwrap()
}

fn statuses(reply: &Reply) -> Vec<u64> {
    let results = reply.json();
    let results = results.as_array().unwrap_or_else(|| panic!("{results}"));
    results
        .iter()
        .map(|r| r["statusCode"].as_u64().unwrap())
        .collect()
}

fn lsn(reply: &Reply) -> u64 {
    let token = reply.headers["x-ms-session-token"].to_str().unwrap();
    token.rsplit('#').next().unwrap().parse().unwrap()
}

fn item(id: &str, n: i64) -> Value {
    json!({"id": id, "pk": "p1", "n": n})
}

/// Creates `read`, `replace`, `patch` and `delete` in partition p1.
async fn seed(items: &Items<'_>) {
    for id in ["read", "replace", "patch", "delete"] {
        assert_eq!(items.create(item(id, 0)).await.status, 201);
    }
}

/// One operation of each kind, all valid after [`seed`].
fn one_of_each() -> Value {
    json!([
        {"operationType": "Create", "resourceBody": item("new", 1)},
        {"operationType": "Replace", "id": "replace", "resourceBody": item("replace", 2)},
        {"operationType": "Upsert", "resourceBody": item("upserted", 3)},
        {"operationType": "Patch", "id": "patch",
         "resourceBody": {"operations": [{"op": "incr", "path": "/n", "value": 4}]}},
        {"operationType": "Read", "id": "new"},
        {"operationType": "Delete", "id": "delete"},
    ])
}

#[tokio::test]
async fn batch_applies_all_operations_atomically() {
    let (emulator, client) = start().await;
    let base = emulator.global_endpoint();
    setup(&client, &base).await;
    let items = Items::new(&client, &base, "p1");
    seed(&items).await;
    let before = lsn(&items.read("read").await);

    let reply = batch(&client, &base, Some("p1"), one_of_each()).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(statuses(&reply), [201, 200, 201, 200, 200, 204]);
    let results = reply.json();
    // Each result carries its charge, and a body and its etag when it has one; the read
    // sees the create before it in the same batch.
    assert_eq!(results[4]["resourceBody"]["n"], 1);
    assert_eq!(results[3]["resourceBody"]["n"], 4);
    for result in results.as_array().unwrap() {
        assert!(result["requestCharge"].as_f64().unwrap() > 0.0, "{result}");
    }
    assert_eq!(results[0]["eTag"], results[0]["resourceBody"]["_etag"]);
    assert_eq!(results[5].get("resourceBody"), None);
    let total: f64 = reply.headers["x-ms-request-charge"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(total, 5.0 * 5.0 + 1.0);
    // Every write counted in the container's LSN, and the session token says so.
    assert_eq!(lsn(&reply), before + 5);

    assert_eq!(items.read("new").await.json()["n"], 1);
    assert_eq!(items.read("replace").await.json()["n"], 2);
    assert_eq!(items.read("upserted").await.json()["n"], 3);
    assert_eq!(items.read("patch").await.json()["n"], 4);
    assert_eq!(items.read("delete").await.status, 404);
}

#[tokio::test]
async fn batch_with_a_failing_operation_applies_nothing() {
    let (emulator, client) = start().await;
    let base = emulator.global_endpoint();
    setup(&client, &base).await;
    let items = Items::new(&client, &base, "p1");
    seed(&items).await;
    let before = lsn(&items.read("read").await);
    let stale = items.read("replace").await.json()["_etag"].clone();
    assert_eq!(
        items
            .replace("replace", &[], item("replace", 9))
            .await
            .status,
        200
    );
    let before = before + 1;

    let failing = [
        // A create of an item that exists: 409.
        (
            json!({"operationType": "Create", "resourceBody": item("read", 0)}),
            409,
        ),
        // A stale ifMatch: 412.
        (
            json!({"operationType": "Replace", "id": "replace", "ifMatch": stale,
                "resourceBody": item("replace", 5)}),
            412,
        ),
        // A missing item: 404.
        (json!({"operationType": "Read", "id": "nope"}), 404),
        // A body in another partition: 400.
        (
            json!({"operationType": "Create",
                "resourceBody": {"id": "other", "pk": "p2"}}),
            400,
        ),
    ];
    for (bad, status) in failing {
        let mut ops = one_of_each();
        ops.as_array_mut().unwrap().insert(2, bad.clone());
        let reply = batch(&client, &base, Some("p1"), ops).await;
        assert_eq!(reply.status, 207, "{bad}: {:?}", reply.body);
        assert_eq!(
            statuses(&reply),
            [424, 424, status, 424, 424, 424, 424],
            "{bad}"
        );
        // Nothing of the batch applied, not even the operations before the failure.
        assert_eq!(items.read("new").await.status, 404);
        assert_eq!(items.read("upserted").await.status, 404);
        assert_eq!(items.read("replace").await.json()["n"], 9);
        assert_eq!(items.read("patch").await.json()["n"], 0);
        assert_eq!(items.read("delete").await.status, 200);
        assert_eq!(lsn(&reply), before, "{bad}: the LSN is as before");
    }
    // The whole batch works once the failing operation is gone.
    let reply = batch(&client, &base, Some("p1"), one_of_each()).await;
    assert_eq!(reply.status, 200);
}

/// The operation types the full-fidelity change feed shows after `etag` (`None`: 304).
async fn full_fidelity_after(client: &TestClient, base: &str, etag: &str) -> Option<Vec<Value>> {
    let url = format!("{base}dbs/db/colls/c/docs");
    let headers = [("a-im", "Full-Fidelity Feed"), ("if-none-match", etag)];
    let reply = client
        .send(Method::GET, &url, Some(DOCS), &headers, None)
        .await
        .unwrap();
    if reply.status == 304 {
        return None;
    }
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let entries = reply.json()["Documents"].as_array().unwrap().clone();
    Some(
        entries
            .iter()
            .map(|e| e["metadata"]["operationType"].clone())
            .collect(),
    )
}

#[tokio::test]
async fn a_failed_batch_leaves_nothing_in_the_change_feed() {
    let (emulator, client) = start().await;
    let base = emulator.global_endpoint();
    let db = client
        .signed(
            Method::POST,
            &format!("{base}dbs"),
            crate::client::DATABASES,
            Some(json!({"id": "db"})),
        )
        .await;
    assert_eq!(db.status, 201);
    // A container whose change feed keeps every version.
    let body = json!({"id": "c", "partitionKey": {"paths": ["/pk"], "kind": "Hash"},
        "changeFeedPolicy": {"retentionDuration": 10}});
    let url = format!("{base}dbs/db/colls");
    let coll = client
        .signed(Method::POST, &url, crate::client::COLLECTIONS, Some(body))
        .await;
    assert_eq!(coll.status, 201);
    let url = format!("{base}dbs/db/colls/c/docs");
    let now = client
        .send(
            Method::GET,
            &url,
            Some(DOCS),
            &[("a-im", "Full-Fidelity Feed"), ("if-none-match", "*")],
            None,
        )
        .await
        .unwrap();
    assert_eq!(now.status, 304);
    let etag = now.headers["etag"].to_str().unwrap().to_string();

    // Two creates, then a read of a missing item: the batch fails and applies nothing.
    let failing = json!([
        {"operationType": "Create", "resourceBody": item("a", 1)},
        {"operationType": "Create", "resourceBody": item("b", 2)},
        {"operationType": "Read", "id": "missing"},
    ]);
    assert_eq!(batch(&client, &base, Some("p1"), failing).await.status, 207);
    assert_eq!(
        full_fidelity_after(&client, &base, &etag).await,
        None,
        "the failed batch's creates are not in the feed"
    );
    let working = json!([{"operationType": "Create", "resourceBody": item("a", 1)}]);
    assert_eq!(batch(&client, &base, Some("p1"), working).await.status, 200);
    assert_eq!(
        full_fidelity_after(&client, &base, &etag).await,
        Some(vec![json!("create")]),
        "one create, the one that was applied"
    );
}

#[tokio::test]
async fn batch_over_one_hundred_operations_is_refused() {
    let (emulator, client) = start().await;
    let base = emulator.global_endpoint();
    setup(&client, &base).await;
    let creates = |n: usize| {
        let ops: Vec<Value> = (0..n)
            .map(|i| json!({"operationType": "Create", "resourceBody": item(&format!("i{i}"), 0)}))
            .collect();
        Value::Array(ops)
    };
    for ops in [creates(101), creates(0)] {
        let reply = batch(&client, &base, Some("p1"), ops).await;
        assert_eq!(reply.status, 400, "{:?}", reply.body);
        assert!(
            reply.json()["message"]
                .as_str()
                .unwrap()
                .contains("Batch request has"),
            "{:?}",
            reply.body
        );
    }
    let items = Items::new(&client, &base, "p1");
    assert_eq!(
        items.read("i0").await.status,
        404,
        "nothing of the 101 applied"
    );
    // Bulk has the same limit.
    assert_eq!(batch(&client, &base, None, creates(101)).await.status, 400);
    let reply = batch(&client, &base, Some("p1"), creates(100)).await;
    assert_eq!(reply.status, 200);
    assert_eq!(statuses(&reply), vec![201; 100]);
    // A batch needs its partition key header; a body that is not an array is refused.
    let no_pk = client
        .send(
            Method::POST,
            &format!("{base}dbs/db/colls/c/docs"),
            Some(DOCS),
            &[("x-ms-cosmos-is-batch-request", "True")],
            Some(creates(1)),
        )
        .await
        .unwrap();
    assert_eq!(no_pk.status, 400);
    assert_eq!(
        batch(&client, &base, Some("p1"), json!({})).await.status,
        400
    );
}

#[tokio::test]
async fn batch_is_replicated_like_single_writes() {
    let emulator = Emulator::builder()
        .regions(["West US", "East US"])
        .start()
        .await
        .unwrap();
    let client = TestClient::new(emulator.key());
    let west = emulator.region_endpoint("West US").unwrap();
    let east = emulator.region_endpoint("East US").unwrap();
    setup(&client, &west).await;
    seed(&Items::new(&client, &west, "p1")).await;
    let lag = Duration::from_secs(60);
    emulator.set_replication_lag(Some("East US"), lag).unwrap();

    let reply = batch(&client, &west, Some("p1"), one_of_each()).await;
    assert_eq!(reply.status, 200);
    let token = reply.headers["x-ms-session-token"]
        .to_str()
        .unwrap()
        .to_string();
    // East has seen none of the batch: a read there in the batch's session is refused
    // (404/1002), and without the session it sees the state before the whole batch.
    let in_east = Items::new(&client, &east, "p1");
    let session = [("x-ms-session-token", token.as_str())];
    let refused = in_east
        .send(Method::GET, Some("read"), &session, None)
        .await;
    assert_eq!(
        (refused.status.as_u16(), refused.sub_status()),
        (404, Some(1002))
    );
    assert_eq!(in_east.read("new").await.status, 404);
    assert_eq!(in_east.read("replace").await.json()["n"], 0);
    assert_eq!(in_east.read("delete").await.status, 200);
    // Caught up: East sees all of it at once, and serves the batch's session.
    emulator
        .set_replication_lag(Some("East US"), Duration::ZERO)
        .unwrap();
    let read = in_east.send(Method::GET, Some("new"), &session, None).await;
    assert_eq!(read.status, 200);
    assert_eq!(in_east.read("replace").await.json()["n"], 2);
    assert_eq!(in_east.read("delete").await.status, 404);

    // A forced failover before East saw a batch loses the whole batch, never part of it.
    emulator.set_replication_lag(Some("East US"), lag).unwrap();
    let ops = json!([
        {"operationType": "Create", "resourceBody": item("lost-1", 1)},
        {"operationType": "Replace", "id": "replace", "resourceBody": item("replace", 7)},
        {"operationType": "Create", "resourceBody": item("lost-2", 1)},
    ]);
    assert_eq!(batch(&client, &west, Some("p1"), ops).await.status, 200);
    let dropped = emulator
        .failover_with("East US", FailoverMode::Forced)
        .unwrap();
    assert_eq!(dropped, 3);
    assert_eq!(in_east.read("lost-1").await.status, 404);
    assert_eq!(in_east.read("lost-2").await.status, 404);
    assert_eq!(in_east.read("replace").await.json()["n"], 2);
}

#[tokio::test]
async fn bulk_answers_each_operation_and_throttles_past_the_log_cap() {
    let emulator = Emulator::builder()
        .regions(["West US", "East US"])
        .replication_log_limit(3)
        .start()
        .await
        .unwrap();
    let client = TestClient::new(emulator.key());
    let base = emulator.global_endpoint();
    setup(&client, &base).await;
    emulator
        .set_replication_lag(Some("East US"), Duration::from_secs(60))
        .unwrap();
    // Another range than the container's one is gone (410/1002).
    let url = format!("{base}dbs/db/colls/c/docs");
    let headers = [
        ("x-ms-cosmos-is-batch-request", "True"),
        ("x-ms-cosmos-batch-atomic", "false"),
        ("x-ms-documentdb-partitionkeyrangeid", "7"),
    ];
    let ops = json!([{"operationType": "Read", "partitionKey": "[\"p1\"]", "id": "a"}]);
    let gone = client
        .send(Method::POST, &url, Some(DOCS), &headers, Some(ops))
        .await
        .unwrap();
    assert_eq!((gone.status.as_u16(), gone.sub_status()), (410, Some(1002)));
    // Each operation has its own partition key; a failure does not undo the others.
    let ops = json!([
        {"operationType": "Create", "partitionKey": "[\"p1\"]", "resourceBody": item("a", 1)},
        {"operationType": "Create", "partitionKey": "[\"p2\"]",
         "resourceBody": {"id": "b", "pk": "p2"}},
        {"operationType": "Read", "partitionKey": "[\"p1\"]", "id": "missing"},
        {"operationType": "Create", "partitionKey": "[\"p1\"]", "resourceBody": item("c", 1)},
        {"operationType": "Create", "partitionKey": "[\"p1\"]", "resourceBody": item("d", 1)},
    ]);
    let reply = batch(&client, &base, None, ops).await;
    assert_eq!(reply.status, 207, "{:?}", reply.body);
    // The log holds 3 unreplicated writes: the fourth write is throttled with the wait.
    assert_eq!(statuses(&reply), [201, 201, 404, 201, 429]);
    let throttled = &reply.json()[4];
    assert!(
        throttled["retryAfterMilliseconds"].as_u64().unwrap() > 0,
        "{throttled}"
    );
    assert_eq!(Items::new(&client, &base, "p2").read("b").await.status, 200);
    assert_eq!(Items::new(&client, &base, "p1").read("d").await.status, 404);
}
