//! Each fault kind, as a client sees it.

use std::time::{Duration, Instant};

use meridian_emulator::{Emulator, FaultAction, FaultRule};
use serde_json::json;

use crate::client::ACCOUNT;
use crate::start;

fn on_account(action: FaultAction) -> FaultRule {
    FaultRule::on_class("account", action)
}

/// Adds a rule that answers the next account read with `action`, once.
fn fault_once(emulator: &Emulator, action: FaultAction) {
    emulator.add_fault(on_account(action).times(1)).unwrap();
}

#[tokio::test]
async fn status_faults_carry_sub_status_and_retry_after() {
    let (emulator, client) = start().await;
    fault_once(
        &emulator,
        FaultAction::Status {
            status: 429,
            sub_status: Some(3200),
            body: None,
            retry_after_ms: Some(250),
        },
    );
    let reply = client.get(&emulator.global_endpoint(), ACCOUNT).await;
    assert_eq!(
        (reply.status.as_u16(), reply.sub_status()),
        (429, Some(3200))
    );
    assert_eq!(reply.headers["x-ms-retry-after-ms"], "250");
    assert!(reply.json()["code"].is_string());
    for (status, sub) in [(500, None), (503, None), (403, Some(3)), (403, Some(1008))] {
        fault_once(
            &emulator,
            FaultAction::Status {
                status,
                sub_status: sub,
                body: None,
                retry_after_ms: None,
            },
        );
        let reply = client.get(&emulator.global_endpoint(), ACCOUNT).await;
        assert_eq!((reply.status.as_u16(), reply.sub_status()), (status, sub));
    }
    let url = emulator.global_endpoint();
    assert_eq!(client.account_status(&url).await, 200);
}

#[tokio::test]
async fn faults_match_by_listener() {
    let (emulator, client) = start().await;
    emulator
        .add_fault(on_account(FaultAction::status(503)).on_listener("East US"))
        .unwrap();
    let global = emulator.global_endpoint();
    let east = emulator.region_endpoint("East US").unwrap();
    let west = emulator.region_endpoint("West US").unwrap();
    assert_eq!(client.account_status(&global).await, 200);
    assert_eq!(client.account_status(&east).await, 503);
    assert_eq!(client.account_status(&west).await, 200);
}

#[tokio::test]
async fn delay_then_answer_normally() {
    let (emulator, client) = start().await;
    fault_once(&emulator, FaultAction::Delay { ms: 300 });
    let url = emulator.global_endpoint();
    let started = Instant::now();
    assert_eq!(client.account_status(&url).await, 200);
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[tokio::test]
async fn hang_until_the_client_gives_up() {
    let (emulator, client) = start().await;
    emulator.add_fault(on_account(FaultAction::Hang)).unwrap();
    let url = emulator.global_endpoint();
    let attempt = tokio::time::timeout(Duration::from_millis(300), client.get(&url, ACCOUNT)).await;
    assert!(attempt.is_err(), "no answer while hanging");
    // Shutdown is not held up by the hung request.
    tokio::time::timeout(Duration::from_secs(3), emulator.shutdown())
        .await
        .unwrap();
}

#[tokio::test]
async fn reset_breaks_the_connection_mid_body() {
    let (emulator, client) = start().await;
    fault_once(&emulator, FaultAction::Reset);
    let url = emulator.global_endpoint();
    let error = client
        .send(http::Method::GET, &url, Some(ACCOUNT), &[], None)
        .await;
    assert!(
        error.is_err(),
        "the body must not arrive whole: {:?}",
        error.map(|r| r.status)
    );
    assert_eq!(client.account_status(&url).await, 200);
}

#[tokio::test]
async fn truncated_malformed_oversized_and_custom_bodies() {
    let (emulator, client) = start().await;
    let url = emulator.global_endpoint();
    let full_len = client.get(&url, ACCOUNT).await.body.len();

    fault_once(&emulator, FaultAction::TruncatedJson);
    let truncated = client.get(&url, ACCOUNT).await;
    assert_eq!(truncated.status, 200);
    assert!(truncated.body.len() < full_len && !truncated.body.is_empty());
    assert!(serde_json::from_slice::<serde_json::Value>(&truncated.body).is_err());

    fault_once(&emulator, FaultAction::MalformedJson);
    let malformed = client.get(&url, ACCOUNT).await;
    assert!(serde_json::from_slice::<serde_json::Value>(&malformed.body).is_err());

    fault_once(
        &emulator,
        FaultAction::Oversized {
            bytes: 5 * 1024 * 1024,
        },
    );
    let oversized = client.get(&url, ACCOUNT).await;
    assert!(oversized.body.len() >= 5 * 1024 * 1024 - 64);

    let mut doc = emulator.account_document();
    doc.as_object_mut().unwrap().remove("writableLocations");
    fault_once(
        &emulator,
        FaultAction::Body {
            status: 200,
            body: doc.clone(),
        },
    );
    assert_eq!(client.get(&url, ACCOUNT).await.json(), doc);
    assert_eq!(
        client.get(&url, ACCOUNT).await.json()["writableLocations"][0]["name"],
        json!("West US")
    );
    assert_eq!(emulator.faults().iter().map(|f| f.hits).sum::<u64>(), 4);
}
