//! Physical partitions: ranges from throughput, range-addressed feeds, split and merge
//! (410/1007 then 410/1002 for the old ids), and one range failing in one region.
//!
//! Real sockets, real time: windows are either zero or a minute (far longer than any
//! step), and a held request is checked with a short client timeout (it can only pass
//! late, never early) and released by healing the range.

use std::collections::BTreeSet;
use std::time::Duration;

use http::Method;
use meridian_emulator::{Emulator, RangeFailure, SUB_STATUS_SERVER_GENERATED_503};
use serde_json::{Value, json};

use crate::client::{COLLECTIONS, DATABASES, DOCS, Items, Reply, TestClient};
use crate::{admin_url, start};

const RANGE: &str = "x-ms-documentdb-partitionkeyrangeid";
const C: (&str, &str) = ("db", "c");

/// Database `db` and container `c` (`/pk`) created at `base` with `offer` headers.
async fn setup(client: &TestClient, base: &str, offer: &[(&str, &str)]) {
    let db = json!({"id": "db"});
    let url = format!("{base}dbs");
    let reply = client.send(Method::POST, &url, Some(DATABASES), &[], Some(db));
    assert_eq!(reply.await.unwrap().status, 201);
    let coll = json!({"id": "c", "partitionKey": {"paths": ["/pk"], "kind": "Hash", "version": 2}});
    let url = format!("{base}dbs/db/colls");
    let reply = client.send(Method::POST, &url, Some(COLLECTIONS), offer, Some(coll));
    assert_eq!(reply.await.unwrap().status, 201);
}

async fn get(client: &TestClient, base: &str, path: &str, headers: &[(&str, &str)]) -> Reply {
    let url = format!("{base}dbs/db/colls/c/{path}");
    let signed = if path == "pkranges" {
        crate::client::Signed::new("pkranges", "dbs/db/colls/c")
    } else {
        DOCS
    };
    client
        .send(Method::GET, &url, Some(signed), headers, None)
        .await
        .unwrap()
}

/// The ids a range's read feed (or, with `changes`, its change feed) serves.
async fn served(client: &TestClient, base: &str, range: &str, changes: bool) -> Reply {
    let mut headers = vec![(RANGE, range), ("x-ms-max-item-count", "1000")];
    if changes {
        headers.push(("a-im", "Incremental Feed"));
    }
    get(client, base, "docs", &headers).await
}

fn ids(reply: &Reply) -> BTreeSet<String> {
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    reply.json()["Documents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap().to_string())
        .collect()
}

async fn query(client: &TestClient, base: &str, range: &str) -> BTreeSet<String> {
    let url = format!("{base}dbs/db/colls/c/docs");
    let headers = [
        (RANGE, range),
        ("x-ms-documentdb-isquery", "True"),
        ("content-type", "application/query+json"),
    ];
    let body = json!({"query": "SELECT * FROM c", "parameters": []});
    let reply = client.send(Method::POST, &url, Some(DOCS), &headers, Some(body));
    ids(&reply.await.unwrap())
}

fn range_ids(pkranges: &Reply) -> Vec<String> {
    pkranges.json()["PartitionKeyRanges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect()
}

/// 40 items, `i0`…`i39`, each in its own logical partition `p{i}`.
async fn fill(client: &TestClient, base: &str) -> BTreeSet<String> {
    for i in 0..40 {
        let (pk, id) = (format!("p{i}"), format!("i{i}"));
        let items = Items::new(client, base, &pk);
        assert_eq!(items.create(json!({"id": id, "pk": pk})).await.status, 201);
    }
    (0..40).map(|i| format!("i{i}")).collect()
}

#[tokio::test]
async fn emulator_splits_and_merges_a_range() {
    let (emulator, client) = start().await;
    let base = emulator.global_endpoint();
    // 20,000 RU/s: two physical partitions tiling the hash space.
    setup(&client, &base, &[("x-ms-offer-throughput", "20000")]).await;
    let pkranges = get(&client, &base, "pkranges", &[]).await;
    assert_eq!(range_ids(&pkranges), ["0", "1"]);
    let ranges = pkranges.json()["PartitionKeyRanges"].clone();
    assert_eq!(ranges[0]["minInclusive"], "");
    assert_eq!(ranges[0]["maxExclusive"], ranges[1]["minInclusive"]);
    assert_eq!(ranges[1]["maxExclusive"], "FF");
    let etag = pkranges.headers["etag"].to_str().unwrap().to_string();
    let same = get(&client, &base, "pkranges", &[("if-none-match", &etag)]).await;
    assert_eq!(same.status, 304);
    // Each range serves only its own items: read feed, query and change feed agree.
    let all = fill(&client, &base).await;
    let (zero, one) = (
        ids(&served(&client, &base, "0", false).await),
        ids(&served(&client, &base, "1", false).await),
    );
    assert!(!zero.is_empty() && !one.is_empty() && zero.is_disjoint(&one));
    assert_eq!(zero.union(&one).cloned().collect::<BTreeSet<_>>(), all);
    assert_eq!(query(&client, &base, "0").await, zero);
    assert_eq!(ids(&served(&client, &base, "1", true).await), one);

    // Split range 0: for the window, its id is answered 410/1007 (split in progress).
    let children = emulator
        .split_range(C, "0", Duration::from_secs(60))
        .unwrap();
    assert_eq!(children, ["2", "3"]);
    let splitting = served(&client, &base, "0", false).await;
    assert_eq!(
        (splitting.status.as_u16(), splitting.sub_status()),
        (410, Some(1007))
    );
    let after = get(&client, &base, "pkranges", &[("if-none-match", &etag)]).await;
    assert_eq!(after.status, 200, "the split changed the ranges' etag");
    assert_eq!(range_ids(&after), ["2", "3", "1"]);
    assert_eq!(
        after.json()["PartitionKeyRanges"][1]["parents"],
        json!(["0"])
    );
    let (two, three) = (
        ids(&served(&client, &base, "2", false).await),
        ids(&served(&client, &base, "3", false).await),
    );
    assert!(two.is_disjoint(&three));
    assert_eq!(two.union(&three).cloned().collect::<BTreeSet<_>>(), zero);

    // Over the admin API, with no window: the old id is gone at once (410/1002).
    let url = admin_url(&emulator, "partitions/db/c/split");
    let split = client
        .admin(
            Method::POST,
            &url,
            Some(json!({"range": "2", "window_ms": 0})),
        )
        .await;
    assert_eq!(split.json()["children"], json!(["4", "5"]));
    let gone = served(&client, &base, "2", false).await;
    assert_eq!((gone.status.as_u16(), gone.sub_status()), (410, Some(1002)));

    // Merge 3 and 1 (adjacent): one range with both parents' items.
    let merged = emulator
        .merge_ranges(C, ["3", "1"], Duration::ZERO)
        .unwrap();
    let both: BTreeSet<String> = three.union(&one).cloned().collect();
    assert_eq!(ids(&served(&client, &base, &merged, false).await), both);
    for old in ["3", "1"] {
        let gone = served(&client, &base, old, false).await;
        assert_eq!((gone.status.as_u16(), gone.sub_status()), (410, Some(1002)));
    }
    let listed = emulator.partition_key_ranges("db", "c").unwrap();
    let listed: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, ["4", "5", merged.as_str()]);
    // Ranges that are not neighbours are not merged; an unknown range is not split.
    assert!(
        emulator
            .merge_ranges(C, ["4", merged.as_str()], Duration::ZERO)
            .is_err()
    );
    assert!(emulator.split_range(C, "0", Duration::ZERO).is_err());
    // Point operations follow their keys wherever the ranges are.
    for i in [0, 17, 39] {
        let (pk, id) = (format!("p{i}"), format!("i{i}"));
        assert_eq!(Items::new(&client, &base, &pk).read(&id).await.status, 200);
    }
    // Autoscale's maximum counts too; the default 400 RU/s is one range.
    let coll = |id: &str| json!({"id": id, "partitionKey": {"paths": ["/pk"], "kind": "Hash"}});
    let url = format!("{base}dbs/db/colls");
    let auto = [(
        "x-ms-cosmos-offer-autopilot-settings",
        "{\"maxThroughput\":40000}",
    )];
    let reply = client.send(
        Method::POST,
        &url,
        Some(COLLECTIONS),
        &auto,
        Some(coll("auto")),
    );
    assert_eq!(reply.await.unwrap().status, 201);
    let reply = client.send(
        Method::POST,
        &url,
        Some(COLLECTIONS),
        &[],
        Some(coll("small")),
    );
    assert_eq!(reply.await.unwrap().status, 201);
    let count = |v: Value| v.as_array().unwrap().len();
    assert_eq!(
        count(emulator.partition_key_ranges("db", "auto").unwrap()),
        4
    );
    assert_eq!(
        count(emulator.partition_key_ranges("db", "small").unwrap()),
        1
    );
}

/// A key in each of the two ranges.
async fn key_per_range(client: &TestClient, base: &str) -> [(String, String); 2] {
    let zero = ids(&served(client, base, "0", false).await);
    let one = ids(&served(client, base, "1", false).await);
    let key = |id: &String| (format!("p{}", &id[1..]), id.clone());
    [key(zero.first().unwrap()), key(one.first().unwrap())]
}

#[tokio::test]
async fn emulator_fails_one_range_in_one_region() {
    let (emulator, client) = start().await;
    let west = emulator.region_endpoint("West US").unwrap();
    let east = emulator.region_endpoint("East US").unwrap();
    setup(&client, &west, &[("x-ms-offer-throughput", "20000")]).await;
    fill(&client, &west).await;
    let [(pk0, id0), (pk1, id1)] = key_per_range(&client, &west).await;
    let status = |r: Reply| (r.status.as_u16(), r.sub_status());

    // 503 for range 0 in West US; range 1 there, and range 0 in East US, serve.
    emulator
        .fail_range(C, "0", "West US", Some(RangeFailure::Unavailable))
        .unwrap();
    let failed = Items::new(&client, &west, &pk0).read(&id0).await;
    assert_eq!(status(failed), (503, Some(SUB_STATUS_SERVER_GENERATED_503)));
    assert_eq!(served(&client, &west, "0", false).await.status, 503);
    assert_eq!(
        Items::new(&client, &west, &pk1).read(&id1).await.status,
        200
    );
    assert_eq!(served(&client, &west, "1", false).await.status, 200);
    assert_eq!(
        Items::new(&client, &east, &pk0).read(&id0).await.status,
        200
    );

    // 403/3 for range 0's writes in West US; its reads and range 1's writes are served.
    emulator
        .fail_range(C, "0", "West US", Some(RangeFailure::WriteForbidden))
        .unwrap();
    let (items0, items1) = (
        Items::new(&client, &west, &pk0),
        Items::new(&client, &west, &pk1),
    );
    let write = items0.upsert(json!({"id": id0, "pk": pk0})).await;
    assert_eq!(status(write), (403, Some(3)));
    assert_eq!(
        Items::new(&client, &west, &pk0).read(&id0).await.status,
        200
    );
    let other = items1.upsert(json!({"id": id1, "pk": pk1})).await;
    assert_eq!(other.status, 200);

    // A timeout: range 0's request is held (no answer within a client's timeout) while
    // range 1 answers; healing the range releases it.
    emulator
        .fail_range(C, "0", "West US", Some(RangeFailure::Timeout))
        .unwrap();
    let held = tokio::spawn({
        let (client, west, pk0, id0) = (client.clone(), west.clone(), pk0.clone(), id0.clone());
        async move { Items::new(&client, &west, &pk0).read(&id0).await.status }
    });
    let early = tokio::time::timeout(Duration::from_millis(300), items0.read(&id0));
    assert!(early.await.is_err(), "a timed-out range does not answer");
    assert_eq!(
        Items::new(&client, &west, &pk1).read(&id1).await.status,
        200
    );
    emulator.fail_range(C, "0", "West US", None).unwrap();
    assert_eq!(held.await.unwrap(), 200);
    assert_eq!(
        Items::new(&client, &west, &pk0).read(&id0).await.status,
        200
    );

    // Over the admin API: range 1 in East US only.
    let url = admin_url(&emulator, "partitions/db/c/fail");
    let body = json!({"range": "1", "region": "East US", "failure": "unavailable"});
    assert_eq!(
        client.admin(Method::POST, &url, Some(body)).await.status,
        204
    );
    assert_eq!(
        Items::new(&client, &east, &pk1).read(&id1).await.status,
        503
    );
    assert_eq!(
        Items::new(&client, &west, &pk1).read(&id1).await.status,
        200
    );
    assert_eq!(
        Items::new(&client, &east, &pk0).read(&id0).await.status,
        200
    );
    let nowhere = json!({"range": "1", "region": "Mars", "failure": "timeout"});
    assert_eq!(
        client.admin(Method::POST, &url, Some(nowhere)).await.status,
        404
    );
    let no_range = json!({"range": "9", "region": "East US", "failure": "timeout"});
    assert_eq!(
        client
            .admin(Method::POST, &url, Some(no_range))
            .await
            .status,
        400
    );
    // The account property that lets clients fail a partition's writes over (PPAF).
    let enabled = |e: &Emulator| e.account_document()["enablePerPartitionFailoverBehavior"].clone();
    assert_eq!(enabled(&emulator), json!(false));
    emulator.set_per_partition_failover(true);
    assert_eq!(enabled(&emulator), json!(true));
    let url = admin_url(&emulator, "per_partition_failover");
    let off = client.admin(Method::POST, &url, Some(json!({"enabled": false})));
    assert_eq!(off.await.status, 204);
    assert_eq!(enabled(&emulator), json!(false));
}

#[tokio::test]
async fn a_failed_over_ranges_writes_are_taken_by_the_next_region() {
    let (emulator, client) = start().await;
    let west = emulator.region_endpoint("West US").unwrap();
    let east = emulator.region_endpoint("East US").unwrap();
    setup(&client, &west, &[("x-ms-offer-throughput", "20000")]).await;
    fill(&client, &west).await;
    let [(pk0, id0), (pk1, id1)] = key_per_range(&client, &west).await;
    let status = |r: Reply| (r.status.as_u16(), r.sub_status());
    let upsert = |base: &str, pk: &str, id: &str| {
        let (client, base, pk, id) = (
            client.clone(),
            base.to_owned(),
            pk.to_owned(),
            id.to_owned(),
        );
        async move {
            let item = json!({"id": id, "pk": pk});
            Items::new(&client, &base, &pk).upsert(item).await
        }
    };

    // Range 0 refuses writes in West US; without per-partition failover East US (a read
    // region) refuses every write.
    emulator
        .fail_range(C, "0", "West US", Some(RangeFailure::WriteForbidden))
        .unwrap();
    assert_eq!(status(upsert(&east, &pk0, &id0).await), (403, Some(3)));

    // With it, East US takes range 0's writes and still refuses range 1's.
    emulator.set_per_partition_failover(true);
    assert_eq!(upsert(&east, &pk0, &id0).await.status, 200);
    assert_eq!(status(upsert(&east, &pk1, &id1).await), (403, Some(3)));
    assert_eq!(upsert(&west, &pk1, &id1).await.status, 200);

    // Healed: range 0's writes are back in West US and refused in East US again.
    emulator.fail_range(C, "0", "West US", None).unwrap();
    assert_eq!(status(upsert(&east, &pk0, &id0).await), (403, Some(3)));
    assert_eq!(upsert(&west, &pk0, &id0).await.status, 200);
}
