//! The in-process emulator: its handle, the typed control API and its errors.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::budget::MemoryStats;
use crate::counters::Counters;
use crate::error::EmulatorError;
use crate::faults::{FaultRule, FaultStatus};
use crate::keys::{AccountKeys, KeyKind};
use crate::lock::lock;
use crate::outage::Outage;
use crate::query_gate::QueryHold;
use crate::replication::FailoverMode;
use crate::state::State;
use crate::topology::{ListenerId, RegionInfo};

/// A running emulator. Dropping it stops every listener and connection (without
/// blocking); [`shutdown`](Self::shutdown) does the same and waits for them.
pub struct Emulator {
    pub(crate) state: Arc<State>,
    pub(crate) global: SocketAddr,
    pub(crate) key: String,
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

    /// A token signed by the emulator's Entra ID key, saying what `claims` say; `None`
    /// unless the emulator was started with [`entra`](crate::EmulatorBuilder::entra).
    pub fn entra_token(&self, claims: &crate::EntraClaims) -> Option<String> {
        self.state.entra.as_ref()?.mint(claims).ok()
    }

    /// The Entra ID key set the emulator publishes (`GET /_emulator/entra/jwks`), if on.
    pub fn entra_jwks(&self) -> Option<Value> {
        self.state.entra.as_ref().map(crate::entra::Entra::jwks)
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

    /// Zeroes the counters (and starts the memory peak over from what is held now).
    pub fn reset_counters(&self) {
        *lock(&self.state.counters) = Counters::default();
        self.state.memory.reset_peak();
    }

    /// The memory budget: its limit, what requests hold now and the peak, as the stats'
    /// `memory` reports them.
    pub fn memory(&self) -> MemoryStats {
        self.state.memory.stats()
    }

    /// A test hook: until the returned guard is dropped, queries stop inside their
    /// evaluation — their snapshot taken, no lock held — so a test can show what proceeds
    /// while a query runs. [`queries_running`](Self::queries_running) counts them.
    pub fn hold_queries(&self) -> QueryHold {
        self.state.queries.hold(true);
        QueryHold {
            gate: Arc::clone(&self.state.queries),
        }
    }

    /// Moves the emulator's clock forward by `by` (whole seconds): what `_ts`, TTL expiry
    /// and resource-token expiry read, so a test sees items and tokens expire without
    /// waiting. The clock never goes back.
    pub fn advance_clock(&self, by: std::time::Duration) {
        lock(&self.state.data).clock.advance(by);
    }

    /// Queries evaluating now (held ones included).
    pub fn queries_running(&self) -> usize {
        self.state.queries.running()
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

    /// Takes a region's listener down: connections are refused (the same as
    /// [`set_outage`](Self::set_outage) with [`Outage::refuse`]).
    pub fn region_down(&self, name: &str) -> Result<(), EmulatorError> {
        self.state.region_down(name).map_err(Into::into)
    }

    /// Gives a region an outage shape (replacing the one it has): refused connections, a
    /// black hole, 503s or slowness, for its reads, its writes or both.
    /// [`region_up`](Self::region_up) ends it.
    pub fn set_outage(&self, name: &str, outage: Outage) -> Result<(), EmulatorError> {
        outage.validate().map_err(EmulatorError::Config)?;
        self.state.set_outage(name, outage).map_err(Into::into)
    }

    /// Brings a region back: no outage, listening again on its port, undrained.
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
