//! Partition key values, and their shape checked against the container's definition.
//!
//! The definition (`partitionKey` of the container) is read once per account and
//! container in a runtime, on the first item operation that needs it, and kept in a
//! runtime extension shared by every driver of the account; a lookup takes no lock and
//! writes nothing shared (a lock-free map, read in place: every point operation does one,
//! from every thread). A value that cannot fit the definition — an
//! array or an object for a one-path container, more values than a hierarchical key has
//! levels — is refused with [`DriverError::PartitionKeyShape`] before anything is sent.
//! Deleting or replacing a container through the driver forgets its definition.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use serde_json::{Value, json};

use crate::container_properties::{PartitionKeyDefinition, PartitionKeyKind};
use crate::error::DriverError;

/// A partition key value, sent as `x-ms-documentdb-partitionkey: [value]` (for a
/// hierarchical key, a JSON array of its values, outermost first, is sent as it is).
#[derive(Debug, Clone, PartialEq)]
pub struct PartitionKey(Value);

impl PartitionKey {
    /// The header value.
    pub(crate) fn header(&self) -> String {
        // `[value]`, serialized from a borrow: no copy of the value first.
        match &self.0 {
            Value::Array(values) => serde_json::to_string(values).unwrap_or_default(),
            value => serde_json::to_string(&[value]).unwrap_or_default(),
        }
    }

    /// The value as JSON.
    pub(crate) fn value(&self) -> &Value {
        &self.0
    }

    /// Whether the value fits `definition` for a point operation; if not, the shape
    /// expected.
    fn misfit(&self, definition: &PartitionKeyDefinition) -> Option<String> {
        let scalar = |v: &Value| !matches!(v, Value::Array(_) | Value::Object(_));
        let paths = || definition.paths.join(", ");
        match (definition.kind, &self.0) {
            (PartitionKeyKind::MultiHash, Value::Array(values))
                if values.len() == definition.paths.len() && values.iter().all(scalar) =>
            {
                None
            }
            (PartitionKeyKind::MultiHash, _) => Some(format!(
                "an array of {} values (string, number, boolean or null) for {}",
                definition.paths.len(),
                paths()
            )),
            // `{}`: the item has no value at the path (the SDKs' `PartitionKey::None`).
            (_, Value::Object(map)) if map.is_empty() => None,
            (_, value) if scalar(value) => None,
            _ => Some(format!(
                "one value (string, number, boolean or null) for {}",
                paths()
            )),
        }
    }
}

impl From<&str> for PartitionKey {
    fn from(value: &str) -> Self {
        Self(json!(value))
    }
}

impl From<String> for PartitionKey {
    fn from(value: String) -> Self {
        Self(json!(value))
    }
}

impl From<i64> for PartitionKey {
    fn from(value: i64) -> Self {
        Self(json!(value))
    }
}

impl From<Value> for PartitionKey {
    fn from(value: Value) -> Self {
        Self(value)
    }
}

/// Checks `pk` against `definition`: the typed error names the container, the shape
/// expected and the value sent.
pub(crate) fn check(
    pk: &PartitionKey,
    definition: &PartitionKeyDefinition,
    container: &str,
) -> Result<(), DriverError> {
    match pk.misfit(definition) {
        None => Ok(()),
        Some(expected) => Err(DriverError::PartitionKeyShape {
            container: container.to_string(),
            expected,
            sent: pk.0.to_string(),
        }),
    }
}

/// The partition key definitions of one account's containers, by container link.
#[derive(Debug, Default)]
pub(crate) struct AccountShapes {
    containers: papaya::HashMap<Arc<str>, Arc<PartitionKeyDefinition>, foldhash::fast::RandomState>,
}

impl AccountShapes {
    /// `f` applied to the definition of `link`, read in place, if it is known.
    pub(crate) fn with<R>(
        &self,
        link: &str,
        f: impl FnOnce(&PartitionKeyDefinition) -> R,
    ) -> Option<R> {
        self.containers
            .pin()
            .get(link)
            .map(|definition| f(definition))
    }

    pub(crate) fn insert(&self, link: Arc<str>, definition: PartitionKeyDefinition) {
        self.containers.pin().insert(link, Arc::new(definition));
    }

    pub(crate) fn forget(&self, link: &str) {
        self.containers.pin().remove(link);
    }

    /// Forgets every container of database `db`.
    pub(crate) fn forget_database(&self, db: &str) {
        let prefix = format!("dbs/{db}/colls/");
        self.containers
            .pin()
            .retain(|link, _| !link.starts_with(&prefix));
    }
}

/// The runtime extension: every account's definitions, by account endpoint.
#[derive(Debug, Default)]
pub(crate) struct PartitionKeyShapes {
    accounts: Mutex<HashMap<String, Arc<AccountShapes>>>,
}

impl PartitionKeyShapes {
    /// The definitions of the account at `endpoint` (shared by its drivers).
    pub(crate) fn account(&self, endpoint: &str) -> Arc<AccountShapes> {
        let mut accounts = self.accounts.lock().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(accounts.entry(endpoint.to_string()).or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_are_checked_by_kind_and_levels() {
        let single = PartitionKeyDefinition::new("/pk");
        let ok = |v: Value| PartitionKey::from(v).misfit(&single).is_none();
        assert!(ok(json!("a")) && ok(json!(1)) && ok(json!(null)) && ok(json!({})));
        assert!(!ok(json!(["a", "b"])) && !ok(json!({"a": 1})));
        let levels = PartitionKeyDefinition::hierarchical(["/t", "/u"]);
        let fits = |v: Value| PartitionKey::from(v).misfit(&levels).is_none();
        assert!(fits(json!(["a", "b"])) && fits(json!(["a", null])));
        assert!(!fits(json!(["a"])) && !fits(json!(["a", "b", "c"])) && !fits(json!([["a"]])));
        assert_eq!(PartitionKey::from("a").header(), r#"["a"]"#);
        assert_eq!(PartitionKey::from(json!(["a", 1])).header(), r#"["a",1]"#);
    }
}
