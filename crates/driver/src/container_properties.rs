//! A container's definition: [`ContainerProperties`] and the policies it holds, as the
//! service's JSON spells them (fields the driver does not model are kept as they came,
//! so a read-modify-replace loses nothing).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// How a partition key is hashed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub enum PartitionKeyKind {
    /// One path.
    #[default]
    Hash,
    /// Hierarchical keys: up to three paths, each a level.
    MultiHash,
}

/// `partitionKey`: the paths, their kind and the hash version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PartitionKeyDefinition {
    /// The paths (`/pk`; hierarchical: `/tenant`, `/user`).
    pub paths: Vec<String>,
    /// `Hash` for one path, `MultiHash` for several.
    #[serde(default)]
    pub kind: PartitionKeyKind,
    /// The hash version (2 for new containers; hierarchical keys require 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u32>,
}

impl PartitionKeyDefinition {
    /// One path, hash version 2.
    pub fn new(path: impl Into<String>) -> Self {
        Self {
            paths: vec![path.into()],
            kind: PartitionKeyKind::Hash,
            version: Some(2),
        }
    }

    /// Hierarchical keys (`MultiHash`, version 2) over `paths`, outermost first.
    pub fn hierarchical<I, S>(paths: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            paths: paths.into_iter().map(Into::into).collect(),
            kind: PartitionKeyKind::MultiHash,
            version: Some(2),
        }
    }
}

/// `indexingPolicy`. Unmodelled fields (composite and spatial indexes…) are kept in
/// `other`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct IndexingPolicy {
    /// `consistent` or `none`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub indexing_mode: Option<String>,
    /// Whether items are indexed unless excluded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub automatic: Option<bool>,
    /// `includedPaths`: `{"path": "/*"}`…
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub included_paths: Vec<IndexPath>,
    /// `excludedPaths`: `{"path": "/blob/?"}`…
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub excluded_paths: Vec<IndexPath>,
    /// Everything else the service sent, as it came.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

impl IndexingPolicy {
    /// A consistent, automatic policy over these included and excluded paths.
    pub fn new<I, E>(included: I, excluded: E) -> Self
    where
        I: IntoIterator<Item = &'static str>,
        E: IntoIterator<Item = &'static str>,
    {
        Self {
            indexing_mode: Some("consistent".into()),
            automatic: Some(true),
            included_paths: included.into_iter().map(IndexPath::new).collect(),
            excluded_paths: excluded.into_iter().map(IndexPath::new).collect(),
            other: Map::new(),
        }
    }
}

/// One path of an indexing policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct IndexPath {
    /// `/*`, `/name/?`…
    pub path: String,
    /// Everything else the service sent (`indexes`…).
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

impl IndexPath {
    /// A path.
    pub fn new(path: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            other: Map::new(),
        }
    }
}

/// `uniqueKeyPolicy.uniqueKeys[]`: paths whose combined values are unique per logical
/// partition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct UniqueKey {
    /// The paths (`/email`).
    pub paths: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct UniqueKeyPolicy {
    #[serde(default)]
    unique_keys: Vec<UniqueKey>,
}

/// How multi-region write conflicts are resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum ConflictResolutionMode {
    /// The highest value of a path (default `/_ts`) wins.
    LastWriterWins,
    /// A stored procedure decides, or conflicts go to the conflicts feed.
    Custom,
}

/// `conflictResolutionPolicy`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ConflictResolutionPolicy {
    /// The mode.
    pub mode: ConflictResolutionMode,
    /// For `LastWriterWins`: the numeric path compared (`/_ts` if unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conflict_resolution_path: Option<String>,
    /// For `Custom`: the stored procedure's link.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conflict_resolution_procedure: Option<String>,
}

impl ConflictResolutionPolicy {
    /// Last writer wins by `path` (e.g. `/_ts`).
    pub fn last_writer_wins(path: impl Into<String>) -> Self {
        Self {
            mode: ConflictResolutionMode::LastWriterWins,
            conflict_resolution_path: Some(path.into()),
            conflict_resolution_procedure: None,
        }
    }
}

/// A container's definition, for
/// [`Database::create_container_with`](crate::Database::create_container_with) and
/// [`replace_container`](crate::Database::replace_container), and as
/// [`read_container`](crate::Database::read_container) returns it.
///
/// ```
/// use meridian_driver::{ContainerProperties, IndexingPolicy, UniqueKey};
/// let orders = ContainerProperties::new("orders", "/customer")
///     .indexing_policy(IndexingPolicy::new(["/*"], ["/blob/?"]))
///     .unique_key(["/number"])
///     .default_ttl(Some(86_400));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ContainerProperties {
    /// The container id.
    pub id: String,
    /// The partition key definition (cannot be changed after creation).
    pub partition_key: PartitionKeyDefinition,
    /// The indexing policy (the service's default if unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub indexing_policy: Option<IndexingPolicy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    unique_key_policy: Option<UniqueKeyPolicy>,
    /// Seconds an item lives after its last write: `None` off, `Some(-1)` on without a
    /// default (items set their own `ttl`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_ttl: Option<i64>,
    /// How multi-region write conflicts are resolved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conflict_resolution_policy: Option<ConflictResolutionPolicy>,
    /// The etag (`_etag`) of the definition as read, for a conditional replace.
    #[serde(default, rename = "_etag", skip_serializing)]
    pub etag: Option<String>,
    /// Everything else the service sent (`_rid`, `_ts`, unmodelled policies), as it came.
    #[serde(flatten, skip_serializing)]
    pub other: Map<String, Value>,
}

impl ContainerProperties {
    /// Container `id` partitioned by one `path` (`Hash`, version 2).
    pub fn new(id: impl Into<String>, path: impl Into<String>) -> Self {
        Self::with_partition_key(id, PartitionKeyDefinition::new(path))
    }

    /// Container `id` with this partition key definition (e.g.
    /// [`PartitionKeyDefinition::hierarchical`]).
    pub fn with_partition_key(
        id: impl Into<String>,
        partition_key: PartitionKeyDefinition,
    ) -> Self {
        Self {
            id: id.into(),
            partition_key,
            indexing_policy: None,
            unique_key_policy: None,
            default_ttl: None,
            conflict_resolution_policy: None,
            etag: None,
            other: Map::new(),
        }
    }

    /// The indexing policy.
    pub fn indexing_policy(mut self, policy: IndexingPolicy) -> Self {
        self.indexing_policy = Some(policy);
        self
    }

    /// Adds a unique key over `paths`.
    pub fn unique_key<I, S>(mut self, paths: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let key = UniqueKey {
            paths: paths.into_iter().map(Into::into).collect(),
        };
        self.unique_key_policy
            .get_or_insert_with(UniqueKeyPolicy::default)
            .unique_keys
            .push(key);
        self
    }

    /// The unique keys.
    pub fn unique_keys(&self) -> &[UniqueKey] {
        self.unique_key_policy
            .as_ref()
            .map_or(&[], |p| p.unique_keys.as_slice())
    }

    /// The default time to live in seconds (`None`: off; `Some(-1)`: on, no default).
    pub fn default_ttl(mut self, seconds: Option<i64>) -> Self {
        self.default_ttl = seconds;
        self
    }

    /// The conflict resolution policy.
    pub fn conflict_resolution_policy(mut self, policy: ConflictResolutionPolicy) -> Self {
        self.conflict_resolution_policy = Some(policy);
        self
    }
}

/// A database as the service describes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DatabaseProperties {
    /// The database id.
    pub id: String,
    /// Its `_etag`.
    #[serde(default, rename = "_etag")]
    pub etag: Option<String>,
    /// Everything else the service sent (`_rid`, `_ts`…).
    #[serde(flatten)]
    pub other: Map<String, Value>,
}
