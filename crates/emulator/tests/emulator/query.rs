//! Queries over the wire: reads in every region, the SQL subset, pages, plans, refusals.

use http::Method;
use serde_json::{Value, json};

use crate::client::{DOCS, Reply, TestClient};
use crate::data_plane::setup;
use crate::start;

async fn create(client: &TestClient, base: &str, doc: Value) {
    let pk = format!("[{}]", doc["pk"]);
    let reply = client
        .send(
            Method::POST,
            &format!("{base}dbs/db/colls/c/docs"),
            Some(DOCS),
            &[("x-ms-documentdb-partitionkey", &pk)],
            Some(doc),
        )
        .await
        .unwrap();
    assert_eq!(reply.status, 201);
}

/// Five items over three partitions.
async fn seed(client: &TestClient, base: &str) {
    setup(client, base).await;
    for (id, pk, n) in [
        ("a", "p1", 3),
        ("b", "p1", 1),
        ("c", "p2", 5),
        ("d", "p2", 2),
        ("e", "p3", 4),
    ] {
        create(client, base, json!({"id": id, "pk": pk, "n": n})).await;
    }
}

/// A query to container `c` at `base` as the SDKs send it: POST,
/// `x-ms-documentdb-isquery`, query+json, then `headers`.
pub async fn query(
    client: &TestClient,
    base: &str,
    body: Value,
    headers: &[(&str, &str)],
) -> Reply {
    let mut all = vec![
        ("x-ms-documentdb-isquery", "True"),
        ("content-type", "application/query+json"),
    ];
    all.extend_from_slice(headers);
    client
        .send(
            Method::POST,
            &format!("{base}dbs/db/colls/c/docs"),
            Some(DOCS),
            &all,
            Some(body),
        )
        .await
        .unwrap()
}

/// The header that lets a query run across partitions.
pub const CROSS: (&str, &str) = ("x-ms-documentdb-query-enablecrosspartition", "True");

fn ids(reply: &Reply) -> Vec<Value> {
    reply.json()["Documents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].clone())
        .collect()
}

#[tokio::test]
async fn a_query_in_a_read_region_is_served_not_403_3() {
    let (emulator, client) = start().await;
    seed(&client, &emulator.global_endpoint()).await;
    let east = emulator.region_endpoint("East US").unwrap();
    assert_ne!(emulator.write_region(), "East US");
    let reply = query(
        &client,
        &east,
        json!({"query": "SELECT * FROM c WHERE c.n > 3"}),
        &[CROSS],
    )
    .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(reply.sub_status(), None);
    assert_eq!(ids(&reply), vec![json!("c"), json!("e")]);
    // Recognised by the content type alone, too.
    let by_type = client
        .send(
            Method::POST,
            &format!("{east}dbs/db/colls/c/docs"),
            Some(DOCS),
            &[("content-type", "application/query+json"), CROSS],
            Some(json!({"query": "SELECT VALUE COUNT(1) FROM c"})),
        )
        .await
        .unwrap();
    assert_eq!(by_type.status, 200);
    assert_eq!(by_type.json()["Documents"], json!([5]));
    // So is a query-plan request, even with nothing but its own header.
    let plan = client
        .send(
            Method::POST,
            &format!("{east}dbs/db/colls/c/docs"),
            Some(DOCS),
            &[("x-ms-cosmos-is-query-plan-request", "True")],
            Some(json!({"query": "SELECT * FROM c ORDER BY c.n"})),
        )
        .await
        .unwrap();
    assert_eq!(plan.status, 200);
    assert_eq!(plan.json()["queryInfo"]["orderBy"], json!(["Ascending"]));
    // A create is still a write there.
    let create = client
        .send(
            Method::POST,
            &format!("{east}dbs/db/colls/c/docs"),
            Some(DOCS),
            &[("x-ms-documentdb-partitionkey", "[\"p1\"]")],
            Some(json!({"id": "z", "pk": "p1"})),
        )
        .await
        .unwrap();
    assert_eq!(
        (create.status.as_u16(), create.sub_status()),
        (403, Some(3))
    );
}

#[tokio::test]
async fn query_response_shape_parameters_and_headers() {
    let (emulator, client) = start().await;
    let base = emulator.global_endpoint();
    seed(&client, &base).await;
    let reply = query(
        &client,
        &base,
        json!({
            "query": "SELECT c.id, c.n * 10 AS tens FROM c WHERE c.n >= @min ORDER BY c.n DESC",
            "parameters": [{"name": "@min", "value": 3}],
        }),
        &[CROSS],
    )
    .await;
    assert_eq!(reply.status, 200);
    let body = reply.json();
    assert_eq!(
        body["Documents"],
        json!([{"id": "c", "tens": 50}, {"id": "e", "tens": 40}, {"id": "a", "tens": 30}])
    );
    assert_eq!(body["_count"], 3);
    assert!(body["_rid"].is_string());
    assert_eq!(reply.headers["x-ms-item-count"], "3");
    let charge: f64 = reply.headers["x-ms-request-charge"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(charge > 0.0);
    assert!(reply.headers.contains_key("x-ms-activity-id"));
    assert!(
        reply.headers["x-ms-session-token"]
            .to_str()
            .unwrap()
            .starts_with("0:-1#")
    );
}

#[tokio::test]
async fn single_partition_and_cross_partition_queries() {
    let (emulator, client) = start().await;
    let base = emulator.global_endpoint();
    seed(&client, &base).await;
    let text = json!({"query": "SELECT * FROM c ORDER BY c.id"});
    let one = query(
        &client,
        &base,
        text.clone(),
        &[("x-ms-documentdb-partitionkey", "[\"p2\"]")],
    )
    .await;
    assert_eq!(ids(&one), vec![json!("c"), json!("d")]);
    let all = query(&client, &base, text.clone(), &[CROSS]).await;
    assert_eq!(all.json()["_count"], 5);
    let refused = query(&client, &base, text, &[]).await;
    assert_eq!(refused.status, 400);
    assert!(
        refused.json()["message"]
            .as_str()
            .unwrap()
            .contains("enablecrosspartition")
    );
}

#[tokio::test]
async fn query_pages_with_max_item_count_and_continuation() {
    let (emulator, client) = start().await;
    let base = emulator.global_endpoint();
    seed(&client, &base).await;
    let body = json!({"query": "SELECT VALUE c.id FROM c ORDER BY c.n"});
    let mut seen = Vec::new();
    let mut continuation: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut headers = vec![CROSS, ("x-ms-max-item-count", "2")];
        if let Some(token) = &continuation {
            headers.push(("x-ms-continuation", token));
        }
        let reply = query(&client, &base, body.clone(), &headers).await;
        assert_eq!(reply.status, 200);
        pages += 1;
        let page = reply.json()["Documents"].as_array().unwrap().clone();
        assert_eq!(
            reply.headers["x-ms-item-count"],
            page.len().to_string().as_str()
        );
        seen.extend(page);
        continuation = reply
            .headers
            .get("x-ms-continuation")
            .map(|v| v.to_str().unwrap().to_string());
        if continuation.is_none() {
            break;
        }
        assert!(pages < 10, "pagination must end");
    }
    assert_eq!(pages, 3);
    assert_eq!(
        seen,
        vec![json!("b"), json!("d"), json!("a"), json!("e"), json!("c")]
    );
    let bad = query(
        &client,
        &base,
        body,
        &[CROSS, ("x-ms-continuation", "garbage")],
    )
    .await;
    assert_eq!(bad.status, 400);
}

#[tokio::test]
async fn unsupported_sql_is_400_naming_the_construct_and_position() {
    let (emulator, client) = start().await;
    let base = emulator.global_endpoint();
    seed(&client, &base).await;
    for (text, construct) in [
        (
            "SELECT * FROM c JOIN t IN c.tags",
            "'SELECT *' is only valid with a single input set. (at position 7)",
        ),
        (
            "SELECT c.pk, COUNT(1) AS n FROM c",
            "not contained in either an aggregate function or the GROUP BY clause. (at position 7)",
        ),
        (
            "SELECT * FROM c WHERE ST_WITHIN(c.a, c.b)",
            "function ST_WITHIN is not supported). (at position 22)",
        ),
        ("SELECT * FROM c WHERE", "(at position 21)"),
    ] {
        let reply = query(&client, &base, json!({"query": text}), &[CROSS]).await;
        assert_eq!(reply.status, 400, "{text}");
        let body = reply.json();
        assert_eq!(body["code"], "BadRequest");
        let message = body["message"].as_str().unwrap();
        assert!(message.contains(construct), "{text}: {message}");
    }
    let not_a_query = query(&client, &base, json!({"id": "x"}), &[CROSS]).await;
    assert_eq!(not_a_query.status, 400);
}

#[tokio::test]
async fn query_plan_requests_get_the_plan_and_the_rewritten_query_runs() {
    let (emulator, client) = start().await;
    let base = emulator.global_endpoint();
    seed(&client, &base).await;
    let plan = query(
        &client,
        &base,
        json!({"query": "SELECT c.id FROM c WHERE c.n > @min ORDER BY c.n DESC", "parameters": [{"name": "@min", "value": 1}]}),
        &[
            ("x-ms-cosmos-is-query-plan-request", "True"),
            ("x-ms-cosmos-supported-query-features", "Aggregate, OrderBy, Top, OffsetAndLimit"),
            CROSS,
        ],
    )
    .await;
    assert_eq!(plan.status, 200, "{:?}", plan.body);
    let plan = plan.json();
    assert_eq!(plan["partitionedQueryExecutionInfoVersion"], 2);
    assert_eq!(plan["queryInfo"]["orderBy"], json!(["Descending"]));
    assert_eq!(
        plan["queryRanges"],
        json!([{"min": "", "max": "FF", "isMinInclusive": true, "isMaxInclusive": false}])
    );
    // The SDK replaces the placeholder and sends the rewritten query to range "0", with
    // the parameters: the rewritten query refers to them (`@min`), as the service's does.
    let rewritten = plan["queryInfo"]["rewrittenQuery"]
        .as_str()
        .unwrap()
        .replace("{documentdb-formattableorderbyquery-filter}", "true");
    assert!(rewritten.contains("@min"), "{rewritten}");
    let reply = query(
        &client,
        &base,
        json!({"query": rewritten, "parameters": [{"name": "@min", "value": 1}]}),
        &[("x-ms-documentdb-partitionkeyrangeid", "0")],
    )
    .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let rows = reply.json()["Documents"].clone();
    assert_eq!(rows.as_array().unwrap().len(), 4);
    assert_eq!(rows[0]["orderByItems"], json!([{"item": 5}]));
    assert_eq!(rows[0]["payload"], json!({"id": "c"}));
    assert!(rows[0]["_rid"].is_string());

    // A plan request for SQL outside the subset is refused the same way.
    let refused = query(
        &client,
        &base,
        json!({"query": "SELECT c.pk FROM c HAVING c.pk"}),
        &[("x-ms-cosmos-is-query-plan-request", "True"), CROSS],
    )
    .await;
    assert_eq!(refused.status, 400);
    assert!(
        refused.json()["message"]
            .as_str()
            .unwrap()
            .contains("HAVING is not supported (at position 19)")
    );
}
