//! Topology control on the shared state: failover, adding, draining, removing regions,
//! giving them outage shapes and bringing them back up.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use super::State;
use crate::lock::lock;
use crate::outage::Outage;
use crate::replication::FailoverMode;
use crate::topology::{
    ListenerId, Region, RegionInfo, Topology, TopologyError, same_region, validate_region_name,
};

impl State {
    pub(crate) fn failover(&self, region: &str) -> Result<(), TopologyError> {
        self.failover_with(region, FailoverMode::Graceful)
            .map(|_| ())
    }

    pub(crate) fn add_region(self: &Arc<Self>, name: &str) -> Result<RegionInfo, TopologyError> {
        validate_region_name(name)?;
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
                lock(&self.data).replication.add_region(name);
                let bind = SocketAddr::new(self.global_ip(), 0);
                let addr = self.start_listener(ListenerId::Region(name.to_string()), bind)?;
                lock(&self.topology).regions.push(Region {
                    name: name.to_string(),
                    endpoint: self.endpoint(addr),
                    advertised: true,
                    drained: false,
                    up: true,
                    outage: None,
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

    /// Takes a region down: connections refused (the `refuse` shape for both).
    pub(crate) fn region_down(self: &Arc<Self>, name: &str) -> Result<(), TopologyError> {
        self.set_outage(name, Outage::refuse())
    }

    /// Gives a region an outage shape, replacing the one it had. Only `refuse` for both
    /// closes its port; every other shape keeps (or puts) its listener up.
    pub(crate) fn set_outage(
        self: &Arc<Self>,
        name: &str,
        outage: Outage,
    ) -> Result<(), TopologyError> {
        let canonical = lock(&self.topology).region_mut(name)?.name.clone();
        let id = ListenerId::Region(canonical.clone());
        if outage.closes_the_port() {
            self.stop_listener(&id);
        } else {
            self.restart_listener(&id)?;
        }
        self.outages.set(&canonical, Some(outage));
        let mut topology = lock(&self.topology);
        let region = topology.region_mut(name)?;
        region.up = !outage.closes_the_port();
        region.outage = Some(outage);
        Ok(())
    }

    /// Brings a region back: no outage, listening again on its port, undrained.
    pub(crate) fn region_up(self: &Arc<Self>, name: &str) -> Result<(), TopologyError> {
        let canonical = lock(&self.topology).region_mut(name)?.name.clone();
        self.restart_listener(&ListenerId::Region(canonical.clone()))?;
        self.outages.set(&canonical, None);
        let mut topology = lock(&self.topology);
        let region = topology.region_mut(name)?;
        region.up = true;
        region.drained = false;
        region.outage = None;
        Ok(())
    }
}
