//! Every admin action, observed from a plain HTTP client.

use http::Method;
use serde_json::json;

use crate::client::ACCOUNT;
use crate::{admin_url, start};

fn names(doc: &serde_json::Value, field: &str) -> Vec<String> {
    doc[field]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn failover_moves_the_write_region_at_once() {
    let (emulator, client) = start().await;
    let reply = client
        .admin(
            Method::POST,
            &admin_url(&emulator, "failover"),
            Some(json!({"write_region": "North Europe"})),
        )
        .await;
    assert_eq!(reply.status, 204);
    let doc = client
        .get(&emulator.global_endpoint(), ACCOUNT)
        .await
        .json();
    assert_eq!(names(&doc, "writableLocations"), vec!["North Europe"]);
    assert_eq!(names(&doc, "readableLocations")[0], "North Europe");
    let topology = client
        .admin(Method::GET, &admin_url(&emulator, "topology"), None)
        .await
        .json();
    assert_eq!(topology["write_region"], "North Europe");
    let unknown = client
        .admin(
            Method::POST,
            &admin_url(&emulator, "failover"),
            Some(json!({"write_region": "Mars"})),
        )
        .await;
    assert_eq!(unknown.status, 404);
    let malformed = client
        .admin(
            Method::POST,
            &admin_url(&emulator, "failover"),
            Some(json!({"region": 1})),
        )
        .await;
    assert_eq!(malformed.status, 400);
}

#[tokio::test]
async fn regions_are_added_drained_removed_downed_and_upped() {
    let (emulator, client) = start().await;
    // Add: a new listener that serves the account.
    let added = client
        .admin(
            Method::POST,
            &admin_url(&emulator, "regions"),
            Some(json!({"name": "Japan East"})),
        )
        .await;
    assert_eq!(added.status, 201);
    let japan = added.json()["endpoint"].as_str().unwrap().to_string();
    assert_eq!(client.get(&japan, ACCOUNT).await.status, 200);
    assert!(
        names(&emulator.account_document(), "readableLocations")
            .contains(&"Japan East".to_string())
    );
    let duplicate = client
        .admin(
            Method::POST,
            &admin_url(&emulator, "regions"),
            Some(json!({"name": "Japan East"})),
        )
        .await;
    assert_eq!(duplicate.status, 409);

    // Drain: still advertised, answers 403/1008.
    assert_eq!(
        client
            .admin(
                Method::POST,
                &admin_url(&emulator, "regions/Japan%20East/drain"),
                None
            )
            .await
            .status,
        204
    );
    let drained = client.get(&japan, ACCOUNT).await;
    assert_eq!(
        (drained.status.as_u16(), drained.sub_status()),
        (403, Some(1008))
    );
    assert!(
        names(&emulator.account_document(), "readableLocations")
            .contains(&"Japan East".to_string())
    );

    // Remove: gone from the document, the listener still answers 403/1008.
    assert_eq!(
        client
            .admin(
                Method::DELETE,
                &admin_url(&emulator, "regions/East%20US"),
                None
            )
            .await
            .status,
        204
    );
    assert!(
        !names(&emulator.account_document(), "readableLocations").contains(&"East US".to_string())
    );
    let east = emulator.region_endpoint("East US").unwrap();
    let removed = client.get(&east, ACCOUNT).await;
    assert_eq!(
        (removed.status.as_u16(), removed.sub_status()),
        (403, Some(1008))
    );
    // Re-adding brings it back on the same listener.
    assert_eq!(
        client
            .admin(
                Method::POST,
                &admin_url(&emulator, "regions"),
                Some(json!({"name": "East US"}))
            )
            .await
            .status,
        201
    );
    assert_eq!(client.get(&east, ACCOUNT).await.status, 200);

    // The write region cannot be drained or removed.
    assert_eq!(
        client
            .admin(
                Method::DELETE,
                &admin_url(&emulator, "regions/West%20US"),
                None
            )
            .await
            .status,
        400
    );

    // Down: connection refused. Up: serving again on the same port, undrained.
    assert_eq!(
        client
            .admin(
                Method::POST,
                &admin_url(&emulator, "regions/Japan%20East/down"),
                None
            )
            .await
            .status,
        204
    );
    let refused = client
        .send(Method::GET, &japan, None, &[], None)
        .await
        .unwrap_err();
    assert!(
        refused.contains("Connect") || refused.contains("refused"),
        "{refused}"
    );
    assert_eq!(
        client
            .admin(
                Method::POST,
                &admin_url(&emulator, "regions/Japan%20East/up"),
                None
            )
            .await
            .status,
        204
    );
    assert_eq!(client.get(&japan, ACCOUNT).await.status, 200);
    let topology = client
        .admin(Method::GET, &admin_url(&emulator, "topology"), None)
        .await
        .json();
    let japan_info = topology["regions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "Japan East")
        .unwrap()
        .clone();
    assert_eq!(
        (japan_info["up"].clone(), japan_info["drained"].clone()),
        (json!(true), json!(false))
    );
}

#[tokio::test]
async fn stats_count_and_reset() {
    let (emulator, client) = start().await;
    client.get(&emulator.global_endpoint(), ACCOUNT).await;
    client
        .get(&emulator.region_endpoint("East US").unwrap(), ACCOUNT)
        .await;
    let stats = client
        .admin(Method::GET, &admin_url(&emulator, "stats"), None)
        .await
        .json();
    assert_eq!(
        stats["listeners"]["global"]["by_class"]["account"]["GET"],
        1
    );
    assert_eq!(
        stats["listeners"]["East US"]["by_class"]["account"]["GET"],
        1
    );
    assert_eq!(
        client
            .admin(Method::POST, &admin_url(&emulator, "stats/reset"), None)
            .await
            .status,
        204
    );
    assert_eq!(emulator.counters().account_reads(), 0);
    // The admin API is not on regional listeners.
    let regional = client
        .send(
            Method::GET,
            &format!(
                "{}_emulator/stats",
                emulator.region_endpoint("East US").unwrap()
            ),
            None,
            &[],
            None,
        )
        .await
        .unwrap();
    assert_eq!(regional.status, 404);
}

#[tokio::test]
async fn fault_rules_are_added_listed_and_cleared() {
    let (emulator, client) = start().await;
    let rule = json!({"match": {"class": "account"}, "action": {"kind": "status", "status": 503}, "limit": {"hits": 1}});
    let added = client
        .admin(Method::POST, &admin_url(&emulator, "faults"), Some(rule))
        .await;
    assert_eq!(added.status, 201);
    assert_eq!(
        client
            .get(&emulator.global_endpoint(), ACCOUNT)
            .await
            .status,
        503
    );
    assert_eq!(
        client
            .get(&emulator.global_endpoint(), ACCOUNT)
            .await
            .status,
        200,
        "hit limit reached"
    );
    let listed = client
        .admin(Method::GET, &admin_url(&emulator, "faults"), None)
        .await
        .json();
    assert_eq!(listed[0]["hits"], 1);
    assert_eq!(listed[0]["id"], added.json()["id"]);
    assert_eq!(
        client
            .admin(Method::DELETE, &admin_url(&emulator, "faults"), None)
            .await
            .status,
        204
    );
    assert_eq!(
        client
            .admin(Method::GET, &admin_url(&emulator, "faults"), None)
            .await
            .json(),
        json!([])
    );
    let invalid = client
        .admin(
            Method::POST,
            &admin_url(&emulator, "faults"),
            Some(json!({"action": {"kind": "explode"}})),
        )
        .await;
    assert_eq!(invalid.status, 400);
    assert_eq!(
        client
            .admin(Method::GET, &admin_url(&emulator, "nope"), None)
            .await
            .status,
        404
    );
}
