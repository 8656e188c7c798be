//! The account's regions, write region and the account document they produce.

use serde::Serialize;
use serde_json::{Value, json};

use crate::consistency::Consistency;
use crate::outage::Outage;

/// Which listener a request arrived on.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ListenerId {
    /// The global account endpoint (behaves as the current write region).
    Global,
    /// A regional endpoint.
    Region(String),
}

impl ListenerId {
    /// The counter label: `"global"` or the region's name.
    pub fn label(&self) -> &str {
        match self {
            Self::Global => "global",
            Self::Region(name) => name,
        }
    }
}

/// One region as the admin API reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RegionInfo {
    /// The region's display name.
    pub name: String,
    /// Its endpoint URL.
    pub endpoint: String,
    /// Listed in the account document (false once removed).
    pub advertised: bool,
    /// Answering every request with 403/1008 DatabaseAccountNotFound.
    pub drained: bool,
    /// Accepting connections (false while down).
    pub up: bool,
    /// Accepting writes.
    pub writable: bool,
    /// Its outage shape, if it has one (`refuse` for both: `up` is false).
    pub outage: Option<Outage>,
}

#[derive(Debug, Clone)]
pub(crate) struct Region {
    pub(crate) name: String,
    pub(crate) endpoint: String,
    pub(crate) advertised: bool,
    pub(crate) drained: bool,
    pub(crate) up: bool,
    pub(crate) outage: Option<Outage>,
}

/// Why a topology change was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TopologyError {
    /// No region by that name.
    #[error("no region named `{0}`")]
    UnknownRegion(String),
    /// A region by that name already exists and is advertised.
    #[error("region `{0}` already exists")]
    DuplicateRegion(String),
    /// The change would leave the account without a write region.
    #[error("region `{0}` is the write region; fail over first")]
    WriteRegion(String),
    /// A removed region cannot become the write region.
    #[error("region `{0}` is not advertised")]
    NotAdvertised(String),
    /// A listener could not be bound.
    #[error("could not bind a listener: {0}")]
    Bind(String),
    /// A region name that is empty, too long, has characters a region name cannot have,
    /// or is reserved (`global` labels the global endpoint's counters).
    #[error("invalid region name {name}: {reason}")]
    InvalidRegionName {
        /// The name, quoted and cut to its first 64 characters.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// The longest region name accepted, in bytes (the service's longest is about 20).
pub const MAX_REGION_NAME: usize = 64;

/// Names that cannot be regions: `global` is the counter label of the global endpoint.
const RESERVED_REGION_NAMES: [&str; 2] = ["global", "emulator"];

/// Checks a new region's name: 1 to [`MAX_REGION_NAME`] bytes of ASCII letters, digits,
/// spaces, `-`, `(`, `)` and `.`, with a letter or digit, and not a reserved name.
pub(crate) fn validate_region_name(name: &str) -> Result<(), TopologyError> {
    let refuse = |reason| {
        let shown: String = name.chars().take(64).collect();
        Err(TopologyError::InvalidRegionName {
            name: format!("{shown:?}"),
            reason,
        })
    };
    if name.len() > MAX_REGION_NAME {
        return refuse("it is longer than 64 bytes");
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, ' ' | '-' | '(' | ')' | '.'))
    {
        return refuse("only ASCII letters, digits, spaces and - ( ) . are allowed");
    }
    let canonical = canonical(name);
    if canonical.is_empty() {
        return refuse("it has no letter or digit");
    }
    if RESERVED_REGION_NAMES.contains(&canonical.as_str()) {
        return refuse("the name is reserved");
    }
    Ok(())
}

/// A region name as the service compares it: lowercase letters and digits only.
pub(crate) fn canonical(name: &str) -> String {
    name.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

#[derive(Debug, Clone)]
pub(crate) struct Topology {
    pub(crate) account_id: String,
    pub(crate) regions: Vec<Region>,
    pub(crate) write_region: String,
    pub(crate) multi_write: bool,
    /// Reported as the account's `userConsistencyPolicy`.
    pub(crate) consistency: Consistency,
    /// Reported as `enablePerPartitionFailoverBehavior`: clients fail one partition's
    /// writes over on their own (PPAF).
    pub(crate) per_partition_failover: bool,
}

/// Region names compare like the service does: case and spaces do not matter.
pub(crate) fn same_region(a: &str, b: &str) -> bool {
    canonical(a) == canonical(b)
}

impl Topology {
    pub(crate) fn region(&self, name: &str) -> Option<&Region> {
        self.regions.iter().find(|r| same_region(&r.name, name))
    }

    pub(crate) fn region_mut(&mut self, name: &str) -> Result<&mut Region, TopologyError> {
        self.regions
            .iter_mut()
            .find(|r| same_region(&r.name, name))
            .ok_or_else(|| TopologyError::UnknownRegion(name.to_string()))
    }

    /// The region a request on `listener` is served by: the global endpoint serves as the
    /// write region.
    pub(crate) fn serving_region(&self, listener: &ListenerId) -> String {
        match listener {
            ListenerId::Global => self.write_region.clone(),
            ListenerId::Region(name) => self
                .region(name)
                .map_or_else(|| name.clone(), |r| r.name.clone()),
        }
    }

    /// Whether writes are accepted on `listener`.
    pub(crate) fn accepts_writes(&self, listener: &ListenerId) -> bool {
        match listener {
            ListenerId::Global => true,
            ListenerId::Region(name) => {
                self.region(name)
                    .is_some_and(|r| r.advertised && !r.drained)
                    && (self.multi_write || same_region(name, &self.write_region))
            }
        }
    }

    /// Whether `listener` answers everything with 403/1008 (drained or removed region).
    pub(crate) fn not_found(&self, listener: &ListenerId) -> bool {
        match listener {
            ListenerId::Global => false,
            ListenerId::Region(name) => {
                self.region(name).is_none_or(|r| !r.advertised || r.drained)
            }
        }
    }

    pub(crate) fn infos(&self) -> Vec<RegionInfo> {
        self.regions
            .iter()
            .map(|r| RegionInfo {
                name: r.name.clone(),
                endpoint: r.endpoint.clone(),
                advertised: r.advertised,
                drained: r.drained,
                up: r.up,
                outage: r.outage,
                writable: self.accepts_writes(&ListenerId::Region(r.name.clone())),
            })
            .collect()
    }

    /// The database account document, shaped like the live service's: write region
    /// first, then the other advertised regions in the order they were added.
    pub(crate) fn account_document(&self) -> Value {
        let mut ordered: Vec<&Region> = self.regions.iter().filter(|r| r.advertised).collect();
        ordered.sort_by_key(|r| !same_region(&r.name, &self.write_region));
        let location = |r: &&Region| json!({"name": r.name, "databaseAccountEndpoint": r.endpoint});
        let readable: Vec<Value> = ordered.iter().map(location).collect();
        let writable: Vec<Value> = ordered
            .iter()
            .filter(|r| self.multi_write || same_region(&r.name, &self.write_region))
            .map(location)
            .collect();
        let replication = json!({"minReplicaSetSize": 3, "maxReplicasetSize": 4});
        json!({
            "_self": "",
            "id": self.account_id,
            "_rid": format!("{}.documents.azure.com", self.account_id),
            "media": "//media/",
            "addresses": "//addresses/",
            "_dbs": "//dbs/",
            "writableLocations": writable,
            "readableLocations": readable,
            "enableMultipleWriteLocations": self.multi_write,
            "enablePerPartitionFailoverBehavior": self.per_partition_failover,
            "continuousBackupEnabled": false,
            "enableNRegionSynchronousCommit": false,
            "userReplicationPolicy": replication,
            "systemReplicationPolicy": replication,
            "userConsistencyPolicy": {"defaultConsistencyLevel": self.consistency.as_str()},
            "readPolicy": {"primaryReadCoefficient": 1, "secondaryReadCoefficient": 1},
            "queryEngineConfiguration": "{\"maxSqlQueryInputLength\":262144,\"maxJoinsPerSqlQuery\":5,\"allowNewKeywords\":true}",
        })
    }
}
