//! A bounded wait on a condition.

use std::future::Future;
use std::time::Duration;

use meridian_driver::Driver;
use meridian_location_store::{OperationKind, RouteRequest};

/// Polls `condition` every 10 ms for at most `limit`; whether it became true.
pub async fn wait_for<F, Fut>(limit: Duration, mut condition: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if condition().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Waits at most `limit` for `driver` to route writes (with no preferences) to
/// `endpoint`; whether it did.
pub async fn routes_writes_to(driver: &Driver, endpoint: &str, limit: Duration) -> bool {
    wait_for(limit, || async {
        driver
            .snapshot()
            .route(OperationKind::Write, &RouteRequest::default())
            .as_str()
            == endpoint
    })
    .await
}
