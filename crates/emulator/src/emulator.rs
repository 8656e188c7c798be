//! The in-process emulator: builder, handle, and the typed control API.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::counters::Counters;
use crate::data::DataStore;
use crate::faults::{FaultRule, FaultSet, FaultStatus};
use crate::keys::{AccountKeys, KeyKind, Keys, WELL_KNOWN_SECONDARY_KEY};
use crate::replication::{Consistency, FailoverMode, Replication, check_lag};
use crate::state::{State, lock};
use crate::tls::TlsConfig;
use crate::topology::{ListenerId, Region, RegionInfo, Topology, TopologyError, same_region};

/// The well-known public key of the Cosmos DB emulator: the default master key.
pub const WELL_KNOWN_KEY: &str =
    "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw==";

/// Why the emulator could not start or refused a control call.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EmulatorError {
    /// A master key (primary or secondary) is not valid base64.
    #[error("the master key is not valid base64")]
    InvalidKey,
    /// The master key is empty: every request signed with the empty key would pass.
    #[error("the master key is empty; give a base64 key (or omit it for the well-known key)")]
    EmptyKey,
    /// A setting is unusable.
    #[error("invalid emulator setting: {0}")]
    Config(String),
    /// A topology change was refused, or a listener could not be bound.
    #[error(transparent)]
    Topology(#[from] TopologyError),
    /// A fault rule was refused.
    #[error("invalid fault rule: {0}")]
    Fault(String),
}

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
}

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
        }
    }
}

impl EmulatorBuilder {
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
        let state = Arc::new(State {
            keys: Mutex::new(keys),
            topology: Mutex::new(Topology {
                account_id: self.account_id.clone(),
                regions: Vec::new(),
                write_region,
                multi_write: self.multi_write,
                consistency: self.consistency,
            }),
            data: Mutex::new(DataStore {
                databases: BTreeMap::new(),
                replication: Replication::new(self.consistency, self.replication_lag),
            }),
            counters: Mutex::new(Counters::default()),
            faults: Mutex::new(FaultSet::default()),
            listeners: Mutex::new(HashMap::new()),
            tasks: TaskTracker::new(),
            shutdown: CancellationToken::new(),
            tls,
            idle_timeout: self.idle_timeout,
            connections: Arc::new(tokio::sync::Semaphore::new(max_connections)),
            advertise_host,
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

/// A running emulator. Dropping it stops every listener and connection (without
/// blocking); [`shutdown`](Self::shutdown) does the same and waits for them.
pub struct Emulator {
    state: Arc<State>,
    global: SocketAddr,
    key: String,
}

impl fmt::Debug for Emulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Emulator")
            .field("global", &self.global)
            .field("regions", &self.regions())
            .finish_non_exhaustive()
    }
}

impl Emulator {
    /// A builder with the defaults: three regions, the well-known key, 127.0.0.1.
    pub fn builder() -> EmulatorBuilder {
        EmulatorBuilder::default()
    }

    /// The global account endpoint, e.g. `http://127.0.0.1:8081/`.
    pub fn global_endpoint(&self) -> String {
        self.state.endpoint(self.global)
    }

    /// The endpoint of region `name`.
    pub fn region_endpoint(&self, name: &str) -> Option<String> {
        lock(&self.state.topology)
            .region(name)
            .map(|r| r.endpoint.clone())
    }

    /// Every region with its state.
    pub fn regions(&self) -> Vec<RegionInfo> {
        lock(&self.state.topology).infos()
    }

    /// The current write region.
    pub fn write_region(&self) -> String {
        lock(&self.state.topology).write_region.clone()
    }

    /// The base64 primary key the emulator started with (test data, not a secret here).
    /// After [`regenerate_key`](Self::regenerate_key), [`keys`](Self::keys) has the
    /// current ones.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The current primary and secondary keys (both are accepted).
    pub fn keys(&self) -> AccountKeys {
        lock(&self.state.keys).current()
    }

    /// Replaces the `kind` key with a new random one and returns it (base64): from the
    /// next request on, the old key gets 401.
    pub fn regenerate_key(&self, kind: KeyKind) -> String {
        lock(&self.state.keys).regenerate(kind)
    }

    /// The PEM of the self-signed certificate, in TLS mode.
    pub fn certificate_pem(&self) -> Option<&str> {
        self.state.tls.as_ref().map(|t| t.certificate_pem.as_str())
    }

    /// The DER of the self-signed certificate, in TLS mode.
    pub fn certificate_der(&self) -> Option<&[u8]> {
        self.state
            .tls
            .as_ref()
            .map(|t| t.certificate_der.as_slice())
    }

    /// The current account document.
    pub fn account_document(&self) -> Value {
        lock(&self.state.topology).account_document()
    }

    /// A snapshot of the request counters.
    pub fn counters(&self) -> Counters {
        lock(&self.state.counters).clone()
    }

    /// Zeroes the counters.
    pub fn reset_counters(&self) {
        *lock(&self.state.counters) = Counters::default();
    }

    /// Moves the write region. The old one answers writes with 403/3 at once. Graceful:
    /// the new write region first catches up with every write.
    pub fn failover(&self, region: &str) -> Result<(), EmulatorError> {
        self.state.failover(region).map_err(Into::into)
    }

    /// Moves the write region in `mode`; returns how many writes were lost (always zero
    /// when graceful). A forced failover drops the old write region's writes the new one
    /// has not seen yet, as an unplanned outage would.
    pub fn failover_with(&self, region: &str, mode: FailoverMode) -> Result<u64, EmulatorError> {
        self.state.failover_with(region, mode).map_err(Into::into)
    }

    /// Sets the replication lag of one region, or of every region when `region` is
    /// `None` (which also clears per-region lags). Zero restores instant replication.
    pub fn set_replication_lag(
        &self,
        region: Option<&str>,
        lag: Duration,
    ) -> Result<(), EmulatorError> {
        self.state.set_replication_lag(region, lag)
    }

    /// Each region's lag and LSN per container, as `GET /_emulator/replication` shows.
    pub fn replication(&self) -> Value {
        self.state.replication_status()
    }

    /// Adds a region on a new listener (or re-advertises a removed one); returns it.
    pub fn add_region(&self, name: &str) -> Result<RegionInfo, EmulatorError> {
        self.state.add_region(name).map_err(Into::into)
    }

    /// Drains a region: still advertised, answers everything with 403/1008.
    pub fn drain_region(&self, name: &str) -> Result<(), EmulatorError> {
        self.state.drain_region(name).map_err(Into::into)
    }

    /// Removes a region from the account; its listener answers 403/1008.
    pub fn remove_region(&self, name: &str) -> Result<(), EmulatorError> {
        self.state.remove_region(name).map_err(Into::into)
    }

    /// Takes a region's listener down: connections are refused.
    pub fn region_down(&self, name: &str) -> Result<(), EmulatorError> {
        self.state.region_down(name).map_err(Into::into)
    }

    /// Brings a region back: listening again on its port, undrained.
    pub fn region_up(&self, name: &str) -> Result<(), EmulatorError> {
        self.state.region_up(name).map_err(Into::into)
    }

    /// Installs a fault rule; returns its id.
    pub fn add_fault(&self, rule: FaultRule) -> Result<u64, EmulatorError> {
        lock(&self.state.faults)
            .add(rule)
            .map_err(EmulatorError::Fault)
    }

    /// The installed rules with their hit counts.
    pub fn faults(&self) -> Vec<FaultStatus> {
        lock(&self.state.faults).list()
    }

    /// Removes every fault rule.
    pub fn clear_faults(&self) {
        lock(&self.state.faults).clear();
    }

    /// Serves one request in process, without a socket, exactly as the global endpoint
    /// would (auth, faults, counters, routing). The response body is read whole, at most
    /// `max_body` bytes (longer bodies are cut there).
    pub async fn handle(
        &self,
        request: http::Request<bytes::Bytes>,
        max_body: usize,
    ) -> http::Response<bytes::Bytes> {
        use http_body_util::BodyExt;
        let request = request.map(http_body_util::Full::new);
        let peer = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0);
        let Ok(response) =
            crate::service::handle(Arc::clone(&self.state), ListenerId::Global, peer, request)
                .await;
        let (parts, body) = response.into_parts();
        let body = http_body_util::Limited::new(body, max_body)
            .collect()
            .await
            .map(|collected| collected.to_bytes())
            .unwrap_or_default();
        http::Response::from_parts(parts, body)
    }

    /// Stops every listener and connection and waits (at most 5 s) for them to end.
    pub async fn shutdown(self) {
        self.state.shutdown.cancel();
        self.state.tasks.close();
        let _ = tokio::time::timeout(Duration::from_secs(5), self.state.tasks.wait()).await;
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.state.shutdown.cancel();
        self.state.tasks.close();
    }
}

impl State {
    pub(crate) fn failover(&self, region: &str) -> Result<(), TopologyError> {
        self.failover_with(region, FailoverMode::Graceful)
            .map(|_| ())
    }

    pub(crate) fn add_region(self: &Arc<Self>, name: &str) -> Result<RegionInfo, TopologyError> {
        if name.trim().is_empty() {
            return Err(TopologyError::UnknownRegion(name.to_string()));
        }
        let existing = lock(&self.topology).region(name).map(|r| r.advertised);
        match existing {
            Some(true) => return Err(TopologyError::DuplicateRegion(name.to_string())),
            Some(false) => {
                let mut topology = lock(&self.topology);
                let region = topology.region_mut(name)?;
                region.advertised = true;
                region.drained = false;
            }
            None => {
                let bind = SocketAddr::new(self.global_ip(), 0);
                let addr = self.start_listener(ListenerId::Region(name.to_string()), bind)?;
                lock(&self.topology).regions.push(Region {
                    name: name.to_string(),
                    endpoint: self.endpoint(addr),
                    advertised: true,
                    drained: false,
                    up: true,
                });
            }
        }
        let topology = lock(&self.topology);
        topology
            .infos()
            .into_iter()
            .find(|r| same_region(&r.name, name))
            .ok_or_else(|| TopologyError::UnknownRegion(name.to_string()))
    }

    fn global_ip(&self) -> IpAddr {
        lock(&self.listeners)
            .get(&ListenerId::Global)
            .map_or(IpAddr::V4(Ipv4Addr::LOCALHOST), |slot| slot.addr.ip())
    }

    fn not_write_region(topology: &Topology, name: &str) -> Result<(), TopologyError> {
        if same_region(&topology.write_region, name) {
            return Err(TopologyError::WriteRegion(name.to_string()));
        }
        Ok(())
    }

    pub(crate) fn drain_region(&self, name: &str) -> Result<(), TopologyError> {
        let mut topology = lock(&self.topology);
        Self::not_write_region(&topology, name)?;
        topology.region_mut(name)?.drained = true;
        Ok(())
    }

    pub(crate) fn remove_region(&self, name: &str) -> Result<(), TopologyError> {
        let mut topology = lock(&self.topology);
        Self::not_write_region(&topology, name)?;
        topology.region_mut(name)?.advertised = false;
        Ok(())
    }

    pub(crate) fn region_down(&self, name: &str) -> Result<(), TopologyError> {
        let canonical = {
            let mut topology = lock(&self.topology);
            let region = topology.region_mut(name)?;
            region.up = false;
            region.name.clone()
        };
        self.stop_listener(&ListenerId::Region(canonical));
        Ok(())
    }

    pub(crate) fn region_up(self: &Arc<Self>, name: &str) -> Result<(), TopologyError> {
        let canonical = lock(&self.topology).region_mut(name)?.name.clone();
        self.restart_listener(&ListenerId::Region(canonical))?;
        let mut topology = lock(&self.topology);
        let region = topology.region_mut(name)?;
        region.up = true;
        region.drained = false;
        Ok(())
    }
}
