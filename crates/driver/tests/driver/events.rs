//! Runtime events: a subscription that reports what the runtime does, as it happens.

use std::time::Duration;

use meridian_driver::{RegionName, RuntimeEvent};
use meridian_emulator::{FaultAction, FaultRule};
use tokio::sync::broadcast::Receiver;
use tokio::sync::broadcast::error::RecvError;

use crate::{driver, quiet_runtime};

/// The next event `matches` accepts, skipping others, within a generous bound.
async fn next(
    events: &mut Receiver<RuntimeEvent>,
    matches: impl Fn(&RuntimeEvent) -> bool,
) -> RuntimeEvent {
    let wait = async {
        loop {
            match events.recv().await {
                Ok(event) if matches(&event) => return event,
                Ok(_) | Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => panic!("the runtime's events ended"),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(30), wait)
        .await
        .expect("the event comes")
}

#[tokio::test]
async fn runtime_events_report_failover() {
    let emulator = meridian_testkit::west_and_east().await;
    let runtime = quiet_runtime();
    let mut events = runtime.events();
    let driver = driver(&runtime, &emulator).await;
    let account = driver.account_handle().endpoint().clone();
    let west = RegionName::new("West US");
    let east = RegionName::new("East US");

    // The first document: a topology with West US writing.
    match next(&mut events, |e| {
        matches!(e, RuntimeEvent::TopologyChanged { .. })
    })
    .await
    {
        RuntimeEvent::TopologyChanged {
            account: a,
            old_write_region,
            new_write_region,
            ..
        } => {
            assert_eq!(a, account);
            assert_eq!(
                (old_write_region, new_write_region),
                (None, Some(west.clone()))
            );
        }
        other => panic!("{other:?}"),
    }

    // Failover: the next write meets 403/3 in West US, which is marked; the refresh
    // it triggers reports the move.
    emulator.failover("East US").unwrap();
    let west_endpoint = emulator.region_endpoint("West US").unwrap();
    driver.create_database("after").await.unwrap();
    match next(&mut events, |e| {
        matches!(e, RuntimeEvent::EndpointMarked { .. })
    })
    .await
    {
        RuntimeEvent::EndpointMarked { endpoint, .. } => {
            assert_eq!(endpoint.as_str(), west_endpoint);
        }
        other => panic!("{other:?}"),
    }
    match next(&mut events, |e| {
        matches!(e, RuntimeEvent::TopologyChanged { .. })
    })
    .await
    {
        RuntimeEvent::TopologyChanged {
            old_write_region,
            new_write_region,
            ..
        } => assert_eq!(
            (old_write_region, new_write_region),
            (Some(west), Some(east))
        ),
        other => panic!("{other:?}"),
    }

    // West US still answers: once its mark expires, a probe succeeds and lifts it.
    match next(&mut events, |e| {
        matches!(e, RuntimeEvent::ProbeResult { .. })
    })
    .await
    {
        RuntimeEvent::ProbeResult {
            endpoint, success, ..
        } => assert_eq!((endpoint.as_str(), success), (west_endpoint.as_str(), true)),
        other => panic!("{other:?}"),
    }
    let unmarked = next(&mut events, |e| {
        matches!(e, RuntimeEvent::EndpointUnmarked { .. })
    });
    match unmarked.await {
        RuntimeEvent::EndpointUnmarked { endpoint, .. } => {
            assert_eq!(endpoint.as_str(), west_endpoint);
        }
        other => panic!("{other:?}"),
    }

    // A refresh that fails says so, with the error.
    emulator
        .add_fault(FaultRule::on_class("account", FaultAction::status(500)))
        .unwrap();
    driver.request_refresh().await;
    match next(&mut events, |e| {
        matches!(e, RuntimeEvent::RefreshFailed { .. })
    })
    .await
    {
        RuntimeEvent::RefreshFailed { account: a, error } => {
            assert_eq!(a, account);
            assert!(!error.to_string().is_empty());
        }
        other => panic!("{other:?}"),
    }
}
