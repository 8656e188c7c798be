//! What the official Python SDK's own suite asks of queries (issue 31): the gateway's
//! 400/1004 for a multi-range query it leaves to the SDK, ORDER BY beside aggregates,
//! `ST_DISTANCE`, the SDK's `read_items` query with a thousand `OR`s, and conflicts queries
//! scoped like item queries; and the sub-status of an item whose key is not its header's.

use http::Method;
use serde_json::{Value, json};

use crate::client::{COLLECTIONS, DATABASES, DOCS, Reply, Signed, TestClient};
use crate::query::CROSS;
use crate::start;

const RANGE: (&str, &str) = ("x-ms-documentdb-partitionkeyrangeid", "0");

/// Database `db` and container `c` (`/pk`), with `offer` headers at creation, and `n`
/// items `{id: "i", pk: "p{i % 5}", n: i}`.
async fn setup(client: &TestClient, base: &str, offer: &[(&str, &str)], n: usize) {
    let url = format!("{base}dbs");
    let reply = client.send(
        Method::POST,
        &url,
        Some(DATABASES),
        &[],
        Some(json!({"id": "db"})),
    );
    assert_eq!(reply.await.unwrap().status, 201);
    let coll = json!({"id": "c", "partitionKey": {"paths": ["/pk"], "kind": "Hash", "version": 2}});
    let url = format!("{base}dbs/db/colls");
    let reply = client.send(Method::POST, &url, Some(COLLECTIONS), offer, Some(coll));
    assert_eq!(reply.await.unwrap().status, 201);
    for i in 0..n {
        let pk = format!("p{}", i % 5);
        let doc = json!({"id": i.to_string(), "pk": pk, "n": i,
            "loc": {"type": "Point", "coordinates": [20.0 + i as f64, 20.0]}});
        let header = format!("[\"{pk}\"]");
        let url = format!("{base}dbs/db/colls/c/docs");
        let headers = [("x-ms-documentdb-partitionkey", header.as_str())];
        let reply = client.send(Method::POST, &url, Some(DOCS), &headers, Some(doc));
        assert_eq!(reply.await.unwrap().status, 201);
    }
}

async fn query(
    client: &TestClient,
    base: &str,
    path: &str,
    text: &str,
    headers: &[(&str, &str)],
) -> Reply {
    let mut all = vec![
        ("x-ms-documentdb-isquery", "True"),
        ("content-type", "application/query+json"),
    ];
    all.extend_from_slice(headers);
    let signed = match path {
        "conflicts" => Signed::new("conflicts", "dbs/db/colls/c"),
        _ => DOCS,
    };
    client
        .send(
            Method::POST,
            &format!("{base}dbs/db/colls/c/{path}"),
            Some(signed),
            &all,
            Some(json!({"query": text})),
        )
        .await
        .unwrap()
}

fn documents(reply: &Reply) -> Vec<Value> {
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    reply.json()["Documents"].as_array().unwrap().clone()
}

#[tokio::test]
async fn multi_range_pipeline_queries_are_left_to_the_sdk_with_their_plan() {
    let (emulator, client) = start().await;
    let base = emulator.global_endpoint();
    // 20,000 RU/s: two ranges.
    setup(&client, &base, &[("x-ms-offer-throughput", "20000")], 10).await;
    for text in [
        "SELECT TOP 3 * FROM c",
        "SELECT * FROM c ORDER BY c.n",
        "SELECT VALUE MAX(c.n) FROM c",
        "SELECT DISTINCT VALUE c.pk FROM c",
        "SELECT * FROM c OFFSET 1 LIMIT 2",
    ] {
        let reply = query(&client, &base, "docs", text, &[CROSS]).await;
        assert_eq!(
            (reply.status.as_u16(), reply.sub_status()),
            (400, Some(1004)),
            "{text}"
        );
        let info = reply.json()["additionalErrorInfo"]
            .as_str()
            .unwrap()
            .to_string();
        let plan: Value = serde_json::from_str(&info).unwrap();
        assert_eq!(plan["partitionedQueryExecutionInfoVersion"], 2, "{text}");
        assert!(plan["queryInfo"].is_object(), "{text}");
        // Run as SDKs run the plan (range by range), or in one partition, it is answered.
        let ranged = query(&client, &base, "docs", text, &[CROSS, RANGE]).await;
        assert_eq!(ranged.status, 200, "{text}");
        let one = query(
            &client,
            &base,
            "docs",
            text,
            &[("x-ms-documentdb-partitionkey", "[\"p1\"]")],
        )
        .await;
        assert_eq!(one.status, 200, "{text}");
    }
    // A query that only concatenates is the gateway's to serve.
    let plain = query(
        &client,
        &base,
        "docs",
        "SELECT * FROM c WHERE c.n >= 0",
        &[CROSS],
    )
    .await;
    // (Its first page is the first range's: see the range-by-range test below.)
    assert!(!documents(&plain).is_empty());
    // Over one range the gateway serves a pipeline query itself.
    let (emulator, client) = start().await;
    let base = emulator.global_endpoint();
    setup(&client, &base, &[], 3).await;
    let top = query(&client, &base, "docs", "SELECT TOP 2 * FROM c", &[CROSS]).await;
    assert_eq!(documents(&top).len(), 2);
}

#[tokio::test]
async fn sdk_generated_queries_parse_and_run() {
    let (emulator, client) = start().await;
    let base = emulator.global_endpoint();
    setup(&client, &base, &[], 10).await;
    // ORDER BY beside aggregates (no GROUP BY) is taken: one row, the order changes nothing.
    let sum = query(
        &client,
        &base,
        "docs",
        "SELECT VALUE SUM(c.n) FROM c WHERE IS_NUMBER(c.n) ORDER BY c.n",
        &[CROSS],
    )
    .await;
    assert_eq!(documents(&sum), vec![json!(45)]);
    // ST_DISTANCE in metres between GeoJSON points: a degree of longitude at 20°N is
    // about 104.6 km, so only item 0 is within 20 km of (20.1, 20).
    let near = query(
        &client,
        &base,
        "docs",
        "SELECT VALUE r.id FROM root r WHERE (ST_DISTANCE(r.loc, {type: 'Point', coordinates: [20.1, 20]}) < 20000)",
        &[CROSS],
    )
    .await;
    assert_eq!(documents(&near), vec![json!("0")]);
    // The SDK's read_items query: one `( id AND key )` term per item, a thousand ORed.
    let terms: Vec<String> = (0..1_000)
        .map(|i| format!("( c.id = '{}' AND c.pk = 'p{}' )", i % 10, i % 5))
        .collect();
    let text = format!("SELECT * FROM c WHERE ( {} )", terms.join(" OR "));
    let read_items = query(&client, &base, "docs", &text, &[CROSS]).await;
    assert_eq!(documents(&read_items).len(), 10);
}

#[tokio::test]
async fn conflicts_queries_need_a_key_or_the_cross_partition_header() {
    let (emulator, client) = start().await;
    let base = emulator.global_endpoint();
    setup(&client, &base, &[], 1).await;
    let text = "SELECT * FROM root r WHERE r.resourceType = 'document'";
    let refused = query(&client, &base, "conflicts", text, &[]).await;
    assert_eq!(refused.status, 400, "{:?}", refused.body);
    let keyed = query(
        &client,
        &base,
        "conflicts",
        text,
        &[("x-ms-documentdb-partitionkey", "[\"p0\"]")],
    )
    .await;
    assert_eq!(keyed.status, 200, "{:?}", keyed.body);
    let cross = query(&client, &base, "conflicts", text, &[CROSS]).await;
    assert_eq!(cross.status, 200, "{:?}", cross.body);
}

fn metrics(reply: &Reply) -> (String, Value) {
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let metrics = reply.headers["x-ms-documentdb-query-metrics"]
        .to_str()
        .unwrap();
    let index = reply.headers["x-ms-cosmos-index-utilization"]
        .to_str()
        .unwrap();
    use base64::Engine;
    let index = base64::engine::general_purpose::STANDARD
        .decode(index)
        .unwrap();
    (metrics.to_string(), serde_json::from_slice(&index).unwrap())
}

#[tokio::test]
async fn partition_scoped_metrics_name_the_key_index_and_count_only_loaded_documents() {
    let (emulator, client) = start().await;
    let base = emulator.global_endpoint();
    setup(&client, &base, &[], 10).await;
    let asked = [
        ("x-ms-documentdb-partitionkey", "[\"p1\"]"),
        ("x-ms-documentdb-populatequerymetrics", "true"),
        ("x-ms-cosmos-populateindexmetrics", "true"),
    ];
    // A COUNT over constants is answered from the index: no document retrieved.
    let count = query(
        &client,
        &base,
        "docs",
        "SELECT VALUE COUNT(1) FROM c",
        &asked,
    )
    .await;
    assert_eq!(documents(&count), vec![json!(2)]);
    let (text, index) = metrics(&count);
    assert!(text.contains("retrievedDocumentCount=0;"), "{text}");
    assert_eq!(index["UtilizedSingleIndexes"][0]["IndexSpec"], "/pk/?");
    assert_eq!(
        index["UtilizedSingleIndexes"][0]["IndexImpactScore"],
        "High"
    );
    // Reading the items loads them.
    let all = query(&client, &base, "docs", "SELECT * FROM c", &asked).await;
    let (text, _) = metrics(&all);
    assert!(text.contains("retrievedDocumentCount=2;"), "{text}");
    // Across partitions no key scoped the query.
    let cross = [CROSS, asked[1], asked[2]];
    let (_, index) = metrics(&query(&client, &base, "docs", "SELECT * FROM c", &cross).await);
    assert_eq!(index["UtilizedSingleIndexes"], json!([]));
}

#[tokio::test]
async fn a_filter_pinning_the_key_scopes_a_query_without_the_header() {
    let (emulator, client) = start().await;
    let base = emulator.global_endpoint();
    setup(&client, &base, &[("x-ms-offer-throughput", "20000")], 10).await;
    let body = json!({"query": "SELECT VALUE c.id FROM c WHERE c.pk = @pk AND c.n > 0",
        "parameters": [{"name": "@pk", "value": "p1"}]});
    let reply = client
        .send(
            Method::POST,
            &format!("{base}dbs/db/colls/c/docs"),
            Some(DOCS),
            &[
                ("x-ms-documentdb-isquery", "True"),
                ("content-type", "application/query+json"),
            ],
            Some(body),
        )
        .await
        .unwrap();
    assert_eq!(documents(&reply), vec![json!("1"), json!("6")]);
    // A filter that does not pin the key still needs the header.
    let loose = query(
        &client,
        &base,
        "docs",
        "SELECT * FROM c WHERE c.pk = 'p1' OR c.n = 2",
        &[],
    )
    .await;
    assert_eq!(loose.status, 400);
}

#[tokio::test]
async fn an_item_whose_key_is_not_the_headers_is_400_1001() {
    let (emulator, client) = start().await;
    let base = emulator.global_endpoint();
    setup(&client, &base, &[], 0).await;
    let reply = client
        .send(
            Method::POST,
            &format!("{base}dbs/db/colls/c/docs"),
            Some(DOCS),
            &[("x-ms-documentdb-partitionkey", "[\"p1\"]")],
            Some(json!({"id": "a", "pk": "p2"})),
        )
        .await
        .unwrap();
    assert_eq!(
        (reply.status.as_u16(), reply.sub_status()),
        (400, Some(1001))
    );
    // A point read by a prefix of a hierarchical key is 400/1001 too; by the whole key, 404.
    let coll = json!({"id": "h", "partitionKey": {"paths": ["/a", "/b"], "kind": "MultiHash", "version": 2}});
    let url = format!("{base}dbs/db/colls");
    let created = client.send(Method::POST, &url, Some(COLLECTIONS), &[], Some(coll));
    assert_eq!(created.await.unwrap().status, 201);
    for (key, status, sub_status) in [
        ("[\"x\"]", 400, Some(1001)),
        ("[\"x\",\"y\"]", 404, Some(0)),
    ] {
        let reply = client
            .send(
                Method::GET,
                &format!("{base}dbs/db/colls/h/docs/missing"),
                Some(Signed::new("docs", "dbs/db/colls/h/docs/missing")),
                &[("x-ms-documentdb-partitionkey", key)],
                None,
            )
            .await
            .unwrap();
        assert_eq!(
            (reply.status.as_u16(), reply.sub_status()),
            (status, sub_status),
            "{key}"
        );
    }
}

#[tokio::test]
async fn a_cross_partition_query_over_several_ranges_pages_range_by_range() {
    let (emulator, client) = start().await;
    let base = emulator.global_endpoint();
    setup(&client, &base, &[("x-ms-offer-throughput", "20000")], 20).await;
    let mut pages = Vec::new();
    let mut continuation: Option<String> = None;
    for _ in 0..20 {
        let mut headers = vec![CROSS, ("x-ms-max-item-count", "100")];
        if let Some(token) = &continuation {
            headers.push(("x-ms-continuation", token.as_str()));
        }
        let reply = query(&client, &base, "docs", "SELECT * FROM c", &headers).await;
        let ids: Vec<String> = documents(&reply)
            .iter()
            .map(|d| d["id"].as_str().unwrap().to_string())
            .collect();
        pages.push(ids);
        continuation = reply
            .headers
            .get("x-ms-continuation")
            .map(|v| v.to_str().unwrap().to_string());
        if continuation.is_none() {
            break;
        }
    }
    // Two ranges, each holding some of the five keys: one page each, every item once.
    assert_eq!(pages.len(), 2, "{pages:?}");
    for (page, range) in pages.iter().zip(["0", "1"]) {
        let headers = [CROSS, ("x-ms-documentdb-partitionkeyrangeid", range)];
        let reply = query(&client, &base, "docs", "SELECT * FROM c", &headers).await;
        let mut expected: Vec<String> = documents(&reply)
            .iter()
            .map(|d| d["id"].as_str().unwrap().to_string())
            .collect();
        expected.sort();
        let mut page = page.clone();
        page.sort();
        assert_eq!(page, expected);
    }
    // A range with no results still gets its (empty) page, as the service's gateway
    // pages: one item of range 1 is two pages, the first empty.
    let last = pages[1][0].clone();
    let text = format!("SELECT * FROM c WHERE c.id = '{last}'");
    let first = query(&client, &base, "docs", &text, &[CROSS]).await;
    assert!(documents(&first).is_empty());
    let token = first.headers["x-ms-continuation"]
        .to_str()
        .unwrap()
        .to_string();
    let headers = [CROSS, ("x-ms-continuation", token.as_str())];
    let second = query(&client, &base, "docs", &text, &headers).await;
    assert_eq!(documents(&second).len(), 1);
    assert!(!second.headers.contains_key("x-ms-continuation"));
    // Small pages still end at the range boundary, and resume after their last item.
    let mut all = Vec::new();
    let mut continuation: Option<String> = None;
    for _ in 0..40 {
        let mut headers = vec![CROSS, ("x-ms-max-item-count", "3")];
        if let Some(token) = &continuation {
            headers.push(("x-ms-continuation", token.as_str()));
        }
        let reply = query(&client, &base, "docs", "SELECT VALUE c.id FROM c", &headers).await;
        let page = documents(&reply);
        assert!(!page.is_empty() && page.len() <= 3);
        all.extend(page);
        continuation = reply
            .headers
            .get("x-ms-continuation")
            .map(|v| v.to_str().unwrap().to_string());
        if continuation.is_none() {
            break;
        }
    }
    let mut ids: Vec<String> = all
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 20);
    assert_eq!(all.len(), 20);
}

#[tokio::test]
async fn epk_headers_narrow_a_range_query_on_hash_v2_containers() {
    let (emulator, client) = start().await;
    let base = emulator.global_endpoint();
    setup(&client, &base, &[("x-ms-offer-throughput", "20000")], 10).await;
    // The EPK of "p1" (as the Python SDK computes it), in range 0: the feed range of one key.
    let p1 = "062B23DEC15212F01B9A85F4E93A940C";
    let narrowed = [CROSS, RANGE, ("x-ms-start-epk", p1), ("x-ms-end-epk", p1)];
    let text = "SELECT VALUE c.id FROM c";
    let reply = query(&client, &base, "docs", text, &narrowed).await;
    assert_eq!(documents(&reply), vec![json!("1"), json!("6")]);
    let whole = query(&client, &base, "docs", text, &[CROSS, RANGE]).await;
    assert!(documents(&whole).len() > 2);
    // A hash V1 container's EPKs are not the emulator's: the range alone scopes the query.
    let coll =
        json!({"id": "v1", "partitionKey": {"paths": ["/pk"], "kind": "Hash", "version": 1}});
    let url = format!("{base}dbs/db/colls");
    let created = client.send(Method::POST, &url, Some(COLLECTIONS), &[], Some(coll));
    assert_eq!(created.await.unwrap().status, 201);
    let url = format!("{base}dbs/db/colls/v1/docs");
    let doc = json!({"id": "a", "pk": "p9"});
    let pk = [("x-ms-documentdb-partitionkey", "[\"p9\"]")];
    let signed = || Signed::new("docs", "dbs/db/colls/v1");
    let created = client.send(Method::POST, &url, Some(signed()), &pk, Some(doc));
    assert_eq!(created.await.unwrap().status, 201);
    let mut headers = vec![
        ("x-ms-documentdb-isquery", "True"),
        ("content-type", "application/query+json"),
    ];
    headers.extend_from_slice(&narrowed);
    let reply = client
        .send(
            Method::POST,
            &url,
            Some(signed()),
            &headers,
            Some(json!({"query": text})),
        )
        .await
        .unwrap();
    assert_eq!(documents(&reply), vec![json!("a")]);
}
