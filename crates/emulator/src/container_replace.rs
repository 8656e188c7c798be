//! `PUT dbs/{db}/colls/{coll}`: replacing a container's definition (indexing policy,
//! unique keys, default TTL, conflict resolution), as the service allows it: the id and
//! the partition key definition cannot change; `If-Match` is honoured.

use serde_json::{Value, json};

use crate::api_error::{ApiError, ApiResult};
use crate::data::{DataStore, id_of, new_etag, object};

impl DataStore {
    /// Replaces container `coll` of `db` with `body`, keeping its resource id and links.
    pub(crate) fn replace_container(
        &mut self,
        db: &str,
        coll: &str,
        body: Value,
        if_match: Option<&str>,
    ) -> ApiResult {
        let mut resource = object(body)?;
        if id_of(&resource)? != coll {
            return Err(ApiError::bad_request(
                "the body's id differs from the container's; a container cannot be renamed",
            ));
        }
        let container = self.container_mut(db, coll)?;
        let Value::Object(old) = &container.resource else {
            return Err(ApiError::not_found(&format!("container {coll}")));
        };
        if if_match.is_some_and(|etag| old.get("_etag").and_then(Value::as_str) != Some(etag)) {
            return Err(ApiError::precondition_failed(
                "the container's etag has changed",
            ));
        }
        let mut sent_key = resource.get("partitionKey").cloned().unwrap_or(Value::Null);
        if let Value::Object(pk) = &mut sent_key {
            pk.entry("kind").or_insert(json!("Hash"));
        }
        if old.get("partitionKey") != Some(&sent_key) {
            return Err(ApiError::bad_request(
                "the partition key definition of a container cannot be changed",
            ));
        }
        for system in ["_rid", "_self", "_docs"] {
            if let Some(value) = old.get(system) {
                resource.insert(system.into(), value.clone());
            }
        }
        resource.insert("_etag".into(), json!(new_etag()));
        resource.insert("_ts".into(), old.get("_ts").cloned().unwrap_or(json!(0)));
        container.resource = Value::Object(resource);
        Ok((200, Some(container.resource.clone())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> DataStore {
        let mut data = DataStore::default();
        let created = data.create_database(json!({"id": "db"}));
        assert!(created.is_ok());
        let pk = json!({"paths": ["/pk"], "kind": "Hash", "version": 2});
        let created = data.create_container("db", json!({"id": "c", "partitionKey": pk}));
        assert!(created.is_ok());
        data
    }

    fn status(result: ApiResult) -> u16 {
        match result {
            Ok((status, _)) => status,
            Err(error) => error.status,
        }
    }

    #[test]
    fn a_container_definition_is_replaced_but_not_its_id_or_key() {
        let mut data = store();
        let pk = json!({"paths": ["/pk"], "kind": "Hash", "version": 2});
        let before = data
            .read_container("db", "c")
            .map(|(_, r)| r)
            .ok()
            .flatten();
        let before = before.unwrap_or_default();
        let body = json!({"id": "c", "partitionKey": pk, "defaultTtl": 60});
        let replaced = data.replace_container("db", "c", body.clone(), None);
        let Ok((200, Some(after))) = replaced else {
            panic!("replace failed: {replaced:?}");
        };
        assert_eq!(after["defaultTtl"], 60);
        assert_eq!(after["_rid"], before["_rid"]);
        assert_ne!(after["_etag"], before["_etag"]);
        let stale = before["_etag"].as_str();
        assert_eq!(status(data.replace_container("db", "c", body, stale)), 412);
        let moved =
            json!({"id": "c", "partitionKey": {"paths": ["/other"], "kind": "Hash", "version": 2}});
        assert_eq!(status(data.replace_container("db", "c", moved, None)), 400);
        let renamed = json!({"id": "d", "partitionKey": pk});
        assert_eq!(
            status(data.replace_container("db", "c", renamed, None)),
            400
        );
        let missing = json!({"id": "x", "partitionKey": pk});
        assert_eq!(
            status(data.replace_container("db", "x", missing, None)),
            404
        );
    }
}
