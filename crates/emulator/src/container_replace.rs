//! `PUT dbs/{db}/colls/{coll}`: replacing a container's definition (indexing policy,
//! unique keys, default TTL, conflict resolution), as the service allows it: the id and
//! the partition key definition cannot change; `If-Match` is honoured.

use serde_json::{Map, Value, json};

use crate::api_error::{ApiError, ApiResult};
use crate::container_props::{check_default_ttl, container_defaults};
use crate::data::{DataStore, id_of, new_etag, object};

impl DataStore {
    /// `PUT /dbs/{db}/colls/{coll}`: the body replaces the container's settings (indexing
    /// policy, `defaultTtl`, …) and is completed as a creation's is; the id and the
    /// partition key cannot change (400); rid and links stay, the etag is new; `If-Match`
    /// naming another etag is 412.
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
                "the body's id must be the container's",
            ));
        }
        check_default_ttl(&resource)?;
        let container = self.container_mut(db, coll)?;
        let current = &container.resource;
        let etag = current.get("_etag").and_then(Value::as_str);
        if if_match.is_some_and(|wanted| wanted != "*" && Some(wanted) != etag) {
            return Err(ApiError::precondition_failed(
                "the container's etag has changed",
            ));
        }
        let same_key = |r: &Map<String, Value>| {
            let paths = |v: &Value| v["partitionKey"]["paths"].clone();
            paths(&Value::Object(r.clone())) == paths(current)
        };
        if !same_key(&resource) {
            return Err(ApiError::bad_request(
                "the partition key of a container cannot be changed",
            ));
        }
        resource.insert("partitionKey".into(), current["partitionKey"].clone());
        for kept in [
            "_rid",
            "_self",
            "_docs",
            "_sprocs",
            "_triggers",
            "_udfs",
            "_conflicts",
        ] {
            if let Some(value) = current.get(kept) {
                resource.insert(kept.into(), value.clone());
            }
        }
        container_defaults(&mut resource);
        resource.insert("_etag".into(), json!(new_etag()));
        resource.insert("_ts".into(), json!(container.clock.now_secs()));
        container.resource = Value::Object(resource);
        container.reindex_expiry();
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
