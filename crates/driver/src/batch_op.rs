//! One operation of a transactional batch or a bulk request, as the service's batch body
//! spells it (`operationType`, `id`, `resourceBody`, `ifMatch`, `partitionKey`).

use serde::Serialize;
use serde_json::{Map, Value};

use crate::container::PartitionKey;
use crate::error::DriverError;
use crate::patch::PatchOperations;

/// The most operations one batch request may carry (the service's limit).
pub const MAX_BATCH_OPERATIONS: usize = 100;

/// One operation, ready to be put in a batch body.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct OpSpec {
    kind: &'static str,
    id: Option<String>,
    body: Option<Value>,
    if_match: Option<String>,
}

impl OpSpec {
    fn new(kind: &'static str, id: Option<&str>, body: Option<Value>) -> Self {
        Self {
            kind,
            id: id.map(str::to_string),
            body,
            if_match: None,
        }
    }

    pub(crate) fn create<T: Serialize>(item: &T) -> Result<Self, DriverError> {
        Ok(Self::new("Create", None, Some(serde_json::to_value(item)?)))
    }

    pub(crate) fn upsert<T: Serialize>(item: &T) -> Result<Self, DriverError> {
        Ok(Self::new("Upsert", None, Some(serde_json::to_value(item)?)))
    }

    pub(crate) fn replace<T: Serialize>(id: &str, item: &T) -> Result<Self, DriverError> {
        Ok(Self::new(
            "Replace",
            Some(id),
            Some(serde_json::to_value(item)?),
        ))
    }

    pub(crate) fn read(id: &str) -> Self {
        Self::new("Read", Some(id), None)
    }

    pub(crate) fn delete(id: &str) -> Self {
        Self::new("Delete", Some(id), None)
    }

    pub(crate) fn patch(id: &str, patch: &PatchOperations) -> Self {
        Self::new("Patch", Some(id), Some(patch.body()))
    }

    /// Only if the item's etag is still `etag` (412 if not).
    pub(crate) fn if_match(mut self, etag: Option<&str>) -> Self {
        self.if_match = etag.map(str::to_string);
        self
    }

    /// Whether sending it twice leaves the same state as once: reads, upserts, replaces
    /// and deletes (as their single requests are retried); never a create or a patch.
    pub(crate) fn idempotent(&self) -> bool {
        !matches!(self.kind, "Create" | "Patch")
    }

    /// The operation in a batch body; `pk`: its own partition key (bulk).
    pub(crate) fn json(&self, pk: Option<&PartitionKey>) -> Value {
        let mut op = Map::new();
        op.insert("operationType".into(), self.kind.into());
        if let Some(pk) = pk {
            op.insert("partitionKey".into(), pk.header().into());
        }
        if let Some(id) = &self.id {
            op.insert("id".into(), id.clone().into());
        }
        if let Some(body) = &self.body {
            op.insert("resourceBody".into(), body.clone());
        }
        if let Some(etag) = &self.if_match {
            op.insert("ifMatch".into(), etag.clone().into());
        }
        Value::Object(op)
    }
}

/// Counts the bytes written to it.
struct Count(usize);

impl std::io::Write for Count {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl OpSpec {
    /// How many bytes [`json`](Self::json) takes as JSON text, without building it.
    pub(crate) fn encoded_len(&self, pk: Option<&PartitionKey>) -> usize {
        let mut count = Count(0);
        let fixed =
            r#"{"operationType":"","partitionKey":"","id":"","resourceBody":,"ifMatch":""}"#;
        let texts = [
            Some(self.kind.len()),
            pk.map(|pk| pk.header().len() * 2),
            self.id.as_ref().map(|id| id.len() * 2),
            self.if_match.as_ref().map(|e| e.len() * 2),
        ];
        if let Some(body) = &self.body {
            // Writing to a counter cannot fail; a failure would only undercount.
            let _ = serde_json::to_writer(&mut count, body);
        }
        fixed.len() + count.0 + texts.into_iter().flatten().sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn operations_have_the_services_field_names() {
        let pk = PartitionKey::from("p");
        let replace = OpSpec::replace("a", &json!({"id": "a"}))
            .unwrap()
            .if_match(Some("\"e\""));
        assert_eq!(
            replace.json(Some(&pk)),
            json!({"operationType": "Replace", "partitionKey": "[\"p\"]", "id": "a",
                   "resourceBody": {"id": "a"}, "ifMatch": "\"e\""})
        );
        let patch = OpSpec::patch("a", &PatchOperations::new().incr("/n", 1));
        assert_eq!(
            patch.json(None),
            json!({"operationType": "Patch", "id": "a",
                   "resourceBody": {"operations": [{"op": "incr", "path": "/n", "value": 1}]}})
        );
        assert!(!patch.idempotent());
        assert!(!OpSpec::create(&json!({})).unwrap().idempotent());
        assert!(OpSpec::read("a").idempotent() && OpSpec::delete("a").idempotent());
        // The size estimate is never below the text sent.
        for op in [replace, patch] {
            assert!(op.encoded_len(Some(&pk)) >= op.json(Some(&pk)).to_string().len());
        }
    }
}
