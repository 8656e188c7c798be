//! Partial updates: [`PatchOperations`] and [`Container::patch_item`].

use bytes::Bytes;
use http::Method;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use crate::container::{Container, PartitionKey};
use crate::error::DriverError;
use crate::header_name::header_name;
use crate::item_response::{ItemResponse, item_response};
use crate::options::PatchOptions;
use crate::request::Target;

/// The operations of one patch, applied all or none (the service takes 1 to 10), and an
/// optional condition.
///
/// ```
/// use meridian_driver::PatchOperations;
/// let patch = PatchOperations::new()
///     .set("/status", "shipped")
///     .incr("/version", 1)
///     .remove("/draft")
///     .condition("FROM c WHERE c.status = 'paid'");
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PatchOperations {
    operations: Vec<Value>,
    condition: Option<String>,
}

impl PatchOperations {
    /// No operations yet.
    pub fn new() -> Self {
        Self::default()
    }

    fn push(mut self, op: &str, path: &str, value: Option<Value>) -> Self {
        let mut operation = Map::new();
        operation.insert("op".into(), op.into());
        operation.insert("path".into(), path.into());
        if let Some(value) = value {
            operation.insert("value".into(), value);
        }
        self.operations.push(Value::Object(operation));
        self
    }

    /// Adds `value` at `path` (an array index inserts; `/-` appends).
    pub fn add(self, path: &str, value: impl Into<Value>) -> Self {
        self.push("add", path, Some(value.into()))
    }

    /// Sets `path` to `value`, creating it if needed.
    pub fn set(self, path: &str, value: impl Into<Value>) -> Self {
        self.push("set", path, Some(value.into()))
    }

    /// Replaces the value at `path`, which must exist.
    pub fn replace(self, path: &str, value: impl Into<Value>) -> Self {
        self.push("replace", path, Some(value.into()))
    }

    /// Removes `path`, which must exist.
    pub fn remove(self, path: &str) -> Self {
        self.push("remove", path, None)
    }

    /// Adds `by` to the number at `path` (created as `by` if missing).
    pub fn incr(self, path: &str, by: impl Into<Value>) -> Self {
        self.push("incr", path, Some(by.into()))
    }

    /// Applies the patch only if the item matches `condition` (`FROM c WHERE …`);
    /// otherwise the patch fails with 412.
    pub fn condition(mut self, condition: impl Into<String>) -> Self {
        self.condition = Some(condition.into());
        self
    }

    /// How many operations the patch holds.
    pub fn len(&self) -> usize {
        self.operations.len()
    }

    /// Whether it holds none (the service refuses an empty patch).
    pub fn is_empty(&self) -> bool {
        self.operations.is_empty()
    }

    /// The PATCH body: `{"operations": [...], "condition"?}` (a batch's `resourceBody`).
    pub(crate) fn body(&self) -> Value {
        match &self.condition {
            Some(condition) => json!({"operations": self.operations, "condition": condition}),
            None => json!({"operations": self.operations}),
        }
    }
}

impl Container {
    /// Patches an item and returns it as patched. Not idempotent (`incr`, `add` to an
    /// array): a failure after the request may have been applied is reported as
    /// [`DriverError::MaybeApplied`], never retried.
    pub async fn patch_item<T: DeserializeOwned>(
        &self,
        pk: impl Into<PartitionKey>,
        id: &str,
        patch: &PatchOperations,
    ) -> Result<ItemResponse<T>, DriverError> {
        self.patch_item_with(pk, id, patch, &PatchOptions::default())
            .await
    }

    /// [`patch_item`](Self::patch_item) with options: `If-Match`, a filter predicate,
    /// excluded regions, deadline, session token.
    pub async fn patch_item_with<T: DeserializeOwned>(
        &self,
        pk: impl Into<PartitionKey>,
        id: &str,
        patch: &PatchOperations,
        options: &PatchOptions,
    ) -> Result<ItemResponse<T>, DriverError> {
        let pk = pk.into();
        let route = self.prepare(&pk).await?;
        let (driver, db, coll, _) = self.parts();
        let body = match &options.filter_predicate {
            Some(predicate) => patch.clone().condition(predicate.clone()).body(),
            None => patch.body(),
        };
        let mut operation = self
            .operation(
                Method::PATCH,
                Target::item(db, coll, id),
                false,
                Some(Bytes::from(body.to_string())),
                pk,
            )
            .with_common(&options.common)
            .routed(route);
        if let Some(etag) = &options.if_match {
            operation = operation.header(header_name!("if-match"), etag.clone());
        }
        let link = format!("dbs/{db}/colls/{coll}");
        item_response(driver.inner.execute(&operation).await?, None, &link)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_lists_operations_in_order_with_the_condition() {
        let patch = PatchOperations::new()
            .add("/tags/-", "new")
            .set("/a", 1)
            .replace("/b", json!({"c": true}))
            .remove("/d")
            .incr("/n", -2)
            .condition("FROM c WHERE c.n > 1");
        assert_eq!(patch.len(), 5);
        assert_eq!(
            patch.body(),
            json!({"operations": [
                {"op": "add", "path": "/tags/-", "value": "new"},
                {"op": "set", "path": "/a", "value": 1},
                {"op": "replace", "path": "/b", "value": {"c": true}},
                {"op": "remove", "path": "/d"},
                {"op": "incr", "path": "/n", "value": -2},
            ], "condition": "FROM c WHERE c.n > 1"})
        );
        assert_eq!(PatchOperations::new().body(), json!({"operations": []}));
    }
}
