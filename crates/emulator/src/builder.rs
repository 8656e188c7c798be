//! Configuring and starting an emulator: [`EmulatorBuilder`].

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::budget::{Budget, DEFAULT_MEMORY_BUDGET};
use crate::consistency::Consistency;
use crate::counters::Counters;
use crate::data::DataStore;
use crate::faults::FaultSet;
use crate::keys::{Keys, WELL_KNOWN_SECONDARY_KEY};
use crate::lag::{DEFAULT_REPLICATION_LOG_LIMIT, Replication, check_lag};
use crate::query::DEFAULT_QUERY_BUDGET;
use crate::state::State;
use crate::tls::TlsConfig;
use crate::topology::{ListenerId, Topology, same_region};

use crate::emulator::Emulator;
use crate::error::EmulatorError;
use crate::keys::WELL_KNOWN_KEY;

/// Configures and starts an [`Emulator`].
#[derive(Clone)]
pub struct EmulatorBuilder {
    account_id: String,
    regions: Vec<String>,
    write_region: Option<String>,
    multi_write: bool,
    key: String,
    secondary_key: String,
    bind: IpAddr,
    port: u16,
    tls: bool,
    idle_timeout: Duration,
    max_connections: Option<usize>,
    advertise_host: Option<String>,
    consistency: Consistency,
    replication_lag: Duration,
    memory_budget: usize,
    replication_log_limit: usize,
    query_budget: u64,
    entra: bool,
    disable_keys: bool,
}

/// The smallest memory budget accepted: room for one request body of the largest size.
pub const MIN_MEMORY_BUDGET: usize = 4 * 1024 * 1024;

/// The default keep-alive idle timeout: a connection waiting this long for its next
/// request's head is closed.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

impl fmt::Debug for EmulatorBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmulatorBuilder")
            .field("account_id", &self.account_id)
            .field("regions", &self.regions)
            .field("write_region", &self.write_region)
            .field("multi_write", &self.multi_write)
            .field("bind", &self.bind)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("idle_timeout", &self.idle_timeout)
            .field("max_connections", &self.max_connections)
            .field("advertise_host", &self.advertise_host)
            .field("consistency", &self.consistency)
            .field("replication_lag", &self.replication_lag)
            .field("memory_budget", &self.memory_budget)
            .field("replication_log_limit", &self.replication_log_limit)
            .field("query_budget", &self.query_budget)
            .field("entra", &self.entra)
            .field("disable_keys", &self.disable_keys)
            .finish_non_exhaustive()
    }
}

impl Default for EmulatorBuilder {
    fn default() -> Self {
        Self {
            account_id: "meridian-emulator".into(),
            regions: vec!["West US".into(), "East US".into(), "North Europe".into()],
            write_region: None,
            multi_write: false,
            key: WELL_KNOWN_KEY.into(),
            secondary_key: WELL_KNOWN_SECONDARY_KEY.into(),
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 0,
            tls: false,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            max_connections: None,
            advertise_host: None,
            consistency: Consistency::Session,
            replication_lag: Duration::ZERO,
            memory_budget: DEFAULT_MEMORY_BUDGET,
            replication_log_limit: DEFAULT_REPLICATION_LOG_LIMIT,
            query_budget: DEFAULT_QUERY_BUDGET,
            entra: false,
            disable_keys: false,
        }
    }
}

impl EmulatorBuilder {
    /// Accept Entra ID (`type=aad`) tokens besides the keys (off by default; `--entra`):
    /// tokens the emulator minted ([`Emulator::entra_token`], or the admin API), checked
    /// for signature, audience and expiry; control-plane writes refused to them (403,
    /// sub-status 5300).
    pub fn entra(mut self, enabled: bool) -> Self {
        self.entra = enabled;
        self
    }

    /// With [`entra`](Self::entra): refuse requests signed with a master key (401,
    /// sub-status 5202), as an account with local authorization disabled does; the admin
    /// API is unaffected. Refused at start without `entra`.
    pub fn disable_keys(mut self, disabled: bool) -> Self {
        self.disable_keys = disabled;
        self
    }

    /// The account's `id` (default `meridian-emulator`).
    pub fn account_id(mut self, id: impl Into<String>) -> Self {
        self.account_id = id.into();
        self
    }

    /// The regions, in failover order (default West US, East US, North Europe).
    pub fn regions<I, S>(mut self, regions: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.regions = regions.into_iter().map(Into::into).collect();
        self
    }

    /// The initial write region (default: the first region).
    pub fn write_region(mut self, region: impl Into<String>) -> Self {
        self.write_region = Some(region.into());
        self
    }

    /// Accept writes in every region.
    pub fn multi_write(mut self, multi_write: bool) -> Self {
        self.multi_write = multi_write;
        self
    }

    /// The base64 master key (default [`WELL_KNOWN_KEY`]).
    pub fn key(mut self, key: impl Into<String>) -> Self {
        self.key = key.into();
        self
    }

    /// The base64 secondary key (default [`WELL_KNOWN_SECONDARY_KEY`]). Requests signed
    /// with either key are accepted.
    pub fn secondary_key(mut self, key: impl Into<String>) -> Self {
        self.secondary_key = key.into();
        self
    }

    /// The address to bind (default 127.0.0.1).
    pub fn bind(mut self, ip: IpAddr) -> Self {
        self.bind = ip;
        self
    }

    /// The global endpoint's port (default 0: any free port). Regions always take free ports.
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// Serve HTTPS with a self-signed certificate generated at start.
    pub fn tls(mut self, tls: bool) -> Self {
        self.tls = tls;
        self
    }

    /// How long a kept-alive connection may wait for its next request before it is
    /// closed (default [`DEFAULT_IDLE_TIMEOUT`]); also bounds reading a request's head.
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// The most connections open at once, over every listener (default
    /// [`default_max_connections`](crate::default_max_connections): half the soft
    /// descriptor limit). At the limit the listeners stop accepting and new connections
    /// wait in the kernel's backlog (a listener that accepted just as another took the
    /// last slot holds that one connection until a slot frees).
    pub fn max_connections(mut self, max: usize) -> Self {
        self.max_connections = Some(max);
        self
    }

    /// The host written into the endpoints of the account document and the ready line
    /// (default: the bind address, or `127.0.0.1` when binding a wildcard such as
    /// `0.0.0.0` or `::`, which no client can connect to).
    pub fn advertise_host(mut self, host: impl Into<String>) -> Self {
        self.advertise_host = Some(host.into());
        self
    }

    /// The account's default consistency (default `Session`), reported in the account
    /// document; under `Strong` no read is ever stale, whatever the lag.
    pub fn consistency(mut self, consistency: Consistency) -> Self {
        self.consistency = consistency;
        self
    }

    /// How long a write takes to reach the regions other than the one it was made in
    /// (default zero: every region sees it at once). At most [`MAX_REPLICATION_LAG`](crate::MAX_REPLICATION_LAG).
    pub fn replication_lag(mut self, lag: Duration) -> Self {
        self.replication_lag = lag;
        self
    }

    /// The most memory requests in flight may hold together, in bytes (default
    /// [`DEFAULT_MEMORY_BUDGET`]): their bodies, decoded values and unsent responses.
    /// A request that does not fit is answered 429 (sub-status 3200) with
    /// `x-ms-retry-after-ms`. At least [`MIN_MEMORY_BUDGET`].
    pub fn memory_budget(mut self, bytes: usize) -> Self {
        self.memory_budget = bytes;
        self
    }

    /// The most writes one container's replication log may hold before every region has
    /// applied them (default [`DEFAULT_REPLICATION_LOG_LIMIT`](crate::DEFAULT_REPLICATION_LOG_LIMIT));
    /// a write past it is answered 429 with `x-ms-retry-after-ms` until the lagging
    /// regions catch up.
    pub fn replication_log_limit(mut self, limit: usize) -> Self {
        self.replication_log_limit = limit;
        self
    }

    /// The work budget of one query, in units (default
    /// [`DEFAULT_QUERY_BUDGET`](crate::query::DEFAULT_QUERY_BUDGET)): one per expression
    /// evaluated, one per 8 bytes copied, one per sort comparison. A query that runs out
    /// is ended with 400.
    pub fn query_budget(mut self, units: u64) -> Self {
        self.query_budget = units;
        self
    }

    /// The advertised host, bracketed if it is an IPv6 literal; an error if it cannot be
    /// the host of a URL.
    fn advertised_host(&self) -> Result<String, EmulatorError> {
        let host = match &self.advertise_host {
            Some(host) => host.trim().to_string(),
            None if self.bind.is_unspecified() => Ipv4Addr::LOCALHOST.to_string(),
            None => self.bind.to_string(),
        };
        let host = match host.parse::<IpAddr>() {
            Ok(IpAddr::V6(v6)) => format!("[{v6}]"),
            _ => host,
        };
        let valid = !host.is_empty()
            && !host.contains(['/', '@', '?', '#', ' '])
            && http::uri::Authority::try_from(format!("{host}:1").as_str()).is_ok();
        if !valid {
            return Err(EmulatorError::Config(format!(
                "`{host}` cannot be advertised as a host"
            )));
        }
        Ok(host)
    }

    /// Binds every listener and starts serving. Must run inside a tokio runtime.
    pub async fn start(self) -> Result<Emulator, EmulatorError> {
        if self.key.trim().is_empty() || self.secondary_key.trim().is_empty() {
            return Err(EmulatorError::EmptyKey);
        }
        let keys = Keys::new(&self.key, &self.secondary_key).ok_or(EmulatorError::InvalidKey)?;
        let advertise_host = self.advertised_host()?;
        let max_connections = self
            .max_connections
            .unwrap_or_else(crate::limits::default_max_connections);
        if max_connections == 0 || max_connections > tokio::sync::Semaphore::MAX_PERMITS {
            return Err(EmulatorError::Config(format!(
                "max_connections must be between 1 and {}",
                tokio::sync::Semaphore::MAX_PERMITS
            )));
        }
        if self.idle_timeout.is_zero() {
            return Err(EmulatorError::Config(
                "idle_timeout must be greater than zero".into(),
            ));
        }
        check_lag(self.replication_lag).map_err(EmulatorError::Config)?;
        if self.memory_budget < MIN_MEMORY_BUDGET {
            return Err(EmulatorError::Config(format!(
                "memory_budget must be at least {MIN_MEMORY_BUDGET} bytes"
            )));
        }
        if self.regions.is_empty() {
            return Err(EmulatorError::Config(
                "at least one region is required".into(),
            ));
        }
        let write_region = self
            .write_region
            .clone()
            .unwrap_or_else(|| self.regions[0].clone());
        if !self.regions.iter().any(|r| same_region(r, &write_region)) {
            return Err(EmulatorError::Config(format!(
                "write region `{write_region}` is not among the regions"
            )));
        }
        let tls = if self.tls {
            Some(
                TlsConfig::self_signed(self.bind, &advertise_host)
                    .map_err(EmulatorError::Config)?,
            )
        } else {
            None
        };
        if self.disable_keys && !self.entra {
            return Err(EmulatorError::Config(
                "disable_keys needs entra: nothing could authenticate".into(),
            ));
        }
        let entra = if self.entra {
            Some(crate::entra::Entra::generate(self.disable_keys).map_err(EmulatorError::Config)?)
        } else {
            None
        };
        let state = Arc::new(State {
            keys: Mutex::new(keys),
            entra,
            topology: Mutex::new(Topology {
                account_id: self.account_id.clone(),
                regions: Vec::new(),
                write_region,
                multi_write: self.multi_write,
                consistency: self.consistency,
                per_partition_failover: false,
            }),
            data: Mutex::new(DataStore {
                databases: BTreeMap::new(),
                replication: Replication::new(self.consistency, self.replication_lag)
                    .with_log_limit(self.replication_log_limit),
                throughput: BTreeMap::new(),
                autoscale: BTreeMap::new(),
                principals: BTreeMap::new(),
                scripts: BTreeMap::new(),
                clock: crate::clock::Clock::default(),
                token_secret: crate::token_secret::Secret::default(),
            }),
            counters: Mutex::new(Counters::default()),
            faults: Mutex::new(FaultSet::default()),
            outages: crate::disruption::Outages::default(),
            partitions: crate::partitions::Partitions::default(),
            listeners: Mutex::new(HashMap::new()),
            tasks: TaskTracker::new(),
            shutdown: CancellationToken::new(),
            tls,
            idle_timeout: self.idle_timeout,
            connections: Arc::new(tokio::sync::Semaphore::new(max_connections)),
            advertise_host,
            memory: Arc::new(Budget::new(self.memory_budget)),
            queries: Arc::default(),
            query_budget: self.query_budget,
        });
        let emulator = Emulator {
            global: state
                .start_listener(ListenerId::Global, SocketAddr::new(self.bind, self.port))?,
            key: self.key,
            state,
        };
        for name in &self.regions {
            emulator.add_region(name)?;
        }
        Ok(emulator)
    }
}

impl Emulator {
    /// A builder with the defaults: three regions, the well-known key, 127.0.0.1.
    pub fn builder() -> EmulatorBuilder {
        EmulatorBuilder::default()
    }
}
