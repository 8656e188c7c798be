//! Replication lag, session tokens, failover modes and multi-write last-writer-wins.
//!
//! Real sockets, real time: a "stale" phase uses a lag far longer than any test step
//! (60 s), and "after the lag" lowers the lag at run time and waits, bounded, for the
//! region to catch up — no assertion depends on how fast the machine is.

use std::time::Duration;

use http::Method;
use meridian_emulator::{Consistency, Emulator};
use serde_json::{Value, json};

use crate::admin_url;
use crate::client::{DOCS, Reply, Signed, TestClient};
use crate::data_plane::setup;

const LONG_LAG_MS: u64 = 60_000;
async fn start(multi_write: bool, consistency: Consistency) -> (Emulator, TestClient) {
    let emulator = Emulator::builder()
        .regions(["West US", "East US", "North Europe"])
        .multi_write(multi_write)
        .consistency(consistency)
        .start()
        .await
        .unwrap();
    let client = TestClient::new(emulator.key());
    setup(&client, &emulator.global_endpoint()).await;
    (emulator, client)
}

fn region(emulator: &Emulator, name: &str) -> String {
    emulator.region_endpoint(name).unwrap()
}

/// The endpoints of West US, East US and North Europe.
fn regions(emulator: &Emulator) -> (String, String, String) {
    let [west, east, north] = ["West US", "East US", "North Europe"].map(|r| region(emulator, r));
    (west, east, north)
}

async fn set_lag(client: &TestClient, emulator: &Emulator, body: Value) {
    let reply = client
        .admin(
            Method::POST,
            &admin_url(emulator, "replication"),
            Some(body),
        )
        .await;
    assert_eq!(reply.status, 204, "{:?}", reply.body);
}

async fn upsert(client: &TestClient, base: &str, id: &str, n: i64) -> Reply {
    let reply = client
        .send(
            Method::POST,
            &format!("{base}dbs/db/colls/c/docs"),
            Some(DOCS),
            &[
                ("x-ms-documentdb-partitionkey", "[\"p\"]"),
                ("x-ms-documentdb-is-upsert", "true"),
            ],
            Some(json!({"id": id, "pk": "p", "n": n})),
        )
        .await
        .unwrap();
    assert!(reply.status.is_success(), "upsert: {:?}", reply.body);
    reply
}

async fn read(client: &TestClient, base: &str, id: &str, session: Option<&str>) -> Reply {
    let link = format!("dbs/db/colls/c/docs/{id}");
    let mut headers = vec![("x-ms-documentdb-partitionkey", "[\"p\"]")];
    if let Some(token) = session {
        headers.push(("x-ms-session-token", token));
    }
    client
        .send(
            Method::GET,
            &format!("{base}{link}"),
            Some(Signed::new("docs", &link)),
            &headers,
            None,
        )
        .await
        .unwrap()
}

async fn query_ns(client: &TestClient, base: &str, session: Option<&str>) -> Reply {
    let mut headers = vec![
        ("x-ms-documentdb-isquery", "True"),
        ("content-type", "application/query+json"),
        ("x-ms-documentdb-query-enablecrosspartition", "True"),
    ];
    if let Some(token) = session {
        headers.push(("x-ms-session-token", token));
    }
    client
        .send(
            Method::POST,
            &format!("{base}dbs/db/colls/c/docs"),
            Some(DOCS),
            &headers,
            Some(json!({"query": "SELECT VALUE c.n FROM c ORDER BY c.id"})),
        )
        .await
        .unwrap()
}

/// Writes `a` = 1 in West US (`west`) with no lag, so every region has it; then, under a
/// long lag, `a` = 2 and `b` = 1, which only West US has.
async fn write_behind_a_long_lag(client: &TestClient, emulator: &Emulator, west: &str) {
    upsert(client, west, "a", 1).await;
    set_lag(client, emulator, json!({"lag_ms": LONG_LAG_MS})).await;
    upsert(client, west, "a", 2).await;
    upsert(client, west, "b", 1).await;
}

/// Moves the write region to East US through the admin API, in `mode`.
async fn failover_to_east(client: &TestClient, emulator: &Emulator, mode: &str) -> Reply {
    let body = json!({"write_region": "East US", "mode": mode});
    let url = admin_url(emulator, "failover");
    client.admin(Method::POST, &url, Some(body)).await
}

/// The `n` a region serves for `id` (`None`: 404).
async fn n_of(client: &TestClient, base: &str, id: &str) -> Option<i64> {
    let reply = read(client, base, id, None).await;
    match reply.status.as_u16() {
        200 => reply.json()["n"].as_i64(),
        404 => None,
        other => panic!("unexpected status {other}: {:?}", reply.body),
    }
}

/// Polls until `id` reads as `want` in the region at `base` (bounded: 30 s).
async fn wait_for(client: &TestClient, base: &str, id: &str, want: Option<i64>) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if n_of(client, base, id).await == want {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{id} never became {want:?} at {base}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn token(reply: &Reply) -> String {
    reply.headers["x-ms-session-token"]
        .to_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn lagging_region_serves_stale_reads() {
    let (emulator, client) = start(false, Consistency::Session).await;
    let (west, east, north) = regions(&emulator);
    upsert(&client, &west, "a", 1).await;
    assert_eq!(n_of(&client, &east, "a").await, Some(1), "no lag: at once");

    set_lag(&client, &emulator, json!({"lag_ms": LONG_LAG_MS})).await;
    upsert(&client, &west, "a", 2).await;
    upsert(&client, &west, "b", 1).await;
    assert_eq!(n_of(&client, &west, "a").await, Some(2), "the write region");
    assert_eq!(n_of(&client, &east, "a").await, Some(1), "a stale version");
    assert_eq!(n_of(&client, &east, "b").await, None, "not replicated yet");
    let stale = query_ns(&client, &east, None).await;
    assert_eq!(
        stale.json()["Documents"],
        json!([1]),
        "queries see the view"
    );
    let feed = client
        .get(&format!("{east}dbs/db/colls/c/docs"), DOCS)
        .await
        .json();
    assert_eq!(feed["_count"], 1, "so do read feeds");
    assert_eq!(feed["Documents"][0]["n"], 1);
    let west_lsn = token(&read(&client, &west, "a", None).await);
    let east_lsn = token(&read(&client, &east, "a", None).await);
    assert_eq!((west_lsn.as_str(), east_lsn.as_str()), ("0:-1#3", "0:-1#1"));
    let status = client
        .admin(Method::GET, &admin_url(&emulator, "replication"), None)
        .await
        .json();
    let east_status = &status["regions"][1];
    assert_eq!(east_status["name"], "East US");
    assert_eq!(east_status["lag_ms"], LONG_LAG_MS);
    assert_eq!(east_status["lsn"]["db/c"], 1);

    // East's lag drops to 50 ms: each write is due there 50 ms after it was made. `b` was
    // written after `a`, so it may become due a little later (the steps above can take less
    // than 50 ms): wait for each, do not assume `b` once `a` is there.
    set_lag(
        &client,
        &emulator,
        json!({"region": "East US", "lag_ms": 50}),
    )
    .await;
    wait_for(&client, &east, "a", Some(2)).await;
    wait_for(&client, &east, "b", Some(1)).await;
    let fresh = query_ns(&client, &east, None).await;
    assert_eq!(fresh.json()["Documents"], json!([2, 1]));
    assert_eq!(n_of(&client, &north, "a").await, Some(1), "still lagging");
    // Raising the lag again never takes back what East has shown.
    set_lag(&client, &emulator, json!({"lag_ms": LONG_LAG_MS})).await;
    assert_eq!(n_of(&client, &east, "a").await, Some(2), "monotonic");
    assert_eq!(n_of(&client, &north, "a").await, Some(1));
}

#[tokio::test]
async fn session_token_ahead_of_region_gets_404_1002() {
    let (emulator, client) = start(false, Consistency::Session).await;
    let (west, east, _) = regions(&emulator);
    set_lag(&client, &emulator, json!({"lag_ms": LONG_LAG_MS})).await;
    let written = upsert(&client, &west, "a", 1).await;
    let session = token(&written);
    assert_eq!(session, "0:-1#1");

    let behind = read(&client, &east, "a", Some(&session)).await;
    assert_eq!(
        (behind.status.as_u16(), behind.sub_status()),
        (404, Some(1002))
    );
    let query = query_ns(&client, &east, Some(&session)).await;
    assert_eq!(
        (query.status.as_u16(), query.sub_status()),
        (404, Some(1002))
    );
    // Without the token the region answers from its view (404: not replicated yet,
    // sub-status 0), and the write region honours the token.
    let plain = read(&client, &east, "a", None).await;
    assert_eq!((plain.status.as_u16(), plain.sub_status()), (404, Some(0)));
    let here = read(&client, &west, "a", Some(&session)).await;
    assert_eq!(here.status, 200);
    // A token the region has reached, or one it cannot parse, is served.
    assert_eq!(read(&client, &east, "a", Some("0:-1#0")).await.status, 404);
    assert_eq!(read(&client, &west, "a", Some("garbage")).await.status, 200);

    // Strong consistency: never behind, never stale.
    let (strong, client) = start(false, Consistency::Strong).await;
    assert_eq!(
        strong.account_document()["userConsistencyPolicy"]["defaultConsistencyLevel"],
        "Strong"
    );
    strong
        .set_replication_lag(None, Duration::from_millis(LONG_LAG_MS))
        .unwrap();
    let written = upsert(&client, &region(&strong, "West US"), "a", 1).await;
    let far = region(&strong, "East US");
    let reply = read(&client, &far, "a", Some(&token(&written))).await;
    assert_eq!(
        (reply.status.as_u16(), reply.json()["n"].clone()),
        (200, json!(1))
    );
}

#[tokio::test]
async fn graceful_failover_loses_nothing() {
    let (emulator, client) = start(false, Consistency::Session).await;
    let (west, east, _) = regions(&emulator);
    write_behind_a_long_lag(&client, &emulator, &west).await;
    assert_eq!(n_of(&client, &east, "a").await, Some(1));

    let reply = failover_to_east(&client, &emulator, "graceful").await;
    assert_eq!(reply.status, 204);
    assert_eq!(emulator.write_region(), "East US");
    assert_eq!(n_of(&client, &east, "a").await, Some(2), "caught up");
    assert_eq!(n_of(&client, &east, "b").await, Some(1));
    assert_eq!(n_of(&client, &west, "a").await, Some(2));
    upsert(&client, &east, "c", 1).await;
    assert_eq!(emulator.counters().dropped_writes, 0);
    // The default mode is graceful.
    assert_eq!(
        emulator
            .failover_with("West US", Default::default())
            .unwrap(),
        0
    );
    assert_eq!(n_of(&client, &west, "c").await, Some(1));
}

#[tokio::test]
async fn forced_failover_drops_unreplicated_writes() {
    let (emulator, client) = start(false, Consistency::Session).await;
    let (west, east, north) = regions(&emulator);
    write_behind_a_long_lag(&client, &emulator, &west).await;

    let reply = failover_to_east(&client, &emulator, "forced").await;
    assert_eq!(reply.status, 204);
    // The two writes East had not seen are gone, in every region.
    for base in [&east, &west, &north] {
        assert_eq!(n_of(&client, base, "a").await, Some(1), "at {base}");
        assert_eq!(n_of(&client, base, "b").await, None, "at {base}");
    }
    let stats = client
        .admin(Method::GET, &admin_url(&emulator, "stats"), None)
        .await
        .json();
    assert_eq!(stats["dropped_writes"], 2);
    // The new write region goes on from its own LSN.
    let written = upsert(&client, &east, "a", 3).await;
    assert_eq!(token(&written), "0:-1#2");
    assert_eq!(n_of(&client, &west, "a").await, Some(1), "lagging again");
}

#[tokio::test]
async fn multi_write_replicates_last_writer_wins() {
    let (emulator, client) = start(true, Consistency::Session).await;
    let (west, east, north) = regions(&emulator);
    set_lag(&client, &emulator, json!({"lag_ms": LONG_LAG_MS})).await;
    upsert(&client, &west, "x", 1).await;
    upsert(&client, &east, "x", 2).await;
    upsert(&client, &east, "only-east", 1).await;
    assert_eq!(n_of(&client, &west, "x").await, Some(1), "its own write");
    assert_eq!(n_of(&client, &east, "x").await, Some(2), "its own write");
    assert_eq!(n_of(&client, &west, "only-east").await, None);
    assert_eq!(n_of(&client, &north, "x").await, None, "neither yet");

    set_lag(&client, &emulator, json!({"lag_ms": 50})).await;
    // East wrote last: every region converges on its version.
    for base in [&west, &east, &north] {
        wait_for(&client, base, "x", Some(2)).await;
        wait_for(&client, base, "only-east", Some(1)).await;
    }
}

#[tokio::test]
async fn the_cli_sets_the_lag_and_the_consistency() {
    use std::process::Command;

    use crate::child::{ready_line, spawn};

    let bin = env!("CARGO_BIN_EXE_meridian-emulator");
    for bad in [
        ["--consistency", "Bounded"],
        ["--replication-lag-ms", "3600001"],
    ] {
        let output = Command::new(bin).args(bad).output().unwrap();
        assert!(!output.status.success(), "{bad:?} is refused");
    }
    /// Kills the child however the test ends, so no emulator outlives it.
    struct Child(std::process::Child);
    impl Drop for Child {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut child = Child(spawn(&[
        "--port",
        "0",
        "--replication-lag-ms",
        "60000",
        "--consistency",
        "eventual",
    ]));
    let line = ready_line(&mut child.0);
    let ready: Value = serde_json::from_str(&line).unwrap();
    let global = ready["global"].as_str().unwrap();
    let client = TestClient::new(ready["key"].as_str().unwrap());
    let doc = client.get(global, crate::client::ACCOUNT).await.json();
    assert_eq!(
        doc["userConsistencyPolicy"]["defaultConsistencyLevel"],
        "Eventual"
    );
    let status = client
        .admin(Method::GET, &format!("{global}_emulator/replication"), None)
        .await
        .json();
    assert_eq!(status["consistency"], "Eventual");
    assert_eq!(status["regions"][0]["lag_ms"], LONG_LAG_MS);
    drop(child);
}
