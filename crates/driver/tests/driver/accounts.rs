//! Account reads over HTTP and HTTPS, and one `GET /` per account per tick for 50 drivers.

use std::time::Duration;

use meridian_driver::{AccountConfig, Driver, DriverError};
use meridian_emulator::Emulator;
use meridian_runtime::Runtime;

use crate::{driver, quiet_runtime, wait_for};

#[tokio::test]
async fn reads_the_account_over_http() {
    let emulator = Emulator::builder().start().await.unwrap();
    let runtime = quiet_runtime();
    let driver = driver(&runtime, &emulator).await;
    let account = driver.read_account().await.unwrap();
    assert_eq!(account.id, "meridian-emulator");
    assert_eq!(account.readable_locations.len(), 3);
    let snapshot = driver.snapshot();
    assert_eq!(
        snapshot.topology_generation(),
        1,
        "the initial fetch installed the topology"
    );
    assert_eq!(snapshot.read_locations()[0].region.as_str(), "West US");
}

#[tokio::test]
async fn reads_the_account_over_https_with_a_trusted_certificate() {
    let emulator = Emulator::builder().tls(true).start().await.unwrap();
    let runtime = quiet_runtime();
    let trusted = meridian_testkit::driver_builder(&runtime, &emulator)
        .trust_certificate_der(emulator.certificate_der().unwrap())
        .build()
        .await
        .unwrap();
    let account = trusted.read_account().await.unwrap();
    assert!(
        account.readable_locations[0]
            .database_account_endpoint
            .starts_with("https://")
    );

    // Without the opt-in the self-signed certificate is refused.
    let other_runtime = quiet_runtime();
    let untrusting = meridian_testkit::driver_builder(&other_runtime, &emulator)
        .request_timeout(Duration::from_secs(2))
        .build()
        .await
        .unwrap();
    assert_eq!(untrusting.snapshot().topology_generation(), 0);
    assert!(matches!(
        untrusting.read_account().await,
        Err(DriverError::Exhausted(_))
    ));
}

#[tokio::test]
async fn fifty_drivers_over_two_accounts_cost_one_get_per_account_per_tick() {
    let emulators = [
        Emulator::builder()
            .account_id("alpha")
            .start()
            .await
            .unwrap(),
        Emulator::builder()
            .account_id("beta")
            .start()
            .await
            .unwrap(),
    ];
    let runtime = Runtime::builder()
        .refresh_interval(Duration::from_millis(200))
        .jitter_fraction(0.0)
        .build()
        .unwrap();
    let mut drivers = Vec::new();
    for i in 0..50 {
        drivers.push(crate::driver(&runtime, &emulators[i % 2]).await);
    }
    assert_eq!(runtime.stats().account_count, 2);
    assert_eq!(runtime.stats().handle_count, 50);
    assert!(
        wait_for(Duration::from_secs(10), || async {
            runtime.stats().ticks >= 5
        })
        .await
    );
    assert!(runtime.shutdown().await);
    let ticks = runtime.stats().ticks;
    for emulator in &emulators {
        let reads = emulator.counters().get("global", "account", "GET");
        assert_eq!(
            reads,
            1 + ticks,
            "one initial fetch + one per tick, not one per driver"
        );
    }
    drop(drivers);
}

#[tokio::test]
async fn a_wrong_key_is_a_typed_auth_error_without_a_retry_storm() {
    let emulator = Emulator::builder().start().await.unwrap();
    let runtime = quiet_runtime();
    let wrong = "dsZQi3KtZmCv1ljt3VNWNm7sQUF1y5rJfC6kv5JiwvW0EndXdDku/dkKBp8/ufDToSxL";
    let driver = Driver::builder(
        &runtime,
        AccountConfig::new(emulator.global_endpoint(), wrong),
    )
    .build()
    .await
    .unwrap();
    assert_eq!(
        driver.stats().refresh.failures,
        1,
        "the initial fetch was refused"
    );
    match driver.read_account().await {
        Err(DriverError::Unauthorized(failure)) => {
            assert_eq!(failure.status, Some(meridian_driver::Status::UNAUTHORIZED));
            assert_eq!(failure.attempts(), 1, "401 is never retried");
        }
        other => panic!("expected Unauthorized, got {other:?}"),
    }
    let container = driver.container("db", "c");
    for _ in 0..20 {
        let error = container
            .read_item::<serde_json::Value>("p", "x")
            .await
            .unwrap_err();
        assert!(matches!(error, DriverError::Unauthorized(_)));
    }
    let rejected = emulator.counters().total("rejected_auth", "GET");
    assert_eq!(
        rejected,
        1 + 1 + 20,
        "initial fetch + one per operation, nothing more"
    );
}

#[tokio::test]
async fn bad_configuration_is_a_typed_error_that_never_shows_the_key() {
    let runtime = quiet_runtime();
    let secret = "bm90LWEtcmVhbC1rZXk-but-not-base64!";
    let error = Driver::builder(&runtime, AccountConfig::new("http://127.0.0.1:1/", secret))
        .build()
        .await
        .unwrap_err();
    assert!(matches!(error, DriverError::Config(_)));
    assert!(!error.to_string().contains(secret) && !format!("{error:?}").contains(secret));
    let config = AccountConfig::new("http://127.0.0.1:1/", "c2VjcmV0");
    assert!(!format!("{config:?}").contains("c2VjcmV0"));
    let relative = Driver::builder(&runtime, AccountConfig::new("/relative", "c2VjcmV0"))
        .build()
        .await;
    assert!(matches!(relative, Err(DriverError::Config(_))));
}

#[tokio::test]
async fn a_huge_max_connections_is_a_config_error() {
    use meridian_driver::{ConfigReason, MAX_CONNECTIONS_LIMIT};
    let runtime = quiet_runtime();
    let config = AccountConfig::new("http://127.0.0.1:1/", "c2VjcmV0");
    for connections in [usize::MAX, usize::MAX >> 3, MAX_CONNECTIONS_LIMIT + 1] {
        let built = Driver::builder(&runtime, config.clone())
            .max_connections(connections)
            .build()
            .await;
        match built {
            Err(DriverError::Config(error)) => {
                assert_eq!(error.setting, "max_connections");
                assert!(
                    matches!(error.reason, ConfigReason::TooLarge { max } if max == MAX_CONNECTIONS_LIMIT as u64),
                    "{connections}: {error:?}"
                );
            }
            other => panic!("{connections}: expected a config error, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_huge_pool_idle_timeout_is_a_config_error() {
    // hyper-util's idle reaper adds the timeout to an instant: Duration::MAX panicked in
    // the pool's background task at the first idle connection.
    use meridian_driver::{ConfigReason, MAX_POOL_IDLE_TIMEOUT};
    let runtime = quiet_runtime();
    let config = AccountConfig::new("http://127.0.0.1:1/", "c2VjcmV0");
    for idle in [
        Duration::MAX,
        MAX_POOL_IDLE_TIMEOUT + Duration::from_secs(1),
    ] {
        let built = Driver::builder(&runtime, config.clone())
            .pool_idle_timeout(idle)
            .build()
            .await;
        match built {
            Err(DriverError::Config(error)) => {
                assert_eq!(error.setting, "pool_idle_timeout");
                assert!(
                    matches!(error.reason, ConfigReason::TooLong { max } if max == MAX_POOL_IDLE_TIMEOUT),
                    "{idle:?}: {error:?}"
                );
            }
            other => panic!("{idle:?}: expected a config error, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_malformed_account_document_is_a_typed_error_and_changes_no_routing() {
    use meridian_emulator::{FaultAction, FaultRule};
    let emulator = Emulator::builder().start().await.unwrap();
    let runtime = quiet_runtime();
    let driver = driver(&runtime, &emulator).await;
    let before = driver.snapshot().generation();
    emulator
        .add_fault(FaultRule::on_class("account", FaultAction::MalformedJson).times(1))
        .unwrap();
    match driver.read_account().await {
        Err(DriverError::InvalidAccount(_)) => {}
        other => panic!("expected InvalidAccount, got {other:?}"),
    }
    assert_eq!(driver.snapshot().generation(), before);
    assert!(driver.read_account().await.is_ok(), "the next read is fine");
}
