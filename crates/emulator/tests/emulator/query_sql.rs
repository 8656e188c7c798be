//! The SQL people write, over the wire (issue 27): GROUP BY across partition key values,
//! the service's `errors[]` refusals and the plans SDKs run DISTINCT and GROUP BY with.

use http::Method;
use serde_json::{Value, json};

use crate::client::{COLLECTIONS, DATABASES, DOCS, TestClient};
use crate::data_plane::setup;
use crate::query::{CROSS, query};
use crate::start;

const PLAN: (&str, &str) = ("x-ms-cosmos-is-query-plan-request", "True");
const RANGE: (&str, &str) = ("x-ms-documentdb-partitionkeyrangeid", "0");

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

/// Six people in three cities over three partition key values.
async fn seed(client: &TestClient, base: &str) {
    for (id, pk, city, n) in [
        ("a", "p1", "Oslo", 3),
        ("b", "p1", "Lima", 1),
        ("c", "p2", "Oslo", 5),
        ("d", "p2", "Oslo", 2),
        ("e", "p3", "Lima", 4),
        ("f", "p3", "Rome", 6),
    ] {
        let doc = json!({"id": id, "pk": pk, "city": city, "n": n, "tags": [city, pk]});
        create(client, base, doc).await;
    }
}

fn documents(reply: &crate::client::Reply) -> Vec<Value> {
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    reply.json()["Documents"].as_array().unwrap().clone()
}

fn sorted(mut rows: Vec<Value>) -> Vec<Value> {
    rows.sort_by_key(Value::to_string);
    rows
}

#[tokio::test]
async fn group_by_with_aggregates_across_partitions() {
    let (emulator, client) = start().await;
    let base = emulator.global_endpoint();
    setup(&client, &base).await;
    seed(&client, &base).await;
    let text =
        "SELECT c.city, COUNT(1) AS n, SUM(c.n) AS total, MAX(c.n) AS hi FROM c GROUP BY c.city";
    let expected = vec![
        json!({"city": "Lima", "n": 2, "total": 5, "hi": 4}),
        json!({"city": "Oslo", "n": 3, "total": 10, "hi": 5}),
        json!({"city": "Rome", "n": 1, "total": 6, "hi": 6}),
    ];
    let all = query(&client, &base, json!({"query": text}), &[RANGE]).await;
    assert_eq!(sorted(documents(&all)), expected);
    // One partition key value groups only its own items.
    let p2 = query(
        &client,
        &base,
        json!({"query": text}),
        &[("x-ms-documentdb-partitionkey", "[\"p2\"]")],
    )
    .await;
    assert_eq!(
        documents(&p2),
        vec![json!({"city": "Oslo", "n": 2, "total": 7, "hi": 5})]
    );
    // Through the plan, as an SDK runs it: each partition key value's partial groups,
    // combined by key, give the same answer.
    let plan = query(&client, &base, json!({"query": text}), &[PLAN, CROSS]).await;
    let plan = plan.json();
    let rewritten = plan["queryInfo"]["rewrittenQuery"].as_str().unwrap();
    let mut groups: std::collections::BTreeMap<String, Value> = Default::default();
    for pk in ["p1", "p2", "p3"] {
        let header = format!("[\"{pk}\"]");
        let part = query(
            &client,
            &base,
            json!({"query": rewritten}),
            &[("x-ms-documentdb-partitionkey", &header)],
        )
        .await;
        for row in documents(&part) {
            let key = row["groupByItems"].to_string();
            let payload = &row["payload"];
            let merged = groups.entry(key).or_insert_with(
                || json!({"city": payload["city"], "n": 0, "total": 0, "hi": null}),
            );
            merged["n"] =
                json!(merged["n"].as_i64().unwrap() + payload["n"]["item"].as_i64().unwrap());
            merged["total"] = json!(
                merged["total"].as_i64().unwrap() + payload["total"]["item"].as_i64().unwrap()
            );
            let top = payload["hi"]["item"].as_i64().unwrap();
            merged["hi"] = json!(merged["hi"].as_i64().map_or(top, |t| t.max(top)));
        }
    }
    assert_eq!(sorted(groups.into_values().collect()), expected);
    // GROUP BY with SELECT VALUE, and over a join.
    let values = query(
        &client,
        &base,
        json!({"query": "SELECT VALUE COUNT(1) FROM c JOIN t IN c.tags WHERE t = c.pk GROUP BY c.pk"}),
        &[RANGE],
    )
    .await;
    assert_eq!(documents(&values), vec![json!(2); 3]);
    // `SELECT VALUE MAX(…)` over no rows is no result, as the service answers.
    let none = query(
        &client,
        &base,
        json!({"query": "SELECT VALUE MAX(c.n) FROM c WHERE c.n > 100"}),
        &[RANGE],
    )
    .await;
    assert_eq!(documents(&none), Vec::<Value>::new());
    // Through the plan each range answers `[{}]` (an undefined item), which SDKs combine
    // into no result.
    let plan = query(
        &client,
        &base,
        json!({"query": "SELECT VALUE MAX(c.n) FROM c WHERE c.n > 100"}),
        &[PLAN, CROSS],
    )
    .await;
    let rewritten = plan.json()["queryInfo"]["rewrittenQuery"].clone();
    let ranged = query(&client, &base, json!({"query": rewritten}), &[RANGE]).await;
    assert_eq!(documents(&ranged), vec![json!([{}])]);
}

fn service_error(reply: &crate::client::Reply) -> Value {
    assert_eq!(reply.status, 400, "{:?}", reply.body);
    let body = reply.json();
    assert_eq!(body["code"], "BadRequest");
    let message = body["message"].as_str().unwrap();
    let json = message
        .strip_prefix("Message: ")
        .and_then(|m| m.split("\r\nActivityId: ").next())
        .unwrap_or_else(|| panic!("{message}"));
    let errors: Value = serde_json::from_str(json).unwrap();
    errors["errors"][0].clone()
}

#[tokio::test]
async fn unsupported_sql_is_refused_with_the_services_error_shape() {
    let (emulator, client) = start().await;
    let base = emulator.global_endpoint();
    setup(&client, &base).await;
    seed(&client, &base).await;
    for (text, code, start, end) in [
        ("SELECT * FROM c WHERE d.id = 1", "SC2001", 22, 23),
        (
            "SELECT * FROM c WHERE ST_WITHIN(c.a, c.b)",
            "SC2005",
            22,
            31,
        ),
        ("SELECT * FROM c WHERE", "SC1002", 21, 21),
        ("SELECT * FROM c WHERE c.a = = 1", "SC1001", 28, 28),
        ("SELECT * FROM c JOIN t IN c.tags", "SC2031", 7, 8),
    ] {
        for headers in [&[CROSS][..], &[PLAN, CROSS][..]] {
            let reply = query(&client, &base, json!({"query": text}), headers).await;
            let error = service_error(&reply);
            assert_eq!(error["severity"], "Error", "{text}");
            assert_eq!(error["code"], code, "{text}: {error}");
            assert_eq!(
                error["location"],
                json!({"start": start, "end": end}),
                "{text}"
            );
            assert!(error["message"].is_string());
        }
    }
    // A cross-partition aggregate outside VALUE is the gateway's refusal; within one
    // partition, or on a range as SDKs send the plan's query, it is answered.
    let count = json!({"query": "SELECT COUNT(1) AS n FROM c"});
    let refused = query(&client, &base, count.clone(), &[CROSS]).await;
    assert_eq!(refused.status, 400);
    assert!(
        refused.json()["message"]
            .as_str()
            .unwrap()
            .contains("Cross partition query only supports 'VALUE <AggregateFunction>'")
    );
    let one = query(
        &client,
        &base,
        count.clone(),
        &[("x-ms-documentdb-partitionkey", "[\"p1\"]")],
    )
    .await;
    assert_eq!(documents(&one), vec![json!({"n": 2})]);
    assert_eq!(
        documents(&query(&client, &base, count, &[RANGE]).await),
        vec![json!({"n": 6})]
    );
    // Two-field ORDER BY needs a composite index the container lacks.
    let two = json!({"query": "SELECT VALUE c.id FROM c ORDER BY c.city, c.n DESC"});
    let refused = query(&client, &base, two.clone(), &[CROSS]).await;
    assert_eq!(refused.status, 400);
    assert!(
        refused.json()["message"]
            .as_str()
            .unwrap()
            .contains("does not have a corresponding composite index")
    );

    // With the index (or its reverse), it runs.
    let (emulator, client) = start().await;
    let base = emulator.global_endpoint();
    let db = client
        .signed(
            Method::POST,
            &format!("{base}dbs"),
            DATABASES,
            Some(json!({"id": "db"})),
        )
        .await;
    assert_eq!(db.status, 201);
    let policy = json!({"compositeIndexes": [[
        {"path": "/city", "order": "descending"},
        {"path": "/n", "order": "ascending"}
    ]]});
    let coll = client
        .signed(
            Method::POST,
            &format!("{base}dbs/db/colls"),
            COLLECTIONS,
            Some(json!({"id": "c", "partitionKey": {"paths": ["/pk"]}, "indexingPolicy": policy})),
        )
        .await;
    assert_eq!(coll.status, 201);
    seed(&client, &base).await;
    let ordered = query(&client, &base, two, &[CROSS]).await;
    assert_eq!(
        documents(&ordered),
        ["e", "b", "c", "a", "d", "f"].map(Value::from).to_vec()
    );
    let wrong = json!({"query": "SELECT VALUE c.id FROM c ORDER BY c.city, c.n"});
    assert_eq!(query(&client, &base, wrong, &[CROSS]).await.status, 400);
}

#[tokio::test]
async fn query_plan_describes_distinct_and_group_by() {
    let (emulator, client) = start().await;
    let base = emulator.global_endpoint();
    setup(&client, &base).await;
    seed(&client, &base).await;
    let plan_of = |text: &'static str| {
        let (client, base) = (&client, &base);
        async move {
            let reply = query(client, base, json!({"query": text}), &[PLAN, CROSS]).await;
            assert_eq!(reply.status, 200, "{text}: {:?}", reply.body);
            reply.json()["queryInfo"].clone()
        }
    };
    let unordered = plan_of("SELECT DISTINCT VALUE c.city FROM c").await;
    assert_eq!(unordered["distinctType"], "Unordered");
    assert_eq!(unordered["rewrittenQuery"], "");
    let ordered = plan_of("SELECT DISTINCT VALUE c.city FROM c ORDER BY c.city").await;
    assert_eq!(ordered["distinctType"], "Ordered");
    assert_eq!(ordered["orderBy"], json!(["Ascending"]));
    let none = plan_of("SELECT VALUE c.city FROM c").await;
    assert_eq!(none["distinctType"], "None");

    let grouped =
        plan_of("SELECT c.city, COUNT(1) AS n, AVG(c.n) AS mean FROM c GROUP BY c.city").await;
    assert_eq!(grouped["groupByExpressions"], json!(["c.city"]));
    assert_eq!(grouped["groupByAliases"], json!(["city", "n", "mean"]));
    assert_eq!(
        grouped["groupByAliasToAggregateType"],
        json!({"city": null, "n": "Count", "mean": "Average"})
    );
    let rewritten = grouped["rewrittenQuery"].as_str().unwrap();
    assert!(rewritten.contains("AS groupByItems"), "{rewritten}");
    assert!(rewritten.contains("AS payload"), "{rewritten}");
    assert!(rewritten.ends_with("GROUP BY c.city"), "{rewritten}");
    // The rewritten query runs, answering each group's key and partial aggregates.
    let rows = documents(&query(&client, &base, json!({"query": rewritten}), &[RANGE]).await);
    let oslo = rows
        .iter()
        .find(|r| r["groupByItems"] == json!([{"item": "Oslo"}]))
        .unwrap();
    assert_eq!(
        oslo["payload"],
        json!({"city": "Oslo", "n": {"item": 3}, "mean": {"item": {"sum": 10, "count": 3}}})
    );

    let value = plan_of("SELECT VALUE MAX(c.n) FROM c GROUP BY c.city").await;
    assert_eq!(value["aggregates"], json!(["Max"]));
    assert_eq!(value["hasSelectValue"], true);
    let rewritten = value["rewrittenQuery"].as_str().unwrap();
    let rows = documents(&query(&client, &base, json!({"query": rewritten}), &[RANGE]).await);
    assert!(
        rows.contains(&json!({"groupByItems": [{"item": "Rome"}], "payload": [{"item": 6}]})),
        "{rows:?}"
    );

    // A field-list aggregate without GROUP BY is planned as one group.
    let counted = plan_of("SELECT COUNT(1) AS n FROM c").await;
    assert_eq!(
        counted["groupByAliasToAggregateType"],
        json!({"n": "Count"})
    );
    // Its aggregates are listed, as the service lists them: the Python SDK refuses a
    // cross-partition one from this (`hasSelectValue` false).
    assert_eq!(counted["aggregates"], json!(["Count"]));
    assert_eq!(counted["hasSelectValue"], json!(false));
    let rewritten = counted["rewrittenQuery"].as_str().unwrap();
    let rows = documents(&query(&client, &base, json!({"query": rewritten}), &[RANGE]).await);
    assert_eq!(rows, vec![json!({"payload": {"n": {"item": 6}}})]);

    // A client that does not list a feature the query needs gets the service's refusal.
    let python_features =
        "Aggregate,CompositeAggregate,Distinct,MultipleOrderBy,OffsetAndLimit,OrderBy,Top";
    let refused = query(
        &client,
        &base,
        json!({"query": "SELECT c.city, COUNT(1) AS n FROM c GROUP BY c.city"}),
        &[
            PLAN,
            CROSS,
            ("x-ms-cosmos-supported-query-features", python_features),
        ],
    )
    .await;
    assert_eq!(refused.status, 400);
    let message = refused.json()["message"].as_str().unwrap().to_string();
    assert!(
        message.starts_with("Query contains 1 or more unsupported features."),
        "{message}"
    );
    assert!(
        message.contains("Query contained GroupBy, which the calling client does not support."),
        "{message}"
    );
    let listed = query(
        &client,
        &base,
        json!({"query": "SELECT DISTINCT TOP 2 VALUE c.city FROM c"}),
        &[
            PLAN,
            CROSS,
            ("x-ms-cosmos-supported-query-features", python_features),
        ],
    )
    .await;
    assert_eq!(listed.status, 200);

    // An aggregate inside another expression cannot be combined across ranges: refused.
    let composed = query(
        &client,
        &base,
        json!({"query": "SELECT VALUE {\"n\": COUNT(1)} FROM c"}),
        &[PLAN, CROSS],
    )
    .await;
    assert_eq!(composed.status, 400);
    assert!(
        composed.json()["message"]
            .as_str()
            .unwrap()
            .contains("Compositions of aggregates and other expressions are not allowed.")
    );

    // JOIN and subqueries need no merge: the plan passes them through.
    let joined = plan_of("SELECT VALUE t FROM c JOIN t IN c.tags WHERE EXISTS(SELECT VALUE 1 FROM x IN c.tags WHERE x = 'p1')").await;
    assert_eq!(joined["rewrittenQuery"], "");
    assert_eq!(joined["distinctType"], "None");
}

#[tokio::test]
async fn an_aggregate_over_a_large_join_holds_no_rows() {
    let emulator = meridian_emulator::Emulator::builder()
        .memory_budget(meridian_emulator::MIN_MEMORY_BUDGET)
        .start()
        .await
        .unwrap();
    let client = TestClient::new(emulator.key());
    let base = emulator.global_endpoint();
    setup(&client, &base).await;
    for i in 0..10 {
        let doc = json!({"id": format!("i{i}"), "pk": "p", "a": (0..100).collect::<Vec<_>>()});
        create(&client, &base, doc).await;
    }
    // 100,000 joined rows: held, they would be past the 4 MiB budget; counted, they are not.
    let count = query(
        &client,
        &base,
        json!({"query": "SELECT VALUE COUNT(1) FROM c JOIN x IN c.a JOIN y IN c.a"}),
        &[CROSS],
    )
    .await;
    assert_eq!(documents(&count), vec![json!(100_000)]);
    let grouped = query(
        &client,
        &base,
        json!({"query": "SELECT VALUE MAX(x * y) FROM c JOIN x IN c.a JOIN y IN c.a GROUP BY c.id"}),
        &[CROSS],
    )
    .await;
    assert_eq!(documents(&grouped), vec![json!(99 * 99); 10]);
    // Rows a query must keep (to order them) are still charged, and refused past it.
    let ordered = query(
        &client,
        &base,
        json!({"query": "SELECT VALUE x FROM c JOIN x IN c.a JOIN y IN c.a ORDER BY x"}),
        &[CROSS],
    )
    .await;
    assert!(
        ordered.status == 413 || ordered.status == 429,
        "{}",
        ordered.status
    );
    emulator.shutdown().await;
}

/// Every page of `text` (`max-item-count: size`), following continuations.
async fn all_pages(client: &TestClient, base: &str, text: &str, size: &str) -> Vec<Value> {
    let mut seen = Vec::new();
    let mut continuation: Option<String> = None;
    for _ in 0..50 {
        let mut headers = vec![CROSS, ("x-ms-max-item-count", size)];
        if let Some(token) = &continuation {
            headers.push(("x-ms-continuation", token));
        }
        let reply = query(client, base, json!({"query": text}), &headers).await;
        seen.extend(documents(&reply));
        continuation = reply
            .headers
            .get("x-ms-continuation")
            .map(|v| v.to_str().unwrap().to_string());
        if continuation.is_none() {
            return seen;
        }
    }
    panic!("{text}: pagination never ended");
}

#[tokio::test]
async fn joined_distinct_and_grouped_results_page_with_continuations() {
    let (emulator, client) = start().await;
    let base = emulator.global_endpoint();
    setup(&client, &base).await;
    seed(&client, &base).await;
    // Each joined row has a position of its own: pages split an item's rows exactly.
    // Pages of three split items' pairs of rows.
    let joined = all_pages(
        &client,
        &base,
        "SELECT c.id, t FROM c JOIN t IN c.tags",
        "3",
    )
    .await;
    assert_eq!(joined.len(), 12);
    let one_page = query(
        &client,
        &base,
        json!({"query": "SELECT c.id, t FROM c JOIN t IN c.tags"}),
        &[CROSS],
    )
    .await;
    assert_eq!(joined, documents(&one_page));
    let ordered = all_pages(
        &client,
        &base,
        "SELECT VALUE t FROM c JOIN t IN c.tags ORDER BY t DESC",
        "5",
    )
    .await;
    assert_eq!(ordered.len(), 12);
    assert!(ordered.windows(2).all(|w| w[0].as_str() >= w[1].as_str()));
    let distinct = all_pages(&client, &base, "SELECT DISTINCT VALUE c.city FROM c", "2").await;
    assert_eq!(distinct, vec![json!("Oslo"), json!("Lima"), json!("Rome")]);
    let grouped = all_pages(
        &client,
        &base,
        "SELECT c.pk, COUNT(1) AS n FROM c JOIN t IN c.tags GROUP BY c.pk",
        "2",
    )
    .await;
    assert_eq!(
        grouped,
        vec![
            json!({"pk": "p1", "n": 4}),
            json!({"pk": "p2", "n": 4}),
            json!({"pk": "p3", "n": 4})
        ]
    );
    emulator.shutdown().await;
}
