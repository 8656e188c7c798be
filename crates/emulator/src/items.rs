//! Item point operations — create, read, replace and delete — and the checks item writes
//! share: the partition key, `If-Match`, and fresh system properties.

use serde_json::{Map, Value, json};

use tokio::time::Instant;

use crate::MAX_REQUEST_BODY;
use crate::budget::json_len;

use crate::api_error::{ApiError, ApiResult};
use crate::data::{Container, DataStore, ItemRequest, id_of, object, partition_key, stamp};

/// Sub-status of 400 for an item whose partition key is not the request's.
const SUB_STATUS_PARTITION_KEY_MISMATCH: u32 = 1001;

/// Where an item lives: its database, container and id.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ItemAt<'a> {
    pub(crate) db: &'a str,
    pub(crate) coll: &'a str,
    pub(crate) id: &'a str,
}

impl<'a> ItemAt<'a> {
    pub(crate) const fn new(db: &'a str, coll: &'a str, id: &'a str) -> Self {
        Self { db, coll, id }
    }
}

/// What an item write (create or replace) starts from.
struct ItemWrite<'a> {
    /// The partition key header's value, as canonical JSON and as a value.
    pk: String,
    pk_value: Value,
    container: &'a mut Container,
    /// The request body.
    resource: Map<String, Value>,
}

impl DataStore {
    /// The first steps of an item write: the partition key from the header, the
    /// container, and the body as an object — checked in that order.
    fn item_write(
        &mut self,
        db: &str,
        coll: &str,
        body: Value,
        request: &ItemRequest,
    ) -> Result<ItemWrite<'_>, ApiError> {
        let (pk, pk_value) = partition_key(request.partition_key.as_deref())?;
        let container = self.container_mut(db, coll)?;
        let resource = object(body)?;
        Ok(ItemWrite {
            pk,
            pk_value,
            container,
            resource,
        })
    }

    pub(crate) fn create_item(
        &mut self,
        db: &str,
        coll: &str,
        body: Value,
        request: &ItemRequest,
    ) -> ApiResult {
        let write = self.item_write(db, coll, body, request)?;
        let id = id_of(&write.resource)?;
        let container = write.container;
        container.check_partition_key(&write.resource, &write.pk_value)?;
        let key = (write.pk, id.clone());
        let existed = container.items.contains_key(&key);
        // `If-None-Match: *`: only if there is no such item yet (412 if there is).
        if existed && request.if_none_match.as_deref() == Some("*") {
            return Err(ApiError::precondition_failed(
                "If-None-Match: * and the item already exists",
            ));
        }
        if existed && !request.upsert {
            return Err(ApiError::conflict(&format!("item {id}")));
        }
        if existed {
            container.existing(&key, request)?;
        }
        let resource = container.store(key, write.resource)?;
        Ok((if existed { 200 } else { 201 }, Some(resource)))
    }

    /// Reads an item as `region` sees it at `now`: one lookup, however far it lags.
    pub(crate) fn read_item(
        &self,
        at: ItemAt<'_>,
        request: &ItemRequest,
        region: &str,
        now: Instant,
    ) -> ApiResult {
        let (pk, value) = partition_key(request.partition_key.as_deref())?;
        let container = self.container(at.db, at.coll)?;
        container.check_full_key(&value)?;
        let key = (pk, at.id.to_string());
        let item = self.replication.region_item(container, &key, region, now);
        let item = item.filter(|item| !container.is_expired(item));
        let item = item.ok_or_else(|| ApiError::not_found(&format!("item {}", at.id)))?;
        Ok((200, Some(Value::clone(&item))))
    }

    pub(crate) fn replace_item(
        &mut self,
        at: ItemAt<'_>,
        body: Value,
        request: &ItemRequest,
    ) -> ApiResult {
        let write = self.item_write(at.db, at.coll, body, request)?;
        let new_id = id_of(&write.resource)?;
        let container = write.container;
        container.check_partition_key(&write.resource, &write.pk_value)?;
        let key = (write.pk, at.id.to_string());
        container.existing(&key, request)?;
        if new_id == at.id {
            let resource = container.store(key, write.resource)?;
            return Ok((200, Some(resource)));
        }
        // A replace may change the id, as the service's does: the item moves to its new id
        // (409 if that is taken), logged as a delete of the old id and a write of the new.
        let new_key = (key.0.clone(), new_id);
        if container.items.contains_key(&new_key) {
            return Err(ApiError::conflict(&format!("item {}", new_key.1)));
        }
        container.record(key, None);
        let resource = container.store(new_key, write.resource)?;
        Ok((200, Some(resource)))
    }

    pub(crate) fn delete_item(&mut self, at: ItemAt<'_>, request: &ItemRequest) -> ApiResult {
        let (pk, _) = partition_key(request.partition_key.as_deref())?;
        let container = self.container_mut(at.db, at.coll)?;
        let key = (pk, at.id.to_string());
        container.existing(&key, request)?;
        container.record(key, None);
        Ok((204, None))
    }
}

impl DataStore {
    /// Deletes every item of the partition key in `request` (each delete logged, so
    /// replication and the change feed see them); 200 with no body.
    pub(crate) fn delete_partition(
        &mut self,
        db: &str,
        coll: &str,
        request: &ItemRequest,
    ) -> ApiResult {
        let (pk, _) = partition_key(request.partition_key.as_deref())?;
        let container = self.container_mut(db, coll)?;
        let keys: Vec<(String, String)> = container
            .items
            .keys()
            .filter(|(item_pk, _)| crate::data::in_partition(&pk, item_pk))
            .cloned()
            .collect();
        for key in keys {
            container.record(key, None);
        }
        Ok((200, None))
    }
}

impl Container {
    /// Stamps `resource` with system properties (the `_rid` of the item it replaces, or a
    /// new one in this container's; `_self` by rids; a fresh `_etag` and `_ts`), writes it
    /// under `key` and returns it; 413 if it is longer than [`MAX_REQUEST_BODY`] as JSON
    /// (whichever write made it: a create, a replace, or a PATCH that grew it).
    pub(crate) fn store(
        &mut self,
        key: (String, String),
        mut resource: Map<String, Value>,
    ) -> Result<Value, ApiError> {
        let kept = self
            .items
            .get(&key)
            .and_then(|item| item.get("_rid"))
            .and_then(Value::as_str)
            .map(str::to_string);
        let coll_rid = self.resource["_rid"].as_str().unwrap_or_default();
        let rid = kept.unwrap_or_else(|| crate::rid::item(coll_rid));
        let container_link = self.resource["_self"].as_str().unwrap_or_default();
        let self_link = format!("{container_link}docs/{rid}/");
        crate::ttl::check_item_ttl(&resource)?;
        stamp(&mut resource, rid, self_link, self.clock.now_secs());
        let resource = Value::Object(resource);
        let size = json_len(&resource);
        if size > MAX_REQUEST_BODY {
            return Err(ApiError::too_large(format!(
                "the item would be {size} bytes; items are capped at {MAX_REQUEST_BODY}"
            )));
        }
        Ok(self.record(key, Some(resource)).unwrap_or_default())
    }

    /// The item at `key` (404 if there is none), if the request's `If-Match` etag, when it
    /// has one, is the item's (412 if not).
    pub(crate) fn existing(
        &self,
        key: &(String, String),
        request: &ItemRequest,
    ) -> Result<&Value, ApiError> {
        let item = self.items.get(key).map(AsRef::as_ref);
        let item = item.ok_or_else(|| ApiError::not_found(&format!("item {}", key.1)))?;
        let etag = item.get("_etag").and_then(Value::as_str);
        let matches = |expected: &str| expected.trim() == "*" || etag == Some(expected.trim());
        if request.if_match.as_deref().is_some_and(|e| !matches(e)) {
            return Err(ApiError::precondition_failed(
                "the If-Match etag does not match",
            ));
        }
        if request.if_none_match.as_deref().is_some_and(matches) {
            return Err(ApiError::precondition_failed(
                "the If-None-Match etag matches the item",
            ));
        }
        Ok(item)
    }

    /// A point read names a whole key: a prefix of a hierarchical one (fewer values than
    /// paths) is 400/1001, as the service answers it.
    pub(crate) fn check_full_key(&self, key: &Value) -> Result<(), ApiError> {
        let given = key.as_array().map_or(1, Vec::len);
        if given == self.partition_key_paths.len() {
            return Ok(());
        }
        Err(ApiError::bad_request(
            "the partition key does not correspond to the container's partition key definition",
        )
        .with_sub_status(1001))
    }

    pub(crate) fn check_partition_key(
        &self,
        item: &Map<String, Value>,
        header: &Value,
    ) -> Result<(), ApiError> {
        let value_at = |path: &Vec<String>| {
            let mut at: Option<&Value> = None;
            for (depth, segment) in path.iter().enumerate() {
                at = if depth == 0 {
                    item.get(segment)
                } else {
                    at.and_then(|v| v.get(segment))
                };
            }
            at.cloned()
        };
        let at = match self.partition_key_paths.as_slice() {
            [single] => value_at(single),
            // A hierarchical key: the item's value under every path (a missing one as
            // `{}`, the undefined value), compared with the header's array.
            paths => Some(Value::Array(
                paths
                    .iter()
                    .map(|p| value_at(p).unwrap_or_else(|| json!({})))
                    .collect(),
            )),
        };
        let at = at.as_ref();
        match at {
            Some(value) if value == header => Ok(()),
            // An item without the key property, or with an object or array there (no
            // partition key value), belongs to the "undefined" partition: `{}`.
            None if header == &json!({}) => Ok(()),
            Some(Value::Object(_) | Value::Array(_))
                if header == &json!({}) && self.partition_key_paths.len() == 1 =>
            {
                Ok(())
            }
            // 400/1001 (PartitionKeyMismatch), as the service answers.
            _ => Err(ApiError::bad_request(
                "the partition key in the document does not match x-ms-documentdb-partitionkey",
            )
            .with_sub_status(SUB_STATUS_PARTITION_KEY_MISMATCH)),
        }
    }
}
