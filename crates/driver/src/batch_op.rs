//! One operation of a transactional batch or a bulk request, as the service's batch body
//! spells it (`operationType`, `id`, `resourceBody`, `ifMatch`, `partitionKey`).

use serde::Serialize;
use serde_json::Value;

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

    /// The operation as a batch body spells it; `pk`: its own partition key (bulk).
    /// Borrowed: serializing it copies nothing of the item.
    pub(crate) fn wire(&self, pk: Option<&PartitionKey>) -> Wire<'_> {
        Wire {
            operation_type: self.kind,
            partition_key: pk.map(PartitionKey::header),
            id: self.id.as_deref(),
            resource_body: self.body.as_ref(),
            if_match: self.if_match.as_deref(),
        }
    }

    /// How many bytes [`wire`](Self::wire) takes as JSON text, without building it.
    pub(crate) fn encoded_len(&self, pk: Option<&PartitionKey>) -> usize {
        let mut count = Count(0);
        // Writing to a counter cannot fail.
        let _ = serde_json::to_writer(&mut count, &self.wire(pk));
        count.0
    }
}

/// One operation of a batch body, borrowed from its [`OpSpec`].
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Wire<'a> {
    operation_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    partition_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    resource_body: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    if_match: Option<&'a str>,
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
            serde_json::to_value(replace.wire(Some(&pk))).unwrap(),
            json!({"operationType": "Replace", "partitionKey": "[\"p\"]", "id": "a",
                   "resourceBody": {"id": "a"}, "ifMatch": "\"e\""})
        );
        let patch = OpSpec::patch("a", &PatchOperations::new().incr("/n", 1));
        assert_eq!(
            serde_json::to_value(patch.wire(None)).unwrap(),
            json!({"operationType": "Patch", "id": "a",
                   "resourceBody": {"operations": [{"op": "incr", "path": "/n", "value": 1}]}})
        );
        assert!(!patch.idempotent());
        assert!(!OpSpec::create(&json!({})).unwrap().idempotent());
        assert!(OpSpec::read("a").idempotent() && OpSpec::delete("a").idempotent());
        // The size is the text sent.
        for op in [replace, patch] {
            let text = serde_json::to_string(&op.wire(Some(&pk))).unwrap();
            assert_eq!(op.encoded_len(Some(&pk)), text.len());
        }
    }
}
