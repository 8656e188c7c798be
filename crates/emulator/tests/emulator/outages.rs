//! Region outage shapes as a client sees them: black hole, 503, slowness, per scope.

use std::time::{Duration, Instant};

use http::Method;
use meridian_emulator::{Outage, SUB_STATUS_SERVER_GENERATED_503};
use serde_json::json;

use crate::client::{ACCOUNT, DATABASES};
use crate::{admin_url, eventually, start};

#[tokio::test]
async fn emulator_blackhole_accepts_and_never_answers() {
    let (emulator, client) = start().await;
    let east = emulator.region_endpoint("East US").unwrap();
    emulator.set_outage("East US", Outage::blackhole()).unwrap();
    // The port is open: a TCP connection is accepted (a refused port fails here).
    let addr = east
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    tokio::net::TcpStream::connect(&addr).await.unwrap();
    // The request is read and held: no answer within a client's timeout.
    let attempt =
        tokio::time::timeout(Duration::from_millis(300), client.get(&east, ACCOUNT)).await;
    assert!(attempt.is_err(), "a black hole never answers");
    let held = || emulator.counters().get("East US", "outage", "GET") >= 1;
    eventually("the black-holed request reached the region", held).await;
    assert!(
        emulator
            .regions()
            .iter()
            .any(|r| r.up && r.outage.is_some_and(|o| o == Outage::blackhole()))
    );
    // Other regions and the global endpoint are not affected.
    assert_eq!(
        client.account_status(&emulator.global_endpoint()).await,
        200
    );
    // `up` ends it: the region answers again.
    emulator.region_up("East US").unwrap();
    assert_eq!(client.account_status(&east).await, 200);
    // Shutdown is not held up by a black-holed request.
    emulator.set_outage("East US", Outage::blackhole()).unwrap();
    let pending = tokio::spawn({
        let client = client.clone();
        let east = east.clone();
        async move {
            client
                .send(Method::GET, &east, Some(ACCOUNT), &[], None)
                .await
        }
    });
    eventually("the second request is held", || {
        emulator.counters().get("East US", "outage", "GET") >= 2
    })
    .await;
    tokio::time::timeout(Duration::from_secs(3), emulator.shutdown())
        .await
        .unwrap();
    assert!(pending.await.unwrap().is_err());
}

#[tokio::test]
async fn emulator_unavailable_region_answers_503() {
    let (emulator, client) = start().await;
    let east = emulator.region_endpoint("East US").unwrap();
    let west = emulator.region_endpoint("West US").unwrap();
    // Through the admin API, for both reads and writes.
    let set = client
        .admin(
            Method::POST,
            &admin_url(&emulator, "regions/East%20US/outage"),
            Some(json!({"shape": "unavailable"})),
        )
        .await;
    assert_eq!(set.status, 204);
    let reply = client.get(&east, ACCOUNT).await;
    assert_eq!(
        (reply.status.as_u16(), reply.sub_status()),
        (503, Some(SUB_STATUS_SERVER_GENERATED_503))
    );
    assert_eq!(reply.json()["code"], "ServiceUnavailable");
    assert_eq!(client.account_status(&west).await, 200);
    let topology = client
        .admin(Method::GET, &admin_url(&emulator, "topology"), None)
        .await
        .json();
    let listed = topology["regions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "East US")
        .unwrap()
        .clone();
    assert_eq!(listed["outage"]["shape"], "unavailable");
    assert_eq!(listed["outage"]["applies_to"], "both");

    // Writes only: reads are served, writes get 503. West US is the write region.
    emulator
        .set_outage("West US", Outage::unavailable().writes())
        .unwrap();
    assert_eq!(client.account_status(&west).await, 200);
    let write = client
        .signed(
            Method::POST,
            &format!("{west}dbs"),
            DATABASES,
            Some(json!({"id": "db"})),
        )
        .await;
    assert_eq!(
        (write.status.as_u16(), write.sub_status()),
        (503, Some(SUB_STATUS_SERVER_GENERATED_503))
    );
    emulator.region_up("West US").unwrap();
    let write = client
        .signed(
            Method::POST,
            &format!("{west}dbs"),
            DATABASES,
            Some(json!({"id": "db"})),
        )
        .await;
    assert_eq!(write.status.as_u16(), 201);
    // A malformed shape is refused.
    let bad = client
        .admin(
            Method::POST,
            &admin_url(&emulator, "regions/East%20US/outage"),
            Some(json!({"shape": "slow"})),
        )
        .await;
    assert_eq!(bad.status, 400);
}

#[tokio::test]
async fn emulator_slow_region_delays_its_answers() {
    let (emulator, client) = start().await;
    let east = emulator.region_endpoint("East US").unwrap();
    let delay = Duration::from_millis(300);
    emulator
        .set_outage(
            "East US",
            Outage::slow(delay).jitter(Duration::from_millis(50)),
        )
        .unwrap();
    for _ in 0..3 {
        let started = Instant::now();
        assert_eq!(client.account_status(&east).await, 200);
        assert!(
            started.elapsed() >= delay,
            "answered after {:?}",
            started.elapsed()
        );
    }
    // Writes only: a read is not held (it answers while the write is still waiting).
    emulator
        .set_outage("East US", Outage::slow(Duration::from_secs(3)).writes())
        .unwrap();
    let write = tokio::spawn({
        let client = client.clone();
        let east = east.clone();
        async move {
            let started = Instant::now();
            let reply = client
                .send(
                    Method::POST,
                    &format!("{east}dbs"),
                    Some(DATABASES),
                    &[],
                    Some(json!({"id": "x"})),
                )
                .await;
            (reply, started.elapsed())
        }
    });
    eventually("the write is being delayed", || {
        emulator.counters().get("East US", "outage", "POST") >= 1
    })
    .await;
    assert_eq!(client.account_status(&east).await, 200);
    assert!(
        !write.is_finished(),
        "the read answered before the slow write"
    );
    let (reply, elapsed) = write.await.unwrap();
    // East US is not the write region: the late answer is its 403/3.
    assert_eq!(reply.unwrap().status.as_u16(), 403);
    assert!(elapsed >= Duration::from_secs(3));
}
