//! Issue #24: one hostile or careless client cannot crash the emulator, lock others out or
//! slow them down. Memory is asserted through the emulator's own accounting (the budget
//! gauge, the replication status), never through RSS or timing.

use std::time::Duration;

use bytes::Bytes;
use http::Method;
use meridian_emulator::{
    Emulator, EmulatorError, MAX_PAGE_BYTES, MIN_MEMORY_BUDGET, SUB_STATUS_BUDGET_EXCEEDED,
    TopologyError,
};
use serde_json::{Value, json};

use crate::client::{DOCS, Items, TestClient};
use crate::data_plane::start_with_container;
use crate::query::{CROSS, query};
use crate::{admin_url, eventually, start};

#[tokio::test]
async fn unknown_methods_never_grow_the_counters() {
    let (emulator, client) = start().await;
    let base = emulator.global_endpoint();
    for i in 0..40 {
        let method = Method::from_bytes(format!("X{i}{}", "Y".repeat(4096)).as_bytes()).unwrap();
        let url = format!("{base}dbs/db{i}");
        let reply = client.send(method, &url, None, &[], None).await.unwrap();
        assert!(reply.status.is_client_error(), "{}", reply.status);
        // Answers keep their length: the budget's hold on a body keeps its size hint.
        assert!(reply.headers.contains_key("content-length"));
    }
    let counters = emulator.counters();
    let labels: Vec<&String> = counters
        .listeners
        .values()
        .flat_map(|l| l.by_class.values())
        .flat_map(|methods| methods.keys())
        .collect();
    assert!(
        labels.iter().all(|m| m.len() <= 7),
        "every label is from a bounded set: {labels:?}"
    );
    assert_eq!(counters.total("rejected_auth", "OTHER"), 40);
    let stats = client
        .admin(Method::GET, &admin_url(&emulator, "stats"), None)
        .await;
    assert!(stats.body.len() < 2048, "{} bytes", stats.body.len());
    emulator.shutdown().await;
}

#[tokio::test]
async fn region_names_are_validated() {
    let (emulator, client) = start().await;
    for name in [
        "global",
        "GLOBAL",
        "  ",
        "West/US",
        "Ouest\u{e9}",
        &"a".repeat(65),
    ] {
        let refused = emulator.add_region(name);
        assert!(
            matches!(
                refused,
                Err(EmulatorError::Topology(
                    TopologyError::InvalidRegionName { .. }
                ))
            ),
            "{name:?}: {refused:?}"
        );
    }
    let huge = "r".repeat(1024 * 1024);
    let reply = client
        .admin(
            Method::POST,
            &admin_url(&emulator, "regions"),
            Some(json!({"name": huge})),
        )
        .await;
    assert_eq!(reply.status, 400);
    assert!(reply.body.len() < 1024, "the name is not echoed whole");
    assert!(emulator.add_region("Brazil South (2)").is_ok());
    let started = Emulator::builder()
        .regions(["West US", "Global"])
        .start()
        .await;
    assert!(started.is_err(), "a reserved name is refused at start");
    emulator.shutdown().await;
}

#[tokio::test]
async fn patch_cannot_grow_an_item_past_the_cap() {
    let (emulator, client, base) = start_with_container(Emulator::builder()).await;
    let items = Items::new(&client, &base, "p");
    let mb = "x".repeat(1024 * 1024);
    let created = items.create(json!({"id": "a", "pk": "p", "a": mb})).await;
    assert_eq!(created.status, 201);
    let grow = json!({"operations": [{"op": "add", "path": "/b", "value": mb}]});
    let refused = items.patch("a", &[], grow.clone()).await;
    assert_eq!(refused.status, 413, "{:?}", refused.body);
    assert!(
        items.read("a").await.json().get("b").is_none(),
        "nothing applied"
    );
    // The same item grown by a PUT is refused alike; small patches still apply.
    let put = items
        .replace("a", &[], json!({"id": "a", "pk": "p", "a": mb, "b": mb}))
        .await;
    assert_eq!(put.status, 413);
    let small = json!({"operations": [{"op": "add", "path": "/b", "value": 1}]});
    assert_eq!(items.patch("a", &[], small).await.status, 200);
    emulator.shutdown().await;
}

#[tokio::test]
async fn feed_pages_are_capped_in_bytes() {
    let (emulator, client, base) = start_with_container(Emulator::builder()).await;
    let items = Items::new(&client, &base, "p");
    let payload = "x".repeat(1536 * 1024);
    for id in ["a", "b", "c", "d", "e"] {
        let created = items
            .create(json!({"id": id, "pk": "p", "x": payload}))
            .await;
        assert_eq!(created.status, 201);
    }
    // Read feed and query alike: 100 items asked for, at most 4 MB served per page.
    for read in ["feed", "query"] {
        let mut continuation: Option<String> = None;
        let mut pages = Vec::new();
        loop {
            let mut headers = vec![("x-ms-max-item-count", "100")];
            if let Some(token) = &continuation {
                headers.push(("x-ms-continuation", token.as_str()));
            }
            let reply = if read == "feed" {
                items.send(Method::GET, None, &headers, None).await
            } else {
                headers.push(("x-ms-documentdb-isquery", "True"));
                headers.push(("content-type", "application/query+json"));
                let body = json!({"query": "SELECT * FROM c"});
                items.send(Method::POST, None, &headers, Some(body)).await
            };
            assert_eq!(reply.status, 200, "{read}");
            assert!(
                reply.body.len() <= MAX_PAGE_BYTES + 1024,
                "{read}: {}",
                reply.body.len()
            );
            pages.push(reply.json()["Documents"].as_array().unwrap().len());
            continuation = reply
                .headers
                .get("x-ms-continuation")
                .map(|v| v.to_str().unwrap().to_string());
            if continuation.is_none() {
                break;
            }
        }
        assert_eq!(pages, vec![2, 2, 1], "{read}");
    }
    emulator.shutdown().await;
}

/// A binary object `{"id": "a", "pk": "p", "x": <value>}` (object with a 1-byte length).
fn binary_item(value: &[u8]) -> Bytes {
    let mut members = vec![0x2C, 0x81, b'a', 0x82, b'p', b'k', 0x81, b'p', 0x81, b'x'];
    members.extend_from_slice(value);
    let mut bytes = vec![0x80, 0xEA, u8::try_from(members.len()).unwrap()];
    bytes.extend(members);
    Bytes::from(bytes)
}

/// 7 bytes decoding to `count` empty arrays: `F3 F1 D7`, inner count 0, outer `count`.
fn empty_arrays(count: u16) -> Vec<u8> {
    let mut bytes = vec![0xF3, 0xF1, 0xD7, 0, 0];
    bytes.extend(count.to_le_bytes());
    bytes
}

#[tokio::test]
async fn a_binary_body_is_charged_at_its_decoded_size() {
    let (emulator, client, base) = start_with_container(Emulator::builder()).await;
    let url = format!("{base}dbs/db/colls/c/docs");
    let headers = [("x-ms-documentdb-partitionkey", "[\"p\"]")];
    emulator.reset_counters();
    // 27 bytes on the wire, 60,000 arrays decoded: charged as the values they became.
    let body = binary_item(&empty_arrays(60_000));
    assert!(body.len() < 32);
    let created = client
        .send_bytes(Method::POST, &url, Some(DOCS), &headers, body)
        .await
        .unwrap();
    assert_eq!(created.status, 201, "{:?}", created.body);
    let memory = emulator.memory();
    assert!(memory.peak >= 60_000 * 32, "{memory:?}");
    assert_eq!(memory.in_use, 0, "released with the request");

    // Nine such blocks would decode past the per-body limit: refused before being built.
    let mut array = vec![0xE2, 63];
    for _ in 0..9 {
        array.extend(empty_arrays(u16::MAX));
    }
    let refused = client
        .send_bytes(
            Method::POST,
            &url,
            Some(DOCS),
            &headers,
            binary_item(&array),
        )
        .await
        .unwrap();
    assert_eq!(refused.status, 413, "{:?}", refused.body);
    assert!(emulator.memory().peak < 20 * 1024 * 1024);
    emulator.shutdown().await;
}

#[tokio::test]
async fn a_runaway_query_is_stopped_by_its_budget() {
    let builder = Emulator::builder().query_budget(100_000);
    let (emulator, client, base) = start_with_container(builder).await;
    let items = Items::new(&client, &base, "p");
    for n in 0..50 {
        let created = items
            .create(json!({"id": n.to_string(), "pk": "p", "n": n}))
            .await;
        assert_eq!(created.status, 201);
    }
    // 50 items × 2,000 evaluated members: far past 100,000 units, whatever the CPU.
    let list = vec!["c.n"; 2000].join(", ");
    let runaway = json!({"query": format!("SELECT * FROM c WHERE -1 IN ({list})")});
    let reply = query(&client, &base, runaway, &[CROSS]).await;
    assert_eq!(reply.status, 400, "{:?}", reply.body);
    let message = reply.json()["message"].as_str().unwrap().to_string();
    assert!(message.contains("work budget"), "{message}");
    // An ordinary query still runs, and so does everyone else.
    let ordinary = query(
        &client,
        &base,
        json!({"query": "SELECT * FROM c WHERE c.n < 3"}),
        &[CROSS],
    )
    .await;
    assert_eq!(ordinary.status, 200);
    assert_eq!(ordinary.json()["_count"], 3);
    emulator.shutdown().await;
}

#[tokio::test]
async fn a_long_query_does_not_block_point_reads() {
    let (emulator, client, base) = start_with_container(Emulator::builder()).await;
    let items = Items::new(&client, &base, "p");
    for id in ["a", "b"] {
        assert_eq!(
            items
                .create(json!({"id": id, "pk": "p", "n": 1}))
                .await
                .status,
            201
        );
    }
    let hold = emulator.hold_queries();
    let running = {
        let (client, base) = (client.clone(), base.clone());
        tokio::spawn(async move {
            query(
                &client,
                &base,
                json!({"query": "SELECT * FROM c"}),
                &[CROSS],
            )
            .await
        })
    };
    eventually("the query is inside its evaluation", || {
        emulator.queries_running() == 1
    })
    .await;
    // The query is provably still running: point reads and writes proceed meanwhile.
    assert_eq!(items.read("a").await.status, 200);
    let replaced = items
        .replace("b", &[], json!({"id": "b", "pk": "p", "n": 2}))
        .await;
    assert_eq!(replaced.status, 200);
    assert_eq!(
        items.create(json!({"id": "c", "pk": "p"})).await.status,
        201
    );
    assert_eq!(emulator.queries_running(), 1, "still held");
    assert!(!running.is_finished());
    drop(hold);
    let reply = running.await.unwrap();
    assert_eq!(reply.status, 200);
    // It ran on its snapshot: the items as they were when it started.
    let docs = reply.json()["Documents"].clone();
    assert_eq!(docs.as_array().unwrap().len(), 2);
    assert_eq!(docs[1]["n"], 1);
    assert_eq!(emulator.queries_running(), 0);
    emulator.shutdown().await;
}

#[tokio::test]
async fn a_query_s_results_are_charged_to_the_memory_budget() {
    let builder = Emulator::builder().memory_budget(MIN_MEMORY_BUDGET);
    let (emulator, client, base) = start_with_container(builder).await;
    let items = Items::new(&client, &base, "p");
    let mb = "x".repeat(1024 * 1024);
    for id in ["a", "b", "c", "d", "e"] {
        let created = items.create(json!({"id": id, "pk": "p", "x": mb})).await;
        assert_eq!(created.status, 201, "{:?}", created.body);
    }
    // Five copies of 1 MiB items are more than the whole 4 MiB budget: refused as the
    // budget refuses, even though a page of them would fit.
    let reply = query(
        &client,
        &base,
        json!({"query": "SELECT * FROM c"}),
        &[CROSS],
    )
    .await;
    assert_eq!(reply.status, 429, "{} bytes", reply.body.len());
    assert_eq!(reply.sub_status(), Some(SUB_STATUS_BUDGET_EXCEEDED));
    assert!(reply.headers.contains_key("x-ms-retry-after-ms"));
    eventually("the refused query's copies are released", || {
        emulator.memory().in_use == 0
    })
    .await;
    // A query whose results fit is served, and releases them once answered too.
    let ids = query(
        &client,
        &base,
        json!({"query": "SELECT c.id FROM c"}),
        &[CROSS],
    )
    .await;
    assert_eq!(ids.status, 200);
    assert_eq!(ids.json()["_count"], 5);
    eventually("the served query's copies are released", || {
        emulator.memory().in_use == 0
    })
    .await;
    emulator.shutdown().await;
}

#[tokio::test]
async fn every_response_is_charged_until_it_is_sent() {
    let (emulator, client, base) = start_with_container(Emulator::builder()).await;
    let items = Items::new(&client, &base, "p");
    let mb = "x".repeat(1024 * 1024);
    let created = items.create(json!({"id": "a", "pk": "p", "x": mb})).await;
    assert_eq!(created.status, 201);
    eventually("the create is released", || emulator.memory().in_use == 0).await;
    emulator.reset_counters();
    // A point read has no body: what it holds is its 1 MiB answer, charged until sent.
    let read = items.read("a").await;
    assert_eq!(read.status, 200);
    let memory = emulator.memory();
    assert!(memory.peak >= 1024 * 1024, "{memory:?}");
    eventually("the answer is released once sent", || {
        emulator.memory().in_use == 0
    })
    .await;
    emulator.shutdown().await;
}

/// The replication status's count of entries in `db/c`'s log, and of lagging views built.
async fn log_entries(client: &TestClient, emulator: &Emulator) -> (u64, u64) {
    let status = client
        .admin(Method::GET, &admin_url(emulator, "replication"), None)
        .await
        .json();
    (
        status["log_entries"]["db/c"].as_u64().unwrap(),
        status["view_copies"].as_u64().unwrap(),
    )
}

async fn set_lag_ms(client: &TestClient, emulator: &Emulator, body: Value) {
    let url = admin_url(emulator, "replication");
    let reply = client.admin(Method::POST, &url, Some(body)).await;
    assert_eq!(reply.status, 204, "{:?}", reply.body);
}

#[tokio::test]
async fn the_replication_log_is_trimmed_when_every_region_caught_up() {
    let builder = Emulator::builder()
        .replication_lag(Duration::from_secs(3600))
        .replication_log_limit(5);
    let (emulator, client, base) = start_with_container(builder).await;
    let items = Items::new(&client, &base, "p");
    for n in 0..3 {
        let upserted = items.upsert(json!({"id": "a", "pk": "p", "n": n})).await;
        assert!(upserted.status.is_success());
    }
    assert_eq!(log_entries(&client, &emulator).await.0, 3);
    // Every region catches up at once: the log empties without waiting for a write.
    set_lag_ms(&client, &emulator, json!({"lag_ms": 0})).await;
    assert_eq!(log_entries(&client, &emulator).await.0, 0);

    // Behind a long lag again, the log fills to its cap; then writes wait, with a hint.
    set_lag_ms(&client, &emulator, json!({"lag_ms": 3_600_000})).await;
    for n in 0..5 {
        let upserted = items.upsert(json!({"id": "a", "pk": "p", "n": n})).await;
        assert!(upserted.status.is_success());
    }
    let refused = items.upsert(json!({"id": "a", "pk": "p", "n": 9})).await;
    assert_eq!(refused.status, 429, "{:?}", refused.body);
    let wait: u64 = refused.headers["x-ms-retry-after-ms"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(wait > 0 && wait <= 3_600_000);
    assert!(
        refused.json()["message"]
            .as_str()
            .unwrap()
            .contains("replication log")
    );
    assert_eq!(log_entries(&client, &emulator).await.0, 5);
    set_lag_ms(&client, &emulator, json!({"lag_ms": 0})).await;
    assert!(
        items
            .upsert(json!({"id": "a", "pk": "p", "n": 9}))
            .await
            .status
            .is_success()
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn a_lagging_point_read_does_not_copy_the_container() {
    let (emulator, client, base) = start_with_container(Emulator::builder()).await;
    let west = Items::new(&client, &base, "p");
    for n in 0..200 {
        let created = west
            .create(json!({"id": n.to_string(), "pk": "p", "n": 0}))
            .await;
        assert_eq!(created.status, 201);
    }
    set_lag_ms(
        &client,
        &emulator,
        json!({"region": "East US", "lag_ms": 3_600_000}),
    )
    .await;
    let updated = west.upsert(json!({"id": "7", "pk": "p", "n": 1})).await;
    assert!(updated.status.is_success());
    let east_endpoint = emulator.region_endpoint("East US").unwrap();
    let east = Items::new(&client, &east_endpoint, "p");
    for _ in 0..20 {
        // The stale value, from a lookup in the log.
        assert_eq!(east.read("7").await.json()["n"], 0);
        assert_eq!(east.read("8").await.json()["n"], 0);
    }
    assert_eq!(
        log_entries(&client, &emulator).await,
        (1, 0),
        "no view of the container was built for point reads"
    );
    // A read feed there does need the region's view: that is what the counter counts.
    let feed = east.send(Method::GET, None, &[], None).await;
    assert_eq!(feed.status, 200);
    assert_eq!(log_entries(&client, &emulator).await.1, 1);
    emulator.shutdown().await;
}
