//! A fake fetcher that counts calls, records when they happen, and can be told to fail,
//! hang or be slow per endpoint.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use meridian_location_store::{Endpoint, ValidatedAccount};
use meridian_runtime::{AccountFetcher, FetchError, FetchFuture};
use serde_json::json;
use tokio::time::Instant;

#[derive(Debug, Clone)]
pub enum Behaviour {
    Serve(ValidatedAccount),
    Slow(Duration, ValidatedAccount),
    Fail,
    Hang,
    /// The fetcher panics (a bug in a fetcher must not take the runtime down).
    Panic,
    /// 401: this fetcher's credential is refused.
    Unauthorized,
}

#[derive(Debug, Default)]
pub struct FakeFetcher {
    behaviour: Mutex<HashMap<Endpoint, Behaviour>>,
    probe_ok: Mutex<HashMap<Endpoint, bool>>,
    /// Probes of these endpoints never answer.
    probe_hangs: Mutex<std::collections::HashSet<Endpoint>>,
    /// Probes in flight per endpoint now, and the most ever at once.
    probes_in_flight: Mutex<HashMap<Endpoint, (usize, usize)>>,
    calls: Mutex<Vec<(Instant, Endpoint)>>,
    probes: Mutex<Vec<(Instant, Endpoint)>>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    credential: Option<u64>,
}

impl FakeFetcher {
    pub fn new() -> Self {
        Self::default()
    }

    /// A fetcher that names its credential `id` (equal ids count as one credential).
    pub fn with_credential(mut self, id: u64) -> Self {
        self.credential = Some(id);
        self
    }

    pub fn set(&self, endpoint: &Endpoint, behaviour: Behaviour) {
        self.behaviour
            .lock()
            .unwrap()
            .insert(endpoint.clone(), behaviour);
    }

    pub fn set_probe(&self, endpoint: &Endpoint, ok: bool) {
        self.probe_ok.lock().unwrap().insert(endpoint.clone(), ok);
    }

    /// Probes of `endpoint` hang (the runtime's fetch timeout ends them).
    pub fn hang_probes(&self, endpoint: &Endpoint) {
        self.probe_hangs.lock().unwrap().insert(endpoint.clone());
    }

    /// The most probes of `endpoint` ever in flight at once.
    pub fn max_probes_in_flight(&self, endpoint: &Endpoint) -> usize {
        self.probes_in_flight
            .lock()
            .unwrap()
            .get(endpoint)
            .map_or(0, |(_, max)| *max)
    }

    /// Fetches of `endpoint` so far.
    pub fn calls_to(&self, endpoint: &Endpoint) -> usize {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, e)| e == endpoint)
            .count()
    }

    pub fn total_calls(&self) -> usize {
        self.calls.lock().unwrap().len()
    }

    pub fn call_times(&self, endpoint: &Endpoint) -> Vec<Instant> {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, e)| e == endpoint)
            .map(|(t, _)| *t)
            .collect()
    }

    pub fn probes_of(&self, endpoint: &Endpoint) -> usize {
        self.probes
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, e)| e == endpoint)
            .count()
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::SeqCst)
    }

    pub fn max_in_flight(&self) -> usize {
        self.max_in_flight.load(Ordering::SeqCst)
    }
}

struct InFlight<'a>(&'a FakeFetcher);

/// One probe in flight of one endpoint; counted down when the probe ends or is dropped.
struct ProbeInFlight<'a>(&'a FakeFetcher, &'a Endpoint);

impl<'a> ProbeInFlight<'a> {
    fn start(fetcher: &'a FakeFetcher, endpoint: &'a Endpoint) -> Self {
        let mut probes = fetcher.probes_in_flight.lock().unwrap();
        let (now, max) = probes.entry(endpoint.clone()).or_default();
        *now += 1;
        *max = (*max).max(*now);
        Self(fetcher, endpoint)
    }
}

impl Drop for ProbeInFlight<'_> {
    fn drop(&mut self) {
        if let Some((now, _)) = self.0.probes_in_flight.lock().unwrap().get_mut(self.1) {
            *now -= 1;
        }
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

impl AccountFetcher for FakeFetcher {
    fn fetch_account<'a>(&'a self, endpoint: &'a Endpoint) -> FetchFuture<'a, ValidatedAccount> {
        Box::pin(async move {
            self.calls
                .lock()
                .unwrap()
                .push((Instant::now(), endpoint.clone()));
            let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            self.max_in_flight.fetch_max(now, Ordering::SeqCst);
            let _guard = InFlight(self);
            let behaviour = self.behaviour.lock().unwrap().get(endpoint).cloned();
            match behaviour {
                Some(Behaviour::Serve(doc)) => Ok(doc),
                Some(Behaviour::Slow(delay, doc)) => {
                    tokio::time::sleep(delay).await;
                    Ok(doc)
                }
                Some(Behaviour::Hang) => std::future::pending().await,
                Some(Behaviour::Panic) => panic!("fake fetcher bug"),
                Some(Behaviour::Unauthorized) => Err(FetchError::Status {
                    status: 401,
                    sub_status: None,
                }),
                Some(Behaviour::Fail) | None => Err(FetchError::Status {
                    status: 503,
                    sub_status: None,
                }),
            }
        })
    }

    fn credential_id(&self) -> Option<u64> {
        self.credential
    }

    fn probe<'a>(&'a self, endpoint: &'a Endpoint) -> FetchFuture<'a, ()> {
        Box::pin(async move {
            self.probes
                .lock()
                .unwrap()
                .push((Instant::now(), endpoint.clone()));
            let _in_flight = ProbeInFlight::start(self, endpoint);
            if self.probe_hangs.lock().unwrap().contains(endpoint) {
                std::future::pending::<()>().await;
            }
            if let Some(Behaviour::Unauthorized) = self.behaviour.lock().unwrap().get(endpoint) {
                return Err(FetchError::Status {
                    status: 401,
                    sub_status: None,
                });
            }
            if self
                .probe_ok
                .lock()
                .unwrap()
                .get(endpoint)
                .copied()
                .unwrap_or(true)
            {
                Ok(())
            } else {
                Err(FetchError::Status {
                    status: 503,
                    sub_status: None,
                })
            }
        })
    }
}

pub fn endpoint(host: &str) -> Endpoint {
    Endpoint::parse(&format!("https://{host}.documents.example/")).unwrap()
}

/// The regional endpoint of `region` in account `account`.
pub fn regional(account: &str, region: &str) -> Endpoint {
    endpoint(&format!("{account}-{region}"))
}

/// An account document for `account` whose write region is `write` and whose readable
/// regions are `regions`, in order.
pub fn account_doc(account: &str, write: &str, regions: &[&str]) -> ValidatedAccount {
    let location =
        |r: &str| json!({"name": r, "databaseAccountEndpoint": regional(account, r).as_str()});
    let doc = json!({
        "id": account,
        "_rid": format!("{account}.documents.example"),
        "writableLocations": [location(write)],
        "readableLocations": regions.iter().map(|r| location(r)).collect::<Vec<_>>(),
    });
    ValidatedAccount::from_slice(&serde_json::to_vec(&doc).unwrap()).unwrap()
}
