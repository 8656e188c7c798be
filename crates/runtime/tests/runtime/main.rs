//! Runtime behaviour on tokio's paused clock with fake fetchers.
#![allow(clippy::unwrap_used)]

mod credentials;
mod custom_fetcher;
mod event_refresh;
mod failback;
mod fake;
mod fallback_probe;
mod hardening;
mod lifecycle;
mod partitions;
mod routes;
mod saturation;
mod schedule;
mod signals;

use std::sync::Arc;
use std::time::Duration;

use meridian_location_store::{Endpoint, OperationOutcome, RetryPolicy, RetryState};
use meridian_runtime::{AccountHandle, Runtime, RuntimeBuilder, Verdict};

use fake::{FakeFetcher, account_doc, endpoint};

pub const INTERVAL: Duration = Duration::from_secs(10);

/// A runtime with a 10 s interval and no jitter, so tick instants are exact.
pub fn builder() -> RuntimeBuilder {
    Runtime::builder()
        .refresh_interval(INTERVAL)
        .jitter_fraction(0.0)
        .fetch_timeout(Duration::from_secs(2))
        .probe_interval(Duration::from_secs(1))
}

/// A fetcher serving a three-region document for each of `accounts`.
pub fn serving(accounts: &[&str]) -> Arc<FakeFetcher> {
    let fetcher = Arc::new(FakeFetcher::new());
    for account in accounts {
        fetcher.set(
            &endpoint(account),
            fake::Behaviour::Serve(account_doc(
                account,
                "westus",
                &["westus", "eastus", "northeurope"],
            )),
        );
    }
    fetcher
}

pub async fn attach(runtime: &Runtime, account: &str, fetcher: &Arc<FakeFetcher>) -> AccountHandle {
    runtime
        .attach(endpoint(account), fetcher.clone())
        .await
        .unwrap()
}

/// Reports one attempt routed on the current topology, with fresh retry budgets.
pub fn report(handle: &AccountHandle, endpoint: &Endpoint, outcome: &OperationOutcome) -> Verdict {
    let routed = handle.with_snapshot(|s| handle.routed_on(s));
    let mut retries = RetryState::new(RetryPolicy::default(), 3);
    handle.report(endpoint, outcome, routed, &mut retries)
}
