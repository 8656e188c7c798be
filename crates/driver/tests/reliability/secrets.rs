//! The key never appears in `Debug`, `Display`, error messages or tracing output — also
//! across key rotation (a second key, an in-place rotation, refreshes falling back to
//! another driver's key after a 401, a refused rotation).

use std::time::Duration;

use meridian_driver::{AccountConfig, Driver};
use meridian_emulator::{Emulator, FaultAction, FaultRule, KeyKind};
use meridian_runtime::Runtime;
use serde_json::json;

use crate::capture;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_key_is_never_printed_or_logged() {
    capture::install();
    // A key of its own, so the search cannot be confused by other tests' keys.
    let key = "bWVyaWRpYW4tc2VjcmV0LWtleS1mb3ItdGhlLXNlY3JldHMtdGVzdA==";
    let second = "c2Vjb25kLW1lcmlkaWFuLXNlY3JldC1mb3ItdGhlLXRlc3Q=";
    let emulator = Emulator::builder()
        .key(key)
        .secondary_key(second)
        .start()
        .await
        .unwrap();
    let runtime = Runtime::builder()
        .refresh_interval(Duration::from_millis(100))
        .event_min_interval(Duration::from_millis(10))
        .build()
        .unwrap();
    let config = AccountConfig::new(emulator.global_endpoint(), key);
    let driver = Driver::builder(&runtime, config.clone())
        .build()
        .await
        .unwrap();
    let mut printed = vec![
        format!("{config:?}"),
        format!("{driver:?}"),
        format!("{runtime:?}"),
    ];

    // Success, failures, retries and refreshes all log something.
    driver.create_database("db").await.unwrap();
    driver.create_container("db", "c", "/pk").await.unwrap();
    let container = driver.container("db", "c");
    container
        .create_item("p", &json!({"id": "a", "pk": "p"}))
        .await
        .unwrap();
    for error in [
        container
            .read_item::<serde_json::Value>("p", "missing")
            .await
            .unwrap_err(),
        driver.create_database("db").await.unwrap_err(),
    ] {
        printed.push(format!("{error}"));
        printed.push(format!("{error:?}"));
    }
    emulator
        .add_fault(FaultRule::on_class("account", FaultAction::status(503)))
        .unwrap();
    emulator
        .add_fault(FaultRule::on_class("items", FaultAction::status(503)))
        .unwrap();
    let exhausted = container
        .read_item::<serde_json::Value>("p", "a")
        .await
        .unwrap_err();
    printed.push(format!("{exhausted} {exhausted:?}"));
    printed.push(format!("{:?}", driver.request_refresh().await));
    emulator.failover("East US").unwrap();
    emulator.clear_faults();
    container
        .create_item("p", &json!({"id": "b", "pk": "p"}))
        .await
        .unwrap();

    let wrong = Driver::builder(
        &runtime,
        AccountConfig::new(
            emulator.global_endpoint(),
            "d3Jvbmcta2V5LWZvci10aGUtdGVzdA==",
        ),
    )
    .build()
    .await
    .unwrap();
    let unauthorized = wrong.read_account().await.unwrap_err();
    printed.push(format!("{unauthorized} {unauthorized:?}"));

    // Rotation: a driver on the secondary key, the primary regenerated, the first driver
    // rotated in place to the new primary, the secondary driver dropped. The newest
    // credential left (`wrong`) gets 401 on refresh; the rotated one answers.
    let on_second = Driver::builder(
        &runtime,
        AccountConfig::new(emulator.global_endpoint(), second),
    )
    .build()
    .await
    .unwrap();
    printed.push(format!("{on_second:?}"));
    let regenerated = emulator.regenerate_key(KeyKind::Primary);
    printed.push(format!("{:?}", emulator.keys()));
    driver.rotate_key(&regenerated).unwrap();
    drop(on_second);
    assert!(
        crate::wait_for(Duration::from_secs(10), || async {
            driver.stats().credential_fallbacks >= 1
        })
        .await,
        "a refresh fell back to another driver's key"
    );
    driver.read_account().await.unwrap();
    let refused = driver.rotate_key("s3cr3t-not-base64!!").unwrap_err();
    printed.push(format!("{refused} {refused:?}"));
    let conflict = Driver::builder(
        &runtime,
        AccountConfig::new(emulator.global_endpoint(), second),
    )
    .bootstrap_endpoints([emulator.region_endpoint("West US").unwrap()])
    .build()
    .await
    .unwrap_err();
    printed.push(format!(
        "{conflict} {conflict:?} {driver:?} {:?}",
        driver.stats()
    ));

    assert!(
        capture::contains("retrying") || capture::contains("account refresh failed"),
        "something was logged"
    );
    let decoded = String::from_utf8_lossy(&base64_decode(key)).into_owned();
    for needle in [
        key,
        decoded.as_str(),
        "d3Jvbmcta2V5LWZvci10aGUtdGVzdA==",
        second,
        regenerated.as_str(),
        "s3cr3t",
    ] {
        assert!(!capture::contains(needle), "the key appeared in the logs");
        for text in &printed {
            assert!(!text.contains(needle), "the key appeared in {text}");
        }
    }
}

fn base64_decode(key: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(key)
        .unwrap()
}
