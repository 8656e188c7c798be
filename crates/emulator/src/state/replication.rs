//! The control side of replication: setting lags, failing over in a mode, and the
//! per-region status `GET /_emulator/replication` reports.

use serde_json::{Map, Value, json};
use tokio::time::Instant;

use crate::error::EmulatorError;
use crate::lag::check_lag;
use crate::lock::lock;
use crate::replication::FailoverMode;
use crate::state::State;
use crate::topology::TopologyError;

impl State {
    /// Moves the write region; a forced failover loses what the new one has not seen.
    /// Returns the number of writes lost, also added to the counters' `dropped_writes`.
    pub(crate) fn failover_with(
        &self,
        region: &str,
        mode: FailoverMode,
    ) -> Result<u64, TopologyError> {
        // Lock order everywhere: topology, then data, then counters.
        let mut topology = lock(&self.topology);
        let target = topology
            .region(region)
            .ok_or_else(|| TopologyError::UnknownRegion(region.to_string()))?;
        if !target.advertised {
            return Err(TopologyError::NotAdvertised(region.to_string()));
        }
        let new = target.name.clone();
        let old = std::mem::replace(&mut topology.write_region, new.clone());
        let dropped = {
            let mut data = lock(&self.data);
            let data = &mut *data;
            let replication = std::mem::take(&mut data.replication);
            let now = Instant::now();
            let dropped = replication.failover(data, &old, &new, mode, now);
            replication.trim_all(data, now);
            data.replication = replication;
            dropped
        };
        if dropped > 0 {
            lock(&self.counters).dropped_writes += dropped;
        }
        tracing::info!(write_region = %topology.write_region, ?mode, dropped, "failover");
        Ok(dropped)
    }

    pub(crate) fn set_replication_lag(
        &self,
        region: Option<&str>,
        lag: std::time::Duration,
    ) -> Result<(), EmulatorError> {
        let lag = check_lag(lag).map_err(EmulatorError::Config)?;
        let topology = lock(&self.topology);
        let name = match region {
            Some(region) => Some(
                topology
                    .region(region)
                    .map(|r| r.name.clone())
                    .ok_or_else(|| TopologyError::UnknownRegion(region.to_string()))?,
            ),
            None => None,
        };
        let regions: Vec<String> = topology.regions.iter().map(|r| r.name.clone()).collect();
        let mut data = lock(&self.data);
        let data = &mut *data;
        let mut replication = std::mem::take(&mut data.replication);
        let now = Instant::now();
        replication.settle(data, &regions, now);
        replication.set_lag(name.as_deref(), lag);
        // Whatever every region has now applied leaves the log at once.
        replication.trim_all(data, now);
        data.replication = replication;
        Ok(())
    }

    /// `{"consistency", "write_region", "regions": [{"name", "lag_ms", "lsn": {"db/coll": n}}],
    /// "log_entries": {"db/coll": n}, "view_copies": n}`.
    pub(crate) fn replication_status(&self) -> Value {
        let (names, write_region) = {
            let topology = lock(&self.topology);
            let names: Vec<String> = topology
                .regions
                .iter()
                .filter(|r| r.advertised)
                .map(|r| r.name.clone())
                .collect();
            (names, topology.write_region.clone())
        };
        let data = lock(&self.data);
        let now = Instant::now();
        let regions: Vec<Value> = names
            .iter()
            .map(|name| {
                let mut lsns = Map::new();
                for (db, database) in &data.databases {
                    for (coll, container) in &database.containers {
                        lsns.insert(
                            format!("{db}/{coll}"),
                            json!(data.replication.region_lsn(container, name, now)),
                        );
                    }
                }
                json!({
                    "name": name,
                    "lag_ms": u64::try_from(data.replication.lag(name).as_millis()).unwrap_or(u64::MAX),
                    "lsn": lsns,
                })
            })
            .collect();
        let mut log = Map::new();
        for (db, database) in &data.databases {
            for (coll, container) in &database.containers {
                log.insert(format!("{db}/{coll}"), json!(container.log.len()));
            }
        }
        json!({
            "consistency": data.replication.consistency.as_str(),
            "write_region": write_region,
            "regions": regions,
            "log_entries": log,
            "view_copies": data.replication.view_copies(),
        })
    }
}
