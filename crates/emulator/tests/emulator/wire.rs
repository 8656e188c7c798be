//! The account document and master-key auth on the wire.

use std::time::{Duration, SystemTime};

use http::Method;
use serde_json::Value;

use crate::client::{ACCOUNT, DATABASES, Signed, TestClient, sign};
use crate::start;

#[tokio::test]
async fn the_account_document_has_the_live_shape() {
    let (emulator, client) = start().await;
    let reply = client.get(&emulator.global_endpoint(), ACCOUNT).await;
    assert_eq!(reply.status, 200);
    for header in ["x-ms-version", "x-ms-activity-id", "x-ms-request-charge"] {
        assert!(reply.headers.contains_key(header), "missing {header}");
    }
    assert_eq!(reply.headers["content-type"], "application/json");
    let doc = reply.json();
    for (field, check) in [
        ("_self", Value::is_string as fn(&Value) -> bool),
        ("id", Value::is_string),
        ("_rid", Value::is_string),
        ("media", Value::is_string),
        ("addresses", Value::is_string),
        ("_dbs", Value::is_string),
        ("writableLocations", Value::is_array),
        ("readableLocations", Value::is_array),
        ("enableMultipleWriteLocations", Value::is_boolean),
        ("enablePerPartitionFailoverBehavior", Value::is_boolean),
        ("continuousBackupEnabled", Value::is_boolean),
        ("enableNRegionSynchronousCommit", Value::is_boolean),
        ("userReplicationPolicy", Value::is_object),
        ("systemReplicationPolicy", Value::is_object),
        ("userConsistencyPolicy", Value::is_object),
        ("readPolicy", Value::is_object),
        ("queryEngineConfiguration", Value::is_string),
    ] {
        assert!(
            doc.get(field).is_some_and(check),
            "field {field}: {:?}",
            doc.get(field)
        );
    }
    assert!(
        doc.get("_etag").is_none(),
        "the live service sends no _etag"
    );
    assert!(doc["userReplicationPolicy"]["maxReplicasetSize"].is_u64());
    assert!(doc["userReplicationPolicy"]["minReplicaSetSize"].is_u64());
    assert!(doc["userConsistencyPolicy"]["defaultConsistencyLevel"].is_string());
    let engine: Value =
        serde_json::from_str(doc["queryEngineConfiguration"].as_str().unwrap()).unwrap();
    assert!(
        engine.is_object(),
        "queryEngineConfiguration is a JSON string"
    );

    let readable = doc["readableLocations"].as_array().unwrap();
    assert_eq!(readable.len(), 3);
    assert_eq!(doc["writableLocations"].as_array().unwrap().len(), 1);
    assert_eq!(doc["writableLocations"][0]["name"], "West US");
    // Every location points at a live regional listener serving the same document.
    for location in readable {
        let endpoint = location["databaseAccountEndpoint"].as_str().unwrap();
        assert_eq!(
            Some(endpoint.to_string()),
            emulator.region_endpoint(location["name"].as_str().unwrap())
        );
        let regional = client.get(endpoint, ACCOUNT).await;
        assert_eq!(regional.status, 200);
        assert_eq!(
            regional.json()["readableLocations"],
            doc["readableLocations"]
        );
    }
}

#[tokio::test]
async fn multi_write_lists_every_region_as_writable() {
    let emulator = Emulator::builder().multi_write(true).start().await.unwrap();
    let doc = emulator.account_document();
    assert_eq!(doc["enableMultipleWriteLocations"], true);
    assert_eq!(doc["writableLocations"].as_array().unwrap().len(), 3);
}

use meridian_emulator::Emulator;

#[tokio::test]
async fn signatures_are_accepted_and_rejected_with_the_services_codes() {
    let (emulator, client) = start().await;
    let url = emulator.global_endpoint();
    let date = httpdate::fmt_http_date(SystemTime::now());
    let good = sign(emulator.key(), "GET", "", "", &date);
    let send = |auth: Option<String>, date: Option<String>| {
        let client = client.clone();
        let url = url.clone();
        async move {
            let mut headers: Vec<(&str, String)> = Vec::new();
            if let Some(a) = auth {
                headers.push(("authorization", a));
            }
            if let Some(d) = date {
                headers.push(("x-ms-date", d));
            }
            let headers: Vec<(&str, &str)> =
                headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
            client.get_status_with(&url, &headers).await
        }
    };
    assert_eq!(send(Some(good.clone()), Some(date.clone())).await, 200);
    assert_eq!(
        send(None, Some(date.clone())).await,
        401,
        "missing authorization"
    );
    assert_eq!(send(Some(good.clone()), None).await, 401, "missing date");
    assert_eq!(
        send(Some("type%3Dmaster".into()), Some(date.clone())).await,
        401,
        "malformed"
    );
    let other_key = "dsZQi3KtZmCv1ljt3VNWNm7sQUF1y5rJfC6kv5JiwvW0EndXdDku/dkKBp8/ufDToSxL";
    assert_eq!(
        send(
            Some(sign(other_key, "GET", "", "", &date)),
            Some(date.clone())
        )
        .await,
        401,
        "wrong key"
    );
    assert_eq!(
        send(
            Some(sign(emulator.key(), "POST", "", "", &date)),
            Some(date.clone())
        )
        .await,
        401,
        "wrong verb"
    );
    assert_eq!(
        send(
            Some(sign(emulator.key(), "GET", "dbs", "dbs/x", &date)),
            Some(date.clone())
        )
        .await,
        401,
        "wrong link"
    );
    let stale = httpdate::fmt_http_date(SystemTime::now() - Duration::from_secs(16 * 60));
    assert_eq!(
        send(
            Some(sign(emulator.key(), "GET", "", "", &stale)),
            Some(stale)
        )
        .await,
        403,
        "stale date"
    );
    let counters = emulator.counters();
    assert_eq!(counters.get("global", "rejected_auth", "GET"), 7);
    assert_eq!(counters.get("global", "account", "GET"), 1);

    // A resource link is the unencoded path, and a feed signs its parent's link.
    let created = client
        .signed(
            Method::POST,
            &format!("{url}dbs"),
            DATABASES,
            Some(serde_json::json!({"id": "my db"})),
        )
        .await;
    assert_eq!(created.status, 201);
    let read = client
        .get(
            &format!("{url}dbs/my%20db"),
            Signed::new("dbs", "dbs/my db"),
        )
        .await;
    assert_eq!(read.status, 200);
    assert_eq!(read.json()["id"], "my db");
}

#[tokio::test]
async fn a_custom_key_replaces_the_well_known_one() {
    let key = "dsZQi3KtZmCv1ljt3VNWNm7sQUF1y5rJfC6kv5JiwvW0EndXdDku/dkKBp8/ufDToSxL";
    let emulator = Emulator::builder().key(key).start().await.unwrap();
    assert_eq!(
        TestClient::new(key)
            .get(&emulator.global_endpoint(), ACCOUNT)
            .await
            .status,
        200
    );
    let well_known = TestClient::new(meridian_emulator::WELL_KNOWN_KEY);
    assert_eq!(
        well_known
            .get(&emulator.global_endpoint(), ACCOUNT)
            .await
            .status,
        401
    );
    assert!(
        Emulator::builder()
            .key("not base64!")
            .start()
            .await
            .is_err()
    );
}

#[tokio::test]
async fn counters_are_exact_under_eight_concurrent_clients() {
    let (emulator, client) = start().await;
    let url = emulator.global_endpoint();
    let west = emulator.region_endpoint("West US").unwrap();
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let (client, url, west) = (client.clone(), url.clone(), west.clone());
            tokio::spawn(async move {
                for _ in 0..25 {
                    let target = if i % 2 == 0 { &url } else { &west };
                    assert_eq!(client.get(target, ACCOUNT).await.status, 200);
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let counters = emulator.counters();
    assert_eq!(counters.get("global", "account", "GET"), 100);
    assert_eq!(counters.get("West US", "account", "GET"), 100);
    assert_eq!(counters.account_reads(), 200);
    assert_eq!(counters.listeners["global"].total, 100);
}

#[tokio::test]
async fn in_process_requests_are_served_like_socket_ones() {
    let (emulator, _) = start().await;
    let date = httpdate::fmt_http_date(SystemTime::now());
    let signed = http::Request::get("/")
        .header("x-ms-date", &date)
        .header("authorization", sign(emulator.key(), "GET", "", "", &date))
        .body(bytes::Bytes::new())
        .unwrap();
    let response = emulator.handle(signed, 1 << 20).await;
    assert_eq!(response.status(), 200);
    let doc: Value = serde_json::from_slice(response.body()).unwrap();
    assert_eq!(doc["id"], "meridian-emulator");
    let unsigned = http::Request::get("/").body(bytes::Bytes::new()).unwrap();
    assert_eq!(emulator.handle(unsigned, 1 << 20).await.status(), 401);
    assert_eq!(emulator.counters().get("global", "rejected_auth", "GET"), 1);
}
