//! The database account document (`GET /`) and its validation.

use serde::{Deserialize, Serialize};

use crate::endpoint::{Endpoint, EndpointError};
use crate::region::RegionName;

/// The largest account document [`DatabaseAccount::from_slice`] accepts. Live documents
/// are a few KiB; this leaves room for many regions and refuses absurd bodies.
pub const MAX_DOCUMENT_BYTES: usize = 1024 * 1024;

/// The longest `id`, `_rid`, region name or endpoint accepted, in bytes.
pub const MAX_FIELD_BYTES: usize = 2048;

/// The most entries a location list (`writableLocations` or `readableLocations`) may have.
/// The service has fewer than 100 regions, so a longer list is not a real account: it is
/// refused as invalid (the previous topology stays), which also bounds the cost of every
/// routing step and snapshot build.
pub const MAX_LOCATIONS: usize = 100;

/// Why an account document was rejected. The previous topology stays in use.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AccountError {
    /// The body is larger than [`MAX_DOCUMENT_BYTES`].
    #[error("account document is {size} bytes, over the {limit}-byte cap")]
    TooLarge {
        /// The body's size.
        size: usize,
        /// The cap.
        limit: usize,
    },
    /// Not JSON, or JSON of the wrong shape (missing required field, wrong type).
    #[error("account document is malformed")]
    Malformed(#[source] serde_json::Error),
    /// A required field is empty (`id`, `_rid`, or a location list).
    #[error("account document has an empty `{field}`")]
    Empty {
        /// The JSON field.
        field: &'static str,
    },
    /// A location list has more than [`MAX_LOCATIONS`] entries.
    #[error("`{field}` has {count} entries, over the {limit}-location cap")]
    TooManyLocations {
        /// The location list.
        field: &'static str,
        /// Its length.
        count: usize,
        /// The cap.
        limit: usize,
    },
    /// A string field is longer than [`MAX_FIELD_BYTES`].
    #[error("`{field}` is {len} bytes, over the {limit}-byte cap")]
    FieldTooLong {
        /// The JSON field.
        field: &'static str,
        /// Its length.
        len: usize,
        /// The cap.
        limit: usize,
    },
    /// A location's `databaseAccountEndpoint` is not an absolute http(s) URL.
    #[error("`{field}` entry {index} ({region}) has an invalid endpoint")]
    InvalidEndpoint {
        /// The location list.
        field: &'static str,
        /// The entry's index in that list.
        index: usize,
        /// The entry's region name.
        region: String,
        /// What is wrong with the URL.
        #[source]
        source: EndpointError,
    },
}

/// One entry of `readableLocations` / `writableLocations`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountLocation {
    /// The region's display name, e.g. `"West US 2"`.
    pub name: String,
    /// The regional endpoint URL.
    pub database_account_endpoint: String,
}

/// `userReplicationPolicy` / `systemReplicationPolicy`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicationPolicy {
    /// `minReplicaSetSize`.
    #[serde(rename = "minReplicaSetSize", default)]
    pub min_replica_set_size: u32,
    /// `maxReplicasetSize` (the service spells it with a lowercase `s`).
    #[serde(rename = "maxReplicasetSize", default)]
    pub max_replica_set_size: u32,
}

/// `userConsistencyPolicy`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConsistencyPolicy {
    /// `defaultConsistencyLevel`, e.g. `"Session"`.
    #[serde(default)]
    pub default_consistency_level: String,
}

/// `readPolicy`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReadPolicy {
    /// `primaryReadCoefficient`.
    #[serde(default)]
    pub primary_read_coefficient: u32,
    /// `secondaryReadCoefficient`.
    #[serde(default)]
    pub secondary_read_coefficient: u32,
}

/// The database account document returned by `GET /`.
///
/// Required: `id`, `_rid`, `writableLocations` and `readableLocations` (both non-empty,
/// at most [`MAX_LOCATIONS`] entries each, every endpoint an absolute http(s) URL). Everything else is optional and defaults
/// to empty strings, `false`, or `None`. Unknown fields (such as the Gateway 2.0
/// `thinClient*Locations` or `_etag`) are accepted and ignored.
///
/// ```
/// use meridian_location_store::DatabaseAccount;
/// let doc = br#"{"id":"acct","_rid":"acct.documents.azure.com",
///   "writableLocations":[{"name":"West US","databaseAccountEndpoint":"https://acct-westus.documents.azure.com:443/"}],
///   "readableLocations":[{"name":"West US","databaseAccountEndpoint":"https://acct-westus.documents.azure.com:443/"}]}"#;
/// let account = DatabaseAccount::from_slice(doc).unwrap();
/// assert_eq!(account.id, "acct");
/// assert!(!account.enable_multiple_write_locations);
/// assert!(DatabaseAccount::from_slice(b"{}").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DatabaseAccount {
    /// `id`: the account name.
    pub id: String,
    /// `_rid`: the account's resource id (its host name).
    #[serde(rename = "_rid")]
    pub rid: String,
    /// `_self` (empty for the account).
    #[serde(rename = "_self", default)]
    pub self_link: String,
    /// `media`.
    #[serde(default)]
    pub media: String,
    /// `addresses`.
    #[serde(default)]
    pub addresses: String,
    /// `_dbs`.
    #[serde(rename = "_dbs", default)]
    pub dbs: String,
    /// `writableLocations`, in the service's order.
    pub writable_locations: Vec<AccountLocation>,
    /// `readableLocations`, in the service's order.
    pub readable_locations: Vec<AccountLocation>,
    /// `enableMultipleWriteLocations` (default `false`).
    #[serde(default)]
    pub enable_multiple_write_locations: bool,
    /// `enablePerPartitionFailoverBehavior` (default `false`).
    #[serde(default)]
    pub enable_per_partition_failover_behavior: bool,
    /// `continuousBackupEnabled` (default `false`).
    #[serde(default)]
    pub continuous_backup_enabled: bool,
    /// `enableNRegionSynchronousCommit` (default `false`).
    #[serde(rename = "enableNRegionSynchronousCommit", default)]
    pub enable_n_region_synchronous_commit: bool,
    /// `userReplicationPolicy`.
    #[serde(default)]
    pub user_replication_policy: Option<ReplicationPolicy>,
    /// `systemReplicationPolicy`.
    #[serde(default)]
    pub system_replication_policy: Option<ReplicationPolicy>,
    /// `userConsistencyPolicy`.
    #[serde(default)]
    pub user_consistency_policy: Option<ConsistencyPolicy>,
    /// `readPolicy`.
    #[serde(default)]
    pub read_policy: Option<ReadPolicy>,
    /// `queryEngineConfiguration`: a JSON document carried as a string.
    #[serde(default)]
    pub query_engine_configuration: Option<String>,
}

/// A location with its parsed endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The region.
    pub region: RegionName,
    /// Its endpoint.
    pub endpoint: Endpoint,
}

impl DatabaseAccount {
    /// Parses and validates an account document (see the type's docs for the rules).
    pub fn from_slice(body: &[u8]) -> Result<Self, AccountError> {
        if body.len() > MAX_DOCUMENT_BYTES {
            return Err(AccountError::TooLarge {
                size: body.len(),
                limit: MAX_DOCUMENT_BYTES,
            });
        }
        let account: Self = serde_json::from_slice(body).map_err(AccountError::Malformed)?;
        account.validate()?;
        Ok(account)
    }

    /// Checks the rules of [`from_slice`](Self::from_slice) on an already built value.
    pub fn validate(&self) -> Result<(), AccountError> {
        non_empty_bounded("id", &self.id)?;
        non_empty_bounded("_rid", &self.rid)?;
        self.writable()?;
        self.readable()?;
        Ok(())
    }

    /// `writableLocations` with parsed endpoints, in document order.
    pub fn writable(&self) -> Result<Vec<Location>, AccountError> {
        parse_locations("writableLocations", &self.writable_locations)
    }

    /// `readableLocations` with parsed endpoints, in document order.
    pub fn readable(&self) -> Result<Vec<Location>, AccountError> {
        parse_locations("readableLocations", &self.readable_locations)
    }
}

fn non_empty_bounded(field: &'static str, value: &str) -> Result<(), AccountError> {
    if value.is_empty() {
        return Err(AccountError::Empty { field });
    }
    if value.len() > MAX_FIELD_BYTES {
        return Err(AccountError::FieldTooLong {
            field,
            len: value.len(),
            limit: MAX_FIELD_BYTES,
        });
    }
    Ok(())
}

fn parse_locations(
    field: &'static str,
    locations: &[AccountLocation],
) -> Result<Vec<Location>, AccountError> {
    if locations.is_empty() {
        return Err(AccountError::Empty { field });
    }
    if locations.len() > MAX_LOCATIONS {
        return Err(AccountError::TooManyLocations {
            field,
            count: locations.len(),
            limit: MAX_LOCATIONS,
        });
    }
    locations
        .iter()
        .enumerate()
        .map(|(index, location)| {
            non_empty_bounded("name", &location.name)?;
            non_empty_bounded(
                "databaseAccountEndpoint",
                &location.database_account_endpoint,
            )?;
            let endpoint =
                Endpoint::parse(&location.database_account_endpoint).map_err(|source| {
                    AccountError::InvalidEndpoint {
                        field,
                        index,
                        region: location.name.clone(),
                        source,
                    }
                })?;
            Ok(Location {
                region: RegionName::new(&location.name),
                endpoint,
            })
        })
        .collect()
}
