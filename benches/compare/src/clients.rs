//! The three ways to hold N clients of one account, behind one small interface:
//! the official SDK built per client (its defaults), the SDK with every client on one
//! explicit `CosmosRuntime`, and Meridian drivers on one shared `Runtime`.

use std::time::Duration;

use azure_core::credentials::Secret;
use azure_data_cosmos::options::Region;
use azure_data_cosmos::{
    AccountEndpoint, AccountReference, ContainerClient, CosmosClient, CosmosRuntime,
    RoutingStrategy,
};
use meridian_driver::{AccountConfig, Driver};
use meridian_runtime::Runtime;
use serde_json::Value;

use crate::emulator::Account;

/// The database and container every measurement uses.
pub const DB: &str = "bench";
/// See [`DB`].
pub const COLL: &str = "items";
/// Meridian's refresh interval, equal to the SDK's (set through its environment switch).
pub const REFRESH_INTERVAL: Duration = Duration::from_secs(1);
/// The SDK's switch for its background refresh interval, read when a client is built.
pub const SDK_REFRESH_ENV: &str = "AZURE_COSMOS_E2E_BACKGROUND_ACCOUNT_REFRESH_INTERVAL_MS";
/// The longest building one client may take.
const BUILD_DEADLINE: Duration = Duration::from_secs(30);

/// Which client, and how N of them are held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `CosmosClient::builder().build(..)` per client: the SDK's defaults.
    Sdk,
    /// Every `CosmosClient` built `with_runtime(one CosmosRuntime)`.
    SdkSharedRuntime,
    /// `Driver::builder(&runtime, ..)` per client, one `Runtime` for all.
    Meridian,
}

impl Kind {
    /// The label in the table and the JSON summary.
    pub fn label(self) -> &'static str {
        match self {
            Kind::Sdk => "sdk",
            Kind::SdkSharedRuntime => "sdk-shared-runtime",
            Kind::Meridian => "meridian",
        }
    }

    /// The inverse of [`label`](Self::label).
    pub fn parse(label: &str) -> Option<Self> {
        [Kind::Sdk, Kind::SdkSharedRuntime, Kind::Meridian]
            .into_iter()
            .find(|k| k.label() == label)
    }
}

/// One client of the account.
#[derive(Clone)]
pub enum Client {
    /// An SDK container client, and the client it came from (held, as applications do).
    Sdk {
        /// The container client every operation uses.
        container: ContainerClient,
        /// The client, kept alive with its background refresh.
        _client: CosmosClient,
    },
    /// A Meridian driver.
    Meridian(Driver),
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Client::Sdk { .. } => f.write_str("Client::Sdk"),
            Client::Meridian(driver) => f.debug_tuple("Client::Meridian").field(driver).finish(),
        }
    }
}

impl Client {
    /// Reads item `id` in partition `pk` (deserialised, as an application would).
    pub async fn read(&self, pk: &str, id: &str) -> Result<(), String> {
        match self {
            Client::Sdk { container, .. } => container
                .read_item(pk.to_string(), id, None)
                .await
                .map_err(|e| format!("read: {e}"))?
                .into_model::<Value>()
                .map(drop)
                .map_err(|e| format!("read body: {e}")),
            Client::Meridian(driver) => driver
                .container(DB, COLL)
                .read_item::<Value>(pk, id)
                .await
                .map(drop)
                .map_err(|e| format!("read: {e}")),
        }
    }

    /// Upserts `item` (whose `id` is `id`) in partition `pk`.
    pub async fn upsert(&self, pk: &str, id: &str, item: &Value) -> Result<(), String> {
        match self {
            Client::Sdk { container, .. } => container
                .upsert_item(pk.to_string(), id, item, None)
                .await
                .map(drop)
                .map_err(|e| format!("upsert: {e}")),
            Client::Meridian(driver) => driver
                .container(DB, COLL)
                .upsert_item(pk, item)
                .await
                .map(drop)
                .map_err(|e| format!("upsert: {e}")),
        }
    }
}

/// N clients of one kind, and the runtime they share, if any.
#[derive(Debug)]
pub struct Fleet {
    /// The clients, in build order.
    pub clients: Vec<Client>,
    meridian: Option<Runtime>,
}

impl Fleet {
    /// Builds `n` clients of `kind` against `account`, preferring West US then East US.
    pub async fn build(kind: Kind, account: &Account, n: usize) -> Result<Self, String> {
        let mut fleet = Fleet {
            clients: Vec::with_capacity(n),
            meridian: None,
        };
        match kind {
            Kind::Sdk | Kind::SdkSharedRuntime => {
                let runtime = match kind {
                    Kind::SdkSharedRuntime => Some(
                        CosmosRuntime::builder()
                            .build()
                            .await
                            .map_err(|e| format!("CosmosRuntime: {e}"))?,
                    ),
                    _ => None,
                };
                for _ in 0..n {
                    let client = bounded(sdk_client(account, runtime.clone())).await?;
                    fleet.clients.push(client);
                }
            }
            Kind::Meridian => {
                let runtime = meridian_runtime()?;
                fleet.meridian = Some(runtime.clone());
                for _ in 0..n {
                    let driver = bounded(async {
                        meridian_driver(&runtime, account)
                            .await
                            .map_err(|e| format!("driver: {e}"))
                    })
                    .await?;
                    fleet.clients.push(Client::Meridian(driver));
                }
            }
        }
        Ok(fleet)
    }

    /// Tasks alive in Meridian's runtime (`None` for the SDK, which does not say).
    pub fn meridian_tasks(&self) -> Option<usize> {
        self.meridian.as_ref().map(|r| r.stats().live_tasks)
    }

    /// Drops every client and stops Meridian's runtime (bounded by its shutdown grace).
    pub async fn shutdown(self) {
        drop(self.clients);
        if let Some(runtime) = self.meridian {
            runtime.shutdown().await;
        }
    }
}

fn meridian_runtime() -> Result<Runtime, String> {
    Runtime::builder()
        .refresh_interval(REFRESH_INTERVAL)
        .build()
        .map_err(|e| format!("meridian runtime: {e}"))
}

async fn meridian_driver(
    runtime: &Runtime,
    account: &Account,
) -> Result<Driver, meridian_driver::DriverError> {
    Driver::builder(runtime, AccountConfig::new(&account.global, account.key()))
        .preferred_regions(["West US", "East US"])
        .build()
        .await
}

async fn sdk_client(account: &Account, runtime: Option<CosmosRuntime>) -> Result<Client, String> {
    let endpoint: AccountEndpoint = account
        .global
        .parse()
        .map_err(|e| format!("endpoint: {e}"))?;
    let account = AccountReference::with_authentication_key(
        endpoint,
        Secret::from(account.key().to_string()),
    );
    let mut builder = CosmosClient::builder();
    if let Some(runtime) = runtime {
        builder = builder.with_runtime(runtime);
    }
    let strategy = RoutingStrategy::PreferredRegions(vec![Region::WEST_US, Region::EAST_US]);
    let client = builder
        .build(account, strategy)
        .await
        .map_err(|e| format!("sdk build: {e}"))?;
    let container = client
        .database_client(DB)
        .container_client(COLL, None)
        .await
        .map_err(|e| format!("sdk container_client: {e}"))?;
    Ok(Client::Sdk {
        container,
        _client: client,
    })
}

/// Runs `build` within [`BUILD_DEADLINE`].
async fn bounded<T>(build: impl Future<Output = Result<T, String>>) -> Result<T, String> {
    tokio::time::timeout(BUILD_DEADLINE, build)
        .await
        .map_err(|_| format!("no client within {} s", BUILD_DEADLINE.as_secs()))?
}

/// Creates the database, the container and items `i0`..`i{items}` in partition `p`, with a
/// Meridian driver on a runtime of its own that is shut down before this returns.
pub async fn seed(account: &Account, items: usize) -> Result<(), String> {
    let runtime = Runtime::builder()
        .build()
        .map_err(|e| format!("seed runtime: {e}"))?;
    let result = async {
        let driver = meridian_driver(&runtime, account)
            .await
            .map_err(|e| format!("seed driver: {e}"))?;
        driver
            .create_database(DB)
            .await
            .map_err(|e| format!("create database: {e}"))?;
        driver
            .create_container(DB, COLL, "/pk")
            .await
            .map_err(|e| format!("create container: {e}"))?;
        let container = driver.container(DB, COLL);
        for i in 0..items {
            let item = serde_json::json!({"id": format!("i{i}"), "pk": "p", "n": i});
            container
                .upsert_item("p", &item)
                .await
                .map_err(|e| format!("seed item: {e}"))?;
        }
        Ok(())
    };
    let result = tokio::time::timeout(Duration::from_secs(60), result)
        .await
        .unwrap_or_else(|_| Err("seeding took over 60 s".into()));
    runtime.shutdown().await;
    result
}

/// Upserts item `x` in each of `keys`, with a Meridian driver on a runtime of its own that
/// is shut down before this returns (the container exists: [`seed`] made it).
pub async fn seed_keys(account: &Account, keys: &[&str]) -> Result<(), String> {
    let runtime = Runtime::builder()
        .build()
        .map_err(|e| format!("seed runtime: {e}"))?;
    let result = async {
        let driver = meridian_driver(&runtime, account)
            .await
            .map_err(|e| format!("seed driver: {e}"))?;
        let container = driver.container(DB, COLL);
        for &key in keys {
            let item = serde_json::json!({"id": "x", "pk": key});
            container
                .upsert_item(key, &item)
                .await
                .map_err(|e| format!("seed item: {e}"))?;
        }
        Ok(())
    };
    let result = tokio::time::timeout(Duration::from_secs(60), result)
        .await
        .unwrap_or_else(|_| Err("seeding took over 60 s".into()));
    runtime.shutdown().await;
    result
}
