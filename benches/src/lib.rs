//! Shared fixtures for Meridian's criterion benchmarks (in `benches/benches/`).
//!
//! Every benchmark compares Meridian with a baseline in the same run; `RESULTS.md` beside
//! this crate records the ratios and the command that reproduces them.
//!
//! ```
//! let doc = meridian_benches::account_doc("acct", 3);
//! assert_eq!(doc.readable().len(), 3);
//! ```
#![deny(missing_docs)]

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use meridian_location_store::{Endpoint, LocationStore, ValidatedAccount};
use meridian_runtime::{AccountFetcher, FetchFuture};
use serde_json::json;

/// The account endpoint of account `i`.
pub fn account_endpoint(i: usize) -> Endpoint {
    Endpoint::parse(&format!("https://bench-{i}.documents.example/"))
        .expect("a formatted https URL with a host always parses")
}

/// The `GET /` body of a single-write account with `regions` regions.
pub fn account_body(account: &str, regions: usize) -> Vec<u8> {
    let locations: Vec<_> = (0..regions)
        .map(|r| json!({"name": format!("Region {r}"), "databaseAccountEndpoint": format!("https://{account}-r{r}.documents.example/")}))
        .collect();
    let doc = json!({
        "id": account,
        "_rid": format!("{account}.documents.example"),
        "writableLocations": [locations[0]],
        "readableLocations": locations,
    });
    doc.to_string().into_bytes()
}

/// A single-write account document with `regions` regions.
pub fn account_doc(account: &str, regions: usize) -> ValidatedAccount {
    ValidatedAccount::from_slice(&account_body(account, regions))
        .expect("the fixture document has every required field")
}

/// A fetcher that counts fetches and answers after `delay` (zero: at once).
#[derive(Debug)]
pub struct CountingFetcher {
    doc: Mutex<ValidatedAccount>,
    delay: Duration,
    fetches: AtomicU64,
}

impl CountingFetcher {
    /// Serves `doc` after `delay`.
    pub fn new(doc: ValidatedAccount, delay: Duration) -> Self {
        Self {
            doc: Mutex::new(doc),
            delay,
            fetches: AtomicU64::new(0),
        }
    }

    /// Serves `doc` from now on.
    pub fn set_doc(&self, doc: ValidatedAccount) {
        *self.doc.lock().unwrap_or_else(|e| e.into_inner()) = doc;
    }

    /// Fetches so far.
    pub fn fetches(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }
}

impl AccountFetcher for CountingFetcher {
    fn fetch_account<'a>(&'a self, _: &'a Endpoint) -> FetchFuture<'a, ValidatedAccount> {
        Box::pin(async move {
            self.fetches.fetch_add(1, Ordering::Relaxed);
            if !self.delay.is_zero() {
                tokio::time::sleep(self.delay).await;
            }
            Ok(self.doc.lock().unwrap_or_else(|e| e.into_inner()).clone())
        })
    }

    fn probe<'a>(&'a self, _: &'a Endpoint) -> FetchFuture<'a, ()> {
        Box::pin(async { Ok(()) })
    }
}

/// A fetcher that parses and validates its body on every fetch, as a real one does with
/// every `GET /` answer: each fetch yields a new document, equal to the installed one.
#[derive(Debug)]
pub struct ParsingFetcher {
    body: Vec<u8>,
}

impl ParsingFetcher {
    /// Serves `body` (see [`account_body`]).
    pub fn new(body: Vec<u8>) -> Self {
        Self { body }
    }
}

impl AccountFetcher for ParsingFetcher {
    fn fetch_account<'a>(&'a self, _: &'a Endpoint) -> FetchFuture<'a, ValidatedAccount> {
        Box::pin(async move { Ok(ValidatedAccount::from_slice(&self.body)?) })
    }

    fn probe<'a>(&'a self, _: &'a Endpoint) -> FetchFuture<'a, ()> {
        Box::pin(async { Ok(()) })
    }
}

/// The tick benchmarks' baseline: one plain pass over `stores`, fetching each account's
/// document with `fetcher` and installing it, one after another.
pub async fn sequential_pass(stores: &[(Endpoint, LocationStore)], fetcher: &dyn AccountFetcher) {
    for (endpoint, store) in stores {
        if let Ok(doc) = fetcher.fetch_account(endpoint).await {
            let _ = store.install(doc, Instant::now());
        }
    }
}
