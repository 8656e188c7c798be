//! The simulated service: accounts with three regions each, their write region, which
//! regions are down, what each account endpoint does, which keys are valid — and a
//! fetcher per handle that answers from it, checking the concurrency invariants as each
//! fetch and probe starts.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use meridian_location_store::{Endpoint, ValidatedAccount};
use meridian_runtime::{AccountFetcher, FetchError, FetchFuture};
use serde_json::json;
use tokio::time::Instant;

pub const REGIONS: [&str; 3] = ["westus", "eastus", "northeurope"];

/// What an account endpoint does with `GET /`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fault {
    None,
    Hang,
    Fail,
    Slow(Duration),
    Panic,
}

#[derive(Debug)]
pub struct Account {
    pub name: String,
    pub write: usize,
    pub down: [bool; 3],
    pub fault: Fault,
    /// When the account endpoint last had a fault (or has one now: `now`).
    pub last_fault: Option<Instant>,
    /// When the write region last moved.
    pub failed_over: Option<Instant>,
    pub valid_keys: Vec<u64>,
    pub fetches_in_flight: usize,
    /// When the last fetch of this account (any endpoint) started.
    pub last_fetch: Option<Instant>,
    /// When the account last lost its last handle (a new life starts after it).
    pub last_death: Option<Instant>,
    /// When the current run of live handles began.
    pub alive_since: Option<Instant>,
}

#[derive(Debug, Default)]
pub struct Shared {
    pub accounts: Vec<Account>,
    pub concurrency: usize,
    pub in_flight: usize,
    pub probes_in_flight: HashMap<Endpoint, usize>,
    pub last_probe: HashMap<Endpoint, Instant>,
    /// The runtime's first probe delay (capped by the TTL): no endpoint is probed again
    /// sooner than this after its last probe ended.
    pub first_probe_delay: Duration,
    pub violations: Vec<String>,
}

/// The world, shared by the script, the operations, the fetchers and the checker.
#[derive(Debug, Clone, Default)]
pub struct World(Arc<Mutex<Shared>>);

pub fn account_endpoint(account: &str) -> Endpoint {
    Endpoint::parse(&format!("https://{account}.sim.example/")).unwrap()
}

pub fn regional(account: &str, region: usize) -> Endpoint {
    Endpoint::parse(&format!(
        "https://{account}-{}.sim.example/",
        REGIONS[region]
    ))
    .unwrap()
}

impl World {
    pub fn lock(&self) -> MutexGuard<'_, Shared> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn add_account(&self, name: String) -> usize {
        let mut world = self.lock();
        world.accounts.push(Account {
            name,
            write: 0,
            down: [false; 3],
            fault: Fault::None,
            last_fault: None,
            failed_over: None,
            valid_keys: vec![0],
            fetches_in_flight: 0,
            last_fetch: None,
            last_death: None,
            alive_since: None,
        });
        world.accounts.len() - 1
    }

    /// A fetcher signing with `key` for account `index`.
    pub fn fetcher(&self, index: usize, key: u64) -> Arc<SimFetcher> {
        Arc::new(SimFetcher {
            world: self.clone(),
            index,
            key,
        })
    }
}

impl Shared {
    /// Records a broken invariant, stamped with the simulated time (as traces are).
    pub fn violation(&mut self, message: String) {
        let at = crate::secs(Instant::now());
        self.violations.push(format!("at {at:.3} s: {message}"));
    }

    /// Which account, and which region (`None`: the account endpoint), `endpoint` is.
    fn locate(&self, index: usize, endpoint: &Endpoint) -> Option<usize> {
        let name = &self.accounts[index].name;
        (0..REGIONS.len()).find(|&r| regional(name, r) == *endpoint)
    }

    /// The account document as the service serves it now.
    pub fn document(&self, index: usize) -> ValidatedAccount {
        let account = &self.accounts[index];
        let location = |r: usize| json!({"name": REGIONS[r], "databaseAccountEndpoint": regional(&account.name, r).as_str()});
        let doc = json!({
            "id": account.name,
            "_rid": format!("{}.sim.example", account.name),
            "writableLocations": [location(account.write)],
            "readableLocations": (0..REGIONS.len()).map(location).collect::<Vec<_>>(),
        });
        ValidatedAccount::from_slice(&serde_json::to_vec(&doc).unwrap()).unwrap()
    }
}

/// One handle's fetcher: its account and its key.
#[derive(Debug)]
pub struct SimFetcher {
    world: World,
    index: usize,
    key: u64,
}

/// Counts one fetch or probe in flight; counted down when it ends or is dropped.
struct InFlight {
    world: World,
    index: usize,
    probe: Option<Endpoint>,
}

impl InFlight {
    fn start(world: &World, index: usize, probe: Option<&Endpoint>) -> Self {
        let mut shared = world.lock();
        let now = Instant::now();
        shared.in_flight += 1;
        if shared.in_flight > shared.concurrency {
            let (n, limit) = (shared.in_flight, shared.concurrency);
            shared.violation(format!("{n} fetches and probes in flight, limit {limit}"));
        }
        match probe {
            Some(endpoint) => {
                crate::trace(|| format!("probe {endpoint} starts"));
                let count = shared.probes_in_flight.entry(endpoint.clone()).or_default();
                *count += 1;
                if *count > 1 {
                    shared.violation(format!("two probes of {endpoint} at once"));
                }
                // The probe schedule's cost: at most one probe per first probe delay per
                // endpoint (a previous life's marks are gone with it).
                let previous = shared.last_probe.get(endpoint).copied();
                let recently_dead = shared.accounts[index]
                    .last_death
                    .is_some_and(|d| previous.is_none_or(|p| d >= p));
                if let Some(previous) = previous.filter(|_| !recently_dead) {
                    let gap = now.duration_since(previous);
                    if gap < shared.first_probe_delay {
                        let first = shared.first_probe_delay;
                        shared.violation(format!(
                            "{endpoint} probed again {gap:?} after its last probe (first probe delay {first:?})"
                        ));
                    }
                }
                shared.last_probe.insert(endpoint.clone(), now);
            }
            None => {
                let account = &mut shared.accounts[index];
                crate::trace(|| format!("fetch of {} starts", account.name));
                account.fetches_in_flight += 1;
                account.last_fetch = Some(now);
                // A flight of a previous life (every handle left, then one came back) may
                // still run beside the new life's: only one life is held to one flight.
                let recently_dead = account
                    .last_death
                    .is_some_and(|d| now.duration_since(d) < Duration::from_secs(30));
                if account.fetches_in_flight > 1 && !recently_dead {
                    let name = account.name.clone();
                    shared.violation(format!("two fetches of {name} at once"));
                }
            }
        }
        Self {
            world: world.clone(),
            index,
            probe: probe.cloned(),
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut shared = self.world.lock();
        shared.in_flight -= 1;
        match &self.probe {
            Some(endpoint) => {
                if let Some(count) = shared.probes_in_flight.get_mut(endpoint) {
                    *count -= 1;
                }
                shared.last_probe.insert(endpoint.clone(), Instant::now());
            }
            None => shared.accounts[self.index].fetches_in_flight -= 1,
        }
    }
}

fn status(status: u16) -> FetchError {
    FetchError::Status {
        status,
        sub_status: None,
    }
}

impl AccountFetcher for SimFetcher {
    fn fetch_account<'a>(&'a self, endpoint: &'a Endpoint) -> FetchFuture<'a, ValidatedAccount> {
        Box::pin(async move {
            let _in_flight = InFlight::start(&self.world, self.index, None);
            let (answer, fault) = {
                let world = self.world.lock();
                let account = &world.accounts[self.index];
                if !account.valid_keys.contains(&self.key) {
                    crate::trace(|| format!("fetch {endpoint}: 401 for key {}", self.key));
                    return Err(status(401));
                }
                match world.locate(self.index, endpoint) {
                    Some(region) if account.down[region] => {
                        crate::trace(|| format!("fetch {endpoint}: refused"));
                        return Err(FetchError::transport("connection refused"));
                    }
                    Some(_) => (world.document(self.index), Fault::None),
                    None => (world.document(self.index), account.fault),
                }
            };
            crate::trace(|| format!("fetch {endpoint}: {fault:?}"));
            match fault {
                Fault::None => Ok(answer),
                Fault::Hang => std::future::pending().await,
                Fault::Fail => Err(status(503)),
                Fault::Slow(delay) => {
                    tokio::time::sleep(delay).await;
                    Ok(answer)
                }
                Fault::Panic => panic!("simulated fetcher bug"),
            }
        })
    }

    fn probe<'a>(&'a self, endpoint: &'a Endpoint) -> FetchFuture<'a, ()> {
        Box::pin(async move {
            let _in_flight = InFlight::start(&self.world, self.index, Some(endpoint));
            let world = self.world.lock();
            let account = &world.accounts[self.index];
            if !account.valid_keys.contains(&self.key) {
                return Err(status(401));
            }
            match world.locate(self.index, endpoint) {
                Some(region) if account.down[region] => {
                    Err(FetchError::transport("connection refused"))
                }
                _ => Ok(()),
            }
        })
    }

    fn credential_id(&self) -> Option<u64> {
        Some(self.key)
    }
}
