//! Primary and secondary keys: both accepted; a regenerated key is refused at once.

use http::Method;
use meridian_emulator::{Emulator, KeyKind, WELL_KNOWN_KEY, WELL_KNOWN_SECONDARY_KEY};
use serde_json::json;

use crate::admin_url;
use crate::client::{ACCOUNT, TestClient};

async fn status_with(emulator: &Emulator, key: &str) -> u16 {
    TestClient::new(key)
        .get(&emulator.global_endpoint(), ACCOUNT)
        .await
        .status
        .as_u16()
}

#[tokio::test]
async fn secondary_key_is_accepted() {
    let emulator = Emulator::builder().start().await.unwrap();
    assert_eq!(status_with(&emulator, WELL_KNOWN_KEY).await, 200);
    assert_eq!(status_with(&emulator, WELL_KNOWN_SECONDARY_KEY).await, 200);
    // A regional endpoint checks both keys too.
    let west = emulator.region_endpoint("West US").unwrap();
    let reply = TestClient::new(WELL_KNOWN_SECONDARY_KEY)
        .get(&west, ACCOUNT)
        .await;
    assert_eq!(reply.status.as_u16(), 200);

    // A configured secondary key replaces the default one.
    let custom = "dsZQi3KtZmCv1ljt3VNWNm7sQUF1y5rJfC6kv5JiwvW0EndXdDku/dkKBp8/ufDToSxL";
    let emulator = Emulator::builder()
        .secondary_key(custom)
        .start()
        .await
        .unwrap();
    assert_eq!(status_with(&emulator, custom).await, 200);
    assert_eq!(status_with(&emulator, WELL_KNOWN_SECONDARY_KEY).await, 401);
    assert_eq!(emulator.keys().secondary, custom);

    // GET /_emulator/keys lists both.
    let client = TestClient::new(WELL_KNOWN_KEY);
    let keys = client
        .admin(Method::GET, &admin_url(&emulator, "keys"), None)
        .await;
    assert_eq!(keys.status.as_u16(), 200);
    assert_eq!(
        keys.json(),
        json!({"primary": WELL_KNOWN_KEY, "secondary": custom})
    );
    assert!(!format!("{:?}", emulator.keys()).contains(custom));

    // An invalid secondary key is refused at start.
    assert!(
        Emulator::builder()
            .secondary_key("not base64!")
            .start()
            .await
            .is_err()
    );
}

#[tokio::test]
async fn regenerated_key_is_refused() {
    let emulator = Emulator::builder().start().await.unwrap();
    let client = TestClient::new(WELL_KNOWN_KEY);

    // Admin API: regenerate the primary; the old one gets 401 at once, the new one works,
    // the secondary is untouched.
    let reply = client
        .admin(
            Method::POST,
            &admin_url(&emulator, "keys/regenerate"),
            Some(json!({"key": "primary"})),
        )
        .await;
    assert_eq!(reply.status.as_u16(), 200);
    let body = reply.json();
    assert_eq!(body["kind"], "primary");
    let new_primary = body["key"].as_str().unwrap().to_string();
    assert_ne!(new_primary, WELL_KNOWN_KEY);
    assert_eq!(status_with(&emulator, WELL_KNOWN_KEY).await, 401);
    assert_eq!(status_with(&emulator, &new_primary).await, 200);
    assert_eq!(status_with(&emulator, WELL_KNOWN_SECONDARY_KEY).await, 200);
    assert_eq!(emulator.keys().primary, new_primary);
    let stats = emulator.counters();
    assert!(stats.total("rejected_auth", "GET") >= 1);

    // In-process API: regenerate the secondary.
    let new_secondary = emulator.regenerate_key(KeyKind::Secondary);
    assert_eq!(status_with(&emulator, WELL_KNOWN_SECONDARY_KEY).await, 401);
    assert_eq!(status_with(&emulator, &new_secondary).await, 200);
    assert_eq!(status_with(&emulator, &new_primary).await, 200);

    // A bad request names no key.
    let reply = client
        .admin(
            Method::POST,
            &admin_url(&emulator, "keys/regenerate"),
            Some(json!({"key": "tertiary"})),
        )
        .await;
    assert_eq!(reply.status.as_u16(), 400);
}
