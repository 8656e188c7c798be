//! Entra ID end to end against the emulator's `--entra` mode: one token per credential
//! per runtime, shared by every driver and the refresh loop; a data-plane identity.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::future::join_all;
use meridian_driver::azure_core::credentials::TokenRequestOptions;
use meridian_driver::azure_core::time::OffsetDateTime;
use meridian_driver::{AccessToken, AccountConfig, Driver, DriverError, Status, TokenCredential};
use meridian_emulator::{Emulator, EntraClaims};
use meridian_runtime::Runtime;
use serde_json::{Value, json};

use crate::wait_for;

/// Hands out one token (minted by the emulator, valid for an hour), counting the calls.
#[derive(Debug)]
struct Counting {
    token: String,
    calls: AtomicUsize,
}

#[async_trait::async_trait]
impl TokenCredential for Counting {
    async fn get_token(
        &self,
        _: &[&str],
        _: Option<TokenRequestOptions<'_>>,
    ) -> meridian_driver::azure_core::Result<AccessToken> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Ok(AccessToken::new(
            self.token.clone(),
            OffsetDateTime::now_utc() + Duration::from_secs(3600),
        ))
    }
}

fn ticking_runtime() -> Runtime {
    Runtime::builder()
        .refresh_interval(Duration::from_millis(100))
        .jitter_fraction(0.0)
        .fetch_timeout(Duration::from_secs(2))
        .build()
        .unwrap()
}

async fn token_driver(
    runtime: &Runtime,
    emulator: &Emulator,
    credential: &Arc<Counting>,
) -> Driver {
    let credential: Arc<dyn TokenCredential> = Arc::clone(credential) as _;
    let account = AccountConfig::with_token_credential(emulator.global_endpoint(), credential);
    Driver::builder(runtime, account)
        .request_timeout(Duration::from_secs(2))
        .build()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entra_token_is_fetched_once_per_runtime_for_many_drivers() {
    let emulator = Emulator::builder()
        .regions(["West US", "East US"])
        .entra(true)
        .start()
        .await
        .unwrap();
    let runtime = ticking_runtime();
    // The control plane with the key (a token identity may not create containers).
    let admin = crate::driver(&runtime, &emulator).await;
    meridian_testkit::create_database_and_container(&admin, "db", "c").await;

    let credential = Arc::new(Counting {
        token: emulator.entra_token(&EntraClaims::default()).unwrap(),
        calls: AtomicUsize::new(0),
    });
    let drivers = join_all((0..8).map(|_| token_driver(&runtime, &emulator, &credential))).await;
    // Every driver writes and reads; the loop refreshes the account several times.
    let writes = drivers.iter().enumerate().map(|(i, d)| async move {
        let items = d.database("db").container("c");
        let item = json!({"id": format!("item-{i}"), "pk": "a"});
        items.upsert_item("a", &item).await.unwrap();
        items
            .read_item::<Value>("a", &format!("item-{i}"))
            .await
            .unwrap();
    });
    join_all(writes).await;
    // Only token drivers left: the loop's refreshes sign with the shared token.
    drop(admin);
    let before = drivers[0].stats().refresh;
    assert!(
        wait_for(Duration::from_secs(10), || async {
            drivers[0].stats().refresh.successes >= before.successes + 5
        })
        .await,
        "the loop refreshes the account with the token"
    );
    assert_eq!(drivers[0].stats().refresh.failures, before.failures);
    for driver in &drivers {
        driver.read_account().await.unwrap();
    }
    assert_eq!(
        credential.calls.load(Ordering::SeqCst),
        1,
        "one token for the runtime"
    );

    // A token identity is refused the control plane, with the service's sub-status.
    let refused = drivers[0].create_database("other").await.unwrap_err();
    assert!(
        matches!(&refused, DriverError::Status(_))
            && refused.typed_status() == Some(Status::new(403, Some(5300))),
        "{refused:?}"
    );
    // A token driver has no key to rotate.
    assert!(matches!(
        drivers[0].rotate_key(emulator.key()),
        Err(DriverError::Config(_))
    ));

    // Another runtime has its own cache: one more call, however many drivers.
    let other = ticking_runtime();
    let more = join_all((0..3).map(|_| token_driver(&other, &emulator, &credential))).await;
    for driver in &more {
        driver.read_account().await.unwrap();
    }
    assert_eq!(
        credential.calls.load(Ordering::SeqCst),
        2,
        "one more for the second runtime"
    );
}
