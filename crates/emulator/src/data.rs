//! The minimal data plane: databases, containers and items with system properties.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Map, Value, json};

use crate::api_error::{ApiError, ApiResult};
use crate::clock::Clock;
use crate::container_props::{check_default_ttl, container_defaults, key_paths};
use crate::lag::Replication;
use crate::write_log::{Change, Log};

#[derive(Debug, Default)]
pub(crate) struct DataStore {
    pub(crate) databases: BTreeMap<String, Database>,
    /// Lag and consistency settings: what each region sees of the containers' logs.
    pub(crate) replication: Replication,
    /// Throughput set by replacing a container's offer, by container rid (`offers.rs`).
    pub(crate) throughput: BTreeMap<String, u64>,
    /// Autoscale maximum per container rid, for offers set to autoscale (their
    /// `throughput` is then a tenth of it, as the service reports).
    pub(crate) autoscale: BTreeMap<String, u64>,
    /// Users and permissions by their feed's link (`dbs/{db}/users`,
    /// `dbs/{db}/users/{user}/permissions`), then by id (`principals.rs`).
    pub(crate) principals: BTreeMap<String, BTreeMap<String, Value>>,
    /// Stored procedures, triggers and UDFs by `{container rid}/{sprocs|triggers|udfs}`,
    /// then by id (`scripts.rs`): kept as resources, never executed.
    pub(crate) scripts: BTreeMap<String, BTreeMap<String, Value>>,
    /// The emulator's wall clock (`_ts`, TTL, token expiry), shared with every container.
    pub(crate) clock: Clock,
    /// The secret resource tokens are signed with (`resource_token.rs`).
    pub(crate) token_secret: crate::token_secret::Secret,
}

#[derive(Debug)]
pub(crate) struct Database {
    pub(crate) resource: Value,
    pub(crate) containers: BTreeMap<String, Container>,
}

#[derive(Debug)]
pub(crate) struct Container {
    pub(crate) resource: Value,
    pub(crate) partition_key_path: Vec<String>,
    /// Every partition key path, split into segments: one for `Hash`, one to three for a
    /// hierarchical (`MultiHash`) key, whose items are keyed by the array of their values.
    pub(crate) partition_key_paths: Vec<Vec<String>>,
    /// (partition key as canonical JSON, id) → item; ordered so feeds page stably. A
    /// persistent map: a query or feed takes a snapshot (a clone, sharing every node) and
    /// runs without the lock; a write while a snapshot lives copies only the nodes on its
    /// key's path, never the whole map nor the items.
    pub(crate) items: ItemMap,
    /// The container's log sequence number: grows by one with each item write and is
    /// returned in `x-ms-session-token` as `0:-1#{lsn}`.
    pub(crate) lsn: u64,
    /// The write log: recent item writes, for regions that have not seen them yet, and
    /// the change feed's history (its LSN index, and every version and delete when the
    /// container's `changeFeedPolicy` asks for them).
    pub(crate) log: Log,
    /// The emulator's clock (a clone of the store's).
    pub(crate) clock: Clock,
    /// When items expire (`ttl.rs`): (expiry in epoch seconds, key), for items whose
    /// container or own `ttl` gives them one. Persistent, so a batch saves it cheaply.
    pub(crate) expiry: imbl::OrdSet<(u64, (String, String))>,
}

/// A container's items by (partition key as canonical JSON, id), each shared; ordered by
/// key, as feeds (continuations are offsets) and `ORDER BY` ties rely on.
pub(crate) type ItemMap = imbl::OrdMap<(String, String), Arc<Value>>;

/// What an item request carries besides its path.
#[derive(Debug, Default)]
pub(crate) struct ItemRequest {
    /// `x-ms-documentdb-partitionkey`, raw.
    pub(crate) partition_key: Option<String>,
    /// `If-Match`.
    pub(crate) if_match: Option<String>,
    /// `If-None-Match` (`*`, or an etag).
    pub(crate) if_none_match: Option<String>,
    /// `x-ms-documentdb-is-upsert: true`.
    pub(crate) upsert: bool,
}

pub(crate) fn id_of(body: &Map<String, Value>) -> Result<String, ApiError> {
    match body.get("id") {
        Some(Value::String(id)) if !id.is_empty() && !id.contains(['/', '\\', '?', '#']) => {
            Ok(id.clone())
        }
        _ => Err(ApiError::bad_request(
            "the body must be a JSON object with a non-empty string `id` without / \\ ? #",
        )),
    }
}

pub(crate) fn new_etag() -> String {
    format!(
        "\"{:08x}-{:04x}-0000-0000-{:012x}\"",
        fastrand::u32(..),
        fastrand::u16(..),
        fastrand::u64(..) & 0xffff_ffff_ffff
    )
}

/// Sets the system properties: `_rid` (`rid`), `_self` (the link by rids), a fresh
/// `_etag` and `_ts` (`ts`, the emulator's clock in epoch seconds).
pub(crate) fn stamp(resource: &mut Map<String, Value>, rid: String, self_link: String, ts: u64) {
    resource.insert("_rid".into(), json!(rid));
    resource.insert("_self".into(), json!(self_link));
    resource.insert("_etag".into(), json!(new_etag()));
    resource.insert("_ts".into(), json!(ts));
}

pub(crate) fn object(body: Value) -> Result<Map<String, Value>, ApiError> {
    match body {
        Value::Object(map) => Ok(map),
        _ => Err(ApiError::bad_request("the body must be a JSON object")),
    }
}

/// Parses `["value"]` into the canonical JSON of the value; a hierarchical key's
/// `["a","b"]` (two or three values) into the canonical JSON of the array.
pub(crate) fn partition_key(header: Option<&str>) -> Result<(String, Value), ApiError> {
    let header = header.ok_or_else(|| {
        ApiError::bad_request("x-ms-documentdb-partitionkey is required for item operations")
    })?;
    match serde_json::from_str::<Value>(header) {
        Ok(Value::Array(mut values)) if values.len() == 1 => {
            let value = values.remove(0);
            Ok((value.to_string(), value))
        }
        Ok(Value::Array(values)) if (2..=3).contains(&values.len()) => {
            let value = Value::Array(values);
            Ok((value.to_string(), value))
        }
        _ => Err(ApiError::bad_request(
            "x-ms-documentdb-partitionkey must be a JSON array with one value (two or three for a hierarchical key)",
        )),
    }
}

/// Whether an item keyed `pk` (canonical JSON) is in the partition a request's key
/// `only` names: the same key, or, for a hierarchical key, one it is a prefix of.
pub(crate) fn in_partition(only: &str, pk: &str) -> bool {
    only == pk
        || pk.starts_with('[') && {
            // `"a"` or `["a","b"]` is a prefix of `["a","b","c"]` when `["a",` or
            // `["a","b",` starts it.
            let head = match only.strip_prefix('[') {
                Some(inner) => inner.strip_suffix(']').unwrap_or(inner),
                None => only,
            };
            pk.len() > head.len() + 2
                && pk[1..].starts_with(head)
                && pk[1 + head.len()..].starts_with(',')
        }
}

impl DataStore {
    pub(crate) fn create_database(&mut self, body: Value) -> ApiResult {
        let mut resource = object(body)?;
        let id = id_of(&resource)?;
        if self.databases.contains_key(&id) {
            return Err(ApiError::conflict(&format!("database {id}")));
        }
        let rid = crate::rid::database();
        let ts = self.clock.now_secs();
        stamp(&mut resource, rid.clone(), format!("dbs/{rid}/"), ts);
        resource.insert("_colls".into(), json!("colls/"));
        resource.insert("_users".into(), json!("users/"));
        let resource = Value::Object(resource);
        self.databases.insert(
            id,
            Database {
                resource: resource.clone(),
                containers: BTreeMap::new(),
            },
        );
        Ok((201, Some(resource)))
    }

    pub(crate) fn read_database(&self, db: &str) -> ApiResult {
        let database = self.database(db)?;
        Ok((200, Some(database.resource.clone())))
    }

    pub(crate) fn database(&self, db: &str) -> Result<&Database, ApiError> {
        self.databases
            .get(db)
            .ok_or_else(|| ApiError::not_found(&format!("database {db}")))
    }

    pub(crate) fn container(&self, db: &str, coll: &str) -> Result<&Container, ApiError> {
        self.database(db)?
            .containers
            .get(coll)
            .ok_or_else(|| ApiError::not_found(&format!("container {coll}")))
    }

    pub(crate) fn container_mut(
        &mut self,
        db: &str,
        coll: &str,
    ) -> Result<&mut Container, ApiError> {
        self.databases
            .get_mut(db)
            .ok_or_else(|| ApiError::not_found(&format!("database {db}")))?
            .containers
            .get_mut(coll)
            .ok_or_else(|| ApiError::not_found(&format!("container {coll}")))
    }

    /// A container and the replication settings, borrowed together (a write makes room in
    /// the container's log before it runs and stamps its changes after); `None` when the
    /// database or the container does not exist.
    pub(crate) fn split(&mut self, db: &str, coll: &str) -> Option<(&Replication, &mut Container)> {
        let container = self.databases.get_mut(db)?.containers.get_mut(coll)?;
        Some((&self.replication, container))
    }

    pub(crate) fn create_container(&mut self, db: &str, body: Value) -> ApiResult {
        let mut resource = object(body)?;
        let id = id_of(&resource)?;
        let paths = key_paths(&resource)?;
        check_default_ttl(&resource)?;
        let database = self
            .databases
            .get_mut(db)
            .ok_or_else(|| ApiError::not_found(&format!("database {db}")))?;
        if database.containers.contains_key(&id) {
            return Err(ApiError::conflict(&format!("container {id}")));
        }
        let db_rid = database.resource["_rid"].as_str().unwrap_or_default();
        let rid = crate::rid::container(db_rid);
        stamp(
            &mut resource,
            rid.clone(),
            format!("dbs/{db_rid}/colls/{rid}/"),
            self.clock.now_secs(),
        );
        resource.insert("_docs".into(), json!("docs/"));
        container_defaults(&mut resource);
        if let Some(Value::Object(pk)) = resource.get_mut("partitionKey") {
            pk.entry("kind").or_insert(json!("Hash"));
        }
        let resource = Value::Object(resource);
        database.containers.insert(
            id,
            Container {
                resource: resource.clone(),
                partition_key_path: paths[0].clone(),
                partition_key_paths: paths,
                items: ItemMap::new(),
                lsn: 0,
                log: Log::for_container(&resource),
                clock: self.clock.clone(),
                expiry: imbl::OrdSet::new(),
            },
        );
        Ok((201, Some(resource)))
    }

    pub(crate) fn read_container(&self, db: &str, coll: &str) -> ApiResult {
        Ok((200, Some(self.container(db, coll)?.resource.clone())))
    }
}

impl Container {
    /// Applies one item write (`None` deletes), counts it in the LSN, stamps the item with
    /// it (`_lsn`: the change feed orders items by it, and a region's view carries it) and
    /// logs it for replication and for the full-fidelity feed. Returns the item as stored.
    pub(crate) fn record(&mut self, key: (String, String), after: Option<Value>) -> Option<Value> {
        self.lsn += 1;
        let lsn = self.lsn;
        let after = after.map(|mut value| {
            if let Value::Object(map) = &mut value {
                map.insert("_lsn".into(), json!(lsn));
            }
            Arc::new(value)
        });
        let before = match &after {
            Some(value) => self.items.insert(key.clone(), Arc::clone(value)),
            None => self.items.remove(&key),
        };
        self.index_expiry(&key, before.as_deref(), after.as_deref());
        let stored = after.as_deref().cloned();
        self.log.record(lsn, Change { key, before, after });
        stored
    }
}
